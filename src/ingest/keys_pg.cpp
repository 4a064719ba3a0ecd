// Exactly once: see keys_pg.hpp.
#include "ingest/keys_pg.hpp"

#include <algorithm>
#include <map>

#include "common/boundary.hpp"

extern "C" {
#include "access/xact.h"
#include "utils/uuid.h"
}
#include "common/pg_headers.hpp"
#include "ingest/direct_writes_pg.hpp"
#include "ingest/effects_pg.hpp"
#include "ingest/statements_pg.hpp"

namespace cs::ingest::glue {

using ig::quote;

prepared prepare(const delivery& d) {
  prepared p;
  p.reason = d.reason;
  std::string canonical = d.payload != 0 ? jsonb_text(d.payload) : "null";
  p.type = d.event_type.value_or("");
  p.at = d.occurred_at.value_or(GetCurrentTransactionStartTimestamp());
  std::string fp_type = d.event_type ? p.type : std::string("\x01null", 5);
  int64_t fp_at = d.fingerprint_at.value_or(d.occurred_at ? *d.occurred_at : ig::kNoTimestamp);
  std::string content = ig::without_trailing_zeros(canonical);
  p.fp = ig::event_fingerprint(fp_type, content, fp_at);
  if (content != canonical) p.legacy_fp = ig::event_fingerprint(fp_type, canonical, fp_at);
  // a key that cannot identify the event: record it under a name made from the key
  if (!d.key) {
    p.key = "invalid-key:" + ig::to_uuid_text(ig::hash_bytes(canonical + p.type));
    if (p.reason.empty()) p.reason = "idempotency_key is missing";
  } else {
    std::string why = d.key_unusable ? d.reason : ig::check_key(*d.key);
    if (why.empty()) {
      p.key = *d.key;
    } else {
      p.key = "invalid-key:" + ig::to_uuid_text(ig::hash_bytes(*d.key));
      if (p.reason.empty()) p.reason = why;
    }
  }
  if (p.reason.empty() && !d.event_type) p.reason = "event_type is missing";
  if (p.reason.empty() && !d.occurred_at) p.reason = "occurred_at must not be null";
  // an event at +-infinity would order before or after every real one (a count at infinity
  // would make every later count stale)
  if (p.reason.empty() && TIMESTAMP_NOT_FINITE(*d.occurred_at))
    p.reason = "occurred_at must be a finite timestamp";
  if (p.reason.empty()) {
    ig::parse_outcome parsed = ig::parse_event(p.type, canonical);
    if (parsed.ok)
      p.ev = std::move(parsed.ok);
    else
      p.reason = parsed.reason;
  }
  p.payload = d.payload != 0 ? d.payload : jsonb_null();
  return p;
}

namespace {

// Whether a stored fingerprint is p's content.
bool same_content(const prepared& p, const uint8_t* stored) {
  return std::equal(p.fp.begin(), p.fp.end(), stored) ||
         (p.legacy_fp && std::equal(p.legacy_fp->begin(), p.legacy_fp->end(), stored));
}

}  // namespace

bool see_taken_keys(const call_context& cx, const std::vector<const prepared*>& ps,
                    std::vector<seen_key>& out) {
  std::map<std::string, std::vector<size_t>> by_key;  // a key's deliveries count once each
  for (size_t i = 0; i < ps.size(); ++i) by_key[ps[i]->key].push_back(i);
  std::vector<pg_uuid_t> fps(ps.size() + 1), legacy(ps.size() + 1);
  std::vector<const pg_uuid_t*> fp_ptrs, legacy_ptrs;
  for (size_t i = 0; i < ps.size(); ++i) {
    std::copy(ps[i]->fp.begin(), ps[i]->fp.end(), fps[i].data);
    if (ps[i]->legacy_fp)
      std::copy(ps[i]->legacy_fp->begin(), ps[i]->legacy_fp->end(), legacy[i].data);
  }
  std::vector<cs::ingest::pg::taken_key> keys;
  for (const auto& [key, deliveries] : by_key)
    for (size_t i : deliveries) {
      fp_ptrs.push_back(&fps[i]);
      legacy_ptrs.push_back(ps[i]->legacy_fp ? &legacy[i] : nullptr);
    }
  size_t next = 0;
  for (const auto& [key, deliveries] : by_key) {
    cs::ingest::pg::taken_key t{};
    t.key = key.c_str();
    t.fingerprints = fp_ptrs.data() + next;
    t.legacy_fingerprints = legacy_ptrs.data() + next;
    t.n = static_cast<int>(deliveries.size());
    next += deliveries.size();
    keys.push_back(t);
  }
  const char* channel = cx.channel.c_str();
  cs::ingest::pg::taken_key* kp = keys.data();
  int n = static_cast<int>(keys.size());
  if (!guard([&] { return cs::ingest::pg::count_duplicates(channel, kp, n); })) return false;
  out.assign(ps.size(), seen_key{});
  size_t k = 0;
  for (const auto& [key, deliveries] : by_key) {
    const cs::ingest::pg::taken_key& t = kp[k++];
    for (size_t i : deliveries) {
      bool same = same_content(*ps[i], t.fingerprint.data);
      out[i] = seen_key{t.found, t.found && same, t.event_id, t.status != nullptr ? t.status : ""};
    }
  }
  return true;
}

outcome key_taken(call_context& cx, const prepared& p, const seen_key* seen) {
  std::vector<seen_key> one;
  if (seen == nullptr && see_taken_keys(cx, {&p}, one)) seen = &one.front();
  if (seen != nullptr && seen->found && seen->same)
    return outcome{seen->event_id, "duplicate", "first delivery was " + seen->status};
  if (seen == nullptr) {
    rows dup = run(P_DUPLICATE, args()
                                    .text(cx.channel)
                                    .text(p.key)
                                    .datum(uuid_datum(p.fp))
                                    .datum(uuid_datum(p.legacy_fp.value_or(p.fp))));
    if (dup.count > 0)
      return outcome{dup.int8(0, 1), "duplicate", "first delivery was " + dup.text(0, 2)};
  }
  rows own = run(P_OWNER, args().text(cx.channel).text(p.key));
  if (own.count == 0)
    throw cs::user_error("40001", "idempotency key " + quote(p.key) + " changed owner concurrently",
                         "The event that held the key was removed while this one arrived.",
                         "Retry the delivery.");
  int64_t owner = own.int8(0, 1);
  std::string detail = "idempotency key " + quote(p.key) + " was first used by event " +
                       std::to_string(owner) + " with fingerprint " + own.text(0, 2) +
                       "; this delivery has fingerprint " + ig::to_uuid_text(p.fp);
  args cf;
  cf.text(cx.channel).text(p.key).text(p.type).datum(p.payload).ts(p.at).datum(uuid_datum(p.fp));
  cf.text(detail).int8(owner);
  rows conflict = run(P_INSERT_CONFLICT, cf);
  return outcome{conflict.int8(0, 1), "conflict", detail};
}

std::optional<std::vector<int64_t>> claim_keys_direct(const call_context& cx,
                                                      const std::vector<const prepared*>& events,
                                                      const std::vector<int32_t>* duplicates) {
  std::vector<cs::ingest::pg::event_row> rows;
  std::vector<pg_uuid_t> fps(events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    const prepared& p = *events[i];
    std::copy(p.fp.begin(), p.fp.end(), fps[i].data);
    rows.push_back({p.key.c_str(), p.type.c_str(), p.payload, p.at, &fps[i],
                    p.reason.empty() ? "applied" : "rejected",
                    p.reason.empty() ? nullptr : p.reason.c_str(),
                    duplicates != nullptr ? (*duplicates)[i] : 0});
  }
  std::vector<int64_t> ids(rows.size() + 1, 0);
  const char* channel = cx.channel.c_str();
  const cs::ingest::pg::event_row* rp = rows.data();
  int n = static_cast<int>(rows.size());
  int64* ip = reinterpret_cast<int64*>(ids.data());
  if (!guard([&] { return cs::ingest::pg::write_events(channel, rp, n, ip); })) return std::nullopt;
  ids.pop_back();
  return ids;
}

bool set_statuses_direct(const std::vector<int64_t>& ids, const std::vector<std::string>& statuses,
                         const std::vector<std::optional<std::string>>& details) {
  std::vector<const char*> st, de;
  for (size_t k = 0; k < ids.size(); ++k) {
    st.push_back(statuses[k].c_str());
    de.push_back(details[k] ? details[k]->c_str() : nullptr);
  }
  const int64* ip = reinterpret_cast<const int64*>(ids.data());
  const char* const* sp = st.data();
  const char* const* dp = de.data();
  int n = static_cast<int>(ids.size());
  return guard([&] { return cs::ingest::pg::set_statuses(ip, sp, dp, n); });
}

namespace {

// The new event id of p's first delivery, 0 when the key is taken; *direct: inserted without
// SQL (write_events).
int64_t claim_key(call_context& cx, const prepared& p, bool* direct) {
  *direct = false;
  if (std::optional<std::vector<int64_t>> ids = claim_keys_direct(cx, {&p})) {
    *direct = true;
    return ids->front();
  }
  args ins;
  ins.text(cx.channel).text(p.key).text(p.type).datum(p.payload).ts(p.at).datum(uuid_datum(p.fp));
  ins.text(p.reason.empty() ? "applied" : "rejected");
  if (p.reason.empty())
    ins.null();
  else
    ins.text(p.reason);
  rows r = run(P_INSERT_EVENT, ins);
  return r.count == 0 ? 0 : r.int8(0, 1);
}

}  // namespace

outcome ingest_prepared(call_context& cx, const prepared& p) {
  bool direct = false;
  int64_t id = claim_key(cx, p, &direct);
  if (id == 0) return key_taken(cx, p);
  return apply_claimed(cx, p, id, direct);
}

outcome apply_claimed(call_context& cx, const prepared& p, int64_t id, bool direct) {
  if (!p.reason.empty()) return outcome{id, "rejected", p.reason};
  effect e = apply(event_call{&cx, &*p.ev, id, p.at});
  if ((e.status != "applied" || e.detail) &&
      !(direct && set_statuses_direct({id}, {e.status}, {e.detail})))
    run(P_SET_STATUS, args().int8(id).text(e.status).opt_text(e.detail));
  return outcome{id, e.status, e.detail};
}

outcome ingest_one(call_context& cx, const delivery& d) {
  return ingest_prepared(cx, prepare(d));
}

}  // namespace cs::ingest::glue
