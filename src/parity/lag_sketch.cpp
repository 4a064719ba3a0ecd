// lag_sketch core: bucket mapping, add/merge/quantile, the compact binary form and the
// readable text form. Every parser checks every size and count before using it.
#include "parity/lag_sketch.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

#include "common/errors.hpp"

namespace cs::parity {
namespace {

const double kGamma = (1.0 + kRelativeAccuracy) / (1.0 - kRelativeAccuracy);
const double kLogGamma = std::log(kGamma);
const double kInf = std::numeric_limits<double>::infinity();

[[noreturn]] void bad_binary(const std::string& detail) {
  throw cs::user_error(cs::sqlstate::kInvalidBinaryRepresentation,
                       "invalid binary representation of lag_sketch", detail);
}

[[noreturn]] void bad_text(std::string_view text, const std::string& detail) {
  std::string shown(text.substr(0, 80));
  if (text.size() > 80) shown += "...";
  throw cs::user_error(cs::sqlstate::kInvalidTextRepresentation,
                       "invalid input syntax for type lag_sketch: \"" + shown + "\"", detail,
                       "The text form is: v=1 count=N zeros=N under=N over=N min=X max=X "
                       "bins=INDEX:COUNT,...");
}

// a + b, or nullopt-like false on uint64 overflow.
bool checked_add(uint64_t a, uint64_t b, uint64_t& out) {
  return !__builtin_add_overflow(a, b, &out);
}

// Recomputes lo/hi from the buckets.
void refresh_range(sketch& s) {
  s.lo = kMaxIndex + 1;
  s.hi = kMinIndex - 1;
  for (int32_t i = 0; i < kBins; ++i) {
    if (s.bins[i] == 0) continue;
    if (s.lo > kMaxIndex) s.lo = i + kMinIndex;
    s.hi = i + kMinIndex;
  }
}

// min and max must lie where the counters put the smallest and the largest value: in the
// lowest and the highest non-empty part (zeros, under 1 ms, a bucket, over 30 days).
std::string bounds_error(const sketch& s) {
  int32_t bottom = -1, top = -1;
  for (int32_t i = 0; i < kBins; ++i) {
    if (s.bins[i] == 0) continue;
    if (bottom < 0) bottom = i;
    top = i;
  }
  auto in_bucket = [](double v, int32_t i) {
    return v >= kMinTracked && v <= kMaxTracked && bucket_index(v) == i + kMinIndex;
  };
  bool max_ok = s.over > 0    ? s.max > kMaxTracked
                : top >= 0    ? in_bucket(s.max, top)
                : s.under > 0 ? s.max > 0 && s.max < kMinTracked
                              : s.max == 0;
  if (!max_ok) return "max does not lie in the highest non-empty bucket.";
  bool min_ok = s.zeros > 0   ? s.min == 0
                : s.under > 0 ? s.min > 0 && s.min < kMinTracked
                : bottom >= 0 ? in_bucket(s.min, bottom)
                              : s.min > kMaxTracked;
  if (!min_ok) return "min does not lie in the lowest non-empty bucket.";
  return "";
}

// Checks the counters and bounds of a parsed sketch; returns a reason or "" when valid.
std::string consistency_error(const sketch& s) {
  uint64_t total = 0;
  if (!checked_add(s.zeros, s.under, total) || !checked_add(total, s.over, total))
    return "The counters overflow.";
  for (int32_t i = 0; i < kBins; ++i)
    if (!checked_add(total, s.bins[i], total)) return "The bucket counts overflow.";
  if (total != s.count) return "The count does not equal the sum of the buckets.";
  if (s.count == 0) return "";
  if (!std::isfinite(s.min) || !std::isfinite(s.max)) return "min and max must be finite.";
  if (s.min < 0 || s.min > s.max) return "min and max must satisfy 0 <= min <= max.";
  if (s.zeros > 0 && s.min != 0) return "A sketch holding zeros must have min = 0.";
  if (s.zeros == 0 && s.min == 0) return "min = 0 requires a zero count.";
  return bounds_error(s);
}

// Appends v as an unsigned LEB128 varint.
void put_varint(std::vector<uint8_t>& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<uint8_t>(v));
}

void put_double(std::vector<uint8_t>& out, double d) {
  uint64_t bits;
  std::memcpy(&bits, &d, sizeof bits);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(bits >> (8 * i)));
}

