// The 128-bit fingerprint of an inbound event: XXH3-128 over event_type, the canonical
// payload text (jsonb's output: keys sorted, whitespace normalized; the caller drops the
// trailing fractional zeros of its numbers, without_trailing_zeros) and occurred_at in
// microseconds, each part length-prefixed so no two inputs share a byte stream.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace cs::ingest {

// A fingerprint as the 16 bytes of a uuid (big-endian high half, then low half).
using fingerprint = std::array<uint8_t, 16>;

// occurred_at value used when the event came without one.
inline constexpr int64_t kNoTimestamp = INT64_MIN;

// Fingerprints event_type, canonical payload text and occurred_at (microseconds).
fingerprint event_fingerprint(std::string_view event_type, std::string_view canonical_payload,
                              int64_t occurred_at_us);

// The canonical payload text with the trailing fractional zeros of every number dropped
// (19.90 -> 19.9, 2.0 -> 2; strings untouched): jsonb keeps the scale a number came with, and
// one value written two ways is the same content.
std::string without_trailing_zeros(std::string_view canonical_payload);

// 128-bit hash of arbitrary bytes (used to name events whose key is unusable).
fingerprint hash_bytes(std::string_view bytes);

// The canonical uuid text of a fingerprint (8-4-4-4-12 lower-case hex).
std::string to_uuid_text(const fingerprint& f);

}  // namespace cs::ingest
