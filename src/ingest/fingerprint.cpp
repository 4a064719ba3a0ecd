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

namespace {

bool number_char(char c) {
  return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

// A number token without trailing fractional zeros (and without the point if none are left).
std::string_view trimmed_number(std::string_view n) {
  size_t point = n.find('.');
  if (point == std::string_view::npos || n.find_first_of("eE") != std::string_view::npos) return n;
  size_t last = n.find_last_not_of('0');
  return n.substr(0, last == point ? point : last + 1);
}

}  // namespace

std::string without_trailing_zeros(std::string_view json) {
  std::string out;
  out.reserve(json.size());
  bool in_string = false;
  for (size_t i = 0; i < json.size(); ++i) {
    char c = json[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < json.size())
        out += json[++i];
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
      out += c;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      size_t end = i;
      while (end < json.size() && number_char(json[end])) ++end;
      out += trimmed_number(json.substr(i, end - i));
      i = end - 1;
    } else {
      out += c;
    }
  }
  return out;
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
