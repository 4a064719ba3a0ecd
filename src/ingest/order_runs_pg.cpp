// A run of order_placed events in ingest_batch(): see order_runs_pg.hpp.
#include "ingest/order_runs_pg.hpp"

#include <algorithm>
#include <map>
#include <stdexcept>

#include "common/boundary.hpp"

extern "C" {
#include "catalog/pg_type.h"
}
#include "common/pg_headers.hpp"
#include "allocation/targets_pg.hpp"
#include "ingest/effects_pg.hpp"
#include "ingest/item_refs_pg.hpp"
#include "ingest/statements_pg.hpp"
#include "ingest/writes_pg.hpp"

namespace cs::ingest::glue {

using ig::quote;

namespace {

struct bulk_order {
  std::string order_id;
  bool oversold = false;
  TimestampTz at = 0;
  int64_t event_id = 0;
};

struct bulk_line {
  std::string order_id, sku, location, sold_sku;
  int32_t line_no = 0, qty = 0, per = 1;
  TimestampTz placed_at = 0;
};

cs::user_error order_placed_concurrently() {
  return cs::user_error("40001", "an order of this batch was placed concurrently",
                        "Another session created one of the batch's orders while it ran.",
                        "Retry the batch; already applied events will be duplicates.");
}

// The keys of a run, claimed (the batch's claim, batch_keys_pg.hpp): ids[i - from] the event's
// new id, 0 where the key is taken.
struct run_claim {
  std::vector<int64_t> ids;
  bool direct = false;  // the events were inserted without SQL (write_events)
};

// What a run of order_placed events does, planned event by event against the run's stock
// rows (level, left as they are after the run): its orders and lines, the stock they reserve
// and the statuses that are not a plain "applied"; results[i] the outcome of event i.
struct run_plan {
  std::vector<bulk_order> orders;
  std::vector<bulk_line> lines;
  stock_changes changes;
  std::vector<int64_t> status_ids;
  std::vector<std::string> statuses;
  std::vector<std::optional<std::string>> details;
  std::map<std::pair<std::string, std::string>, ig::stock_level> level;
};

// What the events of a run refer to: their SKUs and aliases (item_refs) and order ids.
struct run_refs : item_refs {
  std::vector<std::string> order_ids;
};

run_plan plan_run(call_context& cx, const std::vector<prepared>& all, size_t from, size_t to,
                  const std::vector<int64_t>& ids, const std::vector<std::string>& locs,
                  const run_refs& refs, std::map<std::string, std::string> order_state,
                  std::map<std::pair<std::string, std::string>, ig::stock_level> level,
                  std::vector<outcome>& results) {
  run_plan p;
  std::vector<bulk_order>& orders = p.orders;
  std::vector<bulk_line>& lines = p.lines;
  stock_changes& changes = p.changes;
  std::vector<int64_t>& status_ids = p.status_ids;
  std::vector<std::string>& statuses = p.statuses;
  std::vector<std::optional<std::string>>& details = p.details;
  ig::item_resolver resolve_in_run = [&](const ig::item_ref& item) {
    return planner_item(refs.resolve(item),
                        [&](const std::string& bundle) { return cx.components[bundle]; });
  };
  for (size_t i = from; i < to; ++i) {
    int64_t id = ids[i - from];
    if (id == 0) continue;
    const ig::event& ev = *all[i].ev;
    auto reject = [&](std::string why) {
      status_ids.push_back(id);
      statuses.push_back("rejected");
      details.push_back(why);
      results[i] = outcome{id, "rejected", why};
    };
    if (locs.empty()) {
      reject("no active location feeds channel " + quote(cx.channel));
      continue;
    }
    std::vector<ig::order_part> parts;
    std::optional<std::string> why = ig::order_parts(ev, cx.channel, locs, resolve_in_run, parts);
    if (!why && order_state.count(ev.order_id))
      why = "invalid transition for order " + quote(ev.order_id) + ": " + order_state[ev.order_id] +
            " -> placed";
    if (why) {
      reject(*why);
      continue;
    }
    ig::order_plan placed = ig::plan_order(std::move(parts), locs, level);
    for (const auto& [key, units] : placed.reserve) {
      ig::stock_level& l = level[key];
      l.location_id = key.second;
      l.reserved += units;
      changes.add(key.first, key.second, 0, units);
    }
    order_state[ev.order_id] = "placed";
    const std::optional<std::string>& short_of = placed.oversold;
    orders.push_back({ev.order_id, short_of.has_value(), all[i].at, id});
    for (const ig::line_to_place& l : placed.lines)
      lines.push_back(
          {ev.order_id, l.sku, l.location, l.sold_sku, l.line_no, l.qty, l.per, all[i].at});
    if (short_of) {
      status_ids.push_back(id);
      statuses.push_back("applied");
      details.push_back(short_of);
    }
    results[i] = outcome{id, "applied", short_of};
  }
  // inserted in order-id order, as existing orders are locked: two batches placing the same
  // order ids in opposite order then wait for each other at the first one (40001 for the later)
  // instead of deadlocking (40P01, found only after deadlock_timeout)
  std::sort(orders.begin(), orders.end(),
            [](const bulk_order& x, const bulk_order& y) { return x.order_id < y.order_id; });
  p.level = std::move(level);
  return p;
}

// Whether two reads of a run's stock rows found the same rows with the same levels.
bool same_stock(const std::map<std::pair<std::string, std::string>, ig::stock_level>& a,
                const std::map<std::pair<std::string, std::string>, ig::stock_level>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
    return x.first == y.first && x.second.on_hand == y.second.on_hand &&
           x.second.reserved == y.second.reserved && x.second.safety_stock == y.second.safety_stock;
  });
}

