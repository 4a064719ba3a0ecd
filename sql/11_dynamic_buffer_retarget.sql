-- Dynamic buffers kept current by the triggers: a stock change re-targets its SKU (and the
-- bundles containing it) with the velocity of exactly those SKUs, read through order_lines'
-- SKU index, and must agree with a full recompute (verify) and with explain_allocation.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS channel_sync CASCADE;
CREATE EXTENSION channel_sync;
RESET client_min_messages;
\set VERBOSITY terse

INSERT INTO channel_sync.channels (channel_id) VALUES ('shop'), ('amazon');
INSERT INTO channel_sync.locations (location_id) VALUES ('wh1');
INSERT INTO channel_sync.skus (sku, base_price) VALUES ('TEE', 20), ('CAP', 10), ('MUG', 8);
INSERT INTO channel_sync.skus (sku, kind, base_price) VALUES ('KIT', 'bundle', 25);
INSERT INTO channel_sync.bundle_components VALUES ('KIT', 'TEE', 1), ('KIT', 'CAP', 1);
INSERT INTO channel_sync.stock (sku, location_id, on_hand) VALUES ('TEE', 'wh1', 200), ('CAP', 'wh1', 200), ('MUG', 'wh1', 200);
INSERT INTO channel_sync.allocation_rules (channel_id, sku, dynamic_buffer) VALUES ('amazon', NULL, true)
  ON CONFLICT DO NOTHING;
UPDATE channel_sync.allocation_rules SET dynamic_buffer = true WHERE channel_id = 'amazon' AND sku IS NULL;

-- every re-target measures the p95 lag (see the end for the default reuse)
SET channel_sync.lag_remeasure_interval = 0;

-- the last 24 hours on amazon: 48 TEE, 24 KIT (a TEE and a CAP line each), 30 MUG; a
-- cancelled order and one of three days ago do not count; shop's sales are not amazon's
INSERT INTO channel_sync.orders (channel_id, order_id, state, placed_at, updated_at) VALUES
  ('amazon', 'A-1', 'placed', now() - interval '1 hour', now()),
  ('amazon', 'A-2', 'placed', now() - interval '2 hours', now()),
  ('amazon', 'A-3', 'cancelled', now() - interval '2 hours', now()),
  ('amazon', 'A-4', 'placed', now() - interval '3 days', now()),
  ('amazon', 'A-5', 'placed', now() - interval '5 hours', now()),
  ('shop', 'S-1', 'placed', now() - interval '1 hour', now());
INSERT INTO channel_sync.order_lines (channel_id, order_id, line_no, sku, location_id, qty, sold_sku) VALUES
  ('amazon', 'A-1', 1, 'TEE', 'wh1', 48, 'TEE'),
  ('amazon', 'A-2', 1, 'TEE', 'wh1', 24, 'KIT'),
  ('amazon', 'A-2', 2, 'CAP', 'wh1', 24, 'KIT'),
  ('amazon', 'A-3', 1, 'TEE', 'wh1', 500, 'TEE'),
  ('amazon', 'A-4', 1, 'TEE', 'wh1', 900, 'TEE'),
  ('amazon', 'A-5', 1, 'MUG', 'wh1', 30, 'MUG'),
  ('shop', 'S-1', 1, 'TEE', 'wh1', 700, 'TEE');
-- amazon's measured p95 lag: 10 hours
INSERT INTO channel_sync.propagation_log (channel_id, sku, version, qty, first_change_at, acked_at, attempts)
SELECT 'amazon', 'TEE', i, 1, now() - interval '10 hours', now(), 1 FROM generate_series(1, 5) AS i;

-- a change of TEE re-targets TEE and KIT: TEE sells 72/24 h = 3/h -> buffer 30;
-- KIT 24/24 h = 1/h -> 10; CAP and MUG are not touched yet
UPDATE channel_sync.stock SET on_hand = 201 WHERE sku = 'TEE';
SELECT l.sku, l.target_qty, e.buffer, l.target_qty = e.ats AS as_explained
  FROM channel_sync.listings l JOIN LATERAL channel_sync.explain_allocation(l.sku) e ON e.channel_id = l.channel_id
 WHERE l.channel_id = 'amazon' ORDER BY l.sku;
