// The rows inbound events lock and write: see writes_pg.hpp.
#include "ingest/writes_pg.hpp"

#include <algorithm>
#include <cstring>
#include <memory>

#include "common/boundary.hpp"

extern "C" {
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/tableam.h"
#include "executor/tuptable.h"
}
#include "common/pg_headers.hpp"
#include "common/table_access_pg.hpp"
#include "ingest/direct_writes_pg.hpp"
#include "ingest/statements_pg.hpp"
#include "propagation/stock_writes_pg.hpp"

namespace cs::ingest::glue {

namespace ig = cs::ingest;

namespace {

// The stock rows (skus[k], locs[k]) for k < n (in key order, so every caller locks in the
// same order), each locked as SELECT ... FOR UPDATE locks it: the latest version, after
// waiting for a concurrent writer. Direct key lookups. levels: on_hand, reserved, safety_stock
// per row (nullptr: not wanted); found[k] false where there is no row. peeked: where
// peek_stock_rows found the rows (nullptr: not read before); a row is locked there (following
// its updates), and looked up by key where it was not found or is gone. locked_at: where each
// row was locked (nullptr: not wanted). Plain C frame.
void lock_stock_rows(const char* const* skus, const char* const* locs, int n, int32* levels,
                     bool* found, const ItemPointerData* peeked, ItemPointerData* locked_at) {
  Relation heap = cs::pg::open_cs_relation("stock", RowShareLock);
  Relation key = cs::pg::open_cs_relation("stock_pkey", RowShareLock);
  if (heap == nullptr || key == nullptr)
    elog(ERROR, "channel_sync: stock or stock_pkey is missing");
  AttrNumber att[3] = {cs::pg::column_number(heap, "on_hand"),
                       cs::pg::column_number(heap, "reserved"),
                       cs::pg::column_number(heap, "safety_stock")};
  TupleTableSlot* row = table_slot_create(heap, nullptr);
  for (int k = 0; k < n; ++k) {
    CHECK_FOR_INTERRUPTS();
    Datum keys[2] = {CStringGetTextDatum(skus[k]), CStringGetTextDatum(locs[k])};
    found[k] = peeked != nullptr && ItemPointerIsValid(&peeked[k]) &&
               cs::pg::lock_row_at(heap, &peeked[k], row);
    if (!found[k]) found[k] = cs::pg::lock_row_by_key(heap, key, 2, keys, row);
    if (found[k] && locked_at != nullptr) locked_at[k] = row->tts_tid;
    for (int j = 0; j < 3 && found[k] && levels != nullptr; ++j) {
      bool isnull = false;
      levels[3 * k + j] = DatumGetInt32(slot_getattr(row, att[j], &isnull));
    }
    pfree(DatumGetPointer(keys[0]));
    pfree(DatumGetPointer(keys[1]));
  }
  ExecDropSingleTupleTableSlot(row);
  relation_close(key, NoLock);
  relation_close(heap, NoLock);
}

// The stock rows lock_stock_rows would return, read without locking them (the last committed
// version, not waiting for a concurrent writer), and where they are: one lookup per SKU.
// Plain C frame.
void peek_stock_rows(const char* const* skus, int n_skus, const char* const* locs, int n_locs,
                     int32* levels, bool* found, ItemPointerData* tids) {
  Relation heap = cs::pg::open_cs_relation("stock", AccessShareLock);
  Relation key = cs::pg::open_cs_relation("stock_pkey", AccessShareLock);
  if (heap == nullptr || key == nullptr)
    elog(ERROR, "channel_sync: stock or stock_pkey is missing");
  TupleDesc desc = RelationGetDescr(heap);
  AttrNumber location = cs::pg::column_number(heap, "location_id");
  AttrNumber att[3] = {cs::pg::column_number(heap, "on_hand"),
                       cs::pg::column_number(heap, "reserved"),
                       cs::pg::column_number(heap, "safety_stock")};
  for (int k = 0; k < n_skus * n_locs; ++k) found[k] = false;
  Snapshot snap = cs::pg::begin_fresh_read();
  for (int s = 0; s < n_skus; ++s) {
    CHECK_FOR_INTERRUPTS();
    Datum sku = CStringGetTextDatum(skus[s]);
    HeapTuple* rows = nullptr;
    int count = 0;
    cs::pg::fetch_by_key(heap, key, 1, &sku, nullptr, snap, &rows, &count);
    for (int r = 0; r < count; ++r) {
      bool isnull = false;
      char* loc = TextDatumGetCString(heap_getattr(rows[r], location, desc, &isnull));
      for (int l = 0; l < n_locs; ++l) {
        if (strcmp(loc, locs[l]) != 0) continue;
        int k = s * n_locs + l;
        found[k] = true;
        if (tids != nullptr) tids[k] = rows[r]->t_self;
        for (int j = 0; j < 3; ++j)
          levels[3 * k + j] = DatumGetInt32(heap_getattr(rows[r], att[j], desc, &isnull));
      }
      pfree(loc);
      heap_freetuple(rows[r]);
    }
    pfree(rows);
    pfree(DatumGetPointer(sku));
  }
  cs::pg::end_fresh_read();
  relation_close(key, NoLock);
  relation_close(heap, NoLock);
}

// The state of each of n orders of the channel (order ids in key order, so every caller locks
// in the same order), each row locked as SELECT ... FOR UPDATE locks it. Direct key lookups:
// a statement planned while orders was empty would scan the table for the rest of the session.
// states[k] is NULL where there is no such order. Plain C frame.
void lock_order_rows(const char* channel, const char* const* order_ids, int n, char** states) {
  Relation heap = cs::pg::open_cs_relation("orders", RowShareLock);
  Relation key = cs::pg::open_cs_relation("orders_pkey", RowShareLock);
  if (heap == nullptr || key == nullptr)
    elog(ERROR, "channel_sync: orders or orders_pkey is missing");
  AttrNumber state = cs::pg::column_number(heap, "state");
  TupleTableSlot* row = table_slot_create(heap, nullptr);
  Datum channel_key = CStringGetTextDatum(channel);
  for (int k = 0; k < n; ++k) {
    CHECK_FOR_INTERRUPTS();
    Datum keys[2] = {channel_key, CStringGetTextDatum(order_ids[k])};
    states[k] = nullptr;
    if (cs::pg::lock_row_by_key(heap, key, 2, keys, row)) {
      bool isnull = false;
      Datum value = slot_getattr(row, state, &isnull);
      if (!isnull) states[k] = TextDatumGetCString(value);
    }
    pfree(DatumGetPointer(keys[1]));
  }
  pfree(DatumGetPointer(channel_key));
  ExecDropSingleTupleTableSlot(row);
  relation_close(key, NoLock);
  relation_close(heap, NoLock);
}

}  // namespace

std::vector<std::string> sorted_distinct(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

std::map<std::string, std::string> lock_orders(const std::string& channel,
                                               const std::vector<std::string>& order_ids) {
  std::vector<std::string> ids = sorted_distinct(order_ids);
  if (ids.empty()) return {};
  std::vector<const char*> names;
  for (const std::string& id : ids) names.push_back(id.c_str());
  std::vector<char*> states(ids.size() + 1, nullptr);
  const char* ch = channel.c_str();
  const char* const* np = names.data();
  int n = static_cast<int>(ids.size());
  char** sp = states.data();
  cs::pg::guard([&] { lock_order_rows(ch, np, n, sp); });
  std::map<std::string, std::string> out;
  for (size_t k = 0; k < ids.size(); ++k)
    if (sp[k] != nullptr) out.emplace(ids[k], sp[k]);
  return out;
}

std::vector<std::pair<std::string, ig::stock_level>> lock_stock(
    const std::vector<std::string>& sku_list, const std::vector<std::string>& loc_list,
    stock_read how, std::vector<ItemPointerData>* where, stock_positions* locked_at) {
  std::vector<std::string> skus = sorted_distinct(sku_list), locs = sorted_distinct(loc_list);
  std::vector<const char*> sku_names, loc_names;
  for (const std::string& s : skus) sku_names.push_back(s.c_str());
  for (const std::string& l : locs) loc_names.push_back(l.c_str());
  size_t n = skus.size() * locs.size();
  std::vector<int32> levels(3 * n + 1);
  std::unique_ptr<bool[]> found(new bool[n + 1]);
  const char* const* sp = sku_names.data();
  const char* const* lp = loc_names.data();
  int ns = static_cast<int>(skus.size()), nl = static_cast<int>(locs.size());
  int32* vp = levels.data();
  bool* fp = found.get();
  if (where != nullptr && how == stock_read::peek) {
    where->assign(n + 1, ItemPointerData{});
    for (ItemPointerData& tid : *where) ItemPointerSetInvalid(&tid);
  }
  const ItemPointerData* peeked =
      where != nullptr && where->size() == n + 1 ? where->data() : nullptr;
  ItemPointerData* tids = where != nullptr ? where->data() : nullptr;
  if (how == stock_read::lock) {
    std::vector<const char*> row_skus(n + 1), row_locs(n + 1);  // the cross product, sku-major
    for (size_t k = 0; k < n; ++k) {
      row_skus[k] = sku_names[k / locs.size()];
      row_locs[k] = loc_names[k % locs.size()];
    }
    const char* const* rs = row_skus.data();
    const char* const* rl = row_locs.data();
    int nr = static_cast<int>(n);
    std::vector<ItemPointerData> at(locked_at != nullptr ? n + 1 : 0);
    ItemPointerData* ap = locked_at != nullptr ? at.data() : nullptr;
    cs::pg::guard([&] { lock_stock_rows(rs, rl, nr, vp, fp, peeked, ap); });
    for (size_t k = 0; ap != nullptr && k < n; ++k)
      if (fp[k]) (*locked_at)[{skus[k / locs.size()], locs[k % locs.size()]}] = at[k];
  } else
    cs::pg::guard([&] { peek_stock_rows(sp, ns, lp, nl, vp, fp, tids); });
  std::vector<std::pair<std::string, ig::stock_level>> out;
  for (size_t k = 0; k < n; ++k) {
    if (!fp[k]) continue;
    ig::stock_level l;
    l.location_id = locs[k % locs.size()];
    l.on_hand = vp[3 * k];
    l.reserved = vp[3 * k + 1];
    l.safety_stock = vp[3 * k + 2];
    out.emplace_back(skus[k / locs.size()], l);
  }
  return out;
}

void lock_stock_pairs(std::vector<std::pair<std::string, std::string>> pairs) {
  std::sort(pairs.begin(), pairs.end());
  pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
  if (pairs.empty()) return;
  std::vector<const char*> skus, locs;
  for (const auto& [sku, loc] : pairs) {
    skus.push_back(sku.c_str());
    locs.push_back(loc.c_str());
  }
  std::unique_ptr<bool[]> found(new bool[pairs.size()]);
  const char* const* sp = skus.data();
  const char* const* lp = locs.data();
  int n = static_cast<int>(pairs.size());
  bool* fp = found.get();
  cs::pg::guard([&] { lock_stock_rows(sp, lp, n, nullptr, fp, nullptr, nullptr); });
}

namespace {

// The changes by an UPDATE statement (its trigger re-targets), and an INSERT of the rows that
// do not exist yet.
void write_stock_sql(const std::vector<std::string>& skus, const std::vector<std::string>& locs,
                     const std::vector<int32_t>& dh, const std::vector<int32_t>& dr) {
  rows r = skus.size() == 1
               ? run(P_STOCK_DELTA1, args().text(skus[0]).text(locs[0]).int4(dh[0]).int4(dr[0]))
               : run(P_STOCK_DELTA, args()
                                        .datum(text_array(skus))
                                        .datum(text_array(locs))
                                        .datum(int_array(dh))
                                        .datum(int_array(dr)));
  if (r.count == skus.size()) return;
  std::vector<std::pair<std::string, std::string>> found;
  for (uint64 i = 0; i < r.count; ++i) found.emplace_back(r.text(i, 1), r.text(i, 2));
  std::vector<std::string> ms, ml;
  std::vector<int32_t> mh, mr;
  for (size_t i = 0; i < skus.size(); ++i) {
    if (std::find(found.begin(), found.end(), std::make_pair(skus[i], locs[i])) != found.end())
      continue;
    ms.push_back(skus[i]);
    ml.push_back(locs[i]);
    mh.push_back(dh[i]);
    mr.push_back(dr[i]);
  }
  run(P_STOCK_INSERT,
      args().datum(text_array(ms)).datum(text_array(ml)).datum(int_array(mh)).datum(int_array(mr)));
}

// The SKUs a deferred_retargets in scope collects, or nullptr.
std::vector<std::string>* collecting_retargets = nullptr;

// Lends the caller's locked stock rows to the re-targets run meanwhile (use_locked_stock).
struct locked_stock_scope {
  explicit locked_stock_scope(const std::vector<cs::allocation::locked_stock_row>* rows) {
    cs::allocation::use_locked_stock(rows);
  }
  ~locked_stock_scope() { cs::allocation::use_locked_stock(nullptr); }
  locked_stock_scope(const locked_stock_scope&) = delete;
  locked_stock_scope& operator=(const locked_stock_scope&) = delete;
};

// The stock rows updated in place, then what the stock trigger would re-target (see
// stock_writes_pg.hpp); rows without a stock row yet, or that would fail a constraint, go
// through SQL as before. False: stock carries someone else's trigger, nothing written.
// locked: the stock rows the caller holds locked, as written (nullptr: none), which the
// re-target then takes instead of reading the table again (use_locked_stock).
bool write_stock_direct(const std::vector<std::string>& skus, const std::vector<std::string>& locs,
                        const std::vector<int32_t>& dh, const std::vector<int32_t>& dr,
                        const std::vector<cs::allocation::locked_stock_row>* locked,
                        const stock_positions* at) {
  std::vector<ig::pg::stock_delta> deltas(skus.size());
  for (size_t k = 0; k < skus.size(); ++k) {
    ItemPointerData where;
    ItemPointerSetInvalid(&where);
    if (at != nullptr)
      if (auto it = at->find({skus[k], locs[k]}); it != at->end()) where = it->second;
    deltas[k] = {
        skus[k].c_str(), locs[k].c_str(), dh[k], dr[k], where, ig::pg::stock_delta::missing, false};
  }
  ig::pg::stock_delta* d = deltas.data();
  int n = static_cast<int>(deltas.size());
  if (!guard([&] { return ig::pg::update_stock(d, n); })) return false;
  std::vector<std::string> changed, sql_skus, sql_locs;
  std::vector<int32_t> sql_dh, sql_dr;
  for (size_t k = 0; k < deltas.size(); ++k) {
    if (deltas[k].outcome == ig::pg::stock_delta::written) {
      if (deltas[k].changed) changed.push_back(skus[k]);
      continue;
    }
    sql_skus.push_back(skus[k]);
    sql_locs.push_back(locs[k]);
    sql_dh.push_back(dh[k]);
    sql_dr.push_back(dr[k]);
  }
  if (collecting_retargets != nullptr) {
    collecting_retargets->insert(collecting_retargets->end(), changed.begin(), changed.end());
  } else {
    locked_stock_scope scope(locked);
    cs::propagation::retarget_changed_stock(changed);
  }
  if (!sql_skus.empty()) write_stock_sql(sql_skus, sql_locs, sql_dh, sql_dr);
  return true;
}

}  // namespace

deferred_retargets::deferred_retargets() {
  collecting_retargets = &skus_;
}

deferred_retargets::~deferred_retargets() {
  collecting_retargets = nullptr;
}

void deferred_retargets::run() {
  collecting_retargets = nullptr;
  std::vector<std::string> skus = sorted_distinct(std::move(skus_));
  if (!skus.empty()) cs::propagation::retarget_changed_stock(skus);
}

// Writes stock changes: in place where it can (write_stock_direct), else with SQL.
void write_stock(const stock_changes& c,
                 const std::vector<cs::allocation::locked_stock_row>* locked,
                 const stock_positions* at) {
  std::vector<std::string> skus, locs;
  std::vector<int32_t> dh, dr;
  for (const auto& [key, v] : c.by_key) {
    if (v.first == 0 && v.second == 0) continue;
    skus.push_back(key.first);
    locs.push_back(key.second);
    dh.push_back(static_cast<int32_t>(v.first));
    dr.push_back(static_cast<int32_t>(v.second));
  }
  if (!skus.empty() && !write_stock_direct(skus, locs, dh, dr, locked, at))
    write_stock_sql(skus, locs, dh, dr);
}

void insert_lines_sql(const call_context& cx, const std::string& order_id,
                      const std::vector<order_line_row>& lines, TimestampTz placed_at) {
  std::vector<std::string> sku, loc, sold;
  std::vector<int32_t> line_no, qty, per;
  for (const order_line_row& l : lines) {
    sku.push_back(l.sku);
    loc.push_back(l.location);
    sold.push_back(l.sold_sku);
    line_no.push_back(l.line_no);
    qty.push_back(l.qty);
    per.push_back(l.per);
  }
  run(timed_lines(P_INSERT_LINES), args()
                                       .text(cx.channel)
                                       .text(order_id)
                                       .datum(int_array(line_no))
                                       .datum(text_array(sku))
                                       .datum(text_array(loc))
                                       .datum(int_array(qty))
                                       .datum(text_array(sold))
                                       .datum(int_array(per))
                                       .ts(placed_at));
}

std::optional<bool> place_orders_direct(const call_context& cx,
                                        const std::vector<order_to_place>& orders,
                                        const std::vector<std::vector<order_line_row>>& lines) {
  std::vector<cs::ingest::pg::order_row> o;
  std::vector<cs::ingest::pg::line_row> l;
  for (size_t k = 0; k < orders.size(); ++k) {
    o.push_back({orders[k].order_id.c_str(), orders[k].oversold, orders[k].at, orders[k].event_id});
    for (const order_line_row& r : lines[k])
      l.push_back({static_cast<int>(k), r.line_no, r.sku.c_str(), r.location.c_str(), r.qty,
                   r.sold_sku.c_str(), r.per});
  }
  std::unique_ptr<bool[]> placed(new bool[orders.size() + 1]);
  const char* channel = cx.channel.c_str();
  const cs::ingest::pg::order_row* op = o.data();
  const cs::ingest::pg::line_row* lp = l.data();
  int n = static_cast<int>(o.size()), nl = static_cast<int>(l.size());
  bool* pp = placed.get();
  if (!guard([&] { return cs::ingest::pg::write_orders(channel, op, n, lp, nl, pp); }))
    return std::nullopt;
  return std::all_of(pp, pp + n, [](bool b) { return b; });
}

}  // namespace cs::ingest::glue
