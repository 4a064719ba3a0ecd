// Direct table access: see table_access_pg.hpp. Plain C frames only.
#include "common/table_access_pg.hpp"

extern "C" {
#include "access/relation.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "executor/tuptable.h"
#include "nodes/makefuncs.h"
#include "parser/parsetree.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
}

namespace cs::pg {

Relation open_cs_relation(const char* name, LOCKMODE mode) {
  Oid ns = get_namespace_oid("channel_sync", true);
  Oid relid = OidIsValid(ns) ? get_relname_relid(name, ns) : InvalidOid;
  return OidIsValid(relid) ? relation_open(relid, mode) : nullptr;
}

// The equality scan key of index column k (1-based) for value, or IS NULL.
static void equality_key(Relation index, int k, Datum value, bool isnull, ScanKey key) {
  if (isnull) {
    ScanKeyEntryInitialize(key, SK_ISNULL | SK_SEARCHNULL, k, InvalidStrategy, InvalidOid,
                           InvalidOid, InvalidOid, (Datum)0);
    return;
  }
  Oid type = index->rd_opcintype[k - 1];
  Oid op = get_opfamily_member(index->rd_opfamily[k - 1], type, type, BTEqualStrategyNumber);
  if (!OidIsValid(op)) elog(ERROR, "channel_sync: no equality operator for index column %d", k);
  ScanKeyInit(key, k, BTEqualStrategyNumber, get_opcode(op), value);
  key->sk_collation = index->rd_indcollation[k - 1];
}

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
  while (index_getnext_slot(scan, ForwardScanDirection, slot)) {
    if (n == size) {
      size *= 2;
      rows = static_cast<HeapTuple*>(repalloc(rows, sizeof(HeapTuple) * size));
    }
    rows[n++] = ExecCopySlotHeapTuple(slot);
  }
  index_endscan(scan);
  ExecDropSingleTupleTableSlot(slot);
  *out = rows;
  *count = n;
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
}

static void end_key_scan(row_updater* u) {
  index_endscan(u->scan);
  UnregisterSnapshot(u->snap);
}

void row_updater_open(row_updater* u, Relation rel, Oid key_index, int own_checks) {
  u->rel = rel;
  TupleConstr* constr = rel->rd_att->constr;
  u->check = constr != nullptr && constr->num_check != own_checks;
  u->index = index_open(key_index, RowExclusiveLock);
  begin_key_scan(u);
  u->estate = CreateExecutorState();
  RangeTblEntry* rte = makeNode(RangeTblEntry);
  rte->rtekind = RTE_RELATION;
  rte->relid = RelationGetRelid(rel);
  rte->relkind = rel->rd_rel->relkind;
  rte->rellockmode = RowExclusiveLock;
  ExecInitRangeTable(u->estate, list_make1(rte));
  u->rri = makeNode(ResultRelInfo);
  InitResultRelInfo(u->rri, rel, 1, nullptr, 0);
  u->estate->es_output_cid = GetCurrentCommandId(true);
  u->estate->es_snapshot = u->snap;
  ExecOpenIndices(u->rri, false);
  EvalPlanQualInit(&u->epq, u->estate, nullptr, NIL, -1);
  u->found = ExecInitExtraTupleSlot(u->estate, RelationGetDescr(rel), table_slot_callbacks(rel));
  u->next = ExecInitExtraTupleSlot(u->estate, RelationGetDescr(rel), &TTSOpsVirtual);
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

void row_updater_begin_next(row_updater* u) {
  TupleTableSlot* next = u->next;
  int natts = next->tts_tupleDescriptor->natts;
  ExecClearTuple(next);
  memcpy(next->tts_values, u->found->tts_values, sizeof(Datum) * natts);
  memcpy(next->tts_isnull, u->found->tts_isnull, sizeof(bool) * natts);
}

bool row_updater_update(row_updater* u) {
  TupleTableSlot* next = ExecStoreVirtualTuple(u->next);
  ItemPointer tid = &u->found->tts_tid;
  ResultRelInfo* rri = u->rri;
  EState* estate = u->estate;
  CheckCmdReplicaIdentity(u->rel, CMD_UPDATE);
  if (rri->ri_TrigDesc != nullptr && rri->ri_TrigDesc->trig_update_before_row &&
      !ExecBRUpdateTriggers(estate, &u->epq, rri, tid, nullptr, next, nullptr))
    return true;  // a user's BEFORE trigger skipped it
  if (u->check) ExecConstraints(rri, next, estate);
  TM_FailureData tmfd;
  LockTupleMode lockmode;
  bool update_indexes = false;
  TM_Result result = table_tuple_update(u->rel, tid, next, estate->es_output_cid, u->snap,
                                        InvalidSnapshot, true, &tmfd, &lockmode, &update_indexes);
  if (result == TM_Updated || result == TM_Deleted) {
    end_key_scan(u);  // find it again with a snapshot that sees the other writer
    begin_key_scan(u);
    estate->es_snapshot = u->snap;
    return false;
  }
  if (result != TM_Ok)
    elog(ERROR, "channel_sync: unexpected result %d updating %s", static_cast<int>(result),
         RelationGetRelationName(u->rel));
  List* recheck = NIL;
  if (rri->ri_NumIndices > 0 && update_indexes)
    recheck = ExecInsertIndexTuples(rri, next, estate, true, false, nullptr, NIL);
  ExecARUpdateTriggers(estate, rri, nullptr, nullptr, tid, nullptr, next, recheck, nullptr, false);
  list_free(recheck);
  return true;
}

void row_updater_close(row_updater* u) {
  AfterTriggerEndQuery(u->estate);
  EvalPlanQualEnd(&u->epq);
  ExecCloseIndices(u->rri);
  ExecCloseResultRelations(u->estate);
  ExecCloseRangeTableRelations(u->estate);
  ExecResetTupleTable(u->estate->es_tupleTable, false);
  FreeExecutorState(u->estate);
  end_key_scan(u);
  index_close(u->index, NoLock);
}

}  // namespace cs::pg
