// Order arithmetic, pure C++: where an order line reserves, which lines a cancellation,
// shipment or return touches and by how much, and the state an order is in afterwards.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cs::ingest {

enum class order_state { placed, partially_shipped, shipped, cancelled, returned };
const char* order_state_name(order_state s);
// The state named by text (placed when unknown; the table's CHECK keeps it known).
order_state parse_order_state(const std::string& name);

// Stock of one SKU at one location, as read under lock.
struct stock_level {
  std::string location_id;
  int64_t on_hand = 0;
  int64_t reserved = 0;
  int64_t safety_stock = 0;
  int64_t sellable() const { return on_hand - reserved - safety_stock; }
};

// The feeding location with the most sellable units for one SKU (no stock row counts
// as 0); ties go to the smallest location_id. feeding must not be empty.
std::string choose_location(const std::vector<std::string>& feeding,
                            const std::vector<stock_level>& levels);

// One reservation line of an order.
struct order_line {
  int32_t line_no = 0;
  std::string sku;  // simple SKU reserved
  std::string location_id;
  std::string sold_sku;  // what the channel sold (a bundle, or sku itself)
  int32_t units_per_sold = 1;
  int32_t qty = 0, shipped = 0, cancelled = 0, returned = 0;
  int32_t open() const { return qty - shipped - cancelled; }
};

// How many sold units a request names.
struct sold_request {
  std::string sold_sku;
  int64_t qty = 0;
};

enum class line_op { cancel, ship, ret };
// The state an operation moves an order to (for messages): cancelled, shipped, returned.
const char* line_op_target(line_op op);

// Why the order cannot take op in its current state, or empty.
std::string check_transition(const std::string& order_id, order_state from, line_op op);

// Per-line unit deltas (indexed like lines) for op. With no requests the whole open
// order is cancelled or shipped; otherwise each request's sold units are spread over
// that sold SKU's lines in line order. Returns a rejection reason, or empty.
std::string plan_line_op(line_op op, const std::string& order_id,
                         const std::vector<order_line>& lines,
                         const std::vector<sold_request>& requests, std::vector<int32_t>& delta);

// The state an order's lines put it in.
order_state derive_state(const std::vector<order_line>& lines);

}  // namespace cs::ingest
