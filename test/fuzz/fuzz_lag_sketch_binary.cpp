// libFuzzer target: the lag_sketch binary parser (storage, recv, aggregate deserialize)
// never crashes; whatever it accepts is canonical (re-encodes to the same bytes), prints
// to text that parses back, and merges without breaking its invariants.
// fuzz-sources: src/parity/lag_sketch.cpp
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "common/errors.hpp"
#include "parity/lag_sketch.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto s = std::make_unique<cs::parity::sketch>();
  try {
    cs::parity::decode(data, size, *s);
  } catch (const cs::user_error&) {
    return 0;  // rejected cleanly
  }
  std::vector<uint8_t> bytes = cs::parity::encode(*s);
  if (bytes != std::vector<uint8_t>(data, data + size)) std::abort();
  auto parsed = std::make_unique<cs::parity::sketch>();
  cs::parity::from_text(cs::parity::to_text(*s), *parsed);
  if (cs::parity::encode(*parsed) != bytes) std::abort();
  auto merged = std::make_unique<cs::parity::sketch>(*s);
  try {
    cs::parity::merge(*merged, *s);
  } catch (const cs::user_error&) {
    return 0;  // counter overflow is reported, not wrapped
  }
  if (merged->count != 2 * s->count) std::abort();
  if (s->count > 0) {
    double a = cs::parity::quantile(*s, 0.25), b = cs::parity::quantile(*s, 0.75);
    if (!(a <= b) || a < s->min || b > s->max) std::abort();
  }
  return 0;
}
