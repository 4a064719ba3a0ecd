-- Inbound events: every event type, every status and every order transition, with the
-- stock each one leaves behind.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS channel_sync CASCADE;
CREATE EXTENSION channel_sync;
RESET client_min_messages;
\set SHOW_CONTEXT never
\set VERBOSITY default

INSERT INTO channel_sync.channels (channel_id, kind) VALUES ('shop', 'storefront'), ('amazon', 'marketplace'), ('etsy', 'marketplace');
INSERT INTO channel_sync.locations (location_id, kind, active) VALUES ('wh-a', 'warehouse', true), ('wh-b', 'warehouse', true), ('wh-c', '3pl', false);
INSERT INTO channel_sync.channel_locations VALUES ('etsy', 'wh-b');
INSERT INTO channel_sync.skus (sku, kind) VALUES ('TEE', 'simple'), ('CAP', 'simple'), ('MUG', 'simple'), ('KIT', 'bundle');
INSERT INTO channel_sync.bundle_components VALUES ('KIT', 'TEE', 1), ('KIT', 'CAP', 2);
INSERT INTO channel_sync.stock (sku, location_id, on_hand, reserved, safety_stock) VALUES
  ('TEE', 'wh-a', 5, 0, 0), ('TEE', 'wh-b', 8, 0, 1), ('CAP', 'wh-a', 10, 0, 0), ('CAP', 'wh-b', 10, 0, 0),
  ('MUG', 'wh-a', 3, 0, 0), ('MUG', 'wh-b', 3, 0, 0), ('MUG', 'wh-c', 50, 0, 0);
INSERT INTO channel_sync.sku_aliases VALUES ('amazon', 'B0TEE', 'TEE'), ('amazon', 'B0KIT', 'KIT');
CREATE VIEW stock_now AS SELECT sku, location_id, on_hand, reserved FROM channel_sync.stock ORDER BY 1, 2;
CREATE VIEW lines_now AS SELECT channel_id, order_id, line_no, sold_sku, sku, location_id, units_per_sold AS per, qty,
  qty_shipped AS shipped, qty_cancelled AS cancelled, qty_returned AS returned FROM channel_sync.order_lines ORDER BY 1, 2, 3;

-- order_placed: TEE demand is summed over two lines (2 + 1 from the bundle) and goes to
-- the location with the most sellable units (wh-b: 8 - 1 safety = 7 > 5); CAP ties
-- (10 and 10) and goes to wh-a; the inactive wh-c never feeds anyone
SELECT * FROM channel_sync.ingest('shop', 'k1', 'order_placed',
  '{"order_id": "S1", "lines": [{"sku": "TEE", "qty": 2}, {"sku": "KIT", "qty": 1}]}', '2024-05-01 10:00+00');
SELECT * FROM stock_now;
SELECT * FROM lines_now;
-- the same delivery again: duplicate, the first event's id, no effect; the counter counts it
SELECT * FROM channel_sync.ingest('shop', 'k1', 'order_placed',
  '{"lines": [{"qty": 2, "sku": "TEE"}, {"sku": "KIT", "qty": 1}], "order_id": "S1"}', '2024-05-01 10:00+00');
SELECT * FROM channel_sync.ingest('shop', 'k1', 'order_placed',
  '{"order_id": "S1", "lines": [{"sku": "TEE", "qty": 2}, {"sku": "KIT", "qty": 1}]}', '2024-05-01 10:00+00');
SELECT event_id, status, duplicates FROM channel_sync.events WHERE idempotency_key = 'k1';
-- same key, other content (qty 3; then another occurred_at): conflict, recorded, no effect
SELECT event_id, status, detail ~ '^idempotency key "k1" was first used by event 1 with fingerprint [0-9a-f-]{36}; this delivery has fingerprint [0-9a-f-]{36}$' AS detail_ok
  FROM channel_sync.ingest('shop', 'k1', 'order_placed', '{"order_id": "S1", "lines": [{"sku": "TEE", "qty": 3}]}', '2024-05-01 10:00+00');
