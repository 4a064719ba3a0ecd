// libFuzzer target: an inbound event's payload, as any bytes, never crashes the parser; an
// accepted event keeps the documented bounds (ids 1-255 characters, at most kMaxLines lines,
// positive quantities), a rejected one says why, and dropping the trailing fractional zeros of
// its numbers (what the fingerprint hashes) neither changes whether it is accepted nor changes
// a second time. The first byte picks the event type.
// fuzz-sources: src/ingest/event.cpp src/ingest/json.cpp src/ingest/fingerprint.cpp
// fuzz-libs: -lxxhash
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "ingest/event.hpp"
#include "ingest/fingerprint.hpp"
#include "ingest/json.hpp"

namespace ig = cs::ingest;

namespace {

const char* const kTypes[] = {"order_placed",    "order_cancelled", "order_shipped",
                              "return_received", "stock_adjusted",  "stock_counted",
                              "listing_observed"};

void check_id(const std::string& id, bool may_be_empty) {
  if (id.size() > 4 * ig::kMaxIdLength) std::abort();  // 255 characters of up to 4 bytes
  if (id.empty() && !may_be_empty) std::abort();
}

void check_event(const ig::event& ev) {
  if (ev.lines.size() > ig::kMaxLines) std::abort();
  for (const ig::event_line& l : ev.lines) {
    check_id(l.item.id, false);
    check_id(l.location_id, true);
    if (l.qty <= 0) std::abort();
  }
  check_id(ev.order_id, true);
  check_id(ev.item.id, true);
  check_id(ev.location_id, true);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const char* type = kTypes[data[0] % (sizeof kTypes / sizeof kTypes[0])];
  std::string_view payload(reinterpret_cast<const char*>(data + 1), size - 1);
  ig::parse_outcome first = ig::parse_event(type, payload);
  if (first.ok)
    check_event(*first.ok);
  else if (first.reason.empty())
    std::abort();
  std::string error;
  if (!ig::parse_json(payload, error)) return 0;
  std::string trimmed = ig::without_trailing_zeros(payload);
  if (ig::without_trailing_zeros(trimmed) != trimmed) std::abort();
  ig::parse_outcome second = ig::parse_event(type, trimmed);
  if (first.ok.has_value() != second.ok.has_value()) std::abort();
  return 0;
}
