-- order_cancelled, order_shipped and return_received lock and write orders and their lines
-- without SQL when the tables are as channel_sync made them; what the statements did must
-- still happen: the counters, states and stock, a user's row trigger, a DBA's CHECK constraint,
-- and a user's statement trigger (SQL then writes the rows).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS channel_sync CASCADE;
CREATE EXTENSION channel_sync;
RESET client_min_messages;
\set VERBOSITY terse

INSERT INTO channel_sync.channels (channel_id) VALUES ('shop');
INSERT INTO channel_sync.locations (location_id) VALUES ('wh1');
INSERT INTO channel_sync.skus (sku, base_price) VALUES ('TEE', 20), ('CAP', 10);
INSERT INTO channel_sync.stock (sku, location_id, on_hand) VALUES ('TEE', 'wh1', 50), ('CAP', 'wh1', 50);

CREATE FUNCTION ev(key text, type text, payload jsonb, at timestamptz) RETURNS text LANGUAGE sql AS $$
  SELECT status || coalesce(': ' || detail, '') FROM channel_sync.ingest('shop', key, type, payload, at)
$$;
CREATE VIEW lines AS
  SELECT o.order_id, o.state, o.updated_at, l.line_no, l.sku, l.qty, l.qty_shipped, l.qty_cancelled, l.qty_returned
    FROM channel_sync.orders o JOIN channel_sync.order_lines l USING (channel_id, order_id) ORDER BY 1, 4;
CREATE VIEW levels AS SELECT sku, on_hand, reserved FROM channel_sync.stock ORDER BY 1;
SET timezone = 'UTC';

SELECT ev('p1', 'order_placed', '{"order_id": "O1", "lines": [{"sku": "TEE", "qty": 3}, {"sku": "CAP", "qty": 2}]}', '2024-05-01 10:00+00');
SELECT ev('p2', 'order_placed', '{"order_id": "O2", "lines": [{"sku": "TEE", "qty": 1}]}', '2024-05-01 10:00+00');

-- one unit of a line cancelled, the rest shipped, a unit returned and restocked
SELECT ev('c1', 'order_cancelled', '{"order_id": "O1", "lines": [{"sku": "CAP", "qty": 1}]}', '2024-05-01 11:00+00');
SELECT * FROM lines;
SELECT ev('s1', 'order_shipped', '{"order_id": "O1"}', '2024-05-01 12:00+00');
SELECT ev('r1', 'return_received', '{"order_id": "O1", "sku": "TEE", "qty": 1, "location_id": "wh1", "restock": true}', '2024-05-01 13:00+00');
SELECT * FROM lines;
SELECT * FROM levels;

-- updated_at keeps the later time: a cancellation that happened before the last event
SELECT ev('c2', 'order_cancelled', '{"order_id": "O2"}', '2024-05-01 09:00+00');
SELECT order_id, state, updated_at FROM channel_sync.orders WHERE order_id = 'O2';
-- an invalid transition and an unknown order are rejected, nothing written
SELECT ev('s2', 'order_shipped', '{"order_id": "O2"}', '2024-05-01 14:00+00');
SELECT ev('s9', 'order_shipped', '{"order_id": "O9"}', '2024-05-01 14:00+00');
SELECT * FROM lines WHERE order_id = 'O2';

-- one batch places orders and cancels and ships them: the lines it inserted are written again
SELECT r.status, r.detail FROM channel_sync.ingest_batch('shop', '[
  {"idempotency_key": "b1", "event_type": "order_placed", "payload": {"order_id": "O3", "lines": [{"sku": "TEE", "qty": 2}]}, "occurred_at": "2024-05-02 10:00+00"},
  {"idempotency_key": "b2", "event_type": "order_placed", "payload": {"order_id": "O4", "lines": [{"sku": "CAP", "qty": 4}]}, "occurred_at": "2024-05-02 10:00+00"},
  {"idempotency_key": "b3", "event_type": "order_cancelled", "payload": {"order_id": "O3"}, "occurred_at": "2024-05-02 10:01+00"},
  {"idempotency_key": "b4", "event_type": "order_shipped", "payload": {"order_id": "O4", "lines": [{"sku": "CAP", "qty": 1}]}, "occurred_at": "2024-05-02 10:02+00"},
  {"idempotency_key": "b5", "event_type": "order_shipped", "payload": {"order_id": "O4"}, "occurred_at": "2024-05-02 10:03+00"},
  {"idempotency_key": "b6", "event_type": "order_cancelled", "payload": {"order_id": "O4"}, "occurred_at": "2024-05-02 10:04+00"}
]'::jsonb) AS r;
SELECT * FROM lines WHERE order_id IN ('O3', 'O4');
SELECT * FROM levels;

-- a user's row trigger on order_lines sees every line written, and may change it
CREATE TABLE line_log (order_id text, line_no int, cancelled int);
CREATE FUNCTION log_line() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.line_log VALUES (NEW.order_id, NEW.line_no, NEW.qty_cancelled);
  RETURN NEW;
