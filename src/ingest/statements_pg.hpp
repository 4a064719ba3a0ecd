// The SQL statements of inbound events: prepared once per session and kept (SPI), their
// arguments and results, and the Datums they take (arrays, uuid, jsonb).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/boundary.hpp"

extern "C" {
#include "executor/spi.h"
#include "utils/timestamp.h"
}

#include "ingest/fingerprint.hpp"

namespace cs::ingest::glue {

using cs::pg::guard;

// ---------------------------------------------------------------------------------
// Prepared statements

enum plan_id {
  P_INSERT_EVENT,
  P_DUPLICATE,
  P_OWNER,
  P_INSERT_CONFLICT,
  P_SET_STATUS,
  P_ALIAS,
  P_COMPONENTS,
  P_LOCATION,
  P_INSERT_ORDER,
  P_ORDER,
  P_STOCK_DELTA,
  P_STOCK_INSERT,
  P_STOCK_SET,
  P_INSERT_LINES,
  P_LINES,
  P_LINES_UPDATE,
  P_ORDER_UPDATE,
  P_COUNT_UPSERT,
  P_COUNT_OWNER,
  P_OBSERVE,
  P_REPLAY_PEEK,
  P_REPLAY_LOCK,
  P_REPLAYED,
  P_BATCH,
  P_STOCK_DELTA1,
  P_BULK_EVENTS,
  P_BULK_SKUS,
  P_BULK_ALIASES,
  P_BULK_COMPONENTS,
  P_BULK_INSERT_ORDERS,
  P_BULK_INSERT_LINES,
  P_BULK_STATUS,
  P_ORDER_LINE1,
  P_ORDER_OVERSOLD,
  P_DROP_LINES,
  // the same three writes of order lines for an install older than 0.4.0 (no placed_at)
  P_INSERT_LINES_UNTIMED,
  P_BULK_INSERT_LINES_UNTIMED,
  P_ORDER_LINE1_UNTIMED,
  // the stock rows the lines of orders of the channel are at (read, not locked)
  P_BULK_LINE_STOCK,
  // an order's state, read (not locked)
  P_ORDER_STATE,
  // the channel's listings of SKUs, locked SKU by SKU in byte order: the order a re-target
  // writes them and ack_batch() locks them
  P_LOCK_LISTINGS,
  // P_BULK_SKUS with sku = ANY($1) (see set_form)
  P_BULK_SKUS_ANY,
  P_COUNT
};

// Arguments of one statement.
struct args {
  Datum values[10];
  char nulls[10];
  int n = 0;
  args& datum(Datum d) {
    values[n] = d;
    nulls[n++] = ' ';
    return *this;
  }
  args& null() {
    values[n] = 0;
    nulls[n++] = 'n';
    return *this;
  }
  args& text(const std::string& s) { return datum(PointerGetDatum(cs::pg::string_to_text(s))); }
  args& opt_text(const std::optional<std::string>& s) { return s ? text(*s) : null(); }
  args& int4(int32_t v) { return datum(Int32GetDatum(v)); }
  args& int8(int64_t v) { return datum(Int64GetDatum(v)); }
  args& boolean(bool v) { return datum(BoolGetDatum(v)); }
  args& ts(TimestampTz t) { return datum(TimestampTzGetDatum(t)); }
};

// The result of the last statement; SPI frees it with the call's SPI context.
struct rows {
  SPITupleTable* table = nullptr;
  uint64 count = 0;

  bool is_null(uint64 row, int col) const {
    SPITupleTable* t = table;
    bool isnull = false;
    guard([&] { SPI_getbinval(t->vals[row], t->tupdesc, col, &isnull); });
    return isnull;
  }
  Datum value(uint64 row, int col) const {
    SPITupleTable* t = table;
    return guard([&] {
      bool isnull;
      return SPI_getbinval(t->vals[row], t->tupdesc, col, &isnull);
    });
  }
  std::string text(uint64 row, int col) const {
    if (is_null(row, col)) return {};
    return cs::pg::text_to_string(value(row, col));
  }
  std::optional<std::string> opt_text(uint64 row, int col) const {
    if (is_null(row, col)) return std::nullopt;
    return cs::pg::text_to_string(value(row, col));
  }
  int32_t int4(uint64 row, int col) const { return DatumGetInt32(value(row, col)); }
  int64_t int8(uint64 row, int col) const { return DatumGetInt64(value(row, col)); }
};

// Runs a prepared statement.
rows run(plan_id id, const args& a);

// Of two forms of a set statement, any_form (`sku = ANY($1)`, one index scan for the set)
// unless its generic plan reads table whole, else subquery_form (IN (SELECT unnest($1)), one
// index probe per element; see cs::pg::generic_plan_seq_scans).
plan_id set_form(plan_id any_form, plan_id subquery_form, const char* table);

// The write of order lines id, or its form without placed_at while the install is older
// than 0.4.0 (between a package upgrade and ALTER EXTENSION channel_sync UPDATE).
plan_id timed_lines(plan_id id);

Datum text_array(const std::vector<std::string>& v);
Datum int_array(const std::vector<int32_t>& v);
// An array of Datums of one element type; a null element where nulls says so.
Datum datum_array(const std::vector<Datum>& elems, const std::vector<bool>& nulls, Oid type,
                  int16 len, bool byval, char align);
Datum opt_text_array(const std::vector<std::optional<std::string>>& v);
Datum uuid_datum(const cs::ingest::fingerprint& f);
// jsonb's canonical text (keys sorted, whitespace normalized).
std::string jsonb_text(Datum d);
Datum jsonb_null();

}  // namespace cs::ingest::glue
