// PostgreSQL glue for channel_sync.lag_sketch: type I/O (text and binary), the aggregate
// support functions (transition over interval/float8/lag_sketch, combine, serialize,
// deserialize, final) and quantile(), quantiles(), sketch_count(). The aggregate state is
// one flat palloc'd cs::parity::sketch in the aggregate context: no destructor to run.
#include "common/boundary.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/timestamp.h"
}

#include <cstring>
#include <vector>

#include "parity/lag_sketch.hpp"

namespace {

using cs::parity::sketch;

// Parses a stored, sent or serialized lag_sketch (detoasting through the guard).
void sketch_from_datum(Datum value, sketch& s) {
  struct varlena* v = cs::pg::guard([&] { return PG_DETOAST_DATUM(value); });
  cs::parity::decode(reinterpret_cast<const uint8_t*>(VARDATA_ANY(v)), VARSIZE_ANY_EXHDR(v), s);
}

// A palloc'd varlena holding the compact form of s (the type's storage and bytea form).
Datum datum_from_sketch(const sketch& s) {
  std::vector<uint8_t> bytes = cs::parity::encode(s);
  const uint8_t* data = bytes.data();
  size_t size = bytes.size();
  return cs::pg::guard([&] {
    bytea* out = static_cast<bytea*>(palloc(VARHDRSZ + size));
    SET_VARSIZE(out, VARHDRSZ + size);
    std::memcpy(VARDATA(out), data, size);
    return PointerGetDatum(out);
  });
}

// The memory context aggregate states live in; errors outside an aggregate.
MemoryContext aggregate_context(FunctionCallInfo fcinfo) {
  MemoryContext context = nullptr;
  if (!AggCheckCallContext(fcinfo, &context))
    throw std::logic_error("lag_sketch aggregate support function called outside an aggregate");
  return context;
}

// A new empty state in the aggregate context.
sketch* new_state(FunctionCallInfo fcinfo) {
  MemoryContext context = aggregate_context(fcinfo);
  auto* s = cs::pg::guard(
      [&] { return static_cast<sketch*>(MemoryContextAlloc(context, sizeof(sketch))); });
  cs::parity::reset(*s);
  return s;
}

// The state argument, created on the first non-NULL value.
sketch* state_arg(FunctionCallInfo fcinfo) {
  if (!PG_ARGISNULL(0)) return reinterpret_cast<sketch*>(PG_GETARG_POINTER(0));
  return new_state(fcinfo);
}

// Seconds in an interval, as EXTRACT(EPOCH FROM interval) counts them.
double interval_seconds(const Interval* iv) {
  double seconds = static_cast<double>(iv->time) / 1000000.0;
  seconds += static_cast<double>(DAYS_PER_YEAR * SECS_PER_DAY) * (iv->month / MONTHS_PER_YEAR);
  seconds += static_cast<double>(DAYS_PER_MONTH * SECS_PER_DAY) * (iv->month % MONTHS_PER_YEAR);
  seconds += static_cast<double>(SECS_PER_DAY) * iv->day;
  return seconds;
}

}  // namespace

// _lag_sketch_in(cstring): the text form, e.g. 'v=1 count=1 zeros=0 under=0 over=0 min=2 max=2
// bins=35:1'.
CS_FUNCTION(_lag_sketch_in) {
  const char* text = PG_GETARG_CSTRING(0);
  sketch s;
  cs::parity::from_text(text, s);
  return datum_from_sketch(s);
}

// _lag_sketch_out(lag_sketch): the text form.
CS_FUNCTION(_lag_sketch_out) {
  sketch s;
  sketch_from_datum(PG_GETARG_DATUM(0), s);
  std::string text = cs::parity::to_text(s);
  const char* data = text.c_str();
  return cs::pg::guard([&] { return CStringGetDatum(pstrdup(data)); });
}

// _lag_sketch_recv(internal): the binary form is the compact form; it is fully validated.
CS_FUNCTION(_lag_sketch_recv) {
  StringInfo buf = reinterpret_cast<StringInfo>(PG_GETARG_POINTER(0));
  const auto* data = reinterpret_cast<const uint8_t*>(buf->data + buf->cursor);
  size_t size = static_cast<size_t>(buf->len - buf->cursor);
  sketch s;
  cs::parity::decode(data, size, s);
  buf->cursor = buf->len;
  return datum_from_sketch(s);
}

// _lag_sketch_send(lag_sketch): the stored compact form as bytea.
CS_FUNCTION(_lag_sketch_send) {
  Datum value = PG_GETARG_DATUM(0);
  return cs::pg::guard([&] { return PointerGetDatum(PG_DETOAST_DATUM_COPY(value)); });
}

// _lag_sketch_add_interval(state, interval): adds a lag, in seconds.
CS_FUNCTION(_lag_sketch_add_interval) {
  if (PG_ARGISNULL(1)) {
    if (PG_ARGISNULL(0)) PG_RETURN_NULL();
    PG_RETURN_POINTER(PG_GETARG_POINTER(0));
  }
  sketch* s = state_arg(fcinfo);
  cs::parity::add(*s, interval_seconds(PG_GETARG_INTERVAL_P(1)));
  PG_RETURN_POINTER(s);
}

