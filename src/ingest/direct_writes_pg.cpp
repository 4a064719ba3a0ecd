// Events, orders and order lines written without SQL: see direct_writes_pg.hpp. Plain C frames
// only.
#include "ingest/direct_writes_pg.hpp"

#include <algorithm>
#include <cstring>

extern "C" {
#include "access/relation.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "commands/sequence.h"
#include "mb/pg_wchar.h"
#include "utils/lsyscache.h"
#include "utils/rls.h"
#include "executor/tuptable.h"
}
#include "common/table_access_pg.hpp"
#include "ingest/own_tables_pg.hpp"
#include "propagation/stock_writes_pg.hpp"

#include <cstdlib>
#include <cstring>

namespace cs::ingest::pg {

namespace {

namespace cpg = cs::pg;

// Locks the rows of channel_sync.<table> whose one-column keys are keys[0..n) FOR KEY SHARE,
// as the foreign-key check of `constraint` on `from` would; its error when one is missing.
void lock_referenced_keys(const char* table, const char* index, const char* column,
                          const char* const* keys, int n, const char* from,
                          const char* constraint) {
  Relation heap = cpg::open_cs_relation(table, RowShareLock);
  Relation idx = cpg::open_cs_relation(index, RowShareLock);
  if (heap == nullptr || idx == nullptr)
    elog(ERROR, "channel_sync: %s or its index %s is missing", table, index);
  TupleTableSlot* slot = table_slot_create(heap, nullptr);
  for (int k = 0; k < n; ++k) {
    Datum key = CStringGetTextDatum(keys[k]);
    if (!cpg::lock_row_by_key(heap, idx, 1, &key, slot, LockTupleKeyShare))
      ereport(ERROR,
              (errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
               errmsg("insert or update on table \"%s\" violates foreign key constraint \"%s\"",
                      from, constraint),
               errdetail("Key (%s)=(%s) is not present in table \"%s\".", column, keys[k], table)));
    pfree(DatumGetPointer(key));
  }
  ExecDropSingleTupleTableSlot(slot);
  relation_close(idx, NoLock);
  relation_close(heap, NoLock);
}

void lock_referenced(const char* table, const char* index, const char* column, const char* key,
                     const char* from, const char* constraint) {
  lock_referenced_keys(table, index, column, &key, 1, from, constraint);
}

int compare_strings(const void* a, const void* b) {
  return strcmp(*static_cast<const char* const*>(a), *static_cast<const char* const*>(b));
}

// Locks each distinct value of keys[0..n) (sorted and made distinct in place) in
// channel_sync.<table>.
void lock_each_referenced(const char** keys, int n, const char* table, const char* index,
                          const char* column, const char* constraint) {
  qsort(keys, n, sizeof(const char*), compare_strings);
  int distinct = 0;
  for (int k = 0; k < n; ++k)
    if (k == 0 || strcmp(keys[k], keys[distinct - 1]) != 0) keys[distinct++] = keys[k];
  lock_referenced_keys(table, index, column, keys, distinct, "order_lines", constraint);
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

void insert_line(cpg::row_inserter* u, Datum channel, const order_row& o, const line_row& l) {
  cpg::row_inserter_set(u, 0, channel);
  cpg::row_inserter_set(u, 1, CStringGetTextDatum(o.order_id));
  cpg::row_inserter_set(u, 2, Int32GetDatum(l.line_no));
  cpg::row_inserter_set(u, 3, CStringGetTextDatum(l.sku));
  cpg::row_inserter_set(u, 4, CStringGetTextDatum(l.location_id));
  cpg::row_inserter_set(u, 5, Int32GetDatum(l.qty));
  for (int k = 6; k <= 8; ++k) cpg::row_inserter_set(u, k, Int32GetDatum(0));
  cpg::row_inserter_set(u, 9, CStringGetTextDatum(l.sold_sku));
  cpg::row_inserter_set(u, 10, Int32GetDatum(l.units_per_sold));
  cpg::row_inserter_set(u, 11, TimestampTzGetDatum(o.at));
  // a line is new (nothing shipped, cancelled or returned): its CHECKs hold when these do
  cpg::row_inserter_insert(u, l.qty <= 0 || l.units_per_sold <= 0);
}

// Whether the event row is known to satisfy events' own CHECKs (else they are evaluated).
bool event_checks_hold(const event_row& e) {
  size_t len = strlen(e.key);
  bool key_ok =
      len > 0 && (len <= 255 || pg_mbstrlen_with_len(e.key, static_cast<int>(len)) <= 255);
  const char* known[] = {"applied", "duplicate", "conflict", "stale", "rejected"};
  bool status_ok = false;
  for (const char* k : known) status_ok = status_ok || strcmp(e.status, k) == 0;
  return key_ok && status_ok;
}

void insert_event(cpg::row_inserter* u, int64 next, Datum channel, Datum received,
                  const event_row& e, int64* id) {
  cpg::row_inserter_set(u, 0, Int64GetDatum(next));
  cpg::row_inserter_set(u, 1, channel);
  cpg::row_inserter_set(u, 2, CStringGetTextDatum(e.key));
  cpg::row_inserter_set(u, 3, CStringGetTextDatum(e.type));
  cpg::row_inserter_set(u, 4, e.payload);
  cpg::row_inserter_set(u, 5, TimestampTzGetDatum(e.occurred_at));
  cpg::row_inserter_set(u, 6, received);
  cpg::row_inserter_set(u, 7, UUIDPGetDatum(e.fingerprint));
  cpg::row_inserter_set(u, 8, CStringGetTextDatum(e.status));
  cpg::row_inserter_set(u, 9, e.detail != nullptr ? CStringGetTextDatum(e.detail) : Datum(0),
                        e.detail == nullptr);
  cpg::row_inserter_set(u, 10, Datum(0), true);
  cpg::row_inserter_set(u, 11, Int32GetDatum(e.duplicates));
  *id = cpg::row_inserter_insert(u, !event_checks_hold(e)) ? next : 0;
}

}  // namespace

// The sequence of events.event_id, remembered for the backend (a pg_depend scan otherwise,
// every call); InvalidOid when the column is no longer an identity (the SQL path fills it).
static Oid event_id_sequence(Relation rel) {
  static Oid known_rel = InvalidOid, known_seq = InvalidOid;
  AttrNumber att = cpg::column_number(rel, "event_id");
  if (TupleDescAttr(RelationGetDescr(rel), att - 1)->attidentity == '\0') return InvalidOid;
  if (known_rel != RelationGetRelid(rel) || get_rel_relkind(known_seq) != RELKIND_SEQUENCE) {
    known_seq = getIdentitySequence(RelationGetRelid(rel), att, false);
    known_rel = RelationGetRelid(rel);
  }
  return known_seq;
}

bool write_events(const char* channel, const event_row* events, int n, int64* ids) {
  Relation rel = cpg::open_cs_relation("events", RowExclusiveLock);
  Relation key = cpg::open_cs_relation("events_first_delivery_key", AccessShareLock);
  cpg::row_inserter u;
  Oid identity = rel != nullptr ? event_id_sequence(rel) : InvalidOid;
  bool open = key != nullptr && OidIsValid(identity) &&
              cpg::row_inserter_open(&u, rel, RelationGetRelid(key), kEvents);
  if (open) {
    lock_referenced("channels", "channels_pkey", "channel_id", channel, "events",
                    "events_channel_id_fkey");
    Datum ch = CStringGetTextDatum(channel);
    Datum received = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
    // ids in the order given; rows inserted in key order, so two calls claiming the same keys
    // in another order wait for each other at the first one instead of deadlocking
    int64* next = static_cast<int64*>(palloc(sizeof(int64) * (n + 1)));
    int* by_key = static_cast<int*>(palloc(sizeof(int) * (n + 1)));
    for (int k = 0; k < n; ++k) {
      next[k] = nextval_internal(identity, false);
      by_key[k] = k;
    }
    std::sort(by_key, by_key + n,
              [&](int x, int y) { return strcmp(events[x].key, events[y].key) < 0; });
    for (int k = 0; k < n; ++k) {
      int e = by_key[k];
      insert_event(&u, next[e], ch, received, events[e], &ids[e]);
    }
    pfree(by_key);
    pfree(next);
    cpg::row_inserter_close(&u);
  }
  if (key != nullptr) relation_close(key, NoLock);
  if (rel != nullptr) relation_close(rel, NoLock);
  return open;
}

namespace {

struct event_columns {
  AttrNumber event_id, fingerprint, status, duplicates;
};

// Finds the first delivery of t on channel and bumps its counter by its duplicates.
void count_one(cpg::row_updater* u, const event_columns& c, Datum channel, taken_key* t) {
  Datum keys[2] = {channel, CStringGetTextDatum(t->key)};
  for (;;) {
    t->found = cpg::row_updater_find(u, 2, keys);
    if (!t->found) return;
    Datum* v = u->found->tts_values;
    t->event_id = DatumGetInt64(v[c.event_id - 1]);
    t->status = TextDatumGetCString(v[c.status - 1]);
    memcpy(t->fingerprint.data, DatumGetUUIDP(v[c.fingerprint - 1])->data, UUID_LEN);
    auto is_owners = [&](const pg_uuid_t* f) {
      return f != nullptr && memcmp(f->data, t->fingerprint.data, UUID_LEN) == 0;
    };
    int same = 0;
    for (int k = 0; k < t->n; ++k)
      same += is_owners(t->fingerprints[k]) || is_owners(t->legacy_fingerprints[k]) ? 1 : 0;
    if (same == 0) return;
    cpg::row_updater_begin_next(u);
    u->next->tts_values[c.duplicates - 1] =
        Int32GetDatum(DatumGetInt32(v[c.duplicates - 1]) + same);
    if (cpg::row_updater_update(u) != cpg::update_result::changed_concurrently) return;
  }
}

}  // namespace

bool count_duplicates(const char* channel, taken_key* keys, int n) {
  Relation rel = cpg::open_cs_relation("events", RowExclusiveLock);
  Relation key = cpg::open_cs_relation("events_first_delivery_key", AccessShareLock);
  bool usable =
      rel != nullptr && key != nullptr && cs::propagation::triggers_allow_direct_writes(rel);
  if (usable) {
    event_columns c{cpg::column_number(rel, "event_id"), cpg::column_number(rel, "fingerprint"),
                    cpg::column_number(rel, "status"), cpg::column_number(rel, "duplicates")};
    CommandCounterIncrement();  // first deliveries this call inserted are the owners too
    cpg::row_updater u;
    cpg::row_updater_open(&u, rel, RelationGetRelid(key), kEventChecks, count(kEventChecks));
    Datum ch = CStringGetTextDatum(channel);
    for (int k = 0; k < n; ++k) count_one(&u, c, ch, &keys[k]);
    cpg::row_updater_close(&u);
  }
  if (key != nullptr) relation_close(key, NoLock);
  if (rel != nullptr) relation_close(rel, NoLock);
  return usable;
}

bool set_statuses(const int64* ids, const char* const* statuses, const char* const* details,
                  int n) {
  Relation rel = cpg::open_cs_relation("events", RowExclusiveLock);
  Relation key = cpg::open_cs_relation("events_pkey", AccessShareLock);
  bool usable =
      rel != nullptr && key != nullptr && cs::propagation::triggers_allow_direct_writes(rel);
  if (usable) {
    AttrNumber status = cpg::column_number(rel, "status");
    AttrNumber detail = cpg::column_number(rel, "detail");
    CommandCounterIncrement();  // the rows write_events inserted in this call
    cpg::row_updater u;
    cpg::row_updater_open(&u, rel, RelationGetRelid(key), kEventChecks, count(kEventChecks));
    u.references_locked = true;
    for (int k = 0; k < n; ++k) {
      Datum id = Int64GetDatum(ids[k]);
      do {
        if (!cpg::row_updater_find(&u, 1, &id))
          elog(ERROR, "channel_sync: event %lld not found", static_cast<long long>(ids[k]));
        cpg::row_updater_begin_next(&u);
        u.next->tts_values[status - 1] = CStringGetTextDatum(statuses[k]);
        u.next->tts_isnull[detail - 1] = details[k] == nullptr;
        u.next->tts_values[detail - 1] =
            details[k] == nullptr ? 0 : CStringGetTextDatum(details[k]);
      } while (cpg::row_updater_update(&u) == cpg::update_result::changed_concurrently);
    }
    cpg::row_updater_close(&u);
  }
  if (key != nullptr) relation_close(key, NoLock);
  if (rel != nullptr) relation_close(rel, NoLock);
  return usable;
}

bool write_orders(const char* channel, const order_row* orders, int n, const line_row* lines,
                  int nlines, bool* placed) {
  Relation order_rel = cpg::open_cs_relation("orders", RowExclusiveLock);
  Relation line_rel = cpg::open_cs_relation("order_lines", RowExclusiveLock);
  Relation order_key = cpg::open_cs_relation("orders_pkey", AccessShareLock);
  bool usable = order_rel != nullptr && line_rel != nullptr && order_key != nullptr;
  cpg::row_inserter ou, lu;
  bool orders_open =
      usable && cpg::row_inserter_open(&ou, order_rel, RelationGetRelid(order_key), kOrders);
  bool lines_open = orders_open && cpg::row_inserter_open(&lu, line_rel, InvalidOid, kLines);
  if (lines_open) {
    lock_references(channel, lines, nlines);
    Datum ch = CStringGetTextDatum(channel);
    for (int k = 0; k < n; ++k) placed[k] = insert_order(&ou, ch, orders[k]);
    for (int k = 0; k < nlines; ++k)
      if (placed[lines[k].order]) insert_line(&lu, ch, orders[lines[k].order], lines[k]);
    cpg::row_inserter_close(&lu);
  }
  if (orders_open) cpg::row_inserter_close(&ou);
  if (order_key != nullptr) relation_close(order_key, NoLock);
  if (line_rel != nullptr) relation_close(line_rel, NoLock);
  if (order_rel != nullptr) relation_close(order_rel, NoLock);
  return lines_open;
}

namespace {

struct stock_columns {
  AttrNumber on_hand, reserved;
};

constexpr const char* kStockChecks[] = {"on_hand_not_negative", "reserved_not_negative",
                                        "safety_stock_not_negative"};

// One row's change; its own constraints hold by construction, or the row goes to SQL.
void update_stock_row(cpg::row_updater* u, const stock_columns& c, stock_delta* d) {
  Datum keys[2] = {CStringGetTextDatum(d->sku), CStringGetTextDatum(d->location_id)};
  for (bool read_at = ItemPointerIsValid(&d->at);; read_at = false) {
    if (!(read_at && cpg::row_updater_fetch(u, &d->at, 2, keys)) &&
        !cpg::row_updater_find(u, 2, keys)) {
      d->outcome = stock_delta::missing;
      return;
    }
    int64 on_hand = DatumGetInt32(u->found->tts_values[c.on_hand - 1]);
    int64 reserved = DatumGetInt32(u->found->tts_values[c.reserved - 1]);
    int64 next_on_hand = on_hand + d->on_hand_delta;
    int64 next_reserved = reserved + d->reserved_delta < 0 ? 0 : reserved + d->reserved_delta;
    if (next_on_hand < 0 || next_on_hand > PG_INT32_MAX || next_reserved > PG_INT32_MAX) {
      d->outcome = stock_delta::to_sql;
      return;
    }
    cpg::row_updater_begin_next(u);
    u->next->tts_values[c.on_hand - 1] = Int32GetDatum(static_cast<int32>(next_on_hand));
    u->next->tts_values[c.reserved - 1] = Int32GetDatum(static_cast<int32>(next_reserved));
    cpg::update_result done = cpg::row_updater_update(u);
    if (done == cpg::update_result::changed_concurrently) continue;
    d->outcome = stock_delta::written;
    d->changed = done == cpg::update_result::written &&
                 (next_on_hand != on_hand || next_reserved != reserved);
    return;
  }
}

}  // namespace

bool update_stock(stock_delta* deltas, int n) {
  Relation rel = cpg::open_cs_relation("stock", RowExclusiveLock);
  Relation key = cpg::open_cs_relation("stock_pkey", AccessShareLock);
  // READ COMMITTED only: the writer follows a concurrent update to the latest version, where
  // an UPDATE under REPEATABLE READ or SERIALIZABLE fails with 40001
  bool usable = !IsolationUsesXactSnapshot() && rel != nullptr && key != nullptr &&
                cs::propagation::stock_triggers_as_installed(rel) &&
                check_enable_rls(RelationGetRelid(rel), InvalidOid, true) != RLS_ENABLED;
  if (usable) {
    stock_columns c{cpg::column_number(rel, "on_hand"), cpg::column_number(rel, "reserved")};
    cpg::row_updater u;
    cpg::row_updater_open(&u, rel, RelationGetRelid(key), kStockChecks, count(kStockChecks));
    for (int k = 0; k < n; ++k) update_stock_row(&u, c, &deltas[k]);
    cpg::row_updater_close(&u);
  }
  if (key != nullptr) relation_close(key, NoLock);
  if (rel != nullptr) relation_close(rel, NoLock);
  return usable;
}

}  // namespace cs::ingest::pg
