-- lag_sketch: text and binary I/O with a version field, aggregates over interval, float8 and
-- sketches, quantile(s), sketch_count, and clear errors with SQLSTATEs for bad input.
DROP EXTENSION IF EXISTS channel_sync CASCADE;
CREATE EXTENSION channel_sync;
\set SHOW_CONTEXT never
SET search_path = channel_sync, public;
SET extra_float_digits = 0;

-- the text form: version, counters, exact min/max, buckets INDEX:COUNT
-- 0.5 s -> bucket ceil(ln 0.5 / ln(1.01/0.99)) = -34; 2 s -> 35; 0 -> zeros
SELECT lag_sketch(x) FROM (VALUES (0.5), (2.0), (0.0), (NULL)) t(x);
SELECT lag_sketch(x) FROM (VALUES (-4.0), (0.0004), (3000000.0)) t(x);    -- zero, under 1 ms, over 30 days
SELECT (SELECT lag_sketch(x) FROM (SELECT 1.0::float8 WHERE false) t(x)) IS NULL AS empty_input_is_null;
SELECT 'v=1 count=0 zeros=0 under=0 over=0 min=0 max=0 bins='::lag_sketch AS empty_sketch;
-- intervals count in seconds, as EXTRACT(EPOCH FROM ...) does
SELECT quantiles(lag_sketch(v), '{0,1}') FROM (VALUES (interval '90 seconds'), (interval '1 day 2 hours')) t(v);
SELECT extract(epoch FROM interval '1 day 2 hours') AS seconds;

-- quantiles within 1 % of the true values; q = 0 and q = 1 are the exact min and max
CREATE TEMP TABLE lags AS SELECT x::float8 AS s FROM generate_series(1, 10000) x;
SELECT sketch_count(lag_sketch(s)),
       quantile(lag_sketch(s), 0) AS p0, quantile(lag_sketch(s), 1) AS p100,
       abs(quantile(lag_sketch(s), 0.5) / percentile_disc(0.5) WITHIN GROUP (ORDER BY s) - 1) <= 0.01 AS p50_within_1pct,
       abs(quantile(lag_sketch(s), 0.99) / percentile_disc(0.99) WITHIN GROUP (ORDER BY s) - 1) <= 0.01 AS p99_within_1pct
  FROM lags;
SELECT quantiles(lag_sketch(s), '{0, 0.5, 1}') = ARRAY[quantile(lag_sketch(s), 0), quantile(lag_sketch(s), 0.5), quantile(lag_sketch(s), 1)] AS same
  FROM lags;
SELECT quantiles(lag_sketch(s), '{{0,1},{1,0}}') FROM lags;   -- the shape is kept
SELECT quantiles(lag_sketch(s), '{}') FROM lags;
SELECT quantile('v=1 count=0 zeros=0 under=0 over=0 min=0 max=0 bins=', 0.5) IS NULL AS empty_has_no_quantile;

-- merging sketches (rollups) gives exactly the sketch of all the values
SELECT (SELECT lag_sketch(part) FROM (SELECT lag_sketch(s) AS part FROM lags GROUP BY s::int % 7) p)::text
     = (SELECT lag_sketch(s) FROM lags)::text AS merge_equals_union;
SELECT lag_sketch(x) FROM (VALUES ('v=1 count=1 zeros=0 under=0 over=0 min=2 max=2 bins=35:1'::lag_sketch), (NULL),
                                  ('v=1 count=1 zeros=1 under=0 over=0 min=0 max=0 bins=')) t(x);