SELECT status FROM channel_sync.ingest('shop', 'k1', 'order_placed',
  '{"order_id": "S1", "lines": [{"sku": "TEE", "qty": 2}, {"sku": "KIT", "qty": 1}]}', '2024-05-01 10:00:01+00');
SELECT event_id, status, first_event_id FROM channel_sync.events WHERE idempotency_key = 'k1' ORDER BY 1;
-- the same key on another channel is another event
SELECT status FROM channel_sync.ingest('amazon', 'k1', 'order_placed', '{"order_id": "A1", "lines": [{"external_id": "B0TEE", "qty": 1, "location_id": "wh-a"}]}', '2024-05-01 10:00+00');
SELECT * FROM stock_now;

-- a given location is used; one that does not feed the channel is rejected (etsy: wh-b only)
SELECT status, detail FROM channel_sync.ingest('etsy', 'e1', 'order_placed', '{"order_id": "E1", "lines": [{"sku": "MUG", "qty": 1, "location_id": "wh-a"}]}', '2024-05-01 10:00+00');
SELECT status, detail FROM channel_sync.ingest('etsy', 'e2', 'order_placed', '{"order_id": "E1", "lines": [{"sku": "MUG", "qty": 1}]}', '2024-05-01 10:00+00');
SELECT status, detail FROM channel_sync.ingest('shop', 'k2', 'order_placed', '{"order_id": "S2", "lines": [{"sku": "MUG", "qty": 1, "location_id": "wh-c"}]}', '2024-05-01 10:00+00');
-- an order the truth cannot cover is recorded and flagged oversold (MUG: 3 at wh-a, 2 free at wh-b)
SELECT status, detail FROM channel_sync.ingest('shop', 'k3', 'order_placed', '{"order_id": "S3", "lines": [{"sku": "MUG", "qty": 4}]}', '2024-05-01 10:00+00');
SELECT channel_id, order_id, state, oversold FROM channel_sync.orders ORDER BY 1, 2;
SELECT * FROM stock_now WHERE sku = 'MUG';
-- placing an order that exists is an invalid transition
SELECT status, detail FROM channel_sync.ingest('shop', 'k4', 'order_placed', '{"order_id": "S1", "lines": [{"sku": "MUG", "qty": 1}]}', '2024-05-01 10:05+00');

-- order_shipped with lines: 1 KIT of S1 (TEE 1 at wh-b, CAP 2 at wh-a): placed -> partially_shipped
SELECT status, detail FROM channel_sync.ingest('shop', 'k5', 'order_shipped', '{"order_id": "S1", "lines": [{"sku": "KIT", "qty": 1}]}', '2024-05-01 11:00+00');
SELECT order_id, state FROM channel_sync.orders WHERE order_id = 'S1';
-- more than is open is rejected; an unknown line too
SELECT status, detail FROM channel_sync.ingest('shop', 'k6', 'order_shipped', '{"order_id": "S1", "lines": [{"sku": "TEE", "qty": 3}]}', '2024-05-01 11:00+00');
SELECT status, detail FROM channel_sync.ingest('shop', 'k7', 'order_cancelled', '{"order_id": "S1", "lines": [{"sku": "MUG", "qty": 1}]}', '2024-05-01 11:00+00');
-- order_cancelled of one TEE, order_shipped of the rest: partially_shipped -> shipped
SELECT status FROM channel_sync.ingest('shop', 'k8', 'order_cancelled', '{"order_id": "S1", "lines": [{"sku": "TEE", "qty": 1}]}', '2024-05-01 11:10+00');
SELECT order_id, state FROM channel_sync.orders WHERE order_id = 'S1';
SELECT status FROM channel_sync.ingest('shop', 'k9', 'order_shipped', '{"order_id": "S1"}', '2024-05-01 11:20+00');
SELECT order_id, state FROM channel_sync.orders WHERE order_id = 'S1';
SELECT * FROM lines_now WHERE order_id = 'S1';
SELECT * FROM stock_now WHERE sku IN ('TEE', 'CAP');
-- shipped -> shipped and shipped -> cancelled are invalid
SELECT status, detail FROM channel_sync.ingest('shop', 'k10', 'order_shipped', '{"order_id": "S1"}', '2024-05-01 11:30+00');
SELECT status, detail FROM channel_sync.ingest('shop', 'k11', 'order_cancelled', '{"order_id": "S1"}', '2024-05-01 11:30+00');

