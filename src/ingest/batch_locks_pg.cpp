// The stock locks of an ingest_batch() call: see batch_locks_pg.hpp.
#include "ingest/batch_locks_pg.hpp"

#include <string>

#include "ingest/effects_pg.hpp"
#include "ingest/item_refs_pg.hpp"
#include "ingest/statements_pg.hpp"
#include "ingest/writes_pg.hpp"
#include "propagation/stock_writes_pg.hpp"

namespace cs::ingest::glue {

namespace ig = cs::ingest;

namespace {

using stock_pairs = std::vector<std::pair<std::string, std::string>>;

bool order_placed(const prepared& p) {
  return p.reason.empty() && p.ev->kind == ig::event_kind::order_placed;
}

bool touches_stock(const prepared& p) {
  return p.reason.empty() && p.ev->kind != ig::event_kind::listing_observed;
}

bool observes(const prepared& p) {
  return p.reason.empty() && p.ev->kind == ig::event_kind::listing_observed;
}

// The valid deliveries the batch claimed the keys of: the events it applies.
std::vector<const prepared*> applied(const std::vector<prepared>& ready,
                                     const std::vector<int64_t>& ids) {
  std::vector<const prepared*> out;
  for (size_t i = 0; i < ready.size(); ++i)
    if (ids[i] != 0 && ready[i].reason.empty()) out.push_back(&ready[i]);
  return out;
}

// The SKUs whose stock an item's units are: itself, or a bundle's components.
std::vector<std::string> stocked(const call_context& cx, const item_refs& refs,
                                 const ig::item_ref& item) {
  std::optional<sku_info> s = refs.resolve(item);
  if (!s) return {};
  if (!s->bundle) return {s->sku};
  std::vector<std::string> parts;
  auto it = cx.components.find(s->sku);
  if (it != cx.components.end())
    for (const auto& [component, per] : it->second) parts.push_back(component);
  return parts;
}

void add_at(stock_pairs& out, const std::vector<std::string>& skus,
            const std::vector<std::string>& locs) {
  for (const std::string& sku : skus)
    for (const std::string& loc : locs) out.emplace_back(sku, loc);
}

// The stock rows one event may lock. An order's units come from a location that feeds the
// channel (or the one its line names); a cancellation or a shipment changes the rows its
// order's lines are at (added from the order's lines in the table, or, for an order of this
// batch, by its order_placed event); a return or a stock event the row at its location.
void add_event_stock(call_context& cx, const item_refs& refs, const ig::event& ev,
                     stock_pairs& out) {
  switch (ev.kind) {
    case ig::event_kind::order_placed:
      for (const ig::event_line& l : ev.lines) {
        std::vector<std::string> locs = feeding(cx);
        if (!l.location_id.empty()) locs.push_back(l.location_id);
        add_at(out, stocked(cx, refs, l.item), locs);
      }
      break;
    case ig::event_kind::return_received:
    case ig::event_kind::stock_adjusted:
    case ig::event_kind::stock_counted:
      add_at(out, stocked(cx, refs, ev.item), {ev.location_id});
      break;
    case ig::event_kind::order_cancelled:
    case ig::event_kind::order_shipped:
    case ig::event_kind::listing_observed:
      break;
  }
}

// Locks, in key order, the orders the events name that are in the table already.
void lock_named_orders(const call_context& cx, const std::vector<const prepared*>& events) {
  std::vector<std::string> order_ids;
  for (const prepared* p : events)
    if (!p->ev->order_id.empty()) order_ids.push_back(p->ev->order_id);
  lock_orders(cx.channel, order_ids);
}

// The rows the lines of the batch's cancelled and shipped orders already in the table are at.
void add_order_lines_stock(const call_context& cx, const std::vector<const prepared*>& events,
                           stock_pairs& out) {
  std::vector<std::string> order_ids;
  for (const prepared* p : events)
    if (p->ev->kind == ig::event_kind::order_cancelled ||
        p->ev->kind == ig::event_kind::order_shipped)
      order_ids.push_back(p->ev->order_id);
  if (order_ids.empty()) return;
  rows r = run(P_BULK_LINE_STOCK, args().text(cx.channel).datum(text_array(order_ids)));
  for (uint64 k = 0; k < r.count; ++k) out.emplace_back(r.text(k, 1), r.text(k, 2));
}

// Whether the batch's steps must take their locks first: more than one of the steps with a
// claimed event touches stock, or more than one observes a listing, or one does each.
bool locks_first(const std::vector<prepared>& ready, const std::vector<int64_t>& ids,
                 const std::vector<std::pair<size_t, size_t>>& steps) {
  size_t touching = 0, observing = 0;
  for (const auto& [from, to] : steps) {
    bool claimed = false;
    for (size_t i = from; i < to; ++i) claimed = claimed || ids[i] != 0;
    touching += claimed && touches_stock(ready[from]) ? 1 : 0;
    observing += claimed && observes(ready[from]) ? 1 : 0;
  }
  return touching + observing >= 2;
}

// The items (SKUs or aliases) the events name.
std::vector<const ig::item_ref*> items_of(const std::vector<const prepared*>& events) {
  std::vector<const ig::item_ref*> items;
  for (const prepared* p : events) {
    if (!p->ev->item.id.empty()) items.push_back(&p->ev->item);
    for (const ig::event_line& l : p->ev->lines) items.push_back(&l.item);
  }
  return items;
}

}  // namespace

std::vector<std::pair<size_t, size_t>> batch_steps(const std::vector<prepared>& ready) {
  std::vector<std::pair<size_t, size_t>> steps;
  for (size_t i = 0; i < ready.size();) {
    size_t j = i;
    while (j < ready.size() && order_placed(ready[j])) ++j;
    if (j - i < 2) j = i + 1;
    steps.emplace_back(i, j);
    i = j;
  }
  return steps;
}

void lock_batch_rows(call_context& cx, const std::vector<prepared>& ready,
                     const std::vector<int64_t>& ids,
                     const std::vector<std::pair<size_t, size_t>>& steps) {
  if (!locks_first(ready, ids, steps)) return;
  std::vector<const prepared*> claimed = applied(ready, ids), events, observed;
  for (const prepared* p : claimed) (touches_stock(*p) ? events : observed).push_back(p);
  lock_named_orders(cx, events);
  item_refs refs = read_item_refs(cx, items_of(claimed));
  stock_pairs pairs;
  for (const prepared* p : events) add_event_stock(cx, refs, *p->ev, pairs);
  add_order_lines_stock(cx, events, pairs);
  std::vector<std::string> retargeted, seen;
  for (const auto& [sku, loc] : pairs) retargeted.push_back(sku);
  lock_stock_pairs(std::move(pairs));
  if (observed.empty()) return;
  for (const prepared* p : observed)
    if (std::optional<sku_info> s = refs.resolve(p->ev->item)) seen.push_back(s->sku);
  seen = sorted_distinct(std::move(seen));
  retargeted.insert(retargeted.end(), seen.begin(), seen.end());
  cs::propagation::lock_for_retarget_of(sorted_distinct(std::move(retargeted)));
  run(P_LOCK_LISTINGS, args().text(cx.channel).datum(text_array(seen)));
}

}  // namespace cs::ingest::glue
