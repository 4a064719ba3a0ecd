// The allocation engine (design §Allocation): the worked examples, each rule, and the
// invariants over 10,000+ seeded random cases.
#include "allocation/allocator.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <random>
#include <vector>

#include "common/errors.hpp"

using namespace cs::allocation;

// Counts heap allocations, to show the per-SKU hot path makes none.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
static std::atomic<long> g_allocations{0};
void* operator new(std::size_t n) {
  ++g_allocations;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

namespace {

rule make_rule(int64_t buffer = 0, int32_t reserve_pct = 0, int32_t list_pct = 100,
               int64_t cap = kNoCap, int64_t cutoff = 0) {
  rule r;
  r.buffer = buffer;
  r.reserve_bp = reserve_pct * 100;
  r.list_bp = list_pct * 100;
  r.cap = cap;
  r.low_stock_cutoff = cutoff;
  return r;
}

channel_inputs worked_example(int64_t pool) {
  channel_inputs in(4);
  in[0].r = make_rule(0, 10);                 // storefront reserves 10 %
  in[1].r = make_rule(2);                     // amazon buffer 2
  in[2].r = make_rule(0, 0, 100, 20);         // walmart cap 20
  in[3].r = make_rule(0, 0, 100, kNoCap, 5);  // etsy low-stock cut-off 5
  for (auto& c : in) c.pool = pool;
  return in;
}

std::vector<int64_t> ats_of(const channel_results& out) {
  std::vector<int64_t> v;
  for (const auto& r : out) v.push_back(r.ats);
  return v;
}

}  // namespace

TEST(Allocation, WorkedExamplePool100) {
  auto out = allocate(worked_example(100));
  EXPECT_EQ(ats_of(out), (std::vector<int64_t>{100, 88, 20, 90}));
  EXPECT_EQ(out[0].limited_by, limit::pool);
  EXPECT_EQ(out[1].limited_by, limit::holdback);
  EXPECT_EQ(out[1].holdback, 10);
  EXPECT_EQ(out[1].buffer, 2);
  EXPECT_EQ(out[2].limited_by, limit::cap);
  EXPECT_EQ(out[3].limited_by, limit::holdback);
  EXPECT_EQ(out[0].holdback, 0);  // a channel's own reserve is not held back from it
}

TEST(Allocation, WorkedExamplePool4) {
  auto out = allocate(worked_example(4));
  EXPECT_EQ(ats_of(out), (std::vector<int64_t>{4, 2, 4, 0}));
  EXPECT_EQ(out[1].limited_by, limit::buffer);
  EXPECT_EQ(out[3].limited_by, limit::low_stock_cutoff);
}

TEST(Allocation, ListPctRoundsDown) {
  channel_inputs in(1);
  in[0].r = make_rule(0, 0, 50);
  in[0].pool = 7;
  auto out = allocate(in);
  EXPECT_EQ(out[0].ats, 3);
  EXPECT_EQ(out[0].limited_by, limit::list_pct);
  in[0].r.list_bp = 3333;  // 33.33 %
  in[0].pool = 100;
  EXPECT_EQ(allocate(in)[0].ats, 33);
}

TEST(Allocation, CapBindsOnlyBelowTheRest) {
  channel_inputs in(1);
  in[0].r = make_rule(0, 0, 100, 50);
  in[0].pool = 40;
  auto out = allocate(in);
  EXPECT_EQ(out[0].ats, 40);
  EXPECT_EQ(out[0].limited_by, limit::pool);
  in[0].r.cap = 0;
  out = allocate(in);
  EXPECT_EQ(out[0].ats, 0);
  EXPECT_EQ(out[0].limited_by, limit::cap);
}

TEST(Allocation, LowStockCutoffIsStrictlyBelow) {
  channel_inputs in(1);
  in[0].r = make_rule(0, 0, 100, kNoCap, 5);
  in[0].pool = 5;
  EXPECT_EQ(allocate(in)[0].ats, 5);
  in[0].pool = 4;
  EXPECT_EQ(allocate(in)[0].ats, 0);
}

TEST(Allocation, BufferNeverGoesNegative) {
  channel_inputs in(1);
  in[0].r = make_rule(10);
  in[0].pool = 3;
  auto out = allocate(in);
  EXPECT_EQ(out[0].ats, 0);
  EXPECT_EQ(out[0].limited_by, limit::buffer);
}

TEST(Allocation, InactiveChannelListsNothingAndHoldsNothingBack) {
  channel_inputs in(2);
  in[0].r = make_rule(0, 50);
  in[0].active = false;
  in[0].pool = in[1].pool = 10;
  auto out = allocate(in);
  EXPECT_EQ(out[0].ats, 0);
  EXPECT_EQ(out[0].limited_by, limit::inactive);
  EXPECT_EQ(out[1].ats, 10);
  EXPECT_EQ(out[1].holdback, 0);
}

TEST(Allocation, NoLocationsMeansNoPool) {
  channel_inputs in(1);
  in[0].has_locations = false;
  in[0].pool = 10;
  auto out = allocate(in);
  EXPECT_EQ(out[0].ats, 0);
  EXPECT_EQ(out[0].pool, 0);
  EXPECT_EQ(out[0].limited_by, limit::no_locations);
}

TEST(Allocation, HoldbacksOfSeveralChannelsAreRoundedDownOnce) {
  // two 50 % reserves: a third channel keeps floor(0 %) of what is left — and more
  // stock never lowers it (rounding each share separately would give 1 then 0)
  channel_inputs in(3);
  in[0].r = make_rule(0, 50);
  in[1].r = make_rule(0, 50);
  for (auto& c : in) c.pool = 1;
  auto one = allocate(in);
  for (auto& c : in) c.pool = 2;
  auto two = allocate(in);
  EXPECT_EQ(one[2].ats, 0);
  EXPECT_EQ(two[2].ats, 0);
  EXPECT_EQ(one[0].ats, 1);  // 1 - floor(0.5) = 1
  EXPECT_EQ(two[0].ats, 1);  // 2 - 1 = 1
  // 25 % + 25 % of 3 units = 1.5 -> 1 held back from the third channel
  in[0].r.reserve_bp = in[1].r.reserve_bp = 2500;
  for (auto& c : in) c.pool = 3;
  EXPECT_EQ(allocate(in)[2].holdback, 1);
}

TEST(Allocation, HoldbackNeverExceedsThePoolWithDifferentLocations) {
  channel_inputs in(2);
  in[0].r = make_rule(0, 100);
  in[0].pool = 1000;  // the storefront's locations hold far more
  in[1].pool = 5;
  auto out = allocate(in);
  EXPECT_EQ(out[1].holdback, 5);
  EXPECT_EQ(out[1].ats, 0);
}

TEST(Allocation, DynamicBuffer) {
  rule r = make_rule(2);
  r.dynamic_buffer = true;
  r.velocity_per_hour = 10;
  r.lag_p95_hours = 0.25;  // 15 min -> 2.5 units -> 3
  EXPECT_EQ(effective_buffer(r), 3);
  r.lag_p95_hours = 0.05;  // 3 min: 0.5 -> 1, static 2 wins
  EXPECT_EQ(effective_buffer(r), 2);
  r.velocity_per_hour = 1;
  r.lag_p95_hours = 3;  // an exact product stays exact
  r.buffer = 0;
  EXPECT_EQ(effective_buffer(r), 3);
  r.velocity_per_hour = 0.1;
  r.lag_p95_hours = 30;  // 3.0000000000000004 in doubles
  EXPECT_EQ(effective_buffer(r), 3);
  r.dynamic_buffer = false;
  EXPECT_EQ(effective_buffer(r), 0);
  channel_inputs in(1);
  in[0].r = make_rule(0);
  in[0].r.dynamic_buffer = true;
  in[0].r.velocity_per_hour = 4;
  in[0].r.lag_p95_hours = 1;
  in[0].pool = 10;
  auto out = allocate(in);
  EXPECT_EQ(out[0].buffer, 4);
  EXPECT_EQ(out[0].ats, 6);
  EXPECT_EQ(out[0].limited_by, limit::buffer);
}

TEST(Allocation, BundlePool) {
  component_pool comps[] = {{10, 2}, {7, 1}, {9, 3}};
  EXPECT_EQ(bundle_pool(comps, 3), 3);
  component_pool empty_one[] = {{0, 1}, {100, 1}};
  EXPECT_EQ(bundle_pool(empty_one, 2), 0);
  EXPECT_EQ(bundle_pool(nullptr, 0), 0);
}

TEST(Allocation, LimitNames) {
  EXPECT_STREQ(limit_name(limit::pool), "pool");
  EXPECT_STREQ(limit_name(limit::low_stock_cutoff), "low_stock_cutoff");
  EXPECT_STREQ(limit_name(limit::no_locations), "no_locations");
}

TEST(Allocation, ValidationRejectsOutOfRange) {
  rule r;
  r.buffer = -1;
  EXPECT_THROW(validate_rule(r, "x"), cs::user_error);
  r = rule();
  r.reserve_bp = 10001;
  EXPECT_THROW(validate_rule(r, "x"), cs::user_error);
  r = rule();
  r.cap = -2;
  EXPECT_THROW(validate_rule(r, "x"), cs::user_error);
  r = rule();
  r.lag_p95_hours = -1;
  EXPECT_THROW(validate_rule(r, "x"), cs::user_error);
  channel_inputs in(2);
  in[0].r.reserve_bp = 6000;
  in[1].r.reserve_bp = 5000;
  try {
    validate_reserves(in.data(), in.size());
    FAIL() << "reserves over 100 % accepted";
  } catch (const cs::user_error& e) {
    EXPECT_STREQ(e.sqlstate(), "22023");
    EXPECT_STREQ(e.what(), "reserve_pct of all channels sums to 110.00, more than 100");
  }
}

TEST(Allocation, HotPathDoesNotAllocate) {
  channel_inputs in = worked_example(100);
  channel_results out(in.size());
  long before = g_allocations.load();
  for (int k = 0; k < 1000; ++k) allocate(in.data(), in.size(), out.data());
  channel_inputs copy(in);  // small_vector: inline storage for up to 8 channels
  EXPECT_EQ(g_allocations.load(), before);
  (void)copy;
}

namespace {

// A random valid channel set of 1..8 channels whose reserves sum to at most 100 %.
channel_inputs random_channels(std::mt19937_64& rng, bool shared_pool) {
  std::uniform_int_distribution<int> n_dist(1, 8), pct(0, 10000), small(0, 20), coin(0, 3);
  int n = n_dist(rng);
  channel_inputs in(static_cast<size_t>(n));
  int64_t reserve_left = kFullPct;
  int64_t pool = std::uniform_int_distribution<int64_t>(0, 500)(rng);
  for (auto& c : in) {
    c.r.buffer = small(rng);
    if (coin(rng) == 0) {
      c.r.reserve_bp =
          static_cast<int32_t>(std::uniform_int_distribution<int64_t>(0, reserve_left)(rng));
      reserve_left -= c.r.reserve_bp;
    }
    c.r.list_bp = coin(rng) == 0 ? pct(rng) : kFullPct;
    c.r.cap = coin(rng) == 0 ? small(rng) * 5 : kNoCap;
    c.r.low_stock_cutoff = coin(rng) == 0 ? small(rng) : 0;
    c.r.dynamic_buffer = coin(rng) == 0;
    c.r.velocity_per_hour = std::uniform_real_distribution<double>(0, 20)(rng);
    c.r.lag_p95_hours = std::uniform_real_distribution<double>(0, 1)(rng);
    c.active = coin(rng) != 0;
    c.has_locations = shared_pool || coin(rng) != 0;
    c.pool = shared_pool ? pool : std::uniform_int_distribution<int64_t>(0, 500)(rng);
  }
  return in;
}

// 0 <= ATS <= min(pool, cap), holdback <= pool, and zero where a rule says zero.
void check_bounds(const channel_inputs& in, const channel_results& out) {
  for (size_t c = 0; c < in.size(); ++c) {
    const auto& r = out[c];
    ASSERT_GE(r.ats, 0);
    ASSERT_LE(r.ats, r.pool);
    if (in[c].r.cap != kNoCap) {
      ASSERT_LE(r.ats, in[c].r.cap);
    }
    ASSERT_GE(r.holdback, 0);
    ASSERT_LE(r.holdback, r.pool);
    if (!in[c].active || !in[c].has_locations) {
      ASSERT_EQ(r.ats, 0);
    }
    if (r.pool < in[c].r.low_stock_cutoff) {
      ASSERT_EQ(r.ats, 0);
    }
    ASSERT_EQ(r.ats,
              0 + std::min<int64_t>(r.ats, std::max<int64_t>(0, r.pool - r.buffer - r.holdback)));
  }
}

}  // namespace

TEST(AllocationProperties, BoundsAndDeterminismOver20000Cases) {
  std::mt19937_64 rng(20240601);
  for (int k = 0; k < 20000; ++k) {
    channel_inputs in = random_channels(rng, k % 2 == 0);
    for (const auto& c : in) validate_rule(c.r, "random");
    validate_reserves(in.data(), in.size());
    channel_results a = allocate(in), b = allocate(in);
    check_bounds(in, a);
    for (size_t c = 0; c < in.size(); ++c) {
      ASSERT_EQ(a[c].ats, b[c].ats);
      ASSERT_EQ(a[c].limited_by, b[c].limited_by);
    }
  }
}

TEST(AllocationProperties, MonotoneInStockWhereLocationsAreShared) {
  std::mt19937_64 rng(7);
  for (int k = 0; k < 12000; ++k) {
    channel_inputs in = random_channels(rng, true);
    channel_results before = allocate(in);
    int64_t more = std::uniform_int_distribution<int64_t>(1, 50)(rng);
    for (auto& c : in) c.pool += more;
    channel_results after = allocate(in);
    for (size_t c = 0; c < in.size(); ++c)
      ASSERT_GE(after[c].ats, before[c].ats)
          << "case " << k << " channel " << c << " pool +" << more;
    // and step by step, one unit at a time
    for (auto& c : in) c.pool -= more;
    channel_results prev = before;
    for (int64_t step = 1; step <= 3; ++step) {
      for (auto& c : in) c.pool += 1;
      channel_results next = allocate(in);
      for (size_t c = 0; c < in.size(); ++c) ASSERT_GE(next[c].ats, prev[c].ats) << "case " << k;
      prev = next;
    }
  }
}

TEST(AllocationProperties, BundlePoolIsMonotoneAndBounded) {
  std::mt19937_64 rng(99);
  for (int k = 0; k < 10000; ++k) {
    std::vector<component_pool> comps(std::uniform_int_distribution<size_t>(1, 5)(rng));
    for (auto& c : comps) {
      c.pool = std::uniform_int_distribution<int64_t>(0, 300)(rng);
      c.qty_per = std::uniform_int_distribution<int64_t>(1, 4)(rng);
    }
    int64_t p = bundle_pool(comps.data(), comps.size());
    for (const auto& c : comps) ASSERT_LE(p * c.qty_per, c.pool);
    comps[0].pool += 7;
    ASSERT_GE(bundle_pool(comps.data(), comps.size()), p);
  }
}
