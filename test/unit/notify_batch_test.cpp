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

TEST(ChooseSlot, OwnSlotFirstThenAFreeOne) {
  slot_state slots[3] = {{7, true, 0, 0}, {0, false, 0, 0}, {9, true, 2, 0}};
  EXPECT_EQ(choose_slot(slots, 3, 9, 1000, 5000), 2);
  EXPECT_EQ(choose_slot(slots, 3, 11, 1000, 5000), 1);
}

TEST(ChooseSlot, TakesASlotWhoseWorkerNeverStarted) {
  // 5: registered at 0, never started, nothing counts on it; 6: the same, but launched recently
  slot_state slots[3] = {{4, true, 0, 0}, {5, false, 0, 100}, {6, false, 0, 9000}};
  EXPECT_EQ(choose_slot(slots, 3, 8, 10000, 5000), 1);
  EXPECT_EQ(choose_slot(slots, 3, 8, 5000, 5000), -1);  // not abandoned yet
}

TEST(ChooseSlot, KeepsASlotThatIsServedOrCountedOn) {
  slot_state served[1] = {{5, true, 0, 100}};
  slot_state counted[1] = {{5, false, 1, 100}};
  slot_state idle_unlaunched[1] = {{5, false, 0, 0}};
  EXPECT_EQ(choose_slot(served, 1, 8, 100000, 5000), -1);
  EXPECT_EQ(choose_slot(counted, 1, 8, 100000, 5000), -1);
  EXPECT_EQ(choose_slot(idle_unlaunched, 1, 8, 100000, 5000), -1);
}
