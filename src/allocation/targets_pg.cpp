// Listing targets from the truth, computed in one pass: the truth of a set of SKUs is loaded
// (world_pg.hpp: a few set scans streamed through SPI cursors into flat C++ arrays, or direct
// reads for a few SKUs), the pure engine (allocator.hpp) allocates every SKU, and only the
// changed listings are written back (listing_writes_pg.hpp). Also the SQL surface over the
// loaded truth: _compute_targets, _retarget, recompute_targets, explain_allocation,
// available_to_sell.
#include "common/boundary.hpp"

extern "C" {
#include "funcapi.h"
#include "executor/spi.h"
#include "pgstat.h"
#include "tcop/tcopprot.h"
#include "utils/backend_status.h"
#include "utils/guc.h"
#include "utils/tuplestore.h"
}
#include "common/pg_headers.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "allocation/allocator.hpp"
#include "allocation/listing_writes_pg.hpp"
#include "allocation/plans_pg.hpp"
#include "allocation/targets_pg.hpp"
#include "allocation/world_pg.hpp"

namespace cs::allocation {

namespace {

using namespace glue;

void connect() {
  pg::guard([] {
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "channel_sync: SPI_connect failed");
  });
}

void finish() {
  pg::guard([] { SPI_finish(); });
}

// Every loaded SKU's target on every channel ([sku * channels + channel]; -1 and nullptr for
// SKUs that are not re-targeted).
struct sku_targets {
  std::vector<int32_t> qty;
  std::vector<const std::string*> price;
};

sku_targets allocate_wanted(const world& w) {
  size_t nc = w.channel_count();
  const auto& rows = w.skus();
  size_t ns = rows.size();
  sku_targets t{std::vector<int32_t>(ns * nc, -1), std::vector<const std::string*>(ns * nc)};
  channel_results res;
  std::vector<const std::string*> prices;
  size_t wanted = 0;
  for (size_t i = 0; i < ns; ++i) wanted += rows[i].wanted ? 1 : 0;
  size_t done = 0;
  for (uint32_t i = 0; i < ns; ++i) {
    if (!rows[i].wanted) continue;
    w.allocate_sku(i, res, prices);
    for (size_t c = 0; c < nc; ++c) {
      t.qty[i * nc + c] = static_cast<int32_t>(res[c].ats);
      t.price[i * nc + c] = prices[c];
    }
    if (w.full() && ++done % kProgressEvery == 0) report_progress("allocated", done, wanted);
  }
  return t;
}

// How each (SKU, channel) listing stands against its target: state 0 = no listing yet, 1 = the
// same target, 2 = changed; tids where each listing was read (empty: not known, for a full
// recompute, which writes by key).
void compare_listings(const world& w, const sku_targets& t, std::vector<uint8_t>& state,
                      std::vector<uint64_t>& tids) {
  size_t nc = w.channel_count();
  const auto& rows = w.skus();
  size_t ns = rows.size();
  state.assign(ns * nc, 0);
  tids.assign(w.listings_loaded() || !w.full() ? ns * nc : 0, 0);
  // a listing is the same when its qty and price payload equal the target
  auto compare = [&](int64_t s, int64_t c, bool qty_null, int64_t qty, bool price_null,
                     const char* price_data, size_t price_len) {
    if (s < 0 || c < 0 || !rows[s].wanted) return;
    size_t k = static_cast<size_t>(s) * nc + static_cast<size_t>(c);
    const std::string* price = t.price[k];
    bool same = !qty_null && qty == t.qty[k] && !price_null && price_len == price->size() &&
                std::memcmp(price_data, price->data(), price->size()) == 0;
    state[k] = same ? 1 : 2;
  };
  if (w.listings_loaded()) {
    for (const auto& l : w.listings()) {
      compare(l.sku, l.channel, l.qty_null, l.qty, l.price_null, l.price.data(), l.price.size());
      tids[static_cast<size_t>(l.sku) * nc + l.channel] = l.tid;
    }
    return;
  }
  Datum args[1];
  if (!w.full()) args[0] = w.sku_array();
  int64_t hint = -1;
  // a subset is written in place: with where each listing was read, so the writer updates it
  // without looking it up again
  SPIPlanPtr listings = w.set_scan(q_listings_all, q_listings_any, q_listings_some, "listings");
  scan(listings, w.full() ? nullptr : args, w.full() ? nullptr : " ",
       {col::text, col::text, col::int4, col::numeric, col::tid}, [&](const cell* cells, size_t n) {
         for (size_t r = 0; r < n; ++r) {
           const cell* row = cells + r * 5;
           int64_t s = w.find_sku(view(row[0]), hint);
           int64_t c = w.find_channel(view(row[1]));
           compare(s, c, row[2].null, row[2].i, row[3].null, row[3].str,
                   static_cast<size_t>(row[3].len));
           if (!tids.empty() && s >= 0 && c >= 0)
             tids[static_cast<size_t>(s) * nc + static_cast<size_t>(c)] =
                 static_cast<uint64_t>(row[4].i);
         }
       });
}

// The re-targeted SKUs in the order their listings are written: a set SKU by SKU in byte
// order, the order ack_batch and a batch's listing lock take listings in (so neither waits for
// a re-target in a cycle); every SKU in the loaded order (one SQL upsert writes them).
std::vector<uint32_t> write_order(const world& w) {
  std::vector<uint32_t> order;
  for (uint32_t i = 0; i < w.skus().size(); ++i)
    if (w.skus()[i].wanted) order.push_back(i);
  if (!w.full())
    std::sort(order.begin(), order.end(),
              [&](uint32_t a, uint32_t b) { return w.sku_name(a) < w.sku_name(b); });
  return order;
}

// Re-targets the loaded SKUs: writes the listings whose target changed (and their messages);
// returns how many.
int64_t retarget_loaded(const world& w) {
  size_t nc = w.channel_count();
  const auto& rows = w.skus();
  size_t ns = rows.size();
  sku_targets t = allocate_wanted(w);
  std::vector<uint8_t> state;
  std::vector<uint64_t> tids;
  compare_listings(w, t, state, tids);
  // in place unless every SKU is re-targeted (one upsert then, most listings change)
  listing_writer writer(w.direct() || !w.full());
  if (w.full()) {
    size_t to_write = 0;
    for (uint32_t i = 0; i < ns; ++i)
      if (rows[i].wanted)
        for (size_t c = 0; c < nc; ++c) to_write += state[i * nc + c] != 1 ? 1 : 0;
    writer.report(to_write);
  }
  for (uint32_t i : write_order(w)) {
    for (size_t c = 0; c < nc; ++c) {
      size_t k = i * nc + c;
      if (state[k] != 1)
        writer.add(w.channel(c).id, w.sku_name(i), t.qty[k], *t.price[k],
                   tids.empty() ? 0 : tids[k]);
    }
  }
  writer.flush();
  return writer.written();
}

// Restores pg_stat_activity.query after a long run reported progress in it.
void restore_activity() {
  pg::guard([] {
    if (debug_query_string != nullptr) pgstat_report_activity(STATE_RUNNING, debug_query_string);
  });
}

}  // namespace

