-- Parity and health views on a small crafted history. Every figure below is computed by
-- hand in the comments; the whole history is written in one transaction so now() is the
-- same instant for the rows and for the views (ages print as exact intervals).
DROP EXTENSION IF EXISTS channel_sync CASCADE;
CREATE EXTENSION channel_sync;
-- This test crafts listings, messages and history by hand, so the propagation triggers
-- (which would derive listings from the truth; sql/20_propagation* tests them) are off here.
DO $$ DECLARE t record; BEGIN
  FOR t IN SELECT tgrelid::regclass AS rel, tgname FROM pg_trigger
            WHERE tgfoid IN ('channel_sync._retarget_on_change()'::regprocedure,
                             'channel_sync._enqueue_listing_changes()'::regprocedure) LOOP
    EXECUTE pg_catalog.format('ALTER TABLE %s DISABLE TRIGGER %I', t.rel, t.tgname);
  END LOOP; END $$;
\set SHOW_CONTEXT never
SET extra_float_digits = 0;
-- days are counted in the session's time zone: pick one where it is now between 12:00 and
-- 13:00, so "today" holds every row of the last 3 hours whenever the test runs
SELECT set_config('TimeZone', (12 - extract(hour FROM now() AT TIME ZONE 'UTC'))::int::text, false) IS NOT NULL AS tz_set;

BEGIN;
INSERT INTO channel_sync.channels (channel_id, kind, lag_target, max_attempts) VALUES
  ('shop', 'storefront', '3 minutes', 2), ('amazon', 'marketplace', '5 minutes', 8), ('etsy', 'marketplace', '2 minutes', 8);
INSERT INTO channel_sync.locations (location_id) VALUES ('wh1');
INSERT INTO channel_sync.skus (sku, base_price) VALUES ('A', 10), ('B', 10), ('C', 10), ('D', 10), ('E', 10);
-- B: 7 reserved but 5 on hand -> negative_stock exception
INSERT INTO channel_sync.stock (sku, location_id, on_hand, reserved) VALUES
  ('A', 'wh1', 600, 2), ('B', 'wh1', 5, 7), ('C', 'wh1', 40, 0), ('D', 'wh1', 9, 0), ('E', 'wh1', 4, 0);

