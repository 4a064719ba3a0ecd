// Listing targets from the truth, computed in one pass: a few set scans (channels, rules,
// locations, SKUs, bundle components, stock, channel prices, listings) stream through SPI
// cursors into flat C++ arrays, the pure engine (allocator.hpp) allocates every SKU, and
// only the changed listings are written back with one upsert per 50,000 rows.
// Plans are prepared once per backend (SPI_keepplan); a SKU subset (a trigger, ingest) uses
// the "_some" variants of the same scans, restricted to the set.
#include "common/boundary.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "storage/bufmgr.h"
#include "executor/spi.h"
#include "pgstat.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/backend_status.h"
#include "utils/guc.h"
#include "utils/numeric.h"
#include "utils/tuplestore.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
}
#include "common/pg_headers.hpp"
#include "common/spi_pg.hpp"
#include "common/table_access_pg.hpp"

#include <algorithm>
#include <cstring>
#include <deque>
#include <map>
#include <set>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "allocation/allocator.hpp"
#include "allocation/string_index.hpp"
#include "allocation/targets_pg.hpp"
#include "propagation/notifier_pg.hpp"
#include "propagation/outbox_sql.hpp"
#include "propagation/stock_writes_pg.hpp"

namespace cs::allocation {

namespace {

// channel_sync.velocity_window, in minutes.
int velocity_window_minutes = 24 * 60;
// channel_sync.lag_remeasure_interval, in seconds.
int lag_remeasure_seconds = 60;

// Rows fetched per cursor round trip, SKUs between progress reports, rows per upsert.
constexpr long kFetchRows = 20000;
constexpr size_t kProgressEvery = 100000;
constexpr size_t kWriteChunk = 50000;

// ---------------------------------------------------------------------------------------
// Reading query results: column kinds and the decoded cells of one fetched batch.

// pct: numeric percent read as basis points, (pct * 100)::int4; epoch: an interval read as
// date_part('epoch', interval)::float8 (the direct loader's forms of q_small's expressions).
enum class col : uint8_t { text, int4, boolean, float8, numeric, pct, epoch, tid };

struct cell {
  const char* str;  // text / numeric payload (points into the fetched tuple)
  int32_t len;
  int64_t i;  // int4 / boolean / tid (encode_tid)
  double f;   // float8
  bool null;
};

constexpr int kMaxColumns = 16;

// A heap TID as one number (0: none; offsets start at 1).
uint64_t encode_tid(const ItemPointerData& tid) {
  return (static_cast<uint64_t>(ItemPointerGetBlockNumberNoCheck(&tid)) << 16) |
         ItemPointerGetOffsetNumberNoCheck(&tid);
}

ItemPointerData decode_tid(uint64_t v) {
  ItemPointerData tid;
  ItemPointerSet(&tid, static_cast<BlockNumber>(v >> 16), static_cast<OffsetNumber>(v & 0xffff));
  return tid;
}

// Decodes one value into a cell. Plain C frame: may ereport.
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

// Runs a prepared plan as a cursor and hands each decoded batch to on_batch(cells, rows).
template <typename F>
void scan(SPIPlanPtr plan, Datum* args, const char* nulls, std::initializer_list<col> columns,
          F&& on_batch) {
  std::vector<col> kinds(columns);
  const col* kind_ptr = kinds.data();
  int ncols = static_cast<int>(kinds.size());
  Portal portal = pg::guard([&] { return SPI_cursor_open(nullptr, plan, args, nulls, false); });
  std::vector<cell> cells;
  for (;;) {
    uint64 n = pg::guard([&] {
      SPI_cursor_fetch(portal, true, kFetchRows);
      return SPI_processed;
    });
    if (n == 0) break;
    cells.resize(n * ncols);
    cell* out = cells.data();
    pg::guard([&] { decode_batch(n, kind_ptr, ncols, out); });
    on_batch(static_cast<const cell*>(cells.data()), static_cast<size_t>(n));
    pg::guard([] { SPI_freetuptable(SPI_tuptable); });
  }
  pg::guard([&] { SPI_cursor_close(portal); });
}

std::string_view view(const cell& c) {
  return std::string_view(c.str, static_cast<size_t>(c.len));
}

// ---------------------------------------------------------------------------------------
// Prepared plans, kept for the backend's life.

enum plan_id {
  q_channels,
  q_locations,
  q_channel_locations,
  q_skus_all,
  q_skus_some,
  q_components_all,
  q_components_some,
  q_stock_all,
  q_stock_some,
  q_overrides_all,
  q_overrides_some,
  q_prices_all,
  q_prices_some,
  q_listings_all,
  q_listings_some,
  q_lag,
  q_velocity,
  q_velocity_some,
  q_upsert,
  q_small,
  q_outbox_upsert,
  q_velocity_some_untimed,  // q_velocity_some before 0.4.0
  q_count
};

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
};

// [0]: left to the plan cache, which plans with the arrays in view (a full or very large SKU
// set gets seq scans and hash joins); [1]: one generic plan, for every other SKU set. A custom
// plan of a 1,000-SKU set cost ~10 % of an ingest_batch() in planning alone (the selectivity
// of each element), and a single-SKU custom plan looks cheaper than the generic one, so the
// plan cache would re-plan every trigger.
SPIPlanPtr plans[2][q_count] = {};

// SKU sets up to this size are read without SQL, or with one query (load_small()).
constexpr size_t kSmallSetMaxSkus = 64;
// SKU sets up to this size use the generic plans.
constexpr size_t kGenericPlanMaxSkus = 10000;

// The prepared plan for id, preparing and keeping it on first use.
SPIPlanPtr plan(plan_id id, bool generic = false) {
  SPIPlanPtr* slot = &plans[generic ? 1 : 0][id];
  if (*slot != nullptr) return *slot;
  const plan_spec* spec = &kPlans[id];
  int options = generic ? CURSOR_OPT_GENERIC_PLAN : 0;
  *slot = pg::guard(
      [&] { return pg::prepare_kept_plan(spec->sql, spec->nargs, spec->types, options); });
  return *slot;
}

// A text[] Datum from strings (palloc'd in the current context).
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

// A numeric Datum from a stored payload (palloc'd in the current context). Plain C frame.
Datum numeric_from_payload(const char* data, size_t len) {
  struct varlena* v = static_cast<struct varlena*>(palloc(VARHDRSZ + len));
  SET_VARSIZE(v, VARHDRSZ + len);
  memcpy(VARDATA(v), data, len);
  return PointerGetDatum(v);
}

// ---------------------------------------------------------------------------------------
// The loaded truth for a set of SKUs.

struct channel_row {
  std::string id;
  bool active = true;
  double lag_hours = 0;  // p95 measured, else lag_target
  rule def;
  bool has_locations = false;
};

constexpr uint32_t kNone = UINT32_MAX;

struct sku_row {
  std::string base_price;  // numeric payload
  bool bundle = false;
  bool wanted = false;  // a target is computed for it (else: a component loaded for its stock)
  uint32_t comp_begin = 0, comp_end = 0;
  uint32_t first_override = kNone;  // per-SKU rules: a list through override_row::next
  uint32_t first_price = kNone;     // channel prices: a list through price_row::next
};

struct override_row {
  uint32_t next;
  uint32_t channel;
  rule r;
};

struct price_row {
  uint32_t next;
  uint32_t channel;
  std::string payload;
};

struct component_row {
  uint32_t bundle;
  uint32_t component;
  int64_t qty_per;
};

uint64_t key(uint32_t sku, uint32_t channel) {
  return (static_cast<uint64_t>(sku) << 16) | channel;
}

// Reports progress in pg_stat_activity.query.
void report_progress(const char* phase, size_t done, size_t total, const char* what = "SKUs") {
  char buf[200];
  snprintf(buf, sizeof buf, "channel_sync.recompute_targets: %s %zu/%zu %s", phase, done, total,
           what);
  const char* msg = buf;
  pg::guard([&] { pgstat_report_activity(STATE_RUNNING, msg); });
}

// use_locked_stock(): the caller's locked stock rows, for a set re-target's load.
const std::vector<locked_stock_row>* locked_stock = nullptr;

struct small_feed;
struct direct_tables;
struct rules_source;
struct fetched_rows;
struct direct_column;

class world {
 public:
  // Loads everything needed for skus (nullptr = all). SPI must be connected.
  void load(const std::vector<std::string>* skus);
  size_t channel_count() const { return channels_.size(); }
  const channel_row& channel(size_t c) const { return channels_[c]; }
  const std::vector<sku_row>& skus() const { return skus_; }
  std::string_view sku_name(size_t i) const { return index_.key(i); }
  int64_t find_sku(std::string_view s) const { return index_.find(s); }
  // find_sku for rows that mostly come in the order the SKUs were loaded: tries the SKU
  // of the previous hit, then the one after it, first.
  int64_t find_sku(std::string_view s, int64_t& hint) const {
    if (hint >= 0 && index_.key(static_cast<size_t>(hint)) == s) return hint;
    size_t next = static_cast<size_t>(hint + 1);
    if (next < skus_.size() && index_.key(next) == s) return hint = static_cast<int64_t>(next);
    int64_t i = index_.find(s);
    if (i >= 0) hint = i;
    return i;
  }
  int64_t find_channel(std::string_view id) const {
    for (size_t c = 0; c < channels_.size(); ++c)
      if (channels_[c].id == id) return static_cast<int64_t>(c);
    return -1;
  }
  // Allocates SKU i over every channel: results and the price each channel lists.
  void allocate_sku(uint32_t i, channel_results& out,
                    std::vector<const std::string*>& prices) const;
  bool full() const { return full_; }
  bool generic() const { return generic_; }
  bool direct() const { return direct_; }
  Datum sku_array() const { return sku_array_; }
  // The current listings of the SKUs, when load() read them with the rest (small sets).
  struct seen_listing {
    uint32_t sku, channel;
    bool qty_null, price_null;
    int32_t qty;
    std::string price;  // numeric payload
    uint64_t tid;       // where load_direct() read it (encode_tid), else 0
  };
  bool listings_loaded() const { return listings_loaded_; }
  const std::vector<seen_listing>& listings() const { return listings_; }

  // A re-target of a few SKUs (the triggers, ingest) may reuse this session's recent p95 lag.
  void reuse_recent_lag() { reuse_recent_lag_ = true; }

