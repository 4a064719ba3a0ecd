// The allocation engine: see allocator.hpp for the rules it implements.
#include "allocation/allocator.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/errors.hpp"

namespace cs::allocation {

namespace {

// Largest buffer a dynamic rule may produce (keeps the arithmetic far from overflow).
constexpr int64_t kMaxUnits = std::numeric_limits<int32_t>::max();

// floor(bp * x / 10000) for x >= 0 and 0 <= bp <= 10000, exact in integers.
int64_t pct_of(int64_t bp, int64_t x) noexcept {
  return bp * x / kFullPct;
}

// Formats hundredths of a percent as "12.50".
std::string pct_text(int64_t bp) {
  std::string s = std::to_string(bp / 100) + ".";
  int64_t frac = bp % 100;
  if (frac < 10) s += "0";
  return s + std::to_string(frac);
}

}  // namespace

const char* limit_name(limit l) noexcept {
  switch (l) {
    case limit::pool:
      return "pool";
    case limit::buffer:
      return "buffer";
    case limit::holdback:
      return "holdback";
    case limit::list_pct:
      return "list_pct";
    case limit::cap:
      return "cap";
    case limit::low_stock_cutoff:
      return "low_stock_cutoff";
    case limit::inactive:
      return "inactive";
    case limit::no_locations:
      return "no_locations";
  }
  return "pool";
}

int64_t effective_buffer(const rule& r) noexcept {
  if (!r.dynamic_buffer) return r.buffer;
  double product = r.velocity_per_hour * r.lag_p95_hours;
  if (!(product > 0)) return r.buffer;  // also NaN
  // A product that is an integer up to rounding noise (1.0000000000002) stays that integer.
  double units = std::ceil(product - 1e-9);
  int64_t dynamic =
      units >= static_cast<double>(kMaxUnits) ? kMaxUnits : static_cast<int64_t>(units);
  return std::max(r.buffer, dynamic);
}

void allocate(const channel_input* in, std::size_t n, channel_result* out) noexcept {
  // Reserves of every active channel, weighted by its pool: sum of reserve_bp_d * P_d.
  int64_t reserved_weight = 0;
  for (std::size_t d = 0; d < n; ++d)
    if (in[d].active && in[d].has_locations)
      reserved_weight += in[d].r.reserve_bp * std::max<int64_t>(0, in[d].pool);

  for (std::size_t c = 0; c < n; ++c) {
    const channel_input& ch = in[c];
    channel_result& res = out[c];
    int64_t pool = ch.has_locations ? std::max<int64_t>(0, ch.pool) : 0;
    int64_t own = ch.active && ch.has_locations ? ch.r.reserve_bp * pool : 0;
    res.pool = pool;
    res.holdback = std::min(pool, (reserved_weight - own) / kFullPct);
    res.buffer = effective_buffer(ch.r);
    res.ats = 0;
    if (!ch.active) {
      res.limited_by = limit::inactive;
      continue;
    }
    if (!ch.has_locations) {
      res.limited_by = limit::no_locations;
      continue;
    }
    if (pool < ch.r.low_stock_cutoff) {
      res.limited_by = limit::low_stock_cutoff;
      continue;
    }
    limit last = limit::pool;
    int64_t qty = pool;
    int64_t after_buffer = std::max<int64_t>(0, qty - res.buffer);
    if (after_buffer < qty) last = limit::buffer;
    qty = after_buffer;
    int64_t after_holdback = std::max<int64_t>(0, qty - res.holdback);
    if (after_holdback < qty) last = limit::holdback;
    qty = after_holdback;
    int64_t listed = pct_of(ch.r.list_bp, qty);
    if (listed < qty) last = limit::list_pct;
    qty = listed;
    if (ch.r.cap != kNoCap && ch.r.cap < qty) {
      qty = ch.r.cap;
      last = limit::cap;
    }
    res.ats = qty;
    res.limited_by = last;
  }
}

channel_results allocate(const channel_inputs& in) {
  channel_results out(in.size());
  allocate(in.data(), in.size(), out.data());
  return out;
}

int64_t bundle_pool(const component_pool* components, std::size_t n) noexcept {
  if (n == 0) return 0;
  int64_t pool = std::numeric_limits<int64_t>::max();
  for (std::size_t i = 0; i < n; ++i) {
    int64_t per = components[i].qty_per > 0 ? components[i].qty_per : 1;
    pool = std::min(pool, std::max<int64_t>(0, components[i].pool) / per);
  }
  return pool;
}

void validate_rule(const rule& r, const std::string& who) {
  auto bad = [&](const std::string& field, const std::string& why) {
    throw user_error(sqlstate::kInvalidParameterValue, "invalid " + field + " in " + who,
                     why.empty() ? std::string() : why);
  };
  if (r.buffer < 0) bad("buffer", "The buffer must be zero or more units.");
  if (r.buffer > kMaxUnits) bad("buffer", "The buffer must fit in an integer.");
  if (r.reserve_bp < 0 || r.reserve_bp > kFullPct)
    bad("reserve_pct", "reserve_pct must be between 0 and 100.");
  if (r.list_bp < 0 || r.list_bp > kFullPct) bad("list_pct", "list_pct must be between 0 and 100.");
  if (r.cap != kNoCap && (r.cap < 0 || r.cap > kMaxUnits))
    bad("cap", "The cap must be zero or more units, or NULL for none.");
  if (r.low_stock_cutoff < 0 || r.low_stock_cutoff > kMaxUnits)
    bad("low_stock_cutoff", "The low-stock cut-off must be zero or more units.");
  if (!(r.velocity_per_hour >= 0) || std::isinf(r.velocity_per_hour))
    bad("velocity_per_hour",
        "The velocity must be a finite number of units per hour, zero or more.");
  if (!(r.lag_p95_hours >= 0) || std::isinf(r.lag_p95_hours))
    bad("lag_p95", "The p95 lag must be a finite interval, zero or more.");
}

void validate_reserves(const channel_input* in, std::size_t n) {
  int64_t total = 0;
  for (std::size_t i = 0; i < n; ++i) total += in[i].r.reserve_bp;
  if (total > kFullPct)
    throw user_error(sqlstate::kInvalidParameterValue,
                     "reserve_pct of all channels sums to " + pct_text(total) + ", more than 100",
                     "Each channel's reserve is held back from every other channel; together they "
                     "cannot exceed the whole pool.");
}

}  // namespace cs::allocation
