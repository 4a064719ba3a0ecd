-- Foundation: the extension installs, its data model refuses bad configuration with
-- proper SQLSTATEs, errors cross the C/C++ boundary intact, and it drops and re-creates.
\set SHOW_CONTEXT never
\set VERBOSITY default
CREATE EXTENSION channel_sync;
SELECT extname, extversion, nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
 WHERE extname = 'channel_sync';
SELECT channel_sync.version();

-- every table a user touches is commented, and so is every column of it
SELECT c.relname FROM pg_class c
 WHERE c.relnamespace = 'channel_sync'::regnamespace AND c.relkind = 'r'
   AND obj_description(c.oid, 'pg_class') IS NULL;
SELECT c.relname, a.attname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
 WHERE c.relnamespace = 'channel_sync'::regnamespace AND c.relkind IN ('r', 'v')
   AND a.attnum > 0 AND NOT a.attisdropped AND col_description(c.oid, a.attnum) IS NULL
   AND a.attname NOT IN ('channel_id', 'sku', 'location_id')
 ORDER BY 1, 2;

-- identifiers are COLLATE "C" in every table (compared byte by byte, whatever the locale),
-- and so is every index over text but two (a metric name and an event status)
SELECT count(*) AS identifier_columns,
       count(*) FILTER (WHERE a.attcollation <> '"C"'::regcollation) AS not_c
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
 WHERE c.relnamespace = 'channel_sync'::regnamespace AND c.relkind = 'r' AND a.attnum > 0
   AND NOT a.attisdropped AND a.attname IN ('channel_id', 'location_id', 'sku', 'bundle_sku',
       'component_sku', 'sold_sku', 'external_id', 'order_id', 'idempotency_key');
SELECT i.indexrelid::regclass AS index_under_default_collation
  FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
 WHERE c.relnamespace = 'channel_sync'::regnamespace
   AND 'default'::regcollation = ANY (i.indcollation::oid[]::regcollation[])
 ORDER BY 1;

-- channel ids follow ^[a-z][a-z0-9_]{0,62}$
INSERT INTO channel_sync.channels (channel_id, kind) VALUES ('Amazon', 'marketplace');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO channel_sync.channels (channel_id, kind) VALUES ('amazon us', 'marketplace');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO channel_sync.channels (channel_id, kind) VALUES (repeat('a', 64), 'marketplace');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO channel_sync.channels (channel_id, kind) VALUES ('amazon', 'flea_market');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO channel_sync.channels (channel_id, kind, lag_target) VALUES ('amazon', 'marketplace', '-1 minute');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO channel_sync.channels (channel_id, kind) VALUES
  ('shop', 'storefront'), ('amazon', 'marketplace'), (repeat('a', 63), 'marketplace');
SELECT channel_id, kind, active, lag_target, max_attempts FROM channel_sync.channels ORDER BY 1;

INSERT INTO channel_sync.locations (location_id, kind) VALUES ('wh east', 'warehouse');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO channel_sync.locations (location_id, kind) VALUES ('wh-east', 'warehouse'), ('3pl-1', '3pl');

INSERT INTO channel_sync.skus (sku, kind, base_price) VALUES ('', 'simple', 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO channel_sync.skus (sku, kind, base_price) VALUES ('TEE', 'simple', -1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO channel_sync.skus (sku, kind, base_price) VALUES
  ('TEE', 'simple', 20), ('CAP', 'simple', 15), ('KIT', 'bundle', 30), ('BOX', 'bundle', 50);

-- negative quantities
INSERT INTO channel_sync.stock (sku, location_id, on_hand) VALUES ('TEE', 'wh-east', -5);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO channel_sync.stock (sku, location_id, on_hand, reserved) VALUES ('TEE', 'wh-east', 5, -1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO channel_sync.stock (sku, location_id, on_hand, safety_stock) VALUES ('TEE', 'wh-east', 5, -1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO channel_sync.stock (sku, location_id, on_hand) VALUES ('TEE', 'nowhere', 5);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO channel_sync.stock (sku, location_id, on_hand) VALUES ('KIT', 'wh-east', 5);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO channel_sync.stock (sku, location_id, on_hand) VALUES ('TEE', 'wh-east', 5), ('CAP', 'wh-east', 9);
-- moving a stock row to a bundle is refused too (the statement fails, the row stays)
UPDATE channel_sync.stock SET sku = 'KIT' WHERE sku = 'CAP';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT sku, on_hand FROM channel_sync.stock WHERE location_id = 'wh-east' ORDER BY sku;

-- reserve_pct and list_pct stay within 0..100
INSERT INTO channel_sync.allocation_rules (channel_id, reserve_pct) VALUES ('shop', 101);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO channel_sync.allocation_rules (channel_id, list_pct) VALUES ('shop', -1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO channel_sync.allocation_rules (channel_id, buffer) VALUES ('shop', -2);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO channel_sync.allocation_rules (channel_id, sku, reserve_pct) VALUES ('shop', 'NOPE', 5);
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- bundles: one level deep, never themselves, quantities positive
INSERT INTO channel_sync.bundle_components VALUES ('KIT', 'KIT', 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO channel_sync.bundle_components VALUES ('KIT', 'BOX', 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO channel_sync.bundle_components VALUES ('TEE', 'CAP', 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO channel_sync.bundle_components VALUES ('KIT', 'TEE', 0);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO channel_sync.bundle_components VALUES ('KIT', 'TEE', 2), ('KIT', 'CAP', 1);
UPDATE channel_sync.skus SET kind = 'bundle' WHERE sku = 'TEE';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
UPDATE channel_sync.skus SET kind = 'simple' WHERE sku = 'KIT';
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- aliases point at known SKUs, one per channel and SKU
INSERT INTO channel_sync.sku_aliases VALUES ('amazon', 'B000TEE', 'NOPE');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO channel_sync.sku_aliases VALUES ('ebay', 'B000TEE', 'TEE');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO channel_sync.sku_aliases VALUES ('amazon', 'B000TEE', 'TEE');
INSERT INTO channel_sync.sku_aliases VALUES ('amazon', 'B000TEE2', 'TEE');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- the C/C++ boundary: C++ exceptions become PostgreSQL errors with their SQLSTATE,
-- PostgreSQL errors raised under the guard come back unchanged, and C++ resources
-- held while either unwinds are released
SELECT channel_sync._boundary_selftest('user_error');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT channel_sync._boundary_selftest('postgres_error');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT channel_sync._boundary_selftest('bad_alloc');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT channel_sync._boundary_selftest('std_exception');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT channel_sync._boundary_selftest('nonsense');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT channel_sync._boundary_selftest('released') >= 5 AS resources_released;

-- the extension drops and comes back
DROP EXTENSION channel_sync CASCADE;
SELECT count(*) AS leftover_tables FROM pg_class WHERE relnamespace::regnamespace::text = 'channel_sync';
CREATE EXTENSION channel_sync;
SELECT count(*) AS channels FROM channel_sync.channels;
SELECT rolname FROM pg_roles WHERE rolname LIKE 'channel\_sync\_%' ORDER BY 1;
