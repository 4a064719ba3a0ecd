// Exactly once: a delivery's key claimed by inserting its event first (ON CONFLICT DO NOTHING
// on events_first_delivery_key, so concurrent deliveries of a key serialize on the index and
// only the winner applies); a loser finds the owner and becomes a duplicate (same fingerprint:
// the owner's counter is bumped, no row is written) or a conflict (a row pointing at the owner).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/pg_headers.hpp"

extern "C" {
#include "utils/timestamp.h"
}

#include "ingest/context_pg.hpp"
#include "ingest/event.hpp"
#include "ingest/fingerprint.hpp"

namespace cs::ingest::glue {

namespace ig = cs::ingest;

// One delivery as received: ingest()'s arguments, or an element of an ingest_batch() array.
struct delivery {
  std::optional<std::string> key;  // nullopt: not given (batch element)
  std::optional<std::string> event_type;
  Datum payload = 0;  // jsonb, 0 when NULL
  std::optional<TimestampTz> occurred_at;
  // the fingerprint's time when occurred_at was not sent as a timestamp (left to now(), or a
  // batch element without one: kNoTimestamp, whatever time it is recorded at; one that is not
  // a valid timestamp: a hash of what was sent), so a redelivery of it is still a duplicate
  std::optional<int64_t> fingerprint_at;
  bool key_unusable = false;  // key given, but not as a string
  std::string reason;         // set when the delivery is already known to be bad
};

// A delivery made ready to record: its key, fingerprint and, unless rejected, its event.
struct prepared {
  std::string key;
  std::string type;
  Datum payload = 0;
  TimestampTz at = 0;
  ig::fingerprint fp{};
  // over the payload as jsonb printed it, when that differs: how events were fingerprinted
  // before 0.4.0 (a redelivery of one of those is still its duplicate)
  std::optional<ig::fingerprint> legacy_fp;
  std::string reason;
  std::optional<ig::event> ev;
};

// Fingerprints a delivery and parses its event; the reason it is rejected, if it is.
prepared prepare(const delivery& d);

// What the first delivery of a taken key is (see_taken_keys).
struct seen_key {
  bool found = false, same = false;
  int64_t event_id = 0;
  std::string status;
};

// What the first deliveries of taken keys are, each duplicate counted, without SQL
// (direct_writes_pg.hpp); false when that does not apply (use SQL). out[i] for ps[i].
bool see_taken_keys(const call_context& cx, const std::vector<const prepared*>& ps,
                    std::vector<seen_key>& out);

// The outcome of a delivery whose key is taken: a duplicate of its first delivery (counted),
// or a conflict (recorded). seen: the first delivery, looked up already (see_taken_keys).
outcome key_taken(call_context& cx, const prepared& p, const seen_key* seen = nullptr);

// Inserts the first deliveries of events (ON CONFLICT DO NOTHING on their key; ids in order,
// rows in key order) without SQL: each one's new event id, 0 where the key is taken; nullopt when
// the events table carries a user's trigger, column or policy (nothing was written: use SQL).
// duplicates[i]: later deliveries of event i already counted.
std::optional<std::vector<int64_t>> claim_keys_direct(
    const call_context& cx, const std::vector<const prepared*>& events,
    const std::vector<int32_t>* duplicates = nullptr);

// The statuses of events claim_keys_direct inserted, written in place; false: use SQL.
bool set_statuses_direct(const std::vector<int64_t>& ids, const std::vector<std::string>& statuses,
                         const std::vector<std::optional<std::string>>& details);

// Records one delivery and, if it is the key's first and valid, applies it.
outcome ingest_prepared(call_context& cx, const prepared& p);
// Applies a delivery whose key this call claimed as event id (direct: inserted without SQL)
// and records what it came to.
outcome apply_claimed(call_context& cx, const prepared& p, int64_t id, bool direct);
// prepare(d), then ingest_prepared().
outcome ingest_one(call_context& cx, const delivery& d);

}  // namespace cs::ingest::glue
