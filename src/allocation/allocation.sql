-- Allocation: what each channel may list (design §Allocation). The engine is C++
-- (src/allocation/allocator.cpp); these are its SQL entry points.

CREATE TYPE channel_sync.alloc_rule AS (
  buffer            integer,
  reserve_pct       numeric,
  list_pct          numeric,
  cap               integer,
  low_stock_cutoff  integer,
  dynamic_buffer    boolean,
  velocity_per_hour double precision,
  lag_p95           interval
);
COMMENT ON TYPE channel_sync.alloc_rule IS 'One channel''s allocation rule for allocate(): the allocation_rules fields plus the dynamic-buffer inputs. NULL fields take the allocation_rules defaults (cap NULL = no cap, velocity and lag NULL = 0).';

CREATE FUNCTION channel_sync.allocate(pools integer[], rules channel_sync.alloc_rule[]) RETURNS integer[]
  LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'allocate';
COMMENT ON FUNCTION channel_sync.allocate(integer[], channel_sync.alloc_rule[]) IS 'The allocation engine: element i of the result is what channel i may list, given each channel''s pool and rule (what-if analysis).';

CREATE FUNCTION channel_sync.available_to_sell(channel_id text, sku text) RETURNS integer
  LANGUAGE c STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'available_to_sell';
COMMENT ON FUNCTION channel_sync.available_to_sell(text, text) IS 'Units of the SKU the channel may list right now, from the truth and the allocation rules.';

CREATE FUNCTION channel_sync.explain_allocation(sku text)
  RETURNS TABLE(channel_id text, pool integer, holdback integer, buffer integer, ats integer, limited_by text)
  LANGUAGE c STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'explain_allocation';
COMMENT ON FUNCTION channel_sync.explain_allocation(text) IS 'Per channel: the SKU''s pool, the units held back for other channels, the buffer, what it may list (ats) and the rule that decided it (limited_by).';

CREATE FUNCTION channel_sync._compute_targets(skus text[] DEFAULT NULL)
  RETURNS TABLE(channel_id text, sku text, target_qty integer, target_price numeric)
  LANGUAGE c STABLE SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', '_compute_targets';
COMMENT ON FUNCTION channel_sync._compute_targets(text[]) IS 'Internal: every channel''s listing target (quantity and price) for the SKUs (NULL = all); writes nothing.';

CREATE FUNCTION channel_sync._retarget(skus text[]) RETURNS bigint
  LANGUAGE c STRICT SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', '_retarget';
COMMENT ON FUNCTION channel_sync._retarget(text[]) IS 'Internal: recomputes the listing targets of the SKUs and writes the changed ones (version bumped); returns how many changed.';

CREATE FUNCTION channel_sync.recompute_targets() RETURNS bigint
  LANGUAGE c SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'recompute_targets';
COMMENT ON FUNCTION channel_sync.recompute_targets() IS 'Recomputes every listing target from the truth in one pass and returns how many changed; progress shows in pg_stat_activity.query.';
