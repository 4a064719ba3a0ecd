// PostgreSQL glue of inbound events: ingest(), ingest_batch() and replay().
//
// One event, exactly once: the event row is inserted first with
// INSERT ... ON CONFLICT DO NOTHING on the partial unique index
// events_first_delivery_key, so concurrent deliveries of a key serialize on the index
// and only the winner applies; a loser finds the owner and becomes a duplicate (same
// fingerprint: the owner's counter is bumped, no row is written) or a conflict (a row
// pointing at the owner). The effect is validated completely (rows it depends on are
// read FOR UPDATE) before its first write, so a rejected or stale event writes nothing
// but its own status. Every statement is a prepared SPI plan kept for the session.
#include "common/boundary.hpp"
#include "common/access_pg.hpp"

extern "C" {
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"
}
#include "common/pg_headers.hpp"
#include "common/spi_pg.hpp"
#include "common/table_access_pg.hpp"
#include "allocation/targets_pg.hpp"
#include "ingest/direct_writes_pg.hpp"

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ingest/event.hpp"
#include "ingest/fingerprint.hpp"
#include "ingest/orders.hpp"
#include "propagation/stock_writes_pg.hpp"

namespace {

using cs::pg::guard;
namespace ig = cs::ingest;

// ---------------------------------------------------------------------------------
// Prepared statements

enum plan_id {
  P_INSERT_EVENT,
  P_DUPLICATE,
  P_OWNER,
  P_INSERT_CONFLICT,
  P_SET_STATUS,
  P_ALIAS,
  P_COMPONENTS,
  P_LOCATION,
  P_INSERT_ORDER,
  P_ORDER,
  P_STOCK_DELTA,
  P_STOCK_INSERT,
  P_STOCK_SET,
  P_INSERT_LINES,
  P_LINES,
  P_LINES_UPDATE,
  P_ORDER_UPDATE,
  P_COUNT_UPSERT,
  P_COUNT_OWNER,
  P_OBSERVE,
  P_REPLAY_PEEK,
  P_REPLAY_LOCK,
  P_REPLAYED,
  P_BATCH,
  P_STOCK_DELTA1,
  P_BULK_EVENTS,
  P_BULK_SKUS,
  P_BULK_ALIASES,
  P_BULK_COMPONENTS,
  P_BULK_INSERT_ORDERS,
  P_BULK_INSERT_LINES,
  P_BULK_STATUS,
  P_ORDER_LINE1,
  P_ORDER_OVERSOLD,
  P_DROP_LINES,
  // the same three writes of order lines for an install older than 0.4.0 (no placed_at)
  P_INSERT_LINES_UNTIMED,
  P_BULK_INSERT_LINES_UNTIMED,
  P_ORDER_LINE1_UNTIMED,
  P_COUNT
};

struct plan_def {
  const char* sql;
  int nargs;
  Oid types[10];
};

// The writes of order lines, with placed_at (column, value) or, before 0.4.0, without ("", "").
// clang-format off
#define CS_INSERT_LINES(column, value)                                                                           \
  "INSERT INTO channel_sync.order_lines (channel_id, order_id, line_no, sku, location_id, qty, sold_sku,"         \
  " units_per_sold" column ") SELECT $1, $2, u.*" value                                                          \
  " FROM unnest($3::int4[], $4::text[], $5::text[], $6::int4[], $7::text[], $8::int4[]) AS u"
#define CS_INSERT_LINES_TYPES \
  {TEXTOID, TEXTOID, INT4ARRAYOID, TEXTARRAYOID, TEXTARRAYOID, INT4ARRAYOID, TEXTARRAYOID, INT4ARRAYOID, TIMESTAMPTZOID}
#define CS_BULK_INSERT_LINES(column, values)                                                                     \
  "INSERT INTO channel_sync.order_lines (channel_id, order_id, line_no, sku, location_id, qty, sold_sku,"         \
  " units_per_sold" column ") SELECT $1, u.* FROM unnest($2::text[], $3::int4[], $4::text[], $5::text[],"        \
  " $6::int4[], $7::text[], $8::int4[]" values ") AS u"
#define CS_BULK_INSERT_LINES_TYPES                                                                  \
  {TEXTOID, TEXTARRAYOID, INT4ARRAYOID, TEXTARRAYOID, TEXTARRAYOID, INT4ARRAYOID, TEXTARRAYOID,     \
   INT4ARRAYOID, TIMESTAMPTZARRAYOID}
// an order of one line: the order, its line and its reservation in one statement
#define CS_ORDER_LINE1(column, value)                                                                            \
  "WITH o AS (INSERT INTO channel_sync.orders AS o (channel_id, order_id, state, oversold, placed_at, updated_at,"\
  " event_id) VALUES ($1, $2, 'placed', $3, $4, $4, $5) ON CONFLICT (channel_id, order_id) DO NOTHING"            \
  " RETURNING o.order_id)"                                                                                       \
  " , l AS (INSERT INTO channel_sync.order_lines (channel_id, order_id, line_no, sku, location_id, qty, sold_sku," \
  " units_per_sold" column ") SELECT $1, o.order_id, 1, $6, $7, $8, $9, $10" value " FROM o RETURNING 1),"         \
  " s AS (UPDATE channel_sync.stock AS s SET reserved = GREATEST(0, s.reserved + $8)"                            \
  " WHERE s.sku = $6 AND s.location_id = $7 AND EXISTS (SELECT FROM o) RETURNING 1)"                             \
  " SELECT (SELECT count(*) FROM l), (SELECT count(*) FROM s)"
#define CS_ORDER_LINE1_TYPES \
  {TEXTOID, TEXTOID, BOOLOID, TIMESTAMPTZOID, INT8OID, TEXTOID, TEXTOID, INT4OID, TEXTOID, INT4OID}
// clang-format on

// clang-format off
const plan_def kPlans[P_COUNT] = {
  {"INSERT INTO channel_sync.events AS e (channel_id, idempotency_key, event_type, payload, occurred_at,"
   " fingerprint, status, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
   " ON CONFLICT (channel_id, idempotency_key) WHERE first_event_id IS NULL DO NOTHING RETURNING e.event_id",
   8, {TEXTOID, TEXTOID, TEXTOID, JSONBOID, TIMESTAMPTZOID, UUIDOID, TEXTOID, TEXTOID}},
  {"UPDATE channel_sync.events AS e SET duplicates = e.duplicates + 1"
   " WHERE e.channel_id = $1 AND e.idempotency_key = $2 AND e.first_event_id IS NULL AND e.fingerprint IN ($3, $4)"
   " RETURNING e.event_id, e.status", 4, {TEXTOID, TEXTOID, UUIDOID, UUIDOID}},
  {"SELECT e.event_id, e.fingerprint::text FROM channel_sync.events AS e"
   " WHERE e.channel_id = $1 AND e.idempotency_key = $2 AND e.first_event_id IS NULL", 2, {TEXTOID, TEXTOID}},
  {"INSERT INTO channel_sync.events AS e (channel_id, idempotency_key, event_type, payload, occurred_at,"
   " fingerprint, status, detail, first_event_id) VALUES ($1, $2, $3, $4, $5, $6, 'conflict', $7, $8)"
   " RETURNING e.event_id",
   8, {TEXTOID, TEXTOID, TEXTOID, JSONBOID, TIMESTAMPTZOID, UUIDOID, TEXTOID, INT8OID}},
  {"UPDATE channel_sync.events SET status = $2, detail = $3 WHERE event_id = $1", 3, {INT8OID, TEXTOID, TEXTOID}},
  {"SELECT s.sku, s.kind FROM channel_sync.sku_aliases AS a JOIN channel_sync.skus AS s ON s.sku = a.sku"
   " WHERE a.channel_id = $1 AND a.external_id = $2", 2, {TEXTOID, TEXTOID}},
  {"SELECT b.component_sku, b.qty_per FROM channel_sync.bundle_components AS b WHERE b.bundle_sku = $1"
   " ORDER BY b.component_sku", 1, {TEXTOID}},
  {"SELECT 1 FROM channel_sync.locations AS l WHERE l.location_id = $1", 1, {TEXTOID}},
  {"INSERT INTO channel_sync.orders AS o (channel_id, order_id, state, oversold, placed_at, updated_at, event_id)"
   " VALUES ($1, $2, 'placed', $3, $4, $4, $5) ON CONFLICT (channel_id, order_id) DO NOTHING RETURNING 1",
   5, {TEXTOID, TEXTOID, BOOLOID, TIMESTAMPTZOID, INT8OID}},
  {"SELECT o.state FROM channel_sync.orders AS o WHERE o.channel_id = $1 AND o.order_id = $2 FOR UPDATE",
   2, {TEXTOID, TEXTOID}},
  {"UPDATE channel_sync.stock AS s SET on_hand = s.on_hand + u.dh, reserved = GREATEST(0, s.reserved + u.dr)"
   " FROM unnest($1::text[], $2::text[], $3::int4[], $4::int4[]) AS u (sku, loc, dh, dr)"
   " WHERE s.sku = u.sku AND s.location_id = u.loc RETURNING s.sku, s.location_id",
   4, {TEXTARRAYOID, TEXTARRAYOID, INT4ARRAYOID, INT4ARRAYOID}},
  {"INSERT INTO channel_sync.stock AS s (sku, location_id, on_hand, reserved)"
   " SELECT u.sku, u.loc, GREATEST(0, u.dh), GREATEST(0, u.dr)"
   " FROM unnest($1::text[], $2::text[], $3::int4[], $4::int4[]) AS u (sku, loc, dh, dr)"
   " ON CONFLICT (sku, location_id) DO UPDATE SET on_hand = GREATEST(0, s.on_hand + excluded.on_hand),"
   " reserved = GREATEST(0, s.reserved + excluded.reserved)",
   4, {TEXTARRAYOID, TEXTARRAYOID, INT4ARRAYOID, INT4ARRAYOID}},
  {"INSERT INTO channel_sync.stock AS s (sku, location_id, on_hand) VALUES ($1, $2, $3)"
   " ON CONFLICT (sku, location_id) DO UPDATE SET on_hand = excluded.on_hand", 3, {TEXTOID, TEXTOID, INT4OID}},
  {CS_INSERT_LINES(", placed_at", ", $9"), 9, CS_INSERT_LINES_TYPES},
  {"SELECT l.line_no, l.sku, l.location_id, l.sold_sku, l.units_per_sold, l.qty, l.qty_shipped, l.qty_cancelled,"
   " l.qty_returned FROM channel_sync.order_lines AS l WHERE l.channel_id = $1 AND l.order_id = $2"
   " ORDER BY l.line_no FOR UPDATE", 2, {TEXTOID, TEXTOID}},
  {"UPDATE channel_sync.order_lines AS l SET qty_shipped = l.qty_shipped + u.s, qty_cancelled = l.qty_cancelled + u.c,"
   " qty_returned = l.qty_returned + u.r"
   " FROM unnest($3::int4[], $4::int4[], $5::int4[], $6::int4[]) AS u (line_no, s, c, r)"
   " WHERE l.channel_id = $1 AND l.order_id = $2 AND l.line_no = u.line_no",
   6, {TEXTOID, TEXTOID, INT4ARRAYOID, INT4ARRAYOID, INT4ARRAYOID, INT4ARRAYOID}},
  {"UPDATE channel_sync.orders AS o SET state = $3, updated_at = GREATEST(o.updated_at, $4)"
   " WHERE o.channel_id = $1 AND o.order_id = $2", 4, {TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID}},
  {"INSERT INTO channel_sync.stock_counts AS c (sku, location_id, counted_at, event_id) VALUES ($1, $2, $3, $4)"
   " ON CONFLICT (sku, location_id) DO UPDATE SET counted_at = excluded.counted_at, event_id = excluded.event_id"
   " WHERE c.counted_at <= excluded.counted_at RETURNING 1", 4, {TEXTOID, TEXTOID, TIMESTAMPTZOID, INT8OID}},
  {"SELECT c.event_id FROM channel_sync.stock_counts AS c WHERE c.sku = $1 AND c.location_id = $2", 2, {TEXTOID, TEXTOID}},
  {"INSERT INTO channel_sync.listings AS l (channel_id, sku, observed_qty, observed_price, observed_at)"
   " VALUES ($1, $2, $3, $4::numeric, $5) ON CONFLICT (channel_id, sku) DO UPDATE SET observed_qty = excluded.observed_qty,"
   " observed_price = COALESCE(excluded.observed_price, l.observed_price), observed_at = excluded.observed_at"
   " WHERE l.observed_at IS NULL OR l.observed_at <= excluded.observed_at RETURNING 1",
   5, {TEXTOID, TEXTOID, INT4OID, TEXTOID, TIMESTAMPTZOID}},
  {"SELECT e.channel_id FROM channel_sync.events AS e WHERE e.event_id = $1", 1, {INT8OID}},
  {"SELECT e.channel_id, e.idempotency_key, e.event_type, e.payload, e.occurred_at, e.status, e.first_event_id, e.detail"
   " FROM channel_sync.events AS e WHERE e.event_id = $1 FOR UPDATE", 1, {INT8OID}},
  {"UPDATE channel_sync.events SET status = $2, detail = $3 WHERE event_id = $1", 3, {INT8OID, TEXTOID, TEXTOID}},
  {"SELECT pg_catalog.jsonb_typeof(t.e), t.e ->> 'idempotency_key', pg_catalog.jsonb_typeof(t.e -> 'idempotency_key'),"
   " t.e ->> 'event_type', pg_catalog.jsonb_typeof(t.e -> 'event_type'), t.e -> 'payload',"
   " t.e ->> 'occurred_at', pg_catalog.jsonb_typeof(t.e -> 'occurred_at'), t.e"
   " FROM pg_catalog.jsonb_array_elements($1) WITH ORDINALITY AS t (e, ord) ORDER BY t.ord", 1, {JSONBOID}},
  // one-SKU and one-line forms of the statements above, planned once (the common case)
  {"UPDATE channel_sync.stock AS s SET on_hand = s.on_hand + $3, reserved = GREATEST(0, s.reserved + $4)"
   " WHERE s.sku = $1 AND s.location_id = $2 RETURNING s.sku, s.location_id",
   4, {TEXTOID, TEXTOID, INT4OID, INT4OID}},
  // set-based forms for a run of order_placed events in ingest_batch()
  // in key order, as write_events inserts them (two batches with the same keys in another order
  // wait for each other instead of deadlocking), a key's first delivery first; here the event ids
  // follow the keys too
  {"INSERT INTO channel_sync.events AS e (channel_id, idempotency_key, event_type, payload, occurred_at, fingerprint, status)"
   " SELECT $1, u.k, 'order_placed', u.p, u.t, u.f, 'applied'"
   " FROM unnest($2::text[], $3::jsonb[], $4::timestamptz[], $5::uuid[]) WITH ORDINALITY AS u (k, p, t, f, n)"
   " ORDER BY u.k COLLATE \"C\", u.n"
   " ON CONFLICT (channel_id, idempotency_key) WHERE first_event_id IS NULL DO NOTHING RETURNING e.idempotency_key, e.event_id",
   5, {TEXTOID, TEXTARRAYOID, JSONBARRAYOID, TIMESTAMPTZARRAYOID, UUIDARRAYOID}},
  {"SELECT s.sku, s.kind FROM channel_sync.skus AS s WHERE s.sku IN (SELECT pg_catalog.unnest($1))", 1, {TEXTARRAYOID}},
  {"SELECT a.external_id, s.sku, s.kind FROM channel_sync.sku_aliases AS a JOIN channel_sync.skus AS s ON s.sku = a.sku"
   " WHERE a.channel_id = $1 AND a.external_id IN (SELECT pg_catalog.unnest($2))", 2, {TEXTOID, TEXTARRAYOID}},
  {"SELECT b.bundle_sku, b.component_sku, b.qty_per FROM channel_sync.bundle_components AS b"
   " WHERE b.bundle_sku IN (SELECT pg_catalog.unnest($1)) ORDER BY 1, 2", 1, {TEXTARRAYOID}},
  {"INSERT INTO channel_sync.orders AS o (channel_id, order_id, state, oversold, placed_at, updated_at, event_id)"
   " SELECT $1, u.o, 'placed', u.x, u.t, u.t, u.e FROM unnest($2::text[], $3::bool[], $4::timestamptz[], $5::int8[]) AS u (o, x, t, e)"
   " ON CONFLICT (channel_id, order_id) DO NOTHING RETURNING o.order_id",
   5, {TEXTOID, TEXTARRAYOID, BOOLARRAYOID, TIMESTAMPTZARRAYOID, INT8ARRAYOID}},
  {CS_BULK_INSERT_LINES(", placed_at", ", $9::timestamptz[]"), 9, CS_BULK_INSERT_LINES_TYPES},
  {"UPDATE channel_sync.events AS e SET status = u.s, detail = u.d"
   " FROM unnest($1::int8[], $2::text[], $3::text[]) AS u (id, s, d) WHERE e.event_id = u.id",
   3, {INT8ARRAYOID, TEXTARRAYOID, TEXTARRAYOID}},
  {CS_ORDER_LINE1(", placed_at", ", $4"), 10, CS_ORDER_LINE1_TYPES},
  {"UPDATE channel_sync.orders AS o SET oversold = $3 WHERE o.channel_id = $1 AND o.order_id = $2",
   3, {TEXTOID, TEXTOID, BOOLOID}},
  {"DELETE FROM channel_sync.order_lines AS l WHERE l.channel_id = $1 AND l.order_id = $2",
   2, {TEXTOID, TEXTOID}},
  {CS_INSERT_LINES("", ""), 9, CS_INSERT_LINES_TYPES},
  {CS_BULK_INSERT_LINES("", ""), 9, CS_BULK_INSERT_LINES_TYPES},
  {CS_ORDER_LINE1("", ""), 10, CS_ORDER_LINE1_TYPES},
};
// clang-format on

SPIPlanPtr plans[P_COUNT];

// The kept plan for id, prepared on first use in this session.
SPIPlanPtr plan_for(plan_id id) {
  if (plans[id] != nullptr) return plans[id];
  const plan_def* d = &kPlans[id];
  // Planned once, generically, statements over arrays too: a custom plan of a 1,000-element
  // `= ANY` cost more in selectivity estimates than the statement took to run. Sets are
  // joined as `IN (SELECT unnest(...))`, which the generic plan hashes or probes an index
  // with; a parameter array under `= ANY` is compared element by element with every row.
  SPIPlanPtr p = guard([&] {
    return cs::pg::prepare_kept_plan(d->sql, d->nargs, d->types, CURSOR_OPT_GENERIC_PLAN);
  });
  plans[id] = p;
  return p;
}

// Arguments of one statement.
struct args {
  Datum values[10];
  char nulls[10];
  int n = 0;
  args& datum(Datum d) {
    values[n] = d;
    nulls[n++] = ' ';
    return *this;
  }
  args& null() {
    values[n] = 0;
    nulls[n++] = 'n';
    return *this;
  }
  args& text(const std::string& s) { return datum(PointerGetDatum(cs::pg::string_to_text(s))); }
  args& opt_text(const std::optional<std::string>& s) { return s ? text(*s) : null(); }
  args& int4(int32_t v) { return datum(Int32GetDatum(v)); }
  args& int8(int64_t v) { return datum(Int64GetDatum(v)); }
  args& boolean(bool v) { return datum(BoolGetDatum(v)); }
  args& ts(TimestampTz t) { return datum(TimestampTzGetDatum(t)); }
};

// The result of the last statement; SPI frees it with the call's SPI context.
struct rows {
  SPITupleTable* table = nullptr;
  uint64 count = 0;

