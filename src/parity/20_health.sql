-- Parity and health, part 2: the views an analyst queries. All read-only (every view joins
-- several relations or aggregates, so none is auto-updatable); they read what allocation
-- (listings targets), propagation (outbox, propagation_log) and ingest (events, orders)
-- write. Windows: "last 24 h" means now() - interval '24 hours' < t <= now().

-- ---------------------------------------------------------------------------------------
-- Health bands
CREATE TABLE channel_sync.health_thresholds (
  metric        text PRIMARY KEY CONSTRAINT metric_format CHECK (metric ~ '^[a-z][a-z0-9_]{0,62}$'),
  unit          text NOT NULL CONSTRAINT threshold_unit_known CHECK (unit IN ('minutes', 'percent')),
  better        text NOT NULL CONSTRAINT threshold_better_known CHECK (better IN ('lower', 'higher')),
  healthy_limit numeric NOT NULL,
  watch_limit   numeric NOT NULL,
  description   text NOT NULL DEFAULT '',
  is_default    boolean NOT NULL DEFAULT false,
  CONSTRAINT limits_ordered CHECK (CASE better WHEN 'lower' THEN healthy_limit <= watch_limit
                                                ELSE healthy_limit >= watch_limit END)
);
COMMENT ON TABLE channel_sync.health_thresholds IS
  'Health bands per metric, seeded with industry KPI values and editable by the admin. For better = lower: healthy if value <= healthy_limit, watch if value <= watch_limit, else intervention; for better = higher: healthy if value >= healthy_limit, watch if value >= watch_limit, else intervention. No value (no data) gives no band.';
COMMENT ON COLUMN channel_sync.health_thresholds.metric IS 'inventory_sync_p95_lag, price_propagation_p95_lag, order_handoff_success, reconciliation_variance or stock_mismatch_cancellations.';
COMMENT ON COLUMN channel_sync.health_thresholds.unit IS 'minutes or percent: the unit of the two limits.';
COMMENT ON COLUMN channel_sync.health_thresholds.better IS 'lower (lags, variance, cancellations) or higher (success rates).';
COMMENT ON COLUMN channel_sync.health_thresholds.healthy_limit IS 'Edge of the healthy band (inclusive).';
COMMENT ON COLUMN channel_sync.health_thresholds.watch_limit IS 'Edge of the watch band (inclusive); beyond it: intervention.';
COMMENT ON COLUMN channel_sync.health_thresholds.description IS 'What the metric measures.';
COMMENT ON COLUMN channel_sync.health_thresholds.is_default IS 'true for a row as seeded by CREATE EXTENSION; any UPDATE makes it false. Only rows with false are dumped by pg_dump (a restore re-seeds the defaults and the dumped rows replace them).';

CREATE FUNCTION channel_sync._health_threshold_edit() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    NEW.is_default := false;
  ELSE
    -- a user row (or a restored one) replaces the seeded default of the same metric
    DELETE FROM channel_sync.health_thresholds WHERE metric = NEW.metric AND is_default;
  END IF;
  RETURN NEW;
END
$$;
COMMENT ON FUNCTION channel_sync._health_threshold_edit() IS 'Internal trigger: an edited threshold stops being a seeded default; an inserted one replaces the default of its metric (so pg_dump/restore keeps edits without duplicating seeds).';
CREATE TRIGGER health_threshold_edit BEFORE INSERT OR UPDATE ON channel_sync.health_thresholds
  FOR EACH ROW EXECUTE FUNCTION channel_sync._health_threshold_edit();
ALTER TABLE channel_sync.health_thresholds ENABLE ALWAYS TRIGGER health_threshold_edit;

