// The C/C++ boundary. Two rules, one helper each:
//  1. C++ exceptions never cross into PostgreSQL: every SQL-callable function is made
//     with CS_FUNCTION, whose body runs inside try/catch; the error is copied into
//     fixed buffers, the catch block is left, and only then is ereport(ERROR) called.
//  2. PostgreSQL's longjmp never unwinds C++ frames that own resources: C++ code calls
//     PostgreSQL only through cs::pg::guard(), which catches the longjmp in a frame
//     with no destructors and rethrows it as cs::pg::pg_error; CS_FUNCTION re-raises
//     the original error unchanged (same SQLSTATE, message, detail, context).
// A guard lambda must not itself create objects with destructors: it is the frame a
// longjmp may cross.
#pragma once

#include "common/pg_headers.hpp"

#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <type_traits>

#include "common/errors.hpp"

namespace cs::pg {

// A PostgreSQL error caught by guard(), carried through C++ frames as an exception.
class pg_error : public std::exception {
 public:
  explicit pg_error(ErrorData* data) : data_(data) {}
  const char* what() const noexcept override {
    return data_ != nullptr && data_->message != nullptr ? data_->message : "postgres error";
  }
  ErrorData* data() const noexcept { return data_; }

 private:
  ErrorData* data_;
};

// Runs fn, which calls PostgreSQL; an ereport(ERROR) inside it becomes a pg_error.
template <typename Fn>
auto guard(Fn&& fn) -> decltype(fn()) {
  using Result = decltype(fn());
  MemoryContext caller_context = CurrentMemoryContext;
  ErrorData* volatile error = nullptr;
  if constexpr (std::is_void_v<Result>) {
    // clang-format off
    PG_TRY();
    { fn(); }
    PG_CATCH();
    {
      MemoryContextSwitchTo(caller_context);
      error = CopyErrorData();
      FlushErrorState();
    }
    PG_END_TRY();
    // clang-format on
    if (error != nullptr) throw pg_error(error);
  } else {
    static_assert(std::is_scalar_v<Result>,
                  "guard() returns plain values only (Datum, pointers, numbers)");
    volatile Result result{};
    // clang-format off
    PG_TRY();
    { result = fn(); }
    PG_CATCH();
    {
      MemoryContextSwitchTo(caller_context);
      error = CopyErrorData();
      FlushErrorState();
    }
    PG_END_TRY();
    // clang-format on
    if (error != nullptr) throw pg_error(error);
    return result;
  }
}

// Copies src into a fixed buffer, truncating; never allocates, never throws.
template <size_t N>
inline void copy_truncated(char (&dst)[N], const char* src) {
  size_t n = src == nullptr ? 0 : std::strlen(src);
  if (n >= N) n = N - 1;
  if (n > 0) std::memcpy(dst, src, n);
  dst[n] = '\0';
}

// What a caught C++ exception becomes once the catch block is left. The buffers are not
// zero-filled (only terminated): this object is built on every call of every CS_FUNCTION,
// and clearing 2.5 kB per call cost ~60 ns per row in aggregate transition functions.
struct pending_error {
  ErrorData* postgres = nullptr;
  char sqlstate[6] = "XX000";
  char message[1024];
  char detail[1024];
  char hint[512];
  pending_error() { message[0] = detail[0] = hint[0] = '\0'; }
};

// Raises the pending error; must be called outside any catch block.
[[noreturn]] inline void raise(const pending_error& e) {
  if (e.postgres != nullptr) ReThrowError(e.postgres);
  const char* s = e.sqlstate;
  ereport(ERROR, (errcode(MAKE_SQLSTATE(s[0], s[1], s[2], s[3], s[4])), errmsg("%s", e.message),
                  e.detail[0] != '\0' ? errdetail("%s", e.detail) : 0,
                  e.hint[0] != '\0' ? errhint("%s", e.hint) : 0));
  pg_unreachable();
}

// Runs a C++ function body for PostgreSQL: nothing thrown escapes as a C++ exception.
inline Datum call_cpp(Datum (*body)(FunctionCallInfo), FunctionCallInfo fcinfo) {
  pending_error failure;
  try {
    return body(fcinfo);
  } catch (const pg_error& e) {
    failure.postgres = e.data();
  } catch (const cs::user_error& e) {
    copy_truncated(failure.sqlstate, e.sqlstate());
    copy_truncated(failure.message, e.what());
    copy_truncated(failure.detail, e.detail().c_str());
    copy_truncated(failure.hint, e.hint().c_str());
  } catch (const std::bad_alloc&) {
    copy_truncated(failure.sqlstate, cs::sqlstate::kOutOfMemory);
    copy_truncated(failure.message, "out of memory");
  } catch (const std::exception& e) {
    copy_truncated(failure.message, "internal error in channel_sync");
    copy_truncated(failure.detail, e.what());
  } catch (...) {
    copy_truncated(failure.message, "internal error in channel_sync");
    copy_truncated(failure.detail, "An unknown C++ exception was caught.");
  }
  raise(failure);
}

// Copies a text Datum into a std::string (detoasting through the guard).
inline std::string text_to_string(Datum value) {
  text* t = guard([&] { return DatumGetTextPP(value); });
  return std::string(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

// A palloc'd text from a std::string (through the guard).
inline text* string_to_text(const std::string& s) {
  const char* data = s.data();
  int len = static_cast<int>(s.size());
  return guard([&] { return cstring_to_text_with_len(data, len); });
}

}  // namespace cs::pg

// Declares a SQL-callable C function `name` whose C++ body follows the macro:
//   CS_FUNCTION(my_func) { ... return Datum; }
#define CS_FUNCTION(name)                            \
  extern "C" {                                       \
  PG_FUNCTION_INFO_V1(name);                         \
  }                                                  \
  static Datum name##_body(FunctionCallInfo fcinfo); \
  extern "C" Datum name(PG_FUNCTION_ARGS) {          \
    return cs::pg::call_cpp(name##_body, fcinfo);    \
  }                                                  \
  static Datum name##_body(FunctionCallInfo fcinfo)