// Reads the compact form with bounds checks on every byte.
class reader {
 public:
  reader(const uint8_t* data, size_t size) : p_(data), end_(data + size) {}
  uint8_t byte() {
    if (p_ >= end_) bad_binary("The data ends early.");
    return *p_++;
  }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      uint8_t b = byte();
      if (shift == 63 && (b & 0xfe) != 0) bad_binary("A varint overflows 64 bits.");
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        if (b == 0 && shift > 0) bad_binary("A varint is not minimally encoded.");
        return v;
      }
    }
    bad_binary("A varint is longer than 10 bytes.");
  }
  double f64() {
    uint64_t bits = 0;
    for (int i = 0; i < 8; ++i) bits |= static_cast<uint64_t>(byte()) << (8 * i);
    double d;
    std::memcpy(&d, &bits, sizeof d);
    return d;
  }
  bool done() const { return p_ == end_; }
  size_t left() const { return static_cast<size_t>(end_ - p_); }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

// Shortest text that reads back as exactly d.
std::string format_double(double d) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, d);
  return std::string(buf, r.ptr);
}

// Splits "name=value" and checks the name.
std::string_view field(std::string_view text, std::string_view token, std::string_view name) {
  if (token.size() <= name.size() || token.substr(0, name.size()) != name ||
      token[name.size()] != '=') {
    if (token.size() == name.size() + 1 && token.substr(0, name.size()) == name &&
        token.back() == '=' && name == "bins")
      return {};
    bad_text(text, "Expected field \"" + std::string(name) + "=\".");
  }
  return token.substr(name.size() + 1);
}

uint64_t parse_u64(std::string_view text, std::string_view value, std::string_view what) {
  uint64_t v = 0;
  auto r = std::from_chars(value.data(), value.data() + value.size(), v);
  if (value.empty() || r.ec != std::errc() || r.ptr != value.data() + value.size())
    bad_text(text, "Field \"" + std::string(what) + "\" must be an unsigned 64-bit integer.");
  return v;
}

double parse_f64(std::string_view text, std::string_view value, std::string_view what) {
  double v = 0;
  auto r = std::from_chars(value.data(), value.data() + value.size(), v);
  if (value.empty() || r.ec != std::errc() || r.ptr != value.data() + value.size() ||
      !std::isfinite(v))
    bad_text(text, "Field \"" + std::string(what) + "\" must be a finite number.");
  return v;
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

}  // namespace

void reset(sketch& s) {
  std::memset(&s, 0, sizeof s);
  s.min = kInf;
  s.max = -kInf;
  s.lo = kMaxIndex + 1;
  s.hi = kMinIndex - 1;
}

namespace {

// Bucket lookup without a log per value. Every double in [2^-10, 2^22) (covers 1 ms to 30
// days) is cut into sub-ranges by its exponent and top 7 mantissa bits; a sub-range is at most
// 2^-7 = 0.78 % wide, narrower than a bucket (2.02 %), so it holds at most one bucket edge:
// the bucket of its lowest value, plus one if v is above that bucket's upper edge.
constexpr int kMinExponent = -10;
constexpr int kMaxExponent = 21;
constexpr int kMantissaBits = 7;

struct bucket_lookup {
  double upper[kBins];  // gamma^i, the upper edge of bucket i (index i - kMinIndex)
  int16_t first[(kMaxExponent - kMinExponent + 1) << kMantissaBits];
  bucket_lookup() {
    for (int32_t i = 0; i < kBins; ++i) upper[i] = std::exp((i + kMinIndex) * kLogGamma);
    for (int e = kMinExponent; e <= kMaxExponent; ++e) {
      for (int m = 0; m < (1 << kMantissaBits); ++m) {
        double low = std::ldexp(1.0 + std::ldexp(m, -kMantissaBits), e);
        auto at = std::lower_bound(upper, upper + kBins, low) - upper;  // first edge >= low
        first[((e - kMinExponent) << kMantissaBits) | m] =
            static_cast<int16_t>(std::min<int64_t>(at, kBins - 1) + kMinIndex);
      }
    }
  }
};

const bucket_lookup& lookup() {
  static const bucket_lookup table;
  return table;
}

}  // namespace

