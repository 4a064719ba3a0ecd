// Drift between the targets recomputed from the truth and what listings and the outbox
// hold: the pure comparison behind channel_sync.verify(). No PostgreSQL headers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cs::propagation {

// A target recomputed from the truth for one (channel, SKU).
struct expected_target {
  std::string channel_id;
  std::string sku;
  int32_t qty = 0;
  std::string price;  // numeric text; ignored when price_is_null
  bool price_is_null = false;
};

// A row of channel_sync.listings, as far as verify() looks at it.
struct listing_state {
  std::string channel_id;
  std::string sku;
  int32_t qty = 0;
  std::string price;
  bool price_is_null = false;
  int64_t version = 0;
  bool acked = false;  // acked_version is not null
  int64_t acked_version = 0;
};

// The outbox message of one (channel, SKU), pending or dead.
struct message_state {
  std::string channel_id;
  std::string sku;
  int64_t version = 0;
};

// One row of verify()'s answer.
struct finding {
  std::string check_name;
  std::string channel_id;
  std::string sku;
  std::string expected;
  std::string found;
};

// True when two numeric texts denote the same number ("12.5" == "12.50", "3" == "3.00").
bool same_decimal(const std::string& a, const std::string& b);

// "qty 5, price 12.50" (or "price null"): how verify() shows a target.
std::string describe(int32_t qty, const std::string& price, bool price_is_null);

// Compares recomputed targets with listings ("target_drift") and unacknowledged listing
// versions with the outbox ("message_missing"). Findings come sorted by check, channel, SKU.
std::vector<finding> find_drift(const std::vector<expected_target>& targets,
                                const std::vector<listing_state>& listings,
                                const std::vector<message_state>& messages);

// Exponential retry backoff in milliseconds after `attempts` failures:
// base × 2^(attempts−1), capped at cap_ms (attempts ≤ 0 gives 0).
int64_t backoff_ms(int32_t attempts, int64_t base_ms, int64_t cap_ms);

}  // namespace cs::propagation