// _lag_sketch_add_float8(state, double precision): adds a lag in seconds.
CS_FUNCTION(_lag_sketch_add_float8) {
  if (PG_ARGISNULL(1)) {
    if (PG_ARGISNULL(0)) PG_RETURN_NULL();
    PG_RETURN_POINTER(PG_GETARG_POINTER(0));
  }
  sketch* s = state_arg(fcinfo);
  cs::parity::add(*s, PG_GETARG_FLOAT8(1));
  PG_RETURN_POINTER(s);
}

// _lag_sketch_add_sketch(state, lag_sketch): merges a stored sketch (rollups).
CS_FUNCTION(_lag_sketch_add_sketch) {
  if (PG_ARGISNULL(1)) {
    if (PG_ARGISNULL(0)) PG_RETURN_NULL();
    PG_RETURN_POINTER(PG_GETARG_POINTER(0));
  }
  sketch other;
  sketch_from_datum(PG_GETARG_DATUM(1), other);
  sketch* s = state_arg(fcinfo);
  cs::parity::merge(*s, other);
  PG_RETURN_POINTER(s);
}

// _lag_sketch_combine(state, state): merges two partial states; either may be NULL.
CS_FUNCTION(_lag_sketch_combine) {
  sketch* left = PG_ARGISNULL(0) ? nullptr : reinterpret_cast<sketch*>(PG_GETARG_POINTER(0));
  sketch* right = PG_ARGISNULL(1) ? nullptr : reinterpret_cast<sketch*>(PG_GETARG_POINTER(1));
  if (right == nullptr) {
    if (left == nullptr) PG_RETURN_NULL();
    PG_RETURN_POINTER(left);
  }
  if (left == nullptr) left = new_state(fcinfo);  // copy into the aggregate context
  cs::parity::merge(*left, *right);
  PG_RETURN_POINTER(left);
}

// _lag_sketch_serialize(state): the compact form as bytea (parallel workers -> leader).
CS_FUNCTION(_lag_sketch_serialize) {
  return datum_from_sketch(*reinterpret_cast<sketch*>(PG_GETARG_POINTER(0)));
}

// _lag_sketch_deserialize(bytea, internal): a state from the compact form, fully validated.
CS_FUNCTION(_lag_sketch_deserialize) {
  sketch* s = new_state(fcinfo);
  sketch_from_datum(PG_GETARG_DATUM(0), *s);
  PG_RETURN_POINTER(s);
}

// _lag_sketch_final(state): the lag_sketch, or NULL when no non-NULL value was aggregated.
CS_FUNCTION(_lag_sketch_final) {
  if (PG_ARGISNULL(0)) PG_RETURN_NULL();
  return datum_from_sketch(*reinterpret_cast<sketch*>(PG_GETARG_POINTER(0)));
}

// quantile(lag_sketch, q): the q-quantile in seconds; NULL for an empty sketch.
CS_FUNCTION(lag_sketch_quantile) {
  sketch s;
  sketch_from_datum(PG_GETARG_DATUM(0), s);
  double q = PG_GETARG_FLOAT8(1);
  cs::parity::check_quantile(q);
  if (s.count == 0) PG_RETURN_NULL();
  PG_RETURN_FLOAT8(cs::parity::quantile(s, q));
}

// quantiles(lag_sketch, q[]): one quantile per element, same shape; NULL for an empty sketch.
CS_FUNCTION(lag_sketch_quantiles) {
  sketch s;
  sketch_from_datum(PG_GETARG_DATUM(0), s);
  Datum array_datum = PG_GETARG_DATUM(1);
  ArrayType* qs = cs::pg::guard([&] { return DatumGetArrayTypeP(array_datum); });
  Datum* elems = nullptr;
  bool* nulls = nullptr;
  int n = 0;
  cs::pg::guard([&] {
    deconstruct_array(qs, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems,
                      &nulls, &n);
  });
  for (int i = 0; i < n; ++i) {
    if (nulls[i])
      throw cs::user_error(cs::sqlstate::kNullValueNotAllowed,
                           "quantile array must not contain nulls",
                           "Element " + std::to_string(i + 1) + " is NULL.");
    double q = DatumGetFloat8(elems[i]);
    cs::parity::check_quantile(q);
    if (s.count == 0) continue;
    elems[i] = Float8GetDatum(cs::parity::quantile(s, q));
  }
  if (s.count == 0) PG_RETURN_NULL();
  return cs::pg::guard([&] {
    return PointerGetDatum(construct_md_array(elems, nullptr, ARR_NDIM(qs), ARR_DIMS(qs),
                                              ARR_LBOUND(qs), FLOAT8OID, sizeof(float8),
                                              FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
  });
}

// sketch_count(lag_sketch): how many values the sketch holds.
CS_FUNCTION(lag_sketch_count) {
  sketch s;
  sketch_from_datum(PG_GETARG_DATUM(0), s);
  if (s.count > static_cast<uint64_t>(PG_INT64_MAX))
    throw cs::user_error(cs::sqlstate::kNumericValueOutOfRange, "lag_sketch count out of range",
                         "The sketch holds more than 2^63 - 1 values.");
  PG_RETURN_INT64(static_cast<int64_t>(s.count));
}
