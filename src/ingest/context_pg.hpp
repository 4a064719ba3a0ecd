// What one call of ingest(), ingest_batch() or replay() knows and answers: the channel and
// what the call looked up, an event's effect and its outcome.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace cs::ingest::glue {

// The outcome of one delivery, as ingest_result returns it.
struct outcome {
  int64_t event_id = 0;
  std::string status;
  std::optional<std::string> detail;
};

// What the effect of an event came to.
struct effect {
  std::string status = "applied";
  std::optional<std::string> detail;
};

inline effect rejected(std::string why) {
  return effect{"rejected", std::move(why)};
}

// Per-call state: the channel and what this call already looked up.
struct call_context {
  std::string channel;
  std::optional<std::vector<std::string>> feeding;
  std::map<std::string, std::vector<std::pair<std::string, int32_t>>> components;
  std::optional<bool> order_changes_direct;  // orders and order_lines written in place
};

// A resolved SKU.
struct sku_info {
  std::string sku;
  bool bundle = false;
};

}  // namespace cs::ingest::glue