// The plan's orders and their lines, as place_orders_direct() takes them.
std::pair<std::vector<order_to_place>, std::vector<std::vector<order_line_row>>> orders_of(
    const run_plan& p) {
  std::vector<order_to_place> to_place;
  std::vector<std::vector<order_line_row>> lines_of(p.orders.size());
  std::map<std::string, size_t> index_of;
  for (const bulk_order& o : p.orders) {
    index_of[o.order_id] = to_place.size();
    to_place.push_back({o.order_id, o.oversold, o.at, o.event_id});
  }
  for (const bulk_line& l : p.lines)
    lines_of[index_of[l.order_id]].push_back(
        {l.sku, l.location, l.sold_sku, l.line_no, l.qty, l.per});
  return {std::move(to_place), std::move(lines_of)};
}

bool same_line(const bulk_line& a, const bulk_line& b) {
  return a.order_id == b.order_id && a.sku == b.sku && a.location == b.location &&
         a.sold_sku == b.sold_sku && a.line_no == b.line_no && a.qty == b.qty && a.per == b.per;
}

// Writes the status and detail of the run's events that are not a plain "applied" (on the rows
// the run inserted: in place when it inserted them without SQL).
void set_statuses(const run_claim& claim, const std::vector<int64_t>& ids,
                  const std::vector<std::string>& statuses,
                  const std::vector<std::optional<std::string>>& details) {
  if (ids.empty() || (claim.direct && set_statuses_direct(ids, statuses, details))) return;
  std::vector<Datum> sid;
  for (int64_t v : ids) sid.push_back(Int64GetDatum(v));
  std::vector<std::optional<std::string>> st(statuses.begin(), statuses.end());
  run(P_BULK_STATUS, args()
                         .datum(datum_array(sid, {}, INT8OID, 8, true, TYPALIGN_DOUBLE))
                         .datum(opt_text_array(st))
                         .datum(opt_text_array(details)));
}

// Writes again the statuses written from the first plan of a run where the final plan differs
// (an order now oversold, or no longer).
void correct_statuses(const run_claim& claim, const run_plan& first, const run_plan& final) {
  using status = std::pair<std::string, std::optional<std::string>>;
  std::map<int64_t, status> was, is;
  for (size_t k = 0; k < first.status_ids.size(); ++k)
    was[first.status_ids[k]] = {first.statuses[k], first.details[k]};
  for (size_t k = 0; k < final.status_ids.size(); ++k)
    is[final.status_ids[k]] = {final.statuses[k], final.details[k]};
  std::vector<int64_t> ids;
  std::vector<std::string> statuses;
  std::vector<std::optional<std::string>> details;
  auto differs = [&](int64_t id, const status& now, const std::map<int64_t, status>& before) {
    auto it = before.find(id);
    status then = it == before.end() ? status{"applied", std::nullopt} : it->second;
    if (then == now) return;
    ids.push_back(id);
    statuses.push_back(now.first);
    details.push_back(now.second);
  };
  for (const auto& [id, now] : is) differs(id, now, was);
  for (const auto& [id, then] : was)
    if (!is.count(id)) differs(id, {"applied", std::nullopt}, was);
  set_statuses(claim, ids, statuses, details);
}