  bool is_null(uint64 row, int col) const {
    SPITupleTable* t = table;
    bool isnull = false;
    guard([&] { SPI_getbinval(t->vals[row], t->tupdesc, col, &isnull); });
    return isnull;
  }
  Datum value(uint64 row, int col) const {
    SPITupleTable* t = table;
    return guard([&] {
      bool isnull;
      return SPI_getbinval(t->vals[row], t->tupdesc, col, &isnull);
    });
  }
  std::string text(uint64 row, int col) const {
    if (is_null(row, col)) return {};
    return cs::pg::text_to_string(value(row, col));
  }
  std::optional<std::string> opt_text(uint64 row, int col) const {
    if (is_null(row, col)) return std::nullopt;
    return cs::pg::text_to_string(value(row, col));
  }
  int32_t int4(uint64 row, int col) const { return DatumGetInt32(value(row, col)); }
  int64_t int8(uint64 row, int col) const { return DatumGetInt64(value(row, col)); }
};

// Runs a prepared statement.
rows run(plan_id id, const args& a) {
  if (a.n != kPlans[id].nargs) throw std::logic_error("channel_sync: wrong argument count");
  SPIPlanPtr p = plan_for(id);
  const args* ap = &a;
  int rc = guard(
      [&] { return SPI_execute_plan(p, const_cast<Datum*>(ap->values), ap->nulls, false, 0); });
  if (rc < 0)
    throw std::runtime_error(std::string("SPI_execute_plan: ") + SPI_result_code_string(rc));
  return rows{SPI_tuptable, SPI_processed};
}

// The write of order lines id, or its form without placed_at while the install is older
// than 0.4.0 (between a package upgrade and ALTER EXTENSION channel_sync UPDATE).
plan_id timed_lines(plan_id id) {
  if (guard([] { return cs::pg::cs_table_has_column("order_lines", "placed_at"); })) return id;
  switch (id) {
    case P_INSERT_LINES:
      return P_INSERT_LINES_UNTIMED;
    case P_BULK_INSERT_LINES:
      return P_BULK_INSERT_LINES_UNTIMED;
    default:
      return P_ORDER_LINE1_UNTIMED;
  }
}

Datum text_array(const std::vector<std::string>& v) {
  int n = static_cast<int>(v.size());
  Datum* elems =
      static_cast<Datum*>(guard([&] { return palloc(sizeof(Datum) * (n > 0 ? n : 1)); }));
  for (int i = 0; i < n; ++i) elems[i] = PointerGetDatum(cs::pg::string_to_text(v[i]));
  return guard(
      [&] { return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT)); });
}

