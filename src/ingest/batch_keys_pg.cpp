// The keys of an ingest_batch() call: see batch_keys_pg.hpp.
#include "ingest/batch_keys_pg.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <string>

#include "common/boundary.hpp"

extern "C" {
#include "catalog/pg_type.h"
}
#include "common/pg_headers.hpp"
#include "ingest/statements_pg.hpp"

namespace cs::ingest::glue {

namespace {

batch_claim empty_claim(size_t n) {
  return batch_claim{std::vector<int64_t>(n, 0), std::vector<long>(n, -1),
                     std::vector<std::optional<outcome>>(n), false};
}

// Without SQL: a key's first delivery is inserted with its repeats (same content) already
// counted, so the row is not updated once per repeat. nullopt: use SQL.
std::optional<batch_claim> claim_direct(const call_context& cx,
                                        const std::vector<prepared>& ready) {
  batch_claim c = empty_claim(ready.size());
  std::map<std::string, std::pair<size_t, size_t>> first;  // key -> (delivery, row to insert)
  std::vector<const prepared*> rows;
  std::vector<size_t> row_of;
  std::vector<int32_t> repeats;
  for (size_t i = 0; i < ready.size(); ++i) {
    auto [it, fresh] = first.emplace(ready[i].key, std::make_pair(i, rows.size()));
    if (fresh) {
      rows.push_back(&ready[i]);
      row_of.push_back(i);
      repeats.push_back(0);
    } else if (ready[i].fp == ready[it->second.first].fp) {
      c.same_as[i] = static_cast<long>(it->second.first);
      ++repeats[it->second.second];
    }
  }
  std::optional<std::vector<int64_t>> ids = claim_keys_direct(cx, rows, &repeats);
  if (!ids) return std::nullopt;
  c.direct = true;
  for (size_t r = 0; r < rows.size(); ++r) c.ids[row_of[r]] = (*ids)[r];
  for (size_t i = 0; i < ready.size(); ++i)  // the key was taken before the batch: not counted
    if (c.same_as[i] >= 0 && c.ids[c.same_as[i]] == 0) c.same_as[i] = -1;
  return c;
}

// With SQL: one INSERT of every delivery in key order; a key's first delivery wins.
batch_claim claim_sql(const call_context& cx, const std::vector<prepared>& ready) {
  std::vector<std::string> keys, types, statuses;
  std::vector<std::optional<std::string>> details;
  std::vector<Datum> payloads, ats, fps;
  for (const prepared& p : ready) {
    keys.push_back(p.key);
    types.push_back(p.type);
    statuses.push_back(p.reason.empty() ? "applied" : "rejected");
    details.push_back(p.reason.empty() ? std::nullopt : std::optional<std::string>(p.reason));
    payloads.push_back(p.payload);
    ats.push_back(TimestampTzGetDatum(p.at));
    fps.push_back(uuid_datum(p.fp));
  }
  rows ins =
      run(P_BULK_EVENTS, args()
                             .text(cx.channel)
                             .datum(text_array(keys))
                             .datum(text_array(types))
                             .datum(datum_array(payloads, {}, JSONBOID, -1, false, TYPALIGN_INT))
                             .datum(datum_array(ats, {}, TIMESTAMPTZOID, 8, true, TYPALIGN_DOUBLE))
                             .datum(datum_array(fps, {}, UUIDOID, 16, false, TYPALIGN_CHAR))
                             .datum(text_array(statuses))
                             .datum(opt_text_array(details)));
  std::map<std::string, int64_t> claimed;
  for (uint64 r = 0; r < ins.count; ++r) claimed[ins.text(r, 1)] = ins.int8(r, 2);
  batch_claim c = empty_claim(ready.size());
  for (size_t i = 0; i < ready.size(); ++i) {
    auto it = claimed.find(ready[i].key);
    if (it != claimed.end() && it->second != 0) {
      c.ids[i] = it->second;
      it->second = 0;  // later deliveries of the key are answered once it is applied
    }
  }
  return c;
}

// The deliveries whose key was taken before the batch (neither claimed nor repeating a key
// the batch claimed), in key order.
std::vector<size_t> taken_before(const std::vector<prepared>& ready, const batch_claim& c) {
  std::set<std::string> claimed;
  for (size_t i = 0; i < ready.size(); ++i)
    if (c.ids[i] != 0) claimed.insert(ready[i].key);
  std::vector<size_t> out;
  for (size_t i = 0; i < ready.size(); ++i)
    if (c.ids[i] == 0 && claimed.count(ready[i].key) == 0) out.push_back(i);
  std::stable_sort(out.begin(), out.end(),
                   [&](size_t a, size_t b) { return ready[a].key < ready[b].key; });
  return out;
}

}  // namespace

batch_claim claim_batch_keys(call_context& cx, const std::vector<prepared>& ready) {
  std::optional<batch_claim> direct = claim_direct(cx, ready);
  batch_claim c = direct ? std::move(*direct) : claim_sql(cx, ready);
  std::vector<size_t> taken = taken_before(ready, c);
  std::vector<const prepared*> ps;
  for (size_t i : taken) ps.push_back(&ready[i]);
  std::vector<seen_key> seen;
  bool looked_up = !ps.empty() && see_taken_keys(cx, ps, seen);
  for (size_t t = 0; t < taken.size(); ++t)
    c.taken[taken[t]] = key_taken(cx, ready[taken[t]], looked_up ? &seen[t] : nullptr);
  return c;
}

void answer_repeats(call_context& cx, const std::vector<prepared>& ready, const batch_claim& claim,
                    std::vector<outcome>& results) {
  for (size_t i = 0; i < ready.size(); ++i) {
    if (claim.ids[i] != 0 || claim.taken[i]) continue;
    if (long first = claim.same_as[i]; first >= 0) {  // counted when it was inserted
      const outcome& o = results[first];
      results[i] = outcome{o.event_id, "duplicate", "first delivery was " + o.status};
      continue;
    }
    results[i] = key_taken(cx, ready[i]);
  }
}

}  // namespace cs::ingest::glue