int32_t bucket_index(double v) {
  const bucket_lookup& t = lookup();
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  const int exponent = static_cast<int>((bits >> 52) & 0x7ff) - 1023;
  if (exponent < kMinExponent) return kMinIndex;
  if (exponent > kMaxExponent) return kMaxIndex;
  const auto top = static_cast<int>((bits >> (52 - kMantissaBits)) & ((1u << kMantissaBits) - 1));
  int32_t i = t.first[((exponent - kMinExponent) << kMantissaBits) | top];
  if (i < kMaxIndex && v > t.upper[i - kMinIndex]) ++i;
  return i;
}

double bucket_value(int32_t i) {
  return 2.0 * std::exp(i * kLogGamma) / (kGamma + 1.0);
}

void add(sketch& s, double v) {
  if (!std::isfinite(v))
    throw cs::user_error(cs::sqlstate::kInvalidParameterValue,
                         "lag_sketch cannot hold NaN or infinite values",
                         "Lags are finite numbers of seconds.");
  if (s.count == std::numeric_limits<uint64_t>::max())
    throw cs::user_error(cs::sqlstate::kNumericValueOutOfRange, "lag_sketch count out of range");
  if (v <= 0) {
    v = 0;
    ++s.zeros;
  } else if (v < kMinTracked) {
    ++s.under;
  } else if (v > kMaxTracked) {
    ++s.over;
  } else {
    int32_t i = bucket_index(v);
    ++s.bins[i - kMinIndex];
    if (i < s.lo) s.lo = i;
    if (i > s.hi) s.hi = i;
  }
  ++s.count;
  if (v < s.min) s.min = v;
  if (v > s.max) s.max = v;
}

void merge(sketch& into, const sketch& other) {
  if (other.count == 0) return;
  uint64_t total;
  if (!checked_add(into.count, other.count, total))
    throw cs::user_error(cs::sqlstate::kNumericValueOutOfRange, "lag_sketch count out of range",
                         "The merged sketch would hold more than 2^64 - 1 values.");
  into.count = total;
  into.zeros += other.zeros;
  into.under += other.under;
  into.over += other.over;
  for (int32_t i = other.lo; i <= other.hi; ++i)
    into.bins[i - kMinIndex] += other.bins[i - kMinIndex];
  into.lo = std::min(into.lo, other.lo);
  into.hi = std::max(into.hi, other.hi);
  into.min = std::min(into.min, other.min);
  into.max = std::max(into.max, other.max);
}

void check_quantile(double q) {
  if (!(q >= 0.0 && q <= 1.0))
    throw cs::user_error(cs::sqlstate::kNumericValueOutOfRange,
                         "quantile " + format_double(q) + " is not between 0 and 1");
}

double quantile(const sketch& s, double q) {
  check_quantile(q);
  if (s.count == 0)
    throw cs::user_error(cs::sqlstate::kInvalidParameterValue, "lag_sketch is empty",
                         "An empty sketch has no quantiles.");
  const double rank = q * static_cast<double>(s.count - 1);
  // the extremes are tracked exactly
  if (rank <= 0.0) return s.min;
  if (rank >= static_cast<double>(s.count - 1)) return s.max;
  double estimate = kMaxTracked;
  uint64_t seen = s.zeros;
  if (static_cast<double>(seen) > rank) return 0.0;
  seen += s.under;
  if (static_cast<double>(seen) > rank) {
    estimate = kMinTracked;
  } else {
    for (int32_t i = s.lo; i <= s.hi; ++i) {
      seen += s.bins[i - kMinIndex];
      if (static_cast<double>(seen) > rank) {
        estimate = bucket_value(i);
        break;
      }
    }
  }
  return std::clamp(estimate, s.min, s.max);
}