Datum int_array(const std::vector<int32_t>& v) {
  int n = static_cast<int>(v.size());
  Datum* elems =
      static_cast<Datum*>(guard([&] { return palloc(sizeof(Datum) * (n > 0 ? n : 1)); }));
  for (int i = 0; i < n; ++i) elems[i] = Int32GetDatum(v[i]);
  return guard(
      [&] { return PointerGetDatum(construct_array(elems, n, INT4OID, 4, true, TYPALIGN_INT)); });
}

// An array of Datums of one element type; a null element where nulls says so.
Datum datum_array(const std::vector<Datum>& elems, const std::vector<bool>& nulls, Oid type,
                  int16 len, bool byval, char align) {
  int n = static_cast<int>(elems.size());
  const Datum* values = elems.data();
  bool* isnull = static_cast<bool*>(guard([&] { return palloc(sizeof(bool) * (n > 0 ? n : 1)); }));
  for (int i = 0; i < n; ++i) isnull[i] = !nulls.empty() && nulls[i];
  return guard([&] {
    int dims[1] = {n};
    int lbs[1] = {1};
    return PointerGetDatum(construct_md_array(const_cast<Datum*>(values), isnull, 1, dims, lbs,
                                              type, len, byval, align));
  });
}

Datum opt_text_array(const std::vector<std::optional<std::string>>& v) {
  std::vector<Datum> elems;
  std::vector<bool> nulls;
  for (const auto& s : v) {
    elems.push_back(s ? PointerGetDatum(cs::pg::string_to_text(*s)) : Datum(0));
    nulls.push_back(!s);
  }
  return datum_array(elems, nulls, TEXTOID, -1, false, TYPALIGN_INT);
}

Datum uuid_datum(const ig::fingerprint& f) {
  pg_uuid_t* u = static_cast<pg_uuid_t*>(guard([&] { return palloc(sizeof(pg_uuid_t)); }));
  std::copy(f.begin(), f.end(), u->data);
  return UUIDPGetDatum(u);
}

// jsonb's canonical text (keys sorted, whitespace normalized).
std::string jsonb_text(Datum d) {
  char* s = guard([&] {
    Jsonb* jb = DatumGetJsonbP(d);
    return JsonbToCString(nullptr, &jb->root, VARSIZE(jb));
  });
  return std::string(s);
}

Datum jsonb_null() {
  return guard([&] { return DirectFunctionCall1(jsonb_in, CStringGetDatum("null")); });
}

using ig::quote;

// ---------------------------------------------------------------------------------
// The outcome of one event

struct outcome {
  int64_t event_id = 0;
  std::string status;
  std::optional<std::string> detail;
};

// What the effect of an event came to.
struct effect {
  std::string status = "applied";
  std::optional<std::string> detail;
};

effect rejected(std::string why) {
  return effect{"rejected", std::move(why)};
}

// Per-call state: the channel and what this call already looked up.
struct call_context {
  std::string channel;
  std::optional<std::vector<std::string>> feeding;
  std::map<std::string, std::vector<std::pair<std::string, int32_t>>> components;
};

// A resolved SKU.
struct sku_info {
  std::string sku;
  bool bundle = false;
};

// The active locations that feed channel, in key order: those channel_locations lists for
// it, or every active one when it lists none. Direct index scans. Plain C frame.
void feeding_locations(const char* channel, char*** out, int* count) {
  Relation locs = cs::pg::open_cs_relation("locations", AccessShareLock);
  Relation locs_pk = cs::pg::open_cs_relation("locations_pkey", AccessShareLock);
  Relation feeds = cs::pg::open_cs_relation("channel_locations", AccessShareLock);
  Relation feeds_pk = cs::pg::open_cs_relation("channel_locations_pkey", AccessShareLock);
  if (locs == nullptr || locs_pk == nullptr || feeds == nullptr || feeds_pk == nullptr)
    elog(ERROR, "channel_sync: locations or channel_locations is missing");
  AttrNumber loc_id = cs::pg::column_number(locs, "location_id");
  AttrNumber loc_active = cs::pg::column_number(locs, "active");
  AttrNumber feed_loc = cs::pg::column_number(feeds, "location_id");
  Snapshot snap = cs::pg::begin_fresh_read();
  HeapTuple *all = nullptr, *listed = nullptr;
  int nall = 0, nlisted = 0;
  cs::pg::fetch_by_key(locs, locs_pk, 0, nullptr, nullptr, snap, &all, &nall);
  Datum key = CStringGetTextDatum(channel);
  cs::pg::fetch_by_key(feeds, feeds_pk, 1, &key, nullptr, snap, &listed, &nlisted);
  char** names = static_cast<char**>(palloc(sizeof(char*) * (nall > 0 ? nall : 1)));
  int n = 0;
  for (int i = 0; i < nall; ++i) {
    bool isnull = false;
    if (!DatumGetBool(heap_getattr(all[i], loc_active, RelationGetDescr(locs), &isnull))) continue;
    char* id = TextDatumGetCString(heap_getattr(all[i], loc_id, RelationGetDescr(locs), &isnull));
    bool feeds_channel = nlisted == 0;
    for (int k = 0; k < nlisted && !feeds_channel; ++k) {
      char* l =
          TextDatumGetCString(heap_getattr(listed[k], feed_loc, RelationGetDescr(feeds), &isnull));
      feeds_channel = strcmp(l, id) == 0;
    }
    if (feeds_channel) names[n++] = id;
  }
  cs::pg::end_fresh_read();
  relation_close(feeds_pk, AccessShareLock);
  relation_close(feeds, AccessShareLock);
  relation_close(locs_pk, AccessShareLock);
  relation_close(locs, AccessShareLock);
  *out = names;
  *count = n;
}

// Looks up a SKU by canonical id or the channel's external id; nullopt if unknown.
std::optional<sku_info> resolve(call_context& cx, const ig::item_ref& item) {
  if (item.external) {
    rows r = run(P_ALIAS, args().text(cx.channel).text(item.id));
    if (r.count == 0) return std::nullopt;
    return sku_info{r.text(0, 1), r.text(0, 2) == "bundle"};
  }
  const char* id = item.id.c_str();
  bool found = false;
  const char* kind = cs::pg::guard(
      [&] { return cs::pg::text_by_unique_key("skus", "skus_pkey", id, "kind", &found); });
  if (!found) return std::nullopt;
  return sku_info{item.id, kind != nullptr && std::strcmp(kind, "bundle") == 0};
}

std::string unknown_item(const call_context& cx, const ig::item_ref& item) {
  return ig::unknown_item(cx.channel, item);
}

// A bundle's components (sku, qty_per), cached for the call.
const std::vector<std::pair<std::string, int32_t>>& components(call_context& cx,
                                                               const std::string& bundle) {
  auto it = cx.components.find(bundle);
  if (it != cx.components.end()) return it->second;
  rows r = run(P_COMPONENTS, args().text(bundle));
  std::vector<std::pair<std::string, int32_t>> parts;
  for (uint64 i = 0; i < r.count; ++i) parts.emplace_back(r.text(i, 1), r.int4(i, 2));
  return cx.components.emplace(bundle, std::move(parts)).first->second;
}

// The active locations that feed the channel, sorted.
const std::vector<std::string>& feeding(call_context& cx) {
  if (!cx.feeding) {
    const char* channel = cx.channel.c_str();
    char** names = nullptr;
    int n = 0;
    cs::pg::guard([&] { feeding_locations(channel, &names, &n); });
    cx.feeding = std::vector<std::string>(names, names + n);
  }
  return *cx.feeding;
}

bool location_exists(const std::string& loc) {
  return run(P_LOCATION, args().text(loc)).count > 0;
}

// The stock of n_skus SKUs at n_locs locations (both in key order, so every caller locks in
// the same order), each row locked as SELECT ... FOR UPDATE locks it: the latest version, after
// waiting for a concurrent writer. Direct key lookups. Row k = sku k / n_locs, location
// k % n_locs; levels: on_hand, reserved, safety_stock per row; found[k] false where there is
// no row. peeked: where peek_stock_rows found the rows (nullptr: not read before); a row is
// locked there (following its updates), and looked up by key where it was not found or is
// gone. Plain C frame.
void lock_stock_rows(const char* const* skus, int n_skus, const char* const* locs, int n_locs,
                     int32* levels, bool* found, const ItemPointerData* peeked) {
  Relation heap = cs::pg::open_cs_relation("stock", RowShareLock);
  Relation key = cs::pg::open_cs_relation("stock_pkey", RowShareLock);
  if (heap == nullptr || key == nullptr)
    elog(ERROR, "channel_sync: stock or stock_pkey is missing");
  AttrNumber att[3] = {cs::pg::column_number(heap, "on_hand"),
                       cs::pg::column_number(heap, "reserved"),
                       cs::pg::column_number(heap, "safety_stock")};
  TupleTableSlot* row = table_slot_create(heap, nullptr);
  for (int k = 0; k < n_skus * n_locs; ++k) {
    CHECK_FOR_INTERRUPTS();
    Datum keys[2] = {CStringGetTextDatum(skus[k / n_locs]), CStringGetTextDatum(locs[k % n_locs])};
    found[k] = peeked != nullptr && ItemPointerIsValid(&peeked[k]) &&
               cs::pg::lock_row_at(heap, &peeked[k], row);
    if (!found[k]) found[k] = cs::pg::lock_row_by_key(heap, key, 2, keys, row);
    for (int j = 0; j < 3 && found[k]; ++j) {
      bool isnull = false;
      levels[3 * k + j] = DatumGetInt32(slot_getattr(row, att[j], &isnull));
    }
    pfree(DatumGetPointer(keys[0]));
    pfree(DatumGetPointer(keys[1]));
  }
  ExecDropSingleTupleTableSlot(row);
  relation_close(key, RowShareLock);
  relation_close(heap, NoLock);
}

