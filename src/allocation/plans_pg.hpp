// Reading the truth with SQL: the prepared plans of the loads and upserts (kept for the
// backend's life), cursors whose batches are decoded into flat cells, and the Datums the plans
// take.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "common/boundary.hpp"

extern "C" {
#include "executor/spi.h"
#include "storage/itemptr.h"
}

namespace cs::allocation::glue {

// Rows fetched per cursor round trip, SKUs between progress reports, rows per upsert.
constexpr long kFetchRows = 20000;
constexpr size_t kProgressEvery = 100000;
constexpr size_t kWriteChunk = 50000;

// ---------------------------------------------------------------------------------------
// Reading query results: column kinds and the decoded cells of one fetched batch.

// pct: numeric percent read as basis points, (pct * 100)::int4; epoch: an interval read as
// date_part('epoch', interval)::float8 (the direct loader's forms of q_small's expressions).
enum class col : uint8_t { text, int4, boolean, float8, numeric, pct, epoch, tid };

struct cell {
  const char* str;  // text / numeric payload (points into the fetched tuple)
  int32_t len;
  int64_t i;  // int4 / boolean / tid (encode_tid)
  double f;   // float8
  bool null;
};

constexpr int kMaxColumns = 16;

// A heap TID as one number (0: none; offsets start at 1), and back.
uint64_t encode_tid(const ItemPointerData& tid);
ItemPointerData decode_tid(uint64_t v);

// Decodes one value into a cell. Plain C frame: may ereport.
void decode_value(Datum d, bool isnull, col kind, cell* x);

// Decodes the n rows of SPI_tuptable into out (n * ncols cells). Plain C frame: may ereport.
void decode_batch(uint64 n, const col* kinds, int ncols, cell* out);

// Runs a prepared plan as a cursor and hands each decoded batch to on_batch(cells, rows).
template <typename F>
void scan(SPIPlanPtr plan, Datum* args, const char* nulls, std::initializer_list<col> columns,
          F&& on_batch) {
  std::vector<col> kinds(columns);
  const col* kind_ptr = kinds.data();
  int ncols = static_cast<int>(kinds.size());
  Portal portal = pg::guard([&] { return SPI_cursor_open(nullptr, plan, args, nulls, false); });
  std::vector<cell> cells;
  for (;;) {
    uint64 n = pg::guard([&] {
      SPI_cursor_fetch(portal, true, kFetchRows);
      return SPI_processed;
    });
    if (n == 0) break;
    cells.resize(n * ncols);
    cell* out = cells.data();
    pg::guard([&] { decode_batch(n, kind_ptr, ncols, out); });
    on_batch(static_cast<const cell*>(cells.data()), static_cast<size_t>(n));
    pg::guard([] { SPI_freetuptable(SPI_tuptable); });
  }
  pg::guard([&] { SPI_cursor_close(portal); });
}

inline std::string_view view(const cell& c) {
  return std::string_view(c.str, static_cast<size_t>(c.len));
}

// ---------------------------------------------------------------------------------------
// Prepared plans, kept for the backend's life.

enum plan_id {
  q_channels,
  q_locations,
  q_channel_locations,
  q_skus_all,
  q_skus_some,
  q_components_all,
  q_components_some,
  q_stock_all,
  q_stock_some,
  q_overrides_all,
  q_overrides_some,
  q_prices_all,
  q_prices_some,
  q_listings_all,
  q_listings_some,
  q_lag,
  q_velocity,
  q_velocity_some,
  q_upsert,
  q_small,
  q_outbox_upsert,
  q_velocity_some_untimed,  // q_velocity_some before 0.4.0
  q_prices_any,             // q_prices_some with sku = ANY($1) (see set_plan)
  q_listings_any,           // q_listings_some with sku = ANY($1)
  q_skus_any,               // q_skus_some with sku = ANY($1)
  q_stock_any,              // q_stock_some with sku = ANY($1)
  q_count
};

// SKU sets up to this size are read without SQL, or with one query (load_small()).
constexpr size_t kSmallSetMaxSkus = 64;
// SKU sets up to this size use the generic plans.
constexpr size_t kGenericPlanMaxSkus = 10000;

// The prepared plan for id, preparing and keeping it on first use: [generic] one generic plan
// (every SKU set but the largest), else left to the plan cache.
SPIPlanPtr plan(plan_id id, bool generic = false);

// The generic plan of a "_some" scan whose rows may come in any order: any_form (`sku =
// ANY($1)`, one index scan for the whole set) unless its plan reads `table` whole, else
// subquery_form (IN (SELECT unnest($1)), an index probe per SKU). A generic plan made while
// the table was small reads it sequentially, comparing every row with every element, and is
// kept until the table's statistics change.
SPIPlanPtr set_plan(plan_id any_form, plan_id subquery_form, const char* table);

// A text[] Datum from strings (palloc'd in the current context).
Datum text_array(const std::vector<std::string>& values);

// A numeric Datum from a stored payload (palloc'd in the current context). Plain C frame.
Datum numeric_from_payload(const char* data, size_t len);

// Text of a numeric payload ("12.50"). Through the guard.
std::string numeric_text(const std::string& payload);

// Reports progress in pg_stat_activity.query.
void report_progress(const char* phase, size_t done, size_t total, const char* what = "SKUs");

}  // namespace cs::allocation::glue
