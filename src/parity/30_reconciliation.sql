-- Parity and health, part 3: daily reconciliation (with a parity history recorded by
-- snapshot_parity(), safe to schedule with pg_cron) and the exceptions queue.

CREATE TABLE channel_sync.parity_history (
  day            date NOT NULL,
  channel_id     text COLLATE "C" NOT NULL REFERENCES channel_sync.channels ON DELETE CASCADE,
  listings       integer NOT NULL,
  in_sync        integer NOT NULL,
  oversell_risk  integer NOT NULL,
  undersell      integer NOT NULL,
  pending        integer NOT NULL,
  unknown        integer NOT NULL,
  source_units   bigint NOT NULL,
  abs_delta_units bigint NOT NULL,
  variance_pct   numeric,
  recorded_at    timestamptz NOT NULL,
  PRIMARY KEY (day, channel_id)
);
COMMENT ON TABLE channel_sync.parity_history IS 'One row per day and channel: the parity recorded by snapshot_parity() (the last run of the day wins).';
COMMENT ON COLUMN channel_sync.parity_history.day IS 'current_date (session TimeZone) when recorded.';
COMMENT ON COLUMN channel_sync.parity_history.channel_id IS 'The channel.';
COMMENT ON COLUMN channel_sync.parity_history.listings IS 'Listings of the channel.';
COMMENT ON COLUMN channel_sync.parity_history.in_sync IS 'Listings with parity status in_sync.';
COMMENT ON COLUMN channel_sync.parity_history.oversell_risk IS 'Listings with parity status oversell_risk.';
COMMENT ON COLUMN channel_sync.parity_history.undersell IS 'Listings with parity status undersell.';
COMMENT ON COLUMN channel_sync.parity_history.pending IS 'Listings with parity status pending.';
COMMENT ON COLUMN channel_sync.parity_history.unknown IS 'Listings with parity status unknown.';
COMMENT ON COLUMN channel_sync.parity_history.source_units IS 'sum source_qty over listings whose channel_qty is known.';
COMMENT ON COLUMN channel_sync.parity_history.abs_delta_units IS 'sum |channel_qty - source_qty| over the same listings.';
COMMENT ON COLUMN channel_sync.parity_history.variance_pct IS '100 x abs_delta_units / source_units (3 decimals; NULL when source_units = 0).';
COMMENT ON COLUMN channel_sync.parity_history.recorded_at IS 'When snapshot_parity() recorded the row.';
SELECT pg_catalog.pg_extension_config_dump('channel_sync.parity_history', '');

CREATE FUNCTION channel_sync.snapshot_parity() RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  recorded integer;
BEGIN
  INSERT INTO channel_sync.parity_history AS h
    (day, channel_id, listings, in_sync, oversell_risk, undersell, pending, unknown,
     source_units, abs_delta_units, variance_pct, recorded_at)
  SELECT current_date, c.channel_id, count(p.sku),
         count(*) FILTER (WHERE p.status = 'in_sync'),
         count(*) FILTER (WHERE p.status = 'oversell_risk'),
         count(*) FILTER (WHERE p.status = 'undersell'),
         count(*) FILTER (WHERE p.status = 'pending'),
         count(*) FILTER (WHERE p.status = 'unknown'),
         coalesce(sum(p.source_qty) FILTER (WHERE p.channel_qty IS NOT NULL), 0),
         coalesce(sum(abs(p.qty_delta)), 0),
         round(100.0 * sum(abs(p.qty_delta)) / nullif(sum(p.source_qty) FILTER (WHERE p.channel_qty IS NOT NULL), 0), 3),
         now()
    FROM channel_sync.channels c
    LEFT JOIN channel_sync.parity p ON p.channel_id = c.channel_id
   GROUP BY c.channel_id
  ON CONFLICT (day, channel_id) DO UPDATE SET
    listings = EXCLUDED.listings, in_sync = EXCLUDED.in_sync, oversell_risk = EXCLUDED.oversell_risk,
    undersell = EXCLUDED.undersell, pending = EXCLUDED.pending, unknown = EXCLUDED.unknown,
    source_units = EXCLUDED.source_units, abs_delta_units = EXCLUDED.abs_delta_units,
    variance_pct = EXCLUDED.variance_pct, recorded_at = EXCLUDED.recorded_at;
  GET DIAGNOSTICS recorded = ROW_COUNT;
  RETURN recorded;
