// The effect of each event type: see effects_pg.hpp.
#include "ingest/effects_pg.hpp"

#include <cstring>
#include <map>

#include "common/boundary.hpp"

extern "C" {
#include "access/htup_details.h"
#include "access/relation.h"
}
#include "common/pg_headers.hpp"
#include "common/table_access_pg.hpp"
#include "ingest/order_changes_pg.hpp"
#include "ingest/statements_pg.hpp"
#include "ingest/writes_pg.hpp"

namespace cs::ingest::glue {

using ig::quote;

namespace {

// The active locations that feed channel, in key order: those channel_locations lists for
// it, or every active one when it lists none. Direct index scans. Plain C frame.
void feeding_locations(const char* channel, char*** out, int* count) {
  Relation locs = cs::pg::open_cs_relation("locations", AccessShareLock);
  Relation locs_pk = cs::pg::open_cs_relation("locations_pkey", AccessShareLock);
  Relation feeds = cs::pg::open_cs_relation("channel_locations", AccessShareLock);
  Relation feeds_pk = cs::pg::open_cs_relation("channel_locations_pkey", AccessShareLock);
  if (locs == nullptr || locs_pk == nullptr || feeds == nullptr || feeds_pk == nullptr)
    elog(ERROR, "channel_sync: locations or channel_locations is missing");
  AttrNumber loc_id = cs::pg::column_number(locs, "location_id");
  AttrNumber loc_active = cs::pg::column_number(locs, "active");
  AttrNumber feed_loc = cs::pg::column_number(feeds, "location_id");
  Snapshot snap = cs::pg::begin_fresh_read();
  HeapTuple *all = nullptr, *listed = nullptr;
  int nall = 0, nlisted = 0;
  cs::pg::fetch_by_key(locs, locs_pk, 0, nullptr, nullptr, snap, &all, &nall);
  Datum key = CStringGetTextDatum(channel);
  cs::pg::fetch_by_key(feeds, feeds_pk, 1, &key, nullptr, snap, &listed, &nlisted);
  char** names = static_cast<char**>(palloc(sizeof(char*) * (nall > 0 ? nall : 1)));
  int n = 0;
  for (int i = 0; i < nall; ++i) {
    bool isnull = false;
    if (!DatumGetBool(heap_getattr(all[i], loc_active, RelationGetDescr(locs), &isnull))) continue;
    char* id = TextDatumGetCString(heap_getattr(all[i], loc_id, RelationGetDescr(locs), &isnull));
    bool feeds_channel = nlisted == 0;
    for (int k = 0; k < nlisted && !feeds_channel; ++k) {
      char* l =
          TextDatumGetCString(heap_getattr(listed[k], feed_loc, RelationGetDescr(feeds), &isnull));
      feeds_channel = strcmp(l, id) == 0;
    }
    if (feeds_channel) names[n++] = id;
  }
  cs::pg::end_fresh_read();
  relation_close(feeds_pk, NoLock);
  relation_close(feeds, NoLock);
  relation_close(locs_pk, NoLock);
  relation_close(locs, NoLock);
  *out = names;
  *count = n;
}

}  // namespace

std::optional<sku_info> resolve(call_context& cx, const ig::item_ref& item) {
  if (item.external) {
    rows r = run(P_ALIAS, args().text(cx.channel).text(item.id));
    if (r.count == 0) return std::nullopt;
    return sku_info{r.text(0, 1), r.text(0, 2) == "bundle"};
  }
  const char* id = item.id.c_str();
  bool found = false;
  const char* kind = cs::pg::guard(
      [&] { return cs::pg::text_by_unique_key("skus", "skus_pkey", id, "kind", &found); });
  if (!found) return std::nullopt;
  return sku_info{item.id, kind != nullptr && std::strcmp(kind, "bundle") == 0};
}

namespace {

std::string unknown_item(const call_context& cx, const ig::item_ref& item) {
  return ig::unknown_item(cx.channel, item);
}

}  // namespace

const std::vector<std::pair<std::string, int32_t>>& components(call_context& cx,
                                                               const std::string& bundle) {
  auto it = cx.components.find(bundle);
  if (it != cx.components.end()) return it->second;
  rows r = run(P_COMPONENTS, args().text(bundle));
  std::vector<std::pair<std::string, int32_t>> parts;
  for (uint64 i = 0; i < r.count; ++i) parts.emplace_back(r.text(i, 1), r.int4(i, 2));
  return cx.components.emplace(bundle, std::move(parts)).first->second;
}

const std::vector<std::string>& feeding(call_context& cx) {
  if (!cx.feeding) {
    const char* channel = cx.channel.c_str();
    char** names = nullptr;
    int n = 0;
    cs::pg::guard([&] { feeding_locations(channel, &names, &n); });
    cx.feeding = std::vector<std::string>(names, names + n);
  }
  return *cx.feeding;
}

namespace {

bool location_exists(const std::string& loc) {
  return run(P_LOCATION, args().text(loc)).count > 0;
}

// order_placed: reserve stock, record the order and its lines.

// An item with its components when it is a bundle (looked up for the call), or nullopt.
std::optional<ig::resolved_item> resolve_item(call_context& cx, const ig::item_ref& item) {
  return planner_item(resolve(cx, item),
                      [&](const std::string& bundle) { return components(cx, bundle); });
}

// Inserts the order and its lines and writes the stock (locked at at); false when the order
// exists already.
bool place_order(const event_call& c, bool oversold, const std::vector<order_line_row>& lines,
                 const stock_changes& changes, const stock_positions& at) {
  const call_context& cx = *c.cx;
  const std::string& order_id = c.ev->order_id;
  std::optional<bool> direct =
      place_orders_direct(cx, {{order_id, oversold, c.occurred_at, c.event_id}}, {lines});
  if (direct) {
    if (!*direct) return false;
    write_stock(changes, nullptr, &at);
  } else if (lines.size() == 1) {
    const order_line_row& l = lines[0];
    rows placed = run(timed_lines(P_ORDER_LINE1), args()
                                                      .text(cx.channel)
                                                      .text(order_id)
                                                      .boolean(oversold)
                                                      .ts(c.occurred_at)
                                                      .int8(c.event_id)
                                                      .text(l.sku)
                                                      .text(l.location)
                                                      .int4(l.qty)
                                                      .text(l.sold_sku)
                                                      .int4(l.per));
    if (placed.int8(0, 1) == 0) return false;
    if (placed.int8(0, 2) == 0) write_stock(changes, nullptr, &at);  // no stock row there yet
  } else {
    rows ins = run(P_INSERT_ORDER, args()
                                       .text(cx.channel)
                                       .text(order_id)
                                       .boolean(oversold)
                                       .ts(c.occurred_at)
                                       .int8(c.event_id));
    if (ins.count == 0) return false;
    write_stock(changes, nullptr, &at);
    insert_lines_sql(cx, order_id, lines, c.occurred_at);
  }
  return true;
}

effect apply_order_placed(const event_call& c) {
  call_context& cx = *c.cx;
  const ig::event& ev = *c.ev;
  const std::vector<std::string>& locs = feeding(cx);
  if (locs.empty()) return rejected("no active location feeds channel " + quote(cx.channel));
  std::vector<ig::order_part> parts;
  ig::item_resolver resolve_here = [&](const ig::item_ref& item) { return resolve_item(cx, item); };
  if (std::optional<std::string> why = ig::order_parts(ev, cx.channel, locs, resolve_here, parts))
    return rejected(*why);

  // lock the stock of every SKU at every feeding location, in key order
  std::vector<std::string> skus;
  for (const ig::order_part& p : parts) skus.push_back(p.sku);
  std::map<ig::stock_key, ig::stock_level> levels;
  stock_positions locked_at;
  for (auto& [sku, l] : lock_stock(skus, locs, stock_read::lock, nullptr, &locked_at))
    levels[{sku, l.location_id}] = l;
  ig::order_plan plan = ig::plan_order(std::move(parts), locs, levels);

  stock_changes changes;
  for (const auto& [key, units] : plan.reserve) changes.add(key.first, key.second, 0, units);
  if (!place_order(c, plan.oversold.has_value(), plan.lines, changes, locked_at)) {
    // read, not locked: this call holds stock, and a change of the order locks it first
    rows st = run(P_ORDER_STATE, args().text(cx.channel).text(ev.order_id));
    std::string state = st.count > 0 ? st.text(0, 1) : "placed";
    return rejected("invalid transition for order " + quote(ev.order_id) + ": " + state +
                    " -> placed");
  }
  effect e;
  e.detail = plan.oversold;
  return e;
}

// Whether this call writes orders and their lines in place (order_changes_pg.hpp).
bool order_changes_direct(call_context& cx) {
  if (!cx.order_changes_direct)
    cx.order_changes_direct = guard([] { return cs::ingest::pg::order_changes_direct(); });
  return *cx.order_changes_direct;
}

// The order's state, the order locked; nullopt when the channel has no such order.
std::optional<std::string> lock_order(call_context& cx, const std::string& order_id) {
  if (!order_changes_direct(cx)) {
    rows o = run(P_ORDER, args().text(cx.channel).text(order_id));
    if (o.count == 0) return std::nullopt;
    return o.text(0, 1);
  }
  const char* channel = cx.channel.c_str();
  const char* id = order_id.c_str();
  const char* state = guard([&] { return cs::ingest::pg::lock_order(channel, id); });
  if (state == nullptr) return std::nullopt;
  return std::string(state);
}

std::vector<ig::order_line> lock_lines_direct(const std::string& channel,
                                              const std::string& order_id) {
  const char* ch = channel.c_str();
  const char* id = order_id.c_str();
  cs::ingest::pg::locked_line* rows = nullptr;
  int n = 0;
  guard([&] { cs::ingest::pg::lock_order_lines(ch, id, &rows, &n); });
  std::vector<ig::order_line> lines;
  for (int i = 0; i < n; ++i) {
    const cs::ingest::pg::locked_line& r = rows[i];
    lines.push_back(ig::order_line{r.line_no, r.sku, r.location_id, r.sold_sku, r.units_per_sold,
                                   r.qty, r.shipped, r.cancelled, r.returned});
  }
  return lines;
}

// The order's lines, locked.
std::vector<ig::order_line> lock_lines(call_context& cx, const std::string& order_id) {
  if (order_changes_direct(cx)) return lock_lines_direct(cx.channel, order_id);
  rows r = run(P_LINES, args().text(cx.channel).text(order_id));
  std::vector<ig::order_line> lines;
  for (uint64 i = 0; i < r.count; ++i) {
    ig::order_line l;
    l.line_no = r.int4(i, 1);
    l.sku = r.text(i, 2);
    l.location_id = r.text(i, 3);
    l.sold_sku = r.text(i, 4);
    l.units_per_sold = r.int4(i, 5);
    l.qty = r.int4(i, 6);
    l.shipped = r.int4(i, 7);
    l.cancelled = r.int4(i, 8);
    l.returned = r.int4(i, 9);
    lines.push_back(std::move(l));
  }
  return lines;
}

// Writes the lines' deltas and the order's new state in place.
void write_lines_direct(const event_call& c, const std::string& order_id,
                        const std::vector<cs::ingest::pg::line_delta>& deltas,
                        const std::string& state) {
  const char* ch = c.cx->channel.c_str();
  const char* id = order_id.c_str();
  const cs::ingest::pg::line_delta* d = deltas.data();
  int n = static_cast<int>(deltas.size());
  const char* st = state.c_str();
  TimestampTz at = c.occurred_at;
  guard([&] { cs::ingest::pg::write_order_change(ch, id, d, n, st, at); });
}

// Writes line deltas for op and the order's new state.
void write_lines(const event_call& c, const std::string& order_id, ig::line_op op,
                 std::vector<ig::order_line>& lines, const std::vector<int32_t>& delta) {
  std::vector<cs::ingest::pg::line_delta> deltas;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (delta[i] == 0) continue;
    int32_t s = op == ig::line_op::ship ? delta[i] : 0;
    int32_t cc = op == ig::line_op::cancel ? delta[i] : 0;
    int32_t r = op == ig::line_op::ret ? delta[i] : 0;
    deltas.push_back({lines[i].line_no, s, cc, r});
    lines[i].shipped += s;
    lines[i].cancelled += cc;
    lines[i].returned += r;
  }
  std::string state = ig::order_state_name(ig::derive_state(lines));
  if (order_changes_direct(*c.cx)) return write_lines_direct(c, order_id, deltas, state);
  std::vector<int32_t> nos, s, cc, r;
  for (const cs::ingest::pg::line_delta& d : deltas) {
    nos.push_back(d.line_no);
    s.push_back(d.shipped);
    cc.push_back(d.cancelled);
    r.push_back(d.returned);
  }
  run(P_LINES_UPDATE, args()
                          .text(c.cx->channel)
                          .text(order_id)
                          .datum(int_array(nos))
                          .datum(int_array(s))
                          .datum(int_array(cc))
                          .datum(int_array(r)));
  run(P_ORDER_UPDATE, args().text(c.cx->channel).text(order_id).text(state).ts(c.occurred_at));
}

// order_cancelled and order_shipped: release or ship the order's (or the given lines') units.
effect apply_order_change(const event_call& c, ig::line_op op) {
  call_context& cx = *c.cx;
  const ig::event& ev = *c.ev;
  std::optional<std::string> state = lock_order(cx, ev.order_id);
  if (!state)
    return rejected("order " + quote(ev.order_id) + " not found on channel " + quote(cx.channel));
  std::string why = ig::check_transition(ev.order_id, ig::parse_order_state(*state), op);
  if (!why.empty()) return rejected(why);
  std::vector<ig::sold_request> requests;
  for (size_t i = 0; i < ev.lines.size(); ++i) {
    std::optional<sku_info> s = resolve(cx, ev.lines[i].item);
    if (!s)
      return rejected("line " + std::to_string(i + 1) + ": " + unknown_item(cx, ev.lines[i].item));
    requests.push_back({s->sku, ev.lines[i].qty});
  }
  std::vector<ig::order_line> lines = lock_lines(cx, ev.order_id);
  std::vector<int32_t> delta;
  why = ig::plan_line_op(op, ev.order_id, lines, requests, delta);
  if (!why.empty()) return rejected(why);

  stock_changes changes;
  for (size_t i = 0; i < lines.size(); ++i)
    if (delta[i] != 0)
      changes.add(lines[i].sku, lines[i].location_id, op == ig::line_op::ship ? -delta[i] : 0,
                  -delta[i]);
  if (op == ig::line_op::ship) {
    std::vector<std::string> skus, locs;
    for (const auto& [key, v] : changes.by_key) {
      skus.push_back(key.first);
      locs.push_back(key.second);
    }
    auto levels = lock_stock(skus, locs);
    for (const auto& [key, v] : changes.by_key) {
      int64_t on_hand = 0;
      for (const auto& [s, l] : levels)
        if (s == key.first && l.location_id == key.second) on_hand = l.on_hand;
      if (on_hand + v.first < 0)
        return rejected("cannot ship " + std::to_string(-v.first) + " of " + quote(key.first) +
                        " from " + quote(key.second) + ": on_hand is " + std::to_string(on_hand));
    }
  }
  write_stock(changes);
  write_lines(c, ev.order_id, op, lines, delta);
  return {};
}

// return_received: restock (when asked) and, with an order, record the returned units.
effect apply_return(const event_call& c) {
  call_context& cx = *c.cx;
  const ig::event& ev = *c.ev;
  std::optional<sku_info> s = resolve(cx, ev.item);
  if (!s) return rejected(unknown_item(cx, ev.item));
  if (!location_exists(ev.location_id))
    return rejected("unknown location " + quote(ev.location_id));
  stock_changes changes;
  if (ev.order_id.empty()) {
    if (ev.restock) {
      if (s->bundle) {
        const auto& comps = components(cx, s->sku);
        if (comps.empty()) return rejected("bundle " + quote(s->sku) + " has no components");
        for (const auto& [comp, per] : comps)
          changes.add(comp, ev.location_id, int64_t{ev.qty} * per, 0);
      } else {
        changes.add(s->sku, ev.location_id, ev.qty, 0);
      }
    }
    write_stock(changes);
    return {};
  }
  std::optional<std::string> state = lock_order(cx, ev.order_id);
  if (!state)
    return rejected("order " + quote(ev.order_id) + " not found on channel " + quote(cx.channel));
  std::string why =
      ig::check_transition(ev.order_id, ig::parse_order_state(*state), ig::line_op::ret);
  if (!why.empty()) return rejected(why);
  std::vector<ig::order_line> lines = lock_lines(cx, ev.order_id);
  std::vector<int32_t> delta;
  why = ig::plan_line_op(ig::line_op::ret, ev.order_id, lines, {{s->sku, ev.qty}}, delta);
  if (!why.empty()) return rejected(why);
  if (ev.restock)
    for (size_t i = 0; i < lines.size(); ++i)
      if (delta[i] != 0) changes.add(lines[i].sku, ev.location_id, delta[i], 0);
  write_stock(changes);
  write_lines(c, ev.order_id, ig::line_op::ret, lines, delta);
  return {};
}

// A simple SKU for a stock event, or the reason it is not one.
std::optional<std::string> stock_sku(call_context& cx, const ig::event& ev, std::string& why) {
  std::optional<sku_info> s = resolve(cx, ev.item);
  if (!s) {
    why = unknown_item(cx, ev.item);
    return std::nullopt;
  }
  if (s->bundle) {
    why = "bundle " + quote(s->sku) + " holds no stock; adjust or count its components";
    return std::nullopt;
  }
  if (!location_exists(ev.location_id)) {
    why = "unknown location " + quote(ev.location_id);
    return std::nullopt;
  }
  return s->sku;
}

// stock_adjusted: on_hand moves by delta, never below 0.
effect apply_adjust(const event_call& c) {
  std::string why;
  std::optional<std::string> sku = stock_sku(*c.cx, *c.ev, why);
  if (!sku) return rejected(why);
  auto levels = lock_stock({*sku}, {c.ev->location_id});
  int64_t on_hand = levels.empty() ? 0 : levels.front().second.on_hand;
  if (on_hand + c.ev->delta < 0)
    return rejected("stock_adjusted would make on_hand of " + quote(*sku) + " at " +
                    quote(c.ev->location_id) + " negative: " + std::to_string(on_hand) + " " +
                    std::to_string(c.ev->delta));
  stock_changes changes;
  changes.add(*sku, c.ev->location_id, c.ev->delta, 0);
  write_stock(changes);
  return {};
}

// stock_counted: on_hand is set, unless a later count was already applied.
effect apply_count(const event_call& c) {
  std::string why;
  std::optional<std::string> sku = stock_sku(*c.cx, *c.ev, why);
  if (!sku) return rejected(why);
  // the stock row before the count's: the order every call locks them in
  auto levels = lock_stock({*sku}, {c.ev->location_id});
  rows r = run(P_COUNT_UPSERT,
               args().text(*sku).text(c.ev->location_id).ts(c.occurred_at).int8(c.event_id));
  if (r.count == 0) {
    rows owner = run(P_COUNT_OWNER, args().text(*sku).text(c.ev->location_id));
    std::string by = owner.count > 0 && !owner.is_null(0, 1)
                         ? " (event " + std::to_string(owner.int8(0, 1)) + ")"
                         : "";
    return effect{"stale", "a later count of " + quote(*sku) + " at " + quote(c.ev->location_id) +
                               " was already applied" + by};
  }
  // written as every other event's change is (in place where it can, re-targeted with the
  // call's others); a row not there yet is inserted with SQL
  if (levels.empty()) {
    run(P_STOCK_SET, args().text(*sku).text(c.ev->location_id).int4(c.ev->on_hand));
    return {};
  }
  stock_changes changes;
  changes.add(*sku, c.ev->location_id, int64_t{c.ev->on_hand} - levels.front().second.on_hand, 0);
  write_stock(changes);
  return {};
}

// listing_observed: what the channel says it shows, unless a later observation is known.
effect apply_observed(const event_call& c) {
  std::optional<sku_info> s = resolve(*c.cx, c.ev->item);
  if (!s) return rejected(unknown_item(*c.cx, c.ev->item));
  rows r = run(P_OBSERVE, args()
                              .text(c.cx->channel)
                              .text(s->sku)
                              .int4(c.ev->qty)
                              .opt_text(c.ev->price)
                              .ts(c.occurred_at));
  if (r.count == 0)
    return effect{"stale", "a later observation of " + quote(s->sku) + " on channel " +
                               quote(c.cx->channel) + " was already applied"};
  return {};
}

}  // namespace

effect apply(const event_call& c) {
  switch (c.ev->kind) {
    case ig::event_kind::order_placed:
      return apply_order_placed(c);
    case ig::event_kind::order_cancelled:
      return apply_order_change(c, ig::line_op::cancel);
    case ig::event_kind::order_shipped:
      return apply_order_change(c, ig::line_op::ship);
    case ig::event_kind::return_received:
      return apply_return(c);
    case ig::event_kind::stock_adjusted:
      return apply_adjust(c);
    case ig::event_kind::stock_counted:
      return apply_count(c);
    case ig::event_kind::listing_observed:
      return apply_observed(c);
  }
  return rejected("unknown event type");
}

}  // namespace cs::ingest::glue