INSERT INTO channel_sync.health_thresholds (metric, unit, better, healthy_limit, watch_limit, description, is_default) VALUES
  ('inventory_sync_p95_lag', 'minutes', 'lower', 3, 12, 'p95 of acked_at - first_change_at over the last 24 h of deliveries (healthy <= 3 min, watch 4-12 min, intervention > 12 min).', true),
  ('price_propagation_p95_lag', 'minutes', 'lower', 6, 25, 'p95 lag of the deliveries of the last 24 h that changed the price (healthy <= 6 min, watch 7-25 min, intervention > 25 min).', true),
  ('order_handoff_success', 'percent', 'higher', 99.4, 98.5, 'Acknowledged deliveries / delivery attempts (healthy >= 99.4 %, watch 98.5-99.3 %, intervention < 98.5 %).', true),
  ('reconciliation_variance', 'percent', 'lower', 0.3, 0.9, 'sum |channel qty - source qty| / sum source qty (healthy <= 0.3 %, watch 0.31-0.9 %, intervention > 0.9 %).', true),
  ('stock_mismatch_cancellations', 'percent', 'lower', 0.5, 1.2, 'Orders cancelled after being oversold / orders, last 24 h (healthy <= 0.5 %, watch 0.51-1.2 %, intervention > 1.2 %).', true);

SELECT pg_catalog.pg_extension_config_dump('channel_sync.health_thresholds', 'WHERE NOT is_default');

CREATE FUNCTION channel_sync._band(value numeric, better text, healthy_limit numeric, watch_limit numeric)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE
    WHEN value IS NULL OR better IS NULL THEN NULL
    WHEN better = 'lower' AND value <= healthy_limit THEN 'healthy'
    WHEN better = 'lower' AND value <= watch_limit THEN 'watch'
    WHEN better = 'lower' THEN 'intervention'
    WHEN value >= healthy_limit THEN 'healthy'
    WHEN value >= watch_limit THEN 'watch'
    ELSE 'intervention' END
$$;
COMMENT ON FUNCTION channel_sync._band(numeric, text, numeric, numeric) IS 'Internal: healthy, watch or intervention for a value against a threshold row; NULL without a value.';