END
$$;
COMMENT ON FUNCTION channel_sync.snapshot_parity() IS
  'Records today''s parity per channel into parity_history and returns the number of channels recorded. Idempotent per day: a second run the same day replaces that day''s rows (schedule it with pg_cron, e.g. every hour or at 23:55).';

CREATE VIEW channel_sync.reconciliation_daily AS
WITH ev AS (
  SELECT (received_at)::date AS day, channel_id, count(*) AS events,
         count(*) FILTER (WHERE status = 'applied') AS applied,
         sum(duplicates) + count(*) FILTER (WHERE status = 'duplicate') AS duplicates,
         count(*) FILTER (WHERE status = 'conflict') AS conflicts,
         count(*) FILTER (WHERE status = 'stale') AS stale,
         count(*) FILTER (WHERE status = 'rejected') AS rejected,
         count(*) FILTER (WHERE status = 'rejected' AND detail ~* 'unknown (sku|alias|external)') AS unmatched
    FROM channel_sync.events GROUP BY 1, 2
), ord AS (
  SELECT (o.placed_at)::date AS day, o.channel_id, count(*) AS orders, coalesce(sum(l.units), 0) AS units,
         count(*) FILTER (WHERE o.oversold) AS oversold
    FROM channel_sync.orders o
    LEFT JOIN (SELECT channel_id, order_id, sum(qty) AS units FROM channel_sync.order_lines GROUP BY 1, 2) l
           ON l.channel_id = o.channel_id AND l.order_id = o.order_id
   GROUP BY 1, 2
)
SELECT day, channel_id,
       coalesce(ev.events, 0) AS events, coalesce(ev.applied, 0) AS applied,
       coalesce(ev.duplicates, 0) AS duplicates, coalesce(ev.conflicts, 0) AS conflicts,
       coalesce(ev.stale, 0) AS stale, coalesce(ev.rejected, 0) AS rejected,
       coalesce(ev.unmatched, 0) AS unmatched,
       coalesce(ord.orders, 0) AS orders, coalesce(ord.units, 0) AS units,
       coalesce(ord.oversold, 0) AS oversold_orders,
       h.listings, h.in_sync, h.oversell_risk, h.abs_delta_units, h.source_units, h.variance_pct,
       channel_sync._band(h.variance_pct, t.better, t.healthy_limit, t.watch_limit) AS variance_band
  FROM ev
  FULL JOIN ord USING (day, channel_id)
  FULL JOIN channel_sync.parity_history h USING (day, channel_id)
  LEFT JOIN channel_sync.health_thresholds t ON t.metric = 'reconciliation_variance';
COMMENT ON VIEW channel_sync.reconciliation_daily IS
  'Per day (session TimeZone) and channel: inbound events by status, orders and units, and the parity recorded that day by snapshot_parity() (NULL on days without a snapshot).';
