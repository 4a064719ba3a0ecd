-- Allocation: every rule through explain_allocation and available_to_sell, the worked
-- example through explain_allocation and allocate(), bundles, per-SKU overrides, inactive
-- channels and locations, channel_locations, dynamic buffers, bad input with SQLSTATEs,
-- and recompute_targets / listings versions.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS channel_sync CASCADE;
CREATE EXTENSION channel_sync;
RESET client_min_messages;
-- This test drives recompute_targets() by hand, so the propagation triggers (which keep
-- listings current on every change; sql/20_propagation* tests them) are switched off here.
DO $$ DECLARE t record; BEGIN
  FOR t IN SELECT tgrelid::regclass AS rel, tgname FROM pg_trigger
            WHERE tgfoid = 'channel_sync._retarget_on_change()'::regprocedure LOOP
    EXECUTE pg_catalog.format('ALTER TABLE %s DISABLE TRIGGER %I', t.rel, t.tgname);
  END LOOP; END $$;
\set SHOW_CONTEXT never
\set VERBOSITY default

-- the worked example (README): one location, storefront reserves 10 %, amazon keeps a
-- buffer of 2, walmart lists at most 20, etsy lists nothing below 5
INSERT INTO channel_sync.channels (channel_id, kind) VALUES
  ('shop', 'storefront'), ('amazon', 'marketplace'), ('walmart', 'marketplace'), ('etsy', 'marketplace');
INSERT INTO channel_sync.locations (location_id) VALUES ('wh-1');
INSERT INTO channel_sync.skus (sku, base_price) VALUES ('TEE', 20), ('MUG', 8);
INSERT INTO channel_sync.stock (sku, location_id, on_hand) VALUES ('TEE', 'wh-1', 100), ('MUG', 'wh-1', 4);
INSERT INTO channel_sync.allocation_rules (channel_id, buffer, reserve_pct, cap, low_stock_cutoff) VALUES
  ('shop', 0, 10, NULL, 0), ('amazon', 2, 0, NULL, 0), ('walmart', 0, 0, 20, 0), ('etsy', 0, 0, NULL, 5);

-- pool 100 -> storefront 100, amazon 88, walmart 20, etsy 90
SELECT * FROM channel_sync.explain_allocation('TEE');
-- pool 4 -> 4, 2, 4, 0
SELECT * FROM channel_sync.explain_allocation('MUG');
SELECT c AS channel_id, channel_sync.available_to_sell(c, 'TEE') AS tee, channel_sync.available_to_sell(c, 'MUG') AS mug
  FROM unnest(ARRAY['shop', 'amazon', 'walmart', 'etsy']) AS c;

-- the same through the engine itself
SELECT channel_sync.allocate(ARRAY[p, p, p, p], ARRAY[
         ROW(0, 10, 100, NULL, 0, false, 0, NULL),
         ROW(2, 0, 100, NULL, 0, false, 0, NULL),
         ROW(0, 0, 100, 20, 0, false, 0, NULL),
         ROW(0, 0, 100, NULL, 5, false, 0, NULL)]::channel_sync.alloc_rule[]) AS ats
  FROM unnest(ARRAY[100, 4]) AS p;
-- NULL fields take the defaults; empty arrays give an empty result
SELECT channel_sync.allocate(ARRAY[10], ARRAY[ROW(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)]::channel_sync.alloc_rule[]);
SELECT channel_sync.allocate('{}', '{}');
-- list_pct rounds down, dynamic buffer: ceil(4 units/h x 30 min) = 2 > static 1
SELECT channel_sync.allocate(ARRAY[7, 10], ARRAY[ROW(0, 0, 50, NULL, 0, false, 0, NULL),
         ROW(1, 0, 100, NULL, 0, true, 4, '30 minutes')]::channel_sync.alloc_rule[]);
-- IMMUTABLE and PARALLEL SAFE
SELECT provolatile, proparallel FROM pg_proc WHERE oid = 'channel_sync.allocate'::regproc;