// The stock rows lock_stock_rows would return, read without locking them (the last committed
// version, not waiting for a concurrent writer), and where they are: one lookup per SKU.
// Plain C frame.
void peek_stock_rows(const char* const* skus, int n_skus, const char* const* locs, int n_locs,
                     int32* levels, bool* found, ItemPointerData* tids) {
  Relation heap = cs::pg::open_cs_relation("stock", AccessShareLock);
  Relation key = cs::pg::open_cs_relation("stock_pkey", AccessShareLock);
  if (heap == nullptr || key == nullptr)
    elog(ERROR, "channel_sync: stock or stock_pkey is missing");
  TupleDesc desc = RelationGetDescr(heap);
  AttrNumber location = cs::pg::column_number(heap, "location_id");
  AttrNumber att[3] = {cs::pg::column_number(heap, "on_hand"),
                       cs::pg::column_number(heap, "reserved"),
                       cs::pg::column_number(heap, "safety_stock")};
  for (int k = 0; k < n_skus * n_locs; ++k) found[k] = false;
  Snapshot snap = cs::pg::begin_fresh_read();
  for (int s = 0; s < n_skus; ++s) {
    CHECK_FOR_INTERRUPTS();
    Datum sku = CStringGetTextDatum(skus[s]);
    HeapTuple* rows = nullptr;
    int count = 0;
    cs::pg::fetch_by_key(heap, key, 1, &sku, nullptr, snap, &rows, &count);
    for (int r = 0; r < count; ++r) {
      bool isnull = false;
      char* loc = TextDatumGetCString(heap_getattr(rows[r], location, desc, &isnull));
      for (int l = 0; l < n_locs; ++l) {
        if (strcmp(loc, locs[l]) != 0) continue;
        int k = s * n_locs + l;
        found[k] = true;
        if (tids != nullptr) tids[k] = rows[r]->t_self;
        for (int j = 0; j < 3; ++j)
          levels[3 * k + j] = DatumGetInt32(heap_getattr(rows[r], att[j], desc, &isnull));
      }
      pfree(loc);
      heap_freetuple(rows[r]);
    }
    pfree(rows);
    pfree(DatumGetPointer(sku));
  }
  cs::pg::end_fresh_read();
  relation_close(key, AccessShareLock);
  relation_close(heap, AccessShareLock);
}

// The state of each of n orders of the channel (order ids in key order, so every caller locks
// in the same order), each row locked as SELECT ... FOR UPDATE locks it. Direct key lookups:
// a statement planned while orders was empty would scan the table for the rest of the session.
// states[k] is NULL where there is no such order. Plain C frame.
void lock_order_rows(const char* channel, const char* const* order_ids, int n, char** states) {
  Relation heap = cs::pg::open_cs_relation("orders", RowShareLock);
  Relation key = cs::pg::open_cs_relation("orders_pkey", RowShareLock);
  if (heap == nullptr || key == nullptr)
    elog(ERROR, "channel_sync: orders or orders_pkey is missing");
  AttrNumber state = cs::pg::column_number(heap, "state");
  TupleTableSlot* row = table_slot_create(heap, nullptr);
  Datum channel_key = CStringGetTextDatum(channel);
  for (int k = 0; k < n; ++k) {
    CHECK_FOR_INTERRUPTS();
    Datum keys[2] = {channel_key, CStringGetTextDatum(order_ids[k])};
    states[k] = nullptr;
    if (cs::pg::lock_row_by_key(heap, key, 2, keys, row)) {
      bool isnull = false;
      Datum value = slot_getattr(row, state, &isnull);
      if (!isnull) states[k] = TextDatumGetCString(value);
    }
    pfree(DatumGetPointer(keys[1]));
  }
  pfree(DatumGetPointer(channel_key));
  ExecDropSingleTupleTableSlot(row);
  relation_close(key, RowShareLock);
  relation_close(heap, NoLock);
}

