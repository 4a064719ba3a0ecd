-- Bad input against every public function and type: NULLs, empty and 10 kB strings, huge
-- numbers, negative quantities, unknown ids, wrong JSON shapes, malformed sketch text/bytes.
-- Each line shows the outcome: "ok: <result>" or "<SQLSTATE>: <message>". The README's
-- "Bad input catalogue" is this file (plus 10_allocation, 20_propagation, 31_ingest_bad_input, 40_parity_sketch).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS channel_sync CASCADE;
CREATE EXTENSION channel_sync;
RESET client_min_messages;
\set SHOW_CONTEXT never
\set VERBOSITY terse

INSERT INTO channel_sync.channels (channel_id) VALUES ('shop');
INSERT INTO channel_sync.locations VALUES ('wh1');
INSERT INTO channel_sync.skus (sku) VALUES ('TEE');
INSERT INTO channel_sync.stock (sku, location_id, on_hand) VALUES ('TEE', 'wh1', 5);

CREATE FUNCTION pg_temp.try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  r text;
BEGIN
  EXECUTE stmt INTO r;
  RETURN 'ok: ' || coalesce(left(r, 120), 'NULL');
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || left(SQLERRM, 160);
END
$$;
CREATE TABLE cases (n serial, call text);
INSERT INTO cases (call) VALUES
-- available_to_sell(channel_id text, sku text)
  ($$SELECT channel_sync.available_to_sell(NULL, NULL)$$),
  ($$SELECT channel_sync.available_to_sell('shop', NULL)$$),
  ($$SELECT channel_sync.available_to_sell('', 'TEE')$$),
  ($$SELECT channel_sync.available_to_sell('shop', '')$$),
  ($$SELECT channel_sync.available_to_sell(repeat('x', 10240), 'TEE')$$),
  ($$SELECT channel_sync.available_to_sell('shop', repeat('x', 10240))$$),
  ($$SELECT channel_sync.available_to_sell('shop', 'GHOST')$$),
-- explain_allocation(sku text)
  ($$SELECT count(*) FROM channel_sync.explain_allocation(NULL)$$),
  ($$SELECT count(*) FROM channel_sync.explain_allocation('')$$),
  ($$SELECT count(*) FROM channel_sync.explain_allocation(repeat('x', 10240))$$),
  ($$SELECT count(*) FROM channel_sync.explain_allocation('GHOST')$$),
-- allocate(pools integer[], rules alloc_rule[])
  ($$SELECT channel_sync.allocate(ARRAY[2147483647], ARRAY[ROW(0, 0, 100, NULL, 0, false, 0, NULL)]::channel_sync.alloc_rule[])$$),
  ($$SELECT channel_sync.allocate(ARRAY[2147483648], ARRAY[ROW(0, 0, 100, NULL, 0, false, 0, NULL)]::channel_sync.alloc_rule[])$$),
  ($$SELECT channel_sync.allocate(ARRAY[10], ARRAY[ROW(2147483647, 0, 100, 2147483647, 2147483647, true, 1e308, '1000000 hours')]::channel_sync.alloc_rule[])$$),
  ($$SELECT channel_sync.allocate(ARRAY[10], ARRAY[ROW(0, 0, 100, NULL, 0, true, 'NaN', '1 hour')]::channel_sync.alloc_rule[])$$),
  ($$SELECT channel_sync.allocate(ARRAY[10], ARRAY[ROW(0, 0, 100, NULL, 0, true, 'Infinity', '1 hour')]::channel_sync.alloc_rule[])$$),
  ($$SELECT channel_sync.allocate(ARRAY[10], ARRAY[ROW(0, 0, 100, NULL, 0, true, -5, '1 hour')]::channel_sync.alloc_rule[])$$),
  ($$SELECT channel_sync.allocate(ARRAY[10], ARRAY[ROW(0, 1e308, 100, NULL, 0, false, 0, NULL)]::channel_sync.alloc_rule[])$$),
  ($$SELECT channel_sync.allocate(ARRAY[10], ARRAY[ROW(0, 'NaN', 100, NULL, 0, false, 0, NULL)]::channel_sync.alloc_rule[])$$),
  ($$SELECT channel_sync.allocate(ARRAY[10], ARRAY[ROW(0, 0, -0.01, NULL, 0, false, 0, NULL)]::channel_sync.alloc_rule[])$$),
  ($$SELECT channel_sync.allocate(ARRAY[10], ARRAY[ROW(0, 0, 100, NULL, -1, false, 0, NULL)]::channel_sync.alloc_rule[])$$),
  ($$SELECT channel_sync.allocate('{}', '{}')$$),