END $$;
CREATE TRIGGER log_line BEFORE UPDATE ON channel_sync.order_lines FOR EACH ROW EXECUTE FUNCTION log_line();
SELECT ev('p5', 'order_placed', '{"order_id": "O5", "lines": [{"sku": "TEE", "qty": 1}, {"sku": "CAP", "qty": 1}]}', '2024-05-03 10:00+00');
SELECT ev('c5', 'order_cancelled', '{"order_id": "O5"}', '2024-05-03 11:00+00');
SELECT * FROM line_log ORDER BY 1, 2;
DROP TRIGGER log_line ON channel_sync.order_lines;

-- a DBA's CHECK constraint on order_lines holds: the failed call leaves nothing behind
ALTER TABLE channel_sync.order_lines ADD CONSTRAINT no_returns CHECK (qty_returned = 0) NOT VALID;
SELECT ev('p6', 'order_placed', '{"order_id": "O6", "lines": [{"sku": "TEE", "qty": 1}]}', '2024-05-04 10:00+00');
SELECT ev('s6', 'order_shipped', '{"order_id": "O6"}', '2024-05-04 11:00+00');
SELECT * FROM levels;
SELECT ev('r6', 'return_received', '{"order_id": "O6", "sku": "TEE", "qty": 1, "location_id": "wh1", "restock": true}', '2024-05-04 12:00+00');
SELECT * FROM levels;
SELECT count(*) AS r6_events FROM channel_sync.events WHERE idempotency_key = 'r6';
SELECT * FROM lines WHERE order_id = 'O6';
ALTER TABLE channel_sync.order_lines DROP CONSTRAINT no_returns;

-- a user's statement trigger on orders sees the orders changed (SQL writes them then)
CREATE TABLE order_log (order_id text, state text);
CREATE FUNCTION log_orders() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.order_log SELECT order_id, state FROM new_rows;
  RETURN NULL;
END $$;
CREATE TRIGGER log_orders AFTER UPDATE ON channel_sync.orders REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION log_orders();
SELECT ev('r6b', 'return_received', '{"order_id": "O6", "sku": "TEE", "qty": 1, "location_id": "wh1", "restock": false}', '2024-05-04 12:00+00');
SELECT * FROM order_log;
SELECT * FROM lines WHERE order_id = 'O6';
DROP TRIGGER log_orders ON channel_sync.orders;
-- a DBA's stored generated columns stay current through the in-place writes (stock, lines,
-- listings), and an UPDATE OF trigger fires for the columns a write changes, as with SQL
ALTER TABLE channel_sync.stock ADD COLUMN free int GENERATED ALWAYS AS (on_hand - reserved) STORED;
ALTER TABLE channel_sync.order_lines ADD COLUMN open_qty int GENERATED ALWAYS AS (qty - qty_shipped - qty_cancelled) STORED;
ALTER TABLE channel_sync.listings ADD COLUMN qty_twice int GENERATED ALWAYS AS (target_qty * 2) STORED;
CREATE TABLE column_log (what text);
CREATE FUNCTION log_column() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.column_log VALUES (TG_NAME || ' line ' || NEW.line_no);
  RETURN NEW;
END $$;
CREATE TRIGGER of_cancelled BEFORE UPDATE OF qty_cancelled ON channel_sync.order_lines FOR EACH ROW EXECUTE FUNCTION log_column();
CREATE TRIGGER of_shipped BEFORE UPDATE OF qty_shipped ON channel_sync.order_lines FOR EACH ROW EXECUTE FUNCTION log_column();
SELECT ev('p7', 'order_placed', '{"order_id": "O7", "lines": [{"sku": "TEE", "qty": 3}, {"sku": "CAP", "qty": 2}]}', '2024-05-05 10:00+00');
SELECT ev('c7', 'order_cancelled', '{"order_id": "O7", "lines": [{"sku": "TEE", "qty": 1}]}', '2024-05-05 11:00+00');
SELECT ev('a7', 'stock_adjusted', '{"sku": "CAP", "location_id": "wh1", "delta": 5, "reason": "po"}', '2024-05-05 11:30+00');
SELECT count(*) AS stale_free FROM channel_sync.stock WHERE free <> on_hand - reserved;
SELECT line_no, qty, qty_cancelled, open_qty FROM channel_sync.order_lines WHERE order_id = 'O7' ORDER BY 1;
SELECT count(*) AS stale_listings FROM channel_sync.listings WHERE qty_twice <> target_qty * 2;
SELECT * FROM column_log;
SELECT ev('s7', 'order_shipped', '{"order_id": "O7"}', '2024-05-05 12:00+00');
SELECT line_no, qty_shipped, open_qty FROM channel_sync.order_lines WHERE order_id = 'O7' ORDER BY 1;
SELECT * FROM column_log;
SELECT count(*) AS stale_free FROM channel_sync.stock WHERE free <> on_hand - reserved;
DROP TRIGGER of_cancelled ON channel_sync.order_lines;
DROP TRIGGER of_shipped ON channel_sync.order_lines;
ALTER TABLE channel_sync.stock DROP COLUMN free;
ALTER TABLE channel_sync.order_lines DROP COLUMN open_qty;
ALTER TABLE channel_sync.listings DROP COLUMN qty_twice;
-- the targets equal a full recompute after every path above
SELECT check_name, channel_id, sku FROM channel_sync.verify();
DROP VIEW lines, levels;
DROP TABLE line_log, order_log, column_log;
DROP FUNCTION ev(text, text, jsonb, timestamptz), log_line(), log_orders(), log_column();
