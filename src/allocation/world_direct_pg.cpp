// The truth of a small SKU set read without SQL (world::load_direct): see world_pg.hpp.
#include "allocation/world_pg.hpp"

#include <algorithm>

extern "C" {
#include "access/relation.h"
#include "storage/bufmgr.h"
#include "storage/proc.h"
#include "utils/inval.h"
}
#include "common/pg_headers.hpp"
#include "common/table_access_pg.hpp"
#include "allocation/small_feed_pg.hpp"
#include "propagation/stock_writes_pg.hpp"

namespace cs::allocation::glue {

// load() for a small SKU set without SQL: the rows q_small returns, read through the same
// B-tree indexes by direct index scans (no planning, no executor start-up: the hot path of
// every stock write), fed to small_row() in the same order.

// The tables and indexes the direct loader reads, with a snapshot taken as SPI would take
// one (after a command counter increment, so the firing statement's rows are visible).
struct direct_tables {
  Relation channels, channels_pk, rules, rules_key, locations, locations_pk, feeds, feeds_pk;
  Relation skus, skus_pk, components, components_pk, stock, stock_pk, prices, prices_sku;
  Relation listings, listings_sku;
  Snapshot snap;
};

namespace {

constexpr int kDirectRelations = 18;

Relation* direct_slots(direct_tables* t) {
  return &t->channels;
}

const char* const kDirectNames[kDirectRelations] = {
    "channels",  "channels_pkey",   "allocation_rules",  "one_rule_per_channel_sku",
    "locations", "locations_pkey",  "channel_locations", "channel_locations_pkey",
    "skus",      "skus_pkey",       "bundle_components", "bundle_components_pkey",
    "stock",     "stock_pkey",      "channel_prices",    "channel_prices_sku_idx",
    "listings",  "listings_sku_idx"};

// The configuration tables (channels, locations, channel_locations and their keys), which
// the direct loader skips when it replays the configuration it remembered.
bool config_relation(int k) {
  return k == 0 || k == 1 || (k >= 4 && k <= 7);
}

// Opens every relation, but for the configuration tables when with_config is false (false,
// with none left open, when one is missing). Plain C frame.
bool open_direct(direct_tables* t, bool with_config) {
  Relation* r = direct_slots(t);
  for (int k = 0; k < kDirectRelations; ++k) {
    r[k] = nullptr;
    if (!with_config && config_relation(k)) continue;
    r[k] = pg::open_cs_relation(kDirectNames[k], AccessShareLock);
    if (r[k] == nullptr) {
      for (int j = 0; j < k; ++j)
        if (r[j] != nullptr) relation_close(r[j], NoLock);
      return false;
    }
  }
  t->snap = pg::begin_fresh_read();
  return true;
}

void close_direct(direct_tables* t) {
  pg::end_fresh_read();
  Relation* r = direct_slots(t);
  for (int k = 0; k < kDirectRelations; ++k)
    if (r[k] != nullptr) relation_close(r[k], NoLock);
}

}  // namespace

// The rows of a table whose leading index columns equal the keys (text keys; a nullptr key
// is NULL), as copies in the current memory context.
struct fetched_rows {
  HeapTuple* rows = nullptr;
  int count = 0;
  TupleDesc desc = nullptr;
};

namespace {

fetched_rows fetch(Relation heap, Relation index, Snapshot snap,
                   std::initializer_list<const std::string*> keys) {
  fetched_rows f;
  f.desc = RelationGetDescr(heap);
  Datum values[4];
  bool nulls[4] = {false, false, false, false};
  int n = 0;
  for (const std::string* k : keys) {
    nulls[n] = k == nullptr;
    values[n] = k == nullptr ? 0 : PointerGetDatum(pg::string_to_text(*k));
    ++n;
  }
  HeapTuple** out = &f.rows;
  int* count = &f.count;
  pg::guard([&] { pg::fetch_by_key(heap, index, n, values, nulls, snap, out, count); });
  return f;
}

}  // namespace

// allocation_rules read whole when it fits in one page (a default per channel and a few
// per-SKU rules, the usual table): one scan instead of a key lookup per channel for the
// defaults and per channel and SKU for the overrides. A larger table is read by its key.
struct rules_source {
  fetched_rows all;
  bool whole = false;
  AttrNumber channel_att = InvalidAttrNumber, sku_att = InvalidAttrNumber;
};

namespace {

// Plain C frame.
void read_rules_whole(Relation rules, Snapshot snap, rules_source* src) {
  src->whole = RelationGetNumberOfBlocks(rules) <= 1;
  if (!src->whole) return;
  src->all.desc = RelationGetDescr(rules);
  src->channel_att = pg::column_number(rules, "channel_id");
  src->sku_att = pg::column_number(rules, "sku");
  pg::fetch_all(rules, snap, &src->all.rows, &src->all.count);
}

// Text column att of row, as a view (empty and *isnull for NULL). Plain C frame.
std::string_view text_column(HeapTuple row, TupleDesc desc, AttrNumber att, bool* isnull) {
  Datum v = heap_getattr(row, att, desc, isnull);
  if (*isnull) return {};
  text* t = DatumGetTextPP(v);
  return std::string_view(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

// The rows of a whole-read rules table that keep(channel, sku, sku_null) selects.
template <typename F>
fetched_rows select_rules(const rules_source& src, F&& keep) {
  fetched_rows f;
  f.desc = src.all.desc;
  f.rows = static_cast<HeapTuple*>(pg::guard(
      [&] { return palloc(sizeof(HeapTuple) * static_cast<size_t>(std::max(src.all.count, 1))); }));
  for (int r = 0; r < src.all.count; ++r) {
    bool channel_null = false, sku_null = false;
    std::string_view channel, sku;
    pg::guard([&] {
      channel = text_column(src.all.rows[r], src.all.desc, src.channel_att, &channel_null);
      sku = text_column(src.all.rows[r], src.all.desc, src.sku_att, &sku_null);
    });
    if (keep(channel, sku, sku_null)) f.rows[f.count++] = src.all.rows[r];
  }
  return f;
}

// The default rule of a channel.
fetched_rows default_rule(const direct_tables& t, const rules_source& src,
                          const std::string& channel) {
  if (!src.whole) return fetch(t.rules, t.rules_key, t.snap, {&channel, nullptr});
  return select_rules(src, [&](std::string_view c, std::string_view, bool sku_null) {
    return sku_null && c == channel;
  });
}

}  // namespace

// A column the direct loader reads: its name, how to read it, the q_small column it fills.
struct direct_column {
  const char* name;
  col kind;
  small_col to;
};

namespace {

constexpr int kMaxDirectColumns = 9;

// The column numbers of columns in a fetched table. Plain C frame.
void resolve_columns(TupleDesc d, const direct_column* columns, int n, AttrNumber* atts) {
  for (int k = 0; k < n; ++k) {
    atts[k] = InvalidAttrNumber;
    for (int i = 0; i < d->natts && atts[k] == InvalidAttrNumber; ++i)
      if (!TupleDescAttr(d, i)->attisdropped &&
          strcmp(NameStr(TupleDescAttr(d, i)->attname), columns[k].name) == 0)
        atts[k] = TupleDescAttr(d, i)->attnum;
    if (atts[k] == InvalidAttrNumber) elog(ERROR, "channel_sync: no column %s", columns[k].name);
  }
}

// Row r of f as a q_small row of the given kind (the other columns NULL). Plain C frame.
void decode_direct_row(const fetched_rows* f, int r, int kind, const direct_column* columns,
                       const AttrNumber* atts, int n, cell* row) {
  for (int k = 0; k < k_ncols; ++k) row[k] = cell{nullptr, 0, 0, 0, true};
  row[k_kind] = cell{nullptr, 0, kind, 0, false};
  for (int k = 0; k < n; ++k) {
    bool isnull = false;
    Datum v = heap_getattr(f->rows[r], atts[k], f->desc, &isnull);
    decode_value(v, isnull, columns[k].kind, &row[columns[k].to]);
  }
}

// Decodes every row of f as a q_small row of the given kind, calling on_row(row) for each.
template <typename F>
void each_direct_row(const fetched_rows& f, int kind, std::initializer_list<direct_column> columns,
                     cell* row, F&& on_row) {
  if (f.count == 0) return;
  const direct_column* cols = columns.begin();
  int n = static_cast<int>(columns.size());
  AttrNumber atts[kMaxDirectColumns];
  const fetched_rows* fp = &f;
  pg::guard([&] { resolve_columns(fp->desc, cols, n, atts); });
  for (int r = 0; r < f.count; ++r) {
    pg::guard([&] { decode_direct_row(fp, r, kind, cols, atts, n, row); });
    on_row();
  }
}

// A rule's columns, into i1..i6 (read_rule's order).
#define CS_RULE_COLUMNS                                                                       \
  {"buffer", col::int4, k_i1}, {"reserve_pct", col::pct, k_i2}, {"list_pct", col::pct, k_i3}, \
      {"cap", col::int4, k_i4}, {"low_stock_cutoff", col::int4, k_i5}, {                      \
    "dynamic_buffer", col::boolean, k_i6                                                      \
  }

}  // namespace

// Decodes every row of rows as a row of the given kind, adjust() it, and feeds it to small_row.
template <typename F>
void world::feed_direct(small_feed& f, int kind, const fetched_rows& rows,
                        std::initializer_list<direct_column> columns, F&& adjust) {
  each_direct_row(rows, kind, columns, f.row, [&] {
    adjust();
    small_row(f.row, f);
  });
}

// A configuration row (kinds 0-2) as small_row() took it, its text owned: the direct loader
// replays them in later transactions while they are valid (see kept_config).
struct kept_config_row {
  cell c[k_ncols];
  std::string a, b, n;
};

namespace {

void keep_config_row(const cell* row, std::vector<kept_config_row>& kept) {
  kept_config_row k;
  std::copy(row, row + k_ncols, k.c);
  auto own = [](const cell& c, std::string& s) {
    if (!c.null && c.str != nullptr) s.assign(c.str, static_cast<size_t>(c.len));
  };
  own(row[k_a], k.a);
  own(row[k_b], k.b);
  own(row[k_n], k.n);
  kept.push_back(std::move(k));
}

// The configuration rows (channels with their default rules, locations, which locations feed
// which channels) the last direct load read, kept across transactions until a relcache
// invalidation of one of the four tables arrives: every statement writing them queues one and
// takes the re-target lock of every SKU (their re-target trigger, see
// cs::allocation::configuration_written()), so its invalidation is sent before a re-target
// holding its own locks can read the change (load_direct accepts invalidations first). Kept
// only while those triggers fire always; a DBA disabling one invalidates the table too.
struct kept_config {
  bool valid = false;
  Oid relids[4] = {InvalidOid, InvalidOid, InvalidOid, InvalidOid};
  LocalTransactionId written_in = InvalidLocalTransactionId;  // a writer reads afresh
  std::vector<kept_config_row> rows;
};

kept_config config_kept;

void drop_kept_config(Datum, Oid relid) {
  for (Oid r : config_kept.relids)
    if (relid == InvalidOid || relid == r) config_kept.valid = false;
}

// Whether the remembered configuration may be replayed now. Plain C frame.
bool kept_config_usable() {
  AcceptInvalidationMessages();
  return config_kept.valid && config_kept.written_in != MyProc->lxid;
}

// Remembers the rows just read when the four tables' triggers fire always and this
// transaction wrote none of them. Plain C frame.
void keep_config(const direct_tables* t, std::vector<kept_config_row>* rows) {
  static bool registered = false;
  Relation tables[4] = {t->channels, t->locations, t->feeds, t->rules};
  for (Relation rel : tables)
    if (!cs::propagation::retarget_triggers_fire_always(rel)) return;
  if (config_kept.written_in == MyProc->lxid) return;
  if (!registered) {
    CacheRegisterRelcacheCallback(drop_kept_config, 0);
    registered = true;
  }
  for (int k = 0; k < 4; ++k) config_kept.relids[k] = RelationGetRelid(tables[k]);
  config_kept.rows.swap(*rows);
  config_kept.valid = true;
}

}  // namespace

// Kinds 0-2: channels in key order, each with its default rule; locations in key order;
// which channels they feed. Each row fed is kept too.
void world::load_direct_config(const direct_tables& t, const rules_source& rules, small_feed& f,
                               std::vector<kept_config_row>& kept) {
  cell* row = f.row;
  fetched_rows channels = fetch(t.channels, t.channels_pk, t.snap, {});
  each_direct_row(channels, 0,
                  {{"channel_id", col::text, k_a},
                   {"lag_target", col::epoch, k_f},
                   {"active", col::boolean, k_i7}},
                  row, [&] {
                    std::string id(view(row[k_a]));
                    cell saved[k_ncols];
                    std::copy(row, row + k_ncols, saved);
                    each_direct_row(default_rule(t, rules, id), 0, {CS_RULE_COLUMNS}, row, [] {});
                    for (small_col k : {k_kind, k_a, k_f, k_i7}) row[k] = saved[k];
                    keep_config_row(row, kept);
                    small_row(row, f);
                  });
  auto keep = [&] { keep_config_row(row, kept); };
  feed_direct(f, 1, fetch(t.locations, t.locations_pk, t.snap, {}),
              {{"location_id", col::text, k_a}, {"active", col::boolean, k_i7}}, keep);
  feed_direct(f, 2, fetch(t.feeds, t.feeds_pk, t.snap, {}),
              {{"channel_id", col::text, k_a}, {"location_id", col::text, k_b}}, keep);
}

void world::replay_direct_config(const std::vector<kept_config_row>& kept, small_feed& f) {
  for (const kept_config_row& k : kept) {
    cell row[k_ncols];
    std::copy(k.c, k.c + k_ncols, row);
    if (!row[k_a].null) row[k_a].str = k.a.data();
    if (!row[k_b].null) row[k_b].str = k.b.data();
    if (!row[k_n].null) row[k_n].str = k.n.data();
    small_row(row, f);
  }
}

// Kinds 3, 4: the SKUs and their components; returns the components not among skus (sorted:
// skus in order), whose stock is read too.
std::vector<std::string> world::load_direct_skus(const direct_tables& t,
                                                 const std::vector<std::string>& skus,
                                                 const std::vector<std::string>& sorted,
                                                 small_feed& f) {
  cell* row = f.row;
  for (const std::string& s : skus)
    feed_direct(f, 3, fetch(t.skus, t.skus_pk, t.snap, {&s}),
                {{"sku", col::text, k_a}, {"base_price", col::text, k_n}, {"kind", col::text, k_b}},
                [&] {
                  row[k_i7] = cell{nullptr, 0, view(row[k_b]) == "bundle" ? 1 : 0, 0, false};
                  row[k_b].null = true;
                });
  std::vector<std::string> extra;
  for (const std::string& s : skus)
    feed_direct(f, 4, fetch(t.components, t.components_pk, t.snap, {&s}),
                {{"bundle_sku", col::text, k_a},
                 {"component_sku", col::text, k_b},
                 {"qty_per", col::int4, k_i1}},
                [&] {
                  std::string comp(view(row[k_b]));
                  if (!std::binary_search(sorted.begin(), sorted.end(), comp))
                    extra.push_back(comp);
                });
  std::sort(extra.begin(), extra.end());
  extra.erase(std::unique(extra.begin(), extra.end()), extra.end());
  return extra;
}

// Kind 5: the stock of the SKUs and of their components.
void world::load_direct_stock(const direct_tables& t, const std::vector<std::string>& skus,
                              const std::vector<std::string>& components, small_feed& f) {
  for (const std::vector<std::string>* list : {&skus, &components})
    for (const std::string& s : *list)
      feed_direct(f, 5, fetch(t.stock, t.stock_pk, t.snap, {&s}),
                  {{"sku", col::text, k_a},
                   {"location_id", col::text, k_b},
                   {"on_hand", col::int4, k_i1},
                   {"reserved", col::int4, k_i2},
                   {"safety_stock", col::int4, k_i3}},
                  [] {});
}

// Kind 6: the per-SKU rules of every channel.
void world::load_direct_overrides(const direct_tables& t, const rules_source& rules,
                                  const std::vector<std::string>& skus,
                                  const std::vector<std::string>& sorted, small_feed& f) {
  auto feed_overrides = [&](const fetched_rows& rows) {
    feed_direct(f, 6, rows,
                {{"sku", col::text, k_a}, {"channel_id", col::text, k_b}, CS_RULE_COLUMNS}, [] {});
  };
  if (rules.whole) {
    feed_overrides(select_rules(rules, [&](std::string_view, std::string_view sku, bool sku_null) {
      return !sku_null && std::binary_search(sorted.begin(), sorted.end(), sku);
    }));
    return;
  }
  std::vector<std::string> channel_ids;
  for (const channel_row& ch : channels_) channel_ids.push_back(ch.id);
  for (const std::string& s : skus)
    for (const std::string& c : channel_ids)
      feed_overrides(fetch(t.rules, t.rules_key, t.snap, {&c, &s}));
}

// Kinds 7, 8: channel prices and the current listings, with where each listing was read, so
// the writer updates it without looking it up again.
void world::load_direct_listings(const direct_tables& t, const std::vector<std::string>& skus,
                                 small_feed& f) {
  cell* row = f.row;
  for (const std::string& s : skus)
    feed_direct(
        f, 7, fetch(t.prices, t.prices_sku, t.snap, {&s}),
        {{"sku", col::text, k_a}, {"channel_id", col::text, k_b}, {"price", col::text, k_n}},
        [] {});
  for (const std::string& s : skus) {
    fetched_rows listings = fetch(t.listings, t.listings_sku, t.snap, {&s});
    int at = 0;  // each_direct_row decodes the rows in order
    feed_direct(f, 8, listings,
                {{"sku", col::text, k_a},
                 {"channel_id", col::text, k_b},
                 {"target_price", col::text, k_n},
                 {"target_qty", col::int4, k_i1}},
                [&] {
                  row[k_i2] =
                      cell{nullptr, 0,
                           static_cast<int64_t>(encode_tid(listings.rows[at++]->t_self)), 0, false};
                });
  }
}

bool world::load_direct(const std::vector<std::string>& skus) {
  direct_tables t{};
  direct_tables* tp = &t;
  bool replay = pg::guard([] { return kept_config_usable(); });
  if (!pg::guard([&] { return open_direct(tp, !replay); })) return false;
  rules_source rules;
  rules_source* rp = &rules;
  pg::guard([&] { read_rules_whole(tp->rules, tp->snap, rp); });
  small_feed f;
  std::vector<std::string> sorted(skus);
  std::sort(sorted.begin(), sorted.end());
  if (replay) {
    replay_direct_config(config_kept.rows, f);
  } else {
    std::vector<kept_config_row> kept;
    load_direct_config(t, rules, f, kept);
    std::vector<kept_config_row>* kp = &kept;
    pg::guard([&] { keep_config(tp, kp); });
  }
  std::vector<std::string> components = load_direct_skus(t, skus, sorted, f);
  load_direct_stock(t, skus, components, f);
  load_direct_overrides(t, rules, skus, sorted, f);
  load_direct_listings(t, skus, f);
  pg::guard([&] { close_direct(tp); });
  // kinds that had no rows still need their loading finished
  cell end[k_ncols] = {};
  end[k_kind].i = 9;
  small_row(end, f);
  listings_loaded_ = true;
  if (any_dynamic_) {
    sku_array_ = text_array(skus);
    load_dynamic(&skus);
  }
  return true;
}

#undef CS_RULE_COLUMNS

}  // namespace cs::allocation::glue

namespace cs::allocation {

void configuration_written() {
  glue::config_kept.valid = false;
  glue::config_kept.written_in = MyProc->lxid;
}

}  // namespace cs::allocation
