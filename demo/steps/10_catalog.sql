-- Step 10: a realistic sample catalog — a storefront and four marketplaces, three
-- locations, 10,000 SKUs (bundles among them) with channel aliases, and stock with a
-- long tail of low-stock items. Deterministic: the same catalog every run.
\set QUIET on
SELECT setseed(0.42) \gset

INSERT INTO channel_sync.channels (channel_id, kind, lag_target, max_attempts) VALUES
  ('shop',    'storefront',  '1 minute',  8),
  ('amazon',  'marketplace', '3 minutes', 8),
  ('walmart', 'marketplace', '5 minutes', 6),
  ('etsy',    'marketplace', '10 minutes', 5),
  ('ebay',    'marketplace', '5 minutes', 6);

INSERT INTO channel_sync.locations (location_id, kind) VALUES
  ('wh-east', 'warehouse'), ('wh-west', 'warehouse'), ('3pl-central', '3pl');
-- etsy ships only from the east warehouse; the others sell from everywhere
INSERT INTO channel_sync.channel_locations VALUES ('etsy', 'wh-east');

INSERT INTO channel_sync.skus (sku, title, kind, base_price)
SELECT pg_catalog.format('SKU-%s', pg_catalog.lpad(i::text, 5, '0')),
       (ARRAY['Tee', 'Hoodie', 'Mug', 'Cap', 'Tote', 'Poster', 'Socks', 'Sticker'])[1 + i % 8] || ' #' || i,
       'simple', round((5 + random() * 95)::numeric, 2)
  FROM generate_series(1, 9700) AS i;
INSERT INTO channel_sync.skus (sku, title, kind, base_price)
SELECT pg_catalog.format('BND-%s', pg_catalog.lpad(i::text, 4, '0')), 'Gift set #' || i, 'bundle',
       round((30 + random() * 120)::numeric, 2)
  FROM generate_series(1, 300) AS i;
-- each bundle: two or three distinct simple components, one of them twice
INSERT INTO channel_sync.bundle_components (bundle_sku, component_sku, qty_per)
SELECT pg_catalog.format('BND-%s', pg_catalog.lpad(b::text, 4, '0')),
       pg_catalog.format('SKU-%s', pg_catalog.lpad((1 + ((b * 37 + c * 1013) % 9700))::text, 5, '0')),
       CASE WHEN c = 1 THEN 2 ELSE 1 END
  FROM generate_series(1, 300) AS b, generate_series(1, 2 + b % 2) AS c;

-- long tail: most SKUs hold a handful of units, a few hold hundreds
INSERT INTO channel_sync.stock (sku, location_id, on_hand, reserved, safety_stock)
SELECT sku, location_id, on_hand, least(on_hand, floor(random() * 3)::int),
       CASE WHEN location_id = '3pl-central' THEN 0 ELSE 1 END
  FROM (SELECT s.sku, l.location_id, floor(power(random(), 6) * 300)::int AS on_hand
          FROM channel_sync.skus s CROSS JOIN channel_sync.locations l
         WHERE s.kind = 'simple') AS q;

-- channel ids: ASINs on amazon, item ids on walmart and ebay, listing ids on etsy (a subset)
INSERT INTO channel_sync.sku_aliases (channel_id, external_id, sku)
SELECT 'amazon', 'B0' || upper(substr(md5(sku), 1, 8)), sku FROM channel_sync.skus
UNION ALL
SELECT 'walmart', (100000000 + row_number() OVER (ORDER BY sku))::text, sku FROM channel_sync.skus
UNION ALL
SELECT 'ebay', (300000000000 + row_number() OVER (ORDER BY sku))::text, sku FROM channel_sync.skus
UNION ALL
SELECT 'etsy', 'etsy-' || (row_number() OVER (ORDER BY sku)), sku FROM channel_sync.skus WHERE sku < 'SKU-03000';

-- marketplace prices run 8 % above the storefront's
INSERT INTO channel_sync.channel_prices (channel_id, sku, price)
SELECT c.channel_id, s.sku, round(s.base_price * 1.08, 2)
  FROM channel_sync.skus s CROSS JOIN channel_sync.channels c
 WHERE c.kind = 'marketplace' AND c.channel_id IN ('amazon', 'walmart');

-- the rules of the worked example (README): the storefront reserves 10 %, amazon keeps a
-- buffer of 2, walmart lists at most 20, etsy shows nothing below 5, ebay lists half
INSERT INTO channel_sync.allocation_rules (channel_id, buffer, reserve_pct, list_pct, cap, low_stock_cutoff) VALUES
  ('shop',    0, 10, 100, NULL, 0),
  ('amazon',  2,  0, 100, NULL, 0),
  ('walmart', 0,  0, 100,   20, 0),
  ('etsy',    0,  0, 100, NULL, 5),
  ('ebay',    0,  0,  50, NULL, 0);
\set QUIET off
