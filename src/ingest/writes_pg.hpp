// The rows inbound events lock and write: stock (locked in key order, written in place where
// it can be, re-targeted as the stock trigger would), orders and their lines.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/pg_headers.hpp"

extern "C" {
#include "storage/itemptr.h"
#include "utils/timestamp.h"
}

#include "allocation/targets_pg.hpp"
#include "ingest/context_pg.hpp"
#include "ingest/orders.hpp"

namespace cs::ingest::glue {

std::vector<std::string> sorted_distinct(std::vector<std::string> v);

// The existing orders among order_ids, locked, and their states.
std::map<std::string, std::string> lock_orders(const std::string& channel,
                                               const std::vector<std::string>& order_ids);

enum class stock_read { lock, peek };

// Where the stock rows a call holds locked are (their latest versions), by (sku, location).
using stock_positions = std::map<std::pair<std::string, std::string>, ItemPointerData>;

// The stock rows of skus at locs (every pair that exists), locked FOR UPDATE in key order (or
// peeked: read, not locked). where: the rows' places, filled by a peek and used by a lock of
// the same rows after it. locked_at: filled by a lock with where it locked each row.
std::vector<std::pair<std::string, cs::ingest::stock_level>> lock_stock(
    const std::vector<std::string>& sku_list, const std::vector<std::string>& loc_list,
    stock_read how = stock_read::lock, std::vector<ItemPointerData>* where = nullptr,
    stock_positions* locked_at = nullptr);

// The stock rows at pairs of (sku, location) that exist, locked FOR UPDATE in key order.
void lock_stock_pairs(std::vector<std::pair<std::string, std::string>> pairs);

// Changes to stock, summed per (sku, location): on_hand and reserved deltas.
struct stock_changes {
  std::map<std::pair<std::string, std::string>, std::pair<int64_t, int64_t>> by_key;
  void add(const std::string& sku, const std::string& loc, int64_t on_hand, int64_t reserved) {
    auto& v = by_key[{sku, loc}];
    v.first += on_hand;
    v.second += reserved;
  }
};

// Writes stock changes: in place where it can, else with SQL. locked: the stock rows the
// caller holds locked, as written (nullptr: none), which the re-target then takes instead of
// reading the table again (use_locked_stock). at: where the caller locked the rows (a row
// not there, or changed since, is found by its key).
void write_stock(const stock_changes& c,
                 const std::vector<cs::allocation::locked_stock_row>* locked = nullptr,
                 const stock_positions* at = nullptr);

// While one is in scope, the SKUs whose stock write_stock changes in place are collected
// instead of re-targeted at each write, and run() re-targets them all at once (one set
// re-target in place of one per step: ingest_batch's steps). Leaving the scope without run()
// forgets them (the call is failing).
class deferred_retargets {
 public:
  deferred_retargets();
  ~deferred_retargets();
  deferred_retargets(const deferred_retargets&) = delete;
  deferred_retargets& operator=(const deferred_retargets&) = delete;
  void run();

 private:
  std::vector<std::string> skus_;
};

// An order to place and its lines, for place_orders_direct().
struct order_to_place {
  std::string order_id;
  bool oversold = false;
  TimestampTz at = 0;
  int64_t event_id = 0;  // inserted, or locked FOR UPDATE, by this transaction
};
using order_line_row = cs::ingest::line_to_place;

// Inserts the lines of one order with SQL (placed_at: the order's).
void insert_lines_sql(const call_context& cx, const std::string& order_id,
                      const std::vector<order_line_row>& lines, TimestampTz placed_at);

// Inserts orders (skipping those that exist) and the lines of those it placed without SQL
// (direct_writes_pg.hpp). nullopt: the tables carry a user's trigger, column or policy, and
// nothing was written (the caller uses SQL); else whether every order was placed.
std::optional<bool> place_orders_direct(const call_context& cx,
                                        const std::vector<order_to_place>& orders,
                                        const std::vector<std::vector<order_line_row>>& lines);

}  // namespace cs::ingest::glue
