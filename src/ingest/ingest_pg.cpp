// PostgreSQL glue of inbound events: ingest(), ingest_batch() and replay(), and the elements
// of a batch read as deliveries.
//
// A delivery's key is claimed first, exactly once (keys_pg.hpp), then its event is applied
// (effects_pg.hpp): validated completely (rows it depends on are read FOR UPDATE) before its
// first write, so a rejected or stale event writes nothing but its own status. ingest_batch()
// applies runs of order_placed events set-based (order_runs_pg.hpp). Every statement is a
// prepared SPI plan kept for the session (statements_pg.hpp).
#include "common/boundary.hpp"
#include "common/access_pg.hpp"

extern "C" {
#include "access/htup_details.h"
#include "access/xact.h"
#include "executor/spi.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
}
#include "common/pg_headers.hpp"

#include <optional>
#include <string>
#include <vector>

#include "ingest/batch_keys_pg.hpp"
#include "ingest/batch_locks_pg.hpp"
#include "ingest/context_pg.hpp"
#include "ingest/event.hpp"
#include "ingest/fingerprint.hpp"
#include "ingest/keys_pg.hpp"
#include "ingest/order_runs_pg.hpp"
#include "ingest/effects_pg.hpp"
#include "ingest/statements_pg.hpp"
#include "ingest/writes_pg.hpp"