std::vector<uint8_t> encode(const sketch& s) {
  std::vector<uint8_t> out;
  out.reserve(64 + (s.hi >= s.lo ? static_cast<size_t>(s.hi - s.lo + 1) * 2 : 0));
  out.push_back(kFormatVersion);
  out.push_back(0);  // flags: none defined in version 1
  put_varint(out, s.count);
  put_varint(out, s.zeros);
  put_varint(out, s.under);
  put_varint(out, s.over);
  if (s.count > 0) {
    put_double(out, s.min);
    put_double(out, s.max);
  }
  if (s.hi < s.lo) {
    put_varint(out, 0);
    return out;
  }
  const auto span = static_cast<uint32_t>(s.hi - s.lo + 1);
  put_varint(out, span);
  const int32_t lo = s.lo;
  put_varint(out, lo < 0 ? (static_cast<uint64_t>(-static_cast<int64_t>(lo)) << 1) - 1
                         : static_cast<uint64_t>(lo) << 1);
  size_t bitmap_at = out.size();
  out.resize(out.size() + (span + 7) / 8, 0);
  for (uint32_t k = 0; k < span; ++k)
    if (s.bins[lo - kMinIndex + k] != 0)
      out[bitmap_at + k / 8] |= static_cast<uint8_t>(1u << (k % 8));
  for (uint32_t k = 0; k < span; ++k)
    if (s.bins[lo - kMinIndex + k] != 0) put_varint(out, s.bins[lo - kMinIndex + k]);
  return out;
}

void decode(const uint8_t* data, size_t size, sketch& s) {
  reset(s);
  reader in(data, size);
  uint8_t version = in.byte();
  if (version != kFormatVersion)
    bad_binary("Version " + std::to_string(version) + " is not supported; this build reads " +
               "version " + std::to_string(kFormatVersion) + ".");
  uint8_t flags = in.byte();
  if (flags != 0) bad_binary("Unknown flag bits are set.");
  s.count = in.varint();
  s.zeros = in.varint();
  s.under = in.varint();
  s.over = in.varint();
  if (s.count > 0) {
    s.min = in.f64();
    s.max = in.f64();
  }
  uint64_t span = in.varint();
  if (span > static_cast<uint64_t>(kBins)) bad_binary("The bucket range is too wide.");
  if (span > 0) {
    uint64_t zz = in.varint();
    if (zz > 2 * static_cast<uint64_t>(kBins)) bad_binary("The lowest bucket is out of range.");
    auto lo = static_cast<int64_t>(zz & 1 ? -static_cast<int64_t>((zz + 1) >> 1)
                                          : static_cast<int64_t>(zz >> 1));
    if (lo < kMinIndex || lo + static_cast<int64_t>(span) - 1 > kMaxIndex)
      bad_binary("The bucket range is out of bounds.");
    const size_t bitmap_size = (span + 7) / 8;
    if (in.left() < bitmap_size) bad_binary("The data ends early.");
    uint8_t bitmap[(kBins + 7) / 8];
    for (size_t k = 0; k < bitmap_size; ++k) bitmap[k] = in.byte();
    if (span % 8 != 0 && (bitmap[bitmap_size - 1] >> (span % 8)) != 0)
      bad_binary("Padding bits of the bucket bitmap are set.");
    auto bit = [&](uint64_t k) { return (bitmap[k / 8] >> (k % 8)) & 1; };
    if (!bit(0) || !bit(span - 1)) bad_binary("The bucket range is not tight.");
    for (uint64_t k = 0; k < span; ++k) {
      if (!bit(k)) continue;
      uint64_t c = in.varint();
      if (c == 0) bad_binary("A bucket marked non-empty has count 0.");
      s.bins[lo - kMinIndex + static_cast<int64_t>(k)] = c;
    }
  }
  if (!in.done()) bad_binary("There are trailing bytes.");
  std::string why = consistency_error(s);
  if (!why.empty()) bad_binary(why);
  refresh_range(s);
  if (s.count == 0) {
    s.min = kInf;
    s.max = -kInf;
  }
}