// Corrects the orders placed from the first plan of a run where the final plan (from the
// locked stock, which moved in between) differs: the oversold flag, and the lines, deleted
// and written again. Both plans hold the same orders in the same order (nothing that decides
// whether an order is placed depends on the stock). SQL: a correction is rare.
void correct_placed_orders(const call_context& cx, const run_plan& first, const run_plan& final) {
  if (first.orders.size() != final.orders.size())
    throw std::logic_error("the two plans of a run place different orders");
  std::map<std::string, std::vector<const bulk_line*>> first_lines, final_lines;
  for (const bulk_line& l : first.lines) first_lines[l.order_id].push_back(&l);
  for (const bulk_line& l : final.lines) final_lines[l.order_id].push_back(&l);
  for (size_t k = 0; k < final.orders.size(); ++k) {
    const bulk_order& o = final.orders[k];
    if (first.orders[k].order_id != o.order_id)
      throw std::logic_error("the two plans of a run place different orders");
    if (first.orders[k].oversold != o.oversold)
      run(P_ORDER_OVERSOLD, args().text(cx.channel).text(o.order_id).boolean(o.oversold));
    const auto& was = first_lines[o.order_id];
    const auto& is = final_lines[o.order_id];
    if (std::equal(was.begin(), was.end(), is.begin(), is.end(),
                   [](const bulk_line* a, const bulk_line* b) { return same_line(*a, *b); }))
      continue;
    run(P_DROP_LINES, args().text(cx.channel).text(o.order_id));
    std::vector<order_line_row> rows;
    for (const bulk_line* l : is)
      rows.push_back({l->sku, l->location, l->sold_sku, l->line_no, l->qty, l->per});
    insert_lines_sql(cx, o.order_id, rows, o.at);
  }
}

// Reads the SKUs, aliases and bundle components the claimed events of all[from, to) name.
run_refs read_run_refs(call_context& cx, const std::vector<prepared>& all, size_t from, size_t to,
                       const std::vector<int64_t>& ids) {
  run_refs refs;
  std::vector<const ig::item_ref*> items;
  for (size_t i = from; i < to; ++i) {
    if (ids[i - from] == 0) continue;
    refs.order_ids.push_back(all[i].ev->order_id);
    for (const ig::event_line& l : all[i].ev->lines) items.push_back(&l.item);
  }
  static_cast<item_refs&>(refs) = read_item_refs(cx, items);
  return refs;
}

// The simple SKUs whose stock the claimed events of the run reserve (a bundle's components),
// sorted and distinct.
std::vector<std::string> stocked_skus_of_run(call_context& cx, const std::vector<prepared>& all,
                                             size_t from, size_t to,
                                             const std::vector<int64_t>& ids,
                                             const run_refs& refs) {
  std::vector<std::string> simple;
  for (size_t i = from; i < to; ++i) {
    if (ids[i - from] == 0) continue;
    for (const ig::event_line& l : all[i].ev->lines) {
      std::optional<sku_info> s = refs.resolve(l.item);
      if (!s) continue;
      if (!s->bundle)
        simple.push_back(s->sku);
      else
        for (const auto& [comp, per] : cx.components[s->sku]) simple.push_back(comp);
    }
  }
  return sorted_distinct(std::move(simple));
}

// The run's stock rows as planned, for the re-target (the rows this transaction just wrote).
std::vector<cs::allocation::locked_stock_row> locked_rows(const run_plan& plan) {
  std::vector<cs::allocation::locked_stock_row> locked;
  for (const auto& [key, l] : plan.level)
    locked.push_back({key.first, key.second, static_cast<int32_t>(l.on_hand),
                      static_cast<int32_t>(std::max<int64_t>(0, l.reserved)),
                      static_cast<int32_t>(l.safety_stock)});
  return locked;
}

