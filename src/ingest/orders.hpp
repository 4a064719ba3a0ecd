// Order arithmetic, pure C++: where an order line reserves, which lines a cancellation,
// shipment or return touches and by how much, and the state an order is in afterwards.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ingest/event.hpp"

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

// An id as messages name it: in double quotes.
std::string quote(const std::string& s);

// A line's item as the catalog knows it: its SKU and, for a bundle, its components
// (simple SKU, units per bundle).
struct resolved_item {
  std::string sku;
  bool bundle = false;
  std::vector<std::pair<std::string, int32_t>> components;
};
// Looks an item up (nullopt: unknown).
using item_resolver = std::function<std::optional<resolved_item>(const item_ref&)>;

// "unknown sku ..." or "unknown external_id ... on channel ...".
std::string unknown_item(const std::string& channel, const item_ref& item);

// One simple SKU an order_placed line reserves: the SKU sold, or a component of the bundle
// sold.
struct order_part {
  std::string sku, sold_sku, location;  // location empty: to choose
  int32_t per = 1;
  int64_t units = 0;
};

// The parts the lines of an order_placed event reserve, or why the event is rejected (the
// first line whose item is unknown, whose location does not feed the channel or whose bundle
// has no components; an order of more than 10^9 units of one part).
std::optional<std::string> order_parts(const event& ev, const std::string& channel,
                                       const std::vector<std::string>& feeding,
                                       const item_resolver& resolve,
                                       std::vector<order_part>& parts);

// (sku, location_id)
using stock_key = std::pair<std::string, std::string>;

// A line of an order to place: one per (sold SKU, simple SKU, location), numbered from 1.
struct line_to_place {
  std::string sku, location, sold_sku;
  int32_t line_no = 0, qty = 0, per = 1;
};

// What placing an order does: its lines, the units it reserves per (sku, location) and, when
// a location cannot cover its demand, "oversold: ..." for the first such (sku, location).
struct order_plan {
  std::vector<line_to_place> lines;
  std::map<stock_key, int64_t> reserve;
  std::optional<std::string> oversold;
};

// Plans an order against the stock levels of its SKUs at the feeding locations (no row: none
// on hand): every part without a location takes the one choose_location() picks for its SKU,
// demand is summed per (sku, location) across lines and compared with on_hand - reserved.
order_plan plan_order(std::vector<order_part> parts, const std::vector<std::string>& feeding,
                      const std::map<stock_key, stock_level>& levels);

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