-- amazon listings
--   A: target 8, acked 8                                  -> in_sync
--   B: target 0 (v5, pending message since 10 min), acked 3 -> oversell_risk (+3), diverged 10 min
--   C: target 20, acked 20 2 h ago, observed 15 @ 9.50 30 min ago (fresher) -> undersell (-5), price -0.50, diverged 30 min
--   D: target 5 v1, never acked, no message               -> unknown; gap "missing" (20 min > 5 min)
--   E: target 4, acked 4 but the channel reported 6 at ack 40 min ago -> oversell_risk (+2), diverged 40 min
INSERT INTO channel_sync.listings (channel_id, sku, target_qty, target_price, target_version, target_since,
                                   acked_qty, acked_price, acked_version, acked_at, reported_qty,
                                   observed_qty, observed_price, observed_at) VALUES
  ('amazon', 'A', 8, 10, 3, now() - interval '1 hour', 8, 10, 3, now() - interval '50 minutes', NULL, NULL, NULL, NULL),
  ('amazon', 'B', 0, 10, 5, now() - interval '10 minutes', 3, 10, 4, now() - interval '1 hour', NULL, NULL, NULL, NULL),
  ('amazon', 'C', 20, 10, 2, now() - interval '3 hours', 20, 10, 2, now() - interval '2 hours', NULL, 15, 9.50, now() - interval '30 minutes'),
  ('amazon', 'D', 5, 10, 1, now() - interval '20 minutes', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  ('amazon', 'E', 4, 10, 2, now() - interval '1 hour', 4, 10, 2, now() - interval '40 minutes', 6, NULL, NULL, NULL);
-- shop listings
--   A: target 500, acked 500 -> in_sync;  B: 0/0 -> in_sync
--   C: target 21 (pending since 1 min), acked 20 -> pending (1 min < 3 min: no gap)
--   D: target 5, acked 3, message dead since 2 h  -> undersell (-2); gap "dead"; dead_message exception
INSERT INTO channel_sync.listings (channel_id, sku, target_qty, target_price, target_version, target_since,
                                   acked_qty, acked_price, acked_version, acked_at) VALUES
  ('shop', 'A', 500, 10, 1, now() - interval '5 hours', 500, 10, 1, now() - interval '5 hours'),
  ('shop', 'B', 0, 10, 1, now() - interval '5 hours', 0, 10, 1, now() - interval '5 hours'),
  ('shop', 'C', 21, 10, 3, now() - interval '1 minute', 20, 10, 2, now() - interval '4 hours'),
  ('shop', 'D', 5, 10, 2, now() - interval '2 hours', 3, 10, 1, now() - interval '3 hours'),
  ('etsy', 'A', 8, 10, 1, now() - interval '5 hours', 8, 10, 1, now() - interval '5 hours'),
  ('etsy', 'B', 0, 10, 1, now() - interval '5 hours', 0, 10, 1, now() - interval '5 hours');
-- outbox: message 1 amazon/B pending (1 failed attempt), 2 shop/C pending, 3 shop/D dead (2 attempts)
INSERT INTO channel_sync.outbox (channel_id, sku, qty, price, version, first_change_at, status, attempts, last_error) VALUES
  ('amazon', 'B', 0, 10, 5, now() - interval '10 minutes', 'pending', 1, 'timeout'),
  ('shop', 'C', 21, 10, 3, now() - interval '1 minute', 'pending', 0, NULL),
  ('shop', 'D', 5, 10, 2, now() - interval '2 hours', 'dead', 2, 'HTTP 500 from storefront');

-- propagation_log, last 24 h
--   amazon: 19 deliveries, lag k minutes (k = 1..19), acked (20-k) x 30 min ago; A for k <= 10, C after;
--           price 11 at k = 5 and 9.50 at k = 15, else 10 -> price changes at k = 5, 6, 15, 16;
--           attempts 2 at k = 3 and 7, else 1 -> 21 attempts
--           p50: rank 0.5 x 18 = 9 -> 10th lag = 10 min; p95: rank 17.1 -> 18th = 18 min; p99: rank 17.82 -> 18 min
--           price lags {5, 6, 15, 16} min: p95 rank 2.85 -> 3rd = 15 min
--           one more delivery 25 h ago (lag 100 min) is outside the window
INSERT INTO channel_sync.propagation_log (channel_id, sku, version, qty, price, first_change_at, acked_at, attempts)
SELECT 'amazon', CASE WHEN k <= 10 THEN 'A' ELSE 'C' END, k, 1,
       CASE k WHEN 5 THEN 11 WHEN 15 THEN 9.50 ELSE 10 END,
       now() - (20 - k) * interval '30 minutes' - k * interval '1 minute',
       now() - (20 - k) * interval '30 minutes',
       CASE WHEN k IN (3, 7) THEN 2 ELSE 1 END
  FROM generate_series(1, 19) k;
INSERT INTO channel_sync.propagation_log (channel_id, sku, version, qty, price, first_change_at, acked_at, attempts)
VALUES ('amazon', 'A', 0, 1, 10, now() - interval '25 hours' - interval '100 minutes', now() - interval '25 hours', 1);
--   shop: 996 deliveries of A at lag 30 s x (1 + g % 4): 249 each of 30, 60, 90, 120 s; 1 attempt each
--           p50: rank 497.5 -> index 497 -> 60 s; p95: rank 945.25 -> 120 s; p99 -> 120 s; no price change
INSERT INTO channel_sync.propagation_log (channel_id, sku, version, qty, price, first_change_at, acked_at, attempts)
SELECT 'shop', 'A', g, 500, 10, now() - g * interval '1 minute' - (1 + g % 4) * interval '30 seconds',
       now() - g * interval '1 minute', 1
  FROM generate_series(1, 996) g;
--   etsy: 3 deliveries, lags 10, 20, 30 s: p50 rank 1 -> 20 s; p95 rank 1.9 -> 20 s; p99 rank 1.98 -> 20 s
INSERT INTO channel_sync.propagation_log (channel_id, sku, version, qty, price, first_change_at, acked_at, attempts)
SELECT 'etsy', 'A', s, 8, 10, now() - interval '1 hour' - s * interval '1 second', now() - interval '1 hour', 1
  FROM unnest(ARRAY[10, 20, 30]) s;

-- events: amazon, received in the last hour: 5 rows (2 applied, one with 2 duplicate deliveries,
-- 1 rejected for an unknown alias, 1 stale, 1 conflict); one more rejected 2 days ago; shop 1 applied
INSERT INTO channel_sync.events (channel_id, idempotency_key, event_type, payload, occurred_at, received_at,
                                 fingerprint, status, detail, first_event_id, duplicates) VALUES
  ('amazon', 'k1', 'order_placed', '{}', now() - interval '1 hour', now() - interval '1 hour', gen_random_uuid(), 'applied', NULL, NULL, 2),
  ('amazon', 'k2', 'order_placed', '{}', now() - interval '50 minutes', now() - interval '50 minutes', gen_random_uuid(), 'applied', NULL, NULL, 0),
  ('amazon', 'k3', 'order_placed', '{}', now() - interval '40 minutes', now() - interval '40 minutes', gen_random_uuid(), 'rejected', 'unknown alias "B0XYZ"', NULL, 0),
  ('amazon', 'k4', 'stock_counted', '{}', now() - interval '30 minutes', now() - interval '30 minutes', gen_random_uuid(), 'stale', 'older than the last count', NULL, 0),
  ('amazon', 'k1', 'order_placed', '{"x":1}', now() - interval '20 minutes', now() - interval '20 minutes', gen_random_uuid(), 'conflict', 'payload differs from event 1', 1, 0),
  ('amazon', 'k6', 'order_placed', '{}', now() - interval '2 days', now() - interval '2 days', gen_random_uuid(), 'rejected', 'bad payload: qty missing', NULL, 0),
  ('shop', 's1', 'order_placed', '{}', now() - interval '1 hour', now() - interval '1 hour', gen_random_uuid(), 'applied', NULL, NULL, 0);
-- orders (amazon, last 24 h): o1 placed, o2 cancelled + oversold, o3 placed + oversold (open: exception), o4 shipped
-- units: o1 A 2; o2 B 1; o3 B 3; o4 A 1 + C 2 -> 9 units; stock mismatch cancellations 1 / 4 = 25 %
INSERT INTO channel_sync.orders (channel_id, order_id, state, oversold, placed_at, updated_at) VALUES
  ('amazon', 'o1', 'placed', false, now() - interval '1 hour', now() - interval '1 hour'),
  ('amazon', 'o2', 'cancelled', true, now() - interval '50 minutes', now() - interval '45 minutes'),
  ('amazon', 'o3', 'placed', true, now() - interval '15 minutes', now() - interval '15 minutes'),
  ('amazon', 'o4', 'shipped', false, now() - interval '3 hours', now() - interval '2 hours');
INSERT INTO channel_sync.order_lines (channel_id, order_id, line_no, sku, location_id, qty, qty_shipped, qty_cancelled, sold_sku) VALUES
  ('amazon', 'o1', 1, 'A', 'wh1', 2, 0, 0, 'A'),
  ('amazon', 'o2', 1, 'B', 'wh1', 1, 0, 1, 'B'),
  ('amazon', 'o3', 1, 'B', 'wh1', 3, 0, 0, 'B'),
  ('amazon', 'o4', 1, 'A', 'wh1', 1, 1, 0, 'A'),
  ('amazon', 'o4', 2, 'C', 'wh1', 2, 2, 0, 'C');

\echo == parity (diverged_for = now() - diverged_since)
SELECT channel_id, sku, source_qty, channel_qty, channel_qty_source AS src, qty_delta, source_price, channel_price,
       price_delta, status, now() - diverged_since AS diverged_for, pending_message_id AS msg
  FROM channel_sync.parity ORDER BY channel_id, sku;

\echo == propagation_gaps: amazon/B pending 10 min (target 5 -> 5 min over), amazon/D missing 20 min (15 over), shop/D dead 2 h (1:57 over)
SELECT channel_id, sku, message_id, message_state, waiting, lag_target, overdue_by, attempts, last_error
  FROM channel_sync.propagation_gaps ORDER BY channel_id, sku;

\echo == channel_health, metrics
-- amazon: listings 5, in_sync 1/5 = 20.00 %, oversell_risk 2 (B, E), pending 1 (10 min), dead 0,
--         handoff 19 / (21 + 1 failed attempt of message 1) = 86.36 %, duplicates 2 / (5 + 2) = 28.57 %,
--         conflicts 1, rejected 1 (the one of 2 days ago is outside 24 h), cancellations 1/4 = 25.00 %,
--         variance (3 + 5 + 2) / (8 + 0 + 20 + 4) = 10/32 = 31.250 % (D unknown, excluded)
-- shop:   listings 4, in_sync 2/4 = 50.00 %, pending 1 (1 min), dead 1, handoff 996 / (996 + 2) = 99.80 %,
--         duplicates 0/1 = 0.00 %, no orders, variance (1 + 2) / (500 + 0 + 21 + 5) = 3/526 = 0.570 %
-- etsy:   listings 2, 100.00 %, handoff 3/3 = 100.00 %, no events, no orders, variance 0/8 = 0.000 %
SELECT channel_id, listings, in_sync_pct, oversell_risk, pending, oldest_pending, dead, handoff_success_pct,
       duplicate_pct, conflicts, rejected, stock_mismatch_cancel_pct, reconciliation_variance_pct
  FROM channel_sync.channel_health ORDER BY channel_id;
\echo == channel_health, lags: within 1 % of the hand-computed figures (seconds)
-- amazon p50 600, p95 1080, p99 1080, price p95 900; shop 60, 120, 120, none; etsy 20, 20, 20, none
SELECT h.channel_id,
       abs(extract(epoch FROM h.lag_p50) / e.p50 - 1) <= 0.01 AS p50_ok,
       abs(extract(epoch FROM h.lag_p95) / e.p95 - 1) <= 0.01 AS p95_ok,
       abs(extract(epoch FROM h.lag_p99) / e.p99 - 1) <= 0.01 AS p99_ok,
       coalesce(abs(extract(epoch FROM h.price_lag_p95) / e.price_p95 - 1) <= 0.01, h.price_lag_p95 IS NULL AND e.price_p95 IS NULL) AS price_p95_ok,
       h.lag_p50, h.lag_p95, h.lag_p99, h.price_lag_p95
  FROM channel_sync.channel_health h
  JOIN (VALUES ('amazon', 600, 1080, 1080, 900), ('shop', 60, 120, 120, NULL), ('etsy', 20, 20, 20, NULL))
       e(channel_id, p50, p95, p99, price_p95) USING (channel_id)
 ORDER BY 1;
\echo == channel_health, bands
-- amazon: lag 18 min > 12 intervention; price 15 min in (6, 25] watch; handoff 86.36 < 98.5 intervention;
--         variance 31.25 > 0.9 intervention; cancellations 25 > 1.2 intervention -> overall intervention
-- shop:   lag 2 min <= 3 healthy; price none; handoff 99.80 >= 99.4 healthy; variance 0.570 in (0.3, 0.9] watch;
--         cancellations none -> overall watch
-- etsy:   lag 20 s healthy; handoff 100 healthy; variance 0 healthy -> overall healthy
SELECT channel_id, lag_band, price_lag_band, handoff_band, variance_band, cancel_band, overall_band
  FROM channel_sync.channel_health ORDER BY channel_id;

\echo == exceptions
-- critical: open oversold order o3; negative stock B@wh1 (7 reserved, 5 on hand, sellable -2); amazon/D missing
-- high: shop/D dead (2 attempts); rejected events 3 (unknown alias) and 6 (2 days ago)
-- medium: amazon/B pending 10 min (not > 4 x 5 min); conflict event 5
SELECT kind, severity, severity_rank, now() - since AS age, channel_id, sku, key, detail
  FROM channel_sync.exceptions ORDER BY severity_rank, kind, key::text;

\echo == snapshot_parity is idempotent per day: 3 channels recorded, twice, 3 rows
SELECT channel_sync.snapshot_parity();
SELECT channel_sync.snapshot_parity();
SELECT current_date - day AS days_ago, channel_id, listings, in_sync, oversell_risk, undersell, pending, unknown,
       source_units, abs_delta_units, variance_pct
  FROM channel_sync.parity_history ORDER BY channel_id;

\echo == reconciliation_daily
-- amazon today: 5 events (2 applied, 2 duplicates, 1 conflict, 1 stale, 1 rejected of which 1 unmatched),
--               4 orders, 9 units, 2 oversold; variance 31.250 intervention
-- amazon 2 days ago: 1 event, rejected (bad payload: not unmatched); no snapshot
-- shop today: 1 event applied; variance 0.570 watch.  etsy today: only the snapshot, variance 0 healthy
SELECT current_date - day AS days_ago, channel_id, events, applied, duplicates, conflicts, stale, rejected, unmatched,
       orders, units, oversold_orders, listings, in_sync, variance_pct, variance_band
  FROM channel_sync.reconciliation_daily ORDER BY days_ago, channel_id;

\echo == editing a band changes the result (amazon price p95 15 min becomes healthy under 20)
UPDATE channel_sync.health_thresholds SET healthy_limit = 20, watch_limit = 30 WHERE metric = 'price_propagation_p95_lag';
SELECT channel_id, price_lag_band FROM channel_sync.channel_health WHERE channel_id = 'amazon';
SELECT metric, is_default FROM channel_sync.health_thresholds WHERE metric = 'price_propagation_p95_lag';
COMMIT;

-- the views are read-only
INSERT INTO channel_sync.parity (channel_id, sku) VALUES ('amazon', 'A');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DELETE FROM channel_sync.exceptions;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
UPDATE channel_sync.channel_health SET listings = 0;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- bad thresholds are refused
INSERT INTO channel_sync.health_thresholds (metric, unit, better, healthy_limit, watch_limit) VALUES ('x', 'percent', 'lower', 5, 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- every view column is commented
SELECT c.relname, a.attname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
 WHERE c.relnamespace = 'channel_sync'::regnamespace AND c.relkind IN ('v', 'r')
   AND c.relname IN ('parity', 'channel_health', 'propagation_gaps', 'exceptions', 'reconciliation_daily', 'health_thresholds', 'parity_history')
   AND a.attnum > 0 AND col_description(c.oid, a.attnum) IS NULL;