-- a change of MUG alone: 30/24 h -> buffer 13
UPDATE channel_sync.stock SET on_hand = 199 WHERE sku = 'MUG';
SELECT l.sku, l.target_qty, e.buffer FROM channel_sync.listings l
  JOIN LATERAL channel_sync.explain_allocation(l.sku) e ON e.channel_id = l.channel_id
 WHERE l.channel_id = 'amazon' AND l.sku = 'MUG';
-- the SKU-by-SKU re-targets agree with a full recompute (CAP still holds its first target)
SELECT check_name, channel_id, sku, expected, found FROM channel_sync.verify();
UPDATE channel_sync.stock SET on_hand = 202 WHERE sku = 'CAP';
SELECT count(*) AS drift FROM channel_sync.verify();
SELECT channel_sync.recompute_targets() AS changed_by_full_recompute;

-- by default a session's re-targets reuse its p95 lag for a minute (measuring reads 24 hours
-- of propagation_log): amazon's lag grows to 20 hours; a change of TEE right after still
-- sizes the buffer from the 10 hours this session measured, explain_allocation and verify
-- measure again (buffer 60), and the next re-target after the interval uses 20 hours
RESET channel_sync.lag_remeasure_interval;
SHOW channel_sync.lag_remeasure_interval;
SELECT buffer FROM channel_sync.explain_allocation('TEE') WHERE channel_id = 'amazon';
INSERT INTO channel_sync.propagation_log (channel_id, sku, version, qty, first_change_at, acked_at, attempts)
SELECT 'amazon', 'TEE', i, 1, now() - interval '20 hours', now(), 1 FROM generate_series(6, 50) AS i;
UPDATE channel_sync.stock SET on_hand = 203 WHERE sku = 'TEE';
SELECT target_qty AS tee_target_with_reused_lag FROM channel_sync.listings WHERE channel_id = 'amazon' AND sku = 'TEE';
SELECT buffer FROM channel_sync.explain_allocation('TEE') WHERE channel_id = 'amazon';
SELECT check_name, sku, expected, found FROM channel_sync.verify() WHERE sku = 'TEE';
SET channel_sync.lag_remeasure_interval = 0;
UPDATE channel_sync.stock SET on_hand = 204 WHERE sku = 'TEE';
SELECT target_qty AS tee_target_remeasured FROM channel_sync.listings WHERE channel_id = 'amazon' AND sku = 'TEE';

-- lines written by ingest() carry their order's placed_at (the order_placed event's
-- occurred_at) and are read through order_lines (sku, placed_at): MUG's order of three days
-- ago stays out of the window, the one of an hour ago counts (30 + 12 = 42 units in 24 h)
SELECT status FROM channel_sync.ingest('amazon', 'old-mug', 'order_placed',
  '{"order_id": "A-6", "lines": [{"sku": "MUG", "qty": 60}]}', now() - interval '3 days');
SELECT status FROM channel_sync.ingest('amazon', 'new-mug', 'order_placed',
  '{"order_id": "A-7", "lines": [{"sku": "MUG", "qty": 12}]}', now() - interval '1 hour');
SELECT order_id, l.placed_at = o.placed_at AS line_has_its_orders_time
  FROM channel_sync.order_lines l JOIN channel_sync.orders o USING (channel_id, order_id)
 WHERE order_id IN ('A-6', 'A-7') ORDER BY 1;
SELECT buffer FROM channel_sync.explain_allocation('MUG') WHERE channel_id = 'amazon';
SELECT l.target_qty = e.ats AS mug_as_explained FROM channel_sync.listings l
  JOIN channel_sync.explain_allocation('MUG') e USING (channel_id) WHERE l.channel_id = 'amazon' AND l.sku = 'MUG';
SELECT check_name, channel_id, sku, expected, found FROM channel_sync.verify() WHERE sku = 'MUG';
