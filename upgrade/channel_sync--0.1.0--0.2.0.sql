\echo Use "ALTER EXTENSION channel_sync UPDATE TO '0.2.0'" to load this file. \quit
-- channel_sync 0.1.0 -> 0.2.0: adds channel_sync.version() and an index on channel_prices (sku).
-- Keep in step with the parts of src/ marked "-- since: 0.2.0" (test/upgrade compares).

-- version(): the installed version of the extension's SQL objects, so a connector or a
-- monitoring check can tell what it talks to (and that an ALTER EXTENSION ... UPDATE ran).
CREATE FUNCTION channel_sync.version() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT e.extversion FROM pg_catalog.pg_extension e WHERE e.extname = 'channel_sync'
$$;
COMMENT ON FUNCTION channel_sync.version() IS 'The installed version of channel_sync (pg_extension.extversion), e.g. 0.2.0.';
REVOKE EXECUTE ON FUNCTION channel_sync.version() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION channel_sync.version()
  TO channel_sync_admin, channel_sync_connector, channel_sync_reader;

-- Price lookups by SKU (re-targeting a handful of SKUs on every stock change reads their
-- channel prices); the primary key (channel_id, sku) cannot serve "sku = ANY(...)" alone.
CREATE INDEX channel_prices_sku_idx ON channel_sync.channel_prices (sku);
