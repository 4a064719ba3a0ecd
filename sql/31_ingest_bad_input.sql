-- Inbound events: bad input. A malformed call is an error with a SQLSTATE; everything
-- else is a recorded rejected event with a reason, with no effect. Then ingest_batch(),
-- replay() and prune_events().
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS channel_sync CASCADE;
CREATE EXTENSION channel_sync;
RESET client_min_messages;
\set SHOW_CONTEXT never
\set VERBOSITY default

INSERT INTO channel_sync.channels (channel_id, kind) VALUES ('shop', 'storefront'), ('amazon', 'marketplace');
INSERT INTO channel_sync.locations (location_id) VALUES ('wh-a');
INSERT INTO channel_sync.skus (sku, kind) VALUES ('TEE', 'simple'), ('NOKIT', 'bundle');
INSERT INTO channel_sync.stock (sku, location_id, on_hand) VALUES ('TEE', 'wh-a', 10);
CREATE VIEW stock_now AS SELECT sku, location_id, on_hand, reserved FROM channel_sync.stock ORDER BY 1, 2;

-- malformed calls: errors
SELECT * FROM channel_sync.ingest(NULL, 'k', 'order_placed', '{}', '2024-05-01');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM channel_sync.ingest('nowhere', 'k', 'order_placed', '{}', '2024-05-01');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM channel_sync.ingest('shop', NULL, 'order_placed', '{}', '2024-05-01');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- everything else: recorded as rejected, with the reason
CREATE OR REPLACE FUNCTION try(key text, type text, payload jsonb, at timestamptz DEFAULT '2024-05-01 10:00+00')
RETURNS TABLE (status text, detail text) LANGUAGE sql
AS $$ SELECT r.status, r.detail FROM channel_sync.ingest('shop', key, type, payload, at) r $$;
SELECT * FROM try('', 'order_placed', '{"order_id": "O", "lines": [{"sku": "TEE", "qty": 1}]}');
SELECT * FROM try(repeat('k', 256), 'order_placed', '{"order_id": "O", "lines": [{"sku": "TEE", "qty": 1}]}');
SELECT * FROM try(repeat('é', 255), 'order_placed', '{"order_id": "O255", "lines": [{"sku": "TEE", "qty": 1}]}');
SELECT * FROM try('b1', 'order_teleported', '{"order_id": "O"}');
SELECT * FROM try('b2', NULL, '{"order_id": "O"}');
SELECT * FROM try('b3', 'order_placed', '[1, 2]');
SELECT * FROM try('b4', 'order_placed', '"O"');
SELECT * FROM try('b5', 'order_placed', NULL);
SELECT * FROM try('b6', 'order_placed', '{"order_id": "O", "lines": [{"sku": "TEE", "qty": 1}]}', NULL);
SELECT * FROM try('b7', 'order_placed', '{"order_id": "O", "lines": [{"sku": "TEE"}]}');
SELECT * FROM try('b8', 'order_placed', '{"order_id": "O", "lines": [{"sku": "TEE", "qty": 1.5}]}');
SELECT * FROM try('b9', 'order_placed', '{"order_id": "O", "lines": [{"sku": "TEE", "qty": "2"}]}');
SELECT * FROM try('b10', 'order_placed', '{"order_id": "O", "lines": [{"sku": "TEE", "qty": 0}]}');
SELECT * FROM try('b11', 'order_placed', '{"order_id": "O", "lines": [{"sku": "TEE", "qty": -1}]}');
SELECT * FROM try('b12', 'order_placed', '{"order_id": "O", "lines": [{"sku": "TEE", "qty": 99999999999}]}');
SELECT * FROM try('b13', 'order_placed', '{"order_id": "O", "lines": []}');
SELECT * FROM try('b14', 'order_placed', '{"order_id": "O", "lines": {"sku": "TEE"}}');
SELECT * FROM try('b15', 'order_placed', '{"lines": [{"sku": "TEE", "qty": 1}]}');
SELECT * FROM try('b16', 'order_placed', '{"order_id": "", "lines": [{"sku": "TEE", "qty": 1}]}');
SELECT * FROM try('b17', 'order_placed', '{"order_id": "O", "lines": [{"sku": "TEE", "external_id": "X", "qty": 1}]}');
SELECT * FROM try('b18', 'order_placed', '{"order_id": "O", "lines": [{"qty": 1}]}');
SELECT * FROM try('b19', 'order_placed', '{"order_id": "O", "lines": [{"sku": "GHOST", "qty": 1}]}');
SELECT * FROM try('b20', 'order_placed', '{"order_id": "O", "lines": [{"external_id": "B0TEE", "qty": 1}]}');
SELECT * FROM try('b21', 'order_placed', '{"order_id": "O", "lines": [{"sku": "NOKIT", "qty": 1}]}');
SELECT * FROM try('b22', 'order_placed', '{"order_id": "O", "lines": [{"sku": "TEE", "qty": 1}, 7]}');
SELECT * FROM try('b23', 'order_placed', jsonb_build_object('order_id', 'O', 'lines', '[{"sku": "TEE", "qty": 1}]'::jsonb, 'note', repeat('x', 1100000)));
SELECT * FROM try('b24', 'return_received', '{"sku": "TEE", "qty": 1, "location_id": "wh-a"}');
SELECT * FROM try('b25', 'return_received', '{"sku": "TEE", "qty": 1, "location_id": "wh-a", "restock": "yes"}');
SELECT * FROM try('b26', 'stock_adjusted', '{"sku": "TEE", "location_id": "wh-a", "delta": 0, "reason": "none"}');
SELECT * FROM try('b27', 'stock_adjusted', '{"sku": "TEE", "location_id": "wh-a", "delta": 2}');
SELECT * FROM try('b28', 'stock_counted', '{"sku": "TEE", "location_id": "wh-a", "on_hand": -1}');
SELECT * FROM try('b29', 'stock_counted', '{"sku": "TEE", "on_hand": 1}');
SELECT * FROM try('b30', 'listing_observed', '{"sku": "TEE", "qty": 1, "price": -2}');
SELECT * FROM try('b31', 'listing_observed', '{"sku": "TEE", "qty": 1, "price": "cheap"}');
SELECT * FROM try('b32', 'order_cancelled', '{"order_id": "O", "lines": [{"sku": "TEE", "qty": 0}]}');
-- nothing above had an effect, and every one is on record
SELECT * FROM stock_now;
SELECT count(*) AS orders FROM channel_sync.orders;
SELECT status, count(*) FROM channel_sync.events GROUP BY 1 ORDER BY 1;
-- an unusable key is recorded under a name made from it; its redelivery is a duplicate
SELECT idempotency_key ~ '^invalid-key:[0-9a-f-]{36}$' AS named, status, detail FROM channel_sync.events WHERE detail LIKE 'idempotency_key%' ORDER BY event_id;
SELECT * FROM try('', 'order_placed', '{"order_id": "O", "lines": [{"sku": "TEE", "qty": 1}]}');
-- the 255-character key was fine
SELECT order_id, state FROM channel_sync.orders;

