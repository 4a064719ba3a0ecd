// Direct table access: see table_access_pg.hpp. Plain C frames only.
#include "common/table_access_pg.hpp"

extern "C" {
#include "access/relation.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/htup_details.h"
#include "access/itup.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "executor/nodeModifyTable.h"
#include "catalog/pg_trigger.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/rls.h"
#include "executor/tuptable.h"
#include "nodes/makefuncs.h"
#include "parser/parsetree.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/snapmgr.h"
}

namespace cs::pg {

// Relation OIDs by name, remembered for the backend: the hot path opens ~20 relations per
// statement. A remembered OID is checked on every open (a dropped and re-created extension
// has new OIDs), and looked up again when it no longer names channel_sync.<name>.
struct remembered_oid {
  const char* name;  // a string literal of the caller
  Oid relid;
};
static remembered_oid remembered[64];
static int remembered_count = 0;

static Oid lookup_cs_relation(const char* name) {
  Oid ns = get_namespace_oid("channel_sync", true);
  return OidIsValid(ns) ? get_relname_relid(name, ns) : InvalidOid;
}

static bool names(Relation rel, const char* name) {
  return strcmp(RelationGetRelationName(rel), name) == 0 &&
         strcmp(get_namespace_name(RelationGetNamespace(rel)), "channel_sync") == 0;
}

Relation open_cs_relation(const char* name, LOCKMODE mode) {
  remembered_oid* slot = nullptr;
  for (int k = 0; k < remembered_count && slot == nullptr; ++k)
    if (remembered[k].name == name || strcmp(remembered[k].name, name) == 0) slot = &remembered[k];
  if (slot != nullptr) {
    Relation rel = try_relation_open(slot->relid, mode);
    if (rel != nullptr && names(rel, name)) return rel;
    if (rel != nullptr) relation_close(rel, mode);
  }
  Oid relid = lookup_cs_relation(name);
  if (!OidIsValid(relid)) return nullptr;
  if (slot == nullptr && remembered_count < 64) slot = &remembered[remembered_count++];
  if (slot != nullptr) *slot = remembered_oid{name, relid};
  return relation_open(relid, mode);
}

// The B-tree equality function of an operator family and type, remembered for the backend
// (built-in operator families and their members do not change).
static RegProcedure equality_proc(Oid opfamily, Oid type) {
  static struct {
    Oid opfamily, type;
    RegProcedure proc;
  } known[16];
  static int count = 0;
  for (int k = 0; k < count; ++k)
    if (known[k].opfamily == opfamily && known[k].type == type) return known[k].proc;
  Oid op = get_opfamily_member(opfamily, type, type, BTEqualStrategyNumber);
  if (!OidIsValid(op))
    elog(ERROR, "channel_sync: no equality operator in operator family %u", opfamily);
  RegProcedure proc = get_opcode(op);
  if (count < 16) known[count++] = {opfamily, type, proc};
  return proc;
}

// The equality scan key of index column k (1-based) for value, or IS NULL.
static void equality_key(Relation index, int k, Datum value, bool isnull, ScanKey key) {
  if (isnull) {
    ScanKeyEntryInitialize(key, SK_ISNULL | SK_SEARCHNULL, k, InvalidStrategy, InvalidOid,
                           InvalidOid, InvalidOid, (Datum)0);
    return;
  }
  ScanKeyInit(key, k, BTEqualStrategyNumber,
              equality_proc(index->rd_opfamily[k - 1], index->rd_opcintype[k - 1]), value);
  key->sk_collation = index->rd_indcollation[k - 1];
}

namespace {

// Appends a copy of the row in slot to rows (size: its capacity).
void append_copy(TupleTableSlot* slot, HeapTuple** rows, int* size, int* n) {
  if (*n == *size) {
    *size *= 2;
    *rows = static_cast<HeapTuple*>(repalloc(*rows, sizeof(HeapTuple) * *size));
  }
  (*rows)[(*n)++] = ExecCopySlotHeapTuple(slot);
}

}  // namespace

void fetch_by_key(Relation heap, Relation index, int nkeys, const Datum* keys, const bool* nulls,
                  Snapshot snap, HeapTuple** out, int* count) {
  ScanKeyData skeys[INDEX_MAX_KEYS];
  for (int k = 0; k < nkeys; ++k)
    equality_key(index, k + 1, keys[k], nulls != nullptr && nulls[k], &skeys[k]);
  IndexScanDesc scan = index_beginscan(heap, index, snap, nkeys, 0);
  index_rescan(scan, skeys, nkeys, nullptr, 0);
  TupleTableSlot* slot = table_slot_create(heap, nullptr);
  int size = 4, n = 0;
  HeapTuple* rows = static_cast<HeapTuple*>(palloc(sizeof(HeapTuple) * size));
  while (index_getnext_slot(scan, ForwardScanDirection, slot)) append_copy(slot, &rows, &size, &n);
  index_endscan(scan);
  ExecDropSingleTupleTableSlot(slot);
  *out = rows;
  *count = n;
}

void fetch_all(Relation heap, Snapshot snap, HeapTuple** out, int* count) {
  TableScanDesc scan = table_beginscan(heap, snap, 0, nullptr);
  TupleTableSlot* slot = table_slot_create(heap, nullptr);
  int size = 8, n = 0;
  HeapTuple* rows = static_cast<HeapTuple*>(palloc(sizeof(HeapTuple) * size));
  while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
    append_copy(slot, &rows, &size, &n);
  table_endscan(scan);
  ExecDropSingleTupleTableSlot(slot);
  *out = rows;
  *count = n;
}

// Locks the row version at tid (READ COMMITTED: its latest version, after waiting for a
// concurrent writer; REPEATABLE READ and SERIALIZABLE fail instead when it was updated, as
// SELECT ... FOR UPDATE does); false when it was deleted.
static bool lock_version(Relation heap, ItemPointer tid, Snapshot snap, TupleTableSlot* slot,
                         LockTupleMode mode, bool xact_snapshot) {
  TM_FailureData tmfd;
  TM_Result result =
      table_tuple_lock(heap, tid, snap, slot, GetCurrentCommandId(false), mode, LockWaitBlock,
                       xact_snapshot ? 0 : TUPLE_LOCK_FLAG_FIND_LAST_VERSION, &tmfd);
  if (xact_snapshot && (result == TM_Updated || result == TM_Deleted))
    ereport(ERROR, (errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
                    errmsg("could not serialize access due to concurrent update")));
  if (result != TM_Ok && result != TM_Deleted)
    elog(ERROR, "channel_sync: unexpected result %d locking a row of %s", static_cast<int>(result),
         RelationGetRelationName(heap));
  return result == TM_Ok;
}

bool lock_row_by_key(Relation heap, Relation index, int n, const Datum* keys, TupleTableSlot* slot,
                     LockTupleMode mode) {
  ScanKeyData skeys[INDEX_MAX_KEYS];
  for (int k = 0; k < n; ++k) equality_key(index, k + 1, keys[k], false, &skeys[k]);
  // READ COMMITTED follows a concurrent update to the latest version; REPEATABLE READ and
  // SERIALIZABLE fail instead, as SELECT ... FOR UPDATE does
  bool xact_snapshot = IsolationUsesXactSnapshot();
  Snapshot snap = begin_fresh_read();
  IndexScanDesc scan = index_beginscan(heap, index, snap, n, 0);
  index_rescan(scan, skeys, n, nullptr, 0);
  bool found = index_getnext_slot(scan, ForwardScanDirection, slot);
  ItemPointerData tid;
  if (found) tid = slot->tts_tid;
  index_endscan(scan);
  bool locked = found && lock_version(heap, &tid, snap, slot, mode, xact_snapshot);
  end_fresh_read();
  return locked;
}

bool lock_row_at(Relation heap, const ItemPointerData* tid, TupleTableSlot* slot,
                 LockTupleMode mode) {
  bool xact_snapshot = IsolationUsesXactSnapshot();
  Snapshot snap = begin_fresh_read();
  ItemPointerData at = *tid;  // table_tuple_lock moves it along the update chain
  bool locked = lock_version(heap, &at, snap, slot, mode, xact_snapshot);
  end_fresh_read();
  return locked;
}

Snapshot begin_fresh_read() {
  CommandCounterIncrement();
  PushCopiedSnapshot(GetTransactionSnapshot());
  UpdateActiveSnapshotCommandId();
  return GetActiveSnapshot();
}

void end_fresh_read() {
  PopActiveSnapshot();
}

char* text_by_key(Relation heap, Relation index, int n, const Datum* keys, AttrNumber att,
                  Snapshot snap, bool* found) {
  HeapTuple* rows = nullptr;
  int count = 0;
  fetch_by_key(heap, index, n, keys, nullptr, snap, &rows, &count);
  *found = count > 0;
  if (count == 0) return nullptr;
  bool isnull = false;
  Datum v = heap_getattr(rows[0], att, RelationGetDescr(heap), &isnull);
  if (isnull) return nullptr;
  Form_pg_attribute a = TupleDescAttr(RelationGetDescr(heap), att - 1);
  if (a->atttypid == NAMEOID) return pstrdup(NameStr(*DatumGetName(v)));
  return text_to_cstring(DatumGetTextPP(v));
}

char* text_by_unique_key(const char* table, const char* index, const char* key, const char* column,
                         bool* found) {
  Relation heap = open_cs_relation(table, AccessShareLock);
  Relation idx = open_cs_relation(index, AccessShareLock);
  if (heap == nullptr || idx == nullptr)
    elog(ERROR, "channel_sync: %s or its index %s is missing", table, index);
  Datum k = CStringGetTextDatum(key);
  Snapshot snap = begin_fresh_read();
  char* value = text_by_key(heap, idx, 1, &k, column_number(heap, column), snap, found);
  end_fresh_read();
  relation_close(idx, NoLock);
  relation_close(heap, NoLock);
  return value;
}

bool cs_table_has_column(const char* table, const char* column) {
  Oid relid = lookup_cs_relation(table);
  return OidIsValid(relid) && get_attnum(relid, column) != InvalidAttrNumber;
}

AttrNumber column_number(Relation rel, const char* column) {
  TupleDesc desc = RelationGetDescr(rel);
  for (int i = 0; i < desc->natts; ++i) {
    Form_pg_attribute att = TupleDescAttr(desc, i);
    if (!att->attisdropped && strcmp(NameStr(att->attname), column) == 0) return att->attnum;
  }
  elog(ERROR, "channel_sync: %s has no column %s", RelationGetRelationName(rel), column);
  return InvalidAttrNumber;
}

// A fresh scan of the key index with the latest snapshot.
static void begin_key_scan(row_updater* u) {
  u->snap = RegisterSnapshot(GetLatestSnapshot());
  u->scan = index_beginscan(u->rel, u->index, u->snap,
                            IndexRelationGetNumberOfKeyAttributes(u->index), 0);
  u->prefix_scan = nullptr;
  u->entry_fetch = nullptr;
}

static void end_key_scan(row_updater* u) {
  if (u->entry_fetch != nullptr) table_index_fetch_end(u->entry_fetch);
  if (u->prefix_scan != nullptr) index_endscan(u->prefix_scan);
  index_endscan(u->scan);
  UnregisterSnapshot(u->snap);
}

// An executor state writing rel as the one result relation of a statement (the command's
// rows stamped with the current command id), as the logical replication apply worker sets
// one up; *rri its ResultRelInfo, indexes not opened yet.
static EState* begin_writes(Relation rel, ResultRelInfo** rri) {
  EState* estate = CreateExecutorState();
  RangeTblEntry* rte = makeNode(RangeTblEntry);
  rte->rtekind = RTE_RELATION;
  rte->relid = RelationGetRelid(rel);
  rte->relkind = rel->rd_rel->relkind;
  rte->rellockmode = RowExclusiveLock;
  ExecInitRangeTable(estate, list_make1(rte));
  *rri = makeNode(ResultRelInfo);
  InitResultRelInfo(*rri, rel, 1, nullptr, 0);
  estate->es_output_cid = GetCurrentCommandId(true);
  return estate;
}

static void end_writes(EState* estate, ResultRelInfo* rri) {
  ExecCloseIndices(rri);
  ExecCloseResultRelations(estate);
  ExecCloseRangeTableRelations(estate);
  ExecResetTupleTable(estate->es_tupleTable, false);
  FreeExecutorState(estate);
}

// Whether the table has a CHECK constraint not named in names[0..n).
static bool has_other_checks(Relation rel, const char* const* names, int n) {
  TupleConstr* constr = rel->rd_att->constr;
  for (int k = 0; constr != nullptr && k < constr->num_check; ++k) {
    bool own = false;
    for (int j = 0; j < n && !own; ++j) own = strcmp(constr->check[k].ccname, names[j]) == 0;
    if (!own) return true;
  }
  return false;
}

// Which AFTER ROW UPDATE triggers rel fires (see row_updater), and its foreign keys' columns.
static void find_after_row_triggers(Relation rel, row_updater* u) {
  u->after_row_triggers = u->foreign_key_checks = u->deferrable_checks = false;
  u->foreign_key_columns = nullptr;
  TriggerDesc* td = rel->trigdesc;
  for (int i = 0; td != nullptr && td->trig_update_after_row && i < td->numtriggers; ++i) {
    const Trigger& t = td->triggers[i];
    if (!TRIGGER_FOR_ROW(t.tgtype) || !TRIGGER_FOR_AFTER(t.tgtype) ||
        !TRIGGER_FOR_UPDATE(t.tgtype) || t.tgenabled == TRIGGER_DISABLED)
      continue;
    bool& kind = t.tgfoid == F_RI_FKEY_CHECK_UPD ? u->foreign_key_checks : u->after_row_triggers;
    kind = true;
    if (t.tgfoid == F_RI_FKEY_CHECK_UPD && t.tgdeferrable) u->deferrable_checks = true;
  }
  if (!u->foreign_key_checks) return;
  ListCell* lc;
  foreach (lc, RelationGetFKeyList(rel)) {
    ForeignKeyCacheInfo* fk = lfirst_node(ForeignKeyCacheInfo, lc);
    for (int k = 0; k < fk->nkeys; ++k)
      u->foreign_key_columns = bms_add_member(u->foreign_key_columns, fk->conkey[k]);
  }
}

// Whether an update of found to next needs its foreign keys checked: when a referencing
// column changes, or when this transaction wrote the row and the check its insert queued may
// not have run yet (it would not see the row once updated; unless the caller inserted it with
// none queued and its references locked). RI_FKey_fk_upd_check_required checks every row this
// transaction wrote, as it cannot tell whether that check ran. Here it can: a check that is
// not deferrable runs at the end of the inserting statement, before any later statement and
// before the statement triggers of its own (which is where channel_sync updates rows in place),
// so a row written by this transaction whose referencing columns keep their values needs no
// second check -- a row updated again and again in one transaction (a bundle's listing
// re-targeted by each of its components' changes, say) no longer runs one per update.
static bool foreign_keys_to_check(const row_updater* u) {
  bool isnull = false;
  Datum xmin = slot_getsysattr(u->found, MinTransactionIdAttributeNumber, &isnull);
  if ((isnull || TransactionIdIsCurrentTransactionId(DatumGetTransactionId(xmin))) &&
      !u->references_locked && u->deferrable_checks)
    return true;
  TupleDesc desc = RelationGetDescr(u->rel);
  for (int att = -1; (att = bms_next_member(u->foreign_key_columns, att)) >= 0;) {
    Form_pg_attribute a = TupleDescAttr(desc, att - 1);
    bool was_null = u->found->tts_isnull[att - 1], is_null = u->next->tts_isnull[att - 1];
    if (was_null != is_null) return true;
    if (!is_null && !datumIsEqual(u->found->tts_values[att - 1], u->next->tts_values[att - 1],
                                  a->attbyval, a->attlen))
      return true;
  }
  return false;
}

// Whether an UPDATE trigger of the table fires only for some columns (UPDATE OF ...).
static bool has_column_triggers(Relation rel) {
  const TriggerDesc* td = rel->trigdesc;
  for (int k = 0; td != nullptr && k < td->numtriggers; ++k)
    if (TRIGGER_FOR_UPDATE(td->triggers[k].tgtype) && td->triggers[k].tgnattr > 0) return true;
  return false;
}

// Every user column of rel, as an UPDATE's updatedCols lists them.
static Bitmapset* all_columns(Relation rel) {
  Bitmapset* cols = nullptr;
  TupleDesc desc = RelationGetDescr(rel);
  for (int i = 0; i < desc->natts; ++i)
    if (!TupleDescAttr(desc, i)->attisdropped)
      cols = bms_add_member(cols, i + 1 - FirstLowInvalidHeapAttributeNumber);
  return cols;
}

// The columns whose value differs between the row found and its next image.
static Bitmapset* changed_columns(const row_updater* u) {
  Bitmapset* cols = nullptr;
  TupleDesc desc = RelationGetDescr(u->rel);
  for (int i = 0; i < desc->natts; ++i) {
    Form_pg_attribute att = TupleDescAttr(desc, i);
    bool was_null = u->found->tts_isnull[i], is_null = u->next->tts_isnull[i];
    bool same = was_null == is_null &&
                (is_null || datumIsEqual(u->found->tts_values[i], u->next->tts_values[i],
                                         att->attbyval, att->attlen));
    if (!att->attisdropped && !same)
      cols = bms_add_member(cols, i + 1 - FirstLowInvalidHeapAttributeNumber);
  }
  return cols;
}

// Stored generated columns are computed from every column (built once: an UPDATE builds
// them from its SET list), so a write through the updater keeps them current.
static void prepare_generated(row_updater* u) {
  TupleConstr* constr = u->rel->rd_att->constr;
  u->generated = constr != nullptr && constr->has_generated_stored;
  if (!u->generated) return;
  RangeTblEntry* rte = exec_rt_fetch(1, u->estate);
  rte->updatedCols = all_columns(u->rel);
  ExecInitStoredGenerated(u->rri, u->estate, CMD_UPDATE);
  rte->updatedCols = nullptr;
}

void row_updater_open(row_updater* u, Relation rel, Oid key_index, const char* const* own_checks,
                      int n) {
  u->rel = rel;
  u->nblocks = InvalidBlockNumber;
  u->references_locked = false;
  u->check = has_other_checks(rel, own_checks, n);
  find_after_row_triggers(rel, u);
  u->index = index_open(key_index, RowExclusiveLock);
  begin_key_scan(u);
  u->estate = begin_writes(rel, &u->rri);
  u->estate->es_snapshot = u->snap;
  ExecOpenIndices(u->rri, false);
  EvalPlanQualInit(&u->epq, u->estate, nullptr, NIL, -1);
  u->found = ExecInitExtraTupleSlot(u->estate, RelationGetDescr(rel), table_slot_callbacks(rel));
  u->next = ExecInitExtraTupleSlot(u->estate, RelationGetDescr(rel), &TTSOpsVirtual);
  prepare_generated(u);
  u->column_triggers = has_column_triggers(rel);
  AfterTriggerBeginQuery();
}

bool row_updater_find(row_updater* u, int n, const Datum* keys) {
  ScanKeyData skeys[INDEX_MAX_KEYS];
  for (int k = 0; k < n; ++k) equality_key(u->index, k + 1, keys[k], false, &skeys[k]);
  index_rescan(u->scan, skeys, n, nullptr, 0);
  if (!index_getnext_slot(u->scan, ForwardScanDirection, u->found)) return false;
  slot_getallattrs(u->found);
  return true;
}

// Whether the row in found (deformed here) has the unique key keys[0..n).
static bool found_has_key(row_updater* u, int n, const Datum* keys) {
  slot_getallattrs(u->found);
  for (int k = 0; k < n; ++k) {
    AttrNumber att = u->index->rd_index->indkey.values[k];
    if (att <= 0 || u->found->tts_isnull[att - 1]) return false;
    RegProcedure eq = equality_proc(u->index->rd_opfamily[k], u->index->rd_opcintype[k]);
    if (!DatumGetBool(OidFunctionCall2Coll(eq, u->index->rd_indcollation[k],
                                           u->found->tts_values[att - 1], keys[k])))
      return false;
  }
  return true;
}

bool row_updater_fetch(row_updater* u, ItemPointer tid, int n, const Datum* keys) {
  // the page may be gone (VACUUM truncated the table after the row moved away, before the
  // caller locked it)
  BlockNumber block = ItemPointerGetBlockNumber(tid);
  if (u->nblocks == InvalidBlockNumber || block >= u->nblocks)
    u->nblocks = RelationGetNumberOfBlocks(u->rel);
  if (block >= u->nblocks) return false;
  if (!table_tuple_fetch_row_version(u->rel, tid, u->snap, u->found)) return false;
  return found_has_key(u, n, keys);
}

bool row_updater_fetch_entry(row_updater* u, ItemPointer tid, int n, const Datum* keys) {
  if (u->entry_fetch == nullptr) u->entry_fetch = table_index_fetch_begin(u->rel);
  ItemPointerData at = *tid;
  bool call_again = false, all_dead = false;
  if (!table_index_fetch_tuple(u->entry_fetch, &at, u->snap, u->found, &call_again, &all_dead))
    return false;
  return found_has_key(u, n, keys);
}

void row_updater_locate(row_updater* u, Datum prefix, int n, const Datum* wanted,
                        ItemPointerData* tids, int* entries) {
  for (int k = 0; k < n; ++k) {
    ItemPointerSetInvalid(&tids[k]);
    entries[k] = 0;
  }
  ScanKeyData key;
  equality_key(u->index, 1, prefix, false, &key);
  if (u->prefix_scan == nullptr) {
    u->prefix_scan = index_beginscan(u->rel, u->index, u->snap, 1, 0);
    u->prefix_scan->xs_want_itup = true;  // the second key column from the entry, not the row
  }
  IndexScanDesc scan = u->prefix_scan;
  index_rescan(scan, &key, 1, nullptr, 0);
  RegProcedure eq = equality_proc(u->index->rd_opfamily[1], u->index->rd_opcintype[1]);
  Oid collation = u->index->rd_indcollation[1];
  for (ItemPointer tid; (tid = index_getnext_tid(scan, ForwardScanDirection)) != nullptr;) {
    bool isnull = false;
    Datum value = index_getattr(scan->xs_itup, 2, scan->xs_itupdesc, &isnull);
    for (int k = 0; !isnull && k < n; ++k) {
      if (!DatumGetBool(OidFunctionCall2Coll(eq, collation, value, wanted[k]))) continue;
      if (entries[k]++ == 0)
        tids[k] = *tid;
      else
        ItemPointerSetInvalid(&tids[k]);  // the row is behind one of several: find it by key
      break;
    }
  }
}

void row_updater_begin_next(row_updater* u) {
  TupleTableSlot* next = u->next;
  int natts = next->tts_tupleDescriptor->natts;
  ExecClearTuple(next);
  memcpy(next->tts_values, u->found->tts_values, sizeof(Datum) * natts);
  memcpy(next->tts_isnull, u->found->tts_isnull, sizeof(bool) * natts);
}

update_result row_updater_update(row_updater* u) {
  TupleTableSlot* next = ExecStoreVirtualTuple(u->next);
  ItemPointer tid = &u->found->tts_tid;
  ResultRelInfo* rri = u->rri;
  EState* estate = u->estate;
  CheckCmdReplicaIdentity(u->rel, CMD_UPDATE);
  if (u->column_triggers) {
    RangeTblEntry* rte = exec_rt_fetch(1, estate);
    bms_free(rte->updatedCols);
    rte->updatedCols = changed_columns(u);
  }
  if (rri->ri_TrigDesc != nullptr && rri->ri_TrigDesc->trig_update_before_row &&
      !ExecBRUpdateTriggers(estate, &u->epq, rri, tid, nullptr, next, nullptr))
    return update_result::skipped_by_trigger;
  if (u->generated) ExecComputeStoredGenerated(rri, estate, next, CMD_UPDATE);
  if (u->check) ExecConstraints(rri, next, estate);
  // no after-row event when foreign-key checks are the only triggers and would pass it by
  bool after_row = u->after_row_triggers || (u->foreign_key_checks && foreign_keys_to_check(u));
  TM_FailureData tmfd;
  LockTupleMode lockmode;
  bool update_indexes = false;
  TM_Result result = table_tuple_update(u->rel, tid, next, estate->es_output_cid, u->snap,
                                        InvalidSnapshot, true, &tmfd, &lockmode, &update_indexes);
  if (result == TM_Updated || result == TM_Deleted) {
    end_key_scan(u);  // find it again with a snapshot that sees the other writer
    begin_key_scan(u);
    estate->es_snapshot = u->snap;
    return update_result::changed_concurrently;
  }
  if (result != TM_Ok)
    elog(ERROR, "channel_sync: unexpected result %d updating %s", static_cast<int>(result),
         RelationGetRelationName(u->rel));
  List* recheck = NIL;
  if (rri->ri_NumIndices > 0 && update_indexes)
    recheck = ExecInsertIndexTuples(rri, next, estate, true, false, nullptr, NIL);
  if (after_row)
    ExecARUpdateTriggers(estate, rri, nullptr, nullptr, tid, nullptr, next, recheck, nullptr,
                         false);
  list_free(recheck);
  return update_result::written;
}

void row_updater_close(row_updater* u) {
  AfterTriggerEndQuery(u->estate);
  EvalPlanQualEnd(&u->epq);
  end_writes(u->estate, u->rri);
  end_key_scan(u);
  index_close(u->index, NoLock);
}

// Whether every trigger of the table is a foreign-key trigger of PostgreSQL's: of one of
// own.foreign_keys, or on the referenced side (those act on UPDATE and DELETE only).
static bool only_own_foreign_key_triggers(const TriggerDesc* td, const own_definition& own) {
  for (int k = 0; td != nullptr && k < td->numtriggers; ++k) {
    const Trigger& t = td->triggers[k];
    int type = t.tgisinternal ? RI_FKey_trigger_type(t.tgfoid) : RI_TRIGGER_NONE;
    if (type == RI_TRIGGER_NONE) return false;
    if (type == RI_TRIGGER_PK) continue;
    char* name = get_constraint_name(t.tgconstraint);
    bool known = false;
    for (int j = 0; name != nullptr && j < own.nforeign_keys && !known; ++j)
      known = strcmp(name, own.foreign_keys[j]) == 0;
    if (!known) return false;
  }
  return true;
}

// Whether the table's live columns are exactly columns[0..n); their numbers in atts.
static bool has_exactly(Relation rel, const char* const* columns, int n, AttrNumber* atts) {
  TupleDesc desc = RelationGetDescr(rel);
  int live = 0;
  for (int i = 0; i < desc->natts; ++i) {
    Form_pg_attribute att = TupleDescAttr(desc, i);
    if (att->attisdropped) continue;
    if (att->attgenerated) return false;
    ++live;
    int k = 0;
    while (k < n && strcmp(NameStr(att->attname), columns[k]) != 0) ++k;
    if (k == n) return false;
    atts[k] = att->attnum;
  }
  return live == n;
}

bool row_inserter_open(row_inserter* u, Relation rel, Oid arbiter, const own_definition& own) {
  if (own.ncolumns > 16 || rel->rd_rel->relkind != RELKIND_RELATION ||
      check_enable_rls(RelationGetRelid(rel), InvalidOid, true) == RLS_ENABLED ||
      !only_own_foreign_key_triggers(rel->trigdesc, own) ||
      !has_exactly(rel, own.columns, own.ncolumns, u->atts))
    return false;
  u->rel = rel;
  u->natts = own.ncolumns;
  u->check = has_other_checks(rel, own.checks, own.nchecks);
  u->arbiters = OidIsValid(arbiter) ? list_make1_oid(arbiter) : NIL;
  u->estate = begin_writes(rel, &u->rri);
  ExecOpenIndices(u->rri, u->arbiters != NIL);
  u->slot = ExecInitExtraTupleSlot(u->estate, RelationGetDescr(rel), &TTSOpsVirtual);
  ExecClearTuple(u->slot);
  int natts = RelationGetDescr(rel)->natts;  // dropped columns stay null
  memset(u->slot->tts_values, 0, sizeof(Datum) * natts);
  memset(u->slot->tts_isnull, true, sizeof(bool) * natts);
  return true;
}

void row_inserter_set(row_inserter* u, int k, Datum value, bool isnull) {
  AttrNumber att = u->atts[k];
  u->slot->tts_values[att - 1] = value;
  u->slot->tts_isnull[att - 1] = isnull;
}

// ON CONFLICT DO NOTHING under REPEATABLE READ or SERIALIZABLE: a conflicting row that the
// transaction's snapshot cannot see (a concurrent transaction's) is a serialization failure.
static void check_conflict_visible(row_inserter* u, ItemPointer conflict) {
  if (!IsolationUsesXactSnapshot()) return;
  TupleTableSlot* other = table_slot_create(u->rel, nullptr);
  if (!table_tuple_fetch_row_version(u->rel, conflict, SnapshotAny, other))
    elog(ERROR, "channel_sync: failed to fetch the conflicting row of %s",
         RelationGetRelationName(u->rel));
  if (!table_tuple_satisfies_snapshot(u->rel, other, GetTransactionSnapshot())) {
    bool isnull = false;
    Datum xmin = slot_getsysattr(other, MinTransactionIdAttributeNumber, &isnull);
    if (!TransactionIdIsCurrentTransactionId(DatumGetTransactionId(xmin)))
      ereport(ERROR, (errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
                      errmsg("could not serialize access due to concurrent update")));
  }
  ExecDropSingleTupleTableSlot(other);
}

bool row_inserter_insert(row_inserter* u, bool check) {
  TupleTableSlot* slot = ExecStoreVirtualTuple(u->slot);
  EState* estate = u->estate;
  ResetPerTupleExprContext(estate);
  if (u->check || check) ExecConstraints(u->rri, slot, estate);
  bool inserted = true;
  if (u->arbiters == NIL) {
    table_tuple_insert(u->rel, slot, estate->es_output_cid, 0, nullptr);
    list_free(ExecInsertIndexTuples(u->rri, slot, estate, false, false, nullptr, NIL));
  } else {
    // speculative insertion: a concurrent insert of the same key is waited for, and either
    // it or this one stays (the loser's row is killed), as INSERT ... ON CONFLICT does
    for (;;) {
      ItemPointerData conflict;
      if (!ExecCheckIndexConstraints(u->rri, slot, estate, &conflict, u->arbiters)) {
        check_conflict_visible(u, &conflict);
        inserted = false;
        break;
      }
      uint32 token = SpeculativeInsertionLockAcquire(GetCurrentTransactionId());
      table_tuple_insert_speculative(u->rel, slot, estate->es_output_cid, 0, nullptr, token);
      bool lost = false;
      list_free(ExecInsertIndexTuples(u->rri, slot, estate, false, true, &lost, u->arbiters));
      table_tuple_complete_speculative(u->rel, slot, token, !lost);
      SpeculativeInsertionLockRelease(GetCurrentTransactionId());
      if (!lost) break;
    }
  }
  ExecClearTuple(slot);
  return inserted;
}

void row_inserter_close(row_inserter* u) {
  end_writes(u->estate, u->rri);
}

}  // namespace cs::pg
