-- Re-targets of SKU sets larger than the small-set path (over 64 SKUs, up to 10,000: one
-- generic plan per scan, the set joined as a subquery) must agree with a full recompute:
-- bundles, per-SKU rules, channel prices and a dynamic buffer, in one session that runs the
-- same plans again with other sets.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS channel_sync CASCADE;
CREATE EXTENSION channel_sync;
RESET client_min_messages;
\set VERBOSITY terse
SET channel_sync.lag_remeasure_interval = 0;

INSERT INTO channel_sync.channels (channel_id) VALUES ('shop'), ('amazon'), ('etsy');
INSERT INTO channel_sync.locations (location_id) VALUES ('wh1'), ('wh2');
INSERT INTO channel_sync.channel_locations VALUES ('etsy', 'wh2');
INSERT INTO channel_sync.skus (sku, base_price)
SELECT format('S-%s', lpad(i::text, 3, '0')), 10 + i % 7 FROM generate_series(1, 300) AS i;
-- 30 bundles of two components each, the components spread over the catalog
INSERT INTO channel_sync.skus (sku, kind, base_price)
SELECT format('B-%s', lpad(i::text, 2, '0')), 'bundle', 40 FROM generate_series(1, 30) AS i;
INSERT INTO channel_sync.bundle_components
SELECT format('B-%s', lpad(i::text, 2, '0')), format('S-%s', lpad((i * 7)::text, 3, '0')), 1
  FROM generate_series(1, 30) AS i
UNION ALL
SELECT format('B-%s', lpad(i::text, 2, '0')), format('S-%s', lpad((i * 7 + 1)::text, 3, '0')), 2
  FROM generate_series(1, 30) AS i;
INSERT INTO channel_sync.stock (sku, location_id, on_hand)
SELECT format('S-%s', lpad(i::text, 3, '0')), l, 50 + i % 11
  FROM generate_series(1, 300) AS i, unnest(ARRAY['wh1', 'wh2']) AS l;
-- per-SKU rules on every tenth SKU, prices on every third; amazon sizes its buffer from its sales
INSERT INTO channel_sync.allocation_rules (channel_id, sku, buffer, cap)
SELECT 'shop', format('S-%s', lpad(i::text, 3, '0')), 3, 40 FROM generate_series(10, 300, 10) AS i;
INSERT INTO channel_sync.channel_prices (channel_id, sku, price)
SELECT 'amazon', format('S-%s', lpad(i::text, 3, '0')), 99 FROM generate_series(5, 300, 3) AS i;
UPDATE channel_sync.allocation_rules SET dynamic_buffer = true WHERE channel_id = 'amazon' AND sku IS NULL;
INSERT INTO channel_sync.orders (channel_id, order_id, state, placed_at, updated_at)
SELECT 'amazon', format('A-%s', i), 'placed', now() - interval '1 hour', now() FROM generate_series(1, 100) AS i;
INSERT INTO channel_sync.order_lines (channel_id, order_id, line_no, sku, location_id, qty, sold_sku)
SELECT 'amazon', format('A-%s', i), 1, format('S-%s', lpad((i * 3)::text, 3, '0')), 'wh1', 24,
       format('S-%s', lpad((i * 3)::text, 3, '0'))
  FROM generate_series(1, 100) AS i;
INSERT INTO channel_sync.propagation_log (channel_id, sku, version, qty, first_change_at, acked_at, attempts)
SELECT 'amazon', 'S-001', i, 1, now() - interval '2 hours', now(), 1 FROM generate_series(1, 5) AS i;
SELECT count(*) AS drift_before FROM channel_sync.verify();

-- 200 SKUs in one statement: the set path; again with 150 others, then 100 with bundles'
-- components only; each time every target must equal the full recompute
UPDATE channel_sync.stock SET on_hand = on_hand + 7 WHERE sku <= 'S-200';
SELECT count(*) AS drift_200 FROM channel_sync.verify();
UPDATE channel_sync.stock SET on_hand = on_hand - 20 WHERE sku > 'S-150' AND location_id = 'wh2';
SELECT count(*) AS drift_150 FROM channel_sync.verify();
UPDATE channel_sync.stock SET on_hand = 5
 WHERE sku IN (SELECT component_sku FROM channel_sync.bundle_components) OR sku <= 'S-040';
SELECT count(*) AS drift_components FROM channel_sync.verify();
-- the bundles were re-targeted with their components (5 of one, 5 of two per bundle: 2)
SELECT l.sku, l.target_qty FROM channel_sync.listings l
 WHERE l.channel_id = 'etsy' AND l.sku IN ('B-01', 'B-02') ORDER BY l.sku;
-- and each changed listing has its one pending message at the listing's version
SELECT count(*) AS listings_without_their_message
  FROM channel_sync.listings l
 WHERE l.target_version > coalesce(l.acked_version, 0)
   AND NOT EXISTS (SELECT FROM channel_sync.outbox o WHERE o.channel_id = l.channel_id
                      AND o.sku = l.sku AND o.version = l.target_version);
-- a price change of 99 SKUs, and a small set (35 SKUs) after the large ones
UPDATE channel_sync.channel_prices SET price = price + 1;
UPDATE channel_sync.stock SET safety_stock = 2 WHERE sku BETWEEN 'S-100' AND 'S-134';
SELECT count(*) AS drift_after_all FROM channel_sync.verify();

