-- Step 30: a trading day of inbound events. Orders arrive from four channels, webhooks
-- are retried, one key is reused with other content, an order names a listing id the
-- catalog does not know yet (rejected, then replayed once the alias is added), and the
-- day goes on with a cancellation, shipments, a return and a stock count.
\set QUIET on
\pset footer off
\echo
\echo '== 30 trading day: idempotent inbound events'
CREATE TEMP TABLE day_skus AS SELECT unnest(ARRAY['SKU-00042', 'SKU-00077', 'SKU-00101', 'SKU-00123', 'SKU-05555']) AS sku;
-- the morning delivery: 10 more of each at wh-east
UPDATE channel_sync.stock SET on_hand = on_hand + 10 WHERE sku IN (SELECT sku FROM day_skus) AND location_id = 'wh-east';
CREATE TEMP TABLE day_before AS
  SELECT s.sku, sum(s.on_hand) AS on_hand, sum(s.reserved) AS reserved FROM channel_sync.stock s JOIN day_skus USING (sku) GROUP BY 1;
SELECT external_id AS asin FROM channel_sync.sku_aliases WHERE channel_id = 'amazon' AND sku = 'SKU-00077' \gset
CREATE TEMP TABLE day_log (step serial, what text, channel text, key text, status text, detail text);
CREATE FUNCTION pg_temp.ev(what text, ch text, k text, t text, p jsonb, at text) RETURNS void LANGUAGE sql AS $$
  INSERT INTO day_log (what, channel, key, status, detail)
  SELECT what, ch, k, r.status, r.detail FROM channel_sync.ingest(ch, k, t, p, at::timestamptz) r $$;

\o /dev/null
SELECT pg_temp.ev('storefront order', 'shop', 'shp-9001', 'order_placed', '{"order_id": "9001", "lines": [{"sku": "SKU-00042", "qty": 2}, {"sku": "SKU-00101", "qty": 1}]}', '2026-03-02 08:05+00');
SELECT pg_temp.ev('  webhook retried', 'shop', 'shp-9001', 'order_placed', '{"order_id": "9001", "lines": [{"sku": "SKU-00042", "qty": 2}, {"sku": "SKU-00101", "qty": 1}]}', '2026-03-02 08:05+00');
SELECT pg_temp.ev('amazon order (ASIN)', 'amazon', 'amz-111-7', 'order_placed', format('{"order_id": "111-7", "lines": [{"external_id": "%s", "qty": 1}]}', :'asin')::jsonb, '2026-03-02 08:12+00');
SELECT pg_temp.ev('  retried again', 'amazon', 'amz-111-7', 'order_placed', format('{"order_id": "111-7", "lines": [{"external_id": "%s", "qty": 1}]}', :'asin')::jsonb, '2026-03-02 08:12+00');
SELECT pg_temp.ev('  and again', 'amazon', 'amz-111-7', 'order_placed', format('{"order_id": "111-7", "lines": [{"external_id": "%s", "qty": 1}]}', :'asin')::jsonb, '2026-03-02 08:12+00');
SELECT pg_temp.ev('walmart order', 'walmart', 'wmt-55', 'order_placed', '{"order_id": "55", "lines": [{"sku": "SKU-00123", "qty": 3}]}', '2026-03-02 09:30+00');
SELECT pg_temp.ev('  key reused, other order', 'walmart', 'wmt-55', 'order_placed', '{"order_id": "56", "lines": [{"sku": "SKU-00123", "qty": 1}]}', '2026-03-02 09:31+00');
SELECT pg_temp.ev('etsy order, unknown listing', 'etsy', 'etsy-77', 'order_placed', '{"order_id": "77", "lines": [{"external_id": "etsy-new-1", "qty": 1}]}', '2026-03-02 10:00+00');
INSERT INTO channel_sync.sku_aliases VALUES ('etsy', 'etsy-new-1', 'SKU-05555');
INSERT INTO day_log (what, channel, key, status, detail)
  SELECT '  alias added, replay()', 'etsy', 'etsy-77', r.status, r.detail
    FROM channel_sync.events e, channel_sync.replay(e.event_id) r WHERE e.channel_id = 'etsy' AND e.idempotency_key = 'etsy-77';
SELECT pg_temp.ev('shopper cancels 9001', 'shop', 'shp-9001-x', 'order_cancelled', '{"order_id": "9001", "lines": [{"sku": "SKU-00101", "qty": 1}]}', '2026-03-02 11:00+00');
SELECT pg_temp.ev('9001 ships', 'shop', 'shp-9001-s', 'order_shipped', '{"order_id": "9001"}', '2026-03-02 14:00+00');
SELECT pg_temp.ev('amazon 111-7 ships', 'amazon', 'amz-111-7-s', 'order_shipped', '{"order_id": "111-7"}', '2026-03-02 14:10+00');
SELECT pg_temp.ev('walmart 55 ships', 'walmart', 'wmt-55-s', 'order_shipped', '{"order_id": "55"}', '2026-03-02 15:00+00');
SELECT pg_temp.ev('  late cancel of 55', 'walmart', 'wmt-55-x', 'order_cancelled', '{"order_id": "55"}', '2026-03-02 15:05+00');
SELECT pg_temp.ev('return of one 9001 unit', 'shop', 'shp-9001-r', 'return_received', '{"order_id": "9001", "sku": "SKU-00042", "qty": 1, "location_id": "wh-east", "restock": true}', '2026-03-02 16:00+00');
SELECT pg_temp.ev('cycle count', 'shop', 'cnt-0042-e', 'stock_counted', '{"sku": "SKU-00042", "location_id": "wh-west", "on_hand": 4}', '2026-03-02 18:00+00');
SELECT pg_temp.ev('  yesterday''s count, late', 'shop', 'cnt-0042-y', 'stock_counted', '{"sku": "SKU-00042", "location_id": "wh-west", "on_hand": 9}', '2026-03-01 18:00+00');
SELECT pg_temp.ev('amazon shows', 'amazon', 'amz-obs-1', 'listing_observed', format('{"external_id": "%s", "qty": 3, "price": 24.99}', :'asin')::jsonb, '2026-03-02 18:30+00');

\o
\echo 'events, in order of arrival:'
SELECT step AS "#", what, channel, status, left(coalesce(detail, ''), 60) AS detail FROM day_log ORDER BY step;
\echo 'statuses:'
SELECT status, count(*) AS deliveries FROM day_log GROUP BY status ORDER BY min(step);
\echo 'stock effect of the day, all locations (SKU-00042: 2 shipped, 1 restocked, wh-west counted at 4):'
SELECT b.sku, b.on_hand AS on_hand_before, a.on_hand AS on_hand_after, b.reserved AS reserved_before, a.reserved AS reserved_after
  FROM day_before b
  JOIN (SELECT s.sku, sum(s.on_hand) AS on_hand, sum(s.reserved) AS reserved FROM channel_sync.stock s JOIN day_skus USING (sku) GROUP BY 1) a USING (sku)
 ORDER BY 1;
SELECT channel_id, order_id, state, oversold FROM channel_sync.orders ORDER BY 1, 2;
\set QUIET off
