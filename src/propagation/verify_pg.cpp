// verify()'s C++ pass: every target recomputed from the truth (one compute_targets() call),
// compared with listings and the outbox by the pure find_drift(); and the retry backoff.
#include "common/boundary.hpp"

extern "C" {
#include "executor/spi.h"
#include "utils/timestamp.h"
}
#include "common/pg_headers.hpp"

#include <string>
#include <vector>

#include "allocation/targets_pg.hpp"
#include "propagation/drift.hpp"

namespace {

using cs::propagation::expected_target;
using cs::propagation::listing_state;
using cs::propagation::message_state;

// Column `col` of row `row` of the current SPI result as text ("" and is_null if NULL).
std::string spi_text(SPITupleTable* t, uint64 row, int col, bool* is_null) {
  Datum d = cs::pg::guard([&] { return SPI_getbinval(t->vals[row], t->tupdesc, col, is_null); });
  return *is_null ? std::string() : cs::pg::text_to_string(d);
}

// Column `col` of row `row` as an int64 (the query casts it to bigint).
int64_t spi_int64(SPITupleTable* t, uint64 row, int col, bool* is_null) {
  Datum d = cs::pg::guard([&] { return SPI_getbinval(t->vals[row], t->tupdesc, col, is_null); });
  return *is_null ? 0 : DatumGetInt64(d);
}

// Runs a read-only query in the current SPI connection.
SPITupleTable* spi_read(const char* sql) {
  return cs::pg::guard([&] {
    int rc = SPI_execute(sql, true, 0);
    if (rc != SPI_OK_SELECT) elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(rc));
    return SPI_tuptable;
  });
}

// Listings and live outbox messages, read in one SPI connection.
void read_state(std::vector<listing_state>* listings, std::vector<message_state>* messages) {
  cs::pg::guard([] {
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
  });
  SPITupleTable* t = spi_read(
      "SELECT channel_id, sku, target_qty::bigint, target_price::text, target_version,"
      " acked_version FROM channel_sync.listings");
  uint64 n = SPI_processed;
  listings->reserve(n);
  for (uint64 i = 0; i < n; ++i) {
    bool null = false;
    listing_state l;
    l.channel_id = spi_text(t, i, 1, &null);
    l.sku = spi_text(t, i, 2, &null);
    l.qty = static_cast<int32_t>(spi_int64(t, i, 3, &null));
    l.price = spi_text(t, i, 4, &l.price_is_null);
    l.version = spi_int64(t, i, 5, &null);
    l.acked_version = spi_int64(t, i, 6, &null);
    l.acked = !null;
    listings->push_back(std::move(l));
  }
  t = spi_read("SELECT channel_id, sku, version FROM channel_sync.outbox");
  n = SPI_processed;
  messages->reserve(n);
  for (uint64 i = 0; i < n; ++i) {
    bool null = false;
    message_state m;
    m.channel_id = spi_text(t, i, 1, &null);
    m.sku = spi_text(t, i, 2, &null);
    m.version = spi_int64(t, i, 3, &null);
    messages->push_back(std::move(m));
  }
  cs::pg::guard([] { SPI_finish(); });
}

// A text Datum for a string, or NULL when empty and allowed to be.
Datum text_or_null(const std::string& s, bool* is_null) {
  *is_null = s.empty();
  return *is_null ? Datum(0) : PointerGetDatum(cs::pg::string_to_text(s));
}

}  // namespace

// _verify_targets() RETURNS TABLE(check_name, channel_id, sku, expected, found): drift between
// a full recomputation of the targets and listings, and unacknowledged versions without
// a message of that version.
CS_FUNCTION(_verify_targets) {
  std::vector<cs::allocation::listing_target> computed = cs::allocation::compute_targets(nullptr);
  std::vector<expected_target> targets;
  targets.reserve(computed.size());
  for (auto& c : computed)
    targets.push_back(
        {std::move(c.channel_id), std::move(c.sku), c.qty, std::move(c.price), c.price_is_null});
  computed.clear();
  std::vector<listing_state> listings;
  std::vector<message_state> messages;
  read_state(&listings, &messages);
  auto findings = cs::propagation::find_drift(targets, listings, messages);

  cs::pg::guard([&] { InitMaterializedSRF(fcinfo, 0); });
  ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
  for (const auto& f : findings) {
    Datum values[5];
    bool nulls[5];
    values[0] = text_or_null(f.check_name, &nulls[0]);
    values[1] = text_or_null(f.channel_id, &nulls[1]);
    values[2] = text_or_null(f.sku, &nulls[2]);
    values[3] = text_or_null(f.expected, &nulls[3]);
    values[4] = text_or_null(f.found, &nulls[4]);
    cs::pg::guard([&] { tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls); });
  }
  return Datum(0);
}

// _retry_backoff(attempts integer) RETURNS interval: 1 s × 2^(attempts−1), at most 1 hour.
CS_FUNCTION(_retry_backoff) {
  int32_t attempts = PG_GETARG_INT32(0);
  int64_t ms = cs::propagation::backoff_ms(attempts, 1000, 3600 * 1000);
  Interval* result =
      cs::pg::guard([&] { return static_cast<Interval*>(palloc0(sizeof(Interval))); });
  result->time = ms * 1000;  // microseconds
  PG_RETURN_INTERVAL_P(result);
}
