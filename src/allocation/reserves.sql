-- Reserves that sum to more than 100 % for one SKU are a configuration error: each
-- channel's reserve is held back from every other channel, so together they cannot
-- exceed the whole pool. The effective reserve of a channel for a SKU is its per-SKU
-- row, else its default row, else 0.

CREATE FUNCTION channel_sync._check_reserves() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  bad_sku text;
  total numeric;
  parts text;
  check_all boolean;
BEGIN
  -- a changed default row affects every SKU; a per-SKU row only its SKU
  IF TG_OP = 'DELETE' THEN
    SELECT s.sku, sum(coalesce(o.reserve_pct, d.reserve_pct, 0)),
           string_agg(pg_catalog.format('%s (%s)', c.channel_id, coalesce(o.reserve_pct, d.reserve_pct)), ', '
                      ORDER BY c.channel_id) FILTER (WHERE coalesce(o.reserve_pct, d.reserve_pct, 0) > 0)
      INTO bad_sku, total, parts
      FROM (SELECT DISTINCT x.sku FROM old_rules x WHERE x.sku IS NOT NULL) s
      CROSS JOIN channel_sync.channels c
      LEFT JOIN channel_sync.allocation_rules o ON o.channel_id = c.channel_id AND o.sku = s.sku
      LEFT JOIN channel_sync.allocation_rules d ON d.channel_id = c.channel_id AND d.sku IS NULL
     GROUP BY s.sku HAVING sum(coalesce(o.reserve_pct, d.reserve_pct, 0)) > 100
     ORDER BY s.sku LIMIT 1;
  ELSE
    check_all := EXISTS (SELECT 1 FROM new_rules x WHERE x.sku IS NULL);
    -- the defaults alone (every SKU without per-SKU rows)
    IF check_all THEN
      SELECT sum(d.reserve_pct),
             string_agg(pg_catalog.format('%s (%s)', d.channel_id, d.reserve_pct), ', ' ORDER BY d.channel_id)
               FILTER (WHERE d.reserve_pct > 0)
        INTO total, parts
        FROM channel_sync.allocation_rules d WHERE d.sku IS NULL;
      IF total > 100 THEN
        RAISE EXCEPTION 'default reserves sum to % %%, more than 100 %%', total
          USING ERRCODE = 'check_violation',
                DETAIL = pg_catalog.format('Channels reserving by default: %s. Each reserve is held back from every other channel, so together they cannot exceed the whole pool.', parts),
                HINT = 'Lower reserve_pct on one of these channels.';
      END IF;
    END IF;
    SELECT s.sku, sum(coalesce(o.reserve_pct, d.reserve_pct, 0)),
           string_agg(pg_catalog.format('%s (%s)', c.channel_id, coalesce(o.reserve_pct, d.reserve_pct)), ', '
                      ORDER BY c.channel_id) FILTER (WHERE coalesce(o.reserve_pct, d.reserve_pct, 0) > 0)
      INTO bad_sku, total, parts
      FROM (SELECT DISTINCT r.sku FROM channel_sync.allocation_rules r
             WHERE r.sku IS NOT NULL
               AND (check_all OR r.sku IN (SELECT x.sku FROM new_rules x))) s
      CROSS JOIN channel_sync.channels c
      LEFT JOIN channel_sync.allocation_rules o ON o.channel_id = c.channel_id AND o.sku = s.sku
      LEFT JOIN channel_sync.allocation_rules d ON d.channel_id = c.channel_id AND d.sku IS NULL
     GROUP BY s.sku HAVING sum(coalesce(o.reserve_pct, d.reserve_pct, 0)) > 100
     ORDER BY s.sku LIMIT 1;
  END IF;
  IF bad_sku IS NOT NULL THEN
    RAISE EXCEPTION 'reserves for sku "%" sum to % %%, more than 100 %%', bad_sku, total
      USING ERRCODE = 'check_violation',
            DETAIL = pg_catalog.format('Channels reserving for this SKU (per-SKU rule, else default): %s. Each reserve is held back from every other channel, so together they cannot exceed the whole pool.', parts),
            HINT = 'Lower reserve_pct on one of these channels for this SKU.';
  END IF;
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION channel_sync._check_reserves() IS 'Internal trigger: refuses allocation rules whose reserves sum to more than 100 % for a SKU.';

CREATE TRIGGER reserves_within_pool_insert AFTER INSERT ON channel_sync.allocation_rules
  REFERENCING NEW TABLE AS new_rules FOR EACH STATEMENT EXECUTE FUNCTION channel_sync._check_reserves();
CREATE TRIGGER reserves_within_pool_update AFTER UPDATE ON channel_sync.allocation_rules
  REFERENCING NEW TABLE AS new_rules FOR EACH STATEMENT EXECUTE FUNCTION channel_sync._check_reserves();
CREATE TRIGGER reserves_within_pool_delete AFTER DELETE ON channel_sync.allocation_rules
  REFERENCING OLD TABLE AS old_rules FOR EACH STATEMENT EXECUTE FUNCTION channel_sync._check_reserves();