 private:
  uint32_t add_sku(std::string_view s, bool wanted);
  rule read_rule(const cell* row, int first) const;
  void load_channels();
  void load_set_skus(Datum* a, const char* no_nulls);
  std::vector<std::string> load_set_components(Datum* a, const char* no_nulls);
  void load_set_stock(const std::vector<std::string>* skus, const std::vector<std::string>& extra);
  void load_set_overrides(Datum* a, const char* no_nulls);
  void load_set_prices(Datum* a, const char* no_nulls);
  void load_small(const std::vector<std::string>& skus);
  bool load_direct(const std::vector<std::string>& skus);
  void small_row(const cell* row, small_feed& f);
  template <typename F>
  void feed_direct(small_feed& f, int kind, const fetched_rows& rows,
                   std::initializer_list<direct_column> columns, F&& adjust);
  void load_direct_config(const direct_tables& t, const rules_source& rules, small_feed& f);
  std::vector<std::string> load_direct_skus(const direct_tables& t,
                                            const std::vector<std::string>& skus,
                                            const std::vector<std::string>& sorted, small_feed& f);
  void load_direct_stock(const direct_tables& t, const std::vector<std::string>& skus,
                         const std::vector<std::string>& components, small_feed& f);
  void load_direct_overrides(const direct_tables& t, const rules_source& rules,
                             const std::vector<std::string>& skus,
                             const std::vector<std::string>& sorted, small_feed& f);
  void load_direct_listings(const direct_tables& t, const std::vector<std::string>& skus,
                            small_feed& f);
  void finish_channels(const std::vector<bool>& active, const std::vector<char>& listed,
                       const std::vector<char>& lists_any);
  void finish_components();
  int64_t find_location(std::string_view id) const;
  void add_stock(int64_t s, int64_t loc, int64_t on_hand, int64_t reserved, int64_t safety_stock);
  std::vector<std::string> take_locked_stock(std::vector<std::string> skus);
  void load_dynamic(const std::vector<std::string>* skus);
  void load_lag(const std::vector<std::string>& dynamic_channels, bool measure, Datum* args,
                char* nulls);

