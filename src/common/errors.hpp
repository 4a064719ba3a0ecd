// Errors the pure C++ core raises. Pure code throws cs::user_error with a SQLSTATE;
// the boundary (src/common/boundary.hpp) turns it into ereport(ERROR) after leaving
// the catch block. This header includes no PostgreSQL header.
#pragma once

#include <stdexcept>
#include <string>

namespace cs {

// A few SQLSTATEs used across the core (PostgreSQL's errcodes.txt).
namespace sqlstate {
inline constexpr char kInvalidParameterValue[] = "22023";
inline constexpr char kNullValueNotAllowed[] = "22004";
inline constexpr char kArraySubscriptError[] = "2202E";
inline constexpr char kNumericValueOutOfRange[] = "22003";
inline constexpr char kInvalidTextRepresentation[] = "22P02";
inline constexpr char kInvalidBinaryRepresentation[] = "22P03";
inline constexpr char kStringDataRightTruncation[] = "22001";
inline constexpr char kCheckViolation[] = "23514";
inline constexpr char kNoDataFound[] = "P0002";
inline constexpr char kInsufficientPrivilege[] = "42501";
inline constexpr char kUndefinedObject[] = "42704";
inline constexpr char kDataCorrupted[] = "XX001";
inline constexpr char kInternalError[] = "XX000";
inline constexpr char kOutOfMemory[] = "53200";
}  // namespace sqlstate

// An error meant for the user: a SQLSTATE, a primary message in PostgreSQL's style
// (lower case, no final period) and optional detail and hint sentences.
class user_error : public std::runtime_error {
 public:
  user_error(const char* sqlstate, std::string message, std::string detail = {},
             std::string hint = {})
      : std::runtime_error(std::move(message)), detail_(std::move(detail)), hint_(std::move(hint)) {
    for (int i = 0; i < 5; ++i) sqlstate_[i] = sqlstate[i];
    sqlstate_[5] = '\0';
  }
  const char* sqlstate() const noexcept { return sqlstate_; }
  const std::string& detail() const noexcept { return detail_; }
  const std::string& hint() const noexcept { return hint_; }

 private:
  char sqlstate_[6];
  std::string detail_;
  std::string hint_;
};

}  // namespace cs