namespace {

using cs::pg::guard;
namespace ig = cs::ingest;
using namespace cs::ingest::glue;

void connect() {
  int rc = guard([&] { return SPI_connect(); });
  if (rc != SPI_OK_CONNECT) throw std::runtime_error("SPI_connect failed");
}

void finish() {
  guard([&] { SPI_finish(); });
}

void assert_access(const std::string& channel) {
  cs::pg::assert_channel_access(channel);
}

// A heap tuple of ingest_result for the function's declared result type.
Datum result_datum(FunctionCallInfo fcinfo, const outcome& o) {
  text* status = cs::pg::string_to_text(o.status);
  text* detail = o.detail ? cs::pg::string_to_text(*o.detail) : nullptr;
  int64_t id = o.event_id;
  return guard([&] {
    TupleDesc td;
    if (get_call_result_type(fcinfo, nullptr, &td) != TYPEFUNC_COMPOSITE)
      elog(ERROR, "channel_sync: ingest_result is not a composite type");
    td = BlessTupleDesc(td);
    Datum values[3] = {Int64GetDatum(id), PointerGetDatum(status), PointerGetDatum(detail)};
    bool nulls[3] = {false, false, detail == nullptr};
    return HeapTupleGetDatum(heap_form_tuple(td, values, nulls));
  });
}

// Parses a timestamptz in a subtransaction: a malformed one becomes a reason, not an error.
std::optional<TimestampTz> parse_timestamptz(const std::string& s, std::string& why) {
  MemoryContext outer = CurrentMemoryContext;
  ResourceOwner owner = CurrentResourceOwner;
  guard([&] { BeginInternalSubTransaction(nullptr); });
  guard([&] { MemoryContextSwitchTo(outer); });
  const char* cstr = s.c_str();
  try {
    Datum d = guard([&] {
      return DirectFunctionCall3(timestamptz_in, CStringGetDatum(cstr),
                                 ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
    });
    guard([&] {
      ReleaseCurrentSubTransaction();
      MemoryContextSwitchTo(outer);
      CurrentResourceOwner = owner;
    });
    return DatumGetTimestampTz(d);
  } catch (const cs::pg::pg_error& e) {
    why = std::string("occurred_at is not a valid timestamp: ") + e.what();
  }
  guard([&] {
    RollbackAndReleaseCurrentSubTransaction();
    MemoryContextSwitchTo(outer);
    CurrentResourceOwner = owner;
  });
  return std::nullopt;
}

// A stand-in for the time in the fingerprint of a batch element whose occurred_at is not a
// timestamp: a hash of its JSON type and text.
int64_t time_sent_hash(const std::string& kind, const std::string& text) {
  ig::fingerprint h = ig::hash_bytes(kind + '\0' + text);
  uint64_t v = 0;
  for (int k = 0; k < 8; ++k) v = (v << 8) | h[k];
  return static_cast<int64_t>(v);
}

// Element i of a batch (a row of P_BATCH) as a delivery; a field of the wrong JSON type makes
// it a rejection.
delivery batch_element(const rows& elems, uint64 i) {
  delivery d;
  std::string kind = elems.text(i, 1);
  if (kind != "object") {
    d.reason = "batch element " + std::to_string(i + 1) + " must be an object, not " + kind;
    d.payload = elems.value(i, 9);
    return d;
  }
  if (elems.text(i, 3) == "string") {
    d.key = elems.text(i, 2);
  } else if (!elems.is_null(i, 3) && elems.text(i, 3) != "null") {
    d.key = elems.text(i, 2);
    d.key_unusable = true;
    d.reason = "idempotency_key must be a string, not " + elems.text(i, 3);
  }
  if (elems.text(i, 5) == "string")
    d.event_type = elems.text(i, 4);
  else if (!elems.is_null(i, 5) && elems.text(i, 5) != "null" && d.reason.empty())
    d.reason = "event_type must be a string, not " + elems.text(i, 5);
  if (!elems.is_null(i, 6)) d.payload = elems.value(i, 6);
  std::string ts_kind = elems.text(i, 8);
  if (ts_kind == "string") {
    std::string why;
    d.occurred_at = parse_timestamptz(elems.text(i, 7), why);
    if (!d.occurred_at && d.reason.empty()) d.reason = why;
  } else if (!ts_kind.empty() && ts_kind != "null" && d.reason.empty()) {
    d.reason = "occurred_at must be a string, not " + ts_kind;
  }
  if (!d.occurred_at) {
    bool omitted = ts_kind.empty() || ts_kind == "null";
    d.fingerprint_at = omitted ? ig::kNoTimestamp : time_sent_hash(ts_kind, elems.text(i, 7));
    d.occurred_at = GetCurrentTransactionStartTimestamp();
  }
  return d;
}

// Every element of a batch, prepared.
std::vector<prepared> batch_deliveries(const rows& elems) {
  std::vector<prepared> ready;
  ready.reserve(elems.count);
  for (uint64 i = 0; i < elems.count; ++i) ready.push_back(prepare(batch_element(elems, i)));
  return ready;
}

// The outcome of each delivery, in order. The batch claims its keys first (batch_keys_pg.hpp),
// then holds the orders and stock its steps change (batch_locks_pg.hpp); runs of consecutive
// valid order_placed events go set-based, every other claimed event alone.
std::vector<outcome> ingest_deliveries(call_context& cx, const std::vector<prepared>& ready) {
  std::vector<outcome> results(ready.size());
  batch_claim claim = claim_batch_keys(cx, ready);
  std::vector<std::pair<size_t, size_t>> steps = batch_steps(ready);
  lock_batch_rows(cx, ready, claim.ids, steps);
  std::optional<deferred_retargets> retargets;
  if (steps.size() > 1) retargets.emplace();
  for (const auto& [from, to] : steps) {
    if (to - from >= 2)
      ingest_order_run(cx, ready, from, to, claim, results);
    else if (claim.ids[from] != 0)
      results[from] = apply_claimed(cx, ready[from], claim.ids[from], claim.direct);
  }
  if (retargets) retargets->run();
  for (size_t i = 0; i < ready.size(); ++i)
    if (claim.taken[i]) results[i] = *claim.taken[i];
  answer_repeats(cx, ready, claim, results);
  return results;
}

}  // namespace

// ingest(channel_id, idempotency_key, event_type, payload, occurred_at) -> ingest_result
CS_FUNCTION(cs_ingest) {
  if (PG_ARGISNULL(0))
    throw cs::user_error(cs::sqlstate::kNullValueNotAllowed, "channel_id must not be null");
  call_context cx;
  cx.channel = cs::pg::text_to_string(PG_GETARG_DATUM(0));
  delivery d;
  if (!PG_ARGISNULL(1)) d.key = cs::pg::text_to_string(PG_GETARG_DATUM(1));
  if (!PG_ARGISNULL(2)) d.event_type = cs::pg::text_to_string(PG_GETARG_DATUM(2));
  if (!PG_ARGISNULL(3)) d.payload = PG_GETARG_DATUM(3);
  if (!PG_ARGISNULL(4)) d.occurred_at = PG_GETARG_TIMESTAMPTZ(4);
  // occurred_at left to its default, now(): not part of the content, so a retry of the call
  // is a duplicate
  if (d.occurred_at == GetCurrentTransactionStartTimestamp()) d.fingerprint_at = ig::kNoTimestamp;
  connect();
  assert_access(cx.channel);
  if (!d.key)
    throw cs::user_error(cs::sqlstate::kNullValueNotAllowed, "idempotency_key must not be null",
                         "Every inbound event needs the sender's idempotency key.",
                         "Use the webhook's delivery id or the marketplace's event id.");
  outcome o = ingest_one(cx, d);
  finish();
  return result_datum(fcinfo, o);
}

// ingest_batch(channel_id, events jsonb) -> SETOF ingest_result, one per element, in order
CS_FUNCTION(cs_ingest_batch) {
  if (PG_ARGISNULL(0))
    throw cs::user_error(cs::sqlstate::kNullValueNotAllowed, "channel_id must not be null");
  if (PG_ARGISNULL(1))
    throw cs::user_error(cs::sqlstate::kNullValueNotAllowed, "events must not be null");
  call_context cx;
  cx.channel = cs::pg::text_to_string(PG_GETARG_DATUM(0));
  Datum events = PG_GETARG_DATUM(1);
  bool is_array = guard([&] {
    Jsonb* jb = DatumGetJsonbP(events);
    return JB_ROOT_IS_ARRAY(jb) && !JB_ROOT_IS_SCALAR(jb);
  });
  connect();
  assert_access(cx.channel);
  if (!is_array)
    throw cs::user_error(cs::sqlstate::kInvalidParameterValue, "events must be a JSON array",
                         "ingest_batch takes an array of {idempotency_key, event_type, payload, "
                         "occurred_at} objects.");
  std::vector<prepared> ready = batch_deliveries(run(P_BATCH, args().datum(events)));
  std::vector<outcome> results = ingest_deliveries(cx, ready);
  finish();
  // emit the results after SPI is closed, into the caller's tuplestore
  guard([&] { InitMaterializedSRF(fcinfo, 0); });
  ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
  for (const outcome& o : results) {
    text* status = cs::pg::string_to_text(o.status);
    text* detail = o.detail ? cs::pg::string_to_text(*o.detail) : nullptr;
    int64_t id = o.event_id;
    guard([&] {
      Datum values[3] = {Int64GetDatum(id), PointerGetDatum(status), PointerGetDatum(detail)};
      bool nulls[3] = {false, false, detail == nullptr};
      tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    });
  }
  return static_cast<Datum>(0);
}

// replay(event_id) -> ingest_result: re-applies a rejected event
CS_FUNCTION(cs_replay) {
  if (PG_ARGISNULL(0))
    throw cs::user_error(cs::sqlstate::kNullValueNotAllowed, "event_id must not be null");
  int64_t id = PG_GETARG_INT64(0);
  connect();
  rows peek = run(P_REPLAY_PEEK, args().int8(id));
  if (peek.count == 0)
    throw cs::user_error(cs::sqlstate::kNoDataFound,
                         "event " + std::to_string(id) + " does not exist");
  call_context cx;
  cx.channel = peek.text(0, 1);
  assert_access(cx.channel);
  rows e = run(P_REPLAY_LOCK, args().int8(id));
  if (e.count == 0)
    throw cs::user_error(cs::sqlstate::kNoDataFound,
                         "event " + std::to_string(id) + " does not exist");
  std::string key = e.text(0, 2), type = e.text(0, 3), status = e.text(0, 6);
  Datum payload = e.value(0, 4);
  TimestampTz at = DatumGetTimestampTz(e.value(0, 5));
  std::string old_detail = e.text(0, 8);
  if (status != "rejected" || !e.is_null(0, 7))
    throw cs::user_error("55000",
                         "event " + std::to_string(id) + " is " + status + ", not rejected",
                         "Only a rejected event can be replayed; applied, duplicate, conflicting "
                         "and stale events are final.");
  if (!ig::check_key(key).empty() || key.rfind("invalid-key:", 0) == 0)
    throw cs::user_error("55000", "event " + std::to_string(id) + " cannot be replayed",
                         "It was rejected for its idempotency key (" + old_detail + ").",
                         "Send the event again with a valid idempotency key.");
  ig::parse_outcome p = ig::parse_event(type, jsonb_text(payload));
  outcome o{id, "rejected", p.reason};
  if (p.ok) {
    effect ef = apply(event_call{&cx, &*p.ok, id, at});
    o.status = ef.status;
    o.detail = ef.detail;
  }
  std::string note = o.status == "rejected" ? *o.detail
                                            : "replayed after rejection (" + old_detail + ")" +
                                                  (o.detail ? "; " + *o.detail : std::string());
  run(P_REPLAYED, args().int8(id).text(o.status).text(note));
  if (o.status != "rejected") o.detail = note;
  finish();
  return result_datum(fcinfo, o);
}
