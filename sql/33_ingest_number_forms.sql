-- A number's form is not part of an event's content: jsonb keeps the scale a number came with
-- (19.90 stays 19.90), but a redelivery that writes 19.9, or qty 4.0, is the same event. An event
-- stored before 0.4.0 was fingerprinted over the text as jsonb printed it; a redelivery of it in
-- that same form is still its duplicate. A numeric id is its integer (1001.0 is 1001).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS channel_sync CASCADE;
CREATE EXTENSION channel_sync;
RESET client_min_messages;
\set VERBOSITY terse

INSERT INTO channel_sync.channels (channel_id) VALUES ('amazon');
INSERT INTO channel_sync.locations (location_id) VALUES ('wh1');
INSERT INTO channel_sync.skus (sku, base_price) VALUES ('TEE', 20), ('CAP', 10);
INSERT INTO channel_sync.stock (sku, location_id, on_hand) VALUES ('TEE', 'wh1', 10), ('CAP', 'wh1', 5);

CREATE FUNCTION observe(key text, payload text) RETURNS text LANGUAGE sql AS $$
  SELECT status || coalesce(': ' || left(detail, 40), '')
    FROM channel_sync.ingest('amazon', key, 'listing_observed', payload::jsonb, '2024-05-03 09:00+00')
$$;

SELECT observe('o1', '{"sku": "TEE", "qty": 4, "price": 19.90}');
-- the same price with fewer or more zeros: duplicates of o1
SELECT observe('o1', '{"sku": "TEE", "qty": 4, "price": 19.9}');
SELECT observe('o1', '{"sku": "TEE", "qty": 4, "price": 19.900}');
-- another price is another event
SELECT observe('o1', '{"sku": "TEE", "qty": 4, "price": 19.91}');
-- a string is not a number: "19.90" and "19.9" differ
SELECT observe('o2', '{"sku": "TEE", "qty": 4, "price": 19.90, "note": "19.90"}');
SELECT observe('o2', '{"sku": "TEE", "qty": 4, "price": 19.90, "note": "19.9"}');
SELECT idempotency_key, status, duplicates FROM channel_sync.events ORDER BY event_id;