CREATE FUNCTION channel_sync._band_rank(band text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE band WHEN 'intervention' THEN 3 WHEN 'watch' THEN 2 WHEN 'healthy' THEN 1 END
$$;
COMMENT ON FUNCTION channel_sync._band_rank(text) IS 'Internal: 1 healthy, 2 watch, 3 intervention, NULL for no band (to take the worst).';

-- ---------------------------------------------------------------------------------------
-- Parity: per listing, the truth against what the channel shows
CREATE VIEW channel_sync.parity AS
SELECT l.channel_id,
       l.sku,
       l.target_qty AS source_qty,
       ch.qty AS channel_qty,
       ch.source AS channel_qty_source,
       ch.seen_at AS channel_seen_at,
       ch.qty - l.target_qty AS qty_delta,
       l.target_price AS source_price,
       ch.price AS channel_price,
       ch.price - l.target_price AS price_delta,
       st.status,
       CASE WHEN st.status = 'in_sync' THEN NULL
            ELSE coalesce(o.first_change_at, GREATEST(l.target_since, ch.seen_at)) END AS diverged_since,
       o.message_id AS pending_message_id
  FROM channel_sync.listings l
  LEFT JOIN channel_sync.outbox o
         ON o.channel_id = l.channel_id AND o.sku = l.sku AND o.status = 'pending'
  CROSS JOIN LATERAL (
    SELECT CASE WHEN fresh THEN l.observed_qty WHEN l.reported_qty IS NOT NULL THEN l.reported_qty
                WHEN l.acked_qty IS NOT NULL THEN l.acked_qty ELSE l.observed_qty END AS qty,
           CASE WHEN fresh THEN 'observed' WHEN l.reported_qty IS NOT NULL THEN 'reported'
                WHEN l.acked_qty IS NOT NULL THEN 'acked'
                WHEN l.observed_qty IS NOT NULL THEN 'observed' END AS source,
           CASE WHEN fresh THEN l.observed_at WHEN l.reported_qty IS NOT NULL OR l.acked_qty IS NOT NULL
                THEN l.acked_at ELSE l.observed_at END AS seen_at,
           CASE WHEN fresh THEN coalesce(l.observed_price, l.acked_price)
                ELSE coalesce(l.acked_price, l.observed_price) END AS price
      FROM (SELECT l.observed_qty IS NOT NULL
                   AND (l.acked_at IS NULL OR l.observed_at >= l.acked_at) AS fresh) f
  ) ch
  CROSS JOIN LATERAL (
    SELECT CASE WHEN ch.qty > l.target_qty THEN 'oversell_risk'
                WHEN o.message_id IS NOT NULL THEN 'pending'
                WHEN ch.qty IS NULL THEN 'unknown'
                WHEN ch.qty < l.target_qty THEN 'undersell'
                ELSE 'in_sync' END AS status
  ) st;
COMMENT ON VIEW channel_sync.parity IS
  'Per listing: what the truth allows (source) against what the channel shows, the difference and a status. Status, first match wins: oversell_risk = the channel shows more than source_qty; pending = a pending outbox message is on its way; unknown = the channel never acknowledged nor reported a quantity; undersell = the channel shows less; in_sync = equal quantities. Status is about quantity; price drift is in price_delta.';
COMMENT ON COLUMN channel_sync.parity.channel_id IS 'The channel.';
COMMENT ON COLUMN channel_sync.parity.sku IS 'The canonical SKU.';
COMMENT ON COLUMN channel_sync.parity.source_qty IS 'What the truth allows this channel to list: listings.target_qty.';
COMMENT ON COLUMN channel_sync.parity.channel_qty IS 'What the channel shows: the observed quantity (listing_observed) if it is at least as recent as the last ack, else the quantity the channel reported at the last ack, else the acknowledged quantity; NULL if none.';
COMMENT ON COLUMN channel_sync.parity.channel_qty_source IS 'Where channel_qty comes from: observed, reported or acked (NULL when unknown).';
COMMENT ON COLUMN channel_sync.parity.channel_seen_at IS 'When channel_qty was observed or acknowledged.';
COMMENT ON COLUMN channel_sync.parity.qty_delta IS 'channel_qty - source_qty: > 0 the channel may oversell, < 0 it undersells.';
COMMENT ON COLUMN channel_sync.parity.source_price IS 'Price the channel should list: listings.target_price.';
COMMENT ON COLUMN channel_sync.parity.channel_price IS 'Price the channel shows (observed if fresh, else acknowledged).';
COMMENT ON COLUMN channel_sync.parity.price_delta IS 'channel_price - source_price (NULL when either is unknown).';
COMMENT ON COLUMN channel_sync.parity.status IS 'in_sync, oversell_risk, undersell, pending or unknown (see the view comment).';
COMMENT ON COLUMN channel_sync.parity.diverged_since IS 'NULL when in_sync; else the first unpropagated change of a pending message, or the later of target_since and channel_seen_at.';
COMMENT ON COLUMN channel_sync.parity.pending_message_id IS 'The pending outbox message carrying the current target, if any.';

-- ---------------------------------------------------------------------------------------
-- Propagation gaps: changes not acknowledged within the channel's lag_target
CREATE VIEW channel_sync.propagation_gaps AS
SELECT g.channel_id, g.sku, g.message_id, g.message_state, g.first_change_at,
       pg_catalog.now() - g.first_change_at AS waiting,
       c.lag_target,
       (pg_catalog.now() - g.first_change_at) - c.lag_target AS overdue_by,
       g.attempts, g.last_error
  FROM (SELECT o.channel_id, o.sku, o.message_id, o.status AS message_state, o.first_change_at,
               o.attempts, o.last_error
          FROM channel_sync.outbox o
        UNION ALL
        SELECT l.channel_id, l.sku, NULL, 'missing', l.target_since, 0, NULL
          FROM channel_sync.listings l
         WHERE l.target_version > coalesce(l.acked_version, 0)
           AND NOT EXISTS (SELECT 1 FROM channel_sync.outbox o
                            WHERE o.channel_id = l.channel_id AND o.sku = l.sku)) g
  JOIN channel_sync.channels c ON c.channel_id = g.channel_id
 WHERE pg_catalog.now() - g.first_change_at > c.lag_target;
COMMENT ON VIEW channel_sync.propagation_gaps IS
  'Listings whose change has not been acknowledged within the channel''s lag_target: outbox messages (pending or dead) older than lag_target, and listings whose target_version is ahead of acked_version with no outbox message at all (missing: the change that never fired).';
COMMENT ON COLUMN channel_sync.propagation_gaps.channel_id IS 'The channel.';
COMMENT ON COLUMN channel_sync.propagation_gaps.sku IS 'The canonical SKU.';
COMMENT ON COLUMN channel_sync.propagation_gaps.message_id IS 'The outbox message, NULL when missing.';
COMMENT ON COLUMN channel_sync.propagation_gaps.message_state IS 'pending (not yet acknowledged), dead (gave up after max_attempts) or missing (target changed, no message).';
COMMENT ON COLUMN channel_sync.propagation_gaps.first_change_at IS 'First unacknowledged change (outbox.first_change_at; listings.target_since when missing).';
COMMENT ON COLUMN channel_sync.propagation_gaps.waiting IS 'now() - first_change_at.';
COMMENT ON COLUMN channel_sync.propagation_gaps.lag_target IS 'The channel''s lag_target.';
COMMENT ON COLUMN channel_sync.propagation_gaps.overdue_by IS 'waiting - lag_target (> 0).';
COMMENT ON COLUMN channel_sync.propagation_gaps.attempts IS 'Failed delivery attempts so far.';
COMMENT ON COLUMN channel_sync.propagation_gaps.last_error IS 'Error the connector reported last.';

-- ---------------------------------------------------------------------------------------
-- Channel health: one row per channel, metrics and bands
CREATE VIEW channel_sync.channel_health AS
WITH par AS (
  SELECT channel_id, count(*) AS listings,
         count(*) FILTER (WHERE status = 'in_sync') AS in_sync,
         count(*) FILTER (WHERE status = 'oversell_risk') AS oversell_risk,
         sum(pg_catalog.abs(qty_delta)) AS abs_delta,
         sum(source_qty) FILTER (WHERE channel_qty IS NOT NULL) AS source_units
    FROM channel_sync.parity GROUP BY channel_id
), deliveries AS (
  SELECT channel_id, acked_at - first_change_at AS lag_time, GREATEST(attempts, 1) AS attempts,
         price IS DISTINCT FROM pg_catalog.lag(price) OVER w AND pg_catalog.lag(log_id) OVER w IS NOT NULL AS price_change
    FROM channel_sync.propagation_log
   WHERE acked_at > pg_catalog.now() - interval '24 hours' AND acked_at <= pg_catalog.now()
  WINDOW w AS (PARTITION BY channel_id, sku ORDER BY acked_at, log_id)
), lags AS (
  SELECT channel_id, count(*) AS acked, sum(attempts) AS attempts,
         channel_sync.quantiles(channel_sync.lag_sketch(lag_time), '{0.5,0.95,0.99}') AS q,
         channel_sync.quantile(channel_sync.lag_sketch(lag_time) FILTER (WHERE price_change), 0.95) AS price_p95
    FROM deliveries GROUP BY channel_id
), box AS (
  SELECT channel_id, count(*) FILTER (WHERE status = 'pending') AS pending,
         min(first_change_at) FILTER (WHERE status = 'pending') AS oldest_change,
         count(*) FILTER (WHERE status = 'dead') AS dead,
         sum(attempts) AS failed_attempts
    FROM channel_sync.outbox GROUP BY channel_id
), ev AS (
  SELECT channel_id, count(*) AS events,
         sum(duplicates) + count(*) FILTER (WHERE status = 'duplicate') AS duplicates,
         count(*) FILTER (WHERE status = 'conflict') AS conflicts,
         count(*) FILTER (WHERE status = 'rejected') AS rejected
    FROM channel_sync.events
   WHERE received_at > pg_catalog.now() - interval '24 hours' AND received_at <= pg_catalog.now()
   GROUP BY channel_id
), ord AS (
  SELECT channel_id, count(*) AS orders,
         count(*) FILTER (WHERE state = 'cancelled' AND oversold) AS mismatch_cancelled
    FROM channel_sync.orders
   WHERE placed_at > pg_catalog.now() - interval '24 hours' AND placed_at <= pg_catalog.now()
   GROUP BY channel_id
), m AS (
  SELECT c.channel_id,
         coalesce(par.listings, 0) AS listings,
         pg_catalog.round(100.0 * par.in_sync / nullif(par.listings, 0), 2) AS in_sync_pct,
         coalesce(par.oversell_risk, 0) AS oversell_risk,
         pg_catalog.make_interval(secs => pg_catalog.round(lags.q[1]::numeric, 3)) AS lag_p50,
         pg_catalog.make_interval(secs => pg_catalog.round(lags.q[2]::numeric, 3)) AS lag_p95,
         pg_catalog.make_interval(secs => pg_catalog.round(lags.q[3]::numeric, 3)) AS lag_p99,
         pg_catalog.make_interval(secs => pg_catalog.round(lags.price_p95::numeric, 3)) AS price_lag_p95,
         coalesce(box.pending, 0) AS pending,
         pg_catalog.now() - box.oldest_change AS oldest_pending,
         coalesce(box.dead, 0) AS dead,
         pg_catalog.round(100.0 * lags.acked / nullif(coalesce(lags.attempts, 0) + coalesce(box.failed_attempts, 0), 0), 2) AS handoff_success_pct,
         pg_catalog.round(100.0 * ev.duplicates / nullif(ev.events + ev.duplicates, 0), 2) AS duplicate_pct,
         coalesce(ev.conflicts, 0) AS conflicts,
         coalesce(ev.rejected, 0) AS rejected,
         pg_catalog.round(100.0 * ord.mismatch_cancelled / nullif(ord.orders, 0), 2) AS stock_mismatch_cancel_pct,
         pg_catalog.round(100.0 * par.abs_delta / nullif(par.source_units, 0), 3) AS reconciliation_variance_pct
    FROM channel_sync.channels c
    LEFT JOIN par ON par.channel_id = c.channel_id
    LEFT JOIN lags ON lags.channel_id = c.channel_id
    LEFT JOIN box ON box.channel_id = c.channel_id
    LEFT JOIN ev ON ev.channel_id = c.channel_id
    LEFT JOIN ord ON ord.channel_id = c.channel_id
), b AS (
  SELECT m.*,
         channel_sync._band(pg_catalog.date_part('epoch', m.lag_p95)::numeric / 60, t1.better, t1.healthy_limit, t1.watch_limit) AS lag_band,
         channel_sync._band(pg_catalog.date_part('epoch', m.price_lag_p95)::numeric / 60, t2.better, t2.healthy_limit, t2.watch_limit) AS price_lag_band,
         channel_sync._band(m.handoff_success_pct, t3.better, t3.healthy_limit, t3.watch_limit) AS handoff_band,
         channel_sync._band(m.reconciliation_variance_pct, t4.better, t4.healthy_limit, t4.watch_limit) AS variance_band,
         channel_sync._band(m.stock_mismatch_cancel_pct, t5.better, t5.healthy_limit, t5.watch_limit) AS cancel_band
    FROM m
    LEFT JOIN channel_sync.health_thresholds t1 ON t1.metric = 'inventory_sync_p95_lag'
    LEFT JOIN channel_sync.health_thresholds t2 ON t2.metric = 'price_propagation_p95_lag'
    LEFT JOIN channel_sync.health_thresholds t3 ON t3.metric = 'order_handoff_success'
    LEFT JOIN channel_sync.health_thresholds t4 ON t4.metric = 'reconciliation_variance'
    LEFT JOIN channel_sync.health_thresholds t5 ON t5.metric = 'stock_mismatch_cancellations'
)
SELECT b.channel_id, b.listings, b.in_sync_pct, b.oversell_risk, b.lag_p50, b.lag_p95, b.lag_p99,
       b.price_lag_p95, b.pending, b.oldest_pending, b.dead, b.handoff_success_pct, b.duplicate_pct,
       b.conflicts, b.rejected, b.stock_mismatch_cancel_pct, b.reconciliation_variance_pct,
       b.lag_band, b.price_lag_band, b.handoff_band, b.variance_band, b.cancel_band,
       CASE GREATEST(channel_sync._band_rank(b.lag_band), channel_sync._band_rank(b.price_lag_band),
                                channel_sync._band_rank(b.handoff_band), channel_sync._band_rank(b.variance_band),
                                channel_sync._band_rank(b.cancel_band))
         WHEN 3 THEN 'intervention' WHEN 2 THEN 'watch' ELSE 'healthy' END AS overall_band
  FROM b;
COMMENT ON VIEW channel_sync.channel_health IS
  'Per channel: parity, sync lag, queue, handoff, inbound-event and order metrics, a band per banded metric (health_thresholds) and the overall band = the worst of the five bands (healthy when none has data). Windows: lags, handoff, events and orders over the last 24 h; parity, pending and dead are current.';
COMMENT ON COLUMN channel_sync.channel_health.channel_id IS 'The channel.';
COMMENT ON COLUMN channel_sync.channel_health.listings IS 'Listings (channel, SKU) of the channel.';
COMMENT ON COLUMN channel_sync.channel_health.in_sync_pct IS 'Percent of listings with parity status in_sync (2 decimals; NULL without listings).';
COMMENT ON COLUMN channel_sync.channel_health.oversell_risk IS 'Listings with parity status oversell_risk (the channel shows more than the truth allows).';
COMMENT ON COLUMN channel_sync.channel_health.lag_p50 IS 'Median sync lag (acked_at - first_change_at) of the deliveries acknowledged in the last 24 h, from lag_sketch (within 1 %), rounded to the millisecond.';
COMMENT ON COLUMN channel_sync.channel_health.lag_p95 IS 'p95 sync lag, last 24 h (banded as inventory_sync_p95_lag).';
COMMENT ON COLUMN channel_sync.channel_health.lag_p99 IS 'p99 sync lag, last 24 h.';
COMMENT ON COLUMN channel_sync.channel_health.price_lag_p95 IS 'p95 lag of the deliveries of the last 24 h whose price differs from the previous delivery of the same listing in that window (banded as price_propagation_p95_lag).';
COMMENT ON COLUMN channel_sync.channel_health.pending IS 'Outbox messages pending now.';
COMMENT ON COLUMN channel_sync.channel_health.oldest_pending IS 'Age of the oldest pending change: now() - min(first_change_at) of pending messages.';
COMMENT ON COLUMN channel_sync.channel_health.dead IS 'Dead-letter messages now.';
COMMENT ON COLUMN channel_sync.channel_health.handoff_success_pct IS '100 x acknowledged deliveries (last 24 h) / delivery attempts (their attempts, at least 1 each, plus the failed attempts of messages still in the outbox); banded as order_handoff_success.';
COMMENT ON COLUMN channel_sync.channel_health.duplicate_pct IS '100 x duplicate deliveries / all deliveries of inbound events received in the last 24 h (a duplicate is counted by events.duplicates or as a row with status duplicate).';
COMMENT ON COLUMN channel_sync.channel_health.conflicts IS 'Inbound events with status conflict received in the last 24 h.';
COMMENT ON COLUMN channel_sync.channel_health.rejected IS 'Inbound events with status rejected received in the last 24 h.';
COMMENT ON COLUMN channel_sync.channel_health.stock_mismatch_cancel_pct IS '100 x orders placed in the last 24 h now cancelled and marked oversold / orders placed in the last 24 h; banded as stock_mismatch_cancellations.';
COMMENT ON COLUMN channel_sync.channel_health.reconciliation_variance_pct IS '100 x sum |qty_delta| / sum source_qty over listings whose channel_qty is known, now (3 decimals); banded as reconciliation_variance.';
COMMENT ON COLUMN channel_sync.channel_health.lag_band IS 'Band of lag_p95 in minutes against inventory_sync_p95_lag.';
COMMENT ON COLUMN channel_sync.channel_health.price_lag_band IS 'Band of price_lag_p95 in minutes against price_propagation_p95_lag.';
COMMENT ON COLUMN channel_sync.channel_health.handoff_band IS 'Band of handoff_success_pct against order_handoff_success.';
COMMENT ON COLUMN channel_sync.channel_health.variance_band IS 'Band of reconciliation_variance_pct against reconciliation_variance.';
COMMENT ON COLUMN channel_sync.channel_health.cancel_band IS 'Band of stock_mismatch_cancel_pct against stock_mismatch_cancellations.';
COMMENT ON COLUMN channel_sync.channel_health.overall_band IS 'The worst of the five bands: intervention > watch > healthy; healthy when no band has data.';
