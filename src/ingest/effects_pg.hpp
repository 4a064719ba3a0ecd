// The effect of each event type (order_placed, order_cancelled, order_shipped,
// return_received, stock_adjusted, stock_counted, listing_observed), and the lookups they share.
// Each validates everything before its first write: a rejected or stale event writes nothing.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/pg_headers.hpp"

extern "C" {
#include "utils/timestamp.h"
}

#include "ingest/context_pg.hpp"
#include "ingest/event.hpp"
#include "ingest/orders.hpp"

namespace cs::ingest::glue {

namespace ig = cs::ingest;

// Looks up a SKU by canonical id or the channel's external id; nullopt if unknown.
std::optional<sku_info> resolve(call_context& cx, const ig::item_ref& item);

// A bundle's components (sku, qty_per), cached for the call.
const std::vector<std::pair<std::string, int32_t>>& components(call_context& cx,
                                                               const std::string& bundle);

// The active locations that feed the channel, sorted.
const std::vector<std::string>& feeding(call_context& cx);

// One event to apply: already recorded as event_id.
struct event_call {
  call_context* cx;
  const ig::event* ev;
  int64_t event_id;
  TimestampTz occurred_at;
};

// A resolved SKU as the order planner takes it: with its components when it is a bundle
// (components_of(sku) looks them up).
template <typename F>
std::optional<ig::resolved_item> planner_item(const std::optional<sku_info>& s, F&& components_of) {
  if (!s) return std::nullopt;
  ig::resolved_item r{s->sku, s->bundle, {}};
  if (s->bundle) r.components = components_of(s->sku);
  return r;
}

// Applies the event: its effect, or why it was rejected or stale.
effect apply(const event_call& c);

}  // namespace cs::ingest::glue