std::vector<std::string> sorted_distinct(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

// The existing orders among order_ids, locked, and their states.
std::map<std::string, std::string> lock_orders(const std::string& channel,
                                               const std::vector<std::string>& order_ids) {
  std::vector<std::string> ids = sorted_distinct(order_ids);
  if (ids.empty()) return {};
  std::vector<const char*> names;
  for (const std::string& id : ids) names.push_back(id.c_str());
  std::vector<char*> states(ids.size() + 1, nullptr);
  const char* ch = channel.c_str();
  const char* const* np = names.data();
  int n = static_cast<int>(ids.size());
  char** sp = states.data();
  cs::pg::guard([&] { lock_order_rows(ch, np, n, sp); });
  std::map<std::string, std::string> out;
  for (size_t k = 0; k < ids.size(); ++k)
    if (sp[k] != nullptr) out.emplace(ids[k], sp[k]);
  return out;
}

enum class stock_read { lock, peek };

// The stock rows of skus at locs (every pair that exists), locked FOR UPDATE in key order (or
// peeked: read, not locked). where: the rows' places, filled by a peek and used by a lock of
// the same rows after it.
std::vector<std::pair<std::string, ig::stock_level>> lock_stock(
    const std::vector<std::string>& sku_list, const std::vector<std::string>& loc_list,
    stock_read how = stock_read::lock, std::vector<ItemPointerData>* where = nullptr) {
  std::vector<std::string> skus = sorted_distinct(sku_list), locs = sorted_distinct(loc_list);
  std::vector<const char*> sku_names, loc_names;
  for (const std::string& s : skus) sku_names.push_back(s.c_str());
  for (const std::string& l : locs) loc_names.push_back(l.c_str());
  size_t n = skus.size() * locs.size();
  std::vector<int32> levels(3 * n + 1);
  std::unique_ptr<bool[]> found(new bool[n + 1]);
  const char* const* sp = sku_names.data();
  const char* const* lp = loc_names.data();
  int ns = static_cast<int>(skus.size()), nl = static_cast<int>(locs.size());
  int32* vp = levels.data();
  bool* fp = found.get();
  if (where != nullptr && how == stock_read::peek) {
    where->assign(n + 1, ItemPointerData{});
    for (ItemPointerData& tid : *where) ItemPointerSetInvalid(&tid);
  }
  const ItemPointerData* peeked =
      where != nullptr && where->size() == n + 1 ? where->data() : nullptr;
  ItemPointerData* tids = where != nullptr ? where->data() : nullptr;
  if (how == stock_read::lock)
    cs::pg::guard([&] { lock_stock_rows(sp, ns, lp, nl, vp, fp, peeked); });
  else
    cs::pg::guard([&] { peek_stock_rows(sp, ns, lp, nl, vp, fp, tids); });
  std::vector<std::pair<std::string, ig::stock_level>> out;
  for (size_t k = 0; k < n; ++k) {
    if (!fp[k]) continue;
    ig::stock_level l;
    l.location_id = locs[k % locs.size()];
    l.on_hand = vp[3 * k];
    l.reserved = vp[3 * k + 1];
    l.safety_stock = vp[3 * k + 2];
    out.emplace_back(skus[k / locs.size()], l);
  }
  return out;
}

// Changes to stock, summed per (sku, location): on_hand and reserved deltas.
struct stock_changes {
  std::map<std::pair<std::string, std::string>, std::pair<int64_t, int64_t>> by_key;
  void add(const std::string& sku, const std::string& loc, int64_t on_hand, int64_t reserved) {
    auto& v = by_key[{sku, loc}];
    v.first += on_hand;
    v.second += reserved;
  }
};

// The changes by an UPDATE statement (its trigger re-targets), and an INSERT of the rows that
// do not exist yet.
void write_stock_sql(const std::vector<std::string>& skus, const std::vector<std::string>& locs,
                     const std::vector<int32_t>& dh, const std::vector<int32_t>& dr) {
  rows r = skus.size() == 1
               ? run(P_STOCK_DELTA1, args().text(skus[0]).text(locs[0]).int4(dh[0]).int4(dr[0]))
               : run(P_STOCK_DELTA, args()
                                        .datum(text_array(skus))
                                        .datum(text_array(locs))
                                        .datum(int_array(dh))
                                        .datum(int_array(dr)));
  if (r.count == skus.size()) return;
  std::vector<std::pair<std::string, std::string>> found;
  for (uint64 i = 0; i < r.count; ++i) found.emplace_back(r.text(i, 1), r.text(i, 2));
  std::vector<std::string> ms, ml;
  std::vector<int32_t> mh, mr;
  for (size_t i = 0; i < skus.size(); ++i) {
    if (std::find(found.begin(), found.end(), std::make_pair(skus[i], locs[i])) != found.end())
      continue;
    ms.push_back(skus[i]);
    ml.push_back(locs[i]);
    mh.push_back(dh[i]);
    mr.push_back(dr[i]);
  }
  run(P_STOCK_INSERT,
      args().datum(text_array(ms)).datum(text_array(ml)).datum(int_array(mh)).datum(int_array(mr)));
}

// Lends the caller's locked stock rows to the re-targets run meanwhile (use_locked_stock).
struct locked_stock_scope {
  explicit locked_stock_scope(const std::vector<cs::allocation::locked_stock_row>* rows) {
    cs::allocation::use_locked_stock(rows);
  }
  ~locked_stock_scope() { cs::allocation::use_locked_stock(nullptr); }
  locked_stock_scope(const locked_stock_scope&) = delete;
  locked_stock_scope& operator=(const locked_stock_scope&) = delete;
};

// The stock rows updated in place, then what the stock trigger would re-target (see
// stock_writes_pg.hpp); rows without a stock row yet, or that would fail a constraint, go
// through SQL as before. False: stock carries someone else's trigger, nothing written.
// locked: the stock rows the caller holds locked, as written (nullptr: none), which the
// re-target then takes instead of reading the table again (use_locked_stock).
bool write_stock_direct(const std::vector<std::string>& skus, const std::vector<std::string>& locs,
                        const std::vector<int32_t>& dh, const std::vector<int32_t>& dr,
                        const std::vector<cs::allocation::locked_stock_row>* locked) {
  std::vector<ig::pg::stock_delta> deltas(skus.size());
  for (size_t k = 0; k < skus.size(); ++k)
    deltas[k] = {
        skus[k].c_str(), locs[k].c_str(), dh[k], dr[k], ig::pg::stock_delta::missing, false};
  ig::pg::stock_delta* d = deltas.data();
  int n = static_cast<int>(deltas.size());
  if (!guard([&] { return ig::pg::update_stock(d, n); })) return false;
  std::vector<std::string> changed, sql_skus, sql_locs;
  std::vector<int32_t> sql_dh, sql_dr;
  for (size_t k = 0; k < deltas.size(); ++k) {
    if (deltas[k].outcome == ig::pg::stock_delta::written) {
      if (deltas[k].changed) changed.push_back(skus[k]);
      continue;
    }
    sql_skus.push_back(skus[k]);
    sql_locs.push_back(locs[k]);
    sql_dh.push_back(dh[k]);
    sql_dr.push_back(dr[k]);
  }
  {
    locked_stock_scope scope(locked);
    cs::propagation::retarget_changed_stock(changed);
  }
  if (!sql_skus.empty()) write_stock_sql(sql_skus, sql_locs, sql_dh, sql_dr);
  return true;
}

// Writes stock changes: in place where it can (write_stock_direct), else with SQL.
void write_stock(const stock_changes& c,
                 const std::vector<cs::allocation::locked_stock_row>* locked = nullptr) {
  std::vector<std::string> skus, locs;
  std::vector<int32_t> dh, dr;
  for (const auto& [key, v] : c.by_key) {
    if (v.first == 0 && v.second == 0) continue;
    skus.push_back(key.first);
    locs.push_back(key.second);
    dh.push_back(static_cast<int32_t>(v.first));
    dr.push_back(static_cast<int32_t>(v.second));
  }
  if (!skus.empty() && !write_stock_direct(skus, locs, dh, dr, locked))
    write_stock_sql(skus, locs, dh, dr);
}

// An order to place and its lines, for place_orders_direct().
struct order_to_place {
  std::string order_id;
  bool oversold = false;
  TimestampTz at = 0;
  int64_t event_id = 0;  // inserted, or locked FOR UPDATE, by this transaction
};
using order_line_row = ig::line_to_place;

// Inserts the lines of one order with SQL (placed_at: the order's).
void insert_lines_sql(const call_context& cx, const std::string& order_id,
                      const std::vector<order_line_row>& lines, TimestampTz placed_at) {
  std::vector<std::string> sku, loc, sold;
  std::vector<int32_t> line_no, qty, per;
  for (const order_line_row& l : lines) {
    sku.push_back(l.sku);
    loc.push_back(l.location);
    sold.push_back(l.sold_sku);
    line_no.push_back(l.line_no);
    qty.push_back(l.qty);
    per.push_back(l.per);
  }
  run(timed_lines(P_INSERT_LINES), args()
                                       .text(cx.channel)
                                       .text(order_id)
                                       .datum(int_array(line_no))
                                       .datum(text_array(sku))
                                       .datum(text_array(loc))
                                       .datum(int_array(qty))
                                       .datum(text_array(sold))
                                       .datum(int_array(per))
                                       .ts(placed_at));
}

// Inserts orders (skipping those that exist) and the lines of those it placed without SQL
// (direct_writes_pg.hpp). nullopt: the tables carry a user's trigger, column or policy, and
// nothing was written (the caller uses SQL); else whether every order was placed.
std::optional<bool> place_orders_direct(const call_context& cx,
                                        const std::vector<order_to_place>& orders,
                                        const std::vector<std::vector<order_line_row>>& lines) {
  std::vector<cs::ingest::pg::order_row> o;
  std::vector<cs::ingest::pg::line_row> l;
  for (size_t k = 0; k < orders.size(); ++k) {
    o.push_back({orders[k].order_id.c_str(), orders[k].oversold, orders[k].at, orders[k].event_id});
    for (const order_line_row& r : lines[k])
      l.push_back({static_cast<int>(k), r.line_no, r.sku.c_str(), r.location.c_str(), r.qty,
                   r.sold_sku.c_str(), r.per});
  }
  std::unique_ptr<bool[]> placed(new bool[orders.size() + 1]);
  const char* channel = cx.channel.c_str();
  const cs::ingest::pg::order_row* op = o.data();
  const cs::ingest::pg::line_row* lp = l.data();
  int n = static_cast<int>(o.size()), nl = static_cast<int>(l.size());
  bool* pp = placed.get();
  if (!guard([&] { return cs::ingest::pg::write_orders(channel, op, n, lp, nl, pp); }))
    return std::nullopt;
  return std::all_of(pp, pp + n, [](bool b) { return b; });
}

// ---------------------------------------------------------------------------------
// Effects, one per event type. Each validates everything before its first write.

struct event_call {
  call_context* cx;
  const ig::event* ev;
  int64_t event_id;
  TimestampTz occurred_at;
};

// order_placed: reserve stock, record the order and its lines.

// A resolved SKU as the order planner takes it: with its components when it is a bundle
// (components_of(sku) looks them up).
template <typename F>
std::optional<ig::resolved_item> planner_item(const std::optional<sku_info>& s, F&& components_of) {
  if (!s) return std::nullopt;
  ig::resolved_item r{s->sku, s->bundle, {}};
  if (s->bundle) r.components = components_of(s->sku);
  return r;
}

// An item with its components when it is a bundle (looked up for the call), or nullopt.
std::optional<ig::resolved_item> resolve_item(call_context& cx, const ig::item_ref& item) {
  return planner_item(resolve(cx, item),
                      [&](const std::string& bundle) { return components(cx, bundle); });
}

// Inserts the order and its lines and writes the stock; false when the order exists already.
bool place_order(const event_call& c, bool oversold, const std::vector<order_line_row>& lines,
                 const stock_changes& changes) {
  const call_context& cx = *c.cx;
  const std::string& order_id = c.ev->order_id;
  std::optional<bool> direct =
      place_orders_direct(cx, {{order_id, oversold, c.occurred_at, c.event_id}}, {lines});
  if (direct) {
    if (!*direct) return false;
    write_stock(changes);
  } else if (lines.size() == 1) {
    const order_line_row& l = lines[0];
    rows placed = run(timed_lines(P_ORDER_LINE1), args()
                                                      .text(cx.channel)
                                                      .text(order_id)
                                                      .boolean(oversold)
                                                      .ts(c.occurred_at)
                                                      .int8(c.event_id)
                                                      .text(l.sku)
                                                      .text(l.location)
                                                      .int4(l.qty)
                                                      .text(l.sold_sku)
                                                      .int4(l.per));
    if (placed.int8(0, 1) == 0) return false;
    if (placed.int8(0, 2) == 0) write_stock(changes);  // no stock row there yet
  } else {
    rows ins = run(P_INSERT_ORDER, args()
                                       .text(cx.channel)
                                       .text(order_id)
                                       .boolean(oversold)
                                       .ts(c.occurred_at)
                                       .int8(c.event_id));
    if (ins.count == 0) return false;
    write_stock(changes);
    insert_lines_sql(cx, order_id, lines, c.occurred_at);
  }
  return true;
}

effect apply_order_placed(const event_call& c) {
  call_context& cx = *c.cx;
  const ig::event& ev = *c.ev;
  const std::vector<std::string>& locs = feeding(cx);
  if (locs.empty()) return rejected("no active location feeds channel " + quote(cx.channel));
  std::vector<ig::order_part> parts;
  ig::item_resolver resolve_here = [&](const ig::item_ref& item) { return resolve_item(cx, item); };
  if (std::optional<std::string> why = ig::order_parts(ev, cx.channel, locs, resolve_here, parts))
    return rejected(*why);

  // lock the stock of every SKU at every feeding location, in key order
  std::vector<std::string> skus;
  for (const ig::order_part& p : parts) skus.push_back(p.sku);
  std::map<ig::stock_key, ig::stock_level> levels;
  for (auto& [sku, l] : lock_stock(skus, locs)) levels[{sku, l.location_id}] = l;
  ig::order_plan plan = ig::plan_order(std::move(parts), locs, levels);

  stock_changes changes;
  for (const auto& [key, units] : plan.reserve) changes.add(key.first, key.second, 0, units);
  if (!place_order(c, plan.oversold.has_value(), plan.lines, changes)) {
    rows st = run(P_ORDER, args().text(cx.channel).text(ev.order_id));
    std::string state = st.count > 0 ? st.text(0, 1) : "placed";
    return rejected("invalid transition for order " + quote(ev.order_id) + ": " + state +
                    " -> placed");
  }
  effect e;
  e.detail = plan.oversold;
  return e;
}

// The order's lines, locked.
std::vector<ig::order_line> lock_lines(const std::string& channel, const std::string& order_id) {
  rows r = run(P_LINES, args().text(channel).text(order_id));
  std::vector<ig::order_line> lines;
  for (uint64 i = 0; i < r.count; ++i) {
    ig::order_line l;
    l.line_no = r.int4(i, 1);
    l.sku = r.text(i, 2);
    l.location_id = r.text(i, 3);
    l.sold_sku = r.text(i, 4);
    l.units_per_sold = r.int4(i, 5);
    l.qty = r.int4(i, 6);
    l.shipped = r.int4(i, 7);
    l.cancelled = r.int4(i, 8);
    l.returned = r.int4(i, 9);
    lines.push_back(std::move(l));
  }
  return lines;
}

// Writes line deltas for op and the order's new state.
void write_lines(const event_call& c, const std::string& order_id, ig::line_op op,
                 std::vector<ig::order_line>& lines, const std::vector<int32_t>& delta) {
  std::vector<int32_t> nos, s, cc, r;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (delta[i] == 0) continue;
    nos.push_back(lines[i].line_no);
    s.push_back(op == ig::line_op::ship ? delta[i] : 0);
    cc.push_back(op == ig::line_op::cancel ? delta[i] : 0);
    r.push_back(op == ig::line_op::ret ? delta[i] : 0);
    if (op == ig::line_op::ship) lines[i].shipped += delta[i];
    if (op == ig::line_op::cancel) lines[i].cancelled += delta[i];
    if (op == ig::line_op::ret) lines[i].returned += delta[i];
  }
  run(P_LINES_UPDATE, args()
                          .text(c.cx->channel)
                          .text(order_id)
                          .datum(int_array(nos))
                          .datum(int_array(s))
                          .datum(int_array(cc))
                          .datum(int_array(r)));
  run(P_ORDER_UPDATE, args()
                          .text(c.cx->channel)
                          .text(order_id)
                          .text(ig::order_state_name(ig::derive_state(lines)))
                          .ts(c.occurred_at));
}

