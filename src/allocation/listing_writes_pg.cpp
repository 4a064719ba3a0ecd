// Writing changed listing targets and their outbox messages: see listing_writes_pg.hpp.
#include "allocation/listing_writes_pg.hpp"

#include <set>

extern "C" {
#include "access/relation.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"
}
#include "common/pg_headers.hpp"
#include "common/table_access_pg.hpp"
#include "propagation/notifier_pg.hpp"
#include "propagation/stock_writes_pg.hpp"

namespace cs::allocation::glue {

namespace {

// True while listing_writer's upsert runs: it enqueues its own outbox messages.
bool outbox_written_by_statement = false;

// Sets outbox_written_by_statement for the life of the scope (restored on unwinding).
class outbox_writer_scope {
 public:
  outbox_writer_scope() : saved_(outbox_written_by_statement) {
    outbox_written_by_statement = true;
  }
  ~outbox_writer_scope() { outbox_written_by_statement = saved_; }
  outbox_writer_scope(const outbox_writer_scope&) = delete;
  outbox_writer_scope& operator=(const outbox_writer_scope&) = delete;

 private:
  bool saved_;
};

// NOTIFY channel_sync, '<channel>' for every channel in column 2 (text[], may be NULL) of the
// upsert's one result row; PostgreSQL folds repeats within a transaction into one. Plain C
// frame: may ereport.
void notify_channels(SPITupleTable* table) {
  bool isnull = false;
  Datum arr = SPI_getbinval(table->vals[0], table->tupdesc, 2, &isnull);
  if (isnull) return;
  Datum* elems = nullptr;
  bool* nulls = nullptr;
  int count = 0;
  deconstruct_array(DatumGetArrayTypeP(arr), TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls,
                    &count);
  for (int k = 0; k < count; ++k)
    if (!nulls[k]) cs::propagation::wake_listeners(text_to_cstring(DatumGetTextPP(elems[k])));
}

// int4[], int8[] and numeric[] (from payloads) Datums (palloc'd in the current context).
template <typename T, Datum (*to_datum)(T)>
Datum by_value_array(const std::vector<T>& values, Oid type) {
  int n = static_cast<int>(values.size());
  const T* q = values.data();
  return pg::guard([&] {
    Datum* e = static_cast<Datum*>(palloc(sizeof(Datum) * (n > 0 ? n : 1)));
    for (int k = 0; k < n; ++k) e[k] = to_datum(q[k]);
    int16 len;
    bool byval;
    char align;
    get_typlenbyvalalign(type, &len, &byval, &align);
    return PointerGetDatum(construct_array(e, n, type, len, byval, align));
  });
}

Datum int4_datum(int32_t v) {
  return Int32GetDatum(v);
}

Datum int8_datum(int64_t v) {
  return Int64GetDatum(v);
}

Datum int4_array(const std::vector<int32_t>& values) {
  return by_value_array<int32_t, int4_datum>(values, INT4OID);
}

Datum int8_array(const std::vector<int64_t>& values) {
  return by_value_array<int64_t, int8_datum>(values, INT8OID);
}

Datum numeric_array(const std::vector<const std::string*>& payloads) {
  int n = static_cast<int>(payloads.size());
  const std::string* const* p = payloads.data();
  return pg::guard([&] {
    Datum* e = static_cast<Datum*>(palloc(sizeof(Datum) * (n > 0 ? n : 1)));
    for (int k = 0; k < n; ++k) e[k] = numeric_from_payload(p[k]->data(), p[k]->size());
    return PointerGetDatum(construct_array(e, n, NUMERICOID, -1, false, TYPALIGN_INT));
  });
}

// The direct writer (small SKU sets): each changed listing and its outbox message are
// updated in place through their unique keys (see cs::pg::row_updater), without the SQL
// upsert's planning and executor start-up. Rows it cannot write that way -- no
// listing yet, or no outbox message yet -- go through the SQL upserts.

// One changed target and what the direct writer did with it. Plain data.
struct direct_change {
  Datum channel, sku;  // text
  uint64 tid;          // where the listing was read (encode_tid), else 0
  int32 qty;
  Datum price;          // numeric
  bool price_null;      // (a user's BEFORE trigger may write NULL)
  bool missing;         // no listing yet: the SQL upsert writes it
  bool written;         // the listing's target changed
  bool needs_message;   // its new version is not acknowledged yet
  bool outbox_missing;  // changed, but the listing has no outbox message yet
  bool wake;            // the channel has new work
  bool located;         // message_entries counts the outbox key's entries of the listing
  int message_entries;
  ItemPointerData message_tid;  // the one entry's, when there is one
  int64 version;                // the listing's new target_version
};

// Column numbers of the listings and outbox columns the direct writer sets.
struct direct_columns {
  AttrNumber l_qty, l_price, l_version, l_since, l_acked;
  AttrNumber o_qty, o_price, o_version, o_status, o_attempts, o_enqueued, o_next_attempt,
      o_claimed_version, o_changed_after_claim;
  // the outbox key's columns are (sku, channel_id): one index scan finds a SKU's messages
  bool outbox_sku_first;
};

void find_direct_columns(Relation l, Relation o, direct_columns* c) {
  c->l_qty = pg::column_number(l, "target_qty");
  c->l_price = pg::column_number(l, "target_price");
  c->l_version = pg::column_number(l, "target_version");
  c->l_since = pg::column_number(l, "target_since");
  c->l_acked = pg::column_number(l, "acked_version");
  c->o_qty = pg::column_number(o, "qty");
  c->o_price = pg::column_number(o, "price");
  c->o_version = pg::column_number(o, "version");
  c->o_status = pg::column_number(o, "status");
  c->o_attempts = pg::column_number(o, "attempts");
  c->o_enqueued = pg::column_number(o, "enqueued_at");
  c->o_next_attempt = pg::column_number(o, "next_attempt_at");
  c->o_claimed_version = pg::column_number(o, "claimed_version");
  c->o_changed_after_claim = pg::column_number(o, "changed_after_claim_at");
}

// Sets column att of the next image being built.
void set_next(pg::row_updater* u, AttrNumber att, Datum value, bool isnull = false) {
  u->next->tts_values[att - 1] = value;
  u->next->tts_isnull[att - 1] = isnull;
}

// The outbox message of a changed listing, as CS_UPSERT_OUTBOX's DO UPDATE would set it,
// from the message in found; false when it changed concurrently. Plain C frame.
bool update_message_direct(pg::row_updater* ou, const direct_columns* c, direct_change* r) {
  Datum* v = ou->found->tts_values;
  bool* nl = ou->found->tts_isnull;
  if (r->version <= DatumGetInt64(v[c->o_version - 1])) return true;  // a newer one is queued
  TimestampTz now = GetCurrentTransactionStartTimestamp();
  text* status = DatumGetTextPP(v[c->o_status - 1]);
  bool dead = VARSIZE_ANY_EXHDR(status) == 4 && memcmp(VARDATA_ANY(status), "dead", 4) == 0;
  bool claimed = !nl[c->o_claimed_version - 1];
  pg::row_updater_begin_next(ou);
  set_next(ou, c->o_qty, Int32GetDatum(r->qty));
  set_next(ou, c->o_price, r->price, r->price_null);
  set_next(ou, c->o_version, Int64GetDatum(r->version));
  set_next(ou, c->o_status, CStringGetTextDatum("pending"));
  if (dead) {
    set_next(ou, c->o_attempts, Int32GetDatum(0));
    set_next(ou, c->o_enqueued, TimestampTzGetDatum(now));
    set_next(ou, c->o_next_attempt, TimestampTzGetDatum(DT_NOBEGIN));
  }
  if (!claimed) set_next(ou, c->o_changed_after_claim, 0, true);
  if (claimed && nl[c->o_changed_after_claim - 1])
    set_next(ou, c->o_changed_after_claim, TimestampTzGetDatum(now));
  TimestampTz enqueued = DatumGetTimestampTz(ou->next->tts_values[c->o_enqueued - 1]);
  pg::update_result done = pg::row_updater_update(ou);
  if (done == pg::update_result::changed_concurrently) return false;
  r->wake = done == pg::update_result::written && (enqueued == now || claimed);
  return true;
}

// The listing of one change, from the listing in found; false when it changed concurrently.
// Plain C frame.
bool update_listing_direct(pg::row_updater* lu, const direct_columns* c, direct_change* r) {
  Datum* v = lu->found->tts_values;
  bool* nl = lu->found->tts_isnull;
  if (!nl[c->l_qty - 1] && DatumGetInt32(v[c->l_qty - 1]) == r->qty && !nl[c->l_price - 1] &&
      DatumGetBool(DirectFunctionCall2(numeric_eq, v[c->l_price - 1], r->price)))
    return true;  // already this target: nothing to write
  int64 version = DatumGetInt64(v[c->l_version - 1]) + 1;
  bool acked = !nl[c->l_acked - 1] && DatumGetInt64(v[c->l_acked - 1]) >= version;
  pg::row_updater_begin_next(lu);
  set_next(lu, c->l_qty, Int32GetDatum(r->qty));
  set_next(lu, c->l_price, r->price);
  set_next(lu, c->l_version, Int64GetDatum(version));
  set_next(lu, c->l_since, TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()));
  pg::update_result done = pg::row_updater_update(lu);
  if (done == pg::update_result::changed_concurrently) return false;
  if (done == pg::update_result::skipped_by_trigger) return true;  // as the upsert would
  // the message carries what was written (a user's BEFORE trigger may have changed it)
  slot_getallattrs(lu->next);
  r->qty = DatumGetInt32(lu->next->tts_values[c->l_qty - 1]);
  r->price = lu->next->tts_values[c->l_price - 1];
  r->price_null = lu->next->tts_isnull[c->l_price - 1];
  r->written = true;
  r->version = version;
  r->needs_message = !acked;
  return true;
}

// One change: the listing, then its message (each found again after a concurrent change).
// Plain C frame.
void write_change_direct(pg::row_updater* lu, pg::row_updater* ou, const direct_columns* c,
                         direct_change* r) {
  Datum key[2] = {r->channel, r->sku};
  ItemPointerData tid = decode_tid(r->tid);
  for (bool read_at_tid = r->tid != 0;; read_at_tid = false) {
    if (!(read_at_tid && pg::row_updater_fetch(lu, &tid, 2, key)) &&
        !pg::row_updater_find(lu, 2, key)) {
      r->missing = true;
      return;
    }
    if (update_listing_direct(lu, c, r)) break;
  }
  if (!r->needs_message) return;
  Datum okey[2] = {c->outbox_sku_first ? r->sku : r->channel,
                   c->outbox_sku_first ? r->channel : r->sku};
  bool none = r->located && r->message_entries == 0;
  for (bool at_entry = ItemPointerIsValid(&r->message_tid);; at_entry = none = false) {
    if (none || (!(at_entry && pg::row_updater_fetch_entry(ou, &r->message_tid, 2, okey)) &&
                 !pg::row_updater_find(ou, 2, okey))) {
      r->outbox_missing = true;
      return;
    }
    if (update_message_direct(ou, c, r)) break;
  }
}

bool same_text(Datum a, Datum b) {
  text* x = DatumGetTextPP(a);
  text* y = DatumGetTextPP(b);
  return VARSIZE_ANY_EXHDR(x) == VARSIZE_ANY_EXHDR(y) &&
         memcmp(VARDATA_ANY(x), VARDATA_ANY(y), VARSIZE_ANY_EXHDR(x)) == 0;
}

// The end of the run of changes of rows[k]'s SKU.
int sku_run_end(const direct_change* rows, int k, int n) {
  int end = k + 1;
  while (end < n && same_text(rows[end].sku, rows[k].sku)) ++end;
  return end;
}

// Where the outbox messages of a run of m changes of one SKU are, in one index-only scan.
// Plain C frame.
void locate_messages(pg::row_updater* ou, direct_change* run, int m) {
  Datum* channels = static_cast<Datum*>(palloc(sizeof(Datum) * m));
  ItemPointerData* tids = static_cast<ItemPointerData*>(palloc(sizeof(ItemPointerData) * m));
  int* entries = static_cast<int*>(palloc(sizeof(int) * m));
  for (int k = 0; k < m; ++k) channels[k] = run[k].channel;
  pg::row_updater_locate(ou, run[0].sku, m, channels, tids, entries);
  for (int k = 0; k < m; ++k) {
    run[k].located = true;
    run[k].message_entries = entries[k];
    run[k].message_tid = tids[k];
  }
  pfree(entries);
  pfree(tids);
  pfree(channels);
}

// Writes n changes directly; when a table or key is missing (an older install), marks every
// row missing so the SQL upsert writes them all. Plain C frame.
void write_direct(direct_change* rows, int n) {
  Relation l = pg::open_cs_relation("listings", RowExclusiveLock);
  Relation o = pg::open_cs_relation("outbox", RowExclusiveLock);
  Oid ns = get_namespace_oid("channel_sync", false);
  Oid lkey = get_relname_relid("listings_pkey", ns);
  Oid okey = get_relname_relid("one_message_per_listing", ns);
  if (l == nullptr || o == nullptr || !OidIsValid(lkey) || !OidIsValid(okey) ||
      !cs::propagation::triggers_allow_direct_writes(l) ||
      !cs::propagation::triggers_allow_direct_writes(o)) {
    for (int k = 0; k < n; ++k) rows[k].missing = true;
    if (l != nullptr) relation_close(l, NoLock);
    if (o != nullptr) relation_close(o, NoLock);
    return;
  }
  direct_columns cols;
  find_direct_columns(l, o, &cols);
  pg::row_updater lu, ou;
  static const char* const listing_checks[] = {"target_qty_not_negative"};
  static const char* const outbox_checks[] = {"outbox_qty_not_negative", "outbox_status_known"};
  pg::row_updater_open(&lu, l, lkey, listing_checks, 1);
  pg::row_updater_open(&ou, o, okey, outbox_checks, 2);
  cols.outbox_sku_first = ou.index->rd_index->indnkeyatts == 2 &&
                          ou.index->rd_index->indkey.values[0] == pg::column_number(o, "sku");
  for (int k = 0; k < n;) {
    int end = sku_run_end(rows, k, n);
    if (cols.outbox_sku_first && end - k > 1) locate_messages(&ou, rows + k, end - k);
    for (; k < end; ++k) write_change_direct(&lu, &ou, &cols, &rows[k]);
  }
  pg::row_updater_close(&ou);
  pg::row_updater_close(&lu);
  relation_close(o, NoLock);
  relation_close(l, NoLock);
}

}  // namespace

