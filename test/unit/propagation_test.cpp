// Unit tests of the pure propagation core: drift detection and retry backoff.
#include <gtest/gtest.h>

#include "propagation/drift.hpp"

using namespace cs::propagation;

TEST(SameDecimal, EqualNumbersInDifferentSpellings) {
  EXPECT_TRUE(same_decimal("12.5", "12.50"));
  EXPECT_TRUE(same_decimal("3", "3.00"));
  EXPECT_TRUE(same_decimal("0", "0.00"));
  EXPECT_TRUE(same_decimal("-0.0", "0"));
  EXPECT_TRUE(same_decimal("007.10", "7.1"));
  EXPECT_FALSE(same_decimal("12.5", "12.05"));
  EXPECT_FALSE(same_decimal("-1", "1"));
  EXPECT_FALSE(same_decimal("10", "1"));
}

TEST(FindDrift, NoDriftWhenListingsMatchAndAreAcked) {
  std::vector<expected_target> t = {{"amazon", "TEE", 5, "20.00", false}};
  std::vector<listing_state> l = {{"amazon", "TEE", 5, "20", false, 3, true, 3}};
  EXPECT_TRUE(find_drift(t, l, {}).empty());
}

TEST(FindDrift, ReportsQtyPriceAndMissingListing) {
  std::vector<expected_target> t = {{"amazon", "TEE", 5, "20.00", false},
                                    {"amazon", "CAP", 1, "9.00", false},
                                    {"shop", "TEE", 5, "", true}};
  std::vector<listing_state> l = {{"amazon", "TEE", 7, "20.00", false, 3, true, 3},
                                  {"shop", "TEE", 5, "1.00", false, 1, true, 1}};
  auto f = find_drift(t, l, {});
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[0].sku, "CAP");
  EXPECT_EQ(f[0].found, "no listing");
  EXPECT_EQ(f[1].expected, "qty 5, price 20.00");
  EXPECT_EQ(f[1].found, "qty 7, price 20.00");
  EXPECT_EQ(f[2].expected, "qty 5, price null");
  EXPECT_EQ(f[2].found, "qty 5, price 1.00");
}

TEST(FindDrift, UnackedVersionNeedsAMessageOfThatVersion) {
  std::vector<listing_state> l = {{"amazon", "A", 1, "1", false, 4, true, 3},
                                  {"amazon", "B", 1, "1", false, 4, false, 0},
                                  {"amazon", "C", 1, "1", false, 4, true, 2},
                                  {"amazon", "D", 1, "1", false, 4, true, 4}};
  std::vector<message_state> m = {{"amazon", "A", 4}, {"amazon", "C", 3}};
  auto f = find_drift({}, l, m);
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].check_name, "message_missing");
  EXPECT_EQ(f[0].sku, "B");
  EXPECT_EQ(f[0].found, "no message");
  EXPECT_EQ(f[1].sku, "C");
  EXPECT_EQ(f[1].expected, "version 4");
  EXPECT_EQ(f[1].found, "version 3");
}

TEST(Backoff, DoublesFromBaseUpToCap) {
  EXPECT_EQ(backoff_ms(0, 1000, 60000), 0);
  EXPECT_EQ(backoff_ms(1, 1000, 60000), 1000);
  EXPECT_EQ(backoff_ms(2, 1000, 60000), 2000);
  EXPECT_EQ(backoff_ms(4, 1000, 60000), 8000);
  EXPECT_EQ(backoff_ms(7, 1000, 60000), 60000);
  EXPECT_EQ(backoff_ms(1000, 1000, 60000), 60000);
}