  bool full_ = true;
  bool small_ = false;    // a few SKUs: direct reads, or load_small()
  bool generic_ = false;  // not too many SKUs: generic plans
  bool reuse_recent_lag_ = false;
  bool direct_ = false;  // read (and written) without SQL
  Datum sku_array_ = 0;
  std::vector<channel_row> channels_;
  std::vector<sku_row> skus_;  // by SKU id (index_)
  string_index index_;
  std::vector<component_row> components_;
  std::vector<int64_t> pools_;                         // [sku * channels + channel]
  std::vector<std::vector<uint16_t>> location_feeds_;  // location -> channels it feeds
  std::vector<std::string> locations_;
  std::vector<override_row> overrides_;
  std::vector<price_row> prices_;
  std::unordered_map<uint64_t, double> velocity_;
  bool any_dynamic_ = false;
  bool listings_loaded_ = false;
  std::vector<seen_listing> listings_;
};

uint32_t world::add_sku(std::string_view s, bool wanted) {
  bool added = false;
  uint32_t id = index_.insert(s, &added);
  if (added) skus_.emplace_back();
  skus_[id].wanted |= wanted;
  return id;
}

rule world::read_rule(const cell* row, int first) const {
  rule r;
  r.buffer = row[first].i;
  r.reserve_bp = static_cast<int32_t>(row[first + 1].i);
  r.list_bp = static_cast<int32_t>(row[first + 2].i);
  r.cap = row[first + 3].null ? kNoCap : row[first + 3].i;
  r.low_stock_cutoff = row[first + 4].i;
  r.dynamic_buffer = row[first + 5].i != 0;
  return r;
}

void world::load_channels() {
  scan(plan(q_channels), nullptr, nullptr,
       {col::text, col::boolean, col::float8, col::int4, col::int4, col::int4, col::int4, col::int4,
        col::boolean},
       [&](const cell* cells, size_t n) {
         for (size_t r = 0; r < n; ++r) {
           const cell* row = cells + r * 9;
           channel_row ch;
           ch.id.assign(view(row[0]));
           ch.active = row[1].i != 0;
           ch.lag_hours = row[2].f / 3600.0;
           if (!row[3].null) ch.def = read_rule(row, 3);
           any_dynamic_ |= ch.def.dynamic_buffer;
           channels_.push_back(std::move(ch));
         }
       });
  if (channels_.size() > 60000)
    throw user_error(sqlstate::kInvalidParameterValue, "too many channels",
                     "channel_sync allocates over at most 60000 channels.");
  // Locations: a channel with channel_locations rows is fed by those that are active; a
  // channel without any is fed by every active location.
  std::vector<bool> active;
  scan(plan(q_locations), nullptr, nullptr, {col::text, col::boolean},
       [&](const cell* cells, size_t n) {
         for (size_t r = 0; r < n; ++r) {
           locations_.emplace_back(view(cells[r * 2]));
           active.push_back(cells[r * 2 + 1].i != 0);
         }
       });
  size_t nc = channels_.size(), nl = locations_.size();
  std::vector<char> listed(nc * nl, 0), lists_any(nc, 0);
  scan(plan(q_channel_locations), nullptr, nullptr, {col::text, col::text},
       [&](const cell* cells, size_t n) {
         for (size_t r = 0; r < n; ++r) {
           int64_t c = find_channel(view(cells[r * 2]));
           auto loc =
               std::lower_bound(locations_.begin(), locations_.end(), view(cells[r * 2 + 1]));
           if (c < 0 || loc == locations_.end()) continue;
           listed[c * nl + (loc - locations_.begin())] = 1;
           lists_any[c] = 1;
         }
       });
  finish_channels(active, listed, lists_any);
}

// Which channels each location feeds: a channel with channel_locations rows is fed by those
// that are active; a channel without any is fed by every active location.
void world::finish_channels(const std::vector<bool>& active, const std::vector<char>& listed,
                            const std::vector<char>& lists_any) {
  size_t nc = channels_.size(), nl = locations_.size();
  location_feeds_.assign(nl, {});
  for (size_t c = 0; c < nc; ++c)
    for (size_t l = 0; l < nl; ++l)
      if (active[l] && (!lists_any[c] || listed[c * nl + l])) {
        location_feeds_[l].push_back(static_cast<uint16_t>(c));
        channels_[c].has_locations = true;
      }
}

int64_t world::find_location(std::string_view id) const {
  auto it = std::lower_bound(locations_.begin(), locations_.end(), id);
  return it != locations_.end() && *it == id ? it - locations_.begin() : -1;
}

// One stock row of SKU s at location loc (-1: unknown location).
void world::add_stock(int64_t s, int64_t loc, int64_t on_hand, int64_t reserved,
                      int64_t safety_stock) {
  int64_t sellable = on_hand - reserved - safety_stock;
  if (loc < 0 || sellable <= 0) return;
  int64_t* p = &pools_[static_cast<size_t>(s) * channels_.size()];
  for (uint16_t c : location_feeds_[static_cast<size_t>(loc)]) p[c] += sellable;
}

// The stock of the SKUs the caller holds locked (use_locked_stock) with a row at every
// location that feeds a channel; returns the others, to be read from the table.
std::vector<std::string> world::take_locked_stock(std::vector<std::string> skus) {
  if (locked_stock == nullptr) return skus;
  std::map<std::string_view, std::vector<const locked_stock_row*>> rows_of;
  for (const locked_stock_row& r : *locked_stock) rows_of[r.sku].push_back(&r);
  size_t feeding = 0;
  for (const auto& feeds : location_feeds_) feeding += feeds.empty() ? 0 : 1;
  std::vector<std::string> unread;
  for (std::string& sku : skus) {
    auto it = rows_of.find(sku);
    size_t covered = 0;
    if (it != rows_of.end())
      for (const locked_stock_row* r : it->second) {
        int64_t loc = find_location(r->location_id);
        covered += loc >= 0 && !location_feeds_[static_cast<size_t>(loc)].empty() ? 1 : 0;
      }
    int64_t s = find_sku(sku);
    if (it == rows_of.end() || covered < feeding || s < 0) {
      unread.push_back(std::move(sku));
      continue;
    }
    for (const locked_stock_row* r : it->second)
      add_stock(s, find_location(r->location_id), r->on_hand, r->reserved, r->safety_stock);
  }
  return unread;
}

// Groups the components by bundle (comp_begin / comp_end of each bundle).
void world::finish_components() {
  std::sort(components_.begin(), components_.end(),
            [](const component_row& x, const component_row& y) { return x.bundle < y.bundle; });
  for (size_t k = 0; k < components_.size();) {
    size_t end = k;
    while (end < components_.size() && components_[end].bundle == components_[k].bundle) ++end;
    skus_[components_[k].bundle].comp_begin = static_cast<uint32_t>(k);
    skus_[components_[k].bundle].comp_end = static_cast<uint32_t>(end);
    k = end;
  }
}

// Columns of q_small.
enum small_col { k_kind, k_a, k_b, k_n, k_f, k_i1, k_i2, k_i3, k_i4, k_i5, k_i6, k_i7, k_ncols };

// What small_row() keeps between the rows of a small set, which come in kind order; row is
// the direct loader's buffer for the row it decodes.
struct small_feed {
  int stage = -1;
  std::vector<bool> active;
  std::vector<char> listed, lists_any;
  cell row[k_ncols];
};

// One row of q_small (kinds arrive in order; stage = the last kind seen, whose loading is
// finished when a later kind arrives).
void world::small_row(const cell* row, small_feed& f) {
  int& stage = f.stage;
  std::vector<bool>& active = f.active;
  std::vector<char>& listed = f.listed;
  std::vector<char>& lists_any = f.lists_any;
  int kind = static_cast<int>(row[k_kind].i);
  if (kind < stage)
    throw user_error(sqlstate::kInternalError,
                     "channel_sync: rows of the small-set query out of order");
  if (stage < 2 && kind >= 2) {  // channels and locations are known
    if (channels_.size() > 60000)
      throw user_error(sqlstate::kInvalidParameterValue, "too many channels",
                       "channel_sync allocates over at most 60000 channels.");
    listed.assign(channels_.size() * locations_.size(), 0);
    lists_any.assign(channels_.size(), 0);
  }
  if (stage < 3 && kind >= 3) finish_channels(active, listed, lists_any);
  if (stage < 5 && kind >= 5) {  // SKUs and components are known
    finish_components();
    pools_.assign(skus_.size() * channels_.size(), 0);
  }
  stage = kind;
  const cell& a = row[k_a];
  const cell& b = row[k_b];
  switch (kind) {
    case 0: {
      channel_row ch;
      ch.id.assign(view(a));
      ch.active = row[k_i7].i != 0;
      ch.lag_hours = row[k_f].f / 3600.0;
      if (!row[k_i1].null) ch.def = read_rule(row, k_i1);
      any_dynamic_ |= ch.def.dynamic_buffer;
      channels_.push_back(std::move(ch));
      break;
    }
    case 1:
      locations_.emplace_back(view(a));
      active.push_back(row[k_i7].i != 0);
      break;
    case 2: {
      int64_t c = find_channel(view(a));
      auto loc = std::lower_bound(locations_.begin(), locations_.end(), view(b));
      if (c < 0 || loc == locations_.end()) break;
      listed[c * locations_.size() + (loc - locations_.begin())] = 1;
      lists_any[c] = 1;
      break;
    }
    case 3: {
      uint32_t i = add_sku(view(a), true);
      skus_[i].bundle = row[k_i7].i != 0;
      skus_[i].base_price.assign(row[k_n].str, static_cast<size_t>(row[k_n].len));
      break;
    }
    case 4: {
      int64_t bundle = find_sku(view(a));
      if (bundle < 0) break;
      uint32_t comp = add_sku(view(b), false);
      components_.push_back({static_cast<uint32_t>(bundle), comp, row[k_i1].i});
      break;
    }
    case 5: {
      int64_t sku = find_sku(view(a));
      if (sku < 0) break;
      auto it = std::lower_bound(locations_.begin(), locations_.end(), view(b));
      if (it == locations_.end() || *it != view(b)) break;
      int64_t sellable = row[k_i1].i - row[k_i2].i - row[k_i3].i;
      if (sellable <= 0) break;
      int64_t* p = &pools_[static_cast<size_t>(sku) * channels_.size()];
      for (uint16_t c : location_feeds_[static_cast<size_t>(it - locations_.begin())])
        p[c] += sellable;
      break;
    }
    case 6: {
      int64_t sku = find_sku(view(a));
      int64_t c = find_channel(view(b));
      if (sku < 0 || c < 0) break;
      rule rl = read_rule(row, k_i1);
      any_dynamic_ |= rl.dynamic_buffer;
      overrides_.push_back({skus_[sku].first_override, static_cast<uint32_t>(c), rl});
      skus_[sku].first_override = static_cast<uint32_t>(overrides_.size() - 1);
      break;
    }
    case 7: {
      int64_t sku = find_sku(view(a));
      int64_t c = find_channel(view(b));
      if (sku < 0 || c < 0) break;
      prices_.push_back({skus_[sku].first_price, static_cast<uint32_t>(c),
                         std::string(row[k_n].str, static_cast<size_t>(row[k_n].len))});
      skus_[sku].first_price = static_cast<uint32_t>(prices_.size() - 1);
      break;
    }
    case 8: {
      int64_t sku = find_sku(view(a));
      int64_t c = find_channel(view(b));
      if (sku < 0 || c < 0) break;
      const cell& n = row[k_n];
      listings_.push_back({static_cast<uint32_t>(sku), static_cast<uint32_t>(c), row[k_i1].null,
                           n.null, static_cast<int32_t>(row[k_i1].i),
                           n.null ? std::string() : std::string(n.str, static_cast<size_t>(n.len)),
                           row[k_i2].null ? 0 : static_cast<uint64_t>(row[k_i2].i)});
      break;
    }
    default:
      break;
  }
}

// load() for a small SKU set: one query (q_small) instead of one per table.
void world::load_small(const std::vector<std::string>& skus) {
  Datum args[1] = {sku_array_ = text_array(skus)};
  small_feed f;
  scan(plan(q_small, true), args, " ",
       {col::int4, col::text, col::text, col::numeric, col::float8, col::int4, col::int4, col::int4,
        col::int4, col::int4, col::int4, col::int4},
       [&](const cell* cells, size_t n) {
         for (size_t r = 0; r < n; ++r) small_row(cells + r * k_ncols, f);
       });
  // kinds that had no rows still need their loading finished
  cell end[k_ncols] = {};
  end[k_kind].i = 9;
  small_row(end, f);
  listings_loaded_ = true;
  if (any_dynamic_) load_dynamic(&skus);
}

// ---------------------------------------------------------------------------------------
// load() for a small SKU set without SQL: the rows q_small returns, read through the same
// B-tree indexes by direct index scans (no planning, no executor start-up: the hot path of
// every stock write), fed to small_row() in the same order.

// The tables and indexes the direct loader reads, with a snapshot taken as SPI would take
// one (after a command counter increment, so the firing statement's rows are visible).
struct direct_tables {
  Relation channels, channels_pk, rules, rules_key, locations, locations_pk, feeds, feeds_pk;
  Relation skus, skus_pk, components, components_pk, stock, stock_pk, prices, prices_sku;
  Relation listings, listings_sku;
  Snapshot snap;
};

constexpr int kDirectRelations = 18;

Relation* direct_slots(direct_tables* t) {
  return &t->channels;
}

const char* const kDirectNames[kDirectRelations] = {
    "channels",  "channels_pkey",   "allocation_rules",  "one_rule_per_channel_sku",
    "locations", "locations_pkey",  "channel_locations", "channel_locations_pkey",
    "skus",      "skus_pkey",       "bundle_components", "bundle_components_pkey",
    "stock",     "stock_pkey",      "channel_prices",    "channel_prices_sku_idx",
    "listings",  "listings_sku_idx"};

// Opens every relation (false, with none left open, when one is missing). Plain C frame.
bool open_direct(direct_tables* t) {
  Relation* r = direct_slots(t);
  for (int k = 0; k < kDirectRelations; ++k) {
    r[k] = pg::open_cs_relation(kDirectNames[k], AccessShareLock);
    if (r[k] == nullptr) {
      for (int j = 0; j < k; ++j) relation_close(r[j], AccessShareLock);
      return false;
    }
  }
  t->snap = pg::begin_fresh_read();
  return true;
}

void close_direct(direct_tables* t) {
  pg::end_fresh_read();
  Relation* r = direct_slots(t);
  for (int k = 0; k < kDirectRelations; ++k) relation_close(r[k], AccessShareLock);
}

// The rows of a table whose leading index columns equal the keys (text keys; a nullptr key
// is NULL), as copies in the current memory context.
struct fetched_rows {
  HeapTuple* rows = nullptr;
  int count = 0;
  TupleDesc desc = nullptr;
};

fetched_rows fetch(Relation heap, Relation index, Snapshot snap,
                   std::initializer_list<const std::string*> keys) {
  fetched_rows f;
  f.desc = RelationGetDescr(heap);
  Datum values[4];
  bool nulls[4] = {false, false, false, false};
  int n = 0;
  for (const std::string* k : keys) {
    nulls[n] = k == nullptr;
    values[n] = k == nullptr ? 0 : PointerGetDatum(pg::string_to_text(*k));
    ++n;
  }
  HeapTuple** out = &f.rows;
  int* count = &f.count;
  pg::guard([&] { pg::fetch_by_key(heap, index, n, values, nulls, snap, out, count); });
  return f;
}

// allocation_rules read whole when it fits in one page (a default per channel and a few
// per-SKU rules, the usual table): one scan instead of a key lookup per channel for the
// defaults and per channel and SKU for the overrides. A larger table is read by its key.
struct rules_source {
  fetched_rows all;
  bool whole = false;
  AttrNumber channel_att = InvalidAttrNumber, sku_att = InvalidAttrNumber;
};

// Plain C frame.
void read_rules_whole(Relation rules, Snapshot snap, rules_source* src) {
  src->whole = RelationGetNumberOfBlocks(rules) <= 1;
  if (!src->whole) return;
  src->all.desc = RelationGetDescr(rules);
  src->channel_att = pg::column_number(rules, "channel_id");
  src->sku_att = pg::column_number(rules, "sku");
  pg::fetch_all(rules, snap, &src->all.rows, &src->all.count);
}

// Text column att of row, as a view (empty and *isnull for NULL). Plain C frame.
std::string_view text_column(HeapTuple row, TupleDesc desc, AttrNumber att, bool* isnull) {
  Datum v = heap_getattr(row, att, desc, isnull);
  if (*isnull) return {};
  text* t = DatumGetTextPP(v);
  return std::string_view(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

// The rows of a whole-read rules table that keep(channel, sku, sku_null) selects.
template <typename F>
fetched_rows select_rules(const rules_source& src, F&& keep) {
  fetched_rows f;
  f.desc = src.all.desc;
  f.rows = static_cast<HeapTuple*>(pg::guard(
      [&] { return palloc(sizeof(HeapTuple) * static_cast<size_t>(std::max(src.all.count, 1))); }));
  for (int r = 0; r < src.all.count; ++r) {
    bool channel_null = false, sku_null = false;
    std::string_view channel, sku;
    pg::guard([&] {
      channel = text_column(src.all.rows[r], src.all.desc, src.channel_att, &channel_null);
      sku = text_column(src.all.rows[r], src.all.desc, src.sku_att, &sku_null);
    });
    if (keep(channel, sku, sku_null)) f.rows[f.count++] = src.all.rows[r];
  }
  return f;
}

// The default rule of a channel.
fetched_rows default_rule(const direct_tables& t, const rules_source& src,
                          const std::string& channel) {
  if (!src.whole) return fetch(t.rules, t.rules_key, t.snap, {&channel, nullptr});
  return select_rules(src, [&](std::string_view c, std::string_view, bool sku_null) {
    return sku_null && c == channel;
  });
}

// A column the direct loader reads: its name, how to read it, the q_small column it fills.
struct direct_column {
  const char* name;
  col kind;
  small_col to;
};

constexpr int kMaxDirectColumns = 9;

// The column numbers of columns in a fetched table. Plain C frame.
void resolve_columns(TupleDesc d, const direct_column* columns, int n, AttrNumber* atts) {
  for (int k = 0; k < n; ++k) {
    atts[k] = InvalidAttrNumber;
    for (int i = 0; i < d->natts && atts[k] == InvalidAttrNumber; ++i)
      if (!TupleDescAttr(d, i)->attisdropped &&
          strcmp(NameStr(TupleDescAttr(d, i)->attname), columns[k].name) == 0)
        atts[k] = TupleDescAttr(d, i)->attnum;
    if (atts[k] == InvalidAttrNumber) elog(ERROR, "channel_sync: no column %s", columns[k].name);
  }
}

// Row r of f as a q_small row of the given kind (the other columns NULL). Plain C frame.
void decode_direct_row(const fetched_rows* f, int r, int kind, const direct_column* columns,
                       const AttrNumber* atts, int n, cell* row) {
  for (int k = 0; k < k_ncols; ++k) row[k] = cell{nullptr, 0, 0, 0, true};
  row[k_kind] = cell{nullptr, 0, kind, 0, false};
  for (int k = 0; k < n; ++k) {
    bool isnull = false;
    Datum v = heap_getattr(f->rows[r], atts[k], f->desc, &isnull);
    decode_value(v, isnull, columns[k].kind, &row[columns[k].to]);
  }
}

// Decodes every row of f as a q_small row of the given kind, calling on_row(row) for each.
template <typename F>
void each_direct_row(const fetched_rows& f, int kind, std::initializer_list<direct_column> columns,
                     cell* row, F&& on_row) {
  if (f.count == 0) return;
  const direct_column* cols = columns.begin();
  int n = static_cast<int>(columns.size());
  AttrNumber atts[kMaxDirectColumns];
  const fetched_rows* fp = &f;
  pg::guard([&] { resolve_columns(fp->desc, cols, n, atts); });
  for (int r = 0; r < f.count; ++r) {
    pg::guard([&] { decode_direct_row(fp, r, kind, cols, atts, n, row); });
    on_row();
  }
}

// A rule's columns, into i1..i6 (read_rule's order).
#define CS_RULE_COLUMNS                                                                       \
  {"buffer", col::int4, k_i1}, {"reserve_pct", col::pct, k_i2}, {"list_pct", col::pct, k_i3}, \
      {"cap", col::int4, k_i4}, {"low_stock_cutoff", col::int4, k_i5}, {                      \
    "dynamic_buffer", col::boolean, k_i6                                                      \
  }

// Decodes every row of rows as a row of the given kind, adjust() it, and feeds it to small_row.
template <typename F>
void world::feed_direct(small_feed& f, int kind, const fetched_rows& rows,
                        std::initializer_list<direct_column> columns, F&& adjust) {
  each_direct_row(rows, kind, columns, f.row, [&] {
    adjust();
    small_row(f.row, f);
  });
}

// Kinds 0-2: channels in key order, each with its default rule; locations in key order;
// which channels they feed.
void world::load_direct_config(const direct_tables& t, const rules_source& rules, small_feed& f) {
  cell* row = f.row;
  fetched_rows channels = fetch(t.channels, t.channels_pk, t.snap, {});
  each_direct_row(channels, 0,
                  {{"channel_id", col::text, k_a},
                   {"lag_target", col::epoch, k_f},
                   {"active", col::boolean, k_i7}},
                  row, [&] {
                    std::string id(view(row[k_a]));
                    cell saved[k_ncols];
                    std::copy(row, row + k_ncols, saved);
                    each_direct_row(default_rule(t, rules, id), 0, {CS_RULE_COLUMNS}, row, [] {});
                    for (small_col k : {k_kind, k_a, k_f, k_i7}) row[k] = saved[k];
                    small_row(row, f);
                  });
  auto keep = [] {};
  feed_direct(f, 1, fetch(t.locations, t.locations_pk, t.snap, {}),
              {{"location_id", col::text, k_a}, {"active", col::boolean, k_i7}}, keep);
  feed_direct(f, 2, fetch(t.feeds, t.feeds_pk, t.snap, {}),
              {{"channel_id", col::text, k_a}, {"location_id", col::text, k_b}}, keep);
}

// Kinds 3, 4: the SKUs and their components; returns the components not among skus (sorted:
// skus in order), whose stock is read too.
std::vector<std::string> world::load_direct_skus(const direct_tables& t,
                                                 const std::vector<std::string>& skus,
                                                 const std::vector<std::string>& sorted,
                                                 small_feed& f) {
  cell* row = f.row;
  for (const std::string& s : skus)
    feed_direct(f, 3, fetch(t.skus, t.skus_pk, t.snap, {&s}),
                {{"sku", col::text, k_a}, {"base_price", col::text, k_n}, {"kind", col::text, k_b}},
                [&] {
                  row[k_i7] = cell{nullptr, 0, view(row[k_b]) == "bundle" ? 1 : 0, 0, false};
                  row[k_b].null = true;
                });
  std::vector<std::string> extra;
  for (const std::string& s : skus)
    feed_direct(f, 4, fetch(t.components, t.components_pk, t.snap, {&s}),
                {{"bundle_sku", col::text, k_a},
                 {"component_sku", col::text, k_b},
                 {"qty_per", col::int4, k_i1}},
                [&] {
                  std::string comp(view(row[k_b]));
                  if (!std::binary_search(sorted.begin(), sorted.end(), comp))
                    extra.push_back(comp);
                });
  std::sort(extra.begin(), extra.end());
  extra.erase(std::unique(extra.begin(), extra.end()), extra.end());
  return extra;
}

// Kind 5: the stock of the SKUs and of their components.
void world::load_direct_stock(const direct_tables& t, const std::vector<std::string>& skus,
                              const std::vector<std::string>& components, small_feed& f) {
  for (const std::vector<std::string>* list : {&skus, &components})
    for (const std::string& s : *list)
      feed_direct(f, 5, fetch(t.stock, t.stock_pk, t.snap, {&s}),
                  {{"sku", col::text, k_a},
                   {"location_id", col::text, k_b},
                   {"on_hand", col::int4, k_i1},
                   {"reserved", col::int4, k_i2},
                   {"safety_stock", col::int4, k_i3}},
                  [] {});
}

// Kind 6: the per-SKU rules of every channel.
void world::load_direct_overrides(const direct_tables& t, const rules_source& rules,
                                  const std::vector<std::string>& skus,
                                  const std::vector<std::string>& sorted, small_feed& f) {
  auto feed_overrides = [&](const fetched_rows& rows) {
    feed_direct(f, 6, rows,
                {{"sku", col::text, k_a}, {"channel_id", col::text, k_b}, CS_RULE_COLUMNS}, [] {});
  };
  if (rules.whole) {
    feed_overrides(select_rules(rules, [&](std::string_view, std::string_view sku, bool sku_null) {
      return !sku_null && std::binary_search(sorted.begin(), sorted.end(), sku);
    }));
    return;
  }
  std::vector<std::string> channel_ids;
  for (const channel_row& ch : channels_) channel_ids.push_back(ch.id);
  for (const std::string& s : skus)
    for (const std::string& c : channel_ids)
      feed_overrides(fetch(t.rules, t.rules_key, t.snap, {&c, &s}));
}

// Kinds 7, 8: channel prices and the current listings, with where each listing was read, so
// the writer updates it without looking it up again.
void world::load_direct_listings(const direct_tables& t, const std::vector<std::string>& skus,
                                 small_feed& f) {
  cell* row = f.row;
  for (const std::string& s : skus)
    feed_direct(
        f, 7, fetch(t.prices, t.prices_sku, t.snap, {&s}),
        {{"sku", col::text, k_a}, {"channel_id", col::text, k_b}, {"price", col::text, k_n}},
        [] {});
  for (const std::string& s : skus) {
    fetched_rows listings = fetch(t.listings, t.listings_sku, t.snap, {&s});
    int at = 0;  // each_direct_row decodes the rows in order
    feed_direct(f, 8, listings,
                {{"sku", col::text, k_a},
                 {"channel_id", col::text, k_b},
                 {"target_price", col::text, k_n},
                 {"target_qty", col::int4, k_i1}},
                [&] {
                  row[k_i2] =
                      cell{nullptr, 0,
                           static_cast<int64_t>(encode_tid(listings.rows[at++]->t_self)), 0, false};
                });
  }
}

bool world::load_direct(const std::vector<std::string>& skus) {
  direct_tables t{};
  direct_tables* tp = &t;
  if (!pg::guard([&] { return open_direct(tp); })) return false;
  rules_source rules;
  rules_source* rp = &rules;
  pg::guard([&] { read_rules_whole(tp->rules, tp->snap, rp); });
  small_feed f;
  std::vector<std::string> sorted(skus);
  std::sort(sorted.begin(), sorted.end());
  load_direct_config(t, rules, f);
  std::vector<std::string> components = load_direct_skus(t, skus, sorted, f);
  load_direct_stock(t, skus, components, f);
  load_direct_overrides(t, rules, skus, sorted, f);
  load_direct_listings(t, skus, f);
  pg::guard([&] { close_direct(tp); });
  // kinds that had no rows still need their loading finished
  cell end[k_ncols] = {};
  end[k_kind].i = 9;
  small_row(end, f);
  listings_loaded_ = true;
  if (any_dynamic_) {
    sku_array_ = text_array(skus);
    load_dynamic(&skus);
  }
  return true;
}

#undef CS_RULE_COLUMNS

// The p95 lags of the dynamic channels. Measuring reads every row of 24 h of propagation_log
// (a busy channel: 10^5 rows, ~40 ms), so a re-target of a few SKUs reuses this session's
// measurement for up to channel_sync.lag_remeasure_interval; a full recompute, verify() and
// explain_allocation() always measure. Channels without acks keep their lag_target.
void world::load_lag(const std::vector<std::string>& dynamic_channels, bool measure, Datum* args,
                     char* nulls) {
  struct measured_lag {
    int64_t at;    // GetCurrentTransactionStartTimestamp() of the measurement
    double hours;  // < 0: nothing acked in the window
  };
  static std::unordered_map<std::string, measured_lag> cache;
  int64_t now = GetCurrentTransactionStartTimestamp();
  for (const std::string& ch : dynamic_channels) {
    auto it = cache.find(ch);
    if (it == cache.end() || now - it->second.at >= lag_remeasure_seconds * INT64CONST(1000000) ||
        now < it->second.at)
      measure = true;
  }
  if (measure) {
    std::unordered_map<std::string, double> p95_hours;
    scan(plan(q_lag, generic_), args, nulls, {col::text, col::float8},
         [&](const cell* cells, size_t n) {
           for (size_t r = 0; r < n; ++r)
             if (!cells[r * 2 + 1].null)
               p95_hours[std::string(view(cells[r * 2]))] = cells[r * 2 + 1].f / 3600.0;
         });
    for (const std::string& ch : dynamic_channels) {
      auto it = p95_hours.find(ch);
      cache[ch] = measured_lag{now, it == p95_hours.end() ? -1 : it->second};
    }
  }
  for (const std::string& ch : dynamic_channels) {
    int64_t c = find_channel(ch);
    const measured_lag& m = cache[ch];
    if (c >= 0 && m.hours >= 0) channels_[c].lag_hours = m.hours;
  }
}

void world::load_dynamic(const std::vector<std::string>* skus) {
  std::vector<std::string> dynamic_channels;
  std::vector<bool> is_dynamic(channels_.size(), false);
  for (size_t c = 0; c < channels_.size(); ++c)
    if (channels_[c].def.dynamic_buffer) is_dynamic[c] = true;
  for (const auto& o : overrides_)
    if (o.r.dynamic_buffer) is_dynamic[o.channel] = true;
  for (size_t c = 0; c < channels_.size(); ++c)
    if (is_dynamic[c]) dynamic_channels.push_back(channels_[c].id);
  if (dynamic_channels.empty()) return;
  Datum args[3];
  char nulls[3] = {' ', ' ', ' '};
  args[0] = text_array(dynamic_channels);
  load_lag(dynamic_channels, skus == nullptr || !reuse_recent_lag_, args, nulls);
  double window_hours = velocity_window_minutes / 60.0;
  args[1] = Float8GetDatum(velocity_window_minutes * 60.0);
  args[2] = skus != nullptr ? sku_array_ : 0;
  plan_id q = skus == nullptr ? q_velocity
              : pg::guard([] { return pg::cs_table_has_column("order_lines", "placed_at"); })
                  ? q_velocity_some
                  : q_velocity_some_untimed;
  scan(plan(q, generic_), args, nulls, {col::text, col::text, col::float8},
       [&](const cell* cells, size_t n) {
         for (size_t r = 0; r < n; ++r) {
           int64_t c = find_channel(view(cells[r * 3]));
           int64_t s = find_sku(view(cells[r * 3 + 1]));
           if (c < 0 || s < 0) continue;
           velocity_[key(static_cast<uint32_t>(s), static_cast<uint32_t>(c))] =
               cells[r * 3 + 2].f / window_hours;
         }
       });
}

void world::load(const std::vector<std::string>* skus) {
  full_ = skus == nullptr;
  small_ = !full_ && skus->size() <= kSmallSetMaxSkus;
  generic_ = !full_ && skus->size() <= kGenericPlanMaxSkus;
  // a few SKUs are read (and written) without SQL; for 1,000 SKUs (an ingest_batch()) the
  // set scans below measured as fast as 1,000 x 11 direct lookups
  direct_ = small_ && load_direct(*skus);
  if (direct_) return;
  if (small_) return load_small(*skus);
  load_channels();
  any_dynamic_ = false;
  for (const auto& ch : channels_) any_dynamic_ |= ch.def.dynamic_buffer;
  Datum args[1];
  if (!full_) args[0] = sku_array_ = text_array(*skus);
  Datum* a = full_ ? nullptr : args;
  const char* no_nulls = full_ ? nullptr : " ";
  load_set_skus(a, no_nulls);
  std::vector<std::string> extra = load_set_components(a, no_nulls);
  load_set_stock(skus, extra);
  load_set_overrides(a, no_nulls);
  load_set_prices(a, no_nulls);
  if (any_dynamic_) load_dynamic(skus);
}

// The SKUs (all, or those of the set).
void world::load_set_skus(Datum* a, const char* no_nulls) {
  scan(plan(full_ ? q_skus_all : q_skus_some, generic_), a, no_nulls,
       {col::text, col::boolean, col::numeric}, [&](const cell* cells, size_t n) {
         for (size_t r = 0; r < n; ++r) {
           const cell* row = cells + r * 3;
           uint32_t i = add_sku(view(row[0]), true);
           skus_[i].bundle = row[1].i != 0;
           skus_[i].base_price.assign(row[2].str, static_cast<size_t>(row[2].len));
         }
       });
  if (full_) report_progress("loaded", skus_.size(), skus_.size());
}

// Bundle components; for a SKU subset, returns the components not in it (added as SKUs that
// are not re-targeted), whose stock is read too.
std::vector<std::string> world::load_set_components(Datum* a, const char* no_nulls) {
  std::vector<std::string> extra;
  scan(plan(full_ ? q_components_all : q_components_some, generic_), a, no_nulls,
       {col::text, col::text, col::int4}, [&](const cell* cells, size_t n) {
         for (size_t r = 0; r < n; ++r) {
           const cell* row = cells + r * 3;
           int64_t b = find_sku(view(row[0]));
           if (b < 0) continue;
           size_t before = skus_.size();
           uint32_t comp = add_sku(view(row[1]), false);
           if (skus_.size() > before) extra.emplace_back(view(row[1]));
           components_.push_back({static_cast<uint32_t>(b), comp, row[2].i});
         }
       });
  finish_components();
  return extra;
}

// Stock: each location's sellable units add to the pool of every channel it feeds. A subset
// takes the rows this transaction locked and wrote (use_locked_stock) and reads the rest.
void world::load_set_stock(const std::vector<std::string>* skus,
                           const std::vector<std::string>& extra) {
  pools_.assign(skus_.size() * channels_.size(), 0);
  std::vector<std::string> unread;  // the SKUs whose stock is read from the table
  if (!full_) {
    unread.assign(skus->begin(), skus->end());
    unread.insert(unread.end(), extra.begin(), extra.end());
    unread = take_locked_stock(std::move(unread));
  }
  if (!full_ && unread.empty()) return;
  Datum stock_args[1];
  if (!full_) stock_args[0] = text_array(unread);
  const char* no_nulls = full_ ? nullptr : " ";
  int64_t hint = -1;
  scan(plan(full_ ? q_stock_all : q_stock_some, generic_), full_ ? nullptr : stock_args, no_nulls,
       {col::text, col::text, col::int4, col::int4, col::int4}, [&](const cell* cells, size_t n) {
         std::string_view last_loc;
         int64_t loc = -1;
         for (size_t r = 0; r < n; ++r) {
           const cell* row = cells + r * 5;
           int64_t s = find_sku(view(row[0]), hint);
           if (s < 0) continue;
           if (view(row[1]) != last_loc || r == 0) {
             last_loc = view(row[1]);
             loc = find_location(last_loc);
           }
           add_stock(s, loc, row[2].i, row[3].i, row[4].i);
         }
       });
}

// The per-SKU rules.
void world::load_set_overrides(Datum* a, const char* no_nulls) {
  scan(plan(full_ ? q_overrides_all : q_overrides_some, generic_), a, no_nulls,
       {col::text, col::text, col::int4, col::int4, col::int4, col::int4, col::int4, col::boolean},
       [&](const cell* cells, size_t n) {
         for (size_t r = 0; r < n; ++r) {
           const cell* row = cells + r * 8;
           int64_t s = find_sku(view(row[0]));
           int64_t c = find_channel(view(row[1]));
           if (s < 0 || c < 0) continue;
           rule rl = read_rule(row, 2);
           any_dynamic_ |= rl.dynamic_buffer;
           overrides_.push_back({skus_[s].first_override, static_cast<uint32_t>(c), rl});
           skus_[s].first_override = static_cast<uint32_t>(overrides_.size() - 1);
         }
       });
}

// The channels' own prices.
void world::load_set_prices(Datum* a, const char* no_nulls) {
  int64_t hint = -1;
  scan(plan(full_ ? q_prices_all : q_prices_some, generic_), a, no_nulls,
       {col::text, col::text, col::numeric}, [&](const cell* cells, size_t n) {
         for (size_t r = 0; r < n; ++r) {
           const cell* row = cells + r * 3;
           int64_t s = find_sku(view(row[0]), hint);
           int64_t c = find_channel(view(row[1]));
           if (s < 0 || c < 0) continue;
           prices_.push_back({skus_[s].first_price, static_cast<uint32_t>(c),
                              std::string(row[2].str, static_cast<size_t>(row[2].len))});
           skus_[s].first_price = static_cast<uint32_t>(prices_.size() - 1);
         }
       });
}

void world::allocate_sku(uint32_t i, channel_results& out,
                         std::vector<const std::string*>& prices) const {
  const sku_row& s = skus_[i];
  size_t nc = channels_.size();
  channel_inputs in(nc);
  for (size_t c = 0; c < nc; ++c) {
    const channel_row& ch = channels_[c];
    channel_input& x = in[c];
    x.active = ch.active;
    x.has_locations = ch.has_locations;
    x.r = ch.def;
    for (uint32_t o = s.first_override; o != kNone; o = overrides_[o].next)
      if (overrides_[o].channel == c) x.r = overrides_[o].r;
    if (x.r.dynamic_buffer) {
      auto v = velocity_.find(key(i, static_cast<uint32_t>(c)));
      x.r.velocity_per_hour = v == velocity_.end() ? 0 : v->second;
      x.r.lag_p95_hours = ch.lag_hours;
    }
    if (!s.bundle) {
      x.pool = pools_[static_cast<size_t>(i) * nc + c];
    } else {
      boost::container::small_vector<component_pool, 8> comps;
      for (uint32_t k = s.comp_begin; k < s.comp_end; ++k)
        comps.push_back({pools_[static_cast<size_t>(components_[k].component) * nc + c],
                         components_[k].qty_per});
      x.pool = bundle_pool(comps.data(), comps.size());
    }
    x.pool = std::min<int64_t>(x.pool, INT32_MAX);  // pools report as integer
  }
  out.resize(nc);
  allocate(in.data(), nc, out.data());
  prices.resize(nc);
  for (size_t c = 0; c < nc; ++c) prices[c] = &s.base_price;
  for (uint32_t p = s.first_price; p != kNone; p = prices_[p].next)
    prices[prices_[p].channel] = &prices_[p].payload;
}

void connect() {
  pg::guard([] {
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "channel_sync: SPI_connect failed");
  });
}

void finish() {
  pg::guard([] { SPI_finish(); });
}

// Text of a numeric payload ("12.50"). Through the guard.
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

// True while listing_writer's upsert runs: it enqueues its own outbox messages.
bool outbox_written_by_statement = false;

// Sets outbox_written_by_statement for the life of the scope (restored on unwinding).
class outbox_writer_scope {
 public:
  outbox_writer_scope() : saved_(outbox_written_by_statement) {
    outbox_written_by_statement = true;
  }
  ~outbox_writer_scope() { outbox_written_by_statement = saved_; }
  outbox_writer_scope(const outbox_writer_scope&) = delete;
  outbox_writer_scope& operator=(const outbox_writer_scope&) = delete;

 private:
  bool saved_;
};

// NOTIFY channel_sync, '<channel>' for every channel in column 2 (text[], may be NULL) of the
// upsert's one result row; PostgreSQL folds repeats within a transaction into one. Plain C
// frame: may ereport.
void notify_channels(SPITupleTable* table) {
  bool isnull = false;
  Datum arr = SPI_getbinval(table->vals[0], table->tupdesc, 2, &isnull);
  if (isnull) return;
  Datum* elems = nullptr;
  bool* nulls = nullptr;
  int count = 0;
  deconstruct_array(DatumGetArrayTypeP(arr), TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls,
                    &count);
  for (int k = 0; k < count; ++k)
    if (!nulls[k]) cs::propagation::wake_listeners(text_to_cstring(DatumGetTextPP(elems[k])));
}

// int4[], int8[] and numeric[] (from payloads) Datums (palloc'd in the current context).
template <typename T, Datum (*to_datum)(T)>
Datum by_value_array(const std::vector<T>& values, Oid type) {
  int n = static_cast<int>(values.size());
  const T* q = values.data();
  return pg::guard([&] {
    Datum* e = static_cast<Datum*>(palloc(sizeof(Datum) * (n > 0 ? n : 1)));
    for (int k = 0; k < n; ++k) e[k] = to_datum(q[k]);
    int16 len;
    bool byval;
    char align;
    get_typlenbyvalalign(type, &len, &byval, &align);
    return PointerGetDatum(construct_array(e, n, type, len, byval, align));
  });
}

Datum int4_datum(int32_t v) {
  return Int32GetDatum(v);
}

Datum int8_datum(int64_t v) {
  return Int64GetDatum(v);
}

Datum int4_array(const std::vector<int32_t>& values) {
  return by_value_array<int32_t, int4_datum>(values, INT4OID);
}

Datum int8_array(const std::vector<int64_t>& values) {
  return by_value_array<int64_t, int8_datum>(values, INT8OID);
}

Datum numeric_array(const std::vector<const std::string*>& payloads) {
  int n = static_cast<int>(payloads.size());
  const std::string* const* p = payloads.data();
  return pg::guard([&] {
    Datum* e = static_cast<Datum*>(palloc(sizeof(Datum) * (n > 0 ? n : 1)));
    for (int k = 0; k < n; ++k) e[k] = numeric_from_payload(p[k]->data(), p[k]->size());
    return PointerGetDatum(construct_array(e, n, NUMERICOID, -1, false, TYPALIGN_INT));
  });
}

// ---------------------------------------------------------------------------------------
// The direct writer (small SKU sets): each changed listing and its outbox message are
// updated in place through their unique keys (see cs::pg::row_updater), without the SQL
// upsert's planning and executor start-up. Rows it cannot write that way -- no
// listing yet, or no outbox message yet -- go through the SQL upserts.

// One changed target and what the direct writer did with it. Plain data.
struct direct_change {
  Datum channel, sku;  // text
  uint64 tid;          // where the listing was read (encode_tid), else 0
  int32 qty;
  Datum price;          // numeric
  bool price_null;      // (a user's BEFORE trigger may write NULL)
  bool missing;         // no listing yet: the SQL upsert writes it
  bool written;         // the listing's target changed
  bool needs_message;   // its new version is not acknowledged yet
  bool outbox_missing;  // changed, but the listing has no outbox message yet
  bool wake;            // the channel has new work
  int64 version;        // the listing's new target_version
};

// Column numbers of the listings and outbox columns the direct writer sets.
struct direct_columns {
  AttrNumber l_qty, l_price, l_version, l_since, l_acked;
  AttrNumber o_qty, o_price, o_version, o_status, o_attempts, o_enqueued, o_next_attempt,
      o_claimed_version, o_changed_after_claim;
};

void find_direct_columns(Relation l, Relation o, direct_columns* c) {
  c->l_qty = pg::column_number(l, "target_qty");
  c->l_price = pg::column_number(l, "target_price");
  c->l_version = pg::column_number(l, "target_version");
  c->l_since = pg::column_number(l, "target_since");
  c->l_acked = pg::column_number(l, "acked_version");
  c->o_qty = pg::column_number(o, "qty");
  c->o_price = pg::column_number(o, "price");
  c->o_version = pg::column_number(o, "version");
  c->o_status = pg::column_number(o, "status");
  c->o_attempts = pg::column_number(o, "attempts");
  c->o_enqueued = pg::column_number(o, "enqueued_at");
  c->o_next_attempt = pg::column_number(o, "next_attempt_at");
  c->o_claimed_version = pg::column_number(o, "claimed_version");
  c->o_changed_after_claim = pg::column_number(o, "changed_after_claim_at");
}

// Sets column att of the next image being built.
void set_next(pg::row_updater* u, AttrNumber att, Datum value, bool isnull = false) {
  u->next->tts_values[att - 1] = value;
  u->next->tts_isnull[att - 1] = isnull;
}

// The outbox message of a changed listing, as CS_UPSERT_OUTBOX's DO UPDATE would set it,
// from the message in found; false when it changed concurrently. Plain C frame.
bool update_message_direct(pg::row_updater* ou, const direct_columns* c, direct_change* r) {
  Datum* v = ou->found->tts_values;
  bool* nl = ou->found->tts_isnull;
  if (r->version <= DatumGetInt64(v[c->o_version - 1])) return true;  // a newer one is queued
  TimestampTz now = GetCurrentTransactionStartTimestamp();
  text* status = DatumGetTextPP(v[c->o_status - 1]);
  bool dead = VARSIZE_ANY_EXHDR(status) == 4 && memcmp(VARDATA_ANY(status), "dead", 4) == 0;
  bool claimed = !nl[c->o_claimed_version - 1];
  pg::row_updater_begin_next(ou);
  set_next(ou, c->o_qty, Int32GetDatum(r->qty));
  set_next(ou, c->o_price, r->price, r->price_null);
  set_next(ou, c->o_version, Int64GetDatum(r->version));
  set_next(ou, c->o_status, CStringGetTextDatum("pending"));
  if (dead) {
    set_next(ou, c->o_attempts, Int32GetDatum(0));
    set_next(ou, c->o_enqueued, TimestampTzGetDatum(now));
    set_next(ou, c->o_next_attempt, TimestampTzGetDatum(DT_NOBEGIN));
  }
  if (!claimed) set_next(ou, c->o_changed_after_claim, 0, true);
  if (claimed && nl[c->o_changed_after_claim - 1])
    set_next(ou, c->o_changed_after_claim, TimestampTzGetDatum(now));
  TimestampTz enqueued = DatumGetTimestampTz(ou->next->tts_values[c->o_enqueued - 1]);
  pg::update_result done = pg::row_updater_update(ou);
  if (done == pg::update_result::changed_concurrently) return false;
  r->wake = done == pg::update_result::written && (enqueued == now || claimed);
  return true;
}

// The listing of one change, from the listing in found; false when it changed concurrently.
// Plain C frame.
bool update_listing_direct(pg::row_updater* lu, const direct_columns* c, direct_change* r) {
  Datum* v = lu->found->tts_values;
  bool* nl = lu->found->tts_isnull;
  if (!nl[c->l_qty - 1] && DatumGetInt32(v[c->l_qty - 1]) == r->qty && !nl[c->l_price - 1] &&
      DatumGetBool(DirectFunctionCall2(numeric_eq, v[c->l_price - 1], r->price)))
    return true;  // already this target: nothing to write
  int64 version = DatumGetInt64(v[c->l_version - 1]) + 1;
  bool acked = !nl[c->l_acked - 1] && DatumGetInt64(v[c->l_acked - 1]) >= version;
  pg::row_updater_begin_next(lu);
  set_next(lu, c->l_qty, Int32GetDatum(r->qty));
  set_next(lu, c->l_price, r->price);
  set_next(lu, c->l_version, Int64GetDatum(version));
  set_next(lu, c->l_since, TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()));
  pg::update_result done = pg::row_updater_update(lu);
  if (done == pg::update_result::changed_concurrently) return false;
  if (done == pg::update_result::skipped_by_trigger) return true;  // as the upsert would
  // the message carries what was written (a user's BEFORE trigger may have changed it)
  slot_getallattrs(lu->next);
  r->qty = DatumGetInt32(lu->next->tts_values[c->l_qty - 1]);
  r->price = lu->next->tts_values[c->l_price - 1];
  r->price_null = lu->next->tts_isnull[c->l_price - 1];
  r->written = true;
  r->version = version;
  r->needs_message = !acked;
  return true;
}

// One change: the listing, then its message (each found again after a concurrent change).
// Plain C frame.
void write_change_direct(pg::row_updater* lu, pg::row_updater* ou, const direct_columns* c,
                         direct_change* r) {
  Datum key[2] = {r->channel, r->sku};
  ItemPointerData tid = decode_tid(r->tid);
  for (bool read_at_tid = r->tid != 0;; read_at_tid = false) {
    if (!(read_at_tid && pg::row_updater_fetch(lu, &tid, 2, key)) &&
        !pg::row_updater_find(lu, 2, key)) {
      r->missing = true;
      return;
    }
    if (update_listing_direct(lu, c, r)) break;
  }
  if (!r->needs_message) return;
  for (;;) {
    if (!pg::row_updater_find(ou, 2, key)) {
      r->outbox_missing = true;
      return;
    }
    if (update_message_direct(ou, c, r)) break;
  }
}

// Writes n changes directly; when a table or key is missing (an older install), marks every
// row missing so the SQL upsert writes them all. Plain C frame.
void write_direct(direct_change* rows, int n) {
  Relation l = pg::open_cs_relation("listings", RowExclusiveLock);
  Relation o = pg::open_cs_relation("outbox", RowExclusiveLock);
  Oid ns = get_namespace_oid("channel_sync", false);
  Oid lkey = get_relname_relid("listings_pkey", ns);
  Oid okey = get_relname_relid("one_message_per_listing", ns);
  if (l == nullptr || o == nullptr || !OidIsValid(lkey) || !OidIsValid(okey) ||
      !cs::propagation::triggers_allow_direct_writes(l) ||
      !cs::propagation::triggers_allow_direct_writes(o)) {
    for (int k = 0; k < n; ++k) rows[k].missing = true;
    if (l != nullptr) relation_close(l, NoLock);
    if (o != nullptr) relation_close(o, NoLock);
    return;
  }
  direct_columns cols;
  find_direct_columns(l, o, &cols);
  pg::row_updater lu, ou;
  static const char* const listing_checks[] = {"target_qty_not_negative"};
  static const char* const outbox_checks[] = {"outbox_qty_not_negative", "outbox_status_known"};
  pg::row_updater_open(&lu, l, lkey, listing_checks, 1);
  pg::row_updater_open(&ou, o, okey, outbox_checks, 2);
  for (int k = 0; k < n; ++k) write_change_direct(&lu, &ou, &cols, &rows[k]);
  pg::row_updater_close(&ou);
  pg::row_updater_close(&lu);
  relation_close(o, NoLock);
  relation_close(l, NoLock);
}

// The changed rows of one retarget, flushed to listings every kWriteChunk rows.
class listing_writer {
 public:
  explicit listing_writer(bool direct) : direct_(direct) {}
  // tid: where the listing was read in this statement (encode_tid), else 0
  void add(const std::string& channel, std::string_view sku, int32_t qty, const std::string& price,
           uint64_t tid = 0) {
    channels_.push_back(channel);
    skus_.emplace_back(sku);
    qty_.push_back(qty);
    prices_.push_back(&price);
    tids_.push_back(tid);
    if (channels_.size() >= kWriteChunk) flush();
  }
  void flush();
  int64_t written() const { return written_; }
  // Report progress in pg_stat_activity after each chunk, out of `total` listings to write.
  void report(size_t total) { report_total_ = total; }