-- ingest(channel_id, idempotency_key, event_type, payload, occurred_at): call errors
  ($$SELECT channel_sync.ingest('', 'k', 'order_placed', '{}')$$),
  ($$SELECT channel_sync.ingest(repeat('x', 10240), 'k', 'order_placed', '{}')$$),
-- ingest: recorded rejections
  ($$SELECT (channel_sync.ingest('shop', repeat('k', 10240), 'order_placed', '{}')).detail$$),
  ($$SELECT (channel_sync.ingest('shop', 'i1', repeat('t', 10240), '{}')).detail$$),
  ($$SELECT (channel_sync.ingest('shop', 'i2', '', '{}')).detail$$),
  ($$SELECT (channel_sync.ingest('shop', 'i3', 'stock_adjusted', '{"sku": "TEE", "location_id": "wh1", "delta": 2147483648, "reason": "x"}')).detail$$),
  ($$SELECT (channel_sync.ingest('shop', 'i4', 'stock_adjusted', '{"sku": "TEE", "location_id": "wh1", "delta": 1e308, "reason": "x"}')).detail$$),
  ($$SELECT (channel_sync.ingest('shop', 'i5', 'stock_adjusted', '{"sku": "TEE", "location_id": "wh1", "delta": 2147483647, "reason": "x"}')).detail$$),
  ($$SELECT (channel_sync.ingest('shop', 'i6', 'stock_adjusted', '{"sku": "TEE", "location_id": "wh1", "delta": -6, "reason": "x"}')).detail$$),
  ($$SELECT (channel_sync.ingest('shop', 'i7', 'stock_counted', '{"sku": "TEE", "location_id": "wh1", "on_hand": 2147483648}')).detail$$),
  ($$SELECT (channel_sync.ingest('shop', 'i8', 'stock_counted', '{"sku": "", "location_id": "wh1", "on_hand": 1}')).detail$$),
  ($$SELECT (channel_sync.ingest('shop', 'i9', 'order_placed', jsonb_build_object('order_id', repeat('o', 10240), 'lines', '[{"sku": "TEE", "qty": 1}]'::jsonb))).detail$$),
  ($$SELECT (channel_sync.ingest('shop', 'i10', 'order_placed', jsonb_build_object('order_id', 'O1', 'lines', jsonb_build_array(jsonb_build_object('sku', repeat('s', 10240), 'qty', 1))))).detail$$),
  ($$SELECT (channel_sync.ingest('shop', 'i11', 'order_placed', '{"order_id": "O1", "lines": [{"sku": "TEE", "qty": 1, "location_id": "nowhere"}]}')).detail$$),
  ($$SELECT (channel_sync.ingest('shop', 'i12', 'order_placed', '{"order_id": null, "lines": null}')).detail$$),
  ($$SELECT (channel_sync.ingest('shop', 'i13', 'order_placed', '{"order_id": 7, "lines": [{"sku": 7, "qty": 1}]}')).detail$$),
  ($$SELECT (channel_sync.ingest('shop', 'i14', 'order_shipped', '{"order_id": "NOPE", "lines": [{"sku": "TEE", "qty": 1}]}')).detail$$),
  ($$SELECT (channel_sync.ingest('shop', 'i15', 'listing_observed', '{"sku": "TEE", "qty": -1}')).detail$$),
  ($$SELECT (channel_sync.ingest('shop', 'i16', 'listing_observed', '{"sku": "TEE", "qty": 1, "price": 1e308}')).detail$$),
  ($$SELECT (channel_sync.ingest('shop', 'i17', 'return_received', '{"order_id": "NOPE", "sku": "TEE", "qty": 1, "location_id": "wh1", "restock": true}')).detail$$),
  ($$SELECT (channel_sync.ingest('shop', 'i18', 'order_placed', '{"order_id": "O", "lines": [{"sku": "TEE", "qty": 1}]}', 'infinity')).detail$$),
  ($$SELECT (channel_sync.ingest('shop', 'i19', 'order_placed', '{"order_id": "O", "lines": [{"sku": "TEE", "qty": 1}]}', '-infinity')).detail$$),
