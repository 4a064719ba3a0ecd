// lag_sketch core: relative accuracy against exact quantiles on millions of values from
// several distributions, merge == sketch of the union, round trips of both forms, the size
// bound, and rejection of malformed input.
#include "parity/lag_sketch.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "common/errors.hpp"

namespace {

using cs::parity::sketch;

std::unique_ptr<sketch> make_sketch() {
  auto s = std::make_unique<sketch>();
  cs::parity::reset(*s);
  return s;
}

std::unique_ptr<sketch> sketch_of(const std::vector<double>& values) {
  auto s = make_sketch();
  for (double v : values) cs::parity::add(*s, v);
  return s;
}

// n values drawn from a distribution, in seconds.
std::vector<double> draw(size_t n, const std::function<double(std::mt19937_64&)>& gen,
                         uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<double> v(n);
  for (auto& x : v) x = gen(rng);
  return v;
}

struct distribution {
  const char* name;
  std::function<double(std::mt19937_64&)> gen;
};

std::vector<distribution> distributions() {
  return {
      {"uniform 1ms..1h",
       [](std::mt19937_64& r) { return std::uniform_real_distribution<>(0.001, 3600.0)(r); }},
      {"exponential mean 40s",
       [](std::mt19937_64& r) { return std::exponential_distribution<>(1.0 / 40.0)(r) + 0.001; }},
      {"lognormal (sync lags, heavy tail)",
       [](std::mt19937_64& r) { return std::lognormal_distribution<>(3.0, 1.5)(r); }},
      {"pareto alpha 1.2 (bursts)",
       [](std::mt19937_64& r) {
         double u = std::uniform_real_distribution<>(0.0, 1.0)(r);
         return std::min(2.0 / std::pow(1.0 - u, 1.0 / 1.2), 2592000.0);
       }},
      {"bimodal 2s / 15min",
       [](std::mt19937_64& r) {
         bool slow = std::bernoulli_distribution(0.1)(r);
         return slow ? std::normal_distribution<>(900.0, 60.0)(r)
                     : std::abs(std::normal_distribution<>(2.0, 0.5)(r)) + 0.001;
       }},
  };
}

TEST(LagSketch, AccuracyWithinRelativeBoundOnAMillionValues) {
  const size_t n = 1'000'000;
  uint64_t seed = 11;
  for (const auto& d : distributions()) {
    std::vector<double> values = draw(n, d.gen, seed++);
    auto s = sketch_of(values);
    std::sort(values.begin(), values.end());
    for (double q : {0.5, 0.95, 0.99}) {
      double rank = q * static_cast<double>(n - 1);
      // exact order statistic the sketch targets, and percentile_cont's interpolation
      double exact = values[static_cast<size_t>(rank)];
      double lo = values[static_cast<size_t>(std::floor(rank))];
      double hi = values[static_cast<size_t>(std::ceil(rank))];
      double cont = lo + (rank - std::floor(rank)) * (hi - lo);
      double estimate = cs::parity::quantile(*s, q);
      EXPECT_LE(std::abs(estimate - exact), cs::parity::kRelativeAccuracy * exact * (1 + 1e-9))
          << d.name << " q=" << q << " exact=" << exact << " estimate=" << estimate;
      EXPECT_LE(std::abs(estimate - cont), cs::parity::kRelativeAccuracy * cont * (1 + 1e-6))
          << d.name << " q=" << q << " percentile_cont=" << cont << " estimate=" << estimate;
    }
    EXPECT_EQ(s->count, n);
    EXPECT_EQ(cs::parity::quantile(*s, 0.0), values.front());
    EXPECT_EQ(cs::parity::quantile(*s, 1.0), values.back());
  }
}

TEST(LagSketch, EveryBucketValueIsWithinTheBoundOfItsEdges) {
  for (int32_t i = cs::parity::kMinIndex + 1; i <= cs::parity::kMaxIndex; ++i) {
    double upper = std::exp(i * std::log(1.01 / 0.99));
    double lower = std::exp((i - 1) * std::log(1.01 / 0.99));
    double rep = cs::parity::bucket_value(i);
    EXPECT_LE(std::abs(rep - upper) / upper, 0.01 + 1e-12);
    EXPECT_LE(std::abs(rep - lower) / lower, 0.01 + 1e-12);
  }
  EXPECT_EQ(cs::parity::bucket_index(0.001), cs::parity::kMinIndex);
  EXPECT_EQ(cs::parity::bucket_index(2592000.0), cs::parity::kMaxIndex);
}

TEST(LagSketch, BucketIndexIsTheSmallestBucketWhoseUpperEdgeHoldsTheValue) {
  const double log_gamma = std::log(1.01 / 0.99);
  auto upper = [&](int32_t i) { return std::exp(i * log_gamma); };
  auto check = [&](double v) {
    int32_t i = cs::parity::bucket_index(v);
    ASSERT_GE(i, cs::parity::kMinIndex);
    ASSERT_LE(i, cs::parity::kMaxIndex);
    EXPECT_LE(v, upper(i)) << v;
    if (i > cs::parity::kMinIndex) {
      EXPECT_GT(v, upper(i - 1)) << v;
    }
  };
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<> u(std::log(0.001), std::log(2592000.0));
  for (int k = 0; k < 1'000'000; ++k) check(std::exp(u(rng)));
  for (int32_t i = cs::parity::kMinIndex; i < cs::parity::kMaxIndex; ++i) {
    double edge = upper(i);
    if (edge < 0.001 || edge > 2592000.0) continue;
    check(edge);
    check(std::nextafter(edge, 0.0));
    check(std::nextafter(edge, 1e300));
  }
  check(0.001);
  check(2592000.0);
}

TEST(LagSketch, MergeEqualsSketchOfTheUnion) {
  auto d = distributions();
  std::vector<double> a = draw(300'000, d[1].gen, 1);
  std::vector<double> b = draw(200'000, d[2].gen, 2);
  std::vector<double> c = draw(100'000, d[3].gen, 3);
  c.push_back(0.0);
  c.push_back(-3.0);
  c.push_back(0.0004);
  c.push_back(3'000'000.0);
  std::vector<double> all = a;
  all.insert(all.end(), b.begin(), b.end());
  all.insert(all.end(), c.begin(), c.end());
  auto whole = sketch_of(all);
  auto merged = sketch_of(a);
  auto sb = sketch_of(b);
  auto sc = sketch_of(c);
  cs::parity::merge(*merged, *sc);  // order does not matter
  cs::parity::merge(*merged, *sb);
  auto empty = make_sketch();
  cs::parity::merge(*merged, *empty);
  EXPECT_EQ(cs::parity::encode(*merged), cs::parity::encode(*whole));
  EXPECT_EQ(cs::parity::to_text(*merged), cs::parity::to_text(*whole));
  for (double q : {0.0, 0.01, 0.5, 0.95, 0.99, 1.0})
    EXPECT_EQ(cs::parity::quantile(*merged, q), cs::parity::quantile(*whole, q));
  // merging into an empty sketch copies
  auto copy = make_sketch();
  cs::parity::merge(*copy, *whole);
  EXPECT_EQ(cs::parity::encode(*copy), cs::parity::encode(*whole));
}

TEST(LagSketch, RoundTripsBinaryAndText) {
  std::vector<std::vector<double>> cases = {{},
                                            {0.0},
                                            {-1.0, 0.0},
                                            {0.0005},
                                            {5'000'000.0},
                                            {1.5},
                                            {0.25, 7.0, 7.0, 3600.0, 0.0, 0.0002}};
  cases.push_back(draw(50'000, distributions()[2].gen, 9));
  for (const auto& values : cases) {
    auto s = sketch_of(values);
    std::vector<uint8_t> bytes = cs::parity::encode(*s);
    auto back = make_sketch();
    cs::parity::decode(bytes.data(), bytes.size(), *back);
    EXPECT_EQ(cs::parity::encode(*back), bytes);
    std::string text = cs::parity::to_text(*s);
    auto parsed = make_sketch();
    cs::parity::from_text(text, *parsed);
    EXPECT_EQ(cs::parity::to_text(*parsed), text);
    EXPECT_EQ(cs::parity::encode(*parsed), bytes);
    if (!values.empty()) {
      for (double q : {0.0, 0.5, 0.99, 1.0})
        EXPECT_EQ(cs::parity::quantile(*parsed, q), cs::parity::quantile(*s, q));
    }
  }
  auto s = sketch_of({0.5, 2.0, 0.0});
  EXPECT_EQ(cs::parity::to_text(*s),
            "v=1 count=3 zeros=1 under=0 over=0 min=0 max=2 bins=-34:1,35:1");
  // whitespace around and between fields is accepted
  auto parsed = make_sketch();
  cs::parity::from_text("  v=1\tcount=3 zeros=1  under=0 over=0 min=0 max=2 bins=-34:1,35:1\n",
                        *parsed);
  EXPECT_EQ(cs::parity::to_text(*parsed), cs::parity::to_text(*s));
}

TEST(LagSketch, OutOfRangeValuesFollowTheDocumentedRules) {
  auto s = sketch_of({-5.0, 0.0, -0.0});
  EXPECT_EQ(s->zeros, 3u);
  EXPECT_EQ(cs::parity::quantile(*s, 0.5), 0.0);
  auto tiny = sketch_of({0.0002, 0.0004});
  EXPECT_EQ(tiny->under, 2u);
  EXPECT_EQ(cs::parity::quantile(*tiny, 0.0), 0.0002);  // clamped to the exact min
  EXPECT_EQ(cs::parity::quantile(*tiny, 1.0), 0.0004);  // and max
  auto huge = sketch_of({3'000'000.0, 4'000'000.0, 5'000'000.0});
  EXPECT_EQ(huge->over, 3u);
  EXPECT_EQ(cs::parity::quantile(*huge, 0.5), 3'000'000.0);  // 30 days clamped to [min, max]
  EXPECT_EQ(cs::parity::quantile(*huge, 0.0), 3'000'000.0);
  EXPECT_EQ(cs::parity::quantile(*huge, 1.0), 5'000'000.0);
  auto n = make_sketch();
  EXPECT_THROW(cs::parity::add(*n, std::nan("")), cs::user_error);
  EXPECT_THROW(cs::parity::add(*n, HUGE_VAL), cs::user_error);
  EXPECT_THROW(cs::parity::quantile(*n, 0.5), cs::user_error);  // empty
  auto one = sketch_of({1.0});
  EXPECT_THROW(cs::parity::quantile(*one, 1.5), cs::user_error);
  EXPECT_THROW(cs::parity::quantile(*one, -0.1), cs::user_error);
  EXPECT_THROW(cs::parity::quantile(*one, std::nan("")), cs::user_error);
}

TEST(LagSketch, SizeIsBoundedBy4kB) {
  // every bucket from 1 ms to 30 days occupied, with counts summing to just under 2^30
  auto full = make_sketch();
  const uint64_t per_bin = ((uint64_t{1} << 30) - 1) / cs::parity::kBins - 3;
  for (int32_t i = cs::parity::kMinIndex; i <= cs::parity::kMaxIndex; ++i) {
    full->bins[i - cs::parity::kMinIndex] = per_bin;
    full->count += per_bin;
  }
  full->lo = cs::parity::kMinIndex;
  full->hi = cs::parity::kMaxIndex;
  full->min = 0.001;
  full->max = 2592000.0;
  // the worst case for varints: as many buckets as possible at 4 bytes, a few at 5
  full->bins[0] = uint64_t{1} << 28;
  full->count += full->bins[0] - per_bin;
  std::vector<uint8_t> bytes = cs::parity::encode(*full);
  EXPECT_LE(bytes.size(), cs::parity::kMaxEncodedSize);
  auto back = make_sketch();
  cs::parity::decode(bytes.data(), bytes.size(), *back);
  EXPECT_EQ(cs::parity::encode(*back), bytes);
  // a million values spread log-uniformly over the whole range
  auto spread = sketch_of(draw(
      1'000'000,
      [](std::mt19937_64& r) {
        return std::exp(std::uniform_real_distribution<>(std::log(0.001), std::log(2592000.0))(r));
      },
      5));
  EXPECT_EQ(spread->hi - spread->lo + 1, cs::parity::kBins);
  EXPECT_LE(cs::parity::encode(*spread).size(), cs::parity::kMaxEncodedSize);
  EXPECT_LE(sizeof(sketch), 9000u);  // the flat in-memory state
}

void expect_binary_rejected(const std::vector<uint8_t>& bytes) {
  auto s = make_sketch();
  try {
    cs::parity::decode(bytes.data(), bytes.size(), *s);
    ADD_FAILURE() << "accepted malformed binary of " << bytes.size() << " bytes";
  } catch (const cs::user_error& e) {
    EXPECT_STREQ(e.sqlstate(), "22P03");
  }
}

void expect_text_rejected(const std::string& text) {
  auto s = make_sketch();
  try {
    cs::parity::from_text(text, *s);
    ADD_FAILURE() << "accepted malformed text: " << text;
  } catch (const cs::user_error& e) {
    EXPECT_STREQ(e.sqlstate(), "22P02") << text;
  }
}

TEST(LagSketch, RejectsMalformedBinary) {
  auto s = sketch_of({0.0, 0.5, 2.0, 9.0, 0.0002, 4'000'000.0});
  std::vector<uint8_t> good = cs::parity::encode(*s);
  for (size_t len = 0; len < good.size(); ++len)
    expect_binary_rejected(std::vector<uint8_t>(good.begin(), good.begin() + len));
  auto with = [&](size_t at, uint8_t value) {
    auto b = good;
    b[at] = value;
    return b;
  };
  expect_binary_rejected(with(0, 2));  // unknown version
  expect_binary_rejected(with(0, 0));
  expect_binary_rejected(with(1, 0x01));  // unknown flag bit
  expect_binary_rejected(with(1, 0x80));
  expect_binary_rejected(with(2, 7));  // count != sum of buckets
  auto trailing = good;
  trailing.push_back(0);
  expect_binary_rejected(trailing);
  // non-minimal varint for count (6 -> 0x86 0x00)
  std::vector<uint8_t> overlong = {good[0], good[1], 0x86, 0x00};
  overlong.insert(overlong.end(), good.begin() + 3, good.end());
  expect_binary_rejected(overlong);
  // NaN min
  auto nan_min = good;
  for (int i = 0; i < 8; ++i) nan_min[6 + i] = 0xff;
  expect_binary_rejected(nan_min);
  // an empty sketch is just version, flags, four zero counters and span 0
  std::vector<uint8_t> empty = {1, 0, 0, 0, 0, 0, 0};
  auto e = make_sketch();
  cs::parity::decode(empty.data(), empty.size(), *e);
  EXPECT_EQ(e->count, 0u);
  expect_binary_rejected({1, 0, 0, 0, 0, 0, 0x80});              // span varint ends early
  expect_binary_rejected({1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0});  // count 1 without min/max
  // span wider than the bucket range
  expect_binary_rejected({1, 0, 0, 0, 0, 0, 0xff, 0x7f});
  // a 11-byte varint
  expect_binary_rejected({1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01});
  // random bytes never crash and are either rejected or re-encode identically
  std::mt19937_64 rng(42);
  for (int round = 0; round < 20000; ++round) {
    auto b = good;
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) b[rng() % b.size()] = static_cast<uint8_t>(rng());
    auto r = make_sketch();
    try {
      cs::parity::decode(b.data(), b.size(), *r);
      EXPECT_EQ(cs::parity::encode(*r), b);
    } catch (const cs::user_error& err) {
      EXPECT_STREQ(err.sqlstate(), "22P03");
    }
  }
}

TEST(LagSketch, RejectsMalformedText) {
  const std::string good = "v=1 count=3 zeros=1 under=0 over=0 min=0 max=2 bins=-34:1,35:1";
  auto s = make_sketch();
  cs::parity::from_text(good, *s);
  for (const std::string& bad : std::vector<std::string>{
           "",
           "   ",
           "garbage",
           "v=2 count=0 zeros=0 under=0 over=0 min=0 max=0 bins=",
           "v=1",
           "v=1 count=3",
           "v=1 count=3 zeros=1 under=0 over=0 min=0 max=2",
           "v=1 count=4 zeros=1 under=0 over=0 min=0 max=2 bins=-34:1,35:1",
           "v=1 count=3 zeros=1 under=0 over=0 min=0 max=2 bins=35:1,-34:1",
           "v=1 count=3 zeros=1 under=0 over=0 min=0 max=2 bins=-34:1,-34:1",
           "v=1 count=3 zeros=1 under=0 over=0 min=0 max=2 bins=-34:1,35:1,",
           "v=1 count=3 zeros=1 under=0 over=0 min=0 max=2 bins=-34:1,9999:1",
           "v=1 count=3 zeros=1 under=0 over=0 min=0 max=2 bins=-34:1,35:0,36:1",
           "v=1 count=3 zeros=1 under=0 over=0 min=0 max=2 bins=-34:1,35",
           "v=1 count=3 zeros=1 under=0 over=0 min=nan max=2 bins=-34:1,35:1",
           "v=1 count=3 zeros=1 under=0 over=0 min=0 max=inf bins=-34:1,35:1",
           "v=1 count=3 zeros=1 under=0 over=0 min=3 max=2 bins=-34:1,35:1",
           "v=1 count=3 zeros=1 under=0 over=0 min=-1 max=2 bins=-34:1,35:1",
           "v=1 count=-3 zeros=1 under=0 over=0 min=0 max=2 bins=-34:1,35:1",
           "v=1 count=3 zeros=1 under=0 over=0 max=2 min=0 bins=-34:1,35:1",
           "v=1 count=3 zeros=1 under=0 over=0 min=0 max=2 bins=-34:1,35:1 extra=1",
           "v=1 count=18446744073709551615 zeros=18446744073709551615 under=1 over=0 min=0 max=2 "
           "bins=",
           "v=1 count=0 zeros=0 under=0 over=0 min=1 max=2 bins=",
           "v=1 count=1 zeros=0 under=1 over=0 min=0 max=0.0005 bins=",
       })
    expect_text_rejected(bad);
  auto empty = make_sketch();
  cs::parity::from_text("v=1 count=0 zeros=0 under=0 over=0 min=0 max=0 bins=", *empty);
  EXPECT_EQ(empty->count, 0u);
}

}  // namespace