-- return_received: 1 KIT back to wh-b, restocked (TEE +1, CAP +2 at wh-b); shipped stays (TEE not returned)
SELECT status FROM channel_sync.ingest('shop', 'k12', 'return_received', '{"order_id": "S1", "sku": "KIT", "qty": 1, "location_id": "wh-b", "restock": true}', '2024-05-02 09:00+00');
SELECT order_id, state FROM channel_sync.orders WHERE order_id = 'S1';
-- a second KIT was never shipped: rejected
SELECT status, detail FROM channel_sync.ingest('shop', 'k13', 'return_received', '{"order_id": "S1", "sku": "KIT", "qty": 1, "location_id": "wh-b", "restock": true}', '2024-05-02 09:00+00');
-- the TEE comes back damaged (no restock): every shipped unit is back, shipped -> returned
SELECT status FROM channel_sync.ingest('shop', 'k14', 'return_received', '{"order_id": "S1", "sku": "TEE", "qty": 1, "location_id": "wh-a", "restock": false}', '2024-05-02 09:30+00');
SELECT order_id, state FROM channel_sync.orders WHERE order_id = 'S1';
SELECT * FROM stock_now WHERE sku IN ('TEE', 'CAP');
-- returned -> shipped is invalid; a return for an order never shipped too (placed -> returned)
SELECT status, detail FROM channel_sync.ingest('shop', 'k15', 'order_shipped', '{"order_id": "S1"}', '2024-05-02 10:00+00');
SELECT status, detail FROM channel_sync.ingest('shop', 'k16', 'return_received', '{"order_id": "S3", "sku": "MUG", "qty": 1, "location_id": "wh-a", "restock": true}', '2024-05-02 10:00+00');

-- order_cancelled of a whole order releases every reservation: placed -> cancelled
SELECT status FROM channel_sync.ingest('amazon', 'a2', 'order_cancelled', '{"order_id": "A1"}', '2024-05-01 12:00+00');
SELECT status, detail FROM channel_sync.ingest('amazon', 'a3', 'order_shipped', '{"order_id": "A1"}', '2024-05-01 12:00+00');
SELECT status, detail FROM channel_sync.ingest('amazon', 'a4', 'order_cancelled', '{"order_id": "NOPE"}', '2024-05-01 12:00+00');
-- shipping an oversold order that the shelf cannot cover is rejected, nothing written
SELECT status, detail FROM channel_sync.ingest('shop', 'k18', 'order_shipped', '{"order_id": "S3"}', '2024-05-02 11:00+00');
SELECT * FROM stock_now WHERE sku = 'MUG';
-- a return without an order just restocks
SELECT status FROM channel_sync.ingest('shop', 'k17', 'return_received', '{"sku": "MUG", "qty": 2, "location_id": "wh-a", "restock": true}', '2024-05-02 10:00+00');
-- the cause is fixed: replay() applies the rejected shipment
SELECT r.status, r.detail FROM channel_sync.events e, channel_sync.replay(e.event_id) r WHERE e.idempotency_key = 'k18';
SELECT status, detail FROM channel_sync.events WHERE idempotency_key = 'k18';
SELECT * FROM stock_now WHERE sku = 'MUG';

