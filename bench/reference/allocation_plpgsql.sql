-- The reference for bench/allocation: recompute_targets() as a team would write it in
-- straightforward PL/pgSQL — a loop over SKUs, one query for each SKU's per-channel pools,
-- rules and prices, the rules applied in PL/pgSQL, one upsert per SKU that bumps the
-- version only where qty or price changed. Same rules as channel_sync's C++ engine
-- (design §Allocation, holdbacks summed then rounded down once, inactive channels list 0
-- and hold nothing back, channel_locations / inactive locations), without bundles and
-- dynamic buffers (the benchmark catalog has neither).
CREATE SCHEMA IF NOT EXISTS bench_ref;

CREATE OR REPLACE FUNCTION bench_ref.recompute_targets(sample_every integer DEFAULT 1) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  s record;
  ids text[];
  actives boolean[];
  pools bigint[];
  buffers bigint[];
  reserves numeric[];
  list_pcts numeric[];
  caps bigint[];
  cutoffs bigint[];
  prices numeric[];
  qtys integer[];
  weight numeric;
  held bigint;
  qty bigint;
  n integer;
  rows_changed bigint;
  changed bigint := 0;
BEGIN
  FOR s IN SELECT k.sku, k.base_price FROM channel_sync.skus k
            WHERE k.kind = 'simple' AND (sample_every = 1 OR hashtext(k.sku) % sample_every = 0) LOOP
    SELECT array_agg(c.channel_id ORDER BY c.channel_id),
           array_agg(c.active ORDER BY c.channel_id),
           array_agg(coalesce((SELECT sum(greatest(0, st.on_hand - st.reserved - st.safety_stock))
                                 FROM channel_sync.stock st
                                 JOIN channel_sync.locations l ON l.location_id = st.location_id AND l.active
                                WHERE st.sku = s.sku
                                  AND (NOT EXISTS (SELECT 1 FROM channel_sync.channel_locations cl
                                                    WHERE cl.channel_id = c.channel_id)
                                       OR EXISTS (SELECT 1 FROM channel_sync.channel_locations cl
                                                   WHERE cl.channel_id = c.channel_id
                                                     AND cl.location_id = st.location_id))), 0)::bigint
                     ORDER BY c.channel_id),
           array_agg(coalesce(o.buffer, d.buffer, 0)::bigint ORDER BY c.channel_id),
           array_agg(coalesce(o.reserve_pct, d.reserve_pct, 0) ORDER BY c.channel_id),
           array_agg(coalesce(o.list_pct, d.list_pct, 100) ORDER BY c.channel_id),
           array_agg(CASE WHEN o.channel_id IS NOT NULL THEN o.cap ELSE d.cap END::bigint ORDER BY c.channel_id),
           array_agg(coalesce(o.low_stock_cutoff, d.low_stock_cutoff, 0)::bigint ORDER BY c.channel_id),
           array_agg(coalesce(cp.price, s.base_price) ORDER BY c.channel_id)
      INTO ids, actives, pools, buffers, reserves, list_pcts, caps, cutoffs, prices
      FROM channel_sync.channels c
      LEFT JOIN channel_sync.allocation_rules o ON o.channel_id = c.channel_id AND o.sku = s.sku
      LEFT JOIN channel_sync.allocation_rules d ON d.channel_id = c.channel_id AND d.sku IS NULL
      LEFT JOIN channel_sync.channel_prices cp ON cp.channel_id = c.channel_id AND cp.sku = s.sku;
    n := cardinality(ids);
    weight := 0;
    FOR i IN 1 .. n LOOP
      IF actives[i] THEN weight := weight + reserves[i] * pools[i]; END IF;
    END LOOP;
    qtys := '{}';
    FOR i IN 1 .. n LOOP
      held := least(pools[i], floor((weight - CASE WHEN actives[i] THEN reserves[i] * pools[i] ELSE 0 END) / 100));
      IF NOT actives[i] OR pools[i] < cutoffs[i] THEN
        qty := 0;
      ELSE
        qty := floor(list_pcts[i] * greatest(0, pools[i] - buffers[i] - held) / 100);
        IF caps[i] IS NOT NULL THEN qty := least(qty, caps[i]); END IF;
      END IF;
      qtys := qtys || qty::integer;
    END LOOP;
    INSERT INTO channel_sync.listings AS l (channel_id, sku, target_qty, target_price, target_version, target_since)
    SELECT u.channel_id, s.sku, u.qty, u.price, 1, now()
      FROM unnest(ids, qtys, prices) AS u(channel_id, qty, price)
    ON CONFLICT (channel_id, sku) DO UPDATE
       SET target_qty = EXCLUDED.target_qty, target_price = EXCLUDED.target_price,
           target_version = l.target_version + 1, target_since = now()
     WHERE (l.target_qty, l.target_price) IS DISTINCT FROM (EXCLUDED.target_qty, EXCLUDED.target_price);
    GET DIAGNOSTICS rows_changed = ROW_COUNT;
    changed := changed + rows_changed;
  END LOOP;
  RETURN changed;
END
$$;
