// libFuzzer target: the lag_sketch text parser never crashes, and whatever it accepts
// prints back to the same text and survives the binary form unchanged.
// fuzz-sources: src/parity/lag_sketch.cpp
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/errors.hpp"
#include "parity/lag_sketch.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto s = std::make_unique<cs::parity::sketch>();
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    cs::parity::from_text(text, *s);
  } catch (const cs::user_error&) {
    return 0;  // rejected cleanly
  }
  std::string printed = cs::parity::to_text(*s);
  auto again = std::make_unique<cs::parity::sketch>();
  cs::parity::from_text(printed, *again);  // must not throw
  if (cs::parity::to_text(*again) != printed) std::abort();
  std::vector<uint8_t> bytes = cs::parity::encode(*s);
  auto decoded = std::make_unique<cs::parity::sketch>();
  cs::parity::decode(bytes.data(), bytes.size(), *decoded);
  if (cs::parity::to_text(*decoded) != printed) std::abort();
  if (s->count > 0) {
    double lo = cs::parity::quantile(*s, 0.0), mid = cs::parity::quantile(*s, 0.5),
           hi = cs::parity::quantile(*s, 1.0);
    if (!(lo <= mid && mid <= hi)) std::abort();
  }
  return 0;
}