std::vector<listing_target> compute_targets(const std::vector<std::string>* skus) {
  connect();
  world w;
  w.load(skus);
  std::vector<listing_target> out;
  channel_results res;
  std::vector<const std::string*> prices;
  const auto& rows = w.skus();
  for (uint32_t i = 0; i < rows.size(); ++i) {
    if (!rows[i].wanted) continue;
    w.allocate_sku(i, res, prices);
    for (size_t c = 0; c < w.channel_count(); ++c)
      out.push_back({w.channel(c).id, std::string(w.sku_name(i)), static_cast<int32_t>(res[c].ats),
                     numeric_text(*prices[c]), false});
  }
  finish();
  if (skus == nullptr) restore_activity();
  return out;
}

int64_t retarget(const std::vector<std::string>* skus) {
  connect();
  world w;
  w.reuse_recent_lag();
  w.load(skus);
  int64_t changed = retarget_loaded(w);
  finish();
  if (skus == nullptr) restore_activity();
  return changed;
}

void init_allocation() {
  DefineCustomIntVariable(
      "channel_sync.velocity_window",
      "Trailing window over which dynamic buffers measure sales velocity.",
      "Velocity = units sold on the channel in this window / its length in hours.",
      &velocity_window_minutes, 24 * 60, 1, 30 * 24 * 60, PGC_USERSET, GUC_UNIT_MIN, nullptr,
      nullptr, nullptr);
  DefineCustomIntVariable(
      "channel_sync.lag_remeasure_interval",
      "How long a session's re-targets of a few SKUs reuse its last p95 lag of a dynamic-buffer "
      "channel.",
      "Measuring reads 24 hours of propagation_log; a full recompute, verify() and "
      "explain_allocation() always measure. 0: measure on every re-target.",
      &lag_remeasure_seconds, 60, 0, 3600, PGC_USERSET, GUC_UNIT_S, nullptr, nullptr, nullptr);
}

}  // namespace cs::allocation

