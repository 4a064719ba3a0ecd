// The loaded truth for a set of SKUs (all of them, a trigger's, an ingest call's): channels and
// their rules, locations, SKUs, bundle components, stock pools per channel, per-SKU rules,
// channel prices, sales velocity and lag, and (small sets) the current listings. Small sets are
// read without SQL; others with the set scans of plans_pg.hpp.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "allocation/allocator.hpp"
#include "allocation/plans_pg.hpp"
#include "allocation/string_index.hpp"
#include "allocation/targets_pg.hpp"

namespace cs::allocation::glue {

// channel_sync.velocity_window, in minutes; channel_sync.lag_remeasure_interval, in seconds.
extern int velocity_window_minutes;
extern int lag_remeasure_seconds;

struct channel_row {
  std::string id;
  bool active = true;
  double lag_hours = 0;  // p95 measured, else lag_target
  rule def;
  bool has_locations = false;
};

constexpr uint32_t kNone = UINT32_MAX;

struct sku_row {
  std::string base_price;  // numeric payload
  bool bundle = false;
  bool wanted = false;  // a target is computed for it (else: a component loaded for its stock)
  uint32_t comp_begin = 0, comp_end = 0;
  uint32_t first_override = kNone;  // per-SKU rules: a list through override_row::next
  uint32_t first_price = kNone;     // channel prices: a list through price_row::next
};

struct override_row {
  uint32_t next;
  uint32_t channel;
  rule r;
};

struct price_row {
  uint32_t next;
  uint32_t channel;
  std::string payload;
};

struct component_row {
  uint32_t bundle;
  uint32_t component;
  int64_t qty_per;
};

inline uint64_t key(uint32_t sku, uint32_t channel) {
  return (static_cast<uint64_t>(sku) << 16) | channel;
}

struct small_feed;
struct direct_tables;
struct rules_source;
struct fetched_rows;
struct direct_column;
struct kept_config_row;

class world {
 public:
  // Loads everything needed for skus (nullptr = all). SPI must be connected.
  void load(const std::vector<std::string>* skus);
  size_t channel_count() const { return channels_.size(); }
  const channel_row& channel(size_t c) const { return channels_[c]; }
  const std::vector<sku_row>& skus() const { return skus_; }
  std::string_view sku_name(size_t i) const { return index_.key(i); }
  int64_t find_sku(std::string_view s) const { return index_.find(s); }
  // find_sku for rows that mostly come in the order the SKUs were loaded: tries the SKU
  // of the previous hit, then the one after it, first.
  int64_t find_sku(std::string_view s, int64_t& hint) const {
    if (hint >= 0 && index_.key(static_cast<size_t>(hint)) == s) return hint;
    size_t next = static_cast<size_t>(hint + 1);
    if (next < skus_.size() && index_.key(next) == s) return hint = static_cast<int64_t>(next);
    int64_t i = index_.find(s);
    if (i >= 0) hint = i;
    return i;
  }
  int64_t find_channel(std::string_view id) const {
    for (size_t c = 0; c < channels_.size(); ++c)
      if (channels_[c].id == id) return static_cast<int64_t>(c);
    return -1;
  }
  // Allocates SKU i over every channel: results and the price each channel lists.
  void allocate_sku(uint32_t i, channel_results& out,
                    std::vector<const std::string*>& prices) const;
  bool full() const { return full_; }
  bool generic() const { return generic_; }
  // The plan of a scan of the whole table (all), or of the set: one generic plan, `= ANY` when
  // it reads the table by an index (any, see set_plan), else the subquery form (some).
  SPIPlanPtr set_scan(plan_id all, plan_id any, plan_id some, const char* table) const {
    return full_ ? plan(all) : generic_ ? set_plan(any, some, table) : plan(some);
  }
  bool direct() const { return direct_; }
  Datum sku_array() const { return sku_array_; }
  // The current listings of the SKUs, when load() read them with the rest (small sets).
  struct seen_listing {
    uint32_t sku, channel;
    bool qty_null, price_null;
    int32_t qty;
    std::string price;  // numeric payload
    uint64_t tid;       // where load_direct() read it (encode_tid), else 0
  };
  bool listings_loaded() const { return listings_loaded_; }
  const std::vector<seen_listing>& listings() const { return listings_; }

  // A re-target of a few SKUs (the triggers, ingest) may reuse this session's recent p95 lag.
  void reuse_recent_lag() { reuse_recent_lag_ = true; }

 private:
  uint32_t add_sku(std::string_view s, bool wanted);
  rule read_rule(const cell* row, int first) const;
  void load_channels();
  void load_set_skus(Datum* a, const char* no_nulls);
  std::vector<std::string> load_set_components(Datum* a, const char* no_nulls);
  void load_set_stock(const std::vector<std::string>* skus, const std::vector<std::string>& extra);
  void load_set_overrides(Datum* a, const char* no_nulls);
  void load_set_prices(Datum* a, const char* no_nulls);
  void load_small(const std::vector<std::string>& skus);
  bool load_direct(const std::vector<std::string>& skus);
  void small_row(const cell* row, small_feed& f);
  template <typename F>
  void feed_direct(small_feed& f, int kind, const fetched_rows& rows,
                   std::initializer_list<direct_column> columns, F&& adjust);
  void load_direct_config(const direct_tables& t, const rules_source& rules, small_feed& f,
                          std::vector<kept_config_row>& kept);
  void replay_direct_config(const std::vector<kept_config_row>& kept, small_feed& f);
  std::vector<std::string> load_direct_skus(const direct_tables& t,
                                            const std::vector<std::string>& skus,
                                            const std::vector<std::string>& sorted, small_feed& f);
  void load_direct_stock(const direct_tables& t, const std::vector<std::string>& skus,
                         const std::vector<std::string>& components, small_feed& f);
  void load_direct_overrides(const direct_tables& t, const rules_source& rules,
                             const std::vector<std::string>& skus,
                             const std::vector<std::string>& sorted, small_feed& f);
  void load_direct_listings(const direct_tables& t, const std::vector<std::string>& skus,
                            small_feed& f);
  void finish_channels(const std::vector<bool>& active, const std::vector<char>& listed,
                       const std::vector<char>& lists_any);
  void finish_components();
  int64_t find_location(std::string_view id) const;
  void add_stock(int64_t s, int64_t loc, int64_t on_hand, int64_t reserved, int64_t safety_stock);
  std::vector<std::string> take_locked_stock(std::vector<std::string> skus);
  void load_dynamic(const std::vector<std::string>* skus);
  void load_lag(const std::vector<std::string>& dynamic_channels, bool measure, Datum* args,
                char* nulls);

  bool full_ = true;
  bool small_ = false;    // a few SKUs: direct reads, or load_small()
  bool generic_ = false;  // not too many SKUs: generic plans
  bool reuse_recent_lag_ = false;
  bool direct_ = false;  // read (and written) without SQL
  Datum sku_array_ = 0;
  std::vector<channel_row> channels_;
  std::vector<sku_row> skus_;  // by SKU id (index_)
  string_index index_;
  std::vector<component_row> components_;
  std::vector<int64_t> pools_;                         // [sku * channels + channel]
  std::vector<std::vector<uint16_t>> location_feeds_;  // location -> channels it feeds
  std::vector<std::string> locations_;
  std::vector<override_row> overrides_;
  std::vector<price_row> prices_;
  std::unordered_map<uint64_t, double> velocity_;
  bool any_dynamic_ = false;
  bool listings_loaded_ = false;
  std::vector<seen_listing> listings_;
};

}  // namespace cs::allocation::glue