 private:
  void flush_direct();
  void clear();

  bool direct_;
  size_t report_total_ = 0;
  size_t sent_ = 0;
  std::vector<std::string> channels_, skus_;
  std::vector<int32_t> qty_;
  std::vector<const std::string*> prices_;
  std::vector<uint64_t> tids_;
  int64_t written_ = 0;
};

void listing_writer::clear() {
  channels_.clear();
  skus_.clear();
  qty_.clear();
  prices_.clear();
  tids_.clear();
}

// Writes the rows that have a listing directly, enqueues the messages the direct writer
// could not update, and keeps only the rows without a listing for the SQL upsert.
void listing_writer::flush_direct() {
  int n = static_cast<int>(channels_.size());
  direct_change* rows =
      pg::guard([&] { return static_cast<direct_change*>(palloc0(sizeof(direct_change) * n)); });
  for (int k = 0; k < n; ++k) {
    rows[k].channel = PointerGetDatum(pg::string_to_text(channels_[k]));
    rows[k].sku = PointerGetDatum(pg::string_to_text(skus_[k]));
    rows[k].qty = qty_[k];
    rows[k].tid = tids_[k];
    const std::string* p = prices_[k];
    rows[k].price = pg::guard([&] { return numeric_from_payload(p->data(), p->size()); });
  }
  pg::guard([&] { write_direct(rows, n); });
  std::vector<std::string> keep_channels, keep_skus, queue_channels, queue_skus;
  std::vector<int32_t> keep_qty, queue_qty;
  std::vector<const std::string*> keep_prices, queue_prices;
  std::vector<int64_t> queue_versions;
  std::set<std::string> wake;
  for (int k = 0; k < n; ++k) {
    const direct_change& r = rows[k];
    if (r.missing) {
      keep_channels.push_back(channels_[k]);
      keep_skus.push_back(skus_[k]);
      keep_qty.push_back(qty_[k]);
      keep_prices.push_back(prices_[k]);
      continue;
    }
    written_ += r.written ? 1 : 0;
    if (r.wake) wake.insert(channels_[k]);
    if (!r.outbox_missing) continue;
    queue_channels.push_back(channels_[k]);
    queue_skus.push_back(skus_[k]);
    queue_qty.push_back(qty_[k]);
    queue_prices.push_back(prices_[k]);
    queue_versions.push_back(r.version);
  }
  for (const std::string& ch : wake) {
    const char* payload = ch.c_str();
    pg::guard([&] { cs::propagation::wake_listeners(payload); });
  }
  if (!queue_channels.empty()) {
    Datum args[5] = {text_array(queue_channels), text_array(queue_skus), int4_array(queue_qty),
                     numeric_array(queue_prices), int8_array(queue_versions)};
    SPIPlanPtr pl = plan(q_outbox_upsert, true);
    pg::guard([&] {
      int rc = SPI_execute_plan(pl, args, nullptr, false, 0);
      if (rc != SPI_OK_SELECT || SPI_processed != 1)
        elog(ERROR, "channel_sync: outbox upsert failed: %s", SPI_result_code_string(rc));
      notify_channels(SPI_tuptable);
    });
  }
  channels_ = std::move(keep_channels);
  skus_ = std::move(keep_skus);
  qty_ = std::move(keep_qty);
  prices_ = std::move(keep_prices);
  tids_.assign(channels_.size(), 0);
}

void listing_writer::flush() {
  if (channels_.empty()) return;
  size_t batch = channels_.size();
  if (direct_) flush_direct();
  if (channels_.empty()) {
    sent_ += batch;
    return;
  }
  Datum args[4];
  args[0] = text_array(channels_);
  args[1] = text_array(skus_);
  args[2] = int4_array(qty_);
  args[3] = numeric_array(prices_);
  SPIPlanPtr pl = plan(q_upsert, true);  // its plan does not depend on the arrays
  outbox_writer_scope scope;
  int64 done = pg::guard([&] {
    int rc = SPI_execute_plan(pl, args, nullptr, false, 0);
    if (rc != SPI_OK_SELECT || SPI_processed != 1)
      elog(ERROR, "channel_sync: listings upsert failed: %s", SPI_result_code_string(rc));
    pfree(DatumGetPointer(args[0]));
    pfree(DatumGetPointer(args[1]));
    pfree(DatumGetPointer(args[2]));
    pfree(DatumGetPointer(args[3]));
    notify_channels(SPI_tuptable);
    bool isnull = false;
    Datum count = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
    return isnull ? int64{0} : DatumGetInt64(count);
  });
  written_ += static_cast<int64_t>(done);
  sent_ += batch;
  if (report_total_ > 0) report_progress("written", sent_, report_total_, "changed listings");
  clear();
}

// Every loaded SKU's target on every channel ([sku * channels + channel]; -1 and nullptr for
// SKUs that are not re-targeted).
struct sku_targets {
  std::vector<int32_t> qty;
  std::vector<const std::string*> price;
};

sku_targets allocate_wanted(const world& w) {
  size_t nc = w.channel_count();
  const auto& rows = w.skus();
  size_t ns = rows.size();
  sku_targets t{std::vector<int32_t>(ns * nc, -1), std::vector<const std::string*>(ns * nc)};
  channel_results res;
  std::vector<const std::string*> prices;
  size_t wanted = 0;
  for (size_t i = 0; i < ns; ++i) wanted += rows[i].wanted ? 1 : 0;
  size_t done = 0;
  for (uint32_t i = 0; i < ns; ++i) {
    if (!rows[i].wanted) continue;
    w.allocate_sku(i, res, prices);
    for (size_t c = 0; c < nc; ++c) {
      t.qty[i * nc + c] = static_cast<int32_t>(res[c].ats);
      t.price[i * nc + c] = prices[c];
    }
    if (w.full() && ++done % kProgressEvery == 0) report_progress("allocated", done, wanted);
  }
  return t;
}

// How each (SKU, channel) listing stands against its target: state 0 = no listing yet, 1 = the
// same target, 2 = changed; tids where each listing was read (empty: not known, for a full
// recompute, which writes by key).
void compare_listings(const world& w, const sku_targets& t, std::vector<uint8_t>& state,
                      std::vector<uint64_t>& tids) {
  size_t nc = w.channel_count();
  const auto& rows = w.skus();
  size_t ns = rows.size();
  state.assign(ns * nc, 0);
  tids.assign(w.listings_loaded() || !w.full() ? ns * nc : 0, 0);
  // a listing is the same when its qty and price payload equal the target
  auto compare = [&](int64_t s, int64_t c, bool qty_null, int64_t qty, bool price_null,
                     const char* price_data, size_t price_len) {
    if (s < 0 || c < 0 || !rows[s].wanted) return;
    size_t k = static_cast<size_t>(s) * nc + static_cast<size_t>(c);
    const std::string* price = t.price[k];
    bool same = !qty_null && qty == t.qty[k] && !price_null && price_len == price->size() &&
                std::memcmp(price_data, price->data(), price->size()) == 0;
    state[k] = same ? 1 : 2;
  };
  if (w.listings_loaded()) {
    for (const auto& l : w.listings()) {
      compare(l.sku, l.channel, l.qty_null, l.qty, l.price_null, l.price.data(), l.price.size());
      tids[static_cast<size_t>(l.sku) * nc + l.channel] = l.tid;
    }
    return;
  }
  Datum args[1];
  if (!w.full()) args[0] = w.sku_array();
  int64_t hint = -1;
  // a subset is written in place: with where each listing was read, so the writer updates it
  // without looking it up again
  scan(plan(w.full() ? q_listings_all : q_listings_some, w.generic()), w.full() ? nullptr : args,
       w.full() ? nullptr : " ", {col::text, col::text, col::int4, col::numeric, col::tid},
       [&](const cell* cells, size_t n) {
         for (size_t r = 0; r < n; ++r) {
           const cell* row = cells + r * 5;
           int64_t s = w.find_sku(view(row[0]), hint);
           int64_t c = w.find_channel(view(row[1]));
           compare(s, c, row[2].null, row[2].i, row[3].null, row[3].str,
                   static_cast<size_t>(row[3].len));
           if (!tids.empty() && s >= 0 && c >= 0)
             tids[static_cast<size_t>(s) * nc + static_cast<size_t>(c)] =
                 static_cast<uint64_t>(row[4].i);
         }
       });
}

// Re-targets the loaded SKUs: writes the listings whose target changed (and their messages);
// returns how many.
int64_t retarget_loaded(const world& w) {
  size_t nc = w.channel_count();
  const auto& rows = w.skus();
  size_t ns = rows.size();
  sku_targets t = allocate_wanted(w);
  std::vector<uint8_t> state;
  std::vector<uint64_t> tids;
  compare_listings(w, t, state, tids);
  // in place unless every SKU is re-targeted (one upsert then, most listings change)
  listing_writer writer(w.direct() || !w.full());
  if (w.full()) {
    size_t to_write = 0;
    for (uint32_t i = 0; i < ns; ++i)
      if (rows[i].wanted)
        for (size_t c = 0; c < nc; ++c) to_write += state[i * nc + c] != 1 ? 1 : 0;
    writer.report(to_write);
  }
  for (uint32_t i = 0; i < ns; ++i) {
    if (!rows[i].wanted) continue;
    for (size_t c = 0; c < nc; ++c) {
      size_t k = i * nc + c;
      if (state[k] != 1)
        writer.add(w.channel(c).id, w.sku_name(i), t.qty[k], *t.price[k],
                   tids.empty() ? 0 : tids[k]);
    }
  }
  writer.flush();
  return writer.written();
}

// Restores pg_stat_activity.query after a long run reported progress in it.
void restore_activity() {
  pg::guard([] {
    if (debug_query_string != nullptr) pgstat_report_activity(STATE_RUNNING, debug_query_string);
  });
}

}  // namespace

