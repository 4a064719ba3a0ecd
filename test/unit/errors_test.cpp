// The pure error type carries what the boundary needs: SQLSTATE, message, detail, hint.
#include "common/errors.hpp"

#include <gtest/gtest.h>

TEST(UserError, KeepsSqlstateMessageDetailAndHint) {
  cs::user_error e(cs::sqlstate::kInvalidParameterValue, "bad thing \"x\"", "Detail.", "Hint.");
  EXPECT_STREQ(e.sqlstate(), "22023");
  EXPECT_STREQ(e.what(), "bad thing \"x\"");
  EXPECT_EQ(e.detail(), "Detail.");
  EXPECT_EQ(e.hint(), "Hint.");
}

TEST(UserError, IsAStdException) {
  try {
    throw cs::user_error(cs::sqlstate::kCheckViolation, "refused");
  } catch (const std::exception& e) {
    EXPECT_STREQ(e.what(), "refused");
    return;
  }
  FAIL() << "cs::user_error was not caught as std::exception";
}