-- list_pct and a per-SKU override: etsy lists half of TEE only
INSERT INTO channel_sync.allocation_rules (channel_id, sku, list_pct) VALUES ('etsy', 'TEE', 50);
SELECT channel_id, ats, limited_by FROM channel_sync.explain_allocation('TEE') WHERE channel_id = 'etsy';
SELECT channel_id, ats, limited_by FROM channel_sync.explain_allocation('MUG') WHERE channel_id = 'etsy';
-- the override replaces the whole default row: no low-stock cut-off for TEE on etsy
UPDATE channel_sync.stock SET on_hand = 3 WHERE sku = 'TEE';
SELECT channel_id, pool, holdback, ats, limited_by FROM channel_sync.explain_allocation('TEE') WHERE channel_id = 'etsy';
UPDATE channel_sync.stock SET on_hand = 100 WHERE sku = 'TEE';
DELETE FROM channel_sync.allocation_rules WHERE sku = 'TEE';

-- pool = on_hand - reserved - safety_stock, never negative per location
UPDATE channel_sync.stock SET reserved = 10, safety_stock = 5 WHERE sku = 'TEE';
SELECT channel_id, pool, ats FROM channel_sync.explain_allocation('TEE');
UPDATE channel_sync.stock SET reserved = 0, safety_stock = 0 WHERE sku = 'TEE';

-- a second location; etsy is fed only by wh-2
INSERT INTO channel_sync.locations (location_id) VALUES ('wh-2');
INSERT INTO channel_sync.stock (sku, location_id, on_hand) VALUES ('TEE', 'wh-2', 30);
INSERT INTO channel_sync.channel_locations VALUES ('etsy', 'wh-2');
SELECT * FROM channel_sync.explain_allocation('TEE');
-- an inactive location feeds nobody; etsy, fed only by it, has no locations
UPDATE channel_sync.locations SET active = false WHERE location_id = 'wh-2';
SELECT * FROM channel_sync.explain_allocation('TEE');
UPDATE channel_sync.locations SET active = true WHERE location_id = 'wh-2';
DELETE FROM channel_sync.channel_locations;
DELETE FROM channel_sync.stock WHERE location_id = 'wh-2';

-- an inactive channel lists nothing and holds nothing back
UPDATE channel_sync.channels SET active = false WHERE channel_id = 'shop';
SELECT * FROM channel_sync.explain_allocation('TEE');
UPDATE channel_sync.channels SET active = true WHERE channel_id = 'shop';

-- two reserves: summed, then rounded down once (15 % + 10 % of 100 = 25 held from amazon)
UPDATE channel_sync.allocation_rules SET reserve_pct = 15 WHERE channel_id = 'etsy';
SELECT channel_id, holdback, ats, limited_by FROM channel_sync.explain_allocation('TEE');
UPDATE channel_sync.allocation_rules SET reserve_pct = 0 WHERE channel_id = 'etsy';

-- bundles: pool = min over components of floor(component pool / qty_per)
INSERT INTO channel_sync.skus (sku, kind, base_price) VALUES ('GIFT', 'bundle', 25), ('EMPTY', 'bundle', 1);
INSERT INTO channel_sync.bundle_components VALUES ('GIFT', 'TEE', 3), ('GIFT', 'MUG', 1);
SELECT * FROM channel_sync.explain_allocation('GIFT');
UPDATE channel_sync.stock SET on_hand = 40 WHERE sku = 'MUG';
SELECT channel_id, pool, ats FROM channel_sync.explain_allocation('GIFT');
SELECT channel_id, pool, ats, limited_by FROM channel_sync.explain_allocation('EMPTY');
UPDATE channel_sync.stock SET on_hand = 4 WHERE sku = 'MUG';

