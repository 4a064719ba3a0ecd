-- Step 80: the analyst's view at the end of the day: health per channel, what needs a
-- person, parity by status and sync lag quantiles from the lag_sketch type.
\pset footer off
\pset null '-'
\echo
\echo '== channel health (bands: healthy / watch / intervention; thresholds in channel_sync.health_thresholds)'
SELECT channel_id, listings, in_sync_pct AS in_sync_pct, oversell_risk AS oversell,
       date_trunc('second', lag_p95) AS lag_p95, pending, dead, handoff_success_pct AS handoff_pct,
       reconciliation_variance_pct AS variance_pct, lag_band, overall_band
  FROM channel_sync.channel_health ORDER BY channel_id;
\echo '== what needs a person (channel_sync.exceptions)'
SELECT kind, severity, count(*) AS items, date_trunc('second', now() - min(since)) AS oldest
  FROM channel_sync.exceptions GROUP BY kind, severity, severity_rank ORDER BY severity_rank, items DESC;
SELECT kind, severity, channel_id, sku, key, left(detail, 70) AS detail
  FROM channel_sync.exceptions ORDER BY severity_rank, since NULLS LAST LIMIT 5;
\echo '== parity by status (what each channel shows against the truth)'
SELECT channel_id,
       count(*) FILTER (WHERE status = 'in_sync') AS in_sync,
       count(*) FILTER (WHERE status = 'pending') AS pending,
       count(*) FILTER (WHERE status = 'oversell_risk') AS oversell_risk,
       count(*) FILTER (WHERE status = 'undersell') AS undersell,
       count(*) FILTER (WHERE status = 'unknown') AS unknown
  FROM channel_sync.parity GROUP BY channel_id ORDER BY channel_id;
-- the initial sync was acknowledged in one transaction (step 40): its acks share the first acked_at
\echo '== sync lag of the connectors'' deliveries (after the initial sync), one lag_sketch per channel'
\echo '   (p50 / p95 / p99 in seconds, within 1 %)'
SELECT channel_id, channel_sync.sketch_count(s) AS deliveries,
       (SELECT array_agg(round(q::numeric, 2)) FROM unnest(channel_sync.quantiles(s, '{0.5,0.95,0.99}')) q) AS p50_p95_p99_s
  FROM (SELECT channel_id, channel_sync.lag_sketch(acked_at - first_change_at) AS s
          FROM channel_sync.propagation_log WHERE acked_at > now() - interval '24 hours' AND acked_at > (SELECT min(acked_at) FROM channel_sync.propagation_log)
         GROUP BY channel_id) t
 ORDER BY channel_id;
\echo '== all channels together: merging the per-channel sketches (a rollup, no raw rows re-read)'
SELECT channel_sync.sketch_count(channel_sync.lag_sketch(s)) AS deliveries,
       round(channel_sync.quantile(channel_sync.lag_sketch(s), 0.95)::numeric, 2) AS p95_s
  FROM (SELECT channel_sync.lag_sketch(acked_at - first_change_at) AS s
          FROM channel_sync.propagation_log WHERE acked_at > now() - interval '24 hours' AND acked_at > (SELECT min(acked_at) FROM channel_sync.propagation_log)
         GROUP BY channel_id) t;
\echo '== today''s parity recorded for reconciliation_daily (safe to re-run; schedule with pg_cron)'
SELECT channel_sync.snapshot_parity() AS channels_recorded;
SELECT channel_id, events, rejected, unmatched, orders, units, variance_pct, variance_band
  FROM channel_sync.reconciliation_daily WHERE day = current_date ORDER BY channel_id;
