-- Configuration rows survive pg_dump and restore into a new database: the extension's
DROP EXTENSION IF EXISTS channel_sync CASCADE;
CREATE EXTENSION channel_sync;
-- configuration tables are registered with pg_extension_config_dump.
INSERT INTO channel_sync.channels (channel_id, kind, lag_target) VALUES ('shop', 'storefront', '2 minutes'), ('etsy', 'marketplace', '5 minutes');
INSERT INTO channel_sync.locations VALUES ('wh-1', 'warehouse', true);
INSERT INTO channel_sync.skus VALUES ('MUG', 'Mug', 'simple', 12.50);
INSERT INTO channel_sync.stock (sku, location_id, on_hand, safety_stock) VALUES ('MUG', 'wh-1', 40, 2);
INSERT INTO channel_sync.sku_aliases VALUES ('etsy', 'etsy-991', 'MUG');
INSERT INTO channel_sync.allocation_rules (channel_id, buffer, cap) VALUES ('etsy', 1, 25);
-- what the listings recorded from their channels: observations and an acknowledgement
SELECT (channel_sync.ingest('etsy', 'obs-1', 'listing_observed', '{"external_id": "etsy-991", "qty": 30, "price": 12.5}', '2026-01-01T00:00:00Z')).status;
SELECT (channel_sync.ingest('etsy', 'obs-2', 'listing_observed', '{"sku": "MUG", "qty": 31}', '2026-01-02T00:00:00Z')).status;
SELECT count(channel_sync.ack(message_id, 24)) AS acked FROM channel_sync.claim('etsy');
SELECT channel_id, acked_qty, acked_at IS NOT NULL AS acked, reported_qty, observed_qty, observed_price, observed_at
  FROM channel_sync.listings ORDER BY 1;
DROP DATABASE IF EXISTS channel_sync_restored;
CREATE DATABASE channel_sync_restored;
\setenv SRC :DBNAME
\! pg_dump --no-owner "$SRC" | psql -q -v ON_ERROR_STOP=1 -d channel_sync_restored >/dev/null && echo restored
\c channel_sync_restored
SELECT extname, extversion FROM pg_extension WHERE extname = 'channel_sync';
SELECT channel_id, kind, lag_target FROM channel_sync.channels ORDER BY 1;
SELECT sku, location_id, on_hand, safety_stock FROM channel_sync.stock;
SELECT channel_id, external_id, sku FROM channel_sync.sku_aliases;
SELECT channel_id, sku, buffer, cap FROM channel_sync.allocation_rules;
-- listings are not dumped: their targets are derived again, what they recorded is not...
SELECT channel_id, target_qty, acked_qty, reported_qty, observed_qty, observed_price, observed_at
  FROM channel_sync.listings ORDER BY 1;
-- ...until restore_listing_state() gives it back from propagation_log and events (once)
SELECT channel_sync.restore_listing_state() AS written;
SELECT l.channel_id, l.target_qty, l.acked_qty, l.acked_version,
       l.acked_at = (SELECT max(g.acked_at) FROM channel_sync.propagation_log g
                      WHERE g.channel_id = l.channel_id AND g.sku = l.sku) AS acked_at_logged,
       l.reported_qty, l.observed_qty, l.observed_price, l.observed_at
  FROM channel_sync.listings l ORDER BY 1;
SELECT channel_sync.restore_listing_state() AS written_again;
SELECT count(*) AS pending FROM channel_sync.outbox WHERE status = 'pending';
\c contrib_regression
DROP DATABASE channel_sync_restored;
