// Drift between recomputed targets and the listings/outbox state (see drift.hpp).
#include "propagation/drift.hpp"

#include <algorithm>
#include <map>
#include <tuple>
#include <utility>

namespace cs::propagation {

namespace {

// Splits a numeric text into sign, integer digits without leading zeros and fraction
// digits without trailing zeros, so equal numbers give equal parts.
std::tuple<bool, std::string, std::string> canonical(const std::string& s) {
  size_t i = 0;
  bool negative = false;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) negative = s[i++] == '-';
  size_t dot = s.find('.', i);
  std::string whole = s.substr(i, dot == std::string::npos ? std::string::npos : dot - i);
  std::string frac = dot == std::string::npos ? "" : s.substr(dot + 1);
  whole.erase(0, std::min(whole.find_first_not_of('0'), whole.size()));
  while (!frac.empty() && frac.back() == '0') frac.pop_back();
  if (whole.empty() && frac.empty()) negative = false;
  return {negative, whole, frac};
}

using pair_key = std::pair<std::string, std::string>;

}  // namespace

bool same_decimal(const std::string& a, const std::string& b) {
  return canonical(a) == canonical(b);
}

std::string describe(int32_t qty, const std::string& price, bool price_is_null) {
  return "qty " + std::to_string(qty) + ", price " + (price_is_null ? std::string("null") : price);
}

std::vector<finding> find_drift(const std::vector<expected_target>& targets,
                                const std::vector<listing_state>& listings,
                                const std::vector<message_state>& messages) {
  std::map<pair_key, const listing_state*> by_pair;
  for (const auto& l : listings) by_pair[{l.channel_id, l.sku}] = &l;
  std::map<pair_key, int64_t> message_version;
  for (const auto& m : messages) message_version[{m.channel_id, m.sku}] = m.version;

  std::vector<finding> out;
  for (const auto& t : targets) {
    auto it = by_pair.find({t.channel_id, t.sku});
    std::string want = describe(t.qty, t.price, t.price_is_null);
    if (it == by_pair.end()) {
      out.push_back({"target_drift", t.channel_id, t.sku, want, "no listing"});
      continue;
    }
    const listing_state& l = *it->second;
    bool price_equal =
        t.price_is_null == l.price_is_null && (t.price_is_null || same_decimal(t.price, l.price));
    if (t.qty != l.qty || !price_equal)
      out.push_back(
          {"target_drift", t.channel_id, t.sku, want, describe(l.qty, l.price, l.price_is_null)});
  }
  for (const auto& l : listings) {
    if (l.acked && l.acked_version >= l.version) continue;
    auto it = message_version.find({l.channel_id, l.sku});
    if (it != message_version.end() && it->second >= l.version) continue;
    out.push_back({"message_missing", l.channel_id, l.sku, "version " + std::to_string(l.version),
                   it == message_version.end() ? std::string("no message")
                                               : "version " + std::to_string(it->second)});
  }
  std::sort(out.begin(), out.end(), [](const finding& a, const finding& b) {
    return std::tie(a.check_name, a.channel_id, a.sku) <
           std::tie(b.check_name, b.channel_id, b.sku);
  });
  return out;
}

int64_t backoff_ms(int32_t attempts, int64_t base_ms, int64_t cap_ms) {
  if (attempts <= 0 || base_ms <= 0) return 0;
  int64_t delay = base_ms;
  for (int32_t i = 1; i < attempts && delay < cap_ms; ++i) delay *= 2;
  return std::min(delay, cap_ms);
}

}  // namespace cs::propagation
