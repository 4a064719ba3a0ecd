-- Inbound events: ingest(), ingest_batch(), replay() and prune_events(). The hot path is
-- C++ (src/ingest/ingest_pg.cpp) running prepared SPI plans; payload validation, the
-- fingerprint and the order arithmetic are pure C++ beside it.

CREATE TYPE channel_sync.ingest_result AS (event_id bigint, status text, detail text);
COMMENT ON TYPE channel_sync.ingest_result IS 'Outcome of one inbound event: its event id, status (applied, duplicate, conflict, stale, rejected) and why.';

CREATE TABLE channel_sync.stock_counts (
  sku         text COLLATE "C" NOT NULL REFERENCES channel_sync.skus ON DELETE CASCADE,
  location_id text COLLATE "C" NOT NULL REFERENCES channel_sync.locations ON DELETE CASCADE,
  counted_at  timestamptz NOT NULL,
  event_id    bigint,
  PRIMARY KEY (sku, location_id)
);
COMMENT ON TABLE channel_sync.stock_counts IS 'The last applied stock_counted event per SKU and location: an older count arriving later is stale.';
COMMENT ON COLUMN channel_sync.stock_counts.counted_at IS 'occurred_at of the last applied count.';
COMMENT ON COLUMN channel_sync.stock_counts.event_id IS 'The stock_counted event that set it.';
SELECT pg_catalog.pg_extension_config_dump('channel_sync.stock_counts', '');

CREATE INDEX events_status_idx ON channel_sync.events (status, received_at)
  WHERE status IN ('conflict', 'rejected', 'stale');

CREATE FUNCTION channel_sync.ingest(channel_id text, idempotency_key text, event_type text,
                                    payload jsonb, occurred_at timestamptz DEFAULT pg_catalog.now())
  RETURNS channel_sync.ingest_result
  LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS 'MODULE_PATHNAME', 'cs_ingest';
COMMENT ON FUNCTION channel_sync.ingest(text, text, text, jsonb, timestamptz) IS 'Applies one inbound event exactly once per (channel, idempotency_key): applied, duplicate, conflict, stale or rejected.';

CREATE FUNCTION channel_sync.ingest_batch(channel_id text, events jsonb)
  RETURNS SETOF channel_sync.ingest_result
  LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS 'MODULE_PATHNAME', 'cs_ingest_batch';
COMMENT ON FUNCTION channel_sync.ingest_batch(text, jsonb) IS 'Ingests a JSON array of {idempotency_key, event_type, payload, occurred_at}: one result per element, in order; a bad element is rejected without failing the rest.';

CREATE FUNCTION channel_sync.replay(event_id bigint) RETURNS channel_sync.ingest_result
  LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS 'MODULE_PATHNAME', 'cs_replay';
COMMENT ON FUNCTION channel_sync.replay(bigint) IS 'Re-applies a rejected event after its cause was fixed (an alias added, a count corrected); refuses any other event.';

CREATE FUNCTION channel_sync.prune_events(older_than interval) RETURNS bigint
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  removed bigint;
BEGIN
  IF older_than IS NULL THEN
    RAISE EXCEPTION 'older_than must not be null' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF older_than < '0'::interval THEN
    RAISE EXCEPTION 'older_than must not be negative: "%"', older_than
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Keep history longer than the longest retry window of any channel (days, not hours).';
  END IF;
  DELETE FROM channel_sync.events e
   WHERE e.status IN ('applied', 'duplicate')
     AND e.received_at < pg_catalog.now() - older_than
     AND NOT EXISTS (SELECT 1 FROM channel_sync.events c WHERE c.first_event_id = e.event_id)
     AND NOT EXISTS (SELECT 1 FROM channel_sync.orders o
                      WHERE o.channel_id = e.channel_id AND o.order_id = e.payload ->> 'order_id'
                        AND o.state IN ('placed', 'partially_shipped'));
  GET DIAGNOSTICS removed = ROW_COUNT;
  RETURN removed;
END
$$;
COMMENT ON FUNCTION channel_sync.prune_events(interval) IS 'Deletes applied and duplicate event history received longer ago than older_than; keeps rejected, conflicting and stale events, keys that conflicts point at, and every event of an open order. Returns the number removed.';

CREATE INDEX events_first_event_idx ON channel_sync.events (first_event_id) WHERE first_event_id IS NOT NULL;
