// What channel_sync itself defines on the tables ingest writes in place (events, orders,
// order_lines): their columns, the foreign keys whose checks the direct writers make
// themselves, and the CHECK constraints their values satisfy by construction.
#pragma once

#include <cstddef>

#include "common/table_access_pg.hpp"

namespace cs::ingest::pg {

template <typename T, size_t N>
constexpr int count(const T (&)[N]) {
  return static_cast<int>(N);
}

inline constexpr const char* kOrderColumns[] = {"channel_id", "order_id",   "state",   "oversold",
                                                "placed_at",  "updated_at", "event_id"};
inline constexpr const char* kLineColumns[] = {
    "channel_id",  "order_id",      "line_no",      "sku",      "location_id",    "qty",
    "qty_shipped", "qty_cancelled", "qty_returned", "sold_sku", "units_per_sold", "placed_at"};
inline constexpr const char* kEventColumns[] = {
    "event_id",    "channel_id",  "idempotency_key", "event_type", "payload",        "occurred_at",
    "received_at", "fingerprint", "status",          "detail",     "first_event_id", "duplicates"};
// the foreign keys whose checks the direct writers make (locking the referenced rows, or
// rows this transaction inserted or holds)
inline constexpr const char* kEventKeys[] = {"events_channel_id_fkey"};
inline constexpr const char* kOrderKeys[] = {"orders_channel_id_fkey", "orders_event_id_fkey"};
inline constexpr const char* kLineKeys[] = {"order_lines_sku_fkey", "order_lines_location_id_fkey",
                                            "order_lines_channel_id_order_id_fkey"};
inline constexpr const char* kEventChecks[] = {"idempotency_key_format", "event_status_known"};
inline constexpr const char* kOrderChecks[] = {"order_id_format", "order_state_known"};
inline constexpr const char* kLineChecks[] = {"order_line_qty_positive", "qty_shipped_range",
                                              "qty_cancelled_range",     "qty_returned_range",
                                              "units_per_sold_positive", "line_not_overdrawn"};

inline const cs::pg::own_definition kEvents{kEventColumns, count(kEventColumns),
                                            kEventKeys,    count(kEventKeys),
                                            kEventChecks,  count(kEventChecks)};
inline const cs::pg::own_definition kOrders{kOrderColumns, count(kOrderColumns),
                                            kOrderKeys,    count(kOrderKeys),
                                            kOrderChecks,  count(kOrderChecks)};
inline const cs::pg::own_definition kLines{kLineColumns, count(kLineColumns),
                                           kLineKeys,    count(kLineKeys),
                                           kLineChecks,  count(kLineChecks)};

}  // namespace cs::ingest::pg