// Inserts the run's orders and lines with SQL (when a trigger or a column of the DBA's own
// needs it), then writes the stock.
void write_run_sql(const call_context& cx, const run_plan& plan,
                   const std::vector<cs::allocation::locked_stock_row>& locked,
                   const stock_positions& locked_at) {
  std::vector<std::string> oid;
  std::vector<Datum> over, at, eid;
  for (const bulk_order& o : plan.orders) {
    oid.push_back(o.order_id);
    over.push_back(BoolGetDatum(o.oversold));
    at.push_back(TimestampTzGetDatum(o.at));
    eid.push_back(Int64GetDatum(o.event_id));
  }
  rows r = run(P_BULK_INSERT_ORDERS,
               args()
                   .text(cx.channel)
                   .datum(text_array(oid))
                   .datum(datum_array(over, {}, BOOLOID, 1, true, TYPALIGN_CHAR))
                   .datum(datum_array(at, {}, TIMESTAMPTZOID, 8, true, TYPALIGN_DOUBLE))
                   .datum(datum_array(eid, {}, INT8OID, 8, true, TYPALIGN_DOUBLE)));
  if (r.count != plan.orders.size()) throw order_placed_concurrently();
  write_stock(plan.changes, &locked, &locked_at);
  std::vector<std::string> lo, ls, ll, lsold;
  std::vector<int32_t> lno, lq, lper;
  std::vector<Datum> lat;
  for (const bulk_line& l : plan.lines) {
    lat.push_back(TimestampTzGetDatum(l.placed_at));
    lo.push_back(l.order_id);
    lno.push_back(l.line_no);
    ls.push_back(l.sku);
    ll.push_back(l.location);
    lq.push_back(l.qty);
    lsold.push_back(l.sold_sku);
    lper.push_back(l.per);
  }
  run(timed_lines(P_BULK_INSERT_LINES),
      args()
          .text(cx.channel)
          .datum(text_array(lo))
          .datum(int_array(lno))
          .datum(text_array(ls))
          .datum(text_array(ll))
          .datum(int_array(lq))
          .datum(text_array(lsold))
          .datum(int_array(lper))
          .datum(datum_array(lat, {}, TIMESTAMPTZOID, 8, true, TYPALIGN_DOUBLE)));
}

}  // namespace

void ingest_order_run(call_context& cx, const std::vector<prepared>& all, size_t from, size_t to,
                      const batch_claim& batch, std::vector<outcome>& results) {
  // 1. read what the run's claimed events depend on
  run_claim claim{std::vector<int64_t>(batch.ids.begin() + from, batch.ids.begin() + to),
                  batch.direct};
  const std::vector<int64_t>& ids = claim.ids;
  run_refs refs = read_run_refs(cx, all, from, to, ids);
  const std::vector<std::string>& locs = feeding(cx);
  std::map<std::string, std::string> order_state = lock_orders(cx.channel, refs.order_ids);
  std::vector<std::string> simple = stocked_skus_of_run(cx, all, from, to, ids, refs);
  std::vector<ItemPointerData> where;  // the rows the peek found, locked there
  stock_positions locked_at;           // where the lock found them, written there
  auto stock_of_run = [&](stock_read how) {
    std::map<std::pair<std::string, std::string>, ig::stock_level> level;
    stock_positions* at = how == stock_read::lock ? &locked_at : nullptr;
    if (!simple.empty() && !locs.empty())
      for (auto& [sku, l] : lock_stock(simple, locs, how, &where, at))
        level[{sku, l.location_id}] = l;
    return level;
  };

  // 2. plan the run from its stock rows as committed now, and write its orders, lines and
  // statuses before locking those rows: a concurrent batch (another connector's) may hold some
  // of them until it commits, and this much need not wait for it
  auto peeked = stock_of_run(stock_read::peek);
  run_plan first = plan_run(cx, all, from, to, ids, locs, refs, order_state, peeked, results);
  std::optional<bool> direct;
  if (!first.orders.empty()) {
    auto [to_place, lines_of] = orders_of(first);
    direct = place_orders_direct(cx, to_place, lines_of);
    if (direct && !*direct) throw order_placed_concurrently();
  }
  set_statuses(claim, first.status_ids, first.statuses, first.details);

  // 3. lock the stock rows; if they moved since, plan the run again from what they hold and
  // correct the orders, lines and statuses written
  auto level = stock_of_run(stock_read::lock);
  bool moved = !same_stock(peeked, level);
  run_plan plan =
      moved ? plan_run(cx, all, from, to, ids, locs, refs, order_state, std::move(level), results)
            : std::move(first);
  if (moved && direct) correct_placed_orders(cx, first, plan);
  if (moved) correct_statuses(claim, first, plan);

  // 4. write the stock, and the orders and lines where SQL must write them
  std::vector<cs::allocation::locked_stock_row> locked = locked_rows(plan);
  if (direct) write_stock(plan.changes, &locked, &locked_at);
  if (!plan.orders.empty() && !direct) write_run_sql(cx, plan, locked, locked_at);
}

}  // namespace cs::ingest::glue