void listing_writer::clear() {
  channels_.clear();
  skus_.clear();
  qty_.clear();
  prices_.clear();
  tids_.clear();
}

// Writes the rows that have a listing directly, enqueues the messages the direct writer
// could not update, and keeps only the rows without a listing for the SQL upsert.
void listing_writer::flush_direct() {
  int n = static_cast<int>(channels_.size());
  direct_change* rows =
      pg::guard([&] { return static_cast<direct_change*>(palloc0(sizeof(direct_change) * n)); });
  for (int k = 0; k < n; ++k) {
    rows[k].channel = PointerGetDatum(pg::string_to_text(channels_[k]));
    rows[k].sku = PointerGetDatum(pg::string_to_text(skus_[k]));
    rows[k].qty = qty_[k];
    rows[k].tid = tids_[k];
    const std::string* p = prices_[k];
    rows[k].price = pg::guard([&] { return numeric_from_payload(p->data(), p->size()); });
  }
  pg::guard([&] { write_direct(rows, n); });
  std::vector<std::string> keep_channels, keep_skus, queue_channels, queue_skus;
  std::vector<int32_t> keep_qty, queue_qty;
  std::vector<const std::string*> keep_prices, queue_prices;
  std::vector<int64_t> queue_versions;
  std::set<std::string> wake;
  for (int k = 0; k < n; ++k) {
    const direct_change& r = rows[k];
    if (r.missing) {
      keep_channels.push_back(channels_[k]);
      keep_skus.push_back(skus_[k]);
      keep_qty.push_back(qty_[k]);
      keep_prices.push_back(prices_[k]);
      continue;
    }
    written_ += r.written ? 1 : 0;
    if (r.wake) wake.insert(channels_[k]);
    if (!r.outbox_missing) continue;
    queue_channels.push_back(channels_[k]);
    queue_skus.push_back(skus_[k]);
    queue_qty.push_back(qty_[k]);
    queue_prices.push_back(prices_[k]);
    queue_versions.push_back(r.version);
  }
  for (const std::string& ch : wake) {
    const char* payload = ch.c_str();
    pg::guard([&] { cs::propagation::wake_listeners(payload); });
  }
  if (!queue_channels.empty()) {
    Datum args[5] = {text_array(queue_channels), text_array(queue_skus), int4_array(queue_qty),
                     numeric_array(queue_prices), int8_array(queue_versions)};
    SPIPlanPtr pl = plan(q_outbox_upsert, true);
    pg::guard([&] {
      int rc = SPI_execute_plan(pl, args, nullptr, false, 0);
      if (rc != SPI_OK_SELECT || SPI_processed != 1)
        elog(ERROR, "channel_sync: outbox upsert failed: %s", SPI_result_code_string(rc));
      notify_channels(SPI_tuptable);
    });
  }
  channels_ = std::move(keep_channels);
  skus_ = std::move(keep_skus);
  qty_ = std::move(keep_qty);
  prices_ = std::move(keep_prices);
  tids_.assign(channels_.size(), 0);
}

