-- The catalog of the growth pass (bench/README.md "Growth"): 5 channels (the allocation
-- bench's rules), 3 locations, :n simple SKUs 'SKU-0000001'.. with stock at every location,
-- marketplace prices for amazon and walmart. Deterministic. Used by the allocation,
-- propagation and ingest run.sh with GROWTH=1 SIZE=n.
--
-- Loading 10^6 SKUs x 3 locations through channel_sync's statement triggers would re-target
-- every SKU three times over, so the load DISABLES channel_sync's triggers on the loaded
-- tables (retarget_on_insert on skus/stock/channel_prices; on stock also the row-level
-- stock_is_simple check, every SKU here being simple, and the deferred retarget_at_commit,
-- which would queue an event per loaded row that the ALTER TABLE below refuses to run with;
-- enqueue_on_insert on listings), builds every
-- listing with one recompute_targets() call, and ENABLEs them again (ALWAYS, as the
-- extension installs them) before anything is measured. recompute_targets() enqueues the first
-- full sync: every listing starts with a pending message (as in the main benchmarks), which a
-- change then rewrites. Foreign keys stay on.
\set QUIET on
\set ON_ERROR_STOP on
SET client_min_messages = warning;
SELECT setseed(0.7) \gset
BEGIN;
ALTER TABLE channel_sync.skus DISABLE TRIGGER retarget_on_insert;
ALTER TABLE channel_sync.stock DISABLE TRIGGER retarget_on_insert;
ALTER TABLE channel_sync.stock DISABLE TRIGGER stock_is_simple;
ALTER TABLE channel_sync.stock DISABLE TRIGGER retarget_at_commit;
ALTER TABLE channel_sync.channel_prices DISABLE TRIGGER retarget_on_insert;
ALTER TABLE channel_sync.listings DISABLE TRIGGER enqueue_on_insert;
INSERT INTO channel_sync.channels (channel_id, kind) VALUES
  ('shop', 'storefront'), ('amazon', 'marketplace'), ('walmart', 'marketplace'),
  ('etsy', 'marketplace'), ('ebay', 'marketplace');
INSERT INTO channel_sync.locations (location_id) VALUES ('wh-east'), ('wh-west'), ('3pl-central');
INSERT INTO channel_sync.channel_locations VALUES ('etsy', 'wh-east');
INSERT INTO channel_sync.allocation_rules (channel_id, buffer, reserve_pct, list_pct, cap, low_stock_cutoff) VALUES
  ('shop', 0, 10, 100, NULL, 0), ('amazon', 2, 0, 100, NULL, 0), ('walmart', 0, 0, 100, 20, 0),
  ('etsy', 0, 0, 100, NULL, 5), ('ebay', 0, 0, 50, NULL, 0);
INSERT INTO channel_sync.skus (sku, base_price)
SELECT 'SKU-' || lpad(i::text, 7, '0'), round((5 + random() * 95)::numeric, 2)
  FROM generate_series(1, :n) AS i;
INSERT INTO channel_sync.stock (sku, location_id, on_hand, reserved, safety_stock)
SELECT 'SKU-' || lpad(i::text, 7, '0'), l.location_id, 20 + floor(power(random(), 6) * 300)::int, 0, 1
  FROM generate_series(1, :n) AS i CROSS JOIN channel_sync.locations l;
INSERT INTO channel_sync.channel_prices (channel_id, sku, price)
SELECT c.channel_id, s.sku, round(s.base_price * 1.08, 2)
  FROM channel_sync.skus s CROSS JOIN (VALUES ('amazon'), ('walmart')) AS c(channel_id);
SELECT channel_sync.recompute_targets() AS listings_written \gset
ALTER TABLE channel_sync.skus ENABLE ALWAYS TRIGGER retarget_on_insert;
ALTER TABLE channel_sync.stock ENABLE ALWAYS TRIGGER retarget_on_insert;
ALTER TABLE channel_sync.stock ENABLE ALWAYS TRIGGER stock_is_simple;
ALTER TABLE channel_sync.stock ENABLE ALWAYS TRIGGER retarget_at_commit;
ALTER TABLE channel_sync.channel_prices ENABLE ALWAYS TRIGGER retarget_on_insert;
ALTER TABLE channel_sync.listings ENABLE ALWAYS TRIGGER enqueue_on_insert;
COMMIT;
VACUUM ANALYZE;
SELECT pg_catalog.format('growth catalog: %s SKUs, %s stock rows, %s listings (%s written), %s outbox messages',
  (SELECT count(*) FROM channel_sync.skus), (SELECT count(*) FROM channel_sync.stock),
  (SELECT count(*) FROM channel_sync.listings), :'listings_written', (SELECT count(*) FROM channel_sync.outbox)) AS msg \gset
\echo :msg