COMMENT ON COLUMN channel_sync.reconciliation_daily.day IS 'Day of events.received_at, orders.placed_at and parity_history.day.';
COMMENT ON COLUMN channel_sync.reconciliation_daily.channel_id IS 'The channel.';
COMMENT ON COLUMN channel_sync.reconciliation_daily.events IS 'Inbound event rows received that day (every status).';
COMMENT ON COLUMN channel_sync.reconciliation_daily.applied IS 'Events applied.';
COMMENT ON COLUMN channel_sync.reconciliation_daily.duplicates IS 'Duplicate deliveries (events.duplicates plus rows with status duplicate).';
COMMENT ON COLUMN channel_sync.reconciliation_daily.conflicts IS 'Events with status conflict (a key reused with other content).';
COMMENT ON COLUMN channel_sync.reconciliation_daily.stale IS 'Events with status stale.';
COMMENT ON COLUMN channel_sync.reconciliation_daily.rejected IS 'Events with status rejected (any reason).';
COMMENT ON COLUMN channel_sync.reconciliation_daily.unmatched IS 'Rejected events whose detail names an unknown SKU, alias or external id (fix the catalog, then replay).';
COMMENT ON COLUMN channel_sync.reconciliation_daily.orders IS 'Orders placed that day.';
COMMENT ON COLUMN channel_sync.reconciliation_daily.units IS 'Units reserved by those orders (sum of order_lines.qty; a bundle counts its component units).';
COMMENT ON COLUMN channel_sync.reconciliation_daily.oversold_orders IS 'Of those orders, the ones the truth could not cover.';
COMMENT ON COLUMN channel_sync.reconciliation_daily.listings IS 'Listings at the day''s parity snapshot.';
COMMENT ON COLUMN channel_sync.reconciliation_daily.in_sync IS 'Listings in_sync at the snapshot.';
COMMENT ON COLUMN channel_sync.reconciliation_daily.oversell_risk IS 'Listings at oversell_risk at the snapshot.';
COMMENT ON COLUMN channel_sync.reconciliation_daily.abs_delta_units IS 'sum |channel qty - source qty| at the snapshot.';
COMMENT ON COLUMN channel_sync.reconciliation_daily.source_units IS 'sum source qty (listings with a known channel qty) at the snapshot.';
COMMENT ON COLUMN channel_sync.reconciliation_daily.variance_pct IS 'Reconciliation variance: 100 x abs_delta_units / source_units.';
COMMENT ON COLUMN channel_sync.reconciliation_daily.variance_band IS 'Band of variance_pct against health_thresholds reconciliation_variance.';