std::vector<listing_target> compute_targets(const std::vector<std::string>* skus) {
  connect();
  world w;
  w.load(skus);
  std::vector<listing_target> out;
  channel_results res;
  std::vector<const std::string*> prices;
  const auto& rows = w.skus();
  for (uint32_t i = 0; i < rows.size(); ++i) {
    if (!rows[i].wanted) continue;
    w.allocate_sku(i, res, prices);
    for (size_t c = 0; c < w.channel_count(); ++c)
      out.push_back({w.channel(c).id, std::string(w.sku_name(i)), static_cast<int32_t>(res[c].ats),
                     numeric_text(*prices[c]), false});
  }
  finish();
  if (skus == nullptr) restore_activity();
  return out;
}

void use_locked_stock(const std::vector<locked_stock_row>* rows) {
  locked_stock = rows;
}

bool writing_outbox() {
  return outbox_written_by_statement;
}

int64_t retarget(const std::vector<std::string>* skus) {
  connect();
  world w;
  w.reuse_recent_lag();
  w.load(skus);
  int64_t changed = retarget_loaded(w);
  finish();
  if (skus == nullptr) restore_activity();
  return changed;
}

void init_allocation() {
  DefineCustomIntVariable(
      "channel_sync.velocity_window",
      "Trailing window over which dynamic buffers measure sales velocity.",
      "Velocity = units sold on the channel in this window / its length in hours.",
      &velocity_window_minutes, 24 * 60, 1, 30 * 24 * 60, PGC_USERSET, GUC_UNIT_MIN, nullptr,
      nullptr, nullptr);
  DefineCustomIntVariable(
      "channel_sync.lag_remeasure_interval",
      "How long a session's re-targets of a few SKUs reuse its last p95 lag of a dynamic-buffer "
      "channel.",
      "Measuring reads 24 hours of propagation_log; a full recompute, verify() and "
      "explain_allocation() always measure. 0: measure on every re-target.",
      &lag_remeasure_seconds, 60, 0, 3600, PGC_USERSET, GUC_UNIT_S, nullptr, nullptr, nullptr);
}

}  // namespace cs::allocation

