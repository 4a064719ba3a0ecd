// Event fingerprints with xxHash's XXH3-128 (Debian libxxhash-dev).
#include "ingest/fingerprint.hpp"

#define XXH_STATIC_LINKING_ONLY  // XXH3_state_t on the stack; header and library ship together
#include <xxhash.h>

namespace cs::ingest {

namespace {

// Feeds a length-prefixed part into the running hash.
void feed(XXH3_state_t* state, std::string_view part) {
  uint64_t n = part.size();
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(n >> (8 * i));
  XXH3_128bits_update(state, len, sizeof len);
  XXH3_128bits_update(state, part.data(), part.size());
}

fingerprint to_bytes(XXH128_hash_t h) {
  fingerprint f{};
  for (int i = 0; i < 8; ++i) {
    f[i] = static_cast<uint8_t>(h.high64 >> (56 - 8 * i));
    f[8 + i] = static_cast<uint8_t>(h.low64 >> (56 - 8 * i));
  }
  return f;
}

}  // namespace

fingerprint event_fingerprint(std::string_view event_type, std::string_view canonical_payload,
                              int64_t occurred_at_us) {
  XXH3_state_t state;
  XXH3_128bits_reset(&state);
  feed(&state, event_type);
  feed(&state, canonical_payload);
  uint8_t ts[8];
  uint64_t u = static_cast<uint64_t>(occurred_at_us);
  for (int i = 0; i < 8; ++i) ts[i] = static_cast<uint8_t>(u >> (8 * i));
  XXH3_128bits_update(&state, ts, sizeof ts);
  return to_bytes(XXH3_128bits_digest(&state));
}

fingerprint hash_bytes(std::string_view bytes) {
  return to_bytes(XXH3_128bits(bytes.data(), bytes.size()));
}

std::string to_uuid_text(const fingerprint& f) {
  static const char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += hex[f[i] >> 4];
    out += hex[f[i] & 15];
  }
  return out;
}

}  // namespace cs::ingest