CREATE VIEW channel_sync.exceptions AS
SELECT x.kind, x.severity,
       CASE x.severity WHEN 'critical' THEN 1 WHEN 'high' THEN 2 ELSE 3 END AS severity_rank,
       x.since, x.channel_id, x.sku, x.key, x.detail, x.action
  FROM (
    SELECT 'oversold_order' AS kind, 'critical' AS severity, o.placed_at AS since, o.channel_id,
           (SELECT pg_catalog.string_agg(DISTINCT ol.sold_sku, ',' ORDER BY ol.sold_sku)
              FROM channel_sync.order_lines ol
             WHERE ol.channel_id = o.channel_id AND ol.order_id = o.order_id) AS sku,
           pg_catalog.jsonb_build_object('channel_id', o.channel_id, 'order_id', o.order_id) AS key,
           pg_catalog.format('order %s is %s but the stock could not cover it when it arrived', o.order_id, o.state) AS detail,
           'Ship it from another location or cancel it and tell the buyer; then check why the channel showed more than the truth.' AS action
      FROM channel_sync.orders o
     WHERE o.oversold AND o.state IN ('placed', 'partially_shipped')
    UNION ALL
    SELECT 'negative_stock', 'critical', NULL::timestamptz, NULL, s.sku,
           pg_catalog.jsonb_build_object('sku', s.sku, 'location_id', s.location_id),
           pg_catalog.format('%s reserved but %s on hand at %s (sellable %s)', s.reserved, s.on_hand, s.location_id,
                             s.on_hand - s.reserved - s.safety_stock),
           'Count the location, then receive stock or move or cancel the reservations.'
      FROM channel_sync.stock s
     WHERE s.on_hand - s.reserved < 0
    UNION ALL
    SELECT 'propagation_gap', CASE WHEN g.message_state = 'missing' THEN 'critical'
                                   WHEN g.waiting > 4 * g.lag_target THEN 'high' ELSE 'medium' END,
           g.first_change_at, g.channel_id, g.sku,
           pg_catalog.jsonb_build_object('channel_id', g.channel_id, 'sku', g.sku, 'message_id', g.message_id),
           pg_catalog.format('change %s for %s, %s past the lag target of %s', g.message_state,
                             pg_catalog.date_trunc('second', g.waiting), pg_catalog.date_trunc('second', g.overdue_by), g.lag_target),
           CASE WHEN g.message_state = 'missing' THEN 'The change never reached the outbox: check disabled triggers and run channel_sync.verify(fix => true).'
                ELSE 'Check the connector of the channel: is it running, claiming and acknowledging?' END
      FROM channel_sync.propagation_gaps g
     WHERE g.message_state <> 'dead'
    UNION ALL
    SELECT 'dead_message', 'high', o.first_change_at, o.channel_id, o.sku,
           pg_catalog.jsonb_build_object('message_id', o.message_id),
           pg_catalog.format('gave up after %s attempts: %s', o.attempts, coalesce(o.last_error, 'no error text')),
           'Fix the cause of the connector error, then deliver the message again.'
      FROM channel_sync.outbox o
     WHERE o.status = 'dead'
    UNION ALL
    SELECT 'rejected_event', 'high', e.received_at, e.channel_id, NULL,
           pg_catalog.jsonb_build_object('event_id', e.event_id),
           pg_catalog.format('%s %s rejected: %s', e.event_type, e.idempotency_key, coalesce(e.detail, 'no reason recorded')),
           'Fix the cause (for example add the SKU alias), then replay the event.'
      FROM channel_sync.events e
     WHERE e.status = 'rejected'
    UNION ALL
    SELECT 'conflict', 'medium', e.received_at, e.channel_id, NULL,
           pg_catalog.jsonb_build_object('event_id', e.event_id, 'first_event_id', e.first_event_id),
           pg_catalog.format('%s key %s reused with different content%s', e.event_type, e.idempotency_key,
                             coalesce(': ' || e.detail, '')),
           'Compare with the first delivery of the key and fix the sender; nothing was applied.'
      FROM channel_sync.events e
     WHERE e.status = 'conflict' AND e.received_at > pg_catalog.now() - interval '7 days'
  ) x;
COMMENT ON VIEW channel_sync.exceptions IS
  'One queue of everything that needs a person. Kinds and severities: oversold_order (critical; open orders, state placed or partially_shipped, marked oversold), negative_stock (critical; reserved > on_hand at a location), propagation_gap (critical when the change never reached the outbox, high when waiting > 4 x lag_target, else medium; dead ones are listed as dead_message), dead_message (high), rejected_event (high; until replayed), conflict (medium; received in the last 7 days). Order by severity_rank, since.';
COMMENT ON COLUMN channel_sync.exceptions.kind IS 'oversold_order, negative_stock, propagation_gap, dead_message, rejected_event or conflict.';
COMMENT ON COLUMN channel_sync.exceptions.severity IS 'critical, high or medium (see the view comment).';
COMMENT ON COLUMN channel_sync.exceptions.severity_rank IS '1 critical, 2 high, 3 medium: ORDER BY severity_rank, since.';
COMMENT ON COLUMN channel_sync.exceptions.since IS 'When the problem started: order placed, first unacknowledged change, event received; NULL for negative_stock (stock rows carry no time).';
COMMENT ON COLUMN channel_sync.exceptions.channel_id IS 'The channel concerned (NULL for negative_stock).';
COMMENT ON COLUMN channel_sync.exceptions.sku IS 'The SKU concerned (sold SKUs of an order, comma separated; NULL for events).';
COMMENT ON COLUMN channel_sync.exceptions.key IS 'The key to act on, as jsonb: order (channel_id, order_id), stock (sku, location_id), listing (channel_id, sku, message_id), message_id or event_id.';
COMMENT ON COLUMN channel_sync.exceptions.detail IS 'What is wrong, in one sentence.';
COMMENT ON COLUMN channel_sync.exceptions.action IS 'What to do about it.';
