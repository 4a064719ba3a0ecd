-- Step 20: allocation — every listing target computed from the truth in one C++ pass,
-- the README's worked example through the engine, and explain_allocation for a low-stock
-- SKU and a bundle.
\pset footer off
\echo
\echo '== recompute_targets(): every (channel, SKU) target from stock and rules, one pass'
SELECT clock_timestamp() AS t0 \gset
SELECT channel_sync.recompute_targets() AS targets_changed,
       round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) * 1000) AS ms;
SELECT count(*) AS listings, count(DISTINCT sku) AS skus, count(DISTINCT channel_id) AS channels,
       sum(target_qty) AS units_listed FROM channel_sync.listings;
\echo '   ... and again: nothing changed, nothing rewritten'
SELECT channel_sync.recompute_targets() AS targets_changed;

\echo '== the worked example through the engine: pools 100 and 4'
\echo '   storefront reserves 10 %, amazon buffer 2, walmart cap 20, etsy cut-off 5'
SELECT p AS pool,
       channel_sync.allocate(ARRAY[p, p, p, p], ARRAY[
         ROW(0, 10, 100, NULL, 0, false, 0, NULL),
         ROW(2, 0, 100, NULL, 0, false, 0, NULL),
         ROW(0, 0, 100, 20, 0, false, 0, NULL),
         ROW(0, 0, 100, NULL, 5, false, 0, NULL)]::channel_sync.alloc_rule[]) AS "ats: shop, amazon, walmart, etsy"
  FROM unnest(ARRAY[100, 4]) AS p;

\echo '== explain_allocation for a low-stock SKU'
SELECT s.sku AS low_stock_sku FROM channel_sync.skus s JOIN channel_sync.stock st USING (sku)
 WHERE s.kind = 'simple' GROUP BY s.sku
HAVING sum(greatest(0, st.on_hand - st.reserved - st.safety_stock)) BETWEEN 3 AND 4
 ORDER BY s.sku LIMIT 1 \gset
\echo '  ' :low_stock_sku ': 4 sellable units'
SELECT * FROM channel_sync.explain_allocation(:'low_stock_sku');

\echo '== explain_allocation for a bundle (pool = min over components of floor(pool / qty_per))'
SELECT b.bundle_sku AS bundle FROM channel_sync.bundle_components b
 GROUP BY b.bundle_sku HAVING min((SELECT sum(greatest(0, on_hand - reserved - safety_stock))
                                     FROM channel_sync.stock WHERE sku = b.component_sku) / b.qty_per) BETWEEN 5 AND 40
 ORDER BY 1 LIMIT 1 \gset
SELECT b.component_sku, b.qty_per,
       (SELECT sum(greatest(0, on_hand - reserved - safety_stock)) FROM channel_sync.stock s
         WHERE s.sku = b.component_sku) AS sellable_everywhere
  FROM channel_sync.bundle_components b WHERE b.bundle_sku = :'bundle' ORDER BY 1;
SELECT * FROM channel_sync.explain_allocation(:'bundle');
