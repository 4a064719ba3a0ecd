// Changes of placed orders without SQL: see order_changes_pg.hpp. Plain C frames only.
#include "ingest/order_changes_pg.hpp"

extern "C" {
#include "access/relation.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "executor/tuptable.h"
#include "utils/builtins.h"
}
#include "common/table_access_pg.hpp"
#include "ingest/own_tables_pg.hpp"
#include "propagation/stock_writes_pg.hpp"

namespace cs::ingest::pg {

namespace {

namespace cpg = cs::pg;

// channel_sync.<table> and its index, opened with mode; an error when either is missing.
void open_with_index(const char* table, const char* index, LOCKMODE mode, Relation* heap,
                     Relation* idx) {
  *heap = cpg::open_cs_relation(table, mode);
  *idx = cpg::open_cs_relation(index, mode);
  if (*heap == nullptr || *idx == nullptr)
    elog(ERROR, "channel_sync: %s or its index %s is missing", table, index);
}

// The relation locks stay until the end of the transaction, as a statement's do.
void close_with_index(Relation heap, Relation idx) {
  relation_close(idx, NoLock);
  relation_close(heap, NoLock);
}

int32 int4_at(TupleTableSlot* slot, AttrNumber att) {
  return DatumGetInt32(slot->tts_values[att - 1]);
}

char* text_at(TupleTableSlot* slot, AttrNumber att) {
  return TextDatumGetCString(slot->tts_values[att - 1]);
}

// Column numbers of order_lines.
struct line_columns {
  AttrNumber line_no, sku, location_id, sold_sku, units_per_sold, qty, shipped, cancelled, returned;
};

line_columns find_line_columns(Relation rel) {
  return {cpg::column_number(rel, "line_no"),        cpg::column_number(rel, "sku"),
          cpg::column_number(rel, "location_id"),    cpg::column_number(rel, "sold_sku"),
          cpg::column_number(rel, "units_per_sold"), cpg::column_number(rel, "qty"),
          cpg::column_number(rel, "qty_shipped"),    cpg::column_number(rel, "qty_cancelled"),
          cpg::column_number(rel, "qty_returned")};
}

locked_line read_line(TupleTableSlot* slot, const line_columns& c) {
  slot_getallattrs(slot);
  return {int4_at(slot, c.line_no),        text_at(slot, c.sku),
          text_at(slot, c.location_id),    text_at(slot, c.sold_sku),
          int4_at(slot, c.units_per_sold), int4_at(slot, c.qty),
          int4_at(slot, c.shipped),        int4_at(slot, c.cancelled),
          int4_at(slot, c.returned)};
}

// Sets column att of the next image of u to value.
void set_next(cpg::row_updater* u, AttrNumber att, Datum value) {
  u->next->tts_values[att - 1] = value;
  u->next->tts_isnull[att - 1] = false;
}

// Finds the row of u with the unique key keys[0..n) (an error when it is gone: the caller
// holds it locked) and starts its next image.
void begin_change(cpg::row_updater* u, int n, const Datum* keys, const char* what) {
  if (!cpg::row_updater_find(u, n, keys)) elog(ERROR, "channel_sync: %s not found", what);
  cpg::row_updater_begin_next(u);
}

void write_lines(const char* channel, const char* order_id, const line_delta* deltas, int n) {
  Relation rel, key;
  open_with_index("order_lines", "order_lines_pkey", RowExclusiveLock, &rel, &key);
  line_columns c = find_line_columns(rel);
  cpg::row_updater u;
  cpg::row_updater_open(&u, rel, RelationGetRelid(key), kLineChecks, count(kLineChecks));
  Datum keys[3] = {CStringGetTextDatum(channel), CStringGetTextDatum(order_id), 0};
  for (int k = 0; k < n; ++k) {
    const line_delta& d = deltas[k];
    keys[2] = Int32GetDatum(d.line_no);
    do {
      begin_change(&u, 3, keys, "a line of the order");
      set_next(&u, c.shipped, Int32GetDatum(int4_at(u.found, c.shipped) + d.shipped));
      set_next(&u, c.cancelled, Int32GetDatum(int4_at(u.found, c.cancelled) + d.cancelled));
      set_next(&u, c.returned, Int32GetDatum(int4_at(u.found, c.returned) + d.returned));
    } while (cpg::row_updater_update(&u) == cpg::update_result::changed_concurrently);
  }
  cpg::row_updater_close(&u);
  close_with_index(rel, key);
}

void write_order(const char* channel, const char* order_id, const char* state, TimestampTz at) {
  Relation rel, key;
  open_with_index("orders", "orders_pkey", RowExclusiveLock, &rel, &key);
  AttrNumber state_att = cpg::column_number(rel, "state");
  AttrNumber updated_att = cpg::column_number(rel, "updated_at");
  cpg::row_updater u;
  cpg::row_updater_open(&u, rel, RelationGetRelid(key), kOrderChecks, count(kOrderChecks));
  Datum keys[2] = {CStringGetTextDatum(channel), CStringGetTextDatum(order_id)};
  do {
    begin_change(&u, 2, keys, "the order");
    TimestampTz updated = DatumGetTimestampTz(u.found->tts_values[updated_att - 1]);
    set_next(&u, state_att, CStringGetTextDatum(state));
    set_next(&u, updated_att, TimestampTzGetDatum(updated > at ? updated : at));
  } while (cpg::row_updater_update(&u) == cpg::update_result::changed_concurrently);
  cpg::row_updater_close(&u);
  close_with_index(rel, key);
}

}  // namespace

bool order_changes_direct() {
  Relation orders = cpg::open_cs_relation("orders", AccessShareLock);
  Relation lines = cpg::open_cs_relation("order_lines", AccessShareLock);
  bool usable = orders != nullptr && lines != nullptr &&
                cs::propagation::triggers_allow_direct_writes(orders) &&
                cs::propagation::triggers_allow_direct_writes(lines);
  if (lines != nullptr) relation_close(lines, NoLock);
  if (orders != nullptr) relation_close(orders, NoLock);
  return usable;
}

char* lock_order(const char* channel, const char* order_id) {
  Relation rel, key;
  open_with_index("orders", "orders_pkey", RowShareLock, &rel, &key);
  TupleTableSlot* slot = table_slot_create(rel, nullptr);
  Datum keys[2] = {CStringGetTextDatum(channel), CStringGetTextDatum(order_id)};
  char* state = nullptr;
  if (cpg::lock_row_by_key(rel, key, 2, keys, slot, LockTupleExclusive)) {
    slot_getallattrs(slot);
    state = text_at(slot, cpg::column_number(rel, "state"));
  }
  ExecDropSingleTupleTableSlot(slot);
  close_with_index(rel, key);
  return state;
}

void lock_order_lines(const char* channel, const char* order_id, locked_line** out, int* n) {
  Relation rel, key;
  open_with_index("order_lines", "order_lines_pkey", RowShareLock, &rel, &key);
  line_columns c = find_line_columns(rel);
  Datum keys[2] = {CStringGetTextDatum(channel), CStringGetTextDatum(order_id)};
  HeapTuple* rows = nullptr;
  int count = 0;
  Snapshot snap = cpg::begin_fresh_read();
  cpg::fetch_by_key(rel, key, 2, keys, nullptr, snap, &rows, &count);
  cpg::end_fresh_read();
  TupleTableSlot* slot = table_slot_create(rel, nullptr);
  locked_line* lines = static_cast<locked_line*>(palloc(sizeof(locked_line) * (count + 1)));
  int locked = 0;
  for (int k = 0; k < count; ++k)  // in the index's order: line_no
    if (cpg::lock_row_at(rel, &rows[k]->t_self, slot, LockTupleExclusive))
      lines[locked++] = read_line(slot, c);
  ExecDropSingleTupleTableSlot(slot);
  close_with_index(rel, key);
  *out = lines;
  *n = locked;
}

void write_order_change(const char* channel, const char* order_id, const line_delta* deltas, int n,
                        const char* state, TimestampTz at) {
  CommandCounterIncrement();  // rows this call wrote (or locked) are visible to the updaters
  write_lines(channel, order_id, deltas, n);
  write_order(channel, order_id, state, at);
}

}  // namespace cs::ingest::pg