-- binary form: COPY ... (FORMAT binary) out and back in keeps the sketch
CREATE TEMP TABLE stored (id int, s lag_sketch);
INSERT INTO stored SELECT 1, lag_sketch(s) FROM lags;
INSERT INTO stored VALUES (2, 'v=1 count=0 zeros=0 under=0 over=0 min=0 max=0 bins=');
SELECT '/tmp/cs_parity_' || pg_backend_pid() || '.bin' AS binfile \gset
COPY stored TO :'binfile' (FORMAT binary);
CREATE TEMP TABLE restored (id int, s lag_sketch);
COPY restored FROM :'binfile' (FORMAT binary);
SELECT r.id, r.s::text = s.s::text AS same, sketch_count(r.s) FROM restored r JOIN stored s USING (id) ORDER BY 1;
SELECT _lag_sketch_send('v=1 count=1 zeros=0 under=0 over=0 min=2 max=2 bins=35:1');
-- malformed binary is refused by the receive function (crafted through a bytea column)
CREATE TEMP TABLE raw (id int, b bytea);
INSERT INTO raw VALUES (1, '\x0200010000000000000000000040000000000000004001460101'); -- version 2
COPY raw TO :'binfile' (FORMAT binary);
COPY restored FROM :'binfile' (FORMAT binary);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
TRUNCATE raw;
INSERT INTO raw VALUES (1, '\x0101010000000000000000000040000000000000004001460101');   -- unknown flag bit
COPY raw TO :'binfile' (FORMAT binary);
COPY restored FROM :'binfile' (FORMAT binary);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
TRUNCATE raw;
INSERT INTO raw VALUES (1, '\x0100010000000000000000000040000000000000004001460101ff'); -- trailing byte
COPY raw TO :'binfile' (FORMAT binary);
COPY restored FROM :'binfile' (FORMAT binary);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
TRUNCATE raw;
INSERT INTO raw VALUES (1, '\x01000100000000000000000000400000000000000040014601'); -- truncated
COPY raw TO :'binfile' (FORMAT binary);
COPY restored FROM :'binfile' (FORMAT binary);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
TRUNCATE raw;
INSERT INTO raw VALUES (1, '\x0100010000000000000000000040000000000000004001460101'); -- valid: 2 s
COPY raw TO :'binfile' (FORMAT binary);
COPY restored FROM :'binfile' (FORMAT binary);
SELECT s FROM restored WHERE id = 1 AND sketch_count(s) = 1;
\! rm -f /tmp/cs_parity_*.bin

-- malformed text: 22P02 with the reason
SELECT 'garbage'::lag_sketch;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT 'v=2 count=0 zeros=0 under=0 over=0 min=0 max=0 bins='::lag_sketch;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT 'v=1 count=5 zeros=0 under=0 over=0 min=2 max=2 bins=35:1'::lag_sketch;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT 'v=1 count=1 zeros=0 under=0 over=0 min=2 max=2 bins=9999:1'::lag_sketch;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT 'v=1 count=1 zeros=0 under=0 over=0 min=nan max=2 bins=35:1'::lag_sketch;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT ''::lag_sketch;
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- bad arguments
SELECT quantile(lag_sketch(s), 1.5) FROM lags;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT quantile(lag_sketch(s), -0.01) FROM lags;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT quantile(lag_sketch(s), 'NaN') FROM lags;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT quantiles(lag_sketch(s), '{0.5,NULL}') FROM lags;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT quantiles(lag_sketch(s), '{0.5,2}') FROM lags;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lag_sketch(x) FROM (VALUES (1.0::float8), ('NaN')) t(x);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lag_sketch(x) FROM (VALUES (1.0::float8), ('Infinity')) t(x);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- NULL in, NULL out
SELECT quantile(NULL, 0.5) IS NULL AS a, quantile(lag_sketch(s), NULL) IS NULL AS b, sketch_count(NULL) IS NULL AS c FROM lags;

-- the size bound: every bucket from 1 ms to 30 days occupied stays under 4 kB
SELECT sketch_count(s), pg_column_size(s) <= 4096 AS within_4kb, length(_lag_sketch_send(s)) AS bytes
  FROM (SELECT lag_sketch(exp(ln(0.001) + (ln(2592000) - ln(0.001)) * x / 200000.0)) s
          FROM generate_series(0, 200000) x) t;

-- catalog: the aggregates are parallel safe with combine/serialize/deserialize functions
SELECT p.oid::regprocedure AS aggregate, p.proparallel, a.aggcombinefn, a.aggserialfn, a.aggdeserialfn
  FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
 WHERE p.pronamespace = 'channel_sync'::regnamespace ORDER BY p.oid::regprocedure::text;