-- replay(): only rejected events, after the cause is fixed
INSERT INTO channel_sync.sku_aliases VALUES ('shop', 'B0TEE', 'TEE');
SELECT r.* FROM channel_sync.events e, channel_sync.replay(e.event_id) r WHERE e.idempotency_key = 'b20';
SELECT status, detail FROM channel_sync.events WHERE idempotency_key = 'b20';
SELECT * FROM stock_now;
SELECT channel_sync.replay(e.event_id) FROM channel_sync.events e WHERE e.idempotency_key = 'b20';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- still broken: stays rejected, with the current reason
SELECT r.status, r.detail FROM channel_sync.events e, channel_sync.replay(e.event_id) r WHERE e.idempotency_key = 'b19';
SELECT channel_sync.replay(e.event_id) FROM channel_sync.events e WHERE e.idempotency_key = '' OR e.detail = 'idempotency_key is empty';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT channel_sync.replay(424242);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT channel_sync.replay(NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- a connector may act only for its own channels
SET client_min_messages = warning;
DROP ROLE IF EXISTS cs_ingest_test_outsider;
RESET client_min_messages;
CREATE ROLE cs_ingest_test_outsider IN ROLE channel_sync_connector;
SET ROLE cs_ingest_test_outsider;
SELECT * FROM channel_sync.ingest('shop', 'x1', 'stock_adjusted', '{"sku": "TEE", "location_id": "wh-a", "delta": 1, "reason": "x"}', '2024-05-01');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM channel_sync.ingest_batch('shop', '[]');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
DROP ROLE cs_ingest_test_outsider;

-- ingest_batch(): one result per element, in order; bad elements rejected, the rest applied
SELECT * FROM channel_sync.ingest_batch('amazon', $$[
  {"idempotency_key": "m1", "event_type": "stock_adjusted", "payload": {"sku": "TEE", "location_id": "wh-a", "delta": 5, "reason": "po"}, "occurred_at": "2024-05-02T08:00:00Z"},
  {"idempotency_key": "m2", "event_type": "stock_adjusted", "payload": {"sku": "TEE", "location_id": "wh-a", "delta": -500, "reason": "oops"}, "occurred_at": "2024-05-02T08:00:00Z"},
  42,
  {"event_type": "stock_adjusted", "payload": {}},
  {"idempotency_key": 7, "event_type": "stock_adjusted", "payload": {}},
  {"idempotency_key": "m3", "event_type": "stock_counted", "payload": {"sku": "TEE", "location_id": "wh-a", "on_hand": 30}, "occurred_at": "not a time"},
  {"idempotency_key": "m4", "event_type": "order_placed", "payload": {"order_id": "AM1", "lines": [{"sku": "TEE", "qty": 2}]}, "occurred_at": "2024-05-02T08:01:00Z"},
  {"idempotency_key": "m1", "event_type": "stock_adjusted", "payload": {"sku": "TEE", "location_id": "wh-a", "delta": 5, "reason": "po"}, "occurred_at": "2024-05-02T08:00:00Z"},
  {"idempotency_key": "m1", "event_type": "stock_adjusted", "payload": {"sku": "TEE", "location_id": "wh-a", "delta": 6, "reason": "po"}, "occurred_at": "2024-05-02T08:00:00Z"},
  {"idempotency_key": "m5", "event_type": "order_cancelled", "payload": {"order_id": "AM1"}, "occurred_at": "2024-05-02T08:02:00Z"}
]$$);
SELECT * FROM stock_now;
SELECT * FROM channel_sync.ingest_batch('amazon', '[]');
SELECT * FROM channel_sync.ingest_batch('amazon', '{"idempotency_key": "m9"}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM channel_sync.ingest_batch('amazon', NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM channel_sync.ingest_batch('nowhere', '[]');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- prune_events(): applied and duplicate history older than the window goes; rejected,
-- conflicting, stale, the keys conflicts point at and the events of open orders stay
SELECT status FROM channel_sync.ingest('amazon', 'm6', 'order_placed', '{"order_id": "AM2", "lines": [{"sku": "TEE", "qty": 1}]}', '2024-05-02 09:00+00');
UPDATE channel_sync.events SET received_at = received_at - interval '30 days';
SELECT channel_sync.prune_events('90 days');
SELECT channel_sync.prune_events('7 days');
SELECT left(idempotency_key, 3) AS key, length(idempotency_key), status FROM channel_sync.events WHERE status IN ('applied', 'duplicate') ORDER BY event_id;
SELECT status, count(*) FROM channel_sync.events GROUP BY 1 ORDER BY 1;
SELECT channel_sync.prune_events('-1 day');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT channel_sync.prune_events(NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- a pruned key may arrive again: the order it would create exists, so it is rejected, not doubled
SELECT status, detail FROM channel_sync.ingest('amazon', 'm4', 'order_placed', '{"order_id": "AM1", "lines": [{"sku": "TEE", "qty": 2}]}', '2024-05-02 08:01+00');
SELECT * FROM stock_now;

-- a run of order_placed events in one batch is applied set-based, with the outcomes
-- ingest() would give one by one: in-run duplicates and conflicts, an unknown SKU, an
-- order that exists, an order placed twice in the run, and the stock running out (oversold)
INSERT INTO channel_sync.skus (sku, kind) VALUES ('CAP', 'simple'), ('KIT', 'bundle');
INSERT INTO channel_sync.bundle_components VALUES ('KIT', 'TEE', 1), ('KIT', 'CAP', 2);
INSERT INTO channel_sync.stock (sku, location_id, on_hand) VALUES ('CAP', 'wh-a', 3);
SELECT r.event_id, r.status, r.detail FROM channel_sync.ingest_batch('amazon', $$[
  {"idempotency_key": "r1", "event_type": "order_placed", "payload": {"order_id": "R1", "lines": [{"sku": "KIT", "qty": 1}]}, "occurred_at": "2024-05-03T08:00:00Z"},
  {"idempotency_key": "r2", "event_type": "order_placed", "payload": {"order_id": "R2", "lines": [{"sku": "GHOST", "qty": 1}]}, "occurred_at": "2024-05-03T08:00:00Z"},
  {"idempotency_key": "r1", "event_type": "order_placed", "payload": {"order_id": "R1", "lines": [{"sku": "KIT", "qty": 1}]}, "occurred_at": "2024-05-03T08:00:00Z"},
  {"idempotency_key": "r3", "event_type": "order_placed", "payload": {"order_id": "AM2", "lines": [{"sku": "TEE", "qty": 1}]}, "occurred_at": "2024-05-03T08:00:00Z"},
  {"idempotency_key": "r4", "event_type": "order_placed", "payload": {"order_id": "R1", "lines": [{"sku": "TEE", "qty": 1}]}, "occurred_at": "2024-05-03T08:00:00Z"},
  {"idempotency_key": "r5", "event_type": "order_placed", "payload": {"order_id": "R5", "lines": [{"sku": "CAP", "qty": 1}, {"sku": "KIT", "qty": 1}]}, "occurred_at": "2024-05-03T08:00:00Z"},
  {"idempotency_key": "r1", "event_type": "order_placed", "payload": {"order_id": "R1", "lines": [{"sku": "KIT", "qty": 9}]}, "occurred_at": "2024-05-03T08:00:00Z"},
  {"idempotency_key": "m6", "event_type": "order_placed", "payload": {"order_id": "AM2", "lines": [{"sku": "TEE", "qty": 1}]}, "occurred_at": "2024-05-02T09:00:00Z"}
]$$) WITH ORDINALITY AS r (event_id, status, detail, n);
SELECT order_id, state, oversold FROM channel_sync.orders WHERE order_id LIKE 'R%' ORDER BY 1;
SELECT order_id, line_no, sold_sku, sku, location_id, qty FROM channel_sync.order_lines WHERE order_id LIKE 'R%' ORDER BY 1, 2;
SELECT * FROM stock_now;
DROP VIEW stock_now;