-- dynamic buffer: amazon sold 12 TEE in the last 24 hours (0.5/h); until lag is measured,
-- lag_target (3 minutes) stands in: ceil(0.5 x 0.05) = 1 < static 2
UPDATE channel_sync.allocation_rules SET dynamic_buffer = true WHERE channel_id = 'amazon';
INSERT INTO channel_sync.orders (channel_id, order_id, state, placed_at, updated_at) VALUES
  ('amazon', 'A-1', 'placed', now() - interval '2 hours', now()),
  ('amazon', 'A-2', 'cancelled', now() - interval '2 hours', now()),
  ('amazon', 'A-3', 'placed', now() - interval '3 days', now());
INSERT INTO channel_sync.order_lines (channel_id, order_id, line_no, sku, location_id, qty, qty_cancelled, sold_sku) VALUES
  ('amazon', 'A-1', 1, 'TEE', 'wh-1', 14, 2, 'TEE'),
  ('amazon', 'A-2', 1, 'TEE', 'wh-1', 50, 0, 'TEE'),
  ('amazon', 'A-3', 1, 'TEE', 'wh-1', 90, 0, 'TEE');
SELECT channel_id, buffer, ats, limited_by FROM channel_sync.explain_allocation('TEE') WHERE channel_id = 'amazon';
-- measured p95 lag of 10 hours: ceil(0.5 x 10) = 5 > 2
INSERT INTO channel_sync.propagation_log (channel_id, sku, version, qty, first_change_at, acked_at, attempts)
SELECT 'amazon', 'TEE', i, 1, now() - interval '10 hours', now(), 1 FROM generate_series(1, 5) AS i;
SELECT channel_id, buffer, ats, limited_by FROM channel_sync.explain_allocation('TEE') WHERE channel_id = 'amazon';
-- a shorter velocity window (1 hour) sees no sales: back to the static buffer
SET channel_sync.velocity_window = '1h';
SELECT channel_id, buffer, ats FROM channel_sync.explain_allocation('TEE') WHERE channel_id = 'amazon';
RESET channel_sync.velocity_window;
SHOW channel_sync.velocity_window;
UPDATE channel_sync.allocation_rules SET dynamic_buffer = false WHERE channel_id = 'amazon';

-- reserves over 100 % for a SKU are refused
UPDATE channel_sync.allocation_rules SET reserve_pct = 95 WHERE channel_id = 'walmart';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO channel_sync.allocation_rules (channel_id, sku, reserve_pct) VALUES ('walmart', 'TEE', 91);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- within 100 % once the storefront's reserve for TEE is overridden in the same statement
INSERT INTO channel_sync.allocation_rules (channel_id, sku, reserve_pct) VALUES ('walmart', 'TEE', 90), ('shop', 'TEE', 0);
SELECT channel_id, reserve_pct FROM channel_sync.allocation_rules WHERE sku = 'TEE' ORDER BY 1;
-- deleting the storefront's 0 % override would bring back its 10 % default: 100 % is fine,
-- but raise walmart first and the delete is refused
UPDATE channel_sync.allocation_rules SET reserve_pct = 95 WHERE channel_id = 'walmart' AND sku = 'TEE';
DELETE FROM channel_sync.allocation_rules WHERE channel_id = 'shop' AND sku = 'TEE';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- walmart's per-SKU row replaces its whole default row (so no cap of 20 for TEE)
SELECT channel_id, holdback, ats, limited_by FROM channel_sync.explain_allocation('TEE');
DELETE FROM channel_sync.allocation_rules WHERE sku = 'TEE';

