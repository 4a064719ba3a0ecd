// The allocation engine (design §Allocation): from each channel's pool and rules, how
// many units the channel may list (ATS), and which rule decided that number.
// Pure C++: no PostgreSQL header. The SQL glue is in allocation_pg.cpp and targets_pg.cpp
// (with world_pg.cpp, plans_pg.cpp and listing_writes_pg.cpp).
//
// Per SKU and channel c (percentages are kept in hundredths of a percent, "bp"):
//   pool      P_c  = sum over c's locations of max(0, on_hand - reserved - safety_stock)
//                    (bundles: min over components of floor(component pool / qty_per))
//   holdback  H_c  = min(P_c, floor(sum over active d != c of reserve_pct_d * P_d / 100))
//   buffer    B_c  = static buffer, or max(buffer, ceil(velocity_c * lag_p95_c)) if dynamic
//   ATS_c          = 0 if c is inactive or has no locations or P_c < low_stock_cutoff_c, else
//                    min(cap_c, floor(list_pct_c * max(0, P_c - B_c - H_c) / 100))
// The holdbacks of several reserving channels are summed before rounding down once, so
// more stock never lowers any channel's ATS (rounding each share separately would: with
// two 50 % reserves, a pool of 1 leaves 1 unit to a third channel but a pool of 2 leaves 0).
// An inactive channel lists nothing, so it holds nothing back either.
#pragma once

#include <boost/container/small_vector.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

namespace cs::allocation {

// Percentages are integers in hundredths of a percent: 100 % = 10000 (numeric(5,2) exactly).
inline constexpr int32_t kFullPct = 10000;
// No cap.
inline constexpr int64_t kNoCap = -1;

// The rule that decided a channel's ATS. Checked in this order; for a channel that is
// active, has locations and clears its low-stock cut-off, it is the LAST step of
// buffer -> holdback -> list_pct -> cap that lowered the number; `pool` if none did
// (the channel lists its whole pool).
enum class limit : uint8_t {
  pool,              // nothing took anything away: ATS = pool
  buffer,            // the (static or dynamic) buffer was the last reduction
  holdback,          // other channels' reserves were the last reduction
  list_pct,          // rounding down to list_pct of what remained was the last reduction
  cap,               // the cap was the last reduction
  low_stock_cutoff,  // pool below low_stock_cutoff: lists 0
  inactive,          // channel inactive: lists 0
  no_locations,      // no active location feeds the channel: pool and ATS are 0
};

// The name SQL shows for a limit (explain_allocation.limited_by).
const char* limit_name(limit l) noexcept;

// One channel's rule for one SKU (a per-SKU row, else the channel default, else defaults).
struct rule {
  int64_t buffer = 0;            // units, >= 0
  int32_t reserve_bp = 0;        // 0..10000
  int32_t list_bp = kFullPct;    // 0..10000
  int64_t cap = kNoCap;          // kNoCap or >= 0
  int64_t low_stock_cutoff = 0;  // >= 0
  bool dynamic_buffer = false;
  double velocity_per_hour = 0;  // units sold per hour on this channel (dynamic buffer)
  double lag_p95_hours = 0;      // this channel's p95 sync lag in hours (dynamic buffer)
};

// What the engine needs about one channel for one SKU.
struct channel_input {
  rule r;
  int64_t pool = 0;  // P_c, >= 0
  bool active = true;
  bool has_locations = true;
};

// What the engine decides for one channel.
struct channel_result {
  int64_t ats = 0;
  int64_t pool = 0;
  int64_t holdback = 0;
  int64_t buffer = 0;
  limit limited_by = limit::pool;
};

// The per-SKU channel set: inline storage for up to 8 channels, so allocating one SKU
// does not touch the heap in the usual case.
using channel_inputs = boost::container::small_vector<channel_input, 8>;
using channel_results = boost::container::small_vector<channel_result, 8>;

// The effective buffer of a rule: static, or max(static, ceil(velocity x lag)) if dynamic.
int64_t effective_buffer(const rule& r) noexcept;

// Allocates one SKU over n channels: out[i] for in[i]. Never allocates memory.
// Inputs must be valid (see validate_rule); pools are clamped at 0.
void allocate(const channel_input* in, std::size_t n, channel_result* out) noexcept;

// Convenience wrapper over allocate() for a channel set.
channel_results allocate(const channel_inputs& in);

// A bundle's pool from its components' pools: min over components of floor(pool / qty_per);
// 0 for a bundle without components. qty_per must be > 0.
struct component_pool {
  int64_t pool;
  int64_t qty_per;
};
int64_t bundle_pool(const component_pool* components, std::size_t n) noexcept;

// Throws cs::user_error (22023) when a rule field is out of range; `who` names the rule.
void validate_rule(const rule& r, const std::string& who);

// Throws cs::user_error (22023) when the channels' reserves sum to more than 100 %.
void validate_reserves(const channel_input* in, std::size_t n);

}  // namespace cs::allocation
