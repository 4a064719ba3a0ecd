// The loaded truth for a set of SKUs: see world_pg.hpp.
#include "allocation/world_pg.hpp"

#include <algorithm>
#include <map>

extern "C" {}
#include "common/pg_headers.hpp"
#include "common/table_access_pg.hpp"
#include "allocation/small_feed_pg.hpp"

namespace cs::allocation::glue {

int velocity_window_minutes = 24 * 60;
int lag_remeasure_seconds = 60;

namespace {

// use_locked_stock(): the caller's locked stock rows, for a set re-target's load.
const std::vector<locked_stock_row>* locked_stock = nullptr;

}  // namespace

uint32_t world::add_sku(std::string_view s, bool wanted) {
  bool added = false;
  uint32_t id = index_.insert(s, &added);
  if (added) skus_.emplace_back();
  skus_[id].wanted |= wanted;
  return id;
}

rule world::read_rule(const cell* row, int first) const {
  rule r;
  r.buffer = row[first].i;
  r.reserve_bp = static_cast<int32_t>(row[first + 1].i);
  r.list_bp = static_cast<int32_t>(row[first + 2].i);
  r.cap = row[first + 3].null ? kNoCap : row[first + 3].i;
  r.low_stock_cutoff = row[first + 4].i;
  r.dynamic_buffer = row[first + 5].i != 0;
  return r;
}

void world::load_channels() {
  scan(plan(q_channels), nullptr, nullptr,
       {col::text, col::boolean, col::float8, col::int4, col::int4, col::int4, col::int4, col::int4,
        col::boolean},
       [&](const cell* cells, size_t n) {
         for (size_t r = 0; r < n; ++r) {
           const cell* row = cells + r * 9;
           channel_row ch;
           ch.id.assign(view(row[0]));
           ch.active = row[1].i != 0;
           ch.lag_hours = row[2].f / 3600.0;
           if (!row[3].null) ch.def = read_rule(row, 3);
           any_dynamic_ |= ch.def.dynamic_buffer;
           channels_.push_back(std::move(ch));
         }
       });
  if (channels_.size() > 60000)
    throw user_error(sqlstate::kInvalidParameterValue, "too many channels",
                     "channel_sync allocates over at most 60000 channels.");
  // Locations: a channel with channel_locations rows is fed by those that are active; a
  // channel without any is fed by every active location.
  std::vector<bool> active;
  scan(plan(q_locations), nullptr, nullptr, {col::text, col::boolean},
       [&](const cell* cells, size_t n) {
         for (size_t r = 0; r < n; ++r) {
           locations_.emplace_back(view(cells[r * 2]));
           active.push_back(cells[r * 2 + 1].i != 0);
         }
       });
  size_t nc = channels_.size(), nl = locations_.size();
  std::vector<char> listed(nc * nl, 0), lists_any(nc, 0);
  scan(plan(q_channel_locations), nullptr, nullptr, {col::text, col::text},
       [&](const cell* cells, size_t n) {
         for (size_t r = 0; r < n; ++r) {
           int64_t c = find_channel(view(cells[r * 2]));
           auto loc =
               std::lower_bound(locations_.begin(), locations_.end(), view(cells[r * 2 + 1]));
           if (c < 0 || loc == locations_.end()) continue;
           listed[c * nl + (loc - locations_.begin())] = 1;
           lists_any[c] = 1;
         }
       });
  finish_channels(active, listed, lists_any);
}

// Which channels each location feeds: a channel with channel_locations rows is fed by those
// that are active; a channel without any is fed by every active location.
void world::finish_channels(const std::vector<bool>& active, const std::vector<char>& listed,
                            const std::vector<char>& lists_any) {
  size_t nc = channels_.size(), nl = locations_.size();
  location_feeds_.assign(nl, {});
  for (size_t c = 0; c < nc; ++c)
    for (size_t l = 0; l < nl; ++l)
      if (active[l] && (!lists_any[c] || listed[c * nl + l])) {
        location_feeds_[l].push_back(static_cast<uint16_t>(c));
        channels_[c].has_locations = true;
      }
}

int64_t world::find_location(std::string_view id) const {
  auto it = std::lower_bound(locations_.begin(), locations_.end(), id);
  return it != locations_.end() && *it == id ? it - locations_.begin() : -1;
}

// One stock row of SKU s at location loc (-1: unknown location).
void world::add_stock(int64_t s, int64_t loc, int64_t on_hand, int64_t reserved,
                      int64_t safety_stock) {
  int64_t sellable = on_hand - reserved - safety_stock;
  if (loc < 0 || sellable <= 0) return;
  int64_t* p = &pools_[static_cast<size_t>(s) * channels_.size()];
  for (uint16_t c : location_feeds_[static_cast<size_t>(loc)]) p[c] += sellable;
}

// The stock of the SKUs the caller holds locked (use_locked_stock) with a row at every
// location that feeds a channel; returns the others, to be read from the table.
std::vector<std::string> world::take_locked_stock(std::vector<std::string> skus) {
  if (locked_stock == nullptr) return skus;
  std::map<std::string_view, std::vector<const locked_stock_row*>> rows_of;
  for (const locked_stock_row& r : *locked_stock) rows_of[r.sku].push_back(&r);
  size_t feeding = 0;
  for (const auto& feeds : location_feeds_) feeding += feeds.empty() ? 0 : 1;
  std::vector<std::string> unread;
  for (std::string& sku : skus) {
    auto it = rows_of.find(sku);
    size_t covered = 0;
    if (it != rows_of.end())
      for (const locked_stock_row* r : it->second) {
        int64_t loc = find_location(r->location_id);
        covered += loc >= 0 && !location_feeds_[static_cast<size_t>(loc)].empty() ? 1 : 0;
      }
    int64_t s = find_sku(sku);
    if (it == rows_of.end() || covered < feeding || s < 0) {
      unread.push_back(std::move(sku));
      continue;
    }
    for (const locked_stock_row* r : it->second)
      add_stock(s, find_location(r->location_id), r->on_hand, r->reserved, r->safety_stock);
  }
  return unread;
}

// Groups the components by bundle (comp_begin / comp_end of each bundle).
void world::finish_components() {
  std::sort(components_.begin(), components_.end(),
            [](const component_row& x, const component_row& y) { return x.bundle < y.bundle; });
  for (size_t k = 0; k < components_.size();) {
    size_t end = k;
    while (end < components_.size() && components_[end].bundle == components_[k].bundle) ++end;
    skus_[components_[k].bundle].comp_begin = static_cast<uint32_t>(k);
    skus_[components_[k].bundle].comp_end = static_cast<uint32_t>(end);
    k = end;
  }
}

// One row of q_small (kinds arrive in order; stage = the last kind seen, whose loading is
// finished when a later kind arrives).
void world::small_row(const cell* row, small_feed& f) {
  int& stage = f.stage;
  std::vector<bool>& active = f.active;
  std::vector<char>& listed = f.listed;
  std::vector<char>& lists_any = f.lists_any;
  int kind = static_cast<int>(row[k_kind].i);
  if (kind < stage)
    throw user_error(sqlstate::kInternalError,
                     "channel_sync: rows of the small-set query out of order");
  if (stage < 2 && kind >= 2) {  // channels and locations are known
    if (channels_.size() > 60000)
      throw user_error(sqlstate::kInvalidParameterValue, "too many channels",
                       "channel_sync allocates over at most 60000 channels.");
    listed.assign(channels_.size() * locations_.size(), 0);
    lists_any.assign(channels_.size(), 0);
  }
  if (stage < 3 && kind >= 3) finish_channels(active, listed, lists_any);
  if (stage < 5 && kind >= 5) {  // SKUs and components are known
    finish_components();
    pools_.assign(skus_.size() * channels_.size(), 0);
  }
  stage = kind;
  const cell& a = row[k_a];
  const cell& b = row[k_b];
  switch (kind) {
    case 0: {
      channel_row ch;
      ch.id.assign(view(a));
      ch.active = row[k_i7].i != 0;
      ch.lag_hours = row[k_f].f / 3600.0;
      if (!row[k_i1].null) ch.def = read_rule(row, k_i1);
      any_dynamic_ |= ch.def.dynamic_buffer;
      channels_.push_back(std::move(ch));
      break;
    }
    case 1:
      locations_.emplace_back(view(a));
      active.push_back(row[k_i7].i != 0);
      break;
    case 2: {
      int64_t c = find_channel(view(a));
      auto loc = std::lower_bound(locations_.begin(), locations_.end(), view(b));
      if (c < 0 || loc == locations_.end()) break;
      listed[c * locations_.size() + (loc - locations_.begin())] = 1;
      lists_any[c] = 1;
      break;
    }
    case 3: {
      uint32_t i = add_sku(view(a), true);
      skus_[i].bundle = row[k_i7].i != 0;
      skus_[i].base_price.assign(row[k_n].str, static_cast<size_t>(row[k_n].len));
      break;
    }
    case 4: {
      int64_t bundle = find_sku(view(a));
      if (bundle < 0) break;
      uint32_t comp = add_sku(view(b), false);
      components_.push_back({static_cast<uint32_t>(bundle), comp, row[k_i1].i});
      break;
    }
    case 5: {
      int64_t sku = find_sku(view(a));
      if (sku < 0) break;
      auto it = std::lower_bound(locations_.begin(), locations_.end(), view(b));
      if (it == locations_.end() || *it != view(b)) break;
      int64_t sellable = row[k_i1].i - row[k_i2].i - row[k_i3].i;
      if (sellable <= 0) break;
      int64_t* p = &pools_[static_cast<size_t>(sku) * channels_.size()];
      for (uint16_t c : location_feeds_[static_cast<size_t>(it - locations_.begin())])
        p[c] += sellable;
      break;
    }
    case 6: {
      int64_t sku = find_sku(view(a));
      int64_t c = find_channel(view(b));
      if (sku < 0 || c < 0) break;
      rule rl = read_rule(row, k_i1);
      any_dynamic_ |= rl.dynamic_buffer;
      overrides_.push_back({skus_[sku].first_override, static_cast<uint32_t>(c), rl});
      skus_[sku].first_override = static_cast<uint32_t>(overrides_.size() - 1);
      break;
    }
    case 7: {
      int64_t sku = find_sku(view(a));
      int64_t c = find_channel(view(b));
      if (sku < 0 || c < 0) break;
      prices_.push_back({skus_[sku].first_price, static_cast<uint32_t>(c),
                         std::string(row[k_n].str, static_cast<size_t>(row[k_n].len))});
      skus_[sku].first_price = static_cast<uint32_t>(prices_.size() - 1);
      break;
    }
    case 8: {
      int64_t sku = find_sku(view(a));
      int64_t c = find_channel(view(b));
      if (sku < 0 || c < 0) break;
      const cell& n = row[k_n];
      listings_.push_back({static_cast<uint32_t>(sku), static_cast<uint32_t>(c), row[k_i1].null,
                           n.null, static_cast<int32_t>(row[k_i1].i),
                           n.null ? std::string() : std::string(n.str, static_cast<size_t>(n.len)),
                           row[k_i2].null ? 0 : static_cast<uint64_t>(row[k_i2].i)});
      break;
    }
    default:
      break;
  }
}

// load() for a small SKU set: one query (q_small) instead of one per table.
void world::load_small(const std::vector<std::string>& skus) {
  Datum args[1] = {sku_array_ = text_array(skus)};
  small_feed f;
  scan(plan(q_small, true), args, " ",
       {col::int4, col::text, col::text, col::numeric, col::float8, col::int4, col::int4, col::int4,
        col::int4, col::int4, col::int4, col::int4},
       [&](const cell* cells, size_t n) {
         for (size_t r = 0; r < n; ++r) small_row(cells + r * k_ncols, f);
       });
  // kinds that had no rows still need their loading finished
  cell end[k_ncols] = {};
  end[k_kind].i = 9;
  small_row(end, f);
  listings_loaded_ = true;
  if (any_dynamic_) load_dynamic(&skus);
}

// The p95 lags of the dynamic channels. Measuring reads every row of 24 h of propagation_log
// (a busy channel: 10^5 rows, ~40 ms), so a re-target of a few SKUs reuses this session's
// measurement for up to channel_sync.lag_remeasure_interval; a full recompute, verify() and
// explain_allocation() always measure. Channels without acks keep their lag_target.
void world::load_lag(const std::vector<std::string>& dynamic_channels, bool measure, Datum* args,
                     char* nulls) {
  struct measured_lag {
    int64_t at;    // GetCurrentTransactionStartTimestamp() of the measurement
    double hours;  // < 0: nothing acked in the window
  };
  static std::unordered_map<std::string, measured_lag> cache;
  int64_t now = GetCurrentTransactionStartTimestamp();
  for (const std::string& ch : dynamic_channels) {
    auto it = cache.find(ch);
    if (it == cache.end() || now - it->second.at >= lag_remeasure_seconds * INT64CONST(1000000) ||
        now < it->second.at)
      measure = true;
  }
  if (measure) {
    std::unordered_map<std::string, double> p95_hours;
    scan(plan(q_lag, generic_), args, nulls, {col::text, col::float8},
         [&](const cell* cells, size_t n) {
           for (size_t r = 0; r < n; ++r)
             if (!cells[r * 2 + 1].null)
               p95_hours[std::string(view(cells[r * 2]))] = cells[r * 2 + 1].f / 3600.0;
         });
    for (const std::string& ch : dynamic_channels) {
      auto it = p95_hours.find(ch);
      cache[ch] = measured_lag{now, it == p95_hours.end() ? -1 : it->second};
    }
  }
  for (const std::string& ch : dynamic_channels) {
    int64_t c = find_channel(ch);
    const measured_lag& m = cache[ch];
    if (c >= 0 && m.hours >= 0) channels_[c].lag_hours = m.hours;
  }
}

void world::load_dynamic(const std::vector<std::string>* skus) {
  std::vector<std::string> dynamic_channels;
  std::vector<bool> is_dynamic(channels_.size(), false);
  for (size_t c = 0; c < channels_.size(); ++c)
    if (channels_[c].def.dynamic_buffer) is_dynamic[c] = true;
  for (const auto& o : overrides_)
    if (o.r.dynamic_buffer) is_dynamic[o.channel] = true;
  for (size_t c = 0; c < channels_.size(); ++c)
    if (is_dynamic[c]) dynamic_channels.push_back(channels_[c].id);
  if (dynamic_channels.empty()) return;
  Datum args[3];
  char nulls[3] = {' ', ' ', ' '};
  args[0] = text_array(dynamic_channels);
  load_lag(dynamic_channels, skus == nullptr || !reuse_recent_lag_, args, nulls);
  double window_hours = velocity_window_minutes / 60.0;
  args[1] = Float8GetDatum(velocity_window_minutes * 60.0);
  args[2] = skus != nullptr ? sku_array_ : 0;
  plan_id q = skus == nullptr ? q_velocity
              : pg::guard([] { return pg::cs_table_has_column("order_lines", "placed_at"); })
                  ? q_velocity_some
                  : q_velocity_some_untimed;
  scan(plan(q, generic_), args, nulls, {col::text, col::text, col::float8},
       [&](const cell* cells, size_t n) {
         for (size_t r = 0; r < n; ++r) {
           int64_t c = find_channel(view(cells[r * 3]));
           int64_t s = find_sku(view(cells[r * 3 + 1]));
           if (c < 0 || s < 0) continue;
           velocity_[key(static_cast<uint32_t>(s), static_cast<uint32_t>(c))] =
               cells[r * 3 + 2].f / window_hours;
         }
       });
}

void world::load(const std::vector<std::string>* skus) {
  full_ = skus == nullptr;
  small_ = !full_ && skus->size() <= kSmallSetMaxSkus;
  generic_ = !full_ && skus->size() <= kGenericPlanMaxSkus;
  // a few SKUs are read (and written) without SQL; for 1,000 SKUs (an ingest_batch()) the
  // set scans below measured as fast as 1,000 x 11 direct lookups
  direct_ = small_ && load_direct(*skus);
  if (direct_) return;
  if (small_) return load_small(*skus);
  load_channels();
  any_dynamic_ = false;
  for (const auto& ch : channels_) any_dynamic_ |= ch.def.dynamic_buffer;
  Datum args[1];
  if (!full_) args[0] = sku_array_ = text_array(*skus);
  Datum* a = full_ ? nullptr : args;
  const char* no_nulls = full_ ? nullptr : " ";
  load_set_skus(a, no_nulls);
  std::vector<std::string> extra = load_set_components(a, no_nulls);
  load_set_stock(skus, extra);
  load_set_overrides(a, no_nulls);
  load_set_prices(a, no_nulls);
  if (any_dynamic_) load_dynamic(skus);
}

// The SKUs (all, or those of the set).
void world::load_set_skus(Datum* a, const char* no_nulls) {
  scan(set_scan(q_skus_all, q_skus_any, q_skus_some, "skus"), a, no_nulls,
       {col::text, col::boolean, col::numeric}, [&](const cell* cells, size_t n) {
         for (size_t r = 0; r < n; ++r) {
           const cell* row = cells + r * 3;
           uint32_t i = add_sku(view(row[0]), true);
           skus_[i].bundle = row[1].i != 0;
           skus_[i].base_price.assign(row[2].str, static_cast<size_t>(row[2].len));
         }
       });
  if (full_) report_progress("loaded", skus_.size(), skus_.size());
}

// Bundle components; for a SKU subset, returns the components not in it (added as SKUs that
// are not re-targeted), whose stock is read too.
std::vector<std::string> world::load_set_components(Datum* a, const char* no_nulls) {
  std::vector<std::string> extra;
  scan(plan(full_ ? q_components_all : q_components_some, generic_), a, no_nulls,
       {col::text, col::text, col::int4}, [&](const cell* cells, size_t n) {
         for (size_t r = 0; r < n; ++r) {
           const cell* row = cells + r * 3;
           int64_t b = find_sku(view(row[0]));
           if (b < 0) continue;
           size_t before = skus_.size();
           uint32_t comp = add_sku(view(row[1]), false);
           if (skus_.size() > before) extra.emplace_back(view(row[1]));
           components_.push_back({static_cast<uint32_t>(b), comp, row[2].i});
         }
       });
  finish_components();
  return extra;
}

// Stock: each location's sellable units add to the pool of every channel it feeds. A subset
// takes the rows this transaction locked and wrote (use_locked_stock) and reads the rest.
void world::load_set_stock(const std::vector<std::string>* skus,
                           const std::vector<std::string>& extra) {
  pools_.assign(skus_.size() * channels_.size(), 0);
  std::vector<std::string> unread;  // the SKUs whose stock is read from the table
  if (!full_) {
    unread.assign(skus->begin(), skus->end());
    unread.insert(unread.end(), extra.begin(), extra.end());
    unread = take_locked_stock(std::move(unread));
  }
  if (!full_ && unread.empty()) return;
  Datum stock_args[1];
  if (!full_) stock_args[0] = text_array(unread);
  const char* no_nulls = full_ ? nullptr : " ";
  int64_t hint = -1;
  scan(set_scan(q_stock_all, q_stock_any, q_stock_some, "stock"), full_ ? nullptr : stock_args,
       no_nulls, {col::text, col::text, col::int4, col::int4, col::int4},
       [&](const cell* cells, size_t n) {
         std::string_view last_loc;
         int64_t loc = -1;
         for (size_t r = 0; r < n; ++r) {
           const cell* row = cells + r * 5;
           int64_t s = find_sku(view(row[0]), hint);
           if (s < 0) continue;
           if (view(row[1]) != last_loc || r == 0) {
             last_loc = view(row[1]);
             loc = find_location(last_loc);
           }
           add_stock(s, loc, row[2].i, row[3].i, row[4].i);
         }
       });
}

// The per-SKU rules.
void world::load_set_overrides(Datum* a, const char* no_nulls) {
  scan(plan(full_ ? q_overrides_all : q_overrides_some, generic_), a, no_nulls,
       {col::text, col::text, col::int4, col::int4, col::int4, col::int4, col::int4, col::boolean},
       [&](const cell* cells, size_t n) {
         for (size_t r = 0; r < n; ++r) {
           const cell* row = cells + r * 8;
           int64_t s = find_sku(view(row[0]));
           int64_t c = find_channel(view(row[1]));
           if (s < 0 || c < 0) continue;
           rule rl = read_rule(row, 2);
           any_dynamic_ |= rl.dynamic_buffer;
           overrides_.push_back({skus_[s].first_override, static_cast<uint32_t>(c), rl});
           skus_[s].first_override = static_cast<uint32_t>(overrides_.size() - 1);
         }
       });
}

// The channels' own prices.
void world::load_set_prices(Datum* a, const char* no_nulls) {
  int64_t hint = -1;
  scan(set_scan(q_prices_all, q_prices_any, q_prices_some, "channel_prices"), a, no_nulls,
       {col::text, col::text, col::numeric}, [&](const cell* cells, size_t n) {
         for (size_t r = 0; r < n; ++r) {
           const cell* row = cells + r * 3;
           int64_t s = find_sku(view(row[0]), hint);
           int64_t c = find_channel(view(row[1]));
           if (s < 0 || c < 0) continue;
           prices_.push_back({skus_[s].first_price, static_cast<uint32_t>(c),
                              std::string(row[2].str, static_cast<size_t>(row[2].len))});
           skus_[s].first_price = static_cast<uint32_t>(prices_.size() - 1);
         }
       });
}

void world::allocate_sku(uint32_t i, channel_results& out,
                         std::vector<const std::string*>& prices) const {
  const sku_row& s = skus_[i];
  size_t nc = channels_.size();
  channel_inputs in(nc);
  for (size_t c = 0; c < nc; ++c) {
    const channel_row& ch = channels_[c];
    channel_input& x = in[c];
    x.active = ch.active;
    x.has_locations = ch.has_locations;
    x.r = ch.def;
    for (uint32_t o = s.first_override; o != kNone; o = overrides_[o].next)
      if (overrides_[o].channel == c) x.r = overrides_[o].r;
    if (x.r.dynamic_buffer) {
      auto v = velocity_.find(key(i, static_cast<uint32_t>(c)));
      x.r.velocity_per_hour = v == velocity_.end() ? 0 : v->second;
      x.r.lag_p95_hours = ch.lag_hours;
    }
    if (!s.bundle) {
      x.pool = pools_[static_cast<size_t>(i) * nc + c];
    } else {
      boost::container::small_vector<component_pool, 8> comps;
      for (uint32_t k = s.comp_begin; k < s.comp_end; ++k)
        comps.push_back({pools_[static_cast<size_t>(components_[k].component) * nc + c],
                         components_[k].qty_per});
      x.pool = bundle_pool(comps.data(), comps.size());
    }
    x.pool = std::min<int64_t>(x.pool, INT32_MAX);  // pools report as integer
  }
  out.resize(nc);
  allocate(in.data(), nc, out.data());
  prices.resize(nc);
  for (size_t c = 0; c < nc; ++c) prices[c] = &s.base_price;
  for (uint32_t p = s.first_price; p != kNone; p = prices_[p].next)
    prices[prices_[p].channel] = &prices_[p].payload;
}

}  // namespace cs::allocation::glue

namespace cs::allocation {

void use_locked_stock(const std::vector<locked_stock_row>* rows) {
  glue::locked_stock = rows;
}

}  // namespace cs::allocation