void listing_writer::flush() {
  if (channels_.empty()) return;
  size_t batch = channels_.size();
  if (direct_) flush_direct();
  if (channels_.empty()) {
    sent_ += batch;
    return;
  }
  Datum args[4];
  args[0] = text_array(channels_);
  args[1] = text_array(skus_);
  args[2] = int4_array(qty_);
  args[3] = numeric_array(prices_);
  SPIPlanPtr pl = plan(q_upsert, true);  // its plan does not depend on the arrays
  outbox_writer_scope scope;
  int64 done = pg::guard([&] {
    int rc = SPI_execute_plan(pl, args, nullptr, false, 0);
    if (rc != SPI_OK_SELECT || SPI_processed != 1)
      elog(ERROR, "channel_sync: listings upsert failed: %s", SPI_result_code_string(rc));
    pfree(DatumGetPointer(args[0]));
    pfree(DatumGetPointer(args[1]));
    pfree(DatumGetPointer(args[2]));
    pfree(DatumGetPointer(args[3]));
    notify_channels(SPI_tuptable);
    bool isnull = false;
    Datum count = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
    return isnull ? int64{0} : DatumGetInt64(count);
  });
  written_ += static_cast<int64_t>(done);
  sent_ += batch;
  if (report_total_ > 0) report_progress("written", sent_, report_total_, "changed listings");
  clear();
}

}  // namespace cs::allocation::glue

namespace cs::allocation {

bool writing_outbox() {
  return glue::outbox_written_by_statement;
}

}  // namespace cs::allocation
