-- since: 0.2.0
-- Price lookups by SKU (re-targeting a handful of SKUs on every stock change reads their
-- channel prices); the primary key (channel_id, sku) cannot serve "sku = ANY(...)" alone.
CREATE INDEX channel_prices_sku_idx ON channel_sync.channel_prices (sku);