// ---------------------------------------------------------------------------------------
// SQL surface over the loaded truth.

namespace {

using cs::allocation::channel_results;
using cs::allocation::glue::world;

// A SKU argument: NULL is refused.
std::string sku_arg(FunctionCallInfo fcinfo, int n, const char* name) {
  if (PG_ARGISNULL(n))
    throw cs::user_error(cs::sqlstate::kNullValueNotAllowed,
                         std::string(name) + " must not be null");
  return cs::pg::text_to_string(PG_GETARG_DATUM(n));
}

// The SKU's index in a world loaded for it; unknown SKU: undefined_object.
uint32_t known_sku(const world& w, const std::string& sku) {
  int64_t i = w.find_sku(sku);
  if (i < 0 || !w.skus()[static_cast<size_t>(i)].wanted)
    throw cs::user_error(cs::sqlstate::kUndefinedObject, "sku \"" + sku + "\" does not exist", "",
                         "SKUs are rows of channel_sync.skus.");
  return static_cast<uint32_t>(i);
}

// The SKU list of a text[] argument (NULL elements skipped); nullptr for a NULL array.
std::unique_ptr<std::vector<std::string>> sku_list(FunctionCallInfo fcinfo, int n) {
  if (PG_ARGISNULL(n)) return nullptr;
  auto out = std::make_unique<std::vector<std::string>>();
  Datum arr = PG_GETARG_DATUM(n);
  Datum* elems = nullptr;
  bool* nulls = nullptr;
  int count = 0;
  cs::pg::guard([&] {
    ArrayType* a = DatumGetArrayTypeP(arr);
    deconstruct_array(a, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &count);
  });
  out->reserve(static_cast<size_t>(count));
  for (int k = 0; k < count; ++k)
    if (!nulls[k]) out->push_back(cs::pg::text_to_string(elems[k]));
  std::sort(out->begin(), out->end());
  out->erase(std::unique(out->begin(), out->end()), out->end());
  return out;
}

// A tuplestore result for a set-returning function (materialize mode).
ReturnSetInfo* materialize(FunctionCallInfo fcinfo) {
  return cs::pg::guard([&] {
    InitMaterializedSRF(fcinfo, 0);
    return reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
  });
}

}  // namespace

