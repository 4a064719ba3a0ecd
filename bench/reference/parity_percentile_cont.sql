-- Reference for bench/parity: what a team writes without a sketch type. Exact percentiles by
-- sorting every lag (percentile_cont is an ordered-set aggregate: no parallel plan, and a
-- rollup over hours needs the raw rows again).
-- p50/p95/p99 over all lags:
SELECT percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY s) FROM parity_bench_lags;
-- the same over 30 days of one channel (the rollup question), from the raw rows:
SELECT percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY s)
  FROM parity_bench_lags WHERE channel = 1;
