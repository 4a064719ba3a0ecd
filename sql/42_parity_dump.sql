-- pg_dump/restore keeps a stored lag_sketch column (a user table), the parity history and
-- edited health thresholds, without duplicating the seeded thresholds.
DROP EXTENSION IF EXISTS channel_sync CASCADE;
CREATE EXTENSION channel_sync;
DROP TABLE IF EXISTS public.hourly_lags;
CREATE TABLE public.hourly_lags (channel_id text, hour timestamptz, sketch channel_sync.lag_sketch);
INSERT INTO public.hourly_lags
SELECT 'amazon', timestamptz '2026-01-01 00:00+00' + h * interval '1 hour', channel_sync.lag_sketch(x * interval '1 second')
  FROM generate_series(0, 2) h, generate_series(1, 50 + h) x GROUP BY h;
INSERT INTO public.hourly_lags VALUES ('etsy', '2026-01-01 00:00+00', 'v=1 count=0 zeros=0 under=0 over=0 min=0 max=0 bins=');
INSERT INTO channel_sync.channels (channel_id) VALUES ('amazon');
INSERT INTO channel_sync.parity_history VALUES ('2026-01-01', 'amazon', 10, 9, 1, 0, 0, 0, 100, 2, 2.000, '2026-01-01 23:55+00');
-- an admin tightens one band and adds a metric of their own
UPDATE channel_sync.health_thresholds SET healthy_limit = 2, watch_limit = 10 WHERE metric = 'inventory_sync_p95_lag';
INSERT INTO channel_sync.health_thresholds (metric, unit, better, healthy_limit, watch_limit) VALUES ('custom_metric', 'percent', 'higher', 99, 95);
-- inserting an existing default metric replaces the default (this is what a restore does)
INSERT INTO channel_sync.health_thresholds (metric, unit, better, healthy_limit, watch_limit) VALUES ('price_propagation_p95_lag', 'minutes', 'lower', 5, 20);
SELECT metric, healthy_limit, watch_limit, is_default FROM channel_sync.health_thresholds ORDER BY metric;
SELECT channel_id, hour AT TIME ZONE 'UTC' AS hour, md5(sketch::text) FROM public.hourly_lags ORDER BY 1, 2;

DROP DATABASE IF EXISTS channel_sync_parity_restored;
CREATE DATABASE channel_sync_parity_restored;
\setenv SRC :DBNAME
\! pg_dump --no-owner "$SRC" | psql -q -v ON_ERROR_STOP=1 -d channel_sync_parity_restored >/dev/null && echo restored
\c channel_sync_parity_restored
SET extra_float_digits = 0;
SELECT channel_id, hour AT TIME ZONE 'UTC' AS hour, channel_sync.sketch_count(sketch),
       channel_sync.quantile(sketch, 0.5) AS p50, md5(sketch::text)
  FROM public.hourly_lags ORDER BY 1, 2;
SELECT channel_sync.quantiles(channel_sync.lag_sketch(sketch), '{0.5,0.99}') AS rollup FROM public.hourly_lags;
SELECT day, channel_id, listings, variance_pct FROM channel_sync.parity_history;
-- (the md5 of each sketch's text equals the one printed before the dump)
-- the edits survive, the seeds are not duplicated, the untouched seeds are still there
SELECT metric, healthy_limit, watch_limit, is_default FROM channel_sync.health_thresholds ORDER BY metric;
\c contrib_regression
DROP DATABASE channel_sync_parity_restored;
DROP TABLE public.hourly_lags;