-- ingest_batch: the same, a redelivery in another form inside one batch and across batches
SELECT (r).status FROM (SELECT channel_sync.ingest_batch('amazon', '[
  {"idempotency_key": "b1", "event_type": "listing_observed", "occurred_at": "2024-05-03T10:00:00Z",
   "payload": {"sku": "CAP", "qty": 2, "price": 9.50}},
  {"idempotency_key": "b1", "event_type": "listing_observed", "occurred_at": "2024-05-03T10:00:00Z",
   "payload": {"sku": "CAP", "qty": 2, "price": 9.5}},
  {"idempotency_key": "o1", "event_type": "listing_observed", "occurred_at": "2024-05-03T09:00:00Z",
   "payload": {"sku": "TEE", "qty": 4.00, "price": 19.90}}]') AS r) AS b;
SELECT idempotency_key, status, duplicates FROM channel_sync.events
 WHERE first_event_id IS NULL ORDER BY event_id;

-- an event as 0.3.0 stored it: its fingerprint was over {"qty": 4, "sku": "TEE", "price": 19.90}
-- as printed (computed by that library for this payload and occurred_at)
UPDATE channel_sync.events SET fingerprint = '0e6b2b7a-2312-56fb-68a1-38f25229d4ab'
 WHERE idempotency_key = 'o1' AND first_event_id IS NULL;
-- redelivered as it was then: a duplicate (ingest and ingest_batch)
SELECT observe('o1', '{"sku": "TEE", "qty": 4, "price": 19.90}');
SELECT (r).status FROM (SELECT channel_sync.ingest_batch('amazon', '[
  {"idempotency_key": "o1", "event_type": "listing_observed", "occurred_at": "2024-05-03T09:00:00Z",
   "payload": {"sku": "TEE", "qty": 4, "price": 19.90}}]') AS r) AS b;
SELECT duplicates FROM channel_sync.events WHERE idempotency_key = 'o1' AND first_event_id IS NULL;
-- in another form it cannot be told from other content: a conflict
SELECT observe('o1', '{"sku": "TEE", "qty": 4, "price": 19.9}');

-- a numeric order id is its integer: order 1001 placed, then cancelled as 1001.0
SELECT status FROM channel_sync.ingest('amazon', 'p1', 'order_placed', '{"order_id": 1001, "lines": [{"sku": "TEE", "qty": 1}]}');
SELECT status FROM channel_sync.ingest('amazon', 'c1', 'order_cancelled', '{"order_id": 1001.0}');
SELECT order_id, state FROM channel_sync.orders;
DROP FUNCTION observe(text, text);

-- Nor is the time a batch element is recorded at when it came without occurred_at: a
-- redelivery of it in a later transaction is its duplicate; an occurred_at that is not a
-- timestamp (rejected) is fingerprinted as sent, so its redelivery is a duplicate too and
-- another such value under the key a conflict
CREATE FUNCTION batch_status(elems text) RETURNS text LANGUAGE sql AS $$
  SELECT string_agg(status, ', ') FROM channel_sync.ingest_batch('amazon', elems::jsonb)
$$;
SELECT batch_status('[{"idempotency_key": "t1", "event_type": "stock_adjusted", "payload": {"sku": "CAP", "location_id": "wh1", "delta": 1, "reason": "po"}}]');
SELECT pg_sleep(0.01);
SELECT batch_status('[{"idempotency_key": "t1", "event_type": "stock_adjusted", "payload": {"sku": "CAP", "location_id": "wh1", "delta": 1, "reason": "po"}, "occurred_at": null}]');
SELECT batch_status('[{"idempotency_key": "t2", "event_type": "stock_adjusted", "payload": {"sku": "CAP", "location_id": "wh1", "delta": 1, "reason": "po"}, "occurred_at": "yesterday-ish"}]');
SELECT pg_sleep(0.01);
SELECT batch_status('[{"idempotency_key": "t2", "event_type": "stock_adjusted", "payload": {"sku": "CAP", "location_id": "wh1", "delta": 1, "reason": "po"}, "occurred_at": "yesterday-ish"}]');
SELECT batch_status('[{"idempotency_key": "t2", "event_type": "stock_adjusted", "payload": {"sku": "CAP", "location_id": "wh1", "delta": 1, "reason": "po"}, "occurred_at": "last week"}]');
SELECT batch_status('[{"idempotency_key": "t2", "event_type": "stock_adjusted", "payload": {"sku": "CAP", "location_id": "wh1", "delta": 1, "reason": "po"}, "occurred_at": 17}]');
SELECT on_hand FROM channel_sync.stock WHERE sku = 'CAP';
DROP FUNCTION batch_status(text);

-- ingest() without occurred_at (its default, now()): a retry in a later transaction is the
-- same call, a duplicate; with a time of its own it is another event
SELECT status FROM channel_sync.ingest('amazon', 'r1', 'stock_adjusted', '{"sku": "CAP", "location_id": "wh1", "delta": 2, "reason": "po"}');
SELECT pg_sleep(0.01);
SELECT status FROM channel_sync.ingest('amazon', 'r1', 'stock_adjusted', '{"sku": "CAP", "location_id": "wh1", "delta": 2, "reason": "po"}');
SELECT status FROM channel_sync.ingest('amazon', 'r1', 'stock_adjusted', '{"sku": "CAP", "location_id": "wh1", "delta": 2, "reason": "po"}', now());
SELECT status FROM channel_sync.ingest('amazon', 'r1', 'stock_adjusted', '{"sku": "CAP", "location_id": "wh1", "delta": 2, "reason": "po"}', '2024-05-03 09:00+00');
SELECT on_hand FROM channel_sync.stock WHERE sku = 'CAP';