-- bad input
SELECT channel_sync.explain_allocation('NOPE');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT channel_sync.explain_allocation(NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT channel_sync.available_to_sell('nowhere', 'TEE');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT channel_sync.available_to_sell('shop', 'NOPE');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT channel_sync.available_to_sell(NULL, 'TEE');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT channel_sync.allocate(NULL, ARRAY[ROW(0, 0, 100, NULL, 0, false, 0, NULL)]::channel_sync.alloc_rule[]);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT channel_sync.allocate(ARRAY[1], NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT channel_sync.allocate(ARRAY[1, 2], ARRAY[ROW(0, 0, 100, NULL, 0, false, 0, NULL)]::channel_sync.alloc_rule[]);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT channel_sync.allocate(ARRAY[-1], ARRAY[ROW(0, 0, 100, NULL, 0, false, 0, NULL)]::channel_sync.alloc_rule[]);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT channel_sync.allocate(ARRAY[NULL::int], ARRAY[ROW(0, 0, 100, NULL, 0, false, 0, NULL)]::channel_sync.alloc_rule[]);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT channel_sync.allocate(ARRAY[1], ARRAY[NULL::channel_sync.alloc_rule]);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT channel_sync.allocate(ARRAY[[1]], ARRAY[[ROW(0, 0, 100, NULL, 0, false, 0, NULL)]]::channel_sync.alloc_rule[]);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT channel_sync.allocate(ARRAY[1], ARRAY[ROW(0, 0, 101, NULL, 0, false, 0, NULL)]::channel_sync.alloc_rule[]);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT channel_sync.allocate(ARRAY[1], ARRAY[ROW(-1, 0, 100, NULL, 0, false, 0, NULL)]::channel_sync.alloc_rule[]);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT channel_sync.allocate(ARRAY[1], ARRAY[ROW(0, 0, 100, -1, 0, false, 0, NULL)]::channel_sync.alloc_rule[]);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT channel_sync.allocate(ARRAY[1], ARRAY[ROW(0, 0, 100, NULL, 0, true, 1, '-1 hour')]::channel_sync.alloc_rule[]);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT channel_sync.allocate(ARRAY[1, 1], ARRAY[ROW(0, 60, 100, NULL, 0, false, 0, NULL),
         ROW(0, 50, 100, NULL, 0, false, 0, NULL)]::channel_sync.alloc_rule[]);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SET channel_sync.velocity_window = 0;
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- recompute_targets: every (channel, SKU) gets a listing; a second pass changes nothing
SELECT channel_sync.recompute_targets();
SELECT channel_sync.recompute_targets();
SELECT channel_id, sku, target_qty, target_price, target_version FROM channel_sync.listings ORDER BY sku, channel_id;
-- a stock change re-targets only what it changes; versions bump only there
BEGIN;
UPDATE channel_sync.stock SET on_hand = 60 WHERE sku = 'TEE';
SELECT channel_sync.recompute_targets();
SELECT channel_id, sku, target_qty, target_version, target_since = now() AS changed_now
  FROM channel_sync.listings WHERE sku = 'TEE' ORDER BY channel_id;
COMMIT;
-- a channel price changes only that listing's target
INSERT INTO channel_sync.channel_prices VALUES ('amazon', 'MUG', 9.50);
SELECT channel_sync._retarget(ARRAY['MUG', 'NOPE', NULL]);
SELECT channel_sync._retarget(ARRAY['MUG']);
SELECT channel_sync._retarget(NULL);
SELECT channel_id, target_qty, target_price, target_version FROM channel_sync.listings WHERE sku = 'MUG' ORDER BY channel_id;
-- _compute_targets writes nothing and agrees with the listings
SELECT count(*) AS disagreements
  FROM channel_sync._compute_targets() t
  FULL JOIN channel_sync.listings l USING (channel_id, sku)
 WHERE t.target_qty IS DISTINCT FROM l.target_qty OR t.target_price IS DISTINCT FROM l.target_price;
SELECT * FROM channel_sync._compute_targets(ARRAY['GIFT']) ORDER BY channel_id;
-- nested use: retarget from inside a PL/pgSQL trigger of another statement
CREATE FUNCTION pg_temp.retarget_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE NOTICE 'retargeted %', channel_sync._retarget(ARRAY(SELECT DISTINCT sku FROM changed));
  RETURN NULL;
END $$;
CREATE TRIGGER stock_retarget AFTER UPDATE ON channel_sync.stock REFERENCING NEW TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.retarget_changed();
UPDATE channel_sync.stock SET on_hand = 0 WHERE sku = 'MUG';
SELECT channel_id, target_qty, target_version FROM channel_sync.listings WHERE sku = 'MUG' ORDER BY channel_id;
DROP TRIGGER stock_retarget ON channel_sync.stock;