// order_cancelled and order_shipped: release or ship the order's (or the given lines') units.
effect apply_order_change(const event_call& c, ig::line_op op) {
  call_context& cx = *c.cx;
  const ig::event& ev = *c.ev;
  rows o = run(P_ORDER, args().text(cx.channel).text(ev.order_id));
  if (o.count == 0)
    return rejected("order " + quote(ev.order_id) + " not found on channel " + quote(cx.channel));
  std::string why = ig::check_transition(ev.order_id, ig::parse_order_state(o.text(0, 1)), op);
  if (!why.empty()) return rejected(why);
  std::vector<ig::sold_request> requests;
  for (size_t i = 0; i < ev.lines.size(); ++i) {
    std::optional<sku_info> s = resolve(cx, ev.lines[i].item);
    if (!s)
      return rejected("line " + std::to_string(i + 1) + ": " + unknown_item(cx, ev.lines[i].item));
    requests.push_back({s->sku, ev.lines[i].qty});
  }
  std::vector<ig::order_line> lines = lock_lines(cx.channel, ev.order_id);
  std::vector<int32_t> delta;
  why = ig::plan_line_op(op, ev.order_id, lines, requests, delta);
  if (!why.empty()) return rejected(why);

  stock_changes changes;
  for (size_t i = 0; i < lines.size(); ++i)
    if (delta[i] != 0)
      changes.add(lines[i].sku, lines[i].location_id, op == ig::line_op::ship ? -delta[i] : 0,
                  -delta[i]);
  if (op == ig::line_op::ship) {
    std::vector<std::string> skus, locs;
    for (const auto& [key, v] : changes.by_key) {
      skus.push_back(key.first);
      locs.push_back(key.second);
    }
    auto levels = lock_stock(skus, locs);
    for (const auto& [key, v] : changes.by_key) {
      int64_t on_hand = 0;
      for (const auto& [s, l] : levels)
        if (s == key.first && l.location_id == key.second) on_hand = l.on_hand;
      if (on_hand + v.first < 0)
        return rejected("cannot ship " + std::to_string(-v.first) + " of " + quote(key.first) +
                        " from " + quote(key.second) + ": on_hand is " + std::to_string(on_hand));
    }
  }
  write_stock(changes);
  write_lines(c, ev.order_id, op, lines, delta);
  return {};
}

// return_received: restock (when asked) and, with an order, record the returned units.
effect apply_return(const event_call& c) {
  call_context& cx = *c.cx;
  const ig::event& ev = *c.ev;
  std::optional<sku_info> s = resolve(cx, ev.item);
  if (!s) return rejected(unknown_item(cx, ev.item));
  if (!location_exists(ev.location_id))
    return rejected("unknown location " + quote(ev.location_id));
  stock_changes changes;
  if (ev.order_id.empty()) {
    if (ev.restock) {
      if (s->bundle) {
        const auto& comps = components(cx, s->sku);
        if (comps.empty()) return rejected("bundle " + quote(s->sku) + " has no components");
        for (const auto& [comp, per] : comps)
          changes.add(comp, ev.location_id, int64_t{ev.qty} * per, 0);
      } else {
        changes.add(s->sku, ev.location_id, ev.qty, 0);
      }
    }
    write_stock(changes);
    return {};
  }
  rows o = run(P_ORDER, args().text(cx.channel).text(ev.order_id));
  if (o.count == 0)
    return rejected("order " + quote(ev.order_id) + " not found on channel " + quote(cx.channel));
  std::string why =
      ig::check_transition(ev.order_id, ig::parse_order_state(o.text(0, 1)), ig::line_op::ret);
  if (!why.empty()) return rejected(why);
  std::vector<ig::order_line> lines = lock_lines(cx.channel, ev.order_id);
  std::vector<int32_t> delta;
  why = ig::plan_line_op(ig::line_op::ret, ev.order_id, lines, {{s->sku, ev.qty}}, delta);
  if (!why.empty()) return rejected(why);
  if (ev.restock)
    for (size_t i = 0; i < lines.size(); ++i)
      if (delta[i] != 0) changes.add(lines[i].sku, ev.location_id, delta[i], 0);
  write_stock(changes);
  write_lines(c, ev.order_id, ig::line_op::ret, lines, delta);
  return {};
}

// A simple SKU for a stock event, or the reason it is not one.
std::optional<std::string> stock_sku(call_context& cx, const ig::event& ev, std::string& why) {
  std::optional<sku_info> s = resolve(cx, ev.item);
  if (!s) {
    why = unknown_item(cx, ev.item);
    return std::nullopt;
  }
  if (s->bundle) {
    why = "bundle " + quote(s->sku) + " holds no stock; adjust or count its components";
    return std::nullopt;
  }
  if (!location_exists(ev.location_id)) {
    why = "unknown location " + quote(ev.location_id);
    return std::nullopt;
  }
  return s->sku;
}

// stock_adjusted: on_hand moves by delta, never below 0.
effect apply_adjust(const event_call& c) {
  std::string why;
  std::optional<std::string> sku = stock_sku(*c.cx, *c.ev, why);
  if (!sku) return rejected(why);
  auto levels = lock_stock({*sku}, {c.ev->location_id});
  int64_t on_hand = levels.empty() ? 0 : levels.front().second.on_hand;
  if (on_hand + c.ev->delta < 0)
    return rejected("stock_adjusted would make on_hand of " + quote(*sku) + " at " +
                    quote(c.ev->location_id) + " negative: " + std::to_string(on_hand) + " " +
                    std::to_string(c.ev->delta));
  stock_changes changes;
  changes.add(*sku, c.ev->location_id, c.ev->delta, 0);
  write_stock(changes);
  return {};
}

// stock_counted: on_hand is set, unless a later count was already applied.
effect apply_count(const event_call& c) {
  std::string why;
  std::optional<std::string> sku = stock_sku(*c.cx, *c.ev, why);
  if (!sku) return rejected(why);
  rows r = run(P_COUNT_UPSERT,
               args().text(*sku).text(c.ev->location_id).ts(c.occurred_at).int8(c.event_id));
  if (r.count == 0) {
    rows owner = run(P_COUNT_OWNER, args().text(*sku).text(c.ev->location_id));
    std::string by = owner.count > 0 && !owner.is_null(0, 1)
                         ? " (event " + std::to_string(owner.int8(0, 1)) + ")"
                         : "";
    return effect{"stale", "a later count of " + quote(*sku) + " at " + quote(c.ev->location_id) +
                               " was already applied" + by};
  }
  run(P_STOCK_SET, args().text(*sku).text(c.ev->location_id).int4(c.ev->on_hand));
  return {};
}

// listing_observed: what the channel says it shows, unless a later observation is known.
effect apply_observed(const event_call& c) {
  std::optional<sku_info> s = resolve(*c.cx, c.ev->item);
  if (!s) return rejected(unknown_item(*c.cx, c.ev->item));
  rows r = run(P_OBSERVE, args()
                              .text(c.cx->channel)
                              .text(s->sku)
                              .int4(c.ev->qty)
                              .opt_text(c.ev->price)
                              .ts(c.occurred_at));
  if (r.count == 0)
    return effect{"stale", "a later observation of " + quote(s->sku) + " on channel " +
                               quote(c.cx->channel) + " was already applied"};
  return {};
}

effect apply(const event_call& c) {
  switch (c.ev->kind) {
    case ig::event_kind::order_placed:
      return apply_order_placed(c);
    case ig::event_kind::order_cancelled:
      return apply_order_change(c, ig::line_op::cancel);
    case ig::event_kind::order_shipped:
      return apply_order_change(c, ig::line_op::ship);
    case ig::event_kind::return_received:
      return apply_return(c);
    case ig::event_kind::stock_adjusted:
      return apply_adjust(c);
    case ig::event_kind::stock_counted:
      return apply_count(c);
    case ig::event_kind::listing_observed:
      return apply_observed(c);
  }
  return rejected("unknown event type");
}

// ---------------------------------------------------------------------------------
// One delivery

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

// Whether a stored fingerprint is p's content.
bool same_content(const prepared& p, const uint8_t* stored) {
  return std::equal(p.fp.begin(), p.fp.end(), stored) ||
         (p.legacy_fp && std::equal(p.legacy_fp->begin(), p.legacy_fp->end(), stored));
}

// The key is taken: a duplicate if the content matches (the owner's counter is bumped),
// else a conflict (recorded, pointing at the owner).
// What the first deliveries of taken keys are, each duplicate counted, without SQL
// (direct_writes_pg.hpp); false when that does not apply (use SQL). out[i] for ps[i].
struct seen_key {
  bool found = false, same = false;
  int64_t event_id = 0;
  std::string status;
};
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