-- ingest_batch(channel_id, events jsonb)
  ($$SELECT count(*) FROM channel_sync.ingest_batch(NULL, '[]')$$),
  ($$SELECT count(*) FROM channel_sync.ingest_batch('shop', NULL)$$),
  ($$SELECT count(*) FROM channel_sync.ingest_batch('shop', '[]')$$),
  ($$SELECT count(*) FROM channel_sync.ingest_batch('shop', '{}')$$),
  ($$SELECT count(*) FROM channel_sync.ingest_batch('shop', '"x"')$$),
  ($$SELECT string_agg(detail, ' | ') FROM channel_sync.ingest_batch('shop', '[1, null, [], {}, {"idempotency_key": 5}]')$$),
  ($$SELECT string_agg(detail, ' | ') FROM channel_sync.ingest_batch('shop', '[{"idempotency_key": "bb1", "event_type": "order_placed", "payload": {}, "occurred_at": "not a time"}]')$$),
  ($$SELECT string_agg(detail, ' | ') FROM channel_sync.ingest_batch('nowhere', '[]')$$),
-- replay(event_id)
  ($$SELECT channel_sync.replay(NULL)$$),
  ($$SELECT channel_sync.replay(-1)$$),
  ($$SELECT channel_sync.replay(9223372036854775807)$$),
  ($$SELECT channel_sync.replay(9223372036854775808)$$),
-- prune_events(older_than)
  ($$SELECT channel_sync.prune_events(NULL)$$),
  ($$SELECT channel_sync.prune_events('-1 day')$$),
  ($$SELECT channel_sync.prune_events('100000000 years')$$),
-- prune_propagation_log(older_than)
  ($$SELECT channel_sync.prune_propagation_log(NULL)$$),
  ($$SELECT channel_sync.prune_propagation_log('23 hours')$$),
  ($$SELECT channel_sync.prune_propagation_log('100000000 years')$$),
-- claim(channel_id, max_messages, lease)
  ($$SELECT count(*) FROM channel_sync.claim('')$$),
  ($$SELECT count(*) FROM channel_sync.claim(repeat('x', 10240))$$),
  ($$SELECT count(*) FROM channel_sync.claim('shop', NULL)$$),
  ($$SELECT count(*) FROM channel_sync.claim('shop', 0)$$),
  ($$SELECT count(*) FROM channel_sync.claim('shop', -1)$$),
  ($$SELECT count(*) FROM channel_sync.claim('shop', 2147483647)$$),
  ($$SELECT count(*) FROM channel_sync.claim('shop', 2147483648)$$),
  ($$SELECT count(*) FROM channel_sync.claim('shop', 1, NULL)$$),
  ($$SELECT count(*) FROM channel_sync.claim('shop', 1, '0 seconds')$$),
  ($$SELECT count(*) FROM channel_sync.claim('shop', 1, '100000000 years')$$),
-- ack(message_id, channel_qty), fail(message_id, error, retry_in), requeue_dead(channel_id)
  ($$SELECT channel_sync.ack(9223372036854775807)$$),
  ($$SELECT channel_sync.ack(0, -1)$$),
  ($$SELECT channel_sync.fail(NULL, 'x')$$),
  ($$SELECT channel_sync.fail(0, NULL)$$),
  ($$SELECT channel_sync.requeue_dead(NULL)$$),
  ($$SELECT channel_sync.requeue_dead('')$$),
  ($$SELECT channel_sync.requeue_dead('nowhere')$$),
-- verify(fix)
  ($$SELECT count(*) FROM channel_sync.verify(NULL)$$),
-- quantile(sketch, q), quantiles(sketch, qs), sketch_count(sketch), lag_sketch aggregates
  ($$SELECT channel_sync.quantile('v=1 count=1 zeros=1 under=0 over=0 min=0 max=0 bins=', 1e308)$$),
  ($$SELECT channel_sync.quantile('v=1 count=1 zeros=1 under=0 over=0 min=0 max=0 bins=', -0.0001)$$),
  ($$SELECT channel_sync.quantile('v=1 count=1 zeros=1 under=0 over=0 min=0 max=0 bins=', 'NaN')$$),
  ($$SELECT channel_sync.quantiles('v=1 count=1 zeros=1 under=0 over=0 min=0 max=0 bins=', '{}')$$),
  ($$SELECT channel_sync.quantiles('v=1 count=1 zeros=1 under=0 over=0 min=0 max=0 bins=', '{{0.5},{1}}')$$),
  ($$SELECT channel_sync.lag_sketch(x)::text FROM (VALUES (1e308::float8), (-1e308)) v(x)$$),
  ($$SELECT channel_sync.lag_sketch(x)::text FROM (VALUES ('NaN'::float8)) v(x)$$),
  ($$SELECT channel_sync.lag_sketch(x)::text FROM (VALUES ('infinity'::interval)) v(x)$$),
  ($$SELECT channel_sync.lag_sketch(x)::text FROM (VALUES ('178000000 years'::interval), ('-178000000 years')) v(x)$$),