// _compute_targets(skus text[] DEFAULT NULL): every channel's target for the SKUs (NULL = all).
CS_FUNCTION(_compute_targets) {
  auto skus = sku_list(fcinfo, 0);
  std::vector<cs::allocation::listing_target> targets = cs::allocation::compute_targets(skus.get());
  ReturnSetInfo* rsinfo = materialize(fcinfo);
  for (const auto& t : targets) {
    const cs::allocation::listing_target* tp = &t;
    cs::pg::guard([&] {
      Datum values[4];
      bool nulls[4] = {false, false, false, tp->price_is_null};
      values[0] = PointerGetDatum(
          cstring_to_text_with_len(tp->channel_id.data(), static_cast<int>(tp->channel_id.size())));
      values[1] = PointerGetDatum(
          cstring_to_text_with_len(tp->sku.data(), static_cast<int>(tp->sku.size())));
      values[2] = Int32GetDatum(tp->qty);
      values[3] = tp->price_is_null
                      ? 0
                      : DirectFunctionCall3(numeric_in, CStringGetDatum(tp->price.c_str()),
                                            ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
      tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    });
  }
  return (Datum)0;
}

// _retarget(skus text[]): writes the changed targets of the SKUs; returns how many changed.
CS_FUNCTION(_retarget) {
  auto skus = sku_list(fcinfo, 0);
  if (skus == nullptr) PG_RETURN_INT64(0);
  PG_RETURN_INT64(cs::allocation::retarget(skus.get()));
}

// recompute_targets(): every listing target from the truth in one pass.
CS_FUNCTION(recompute_targets) {
  (void)fcinfo;
  PG_RETURN_INT64(cs::allocation::retarget(nullptr));
}

// explain_allocation(sku): per channel, the pool, holdback, buffer, ATS and deciding rule.
CS_FUNCTION(explain_allocation) {
  std::string sku = sku_arg(fcinfo, 0, "sku");
  std::vector<std::string> one{sku};
  cs::allocation::connect();
  world w;
  w.load(&one);
  uint32_t i = known_sku(w, sku);
  channel_results res;
  std::vector<const std::string*> prices;
  w.allocate_sku(i, res, prices);
  cs::allocation::finish();
  ReturnSetInfo* rsinfo = materialize(fcinfo);
  for (size_t c = 0; c < w.channel_count(); ++c) {
    const std::string* id = &w.channel(c).id;
    const cs::allocation::channel_result* r = &res[c];
    const char* limited = cs::allocation::limit_name(r->limited_by);
    cs::pg::guard([&] {
      Datum values[6];
      bool nulls[6] = {false, false, false, false, false, false};
      values[0] =
          PointerGetDatum(cstring_to_text_with_len(id->data(), static_cast<int>(id->size())));
      values[1] = Int32GetDatum(static_cast<int32>(r->pool));
      values[2] = Int32GetDatum(static_cast<int32>(std::min<int64_t>(r->holdback, INT32_MAX)));
      values[3] = Int32GetDatum(static_cast<int32>(std::min<int64_t>(r->buffer, INT32_MAX)));
      values[4] = Int32GetDatum(static_cast<int32>(r->ats));
      values[5] = PointerGetDatum(cstring_to_text(limited));
      tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    });
  }
  return (Datum)0;
}

// available_to_sell(channel_id, sku): what the channel may list of the SKU now.
CS_FUNCTION(available_to_sell) {
  if (PG_ARGISNULL(0))
    throw cs::user_error(cs::sqlstate::kNullValueNotAllowed, "channel_id must not be null");
  std::string channel = cs::pg::text_to_string(PG_GETARG_DATUM(0));
  std::string sku = sku_arg(fcinfo, 1, "sku");
  std::vector<std::string> one{sku};
  cs::allocation::connect();
  world w;
  w.load(&one);
  int64_t c = w.find_channel(channel);
  if (c < 0)
    throw cs::user_error(cs::sqlstate::kUndefinedObject,
                         "channel \"" + channel + "\" does not exist", "",
                         "Channels are rows of channel_sync.channels.");
  uint32_t i = known_sku(w, sku);
  channel_results res;
  std::vector<const std::string*> prices;
  w.allocate_sku(i, res, prices);
  cs::allocation::finish();
  PG_RETURN_INT32(static_cast<int32>(res[static_cast<size_t>(c)].ats));
}
