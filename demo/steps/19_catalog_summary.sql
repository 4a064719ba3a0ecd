-- Step 19: what was loaded, in a few lines.
\pset footer off
\echo
\echo '== catalog'
SELECT (SELECT count(*) FROM channel_sync.channels) AS channels,
       (SELECT count(*) FROM channel_sync.locations) AS locations,
       (SELECT count(*) FROM channel_sync.skus WHERE kind = 'simple') AS simple_skus,
       (SELECT count(*) FROM channel_sync.skus WHERE kind = 'bundle') AS bundles,
       (SELECT count(*) FROM channel_sync.sku_aliases) AS aliases,
       (SELECT sum(on_hand) FROM channel_sync.stock) AS units_on_hand;
\echo '== stock per SKU (all locations): the long tail'
SELECT CASE lower_bound WHEN 0 THEN '0 (out of stock)' WHEN 1 THEN '1-4 (low)' WHEN 5 THEN '5-49'
                        WHEN 50 THEN '50-199' ELSE '200+' END AS units, count(*) AS skus
  FROM (SELECT sku, CASE WHEN sum(on_hand) = 0 THEN 0 WHEN sum(on_hand) < 5 THEN 1
                         WHEN sum(on_hand) < 50 THEN 5 WHEN sum(on_hand) < 200 THEN 50 ELSE 200 END AS lower_bound
          FROM channel_sync.stock GROUP BY sku) t
 GROUP BY lower_bound ORDER BY lower_bound;
\echo '== channels'
SELECT c.channel_id, c.kind, c.lag_target,
       coalesce(string_agg(cl.location_id, ', '), 'all active') AS fed_by,
       (SELECT count(*) FROM channel_sync.sku_aliases a WHERE a.channel_id = c.channel_id) AS aliases
  FROM channel_sync.channels c LEFT JOIN channel_sync.channel_locations cl USING (channel_id)
 GROUP BY c.channel_id, c.kind, c.lag_target ORDER BY c.kind DESC, c.channel_id;
