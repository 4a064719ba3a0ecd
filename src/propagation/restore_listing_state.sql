-- since: 0.4.0
-- restore_listing_state(): pg_dump does not keep listings (the triggers derive every target
-- again as the stock is restored), so a restored listing has lost what it had recorded from
-- its channel. This gives it back from the history that is dumped: the last acknowledgement
-- (propagation_log: what the channel was told, when, and the last quantity it reported) and
-- the last applied listing_observed (events). Only listings with none of it are written; the
-- acked version is not (versions are counted anew), so every listing is still delivered once.
CREATE FUNCTION channel_sync.restore_listing_state() RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  acked integer;
  observed integer;
BEGIN
  WITH last_ack AS (
    SELECT g.channel_id, g.sku,
           (pg_catalog.array_agg(g.qty ORDER BY g.acked_at DESC, g.log_id DESC))[1] AS qty,
           (pg_catalog.array_agg(g.price ORDER BY g.acked_at DESC, g.log_id DESC))[1] AS price,
           pg_catalog.max(g.acked_at) AS acked_at,
           (pg_catalog.array_agg(g.reported_qty ORDER BY g.acked_at DESC, g.log_id DESC)
              FILTER (WHERE g.reported_qty IS NOT NULL))[1] AS reported_qty
      FROM channel_sync.propagation_log g
     GROUP BY g.channel_id, g.sku)
  UPDATE channel_sync.listings l
     SET acked_qty = a.qty, acked_price = a.price, acked_at = a.acked_at,
         reported_qty = a.reported_qty
    FROM last_ack a
   WHERE l.channel_id = a.channel_id AND l.sku = a.sku
     AND l.acked_at IS NULL AND l.acked_version IS NULL AND l.reported_qty IS NULL;
  GET DIAGNOSTICS acked = ROW_COUNT;

  WITH seen AS (
    SELECT e.event_id, e.channel_id, coalesce(e.payload ->> 'sku', al.sku) AS sku, e.occurred_at,
           (e.payload ->> 'qty')::numeric::integer AS qty, (e.payload ->> 'price')::numeric AS price
      FROM channel_sync.events e
      LEFT JOIN channel_sync.sku_aliases al
             ON al.channel_id = e.channel_id AND al.external_id = e.payload ->> 'external_id'
     WHERE e.event_type = 'listing_observed' AND e.status = 'applied'),
  last_seen AS (
    SELECT s.channel_id, s.sku,
           (pg_catalog.array_agg(s.qty ORDER BY s.occurred_at DESC, s.event_id DESC))[1] AS qty,
           (pg_catalog.array_agg(s.price ORDER BY s.occurred_at DESC, s.event_id DESC)
              FILTER (WHERE s.price IS NOT NULL))[1] AS price,
           pg_catalog.max(s.occurred_at) AS occurred_at
      FROM seen s WHERE s.sku IS NOT NULL
     GROUP BY s.channel_id, s.sku)
  UPDATE channel_sync.listings l
     SET observed_qty = o.qty, observed_price = o.price, observed_at = o.occurred_at
    FROM last_seen o
   WHERE l.channel_id = o.channel_id AND l.sku = o.sku AND l.observed_at IS NULL;
  GET DIAGNOSTICS observed = ROW_COUNT;
  RETURN acked + observed;
END $$;
COMMENT ON FUNCTION channel_sync.restore_listing_state() IS 'Admin: after a restore, gives each listing back its last acknowledgement (qty, price, time, reported qty; from propagation_log) and its last applied listing_observed (from events), where it has none. Returns the number of listings written (a listing given both counts twice).';
REVOKE EXECUTE ON FUNCTION channel_sync.restore_listing_state() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION channel_sync.restore_listing_state() TO channel_sync_admin;