-- single-SKU re-targets read allocation_rules whole while it fits in one page, by its key
-- once it does not: per-SKU rules on every SKU and channel (900 rows) take more pages
SELECT pg_relation_size('channel_sync.allocation_rules') / current_setting('block_size')::int AS rule_pages_before;
-- (S-010 has shop's per-SKU rule: buffer 3, cap 40)
UPDATE channel_sync.stock SET on_hand = 90 WHERE sku = 'S-010' AND location_id = 'wh1';
SELECT channel_id, target_qty FROM channel_sync.listings WHERE sku = 'S-010' ORDER BY channel_id;
SELECT count(*) AS drift_one_page FROM channel_sync.verify();
INSERT INTO channel_sync.allocation_rules (channel_id, sku, buffer, list_pct)
SELECT c, format('S-%s', lpad(i::text, 3, '0')), i % 4, 50 + i % 50
  FROM generate_series(1, 300) AS i, unnest(ARRAY['shop', 'amazon', 'etsy']) AS c
ON CONFLICT (channel_id, sku) DO UPDATE SET buffer = excluded.buffer, list_pct = excluded.list_pct;
SELECT pg_relation_size('channel_sync.allocation_rules') / current_setting('block_size')::int > 1 AS rules_take_pages;
UPDATE channel_sync.stock SET on_hand = 77 WHERE sku = 'S-077' AND location_id = 'wh1';
UPDATE channel_sync.stock SET on_hand = 33 WHERE sku = 'S-033';
SELECT channel_id, target_qty FROM channel_sync.listings WHERE sku = 'S-077' ORDER BY channel_id;
SELECT count(*) AS drift_many_rules FROM channel_sync.verify();

-- an ingest_batch re-targets its SKUs from the stock rows it locked and wrote (with its
-- reservations), reading from stock only the SKUs without a row at every feeding location
-- (S-291..S-300 lose theirs at wh2) and the bundles' other components
DELETE FROM channel_sync.stock WHERE location_id = 'wh2' AND sku >= 'S-291' AND sku LIKE 'S-%';
SELECT count(*) AS drift_before_batch FROM channel_sync.verify();
SELECT sum(reserved) AS reserved_before FROM channel_sync.stock;
SELECT status, count(*) FROM channel_sync.ingest_batch('shop', (
  SELECT jsonb_agg(jsonb_build_object('idempotency_key', 'kb-' || i, 'event_type', 'order_placed',
           'payload', jsonb_build_object('order_id', 'OB-' || i, 'lines', jsonb_build_array(
             jsonb_build_object('sku', CASE WHEN i = 0 THEN 'B-29' ELSE format('S-%s', lpad((181 + i)::text, 3, '0')) END,
                                'qty', 1 + i % 3)
             || CASE WHEN i % 10 = 5 THEN '{"location_id": "wh2"}'::jsonb ELSE '{}' END)))
         ORDER BY i)
    FROM generate_series(0, 119) AS i)) GROUP BY 1;
SELECT sum(reserved) AS reserved_after FROM channel_sync.stock;
SELECT count(*) AS drift_after_batch FROM channel_sync.verify();
SELECT sku, channel_id, target_qty FROM channel_sync.listings WHERE sku IN ('S-186', 'S-295', 'B-29') ORDER BY sku, channel_id;
-- etsy is fed by wh2 alone: its batch locks only wh2's rows, so shop's and amazon's pools
-- (wh1 too) come from the table
SELECT status, count(*) FROM channel_sync.ingest_batch('etsy', (
  SELECT jsonb_agg(jsonb_build_object('idempotency_key', 'ke-' || i, 'event_type', 'order_placed',
           'payload', jsonb_build_object('order_id', 'OE-' || i, 'lines', jsonb_build_array(
             jsonb_build_object('sku', format('S-%s', lpad((100 + i)::text, 3, '0')), 'qty', 1))))
         ORDER BY i)
    FROM generate_series(1, 80) AS i)) GROUP BY 1;
SELECT count(*) AS drift_after_etsy_batch FROM channel_sync.verify();
SELECT sku, channel_id, target_qty FROM channel_sync.listings WHERE sku = 'S-150' ORDER BY channel_id;

-- with statistics of small tables (a young install, analyzed), the generic plan of
-- `sku = ANY($1)` reads listings, channel_prices, skus and stock whole; the set scans then
-- take their subquery form, and the targets still equal the full recompute
ANALYZE channel_sync.listings, channel_sync.channel_prices, channel_sync.skus, channel_sync.stock;
SET client_min_messages = debug1;  -- each scan that gives way says so
UPDATE channel_sync.channel_prices SET price = price + 1 WHERE sku <= 'S-200';
RESET client_min_messages;
UPDATE channel_sync.stock SET on_hand = on_hand + 3 WHERE sku BETWEEN 'S-050' AND 'S-250';
SELECT count(*) AS drift_after_analyze FROM channel_sync.verify();

-- a set re-target writes its listings SKU by SKU in byte order (as ack_batch locks them): the
-- messages it enqueues anew are numbered in that order
DELETE FROM channel_sync.outbox WHERE channel_id = 'shop';
UPDATE channel_sync.stock SET on_hand = on_hand + 1 WHERE sku BETWEEN 'S-100' AND 'S-199' AND location_id = 'wh1';
SELECT count(*) AS new_messages,
       count(*) FILTER (WHERE next_sku COLLATE "C" < sku COLLATE "C") AS out_of_byte_order
  FROM (SELECT sku, lead(sku) OVER (ORDER BY message_id) AS next_sku
          FROM channel_sync.outbox WHERE channel_id = 'shop') AS m;