std::string to_text(const sketch& s) {
  std::string out = "v=" + std::to_string(kFormatVersion);
  out += " count=" + std::to_string(s.count);
  out += " zeros=" + std::to_string(s.zeros);
  out += " under=" + std::to_string(s.under);
  out += " over=" + std::to_string(s.over);
  out += " min=" + format_double(s.count > 0 ? s.min : 0.0);
  out += " max=" + format_double(s.count > 0 ? s.max : 0.0);
  out += " bins=";
  bool first = true;
  for (int32_t i = s.lo; i <= s.hi; ++i) {
    uint64_t c = s.bins[i - kMinIndex];
    if (c == 0) continue;
    if (!first) out += ',';
    first = false;
    out += std::to_string(i) + ':' + std::to_string(c);
  }
  return out;
}

void from_text(std::string_view text, sketch& s) {
  reset(s);
  std::vector<std::string_view> tokens;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_space(text[i])) ++i;
    size_t start = i;
    while (i < text.size() && !is_space(text[i])) ++i;
    if (i > start) tokens.push_back(text.substr(start, i - start));
    if (tokens.size() > 8) bad_text(text, "There are more than 8 fields.");
  }
  if (tokens.empty()) bad_text(text, "The text is empty.");
  std::string_view version = field(text, tokens[0], "v");
  if (version != "1")
    bad_text(text, "Version \"" + std::string(version) + "\" is not supported; this build reads " +
                       "version 1.");
  if (tokens.size() != 8)
    bad_text(text, "Expected 8 fields: v count zeros under over min max bins.");
  s.count = parse_u64(text, field(text, tokens[1], "count"), "count");
  s.zeros = parse_u64(text, field(text, tokens[2], "zeros"), "zeros");
  s.under = parse_u64(text, field(text, tokens[3], "under"), "under");
  s.over = parse_u64(text, field(text, tokens[4], "over"), "over");
  s.min = parse_f64(text, field(text, tokens[5], "min"), "min");
  s.max = parse_f64(text, field(text, tokens[6], "max"), "max");
  std::string_view bins = field(text, tokens[7], "bins");
  int64_t previous = static_cast<int64_t>(kMinIndex) - 1;
  size_t pos = 0;
  while (pos < bins.size()) {
    size_t comma = bins.find(',', pos);
    std::string_view item =
        bins.substr(pos, comma == std::string_view::npos ? bins.npos : comma - pos);
    size_t colon = item.find(':');
    if (colon == std::string_view::npos) bad_text(text, "A bucket must be written INDEX:COUNT.");
    int64_t index = 0;
    std::string_view index_text = item.substr(0, colon);
    auto r = std::from_chars(index_text.data(), index_text.data() + index_text.size(), index);
    if (index_text.empty() || r.ec != std::errc() || r.ptr != index_text.data() + index_text.size())
      bad_text(text, "A bucket index must be an integer.");
    if (index < kMinIndex || index > kMaxIndex)
      bad_text(text, "Bucket index " + std::to_string(index) + " is outside [" +
                         std::to_string(kMinIndex) + ", " + std::to_string(kMaxIndex) + "].");
    if (index <= previous) bad_text(text, "Bucket indexes must be strictly increasing.");
    previous = index;
    uint64_t c = parse_u64(text, item.substr(colon + 1), "bucket count");
    if (c == 0) bad_text(text, "A listed bucket must have a count above 0.");
    s.bins[index - kMinIndex] = c;
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
    if (pos == bins.size()) bad_text(text, "The bucket list ends with a comma.");
  }
  if (s.count == 0 && (s.min != 0 || s.max != 0))
    bad_text(text, "An empty sketch is written with min=0 max=0.");
  std::string why = consistency_error(s);
  if (!why.empty()) bad_text(text, why);
  refresh_range(s);
  if (s.count == 0) {
    s.min = kInf;
    s.max = -kInf;
  }
}

}  // namespace cs::parity
