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

void row_updater_open(row_updater* u, Relation rel, Oid key_index) {
  u->rel = rel;
  u->key_index = key_index;
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
  u->estate->es_snapshot = GetActiveSnapshot();
  ExecOpenIndices(u->rri, false);
  EvalPlanQualInit(&u->epq, u->estate, nullptr, NIL, -1);
  u->search = ExecInitExtraTupleSlot(u->estate, RelationGetDescr(rel), &TTSOpsVirtual);
  u->found = ExecInitExtraTupleSlot(u->estate, RelationGetDescr(rel), table_slot_callbacks(rel));
  u->next = ExecInitExtraTupleSlot(u->estate, RelationGetDescr(rel), &TTSOpsVirtual);
  AfterTriggerBeginQuery();
}

bool row_updater_find(row_updater* u, int n, const AttrNumber* cols, const Datum* vals) {
  TupleTableSlot* s = u->search;
  ExecClearTuple(s);
  int natts = s->tts_tupleDescriptor->natts;
  for (int i = 0; i < natts; ++i) s->tts_isnull[i] = true;
  for (int k = 0; k < n; ++k) {
    s->tts_values[cols[k] - 1] = vals[k];
    s->tts_isnull[cols[k] - 1] = false;
  }
  ExecStoreVirtualTuple(s);
  if (!RelationFindReplTupleByIndex(u->rel, u->key_index, LockTupleExclusive, s, u->found))
    return false;
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

void row_updater_update(row_updater* u) {
  ExecStoreVirtualTuple(u->next);
  ExecSimpleRelationUpdate(u->rri, u->estate, &u->epq, u->found, u->next);
}

void row_updater_close(row_updater* u) {
  AfterTriggerEndQuery(u->estate);
  EvalPlanQualEnd(&u->epq);
  ExecCloseIndices(u->rri);
  ExecCloseResultRelations(u->estate);
  ExecCloseRangeTableRelations(u->estate);
  ExecResetTupleTable(u->estate->es_tupleTable, false);
  FreeExecutorState(u->estate);
}

}  // namespace cs::pg
