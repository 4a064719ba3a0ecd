// Unit tests of the batched notifier's channel set and pacing (pure core).
#include <gtest/gtest.h>

#include <string>

#include "propagation/notify_batch.hpp"

using namespace cs::propagation;

namespace {
pending_channels empty_set() {
  pending_channels s;
  clear(s);
  return s;
}
}  // namespace

TEST(PendingChannels, KeepsEachChannelOnce) {
  pending_channels s = empty_set();
  EXPECT_TRUE(is_empty(s));
  add_channel(s, "amazon");
  add_channel(s, "shop");
  add_channel(s, "amazon");
  EXPECT_FALSE(is_empty(s));
  ASSERT_EQ(s.count, 2);
  EXPECT_STREQ(s.names[0], "amazon");
  EXPECT_STREQ(s.names[1], "shop");
  EXPECT_TRUE(contains(s, "shop"));
  EXPECT_FALSE(contains(s, "ebay"));
  EXPECT_FALSE(s.every_channel);
  clear(s);
  EXPECT_TRUE(is_empty(s));
  EXPECT_FALSE(contains(s, "amazon"));
}

TEST(PendingChannels, OverflowWakesEveryChannel) {
  pending_channels s = empty_set();
  for (int k = 0; k < kPendingChannelsMax; ++k) add_channel(s, ("c" + std::to_string(k)).c_str());
  EXPECT_FALSE(s.every_channel);
  add_channel(s, "c0");  // already there: still listed
  EXPECT_FALSE(s.every_channel);
  add_channel(s, "one_more");
  EXPECT_TRUE(s.every_channel);
  EXPECT_FALSE(is_empty(s));
}

TEST(PendingChannels, NameTooLongWakesEveryChannel) {
  pending_channels s = empty_set();
  add_channel(s, std::string(kChannelIdMax - 1, 'a').c_str());
  EXPECT_FALSE(s.every_channel);
  EXPECT_EQ(s.count, 1);
  add_channel(s, std::string(kChannelIdMax, 'b').c_str());
  EXPECT_TRUE(s.every_channel);
}

TEST(PendingChannels, MergeUnitesAndCarriesOverflow) {
  pending_channels a = empty_set(), b = empty_set();
  add_channel(a, "shop");
  add_channel(b, "shop");
  add_channel(b, "etsy");
  merge(a, b);
  ASSERT_EQ(a.count, 2);
  EXPECT_TRUE(contains(a, "etsy"));
  b.every_channel = true;
  merge(a, b);
  EXPECT_TRUE(a.every_channel);
}

TEST(FlushDelay, FirstChangeAfterQuietGoesAtOnce) {
  EXPECT_EQ(flush_delay_us(1'000'000, 0, 10'000), 0);
  EXPECT_EQ(flush_delay_us(1'000'000, 900'000, 10'000), 0);
  EXPECT_EQ(flush_delay_us(1'000'000, 990'000, 10'000), 0);
}

TEST(FlushDelay, WaitsOutTheIntervalSinceTheLastNotify) {
  EXPECT_EQ(flush_delay_us(1'000'000, 996'000, 10'000), 6'000);
  EXPECT_EQ(flush_delay_us(1'000'000, 1'000'000, 10'000), 10'000);
  EXPECT_EQ(flush_delay_us(1'000'000, 1'005'000, 10'000), 10'000);  // clock went back
}

TEST(FlushDelay, ZeroIntervalNeverWaits) {
  EXPECT_EQ(flush_delay_us(1'000'000, 999'999, 0), 0);
  EXPECT_EQ(flush_delay_us(1'000'000, 1'000'000, 0), 0);
}
