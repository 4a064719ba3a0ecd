-- bench/allocation catalog: 5 channels (the README's worked-example rules), 3 locations
-- (etsy fed by one), :n simple SKUs with stock at every location, marketplace prices for
-- amazon and walmart. Deterministic.
\set QUIET on
SELECT setseed(0.7) \gset
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
SELECT s.sku, l.location_id, floor(power(random(), 6) * 300)::int, 0, 1
  FROM channel_sync.skus s CROSS JOIN channel_sync.locations l;
INSERT INTO channel_sync.channel_prices (channel_id, sku, price)
SELECT c.channel_id, s.sku, round(s.base_price * 1.08, 2)
  FROM channel_sync.skus s CROSS JOIN (VALUES ('amazon'), ('walmart')) AS c(channel_id);
ANALYZE;