// The outcome of a delivery whose key is taken: a duplicate of its first delivery (counted),
// or a conflict (recorded). seen: the first delivery, looked up already (see_taken_keys).
outcome key_taken(call_context& cx, const prepared& p, const seen_key* seen = nullptr) {
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

// Records one delivery and, if it is the key's first and valid, applies it.
// Inserts the first deliveries of events (ON CONFLICT DO NOTHING on their key; ids in order,
// rows in key order) without SQL: each one's new event id, 0 where the key is taken; nullopt when
// the events table carries a user's trigger, column or policy (nothing was written: use SQL).
std::optional<std::vector<int64_t>> claim_keys_direct(
    const call_context& cx, const std::vector<const prepared*>& events,
    const std::vector<int32_t>* duplicates = nullptr) {
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

// The statuses of events claim_keys_direct inserted, written in place; false: use SQL.
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

outcome ingest_prepared(call_context& cx, const prepared& p) {
  bool direct = false;
  int64_t id = claim_key(cx, p, &direct);
  if (id == 0) return key_taken(cx, p);
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

// ---------------------------------------------------------------------------------
// A run of order_placed events in ingest_batch(), set-based: one INSERT claims every key,
// a few queries read (and lock) everything the run depends on, the run is applied in
// order to an in-memory copy of the stock, and one statement per table writes it. The
// outcome of each event is the one ingest() would give in the same order.

struct bulk_order {
  std::string order_id;
  bool oversold = false;
  TimestampTz at = 0;
  int64_t event_id = 0;
};

struct bulk_line {
  std::string order_id, sku, location, sold_sku;
  int32_t line_no = 0, qty = 0, per = 1;
  TimestampTz placed_at = 0;
};

cs::user_error order_placed_concurrently() {
  return cs::user_error("40001", "an order of this batch was placed concurrently",
                        "Another session created one of the batch's orders while it ran.",
                        "Retry the batch; already applied events will be duplicates.");
}

// The keys of a run, claimed: ids[i - from] the event's new id, 0 where the key is taken (by
// an earlier event, or an earlier delivery in the run); same_as[i - from] >= 0 where the
// delivery repeats that one of the run, which was inserted with it counted as a duplicate.
struct run_claim {
  std::vector<int64_t> ids;
  std::vector<long> same_as;
  bool direct = false;  // the events were inserted without SQL (write_events)
};

// Without SQL: a key's first delivery in the run is inserted with its repeats (same
// fingerprint) already counted, so the row is not updated once per repeat.
std::optional<run_claim> claim_run_keys_direct(const call_context& cx,
                                               const std::vector<prepared>& all, size_t from,
                                               size_t to) {
  run_claim c{std::vector<int64_t>(to - from, 0), std::vector<long>(to - from, -1)};
  std::map<std::string, std::pair<size_t, size_t>> first;  // key -> (index, row to insert)
  std::vector<const prepared*> rows;
  std::vector<size_t> row_of;
  std::vector<int32_t> repeats;
  for (size_t i = from; i < to; ++i) {
    auto [it, fresh] = first.emplace(all[i].key, std::make_pair(i, rows.size()));
    if (fresh) {
      rows.push_back(&all[i]);
      row_of.push_back(i);
      repeats.push_back(0);
    } else if (all[i].fp == all[it->second.first].fp) {
      c.same_as[i - from] = static_cast<long>(it->second.first);
      ++repeats[it->second.second];
    }
  }
  std::optional<std::vector<int64_t>> ids = claim_keys_direct(cx, rows, &repeats);
  if (!ids) return std::nullopt;
  c.direct = true;
  for (size_t r = 0; r < rows.size(); ++r) c.ids[row_of[r] - from] = (*ids)[r];
  for (size_t i = from; i < to; ++i)  // the key was taken before the run: not counted yet
    if (c.same_as[i - from] >= 0 && c.ids[c.same_as[i - from] - from] == 0)
      c.same_as[i - from] = -1;
  return c;
}

// Claims the keys of the run all[from, to) (see run_claim).
run_claim claim_run_keys(const call_context& cx, const std::vector<prepared>& all, size_t from,
                         size_t to) {
  if (std::optional<run_claim> c = claim_run_keys_direct(cx, all, from, to)) return *c;
  std::vector<std::string> keys;
  std::vector<Datum> payloads, ats, fps;
  for (size_t i = from; i < to; ++i) {
    keys.push_back(all[i].key);
    payloads.push_back(all[i].payload);
    ats.push_back(TimestampTzGetDatum(all[i].at));
    fps.push_back(uuid_datum(all[i].fp));
  }
  rows ins =
      run(P_BULK_EVENTS, args()
                             .text(cx.channel)
                             .datum(text_array(keys))
                             .datum(datum_array(payloads, {}, JSONBOID, -1, false, TYPALIGN_INT))
                             .datum(datum_array(ats, {}, TIMESTAMPTZOID, 8, true, TYPALIGN_DOUBLE))
                             .datum(datum_array(fps, {}, UUIDOID, 16, false, TYPALIGN_CHAR)));
  std::map<std::string, int64_t> claimed;
  for (uint64 r = 0; r < ins.count; ++r) claimed[ins.text(r, 1)] = ins.int8(r, 2);
  run_claim c{std::vector<int64_t>(to - from, 0), std::vector<long>(to - from, -1)};
  for (size_t i = from; i < to; ++i) {
    auto it = claimed.find(all[i].key);
    if (it != claimed.end() && it->second != 0) {
      c.ids[i - from] = it->second;
      it->second = 0;  // later deliveries of the key in this run are duplicates
    }
  }
  return c;
}

// What a run of order_placed events does, planned event by event against the run's stock
// rows (level, left as they are after the run): its orders and lines, the stock they reserve
// and the statuses that are not a plain "applied"; results[i] the outcome of event i.
struct run_plan {
  std::vector<bulk_order> orders;
  std::vector<bulk_line> lines;
  stock_changes changes;
  std::vector<int64_t> status_ids;
  std::vector<std::string> statuses;
  std::vector<std::optional<std::string>> details;
  std::map<std::pair<std::string, std::string>, ig::stock_level> level;
};

// What the events of a run refer to: their SKUs (whether each is a bundle), aliases and
// order ids; bundles' components go into cx.components.
struct run_refs {
  std::map<std::string, bool> skus;  // sku -> is a bundle
  std::map<std::string, sku_info> aliases;
  std::vector<std::string> order_ids;

  std::optional<sku_info> resolve(const ig::item_ref& item) const {
    if (item.external) {
      auto it = aliases.find(item.id);
      if (it == aliases.end()) return std::nullopt;
      return it->second;
    }
    auto it = skus.find(item.id);
    if (it == skus.end()) return std::nullopt;
    return sku_info{item.id, it->second};
  }
};

run_plan plan_run(call_context& cx, const std::vector<prepared>& all, size_t from, size_t to,
                  const std::vector<int64_t>& ids, const std::vector<std::string>& locs,
                  const run_refs& refs, std::map<std::string, std::string> order_state,
                  std::map<std::pair<std::string, std::string>, ig::stock_level> level,
                  std::vector<outcome>& results) {
  run_plan p;
  std::vector<bulk_order>& orders = p.orders;
  std::vector<bulk_line>& lines = p.lines;
  stock_changes& changes = p.changes;
  std::vector<int64_t>& status_ids = p.status_ids;
  std::vector<std::string>& statuses = p.statuses;
  std::vector<std::optional<std::string>>& details = p.details;
  ig::item_resolver resolve_in_run = [&](const ig::item_ref& item) {
    return planner_item(refs.resolve(item),
                        [&](const std::string& bundle) { return cx.components[bundle]; });
  };
  for (size_t i = from; i < to; ++i) {
    int64_t id = ids[i - from];
    if (id == 0) continue;
    const ig::event& ev = *all[i].ev;
    auto reject = [&](std::string why) {
      status_ids.push_back(id);
      statuses.push_back("rejected");
      details.push_back(why);
      results[i] = outcome{id, "rejected", why};
    };
    if (locs.empty()) {
      reject("no active location feeds channel " + quote(cx.channel));
      continue;
    }
    std::vector<ig::order_part> parts;
    std::optional<std::string> why = ig::order_parts(ev, cx.channel, locs, resolve_in_run, parts);
    if (!why && order_state.count(ev.order_id))
      why = "invalid transition for order " + quote(ev.order_id) + ": " + order_state[ev.order_id] +
            " -> placed";
    if (why) {
      reject(*why);
      continue;
    }
    ig::order_plan placed = ig::plan_order(std::move(parts), locs, level);
    for (const auto& [key, units] : placed.reserve) {
      ig::stock_level& l = level[key];
      l.location_id = key.second;
      l.reserved += units;
      changes.add(key.first, key.second, 0, units);
    }
    order_state[ev.order_id] = "placed";
    const std::optional<std::string>& short_of = placed.oversold;
    orders.push_back({ev.order_id, short_of.has_value(), all[i].at, id});
    for (const ig::line_to_place& l : placed.lines)
      lines.push_back(
          {ev.order_id, l.sku, l.location, l.sold_sku, l.line_no, l.qty, l.per, all[i].at});
    if (short_of) {
      status_ids.push_back(id);
      statuses.push_back("applied");
      details.push_back(short_of);
    }
    results[i] = outcome{id, "applied", short_of};
  }
  // inserted in order-id order, as existing orders are locked: two batches placing the same
  // order ids in opposite order then wait for each other at the first one (40001 for the later)
  // instead of deadlocking (40P01, found only after deadlock_timeout)
  std::sort(orders.begin(), orders.end(),
            [](const bulk_order& x, const bulk_order& y) { return x.order_id < y.order_id; });
  p.level = std::move(level);
  return p;
}

// Whether two reads of a run's stock rows found the same rows with the same levels.
bool same_stock(const std::map<std::pair<std::string, std::string>, ig::stock_level>& a,
                const std::map<std::pair<std::string, std::string>, ig::stock_level>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
    return x.first == y.first && x.second.on_hand == y.second.on_hand &&
           x.second.reserved == y.second.reserved && x.second.safety_stock == y.second.safety_stock;
  });
}

// The plan's orders and their lines, as place_orders_direct() takes them.
std::pair<std::vector<order_to_place>, std::vector<std::vector<order_line_row>>> orders_of(
    const run_plan& p) {
  std::vector<order_to_place> to_place;
  std::vector<std::vector<order_line_row>> lines_of(p.orders.size());
  std::map<std::string, size_t> index_of;
  for (const bulk_order& o : p.orders) {
    index_of[o.order_id] = to_place.size();
    to_place.push_back({o.order_id, o.oversold, o.at, o.event_id});
  }
  for (const bulk_line& l : p.lines)
    lines_of[index_of[l.order_id]].push_back(
        {l.sku, l.location, l.sold_sku, l.line_no, l.qty, l.per});
  return {std::move(to_place), std::move(lines_of)};
}

bool same_line(const bulk_line& a, const bulk_line& b) {
  return a.order_id == b.order_id && a.sku == b.sku && a.location == b.location &&
         a.sold_sku == b.sold_sku && a.line_no == b.line_no && a.qty == b.qty && a.per == b.per;
}

// Writes the status and detail of the run's events that are not a plain "applied" (on the rows
// the run inserted: in place when it inserted them without SQL).
void set_statuses(const run_claim& claim, const std::vector<int64_t>& ids,
                  const std::vector<std::string>& statuses,
                  const std::vector<std::optional<std::string>>& details) {
  if (ids.empty() || (claim.direct && set_statuses_direct(ids, statuses, details))) return;
  std::vector<Datum> sid;
  for (int64_t v : ids) sid.push_back(Int64GetDatum(v));
  std::vector<std::optional<std::string>> st(statuses.begin(), statuses.end());
  run(P_BULK_STATUS, args()
                         .datum(datum_array(sid, {}, INT8OID, 8, true, TYPALIGN_DOUBLE))
                         .datum(opt_text_array(st))
                         .datum(opt_text_array(details)));
}

// Writes again the statuses written from the first plan of a run where the final plan differs
// (an order now oversold, or no longer).
void correct_statuses(const run_claim& claim, const run_plan& first, const run_plan& final) {
  using status = std::pair<std::string, std::optional<std::string>>;
  std::map<int64_t, status> was, is;
  for (size_t k = 0; k < first.status_ids.size(); ++k)
    was[first.status_ids[k]] = {first.statuses[k], first.details[k]};
  for (size_t k = 0; k < final.status_ids.size(); ++k)
    is[final.status_ids[k]] = {final.statuses[k], final.details[k]};
  std::vector<int64_t> ids;
  std::vector<std::string> statuses;
  std::vector<std::optional<std::string>> details;
  auto differs = [&](int64_t id, const status& now, const std::map<int64_t, status>& before) {
    auto it = before.find(id);
    status then = it == before.end() ? status{"applied", std::nullopt} : it->second;
    if (then == now) return;
    ids.push_back(id);
    statuses.push_back(now.first);
    details.push_back(now.second);
  };
  for (const auto& [id, now] : is) differs(id, now, was);
  for (const auto& [id, then] : was)
    if (!is.count(id)) differs(id, {"applied", std::nullopt}, was);
  set_statuses(claim, ids, statuses, details);
}

// Corrects the orders placed from the first plan of a run where the final plan (from the
// locked stock, which moved in between) differs: the oversold flag, and the lines, deleted
// and written again. Both plans hold the same orders in the same order (nothing that decides
// whether an order is placed depends on the stock). SQL: a correction is rare.
void correct_placed_orders(const call_context& cx, const run_plan& first, const run_plan& final) {
  if (first.orders.size() != final.orders.size())
    throw std::logic_error("the two plans of a run place different orders");
  std::map<std::string, std::vector<const bulk_line*>> first_lines, final_lines;
  for (const bulk_line& l : first.lines) first_lines[l.order_id].push_back(&l);
  for (const bulk_line& l : final.lines) final_lines[l.order_id].push_back(&l);
  for (size_t k = 0; k < final.orders.size(); ++k) {
    const bulk_order& o = final.orders[k];
    if (first.orders[k].order_id != o.order_id)
      throw std::logic_error("the two plans of a run place different orders");
    if (first.orders[k].oversold != o.oversold)
      run(P_ORDER_OVERSOLD, args().text(cx.channel).text(o.order_id).boolean(o.oversold));
    const auto& was = first_lines[o.order_id];
    const auto& is = final_lines[o.order_id];
    if (std::equal(was.begin(), was.end(), is.begin(), is.end(),
                   [](const bulk_line* a, const bulk_line* b) { return same_line(*a, *b); }))
      continue;
    run(P_DROP_LINES, args().text(cx.channel).text(o.order_id));
    std::vector<order_line_row> rows;
    for (const bulk_line* l : is)
      rows.push_back({l->sku, l->location, l->sold_sku, l->line_no, l->qty, l->per});
    insert_lines_sql(cx, o.order_id, rows, o.at);
  }
}

// Reads the SKUs, aliases and bundle components the claimed events of all[from, to) name.
run_refs read_run_refs(call_context& cx, const std::vector<prepared>& all, size_t from, size_t to,
                       const std::vector<int64_t>& ids) {
  run_refs refs;
  std::vector<std::string> sku_ids, ext_ids;
  for (size_t i = from; i < to; ++i) {
    if (ids[i - from] == 0) continue;
    refs.order_ids.push_back(all[i].ev->order_id);
    for (const ig::event_line& l : all[i].ev->lines)
      (l.item.external ? ext_ids : sku_ids).push_back(l.item.id);
  }
  if (!sku_ids.empty()) {
    rows r = run(P_BULK_SKUS, args().datum(text_array(sku_ids)));
    for (uint64 k = 0; k < r.count; ++k) refs.skus[r.text(k, 1)] = r.text(k, 2) == "bundle";
  }
  if (!ext_ids.empty()) {
    rows r = run(P_BULK_ALIASES, args().text(cx.channel).datum(text_array(ext_ids)));
    for (uint64 k = 0; k < r.count; ++k)
      refs.aliases[r.text(k, 1)] = sku_info{r.text(k, 2), r.text(k, 3) == "bundle"};
  }
  std::vector<std::string> bundles;
  for (const auto& [sku, bundle] : refs.skus)
    if (bundle && !cx.components.count(sku)) bundles.push_back(sku);
  for (const auto& [ext, info] : refs.aliases)
    if (info.bundle && !cx.components.count(info.sku)) bundles.push_back(info.sku);
  if (!bundles.empty()) {
    for (const std::string& b : bundles) cx.components[b];  // none found: no components
    rows r = run(P_BULK_COMPONENTS, args().datum(text_array(bundles)));
    for (uint64 k = 0; k < r.count; ++k)
      cx.components[r.text(k, 1)].emplace_back(r.text(k, 2), r.int4(k, 3));
  }
  return refs;
}

// The simple SKUs whose stock the claimed events of the run reserve (a bundle's components),
// sorted and distinct.
std::vector<std::string> stocked_skus_of_run(call_context& cx, const std::vector<prepared>& all,
                                             size_t from, size_t to,
                                             const std::vector<int64_t>& ids,
                                             const run_refs& refs) {
  std::vector<std::string> simple;
  for (size_t i = from; i < to; ++i) {
    if (ids[i - from] == 0) continue;
    for (const ig::event_line& l : all[i].ev->lines) {
      std::optional<sku_info> s = refs.resolve(l.item);
      if (!s) continue;
      if (!s->bundle)
        simple.push_back(s->sku);
      else
        for (const auto& [comp, per] : cx.components[s->sku]) simple.push_back(comp);
    }
  }
  return sorted_distinct(std::move(simple));
}

// The run's stock rows as planned, for the re-target (the rows this transaction just wrote).
std::vector<cs::allocation::locked_stock_row> locked_rows(const run_plan& plan) {
  std::vector<cs::allocation::locked_stock_row> locked;
  for (const auto& [key, l] : plan.level)
    locked.push_back({key.first, key.second, static_cast<int32_t>(l.on_hand),
                      static_cast<int32_t>(std::max<int64_t>(0, l.reserved)),
                      static_cast<int32_t>(l.safety_stock)});
  return locked;
}

// Inserts the run's orders and lines with SQL (when a trigger or a column of the DBA's own
// needs it), then writes the stock.
void write_run_sql(const call_context& cx, const run_plan& plan,
                   const std::vector<cs::allocation::locked_stock_row>& locked) {
  std::vector<std::string> oid;
  std::vector<Datum> over, at, eid;
  for (const bulk_order& o : plan.orders) {
    oid.push_back(o.order_id);
    over.push_back(BoolGetDatum(o.oversold));
    at.push_back(TimestampTzGetDatum(o.at));
    eid.push_back(Int64GetDatum(o.event_id));
  }
  rows r = run(P_BULK_INSERT_ORDERS,
               args()
                   .text(cx.channel)
                   .datum(text_array(oid))
                   .datum(datum_array(over, {}, BOOLOID, 1, true, TYPALIGN_CHAR))
                   .datum(datum_array(at, {}, TIMESTAMPTZOID, 8, true, TYPALIGN_DOUBLE))
                   .datum(datum_array(eid, {}, INT8OID, 8, true, TYPALIGN_DOUBLE)));
  if (r.count != plan.orders.size()) throw order_placed_concurrently();
  write_stock(plan.changes, &locked);
  std::vector<std::string> lo, ls, ll, lsold;
  std::vector<int32_t> lno, lq, lper;
  std::vector<Datum> lat;
  for (const bulk_line& l : plan.lines) {
    lat.push_back(TimestampTzGetDatum(l.placed_at));
    lo.push_back(l.order_id);
    lno.push_back(l.line_no);
    ls.push_back(l.sku);
    ll.push_back(l.location);
    lq.push_back(l.qty);
    lsold.push_back(l.sold_sku);
    lper.push_back(l.per);
  }
  run(timed_lines(P_BULK_INSERT_LINES),
      args()
          .text(cx.channel)
          .datum(text_array(lo))
          .datum(int_array(lno))
          .datum(text_array(ls))
          .datum(text_array(ll))
          .datum(int_array(lq))
          .datum(text_array(lsold))
          .datum(int_array(lper))
          .datum(datum_array(lat, {}, TIMESTAMPTZOID, 8, true, TYPALIGN_DOUBLE)));
}

// The outcomes of the run's deliveries whose key was taken: duplicates or conflicts, in order.
void answer_taken_keys(call_context& cx, const std::vector<prepared>& all, size_t from, size_t to,
                       const run_claim& claim, std::vector<outcome>& results) {
  const std::vector<int64_t>& ids = claim.ids;
  std::vector<const prepared*> taken;
  for (size_t i = from; i < to; ++i)
    if (ids[i - from] == 0 && claim.same_as[i - from] < 0) taken.push_back(&all[i]);
  std::vector<seen_key> seen;
  bool looked_up = !taken.empty() && see_taken_keys(cx, taken, seen);
  for (size_t i = from, t = 0; i < to; ++i) {
    if (ids[i - from] != 0) continue;
    if (long first = claim.same_as[i - from]; first >= 0) {  // counted when it was inserted
      const outcome& o = results[first];
      results[i] = outcome{o.event_id, "duplicate", "first delivery was " + o.status};
      continue;
    }
    results[i] = key_taken(cx, all[i], looked_up ? &seen[t] : nullptr);
    ++t;
  }
}

void ingest_order_run(call_context& cx, const std::vector<prepared>& all, size_t from, size_t to,
                      std::vector<outcome>& results) {
  // 1. claim the keys, first occurrence first; read what the run depends on
  run_claim claim = claim_run_keys(cx, all, from, to);
  const std::vector<int64_t>& ids = claim.ids;
  run_refs refs = read_run_refs(cx, all, from, to, ids);
  const std::vector<std::string>& locs = feeding(cx);
  std::map<std::string, std::string> order_state = lock_orders(cx.channel, refs.order_ids);
  std::vector<std::string> simple = stocked_skus_of_run(cx, all, from, to, ids, refs);
  std::vector<ItemPointerData> where;  // the rows the peek found, locked there
  auto stock_of_run = [&](stock_read how) {
    std::map<std::pair<std::string, std::string>, ig::stock_level> level;
    if (!simple.empty() && !locs.empty())
      for (auto& [sku, l] : lock_stock(simple, locs, how, &where)) level[{sku, l.location_id}] = l;
    return level;
  };

  // 2. plan the run from its stock rows as committed now, and write its orders, lines and
  // statuses before locking those rows: a concurrent batch (another connector's) may hold some
  // of them until it commits, and this much need not wait for it
  auto peeked = stock_of_run(stock_read::peek);
  run_plan first = plan_run(cx, all, from, to, ids, locs, refs, order_state, peeked, results);
  std::optional<bool> direct;
  if (!first.orders.empty()) {
    auto [to_place, lines_of] = orders_of(first);
    direct = place_orders_direct(cx, to_place, lines_of);
    if (direct && !*direct) throw order_placed_concurrently();
  }
  set_statuses(claim, first.status_ids, first.statuses, first.details);

  // 3. lock the stock rows; if they moved since, plan the run again from what they hold and
  // correct the orders, lines and statuses written
  auto level = stock_of_run(stock_read::lock);
  bool moved = !same_stock(peeked, level);
  run_plan plan =
      moved ? plan_run(cx, all, from, to, ids, locs, refs, order_state, std::move(level), results)
            : std::move(first);
  if (moved && direct) correct_placed_orders(cx, first, plan);
  if (moved) correct_statuses(claim, first, plan);

  // 4. write the stock, and the orders and lines where SQL must write them
  std::vector<cs::allocation::locked_stock_row> locked = locked_rows(plan);
  if (direct) write_stock(plan.changes, &locked);
  if (!plan.orders.empty() && !direct) write_run_sql(cx, plan, locked);

  // 5. deliveries whose key was taken
  answer_taken_keys(cx, all, from, to, claim, results);
}

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

// The outcome of each delivery, in order: runs of consecutive valid order_placed events go
// set-based, everything else one by one.
std::vector<outcome> ingest_deliveries(call_context& cx, const std::vector<prepared>& ready) {
  std::vector<outcome> results(ready.size());
  auto bulkable = [&](size_t i) {
    return ready[i].reason.empty() && ready[i].ev->kind == ig::event_kind::order_placed;
  };
  for (size_t i = 0; i < ready.size();) {
    size_t j = i;
    while (j < ready.size() && bulkable(j)) ++j;
    if (j - i >= 2) {
      ingest_order_run(cx, ready, i, j, results);
      i = j;
    } else {
      results[i] = ingest_prepared(cx, ready[i]);
      ++i;
    }
  }
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
