// lag_sketch: a mergeable quantile sketch with a relative-error guarantee (DDSketch-like),
// pure C++ (no PostgreSQL headers). Values are lags in seconds.
//
// Buckets: bucket i holds the values v with gamma^(i-1) < v <= gamma^i, where
// gamma = (1 + a) / (1 - a) and a = 0.01 (relative accuracy 1 %). A quantile is reported as
// 2 gamma^i / (gamma + 1), within a * v of every value v of its bucket, then clamped to the
// exact [min, max] of the sketch.
//
// Bounded range, so the sketch is bounded in size (1085 buckets at most):
//   - values <= 0 (and -0) are counted as 0 (a lag cannot be negative; clock skew) and are
//     reported exactly as 0;
//   - values in (0, 1 ms) go to one underflow bucket, reported as 1 ms clamped to [min, max]
//     (absolute error below 1 ms);
//   - values above 30 days go to one overflow bucket, reported as 30 days clamped to
//     [min, max] (so between 30 days and the exact maximum);
//   - NaN and infinities are refused (cs::user_error 22023).
// The compact encoding (the type's storage and binary form) is at most 4 kB for any sketch
// of fewer than 2^30 values; the text form is readable and versioned.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cs::parity {

inline constexpr double kRelativeAccuracy = 0.01;
inline constexpr double kMinTracked = 0.001;      // 1 ms, in seconds
inline constexpr double kMaxTracked = 2592000.0;  // 30 days, in seconds
inline constexpr int32_t kMinIndex = -345;        // ceil(log_gamma(0.001))
inline constexpr int32_t kMaxIndex = 739;         // ceil(log_gamma(2592000))
inline constexpr int32_t kBins = kMaxIndex - kMinIndex + 1;
inline constexpr uint8_t kFormatVersion = 1;
inline constexpr size_t kMaxEncodedSize = 4096;

// The whole sketch as one flat, trivially copyable struct: PostgreSQL keeps it palloc'd as
// an aggregate state, so no C++ destructor ever needs to run.
struct sketch {
  uint64_t count;  // every value added
  uint64_t zeros;  // values <= 0
  uint64_t under;  // values in (0, kMinTracked)
  uint64_t over;   // values > kMaxTracked
  double min;      // exact smallest value (after mapping <= 0 to 0); +inf when empty
  double max;      // exact largest value; -inf when empty
  int32_t lo;      // lowest non-empty bucket index, kMaxIndex + 1 when none
  int32_t hi;      // highest non-empty bucket index, kMinIndex - 1 when none
  uint64_t bins[kBins];
};

// Makes s the empty sketch.
void reset(sketch& s);

// Adds one value in seconds; throws cs::user_error for NaN or infinity.
void add(sketch& s, double seconds);

// Adds every value of `other` into `into`; throws on counter overflow.
void merge(sketch& into, const sketch& other);

// The q-quantile (0 <= q <= 1) of a non-empty sketch, for the value of rank q (count - 1)
// (0-based, lower); q = 0 and q = 1 return the exact min and max. Throws for q outside
// [0, 1] and for an empty sketch.
double quantile(const sketch& s, double q);

// Throws cs::user_error 22003 unless 0 <= q <= 1.
void check_quantile(double q);

// Bucket index of a tracked value v (kMinTracked <= v <= kMaxTracked).
int32_t bucket_index(double v);

// Representative value of bucket i (within the relative accuracy of all its values).
double bucket_value(int32_t i);

// The compact binary form (storage, send/recv, aggregate serialization): version byte,
// flags byte (0), varint counters, min/max, then the occupied bucket range as a bitmap and a
// varint per non-empty bucket. Canonical: one sketch has exactly one encoding.
std::vector<uint8_t> encode(const sketch& s);

// Parses the compact binary form into s; throws cs::user_error 22P03 for anything
// malformed (unknown version or flag bits, bad sizes, inconsistent counts, trailing bytes).
void decode(const uint8_t* data, size_t size, sketch& s);

// The readable text form, e.g.
//   v=1 count=3 zeros=0 under=0 over=0 min=0.5 max=2 bins=-34:1,0:1,35:1
std::string to_text(const sketch& s);

// Parses the text form; throws cs::user_error 22P02 for anything malformed.
void from_text(std::string_view text, sketch& s);

}  // namespace cs::parity
