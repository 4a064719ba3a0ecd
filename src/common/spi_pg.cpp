// SPI helpers shared by the areas' glue: see spi_pg.hpp.
#include "common/spi_pg.hpp"

extern "C" {
#include "catalog/namespace.h"
#include "nodes/plannodes.h"
#include "parser/parsetree.h"
#include "utils/lsyscache.h"
#include "utils/plancache.h"
}

namespace cs::pg {

namespace {

// Whether the plan tree under p reads relation rel (a range table index of rtable) from end to
// end; a node this does not know counts as doing so. Plain C frame.
bool seq_scans(const Plan* p, List* rtable, Oid rel) {
  if (p == nullptr) return false;
  switch (nodeTag(p)) {
    case T_SeqScan:
    case T_SampleScan:
      return rt_fetch(reinterpret_cast<const Scan*>(p)->scanrelid, rtable)->relid == rel;
    case T_SubqueryScan:
      return seq_scans(reinterpret_cast<const SubqueryScan*>(p)->subplan, rtable, rel);
    case T_IndexScan:
    case T_IndexOnlyScan:
    case T_BitmapIndexScan:
    case T_BitmapHeapScan:
    case T_FunctionScan:
    case T_ValuesScan:
    case T_Result:
    case T_ProjectSet:
    case T_Material:
    case T_Memoize:
    case T_Sort:
    case T_IncrementalSort:
    case T_Hash:
    case T_Agg:
    case T_Unique:
    case T_NestLoop:
    case T_HashJoin:
    case T_MergeJoin:
      return seq_scans(p->lefttree, rtable, rel) || seq_scans(p->righttree, rtable, rel);
    default:
      return true;
  }
}

}  // namespace

bool generic_plan_seq_scans(SPIPlanPtr plan, const char* name) {
  Oid rel = get_relname_relid(name, get_namespace_oid("channel_sync", false));
  CachedPlan* cp = SPI_plan_get_cached_plan(plan);
  if (cp == nullptr) return true;
  bool seq = false;
  ListCell* lc;
  foreach (lc, cp->stmt_list) {
    PlannedStmt* ps = lfirst_node(PlannedStmt, lc);
    seq = seq || seq_scans(ps->planTree, ps->rtable, rel);
    ListCell* sub;
    foreach (sub, ps->subplans)
      seq = seq || seq_scans(static_cast<const Plan*>(lfirst(sub)), ps->rtable, rel);
  }
  ReleaseCachedPlan(cp, CurrentResourceOwner);
  if (seq)
    elog(DEBUG1,
         "channel_sync: the generic plan of a set scan reads %s whole; the set is joined as a "
         "subquery instead",
         name);
  return seq;
}

}  // namespace cs::pg
