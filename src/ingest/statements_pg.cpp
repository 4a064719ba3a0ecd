// The SQL statements of inbound events: see statements_pg.hpp.
#include "ingest/statements_pg.hpp"

#include <algorithm>
#include <stdexcept>

extern "C" {
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/jsonb.h"
#include "utils/uuid.h"
}
#include "common/pg_headers.hpp"
#include "common/spi_pg.hpp"
#include "common/table_access_pg.hpp"

namespace cs::ingest::glue {

namespace ig = cs::ingest;

namespace {

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
  // the keys of an ingest_batch() call, in key order as write_events inserts them (two batches
  // with the same keys in another order wait for each other instead of deadlocking), a key's
  // first delivery first; here the event ids follow the keys too
  {"INSERT INTO channel_sync.events AS e (channel_id, idempotency_key, event_type, payload, occurred_at, fingerprint,"
   " status, detail) SELECT $1, u.k, u.y, u.p, u.t, u.f, u.s, u.d"
   " FROM unnest($2::text[], $3::text[], $4::jsonb[], $5::timestamptz[], $6::uuid[], $7::text[], $8::text[])"
   " WITH ORDINALITY AS u (k, y, p, t, f, s, d, n)"
   " ORDER BY u.k COLLATE \"C\", u.n"
   " ON CONFLICT (channel_id, idempotency_key) WHERE first_event_id IS NULL DO NOTHING RETURNING e.idempotency_key, e.event_id",
   8, {TEXTOID, TEXTARRAYOID, TEXTARRAYOID, JSONBARRAYOID, TIMESTAMPTZARRAYOID, UUIDARRAYOID, TEXTARRAYOID,
       TEXTARRAYOID}},
  // set-based forms for a run of order_placed events in ingest_batch()
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
  {"SELECT DISTINCT l.sku, l.location_id FROM channel_sync.order_lines AS l"
   " WHERE l.channel_id = $1 AND l.order_id IN (SELECT pg_catalog.unnest($2))", 2, {TEXTOID, TEXTARRAYOID}},
  {"SELECT o.state FROM channel_sync.orders AS o WHERE o.channel_id = $1 AND o.order_id = $2", 2, {TEXTOID, TEXTOID}},
  {"SELECT 1 FROM channel_sync.listings AS l WHERE l.channel_id = $1 AND l.sku IN (SELECT pg_catalog.unnest($2))"
   " ORDER BY l.sku COLLATE \"C\" FOR NO KEY UPDATE OF l", 2, {TEXTOID, TEXTARRAYOID}},
  {"SELECT s.sku, s.kind FROM channel_sync.skus AS s WHERE s.sku = ANY($1)", 1, {TEXTARRAYOID}},
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

}  // namespace

plan_id set_form(plan_id any_form, plan_id subquery_form, const char* table) {
  SPIPlanPtr p = plan_for(any_form);
  bool seq = guard([&] { return cs::pg::generic_plan_seq_scans(p, table); });
  return seq ? subquery_form : any_form;
}

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

}  // namespace cs::ingest::glue
