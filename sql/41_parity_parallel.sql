-- lag_sketch aggregates run in parallel plans (partial aggregate, serialize, combine,
-- deserialize) and give exactly the serial result; accuracy against percentile_cont.
DROP EXTENSION IF EXISTS channel_sync CASCADE;
CREATE EXTENSION channel_sync;
SET search_path = channel_sync, public;
SET extra_float_digits = 0;

-- 300,000 lags from three distributions: uniform, exponential-like and log-normal-like
CREATE TABLE parallel_lags (kind int, s float8, d interval);
INSERT INTO parallel_lags
SELECT g % 3,
       CASE g % 3 WHEN 0 THEN 0.001 + 600 * r1
                  WHEN 1 THEN -40 * ln(1 - r1) + 0.001
                  ELSE exp(3 + 1.5 * sqrt(-2 * ln(1 - r1)) * cos(2 * pi() * r2)) END,
       NULL
  FROM (SELECT g, ((g::bigint * 7919) % 100003) / 100003.0 AS r1, ((g::bigint * 104729) % 99991) / 99991.0 AS r2
          FROM generate_series(1, 300000) g) t;
UPDATE parallel_lags SET d = s * interval '1 second';
ANALYZE parallel_lags;

CREATE TEMP TABLE serial_result AS
SELECT kind, lag_sketch(s)::text AS by_float, lag_sketch(d)::text AS by_interval
  FROM parallel_lags GROUP BY kind;
CREATE TEMP TABLE serial_total AS SELECT lag_sketch(s)::text AS t FROM parallel_lags;

SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;   -- make the workers do the partial aggregation
EXPLAIN (COSTS OFF) SELECT lag_sketch(s) FROM parallel_lags;
EXPLAIN (COSTS OFF) SELECT kind, lag_sketch(d) FROM parallel_lags GROUP BY kind;
SELECT (SELECT lag_sketch(s)::text FROM parallel_lags) = t AS parallel_equals_serial FROM serial_total;
SELECT p.kind, p.by_float = s.by_float AS float_same, p.by_interval = s.by_interval AS interval_same
  FROM (SELECT kind, lag_sketch(s)::text AS by_float, lag_sketch(d)::text AS by_interval
          FROM parallel_lags GROUP BY kind) p
  JOIN serial_result s USING (kind) ORDER BY 1;
-- rollup of stored sketches in parallel too
CREATE TABLE hourly AS SELECT kind, (s * 1000)::bigint % 500 AS bucket, lag_sketch(s) AS sketch
  FROM parallel_lags GROUP BY 1, 2;
ANALYZE hourly;
EXPLAIN (COSTS OFF) SELECT lag_sketch(sketch) FROM hourly;
SELECT (SELECT lag_sketch(sketch)::text FROM hourly) = t AS rollup_equals_serial FROM serial_total;
RESET parallel_leader_participation;
RESET max_parallel_workers_per_gather;
RESET min_parallel_table_scan_size;
RESET parallel_tuple_cost;
RESET parallel_setup_cost;

-- accuracy: p50/p95/p99 within 1 % of percentile_cont for each distribution
SELECT kind, q,
       abs(quantile(sk, q) / exact - 1) <= 0.01 AS within_1pct
  FROM (SELECT kind, lag_sketch(s) AS sk,
               percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY s) AS exacts
          FROM parallel_lags GROUP BY kind) t,
       LATERAL unnest(ARRAY[0.5, 0.95, 0.99], exacts) AS u(q, exact)
 ORDER BY 1, 2;
DROP TABLE parallel_lags, hourly;
