// Orders and their lines written without SQL: see order_writer_pg.hpp. Plain C frames only.
#include "ingest/order_writer_pg.hpp"

extern "C" {
#include "access/relation.h"
#include "access/table.h"
#include "access/tableam.h"
#include "executor/tuptable.h"
}
#include "common/table_access_pg.hpp"

#include <cstdlib>
#include <cstring>

namespace cs::ingest::pg {

namespace {

namespace cpg = cs::pg;

constexpr const char* kOrderColumns[] = {"channel_id", "order_id",   "state",   "oversold",
                                         "placed_at",  "updated_at", "event_id"};
constexpr const char* kLineColumns[] = {"channel_id",   "order_id",     "line_no",
                                        "sku",          "location_id",  "qty",
                                        "qty_shipped",  "qty_cancelled", "qty_returned",
                                        "sold_sku",     "units_per_sold"};
// CHECK constraints channel_sync defines on orders and on order_lines
constexpr int kOrderChecks = 2;
constexpr int kLineChecks = 6;

// Locks the row of channel_sync.<table> whose one-column key is key FOR KEY SHARE, as the
// foreign-key check of `constraint` on `from` would; its error when there is none.
void lock_referenced(const char* table, const char* index, const char* column, const char* key,
                     const char* from, const char* constraint) {
  Relation heap = cpg::open_cs_relation(table, RowShareLock);
  Relation idx = cpg::open_cs_relation(index, RowShareLock);
  if (heap == nullptr || idx == nullptr)
    elog(ERROR, "channel_sync: %s or its index %s is missing", table, index);
  TupleTableSlot* slot = table_slot_create(heap, nullptr);
  Datum k = CStringGetTextDatum(key);
  bool found = cpg::lock_row_by_key(heap, idx, 1, &k, slot, LockTupleKeyShare);
  ExecDropSingleTupleTableSlot(slot);
  relation_close(idx, RowShareLock);
  relation_close(heap, NoLock);
  if (!found)
    ereport(ERROR, (errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
                    errmsg("insert or update on table \"%s\" violates foreign key constraint \"%s\"",
                           from, constraint),
                    errdetail("Key (%s)=(%s) is not present in table \"%s\".", column, key, table)));
}

int compare_strings(const void* a, const void* b) {
  return strcmp(*static_cast<const char* const*>(a), *static_cast<const char* const*>(b));
}

// Locks each distinct value of keys[0..n) (sorted in place) in channel_sync.<table>.
void lock_each_referenced(const char** keys, int n, const char* table, const char* index,
                          const char* column, const char* constraint) {
  qsort(keys, n, sizeof(const char*), compare_strings);
  for (int k = 0; k < n; ++k)
    if (k == 0 || strcmp(keys[k], keys[k - 1]) != 0)
      lock_referenced(table, index, column, keys[k], "order_lines", constraint);
}

// Locks what the orders and lines reference and another transaction could delete.
void lock_references(const char* channel, const line_row* lines, int nlines) {
  lock_referenced("channels", "channels_pkey", "channel_id", channel, "orders",
                  "orders_channel_id_fkey");
  if (nlines == 0) return;
  const char** keys = static_cast<const char**>(palloc(sizeof(const char*) * nlines));
  for (int k = 0; k < nlines; ++k) keys[k] = lines[k].sku;
  lock_each_referenced(keys, nlines, "skus", "skus_pkey", "sku", "order_lines_sku_fkey");
  for (int k = 0; k < nlines; ++k) keys[k] = lines[k].location_id;
  lock_each_referenced(keys, nlines, "locations", "locations_pkey", "location_id",
                       "order_lines_location_id_fkey");
  pfree(keys);
}

bool insert_order(cpg::row_inserter* u, Datum channel, const order_row& o) {
  cpg::row_inserter_set(u, 0, channel);
  cpg::row_inserter_set(u, 1, CStringGetTextDatum(o.order_id));
  cpg::row_inserter_set(u, 2, CStringGetTextDatum("placed"));
  cpg::row_inserter_set(u, 3, BoolGetDatum(o.oversold));
  cpg::row_inserter_set(u, 4, TimestampTzGetDatum(o.at));
  cpg::row_inserter_set(u, 5, TimestampTzGetDatum(o.at));
  cpg::row_inserter_set(u, 6, Int64GetDatum(o.event_id));
  // order ids are validated (1 to 255 characters) before they get here
  return cpg::row_inserter_insert(u, false);
}

void insert_line(cpg::row_inserter* u, Datum channel, const char* order_id, const line_row& l) {
  cpg::row_inserter_set(u, 0, channel);
  cpg::row_inserter_set(u, 1, CStringGetTextDatum(order_id));
  cpg::row_inserter_set(u, 2, Int32GetDatum(l.line_no));
  cpg::row_inserter_set(u, 3, CStringGetTextDatum(l.sku));
  cpg::row_inserter_set(u, 4, CStringGetTextDatum(l.location_id));
  cpg::row_inserter_set(u, 5, Int32GetDatum(l.qty));
  for (int k = 6; k <= 8; ++k) cpg::row_inserter_set(u, k, Int32GetDatum(0));
  cpg::row_inserter_set(u, 9, CStringGetTextDatum(l.sold_sku));
  cpg::row_inserter_set(u, 10, Int32GetDatum(l.units_per_sold));
  // a line is new (nothing shipped, cancelled or returned): its CHECKs hold when these do
  cpg::row_inserter_insert(u, l.qty <= 0 || l.units_per_sold <= 0);
}

}  // namespace

bool write_orders(const char* channel, const order_row* orders, int n, const line_row* lines,
                  int nlines, bool* placed) {
  Relation order_rel = cpg::open_cs_relation("orders", RowExclusiveLock);
  Relation line_rel = cpg::open_cs_relation("order_lines", RowExclusiveLock);
  Relation order_key = cpg::open_cs_relation("orders_pkey", AccessShareLock);
  bool usable = order_rel != nullptr && line_rel != nullptr && order_key != nullptr;
  cpg::row_inserter ou, lu;
  bool orders_open = usable && cpg::row_inserter_open(&ou, order_rel, RelationGetRelid(order_key),
                                                      kOrderChecks, kOrderColumns, 7);
  bool lines_open = orders_open && cpg::row_inserter_open(&lu, line_rel, InvalidOid, kLineChecks,
                                                          kLineColumns, 11);
  if (lines_open) {
    lock_references(channel, lines, nlines);
    Datum ch = CStringGetTextDatum(channel);
    for (int k = 0; k < n; ++k) placed[k] = insert_order(&ou, ch, orders[k]);
    for (int k = 0; k < nlines; ++k)
      if (placed[lines[k].order]) insert_line(&lu, ch, orders[lines[k].order].order_id, lines[k]);
    cpg::row_inserter_close(&lu);
  }
  if (orders_open) cpg::row_inserter_close(&ou);
  if (order_key != nullptr) relation_close(order_key, AccessShareLock);
  if (line_rel != nullptr) relation_close(line_rel, NoLock);
  if (order_rel != nullptr) relation_close(order_rel, NoLock);
  return lines_open;
}

}  // namespace cs::ingest::pg
