// Inbound event payloads: the event types, their payload shapes and the validation
// that turns a payload into a typed event or a rejection reason. Pure C++.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cs::ingest {

enum class event_kind {
  order_placed,
  order_cancelled,
  order_shipped,
  return_received,
  stock_adjusted,
  stock_counted,
  listing_observed
};

// Largest payload accepted (canonical text bytes).
inline constexpr size_t kMaxPayloadBytes = 1024 * 1024;
// Most lines an order event may carry.
inline constexpr size_t kMaxLines = 1000;
// Longest idempotency key, order id, SKU, external id or location id.
inline constexpr size_t kMaxIdLength = 255;

// The event kind named by text, if it is one.
std::optional<event_kind> parse_event_kind(std::string_view name);
const char* event_kind_name(event_kind k);

// A SKU as the channel names it: canonical sku, or the channel's external_id.
struct item_ref {
  std::string id;
  bool external = false;
};

// One line of an order event, in sold units.
struct event_line {
  item_ref item;
  int32_t qty = 0;
  std::string location_id;  // empty: not given
};

// A validated event.
struct event {
  event_kind kind = event_kind::order_placed;
  std::string order_id;           // empty: not given (return_received only)
  std::vector<event_line> lines;  // empty for a whole-order cancel/ship
  item_ref item;
  int32_t qty = 0;
  std::string location_id;
  bool restock = false;
  int32_t delta = 0;
  std::string reason;
  int32_t on_hand = 0;
  std::optional<std::string> price;  // numeric literal
};

// Either an event or the reason it is rejected.
struct parse_outcome {
  std::optional<event> ok;
  std::string reason;
};

// Validates event_type and payload (JSON text) into an event, or says why not.
parse_outcome parse_event(std::string_view event_type, std::string_view payload_json);

// Why an idempotency key is unusable, or empty when it is fine.
std::string check_key(std::string_view key);

}  // namespace cs::ingest