// ---------------------------------------------------------------------------------------
// SQL surface over the loaded truth.

namespace {

using cs::allocation::channel_results;
using cs::allocation::world;

// A SKU argument: NULL is refused.
std::string sku_arg(FunctionCallInfo fcinfo, int n, const char* name) {
  if (PG_ARGISNULL(n))
    throw cs::user_error(cs::sqlstate::kNullValueNotAllowed,
                         std::string(name) + " must not be null");
  return cs::pg::text_to_string(PG_GETARG_DATUM(n));
}

// The SKU's index in a world loaded for it; unknown SKU: undefined_object.
uint32_t known_sku(const world& w, const std::string& sku) {
  int64_t i = w.find_sku(sku);
  if (i < 0 || !w.skus()[static_cast<size_t>(i)].wanted)
    throw cs::user_error(cs::sqlstate::kUndefinedObject, "sku \"" + sku + "\" does not exist", "",
                         "SKUs are rows of channel_sync.skus.");
  return static_cast<uint32_t>(i);
}

// The SKU list of a text[] argument (NULL elements skipped); nullptr for a NULL array.
std::unique_ptr<std::vector<std::string>> sku_list(FunctionCallInfo fcinfo, int n) {
  if (PG_ARGISNULL(n)) return nullptr;
  auto out = std::make_unique<std::vector<std::string>>();
  Datum arr = PG_GETARG_DATUM(n);
  Datum* elems = nullptr;
  bool* nulls = nullptr;
  int count = 0;
  cs::pg::guard([&] {
    ArrayType* a = DatumGetArrayTypeP(arr);
    deconstruct_array(a, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &count);
  });
  out->reserve(static_cast<size_t>(count));
  for (int k = 0; k < count; ++k)
    if (!nulls[k]) out->push_back(cs::pg::text_to_string(elems[k]));
  std::sort(out->begin(), out->end());
  out->erase(std::unique(out->begin(), out->end()), out->end());
  return out;
}

// A tuplestore result for a set-returning function (materialize mode).
ReturnSetInfo* materialize(FunctionCallInfo fcinfo) {
  return cs::pg::guard([&] {
    InitMaterializedSRF(fcinfo, 0);
    return reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
  });
}

}  // namespace