-- lag_sketch text and binary input
  ($$SELECT ''::channel_sync.lag_sketch::text$$),
  ($$SELECT repeat('v=1 ', 2600)::channel_sync.lag_sketch::text$$),
  ($$SELECT 'v=2 count=0 zeros=0 under=0 over=0 min=0 max=0 bins='::channel_sync.lag_sketch::text$$),
  ($$SELECT 'v=1 count=-1 zeros=0 under=0 over=0 min=0 max=0 bins='::channel_sync.lag_sketch::text$$),
  ($$SELECT 'v=1 count=99999999999999999999999 zeros=0 under=0 over=0 min=0 max=0 bins='::channel_sync.lag_sketch::text$$),
  ($$SELECT 'v=1 count=1 zeros=0 under=0 over=0 min=2 max=2 bins=999999:1'::channel_sync.lag_sketch::text$$),
  ($$SELECT 'v=1 count=2 zeros=0 under=0 over=0 min=2 max=2 bins=35:1'::channel_sync.lag_sketch::text$$),
  ($$SELECT 'v=1 count=1 zeros=0 under=0 over=0 min=NaN max=2 bins=35:1'::channel_sync.lag_sketch::text$$),
  ($$SELECT 'v=1 count=1 zeros=0 under=0 over=0 min=2 max=1e308 bins=35:1'::channel_sync.lag_sketch::text$$),
  ($$SELECT 'v=1 count=1 zeros=1 under=0 over=0 min=0 max=0 bins= trailing'::channel_sync.lag_sketch::text$$),
  ($$SELECT 'v=1 count=1 zeros=0 under=0 over=0 min=2 max=2 bins=36:1'::channel_sync.lag_sketch::text$$),
  ($$SELECT 'v=1 count=1 zeros=0 under=0 over=1 min=2 max=2 bins='::channel_sync.lag_sketch::text$$),
  ($$SELECT 'v=1 count=2 zeros=1 under=0 over=0 min=0 max=5 bins='::channel_sync.lag_sketch::text$$),
  ($$SELECT (channel_sync.ingest('shop', 'i20', 'stock_counted', '{"sku": "TEE", "location_id": "wh1", "on_hand": 5}', 'infinity')).detail$$),
  ($$SELECT string_agg(detail, ' | ') FROM channel_sync.ingest_batch('shop', '[{"idempotency_key": "bb2", "event_type": "stock_counted", "payload": {"sku": "TEE", "location_id": "wh1", "on_hand": 5}, "occurred_at": "-infinity"}]')$$),
  ($$SELECT channel_sync.allocate(ARRAY[2147483648::bigint::integer], '{}')$$),
  ($$SELECT channel_sync.replay(9223372036854775808::numeric::bigint)$$),
  ($$SELECT channel_sync.quantile(NULL, 0.5)$$),
  ($$SELECT channel_sync.sketch_count(NULL)$$);
SELECT n, pg_temp.try(call) AS outcome FROM cases ORDER BY n;
-- (binary input: truncated, wrong version, unknown flags and oversized bytes are in 40_parity_sketch)
-- base tables refuse bad rows with their CHECKs
INSERT INTO channel_sync.skus (sku) VALUES (repeat('s', 10240));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO channel_sync.stock (sku, location_id, on_hand) VALUES ('TEE', 'wh1', 2147483648);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
UPDATE channel_sync.stock SET on_hand = -1;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- nothing above changed the truth: TEE still has 5 on hand and one applied event at most
SELECT sku, on_hand, reserved FROM channel_sync.stock;
SELECT status, count(*) FROM channel_sync.events GROUP BY 1 ORDER BY 1;
