// allocate(pools, rules): the allocation engine itself, for what-if analysis in SQL.
#include "common/boundary.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
}
#include "common/pg_headers.hpp"

#include <cmath>
#include <string>
#include <vector>

#include "allocation/allocator.hpp"
#include "allocation/targets_pg.hpp"

namespace {

using cs::allocation::channel_input;
using cs::allocation::rule;

// One alloc_rule field: value and null flag.
struct field {
  Datum value;
  bool null;
};

constexpr int kRuleFields = 8;

// A 1-D array's elements (nulls flagged); multi-dimensional arrays are refused.
void elements(Datum array_datum, const char* name, Datum** elems, bool** nulls, int* count) {
  ArrayType* a = cs::pg::guard([&] { return DatumGetArrayTypeP(array_datum); });
  if (ARR_NDIM(a) > 1)
    throw cs::user_error(cs::sqlstate::kArraySubscriptError,
                         std::string(name) + " must be a one-dimensional array");
  cs::pg::guard([&] {
    Oid elem = ARR_ELEMTYPE(a);
    int16 typlen;
    bool byval;
    char align;
    get_typlenbyvalalign(elem, &typlen, &byval, &align);
    deconstruct_array(a, elem, typlen, byval, align, elems, nulls, count);
  });
}

// hundredths of a percent from a numeric percentage (rounded); out-of-range values stay
// out of range so validate_rule reports them.
int32_t pct_bp(Datum numeric) {
  double v =
      cs::pg::guard([&] { return DatumGetFloat8(DirectFunctionCall1(numeric_float8, numeric)); });
  if (std::isnan(v) || v < -1 || v > 101) return -1;
  return static_cast<int32_t>(std::llround(v * 100));
}

// The rule of one alloc_rule composite; NULL fields take the allocation_rules defaults
// (cap NULL = none, velocity/lag NULL = 0).
rule read_rule(Datum composite, int position) {
  field f[kRuleFields];
  field* fp = f;
  cs::pg::guard([&] {
    HeapTupleHeader t = DatumGetHeapTupleHeader(composite);
    for (int k = 0; k < kRuleFields; ++k) fp[k].value = GetAttributeByNum(t, k + 1, &fp[k].null);
  });
  rule r;
  if (!f[0].null) r.buffer = DatumGetInt32(f[0].value);
  if (!f[1].null) r.reserve_bp = pct_bp(f[1].value);
  if (!f[2].null) r.list_bp = pct_bp(f[2].value);
  if (!f[3].null) r.cap = DatumGetInt32(f[3].value) < 0 ? -2 : DatumGetInt32(f[3].value);
  if (!f[4].null) r.low_stock_cutoff = DatumGetInt32(f[4].value);
  if (!f[5].null) r.dynamic_buffer = DatumGetBool(f[5].value);
  if (!f[6].null) r.velocity_per_hour = DatumGetFloat8(f[6].value);
  if (!f[7].null) {
    Datum lag = f[7].value;
    double seconds = cs::pg::guard([&] {
      return DatumGetFloat8(DirectFunctionCall2(interval_part, CStringGetTextDatum("epoch"), lag));
    });
    r.lag_p95_hours = seconds / 3600.0;
  }
  cs::allocation::validate_rule(r, "rules[" + std::to_string(position) + "]");
  return r;
}

}  // namespace

// allocate(pools integer[], rules alloc_rule[]) RETURNS integer[]: ATS per channel.
CS_FUNCTION(allocate) {
  if (PG_ARGISNULL(0))
    throw cs::user_error(cs::sqlstate::kNullValueNotAllowed, "pools must not be null", "",
                         "Pass one pool per channel, e.g. ARRAY[100, 100].");
  if (PG_ARGISNULL(1))
    throw cs::user_error(cs::sqlstate::kNullValueNotAllowed, "rules must not be null", "",
                         "Pass one channel_sync.alloc_rule per channel.");
  Datum *pool_elems = nullptr, *rule_elems = nullptr;
  bool *pool_nulls = nullptr, *rule_nulls = nullptr;
  int npools = 0, nrules = 0;
  elements(PG_GETARG_DATUM(0), "pools", &pool_elems, &pool_nulls, &npools);
  elements(PG_GETARG_DATUM(1), "rules", &rule_elems, &rule_nulls, &nrules);
  if (npools != nrules)
    throw cs::user_error(cs::sqlstate::kArraySubscriptError,
                         "pools and rules must have the same length",
                         "pools has " + std::to_string(npools) + " elements and rules has " +
                             std::to_string(nrules) + ".",
                         "Element i of both arrays describes channel i.");
  std::vector<channel_input> in(static_cast<size_t>(npools));
  for (int k = 0; k < npools; ++k) {
    if (pool_nulls[k])
      throw cs::user_error(cs::sqlstate::kNullValueNotAllowed,
                           "pools[" + std::to_string(k + 1) + "] must not be null");
    if (rule_nulls[k])
      throw cs::user_error(cs::sqlstate::kNullValueNotAllowed,
                           "rules[" + std::to_string(k + 1) + "] must not be null");
    int32_t pool = DatumGetInt32(pool_elems[k]);
    if (pool < 0)
      throw cs::user_error(cs::sqlstate::kInvalidParameterValue,
                           "pools[" + std::to_string(k + 1) + "] must not be negative",
                           "The pool is " + std::to_string(pool) + " units.",
                           "A pool is the sellable units at the channel's locations, 0 or more.");
    in[k].pool = pool;
    in[k].r = read_rule(rule_elems[k], k + 1);
  }
  cs::allocation::validate_reserves(in.data(), in.size());
  std::vector<cs::allocation::channel_result> out(in.size());
  cs::allocation::allocate(in.data(), in.size(), out.data());
  const cs::allocation::channel_result* res = out.data();
  int n = npools;
  return cs::pg::guard([&] {
    Datum* e = static_cast<Datum*>(palloc(sizeof(Datum) * (n > 0 ? n : 1)));
    for (int k = 0; k < n; ++k) e[k] = Int32GetDatum(static_cast<int32>(res[k].ats));
    return PointerGetDatum(construct_array(e, n, INT4OID, 4, true, TYPALIGN_INT));
  });
}