// _compute_targets(skus text[] DEFAULT NULL): every channel's target for the SKUs (NULL = all).
CS_FUNCTION(_compute_targets) {
  auto skus = sku_list(fcinfo, 0);
  std::vector<cs::allocation::listing_target> targets = cs::allocation::compute_targets(skus.get());
  ReturnSetInfo* rsinfo = materialize(fcinfo);
  for (const auto& t : targets) {
    const cs::allocation::listing_target* tp = &t;
    cs::pg::guard([&] {
      Datum values[4];
      bool nulls[4] = {false, false, false, tp->price_is_null};
      values[0] = PointerGetDatum(
          cstring_to_text_with_len(tp->channel_id.data(), static_cast<int>(tp->channel_id.size())));
      values[1] = PointerGetDatum(
          cstring_to_text_with_len(tp->sku.data(), static_cast<int>(tp->sku.size())));
      values[2] = Int32GetDatum(tp->qty);
      values[3] = tp->price_is_null
                      ? 0
                      : DirectFunctionCall3(numeric_in, CStringGetDatum(tp->price.c_str()),
                                            ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
      tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    });
  }
  return (Datum)0;
}

// _retarget(skus text[]): writes the changed targets of the SKUs; returns how many changed.
CS_FUNCTION(_retarget) {
  auto skus = sku_list(fcinfo, 0);
  if (skus == nullptr) PG_RETURN_INT64(0);
  PG_RETURN_INT64(cs::allocation::retarget(skus.get()));
}

// recompute_targets(): every listing target from the truth in one pass.
CS_FUNCTION(recompute_targets) {
  (void)fcinfo;
  PG_RETURN_INT64(cs::allocation::retarget(nullptr));
}

// explain_allocation(sku): per channel, the pool, holdback, buffer, ATS and deciding rule.
CS_FUNCTION(explain_allocation) {
  std::string sku = sku_arg(fcinfo, 0, "sku");
  std::vector<std::string> one{sku};
  cs::allocation::connect();
  world w;
  w.load(&one);
  uint32_t i = known_sku(w, sku);
  channel_results res;
  std::vector<const std::string*> prices;
  w.allocate_sku(i, res, prices);
  cs::allocation::finish();
  ReturnSetInfo* rsinfo = materialize(fcinfo);
  for (size_t c = 0; c < w.channel_count(); ++c) {
    const std::string* id = &w.channel(c).id;
    const cs::allocation::channel_result* r = &res[c];
    const char* limited = cs::allocation::limit_name(r->limited_by);
    cs::pg::guard([&] {
      Datum values[6];
      bool nulls[6] = {false, false, false, false, false, false};
      values[0] =
          PointerGetDatum(cstring_to_text_with_len(id->data(), static_cast<int>(id->size())));
      values[1] = Int32GetDatum(static_cast<int32>(r->pool));
      values[2] = Int32GetDatum(static_cast<int32>(std::min<int64_t>(r->holdback, INT32_MAX)));
      values[3] = Int32GetDatum(static_cast<int32>(std::min<int64_t>(r->buffer, INT32_MAX)));
      values[4] = Int32GetDatum(static_cast<int32>(r->ats));
      values[5] = PointerGetDatum(cstring_to_text(limited));
      tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    });
  }
  return (Datum)0;
}

// available_to_sell(channel_id, sku): what the channel may list of the SKU now.
CS_FUNCTION(available_to_sell) {
  if (PG_ARGISNULL(0))
    throw cs::user_error(cs::sqlstate::kNullValueNotAllowed, "channel_id must not be null");
  std::string channel = cs::pg::text_to_string(PG_GETARG_DATUM(0));
  std::string sku = sku_arg(fcinfo, 1, "sku");
  std::vector<std::string> one{sku};
  cs::allocation::connect();
  world w;
  w.load(&one);
  int64_t c = w.find_channel(channel);
  if (c < 0)
    throw cs::user_error(cs::sqlstate::kUndefinedObject,
                         "channel \"" + channel + "\" does not exist", "",
                         "Channels are rows of channel_sync.channels.");
  uint32_t i = known_sku(w, sku);
  channel_results res;
  std::vector<const std::string*> prices;
  w.allocate_sku(i, res, prices);
  cs::allocation::finish();
  PG_RETURN_INT32(static_cast<int32>(res[static_cast<size_t>(c)].ats));
}
