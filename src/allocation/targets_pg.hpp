// Listing targets from the truth: what every channel should list for a set of SKUs
// (quantity from the allocation engine, price from channel_prices else skus.base_price),
// and the set-based write of the listings whose target changed. Glue: runs SQL via SPI.
// This header is the interface propagation codes against; keep the names.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cs::allocation {

// One (channel, SKU) target. price is numeric's text form ("12.50").
struct listing_target {
  std::string channel_id;
  std::string sku;
  int32_t qty;
  std::string price;
  bool price_is_null;
};

// Computes targets (qty from the allocator, price = channel_prices.price else skus.base_price) for
// every channel and the given SKUs (nullptr = every SKU; bundles and simple SKUs alike; callers
// pass bundles explicitly). Does its own SPI_connect/SPI_finish (nested use from triggers must
// work). Writes nothing. Unknown SKUs in the list are skipped (they have no listings).
std::vector<listing_target> compute_targets(const std::vector<std::string>* skus);

// compute_targets + write the listings whose target changed: insert missing listings rows, update
// target_qty / target_price, bump target_version by 1 and set target_since = now() ONLY where qty
// or price changed. Returns the number of listings changed. Set-based writes (one statement with
// arrays/unnest), not one query per row. The same statement upserts the outbox message of
// every changed listing and NOTIFYs channel_sync for each channel with new work, exactly as
// the listings trigger would (see writing_outbox()).
int64_t retarget(const std::vector<std::string>* skus);

// A stock row the caller holds locked (FOR UPDATE) with the values it has just written.
struct locked_stock_row {
  std::string sku, location_id;
  int32_t on_hand, reserved, safety_stock;
};

// While set (a scope of the caller's; nullptr ends it), a set re-target takes the stock of a SKU
// from rows instead of reading channel_sync.stock again, when rows hold the SKU's row at every
// location that feeds a channel (rows of a SKU must be all its rows that exist). Every other
// SKU is read from the table.
void use_locked_stock(const std::vector<locked_stock_row>* rows);

// True while retarget's own listings upsert runs: that statement enqueues its messages
// itself, so the listings trigger (_enqueue_listing_changes) has nothing to do for it.
bool writing_outbox();

// Called by the re-target trigger of the configuration tables (channels, locations,
// channel_locations, allocation_rules) for each statement that changed rows of one, which also
// queues a relcache invalidation of the table and takes the re-target lock of every SKU (the
// invalidation reaches every other backend at commit, before that lock is released): the
// configuration the direct loader remembered across transactions is dropped, and this
// transaction reads it afresh.
void configuration_written();

// Registers the allocation GUCs (channel_sync.velocity_window); called from _PG_init.
void init_allocation();

}  // namespace cs::allocation
