// Reading the truth with SQL: see plans_pg.hpp.
#include "allocation/plans_pg.hpp"

#include <cstring>

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "pgstat.h"
#include "utils/array.h"
#include "utils/backend_status.h"
#include "utils/numeric.h"
}
#include "common/pg_headers.hpp"
#include "common/spi_pg.hpp"
#include "propagation/outbox_sql.hpp"

namespace cs::allocation::glue {

uint64_t encode_tid(const ItemPointerData& tid) {
  return (static_cast<uint64_t>(ItemPointerGetBlockNumberNoCheck(&tid)) << 16) |
         ItemPointerGetOffsetNumberNoCheck(&tid);
}

ItemPointerData decode_tid(uint64_t v) {
  ItemPointerData tid;
  ItemPointerSet(&tid, static_cast<BlockNumber>(v >> 16), static_cast<OffsetNumber>(v & 0xffff));
  return tid;
}

void decode_value(Datum d, bool isnull, col kind, cell* x) {
  *x = cell{nullptr, 0, 0, 0, isnull};
  if (isnull) return;
  switch (kind) {
    case col::text:
    case col::numeric: {
      struct varlena* v =
          pg_detoast_datum_packed(reinterpret_cast<struct varlena*>(DatumGetPointer(d)));
      x->str = VARDATA_ANY(v);
      x->len = static_cast<int32_t>(VARSIZE_ANY_EXHDR(v));
      break;
    }
    case col::int4:
      x->i = DatumGetInt32(d);
      break;
    case col::boolean:
      x->i = DatumGetBool(d) ? 1 : 0;
      break;
    case col::float8:
      x->f = DatumGetFloat8(d);
      break;
    case col::pct:
      x->i = DatumGetInt32(DirectFunctionCall1(
          numeric_int4,
          DirectFunctionCall2(numeric_mul, d,
                              DirectFunctionCall1(int4_numeric, Int32GetDatum(100)))));
      break;
    case col::epoch:
      x->f = DatumGetFloat8(DirectFunctionCall2(interval_part, CStringGetTextDatum("epoch"), d));
      break;
    case col::tid:
      x->i = static_cast<int64_t>(encode_tid(*reinterpret_cast<ItemPointer>(DatumGetPointer(d))));
      break;
  }
}

// Decodes n rows of SPI_tuptable into cells (row-major). Plain C frame: may ereport.
void decode_batch(uint64 n, const col* kinds, int ncols, cell* out) {
  SPITupleTable* table = SPI_tuptable;
  TupleDesc desc = table->tupdesc;
  Datum values[kMaxColumns];
  bool isnulls[kMaxColumns];
  if (desc->natts > kMaxColumns || ncols > desc->natts)
    elog(ERROR, "channel_sync: unexpected row shape");
  for (uint64 r = 0; r < n; ++r) {
    heap_deform_tuple(table->vals[r], desc, values, isnulls);
    for (int c = 0; c < ncols; ++c)
      decode_value(values[c], isnulls[c], kinds[c], &out[r * ncols + c]);
    if ((r & 4095) == 0) CHECK_FOR_INTERRUPTS();
  }
}

namespace {

struct plan_spec {
  const char* sql;
  int nargs;
  Oid types[5];
};

// The SKU set $1 of a "_some" scan, as a subquery: the generic plan hashes it or probes an
// index per SKU. `= ANY($1)` with a parameter cannot be hashed, and where the generic plan
// seq-scans a small table (bundle_components) it compares every row with every element.
#define CS_SKU_SET "(SELECT pg_catalog.unnest($1))"

// The order of line ol, when it is not cancelled and was placed in the velocity window ($2
// seconds), found by its key.
#define CS_ORDER_IN_WINDOW                                                             \
  "   JOIN LATERAL (SELECT 1 FROM channel_sync.orders o"                               \
  "                  WHERE o.channel_id = ol.channel_id AND o.order_id = ol.order_id"  \
  "                    AND o.state <> 'cancelled' AND o.placed_at >= pg_catalog.now()" \
  "                      - pg_catalog.make_interval(secs => $2) LIMIT 1) o ON true"

// Line ol may be in the velocity window: its placed_at is (or it has none; its order decides).
#define CS_LINE_IN_WINDOW                                                                        \
  "(ol.placed_at >= pg_catalog.now() - pg_catalog.make_interval(secs => $2) OR ol.placed_at IS " \
  "NULL)"

// The velocity of the SKUs in $3: their lines in the window through order_lines (sku,
// placed_at) (a bundle's through its components), each line's order by its key (LATERAL ...
// LIMIT 1 keeps the generic plan from hashing every recent order) -- a stock change must read
// neither every recent order nor every line the SKU ever sold. line_in_window: before 0.4.0
// order_lines has no placed_at ("true": every line of the SKU, its order decides).
#define CS_VELOCITY_OF_SKUS(line_in_window)                                                \
  "SELECT v.channel_id, v.sku, pg_catalog.sum(v.units)::float8 FROM ("                     \
  " SELECT ol.channel_id, ol.sku, (ol.qty - ol.qty_cancelled)::float8 AS units"            \
  "   FROM channel_sync.order_lines ol" CS_ORDER_IN_WINDOW                                 \
  "  WHERE ol.sku = ANY($3) AND ol.channel_id = ANY($1) AND " line_in_window               \
  " UNION ALL"                                                                             \
  " SELECT ol.channel_id, ol.sold_sku, (ol.qty - ol.qty_cancelled)::float8 / bc.qty_per /" \
  " n.components"                                                                          \
  "   FROM channel_sync.bundle_components bc JOIN channel_sync.order_lines ol"             \
  "     ON ol.sku = bc.component_sku AND ol.sold_sku = bc.bundle_sku"                      \
  "    AND " line_in_window CS_ORDER_IN_WINDOW                                             \
  "   JOIN (SELECT bundle_sku, pg_catalog.count(*)::float8 AS components"                  \
  "           FROM channel_sync.bundle_components WHERE bundle_sku = ANY($3)"              \
  "          GROUP BY bundle_sku) n ON n.bundle_sku = bc.bundle_sku"                       \
  "  WHERE bc.bundle_sku = ANY($3) AND ol.channel_id = ANY($1)"                            \
  ") v GROUP BY v.channel_id, v.sku"

const plan_spec kPlans[q_count] = {
    {"SELECT c.channel_id, c.active, pg_catalog.date_part('epoch', c.lag_target)::float8, "
     "r.buffer, (r.reserve_pct * 100)::int4, (r.list_pct * 100)::int4, r.cap, r.low_stock_cutoff, "
     "r.dynamic_buffer FROM channel_sync.channels c LEFT JOIN channel_sync.allocation_rules r "
     "ON r.channel_id = c.channel_id AND r.sku IS NULL ORDER BY c.channel_id",
     0,
     {}},
    {"SELECT location_id, active FROM channel_sync.locations ORDER BY location_id", 0, {}},
    {"SELECT channel_id, location_id FROM channel_sync.channel_locations", 0, {}},
    {"SELECT sku, kind = 'bundle', base_price FROM channel_sync.skus", 0, {}},
    {"SELECT sku, kind = 'bundle', base_price FROM channel_sync.skus WHERE sku IN " CS_SKU_SET,
     1,
     {TEXTARRAYOID}},
    {"SELECT bundle_sku, component_sku, qty_per FROM channel_sync.bundle_components", 0, {}},
    {"SELECT bundle_sku, component_sku, qty_per FROM channel_sync.bundle_components "
     "WHERE bundle_sku IN " CS_SKU_SET,
     1,
     {TEXTARRAYOID}},
    {"SELECT sku, location_id, on_hand, reserved, safety_stock FROM channel_sync.stock", 0, {}},
    {"SELECT sku, location_id, on_hand, reserved, safety_stock FROM channel_sync.stock "
     "WHERE sku IN " CS_SKU_SET,
     1,
     {TEXTARRAYOID}},
    {"SELECT sku, channel_id, buffer, (reserve_pct * 100)::int4, (list_pct * 100)::int4, cap, "
     "low_stock_cutoff, dynamic_buffer FROM channel_sync.allocation_rules WHERE sku IS NOT NULL",
     0,
     {}},
    // (channel_id, sku) is the only index: reach it through the channels (a nested loop)
    {"SELECT r.sku, r.channel_id, r.buffer, (r.reserve_pct * 100)::int4, (r.list_pct * 100)::int4, "
     "r.cap, r.low_stock_cutoff, r.dynamic_buffer FROM channel_sync.channels c "
     "JOIN channel_sync.allocation_rules r ON r.channel_id = c.channel_id AND r.sku IN " CS_SKU_SET,
     1,
     {TEXTARRAYOID}},
    {"SELECT sku, channel_id, price FROM channel_sync.channel_prices", 0, {}},
    {"SELECT p.sku, p.channel_id, p.price FROM channel_sync.channels c "
     "JOIN channel_sync.channel_prices p ON p.channel_id = c.channel_id AND p.sku IN " CS_SKU_SET,
     1,
     {TEXTARRAYOID}},
    {"SELECT sku, channel_id, target_qty, target_price, ctid FROM channel_sync.listings", 0, {}},
    {"SELECT sku, channel_id, target_qty, target_price, ctid FROM channel_sync.listings "
     "WHERE sku IN " CS_SKU_SET,
     1,
     {TEXTARRAYOID}},
    {"SELECT channel_id, pg_catalog.date_part('epoch', pg_catalog.percentile_cont(0.95) "
     "WITHIN GROUP (ORDER BY acked_at - first_change_at))::float8 "
     "FROM channel_sync.propagation_log WHERE channel_id = ANY($1) "
     "AND acked_at >= pg_catalog.now() - interval '24 hours' GROUP BY channel_id",
     1,
     {TEXTARRAYOID}},
    {"SELECT v.channel_id, v.sku, pg_catalog.sum(v.units)::float8 FROM ("
     " SELECT ol.channel_id, ol.sku, (ol.qty - ol.qty_cancelled)::float8 AS units"
     "   FROM channel_sync.order_lines ol JOIN channel_sync.orders o"
     "     ON o.channel_id = ol.channel_id AND o.order_id = ol.order_id"
     "  WHERE ol.channel_id = ANY($1) AND o.state <> 'cancelled'"
     "    AND o.placed_at >= pg_catalog.now() - pg_catalog.make_interval(secs => $2)"
     " UNION ALL"
     " SELECT ol.channel_id, ol.sold_sku, (ol.qty - ol.qty_cancelled)::float8 / bc.qty_per / "
     "n.components"
     "   FROM channel_sync.order_lines ol JOIN channel_sync.orders o"
     "     ON o.channel_id = ol.channel_id AND o.order_id = ol.order_id"
     "   JOIN channel_sync.bundle_components bc"
     "     ON bc.bundle_sku = ol.sold_sku AND bc.component_sku = ol.sku"
     "   JOIN (SELECT bundle_sku, pg_catalog.count(*)::float8 AS components"
     "           FROM channel_sync.bundle_components GROUP BY bundle_sku) n"
     "     ON n.bundle_sku = ol.sold_sku"
     "  WHERE ol.channel_id = ANY($1) AND o.state <> 'cancelled'"
     "    AND o.placed_at >= pg_catalog.now() - pg_catalog.make_interval(secs => $2)"
     ") v GROUP BY v.channel_id, v.sku",
     2,
     {TEXTARRAYOID, FLOAT8OID}},
    // the same for the SKUs in $3 only (see CS_VELOCITY_OF_SKUS)
    {CS_VELOCITY_OF_SKUS(CS_LINE_IN_WINDOW), 3, {TEXTARRAYOID, FLOAT8OID, TEXTARRAYOID}},
    // The listings upsert and, in the same statement, the outbox upsert of every listing whose
    // target_version moved (what the listings trigger _enqueue_listing_changes does for other
    // writers; it skips this statement, see writing_outbox()). A dead message is revived and
    // keeps its first_change_at; a message claimed before this change remembers when the
    // first change after the claim happened; an older version never replaces a newer one.
    // Returns the number of listings written and the channels to wake: those whose message
    // was new or changed after a claim (a change coalesced into a message still waiting to be
    // claimed wakes no one again).
    {"WITH changed AS ("
     " INSERT INTO channel_sync.listings AS l (channel_id, sku, target_qty, target_price,"
     " target_version, target_since)"
     " SELECT u.channel_id, u.sku, u.qty, u.price, 1, pg_catalog.now()"
     "   FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3),"
     "                  pg_catalog.unnest($4)) AS u(channel_id, sku, qty, price)"
     " ON CONFLICT (channel_id, sku) DO UPDATE"
     "    SET target_qty = EXCLUDED.target_qty, target_price = EXCLUDED.target_price,"
     "        target_version = l.target_version + 1, target_since = pg_catalog.now()"
     "  WHERE (l.target_qty, l.target_price) IS DISTINCT FROM"
     "        (EXCLUDED.target_qty, EXCLUDED.target_price)"
     " RETURNING l.channel_id, l.sku, l.target_qty, l.target_price, l.target_version,"
     "           l.acked_version),"
     " queued AS (" CS_UPSERT_OUTBOX("SELECT c.channel_id, c.sku, c.target_qty, c.target_price, "
                                     "c.target_version,"
                                     " pg_catalog.now() FROM changed c"
                                     " WHERE c.acked_version IS NULL OR c.acked_version < "
                                     "c.target_version") " AS wake)"
                                                         " SELECT (SELECT pg_catalog.count(*) FROM "
                                                         "changed),"
                                                         " pg_catalog.array_agg(DISTINCT q.wake) "
                                                         "FILTER (WHERE q.wake IS NOT NULL) FROM "
                                                         "queued q",
     4,
     {TEXTARRAYOID, TEXTARRAYOID, INT4ARRAYOID, NUMERICARRAYOID}},
    // Everything a small SKU set needs, in one query (one executor start-up instead of nine):
    // the scans above, tagged by kind (see small_row); an Append returns its branches in
    // order, so kinds arrive in order (checked). Columns: kind, a, b, n (numeric), f (float8),
    // i1..i7 (int4).
    {"(SELECT 0, c.channel_id, NULL::text, NULL::numeric,"
     " pg_catalog.date_part('epoch', c.lag_target)::float8, r.buffer, (r.reserve_pct * 100)::int4,"
     " (r.list_pct * 100)::int4, r.cap, r.low_stock_cutoff, r.dynamic_buffer::int4, c.active::int4"
     " FROM channel_sync.channels c LEFT JOIN channel_sync.allocation_rules r"
     " ON r.channel_id = c.channel_id AND r.sku IS NULL ORDER BY c.channel_id)"
     " UNION ALL (SELECT 1, location_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
     " active::int4 FROM channel_sync.locations ORDER BY location_id)"
     " UNION ALL SELECT 2, channel_id, location_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
     " NULL, NULL FROM channel_sync.channel_locations"
     " UNION ALL SELECT 3, sku, NULL, base_price, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
     " (kind = 'bundle')::int4 FROM channel_sync.skus WHERE sku = ANY($1)"
     " UNION ALL SELECT 4, bundle_sku, component_sku, NULL, NULL, qty_per, NULL, NULL, NULL, NULL,"
     " NULL, NULL FROM channel_sync.bundle_components WHERE bundle_sku = ANY($1)"
     " UNION ALL SELECT 5, sku, location_id, NULL, NULL, on_hand, reserved, safety_stock, NULL,"
     " NULL, NULL, NULL FROM channel_sync.stock WHERE sku = ANY($1)"
     " UNION ALL SELECT 5, s.sku, s.location_id, NULL, NULL, s.on_hand, s.reserved,"
     " s.safety_stock, NULL, NULL, NULL, NULL FROM channel_sync.stock s"
     " WHERE s.sku IN (SELECT b.component_sku FROM channel_sync.bundle_components b"
     " WHERE b.bundle_sku = ANY($1)) AND s.sku <> ALL($1)"
     " UNION ALL SELECT 6, r.sku, r.channel_id, NULL, NULL, r.buffer, (r.reserve_pct * 100)::int4,"
     " (r.list_pct * 100)::int4, r.cap, r.low_stock_cutoff, r.dynamic_buffer::int4, NULL"
     " FROM channel_sync.channels c JOIN channel_sync.allocation_rules r"
     " ON r.channel_id = c.channel_id AND r.sku = ANY($1)"
     " UNION ALL SELECT 7, p.sku, p.channel_id, p.price, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
     " NULL FROM channel_sync.channels c JOIN channel_sync.channel_prices p"
     " ON p.channel_id = c.channel_id AND p.sku = ANY($1)"
     " UNION ALL SELECT 8, sku, channel_id, target_price, NULL, target_qty, NULL, NULL, NULL, NULL,"
     " NULL, NULL FROM channel_sync.listings WHERE sku = ANY($1)",
     1,
     {TEXTARRAYOID}},
    // The outbox messages of listings the direct writer changed that had none (see
    // write_direct): column 2 is the channels to wake.
    {"WITH q AS (" CS_UPSERT_OUTBOX(
         "SELECT u.c, u.s, u.q, u.p, u.v, pg_catalog.now() FROM ROWS FROM (pg_catalog.unnest($1),"
         " pg_catalog.unnest($2), pg_catalog.unnest($3), pg_catalog.unnest($4),"
         " pg_catalog.unnest($5)) AS u(c, s, q, p, v)") " AS wake)"
                                                        " SELECT 0::int8, "
                                                        "pg_catalog.array_agg(DISTINCT q.wake) "
                                                        "FILTER (WHERE q.wake IS NOT NULL)"
                                                        " FROM q",
     5,
     {TEXTARRAYOID, TEXTARRAYOID, INT4ARRAYOID, NUMERICARRAYOID, INT8ARRAYOID}},
    {CS_VELOCITY_OF_SKUS("true"), 3, {TEXTARRAYOID, FLOAT8OID, TEXTARRAYOID}},
    // (no join with the channels: the index on sku alone serves = ANY, and prices of a channel
    // not loaded are skipped by the loader)
    {"SELECT sku, channel_id, price FROM channel_sync.channel_prices WHERE sku = ANY($1)",
     1,
     {TEXTARRAYOID}},
    {"SELECT sku, channel_id, target_qty, target_price, ctid FROM channel_sync.listings "
     "WHERE sku = ANY($1)",
     1,
     {TEXTARRAYOID}},
    {"SELECT sku, kind = 'bundle', base_price FROM channel_sync.skus WHERE sku = ANY($1)",
     1,
     {TEXTARRAYOID}},
    {"SELECT sku, location_id, on_hand, reserved, safety_stock FROM channel_sync.stock "
     "WHERE sku = ANY($1)",
     1,
     {TEXTARRAYOID}},
};

// [0]: left to the plan cache, which plans with the arrays in view (a full or very large SKU
// set gets seq scans and hash joins); [1]: one generic plan, for every other SKU set. A custom
// plan of a 1,000-SKU set cost ~10 % of an ingest_batch() in planning alone (the selectivity
// of each element), and a single-SKU custom plan looks cheaper than the generic one, so the
// plan cache would re-plan every trigger.
SPIPlanPtr plans[2][q_count] = {};

}  // namespace

SPIPlanPtr plan(plan_id id, bool generic) {
  SPIPlanPtr* slot = &plans[generic ? 1 : 0][id];
  if (*slot != nullptr) return *slot;
  const plan_spec* spec = &kPlans[id];
  int options = generic ? CURSOR_OPT_GENERIC_PLAN : 0;
  *slot = pg::guard(
      [&] { return pg::prepare_kept_plan(spec->sql, spec->nargs, spec->types, options); });
  return *slot;
}

SPIPlanPtr set_plan(plan_id any_form, plan_id subquery_form, const char* table) {
  SPIPlanPtr any = plan(any_form, true);
  bool seq = pg::guard([&] { return pg::generic_plan_seq_scans(any, table); });
  return seq ? plan(subquery_form, true) : any;
}

Datum text_array(const std::vector<std::string>& values) {
  const std::string* v = values.data();
  int n = static_cast<int>(values.size());
  return pg::guard([&] {
    Datum* elems = static_cast<Datum*>(palloc(sizeof(Datum) * (n > 0 ? n : 1)));
    for (int i = 0; i < n; ++i)
      elems[i] =
          PointerGetDatum(cstring_to_text_with_len(v[i].data(), static_cast<int>(v[i].size())));
    return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
  });
}

Datum numeric_from_payload(const char* data, size_t len) {
  struct varlena* v = static_cast<struct varlena*>(palloc(VARHDRSZ + len));
  SET_VARSIZE(v, VARHDRSZ + len);
  memcpy(VARDATA(v), data, len);
  return PointerGetDatum(v);
}

void report_progress(const char* phase, size_t done, size_t total, const char* what) {
  char buf[200];
  snprintf(buf, sizeof buf, "channel_sync.recompute_targets: %s %zu/%zu %s", phase, done, total,
           what);
  const char* msg = buf;
  pg::guard([&] { pgstat_report_activity(STATE_RUNNING, msg); });
}

std::string numeric_text(const std::string& payload) {
  const char* data = payload.data();
  size_t len = payload.size();
  char* s = pg::guard([&] {
    return DatumGetCString(DirectFunctionCall1(numeric_out, numeric_from_payload(data, len)));
  });
  std::string out(s);
  pg::guard([&] { pfree(s); });
  return out;
}

}  // namespace cs::allocation::glue
