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
\c contrib_regression
DROP DATABASE channel_sync_restored;