-- stock_adjusted: +/- delta, never below 0; bundles hold no stock
SELECT status FROM channel_sync.ingest('shop', 'k19', 'stock_adjusted', '{"sku": "MUG", "location_id": "wh-b", "delta": 5, "reason": "purchase order 7"}', '2024-05-02 12:00+00');
SELECT status, detail FROM channel_sync.ingest('shop', 'k20', 'stock_adjusted', '{"sku": "MUG", "location_id": "wh-b", "delta": -9, "reason": "shrink"}', '2024-05-02 12:00+00');
SELECT status, detail FROM channel_sync.ingest('shop', 'k21', 'stock_adjusted', '{"sku": "KIT", "location_id": "wh-b", "delta": 1, "reason": "x"}', '2024-05-02 12:00+00');
SELECT status, detail FROM channel_sync.ingest('shop', 'k22', 'stock_adjusted', '{"sku": "MUG", "location_id": "wh-z", "delta": 1, "reason": "x"}', '2024-05-02 12:00+00');
-- a new stock row when the SKU had none at the location
SELECT status FROM channel_sync.ingest('shop', 'k23', 'stock_adjusted', '{"sku": "CAP", "location_id": "wh-c", "delta": 4, "reason": "transfer"}', '2024-05-02 12:00+00');
SELECT * FROM stock_now WHERE sku IN ('MUG', 'CAP');

-- stock_counted is absolute and last-by-occurred_at wins: an older count is stale
SELECT status FROM channel_sync.ingest('shop', 'k24', 'stock_counted', '{"sku": "MUG", "location_id": "wh-a", "on_hand": 20}', '2024-05-03 08:00+00');
SELECT status, detail FROM channel_sync.ingest('shop', 'k25', 'stock_counted', '{"sku": "MUG", "location_id": "wh-a", "on_hand": 7}', '2024-05-03 07:00+00');
SELECT status FROM channel_sync.ingest('shop', 'k26', 'stock_counted', '{"sku": "MUG", "location_id": "wh-a", "on_hand": 21}', '2024-05-03 08:00+00');
SELECT status FROM channel_sync.ingest('shop', 'k27', 'stock_counted', '{"sku": "MUG", "location_id": "wh-b", "on_hand": 0}', '2024-05-03 07:00+00');
SELECT * FROM stock_now WHERE sku = 'MUG';
SELECT sku, location_id, event_id FROM channel_sync.stock_counts ORDER BY 1, 2;

-- listing_observed: inserts the listing, stale when older, keeps the price when omitted
SELECT status FROM channel_sync.ingest('amazon', 'a5', 'listing_observed', '{"external_id": "B0TEE", "qty": 4, "price": 19.99}', '2024-05-03 09:00+00');
SELECT status FROM channel_sync.ingest('amazon', 'a6', 'listing_observed', '{"sku": "TEE", "qty": 3}', '2024-05-03 09:05+00');
SELECT status, detail FROM channel_sync.ingest('amazon', 'a7', 'listing_observed', '{"sku": "TEE", "qty": 9, "price": 1}', '2024-05-03 08:00+00');
SELECT status FROM channel_sync.ingest('shop', 'k28', 'listing_observed', '{"sku": "KIT", "qty": 0}', '2024-05-03 09:00+00');
SELECT channel_id, sku, observed_qty, observed_price FROM channel_sync.listings WHERE observed_at IS NOT NULL ORDER BY 1, 2;

-- every outcome is on record
SELECT status, count(*) FROM channel_sync.events GROUP BY 1 ORDER BY 1;
SELECT channel_id, order_id, state, oversold FROM channel_sync.orders ORDER BY 1, 2;
SELECT * FROM stock_now;
DROP VIEW stock_now, lines_now;

-- every line written here, whichever path wrote it, carries its order's placed_at
SELECT count(*) AS lines_without_their_orders_time FROM channel_sync.order_lines l
  JOIN channel_sync.orders o USING (channel_id, order_id) WHERE l.placed_at IS DISTINCT FROM o.placed_at;
