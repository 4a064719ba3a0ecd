-- order_placed writes orders and their lines without SQL when the tables are as channel_sync
-- made them; what the INSERTs did must still happen: the rows, ON CONFLICT DO NOTHING on the
-- order id, a DBA's CHECK constraint, and a user's trigger or column (SQL then writes them).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS channel_sync CASCADE;
CREATE EXTENSION channel_sync;
RESET client_min_messages;
\set VERBOSITY terse

INSERT INTO channel_sync.channels (channel_id) VALUES ('shop'), ('amazon');
INSERT INTO channel_sync.locations (location_id) VALUES ('wh1'), ('wh2');
INSERT INTO channel_sync.skus (sku, base_price) VALUES ('TEE', 20), ('CAP', 10);
INSERT INTO channel_sync.skus (sku, kind) VALUES ('KIT', 'bundle');
INSERT INTO channel_sync.bundle_components (bundle_sku, component_sku, qty_per) VALUES ('KIT', 'TEE', 1), ('KIT', 'CAP', 2);
INSERT INTO channel_sync.stock (sku, location_id, on_hand) VALUES ('TEE', 'wh1', 10), ('TEE', 'wh2', 4), ('CAP', 'wh1', 3);

CREATE FUNCTION place(key text, order_id text, lines jsonb) RETURNS text LANGUAGE sql AS $$
  SELECT status || coalesce(': ' || detail, '')
    FROM channel_sync.ingest('shop', key, 'order_placed',
                             jsonb_build_object('order_id', order_id, 'lines', lines), '2024-05-01 10:00+00')
$$;
CREATE VIEW placed AS
  SELECT o.order_id, o.state, o.oversold, o.event_id = e.event_id AS own_event,
         l.line_no, l.sku, l.location_id, l.qty, l.sold_sku, l.units_per_sold
    FROM channel_sync.orders o JOIN channel_sync.order_lines l USING (channel_id, order_id)
    JOIN channel_sync.events e ON e.channel_id = o.channel_id AND e.idempotency_key = 'k-' || o.order_id
     AND e.first_event_id IS NULL
   ORDER BY 1, 5;

-- one line, several lines (a bundle's components, demand summed), an oversold line
SELECT place('k-O1', 'O1', '[{"sku": "TEE", "qty": 2}]');
SELECT place('k-O2', 'O2', '[{"sku": "KIT", "qty": 1}, {"sku": "TEE", "qty": 1, "location_id": "wh2"}]');
SELECT place('k-O3', 'O3', '[{"sku": "CAP", "qty": 5}]');
SELECT * FROM placed;
SELECT sku, location_id, on_hand, reserved FROM channel_sync.stock ORDER BY 1, 2;

-- the order id exists: rejected, nothing written (the line of the new key is not there)
SELECT place('k-O1-again', 'O1', '[{"sku": "CAP", "qty": 1}]');
SELECT count(*) AS lines_of_o1 FROM channel_sync.order_lines WHERE order_id = 'O1';

-- a DBA's CHECK constraint on order_lines holds, and the failed call leaves nothing behind
ALTER TABLE channel_sync.order_lines ADD CONSTRAINT small_lines CHECK (qty <= 5);
SELECT place('k-O4', 'O4', '[{"sku": "TEE", "qty": 6}]');
SELECT count(*) AS o4 FROM channel_sync.orders WHERE order_id = 'O4';
SELECT count(*) AS o4_events FROM channel_sync.events WHERE idempotency_key = 'k-O4';
ALTER TABLE channel_sync.order_lines DROP CONSTRAINT small_lines;

-- a foreign key a DBA added is checked (the SQL path writes the order): no order of 'shop'
CREATE TABLE open_channels (channel_id text PRIMARY KEY);
INSERT INTO open_channels VALUES ('amazon');
ALTER TABLE channel_sync.orders ADD CONSTRAINT orders_open_channel FOREIGN KEY (channel_id) REFERENCES public.open_channels NOT VALID;
SELECT place('k-O4b', 'O4b', '[{"sku": "TEE", "qty": 1}]');
SELECT count(*) AS o4b FROM channel_sync.orders WHERE order_id = 'O4b';
ALTER TABLE channel_sync.orders DROP CONSTRAINT orders_open_channel;
DROP TABLE open_channels;

-- a user's trigger on orders fires for every order placed (the SQL path writes it)
CREATE TABLE order_feed (order_id text, oversold boolean);
CREATE FUNCTION feed_order() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.order_feed VALUES (NEW.order_id, NEW.oversold);
  RETURN NEW;
END $$;
CREATE TRIGGER feed AFTER INSERT ON channel_sync.orders FOR EACH ROW EXECUTE FUNCTION feed_order();
SELECT place('k-O5', 'O5', '[{"sku": "TEE", "qty": 1}]');
SELECT place('k-O6', 'O6', '[{"sku": "TEE", "qty": 1}, {"sku": "CAP", "qty": 1}]');
SELECT * FROM order_feed ORDER BY 1;
SELECT place('k-O5-again', 'O5', '[{"sku": "TEE", "qty": 1}]');
DROP TRIGGER feed ON channel_sync.orders;

-- the same for events: a user's trigger sees every first delivery, duplicates still count
CREATE TABLE event_feed (idempotency_key text, status text);
CREATE FUNCTION feed_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.event_feed VALUES (NEW.idempotency_key, NEW.status);
  RETURN NEW;
END $$;
CREATE TRIGGER feed AFTER INSERT ON channel_sync.events FOR EACH ROW EXECUTE FUNCTION feed_event();
SELECT place('k-O9', 'O9', '[{"sku": "TEE", "qty": 1}]');
SELECT place('k-O9', 'O9', '[{"sku": "TEE", "qty": 1}]');
SELECT status FROM channel_sync.ingest_batch('shop', '[{"idempotency_key": "k-O10", "event_type": "order_placed", "payload": {"order_id": "O10", "lines": [{"sku": "CAP", "qty": 1}]}}]');
SELECT * FROM event_feed ORDER BY 1;
SELECT idempotency_key, status, duplicates FROM channel_sync.events WHERE idempotency_key IN ('k-O9', 'k-O10') ORDER BY 1;
-- a mixed batch through SQL claims every key at once too: an adjustment, a rejection, a
-- repeat and a conflicting repeat of keys of the batch, and a key taken before (k-O9)
SELECT on_hand FROM channel_sync.stock WHERE sku = 'TEE' AND location_id = 'wh1';
SELECT r.status, r.detail IS NOT NULL AS has_detail
  FROM channel_sync.ingest_batch('shop', '[
    {"idempotency_key": "m-adj", "event_type": "stock_adjusted", "payload": {"sku": "TEE", "location_id": "wh1", "delta": 2, "reason": "found"}},
    {"idempotency_key": "m-bad", "event_type": "stock_adjusted", "payload": {"sku": "TEE", "location_id": "wh1", "delta": "two", "reason": "found"}},
    {"idempotency_key": "m-adj", "event_type": "stock_adjusted", "payload": {"sku": "TEE", "location_id": "wh1", "delta": 2, "reason": "found"}},
    {"idempotency_key": "m-adj", "event_type": "stock_adjusted", "payload": {"sku": "TEE", "location_id": "wh1", "delta": 3, "reason": "found"}},
    {"idempotency_key": "k-O9", "event_type": "order_placed", "payload": {"order_id": "O9", "lines": [{"sku": "TEE", "qty": 1}]}}
  ]') WITH ORDINALITY AS r (event_id, status, detail, n)
 ORDER BY r.n;
SELECT * FROM event_feed WHERE idempotency_key LIKE 'm-%' ORDER BY 1, 2;
SELECT idempotency_key, status, duplicates, first_event_id IS NOT NULL AS conflict
  FROM channel_sync.events WHERE idempotency_key IN ('m-adj', 'm-bad', 'k-O9') ORDER BY 1, 4;
SELECT on_hand FROM channel_sync.stock WHERE sku = 'TEE' AND location_id = 'wh1';
SELECT status FROM channel_sync.ingest('shop', 'm-undo', 'stock_adjusted',
  '{"sku": "TEE", "location_id": "wh1", "delta": -2, "reason": "undo"}');
DROP TRIGGER feed ON channel_sync.events;

-- a column a DBA added, with its default: the SQL path fills it
ALTER TABLE channel_sync.order_lines ADD COLUMN note text DEFAULT 'from ingest';
SELECT place('k-O7', 'O7', '[{"sku": "TEE", "qty": 1}]');
SELECT order_id, note FROM channel_sync.order_lines WHERE order_id = 'O7';
ALTER TABLE channel_sync.order_lines DROP COLUMN note;
-- a dropped column is no obstacle to the direct path (it stays null)
SELECT place('k-O8', 'O8', '[{"sku": "CAP", "qty": 1}]');
SELECT * FROM placed WHERE order_id IN ('O7', 'O8');

-- ingest_batch: every order and line, and the stock reserved once per unit
SELECT status, detail FROM channel_sync.ingest_batch('shop', jsonb_build_array(
  jsonb_build_object('idempotency_key', 'k-B1', 'event_type', 'order_placed', 'payload', '{"order_id": "B1", "lines": [{"sku": "TEE", "qty": 1}]}'::jsonb),
  jsonb_build_object('idempotency_key', 'k-B2', 'event_type', 'order_placed', 'payload', '{"order_id": "B2", "lines": [{"sku": "KIT", "qty": 1}]}'::jsonb),
  jsonb_build_object('idempotency_key', 'k-B3', 'event_type', 'order_placed', 'payload', '{"order_id": "O1", "lines": [{"sku": "TEE", "qty": 1}]}'::jsonb)));
-- one batch delivering a key four times: applied once, two duplicates counted, one conflict
SELECT status, left(detail, 40) AS detail FROM channel_sync.ingest_batch('shop', jsonb_build_array(
  jsonb_build_object('idempotency_key', 'k-B4', 'event_type', 'order_placed', 'payload', '{"order_id": "B4", "lines": [{"sku": "CAP", "qty": 1}]}'::jsonb),
  jsonb_build_object('idempotency_key', 'k-B4', 'event_type', 'order_placed', 'payload', '{"order_id": "B4", "lines": [{"sku": "CAP", "qty": 1}]}'::jsonb),
  jsonb_build_object('idempotency_key', 'k-B4', 'event_type', 'order_placed', 'payload', '{"order_id": "B4", "lines": [{"sku": "CAP", "qty": 2}]}'::jsonb),
  jsonb_build_object('idempotency_key', 'k-B4', 'event_type', 'order_placed', 'payload', '{"order_id": "B4", "lines": [{"sku": "CAP", "qty": 1}]}'::jsonb)));
SELECT status, duplicates, first_event_id IS NULL AS first FROM channel_sync.events WHERE idempotency_key = 'k-B4' ORDER BY event_id;
SELECT * FROM placed WHERE order_id NOT LIKE 'O%';
SELECT sku, location_id, on_hand, reserved FROM channel_sync.stock ORDER BY 1, 2;
-- every order and line is consistent with a recomputation from the lines
SELECT s.sku, s.location_id, s.reserved,
       (SELECT coalesce(sum(l.qty), 0) FROM channel_sync.order_lines l
         WHERE l.sku = s.sku AND l.location_id = s.location_id) AS reserved_by_lines
  FROM channel_sync.stock s ORDER BY 1, 2;

-- stock is written in place (no UPDATE statement) and re-targeted as retarget_on_update would:
-- the order's listings move, every target agrees with a full recompute
SELECT channel_id, target_qty FROM channel_sync.listings WHERE sku IN ('TEE', 'KIT') ORDER BY 1, sku;
SELECT place('k-S1', 'S1', '[{"sku": "TEE", "qty": 2}]');
SELECT channel_id, target_qty FROM channel_sync.listings WHERE sku IN ('TEE', 'KIT') ORDER BY 1, sku;
SELECT count(*) AS drift FROM channel_sync.verify();
-- a DBA's CHECK on stock holds there too, and the failed call leaves nothing behind
ALTER TABLE channel_sync.stock ADD CONSTRAINT reserved_at_most_20 CHECK (reserved <= 20);
SELECT place('k-S2', 'S2', '[{"sku": "TEE", "qty": 30}]');
SELECT count(*) AS s2_orders FROM channel_sync.orders WHERE order_id = 'S2';
ALTER TABLE channel_sync.stock DROP CONSTRAINT reserved_at_most_20;
-- a user's statement trigger on stock sees ingest's stock changes (an UPDATE writes them then)
CREATE TABLE stock_feed (sku text, location_id text, reserved int);
CREATE FUNCTION feed_stock() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.stock_feed SELECT sku, location_id, reserved FROM new_rows; RETURN NULL; END $$;
CREATE TRIGGER feed AFTER UPDATE ON channel_sync.stock REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION feed_stock();
SELECT place('k-S3', 'S3', '[{"sku": "CAP", "qty": 1}]');
SELECT * FROM stock_feed;
SELECT count(*) AS drift FROM channel_sync.verify();
DROP TRIGGER feed ON channel_sync.stock;
-- with retarget_on_update disabled ingest re-targets nothing, as an UPDATE would not; verify
-- reports the disabled trigger and the drift
ALTER TABLE channel_sync.stock DISABLE TRIGGER retarget_on_update;
SELECT place('k-S4', 'S4', '[{"sku": "TEE", "qty": 1}]');
SELECT check_name, channel_id, sku FROM channel_sync.verify() ORDER BY 1, 2, 3;
ALTER TABLE channel_sync.stock ENABLE ALWAYS TRIGGER retarget_on_update;
SELECT count(*) > 0 AS fixed FROM channel_sync.verify(fix => true);
SELECT count(*) AS drift FROM channel_sync.verify();

-- an oversold order's detail is written to its event after the effect, a redelivery bumps the
-- first one's counter: a user's trigger on updates of events sees both (a row trigger, and a
-- statement trigger with its transition table, for which the counter is bumped through SQL)
CREATE TABLE event_updates (how text, idempotency_key text, detail text);
CREATE FUNCTION event_updated_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.event_updates VALUES ('row', NEW.idempotency_key, left(NEW.detail, 8));
  RETURN NULL;
END $$;
CREATE FUNCTION event_updated_statement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.event_updates SELECT 'statement', idempotency_key, left(detail, 8) FROM new_rows;
  RETURN NULL;
END $$;
SELECT place('k-O11', 'O11', '[{"sku": "TEE", "qty": 999}]');
SELECT idempotency_key, status, left(detail, 8) FROM channel_sync.events WHERE idempotency_key = 'k-O11';
CREATE TRIGGER updated AFTER UPDATE ON channel_sync.events FOR EACH ROW EXECUTE FUNCTION event_updated_row();
SELECT place('k-O12', 'O12', '[{"sku": "TEE", "qty": 999}]');
SELECT place('k-O12', 'O12', '[{"sku": "TEE", "qty": 999}]');
DROP TRIGGER updated ON channel_sync.events;
CREATE TRIGGER updated AFTER UPDATE ON channel_sync.events REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION event_updated_statement();
SELECT place('k-O13', 'O13', '[{"sku": "TEE", "qty": 999}]');
SELECT place('k-O13', 'O13', '[{"sku": "TEE", "qty": 999}]');
DROP TRIGGER updated ON channel_sync.events;
SELECT how, idempotency_key, detail, count(*) FROM event_updates GROUP BY 1, 2, 3 ORDER BY 2;
SELECT idempotency_key, duplicates FROM channel_sync.events WHERE idempotency_key IN ('k-O12', 'k-O13') ORDER BY 1;
DROP TABLE event_updates;
DROP FUNCTION event_updated_row();
DROP FUNCTION event_updated_statement();

DROP VIEW placed;
DROP FUNCTION place(text, text, jsonb);
DROP TABLE order_feed, event_feed, stock_feed;
DROP FUNCTION feed_stock();
DROP FUNCTION feed_order();
DROP FUNCTION feed_event();

-- a batch writes the status and detail of its oversold and rejected events in place, on rows
-- it inserted itself: the events table says what the batch returned
SELECT status, left(detail, 36) AS detail FROM channel_sync.ingest_batch('shop', jsonb_build_array(
  jsonb_build_object('idempotency_key', 'k-B5', 'event_type', 'order_placed', 'payload', '{"order_id": "B5", "lines": [{"sku": "TEE", "qty": 999}]}'::jsonb),
  jsonb_build_object('idempotency_key', 'k-B6', 'event_type', 'order_placed', 'payload', '{"order_id": "B6", "lines": [{"sku": "NOPE", "qty": 1}]}'::jsonb),
  jsonb_build_object('idempotency_key', 'k-B7', 'event_type', 'order_placed', 'payload', '{"order_id": "B7", "lines": [{"sku": "KIT", "qty": 999}]}'::jsonb)));
SELECT idempotency_key, status, left(detail, 36) AS detail, duplicates FROM channel_sync.events
 WHERE idempotency_key IN ('k-B5', 'k-B6', 'k-B7') ORDER BY 1;
SELECT order_id, oversold FROM channel_sync.orders WHERE order_id IN ('B5', 'B6', 'B7') ORDER BY 1;

-- every line written here, whichever path wrote it, carries its order's placed_at
SELECT count(*) AS lines_without_their_orders_time FROM channel_sync.order_lines l
  JOIN channel_sync.orders o USING (channel_id, order_id) WHERE l.placed_at IS DISTINCT FROM o.placed_at;

-- events keep 15 % of each page free: the oversold statuses a batch writes on rows it has just
-- inserted (here one order in five, as in the benchmark) mostly stay on their page (HOT
-- updates, no new index entries; with fillfactor 100, none of the 40 did)
SELECT reloptions FROM pg_class WHERE oid = 'channel_sync.events'::regclass;
INSERT INTO channel_sync.skus (sku) VALUES ('MUG'), ('PIN');
INSERT INTO channel_sync.stock (sku, location_id, on_hand) VALUES ('MUG', 'wh1', 1000), ('PIN', 'wh1', 3);
BEGIN;
-- (the transaction's counters hold the session's earlier ones until they are reported)
SELECT n_tup_upd AS upd0, n_tup_hot_upd AS hot0
  FROM pg_stat_xact_user_tables WHERE relid = 'channel_sync.events'::regclass \gset
SELECT status, count(*) FROM channel_sync.ingest_batch('shop', (
  SELECT jsonb_agg(jsonb_build_object('idempotency_key', 'k-H' || i, 'event_type', 'order_placed',
           'payload', jsonb_build_object('order_id', 'H' || i, 'lines', jsonb_build_array(
             CASE WHEN i % 5 = 0 THEN '{"sku": "PIN", "qty": 50}'::jsonb ELSE '{"sku": "MUG", "qty": 1}' END)))
         ORDER BY i)
    FROM generate_series(1, 200) AS i)) GROUP BY 1;
SELECT n_tup_upd - :upd0 AS status_updates, n_tup_hot_upd - :hot0 >= (n_tup_upd - :upd0) / 2 AS most_on_their_page
  FROM pg_stat_xact_user_tables WHERE relid = 'channel_sync.events'::regclass;
COMMIT;

-- a user's trigger on orders that changes the stock the order reserves: the reservation is
-- written on the row as the trigger left it (not where the order found and locked it), in one
-- call and in a batch
CREATE FUNCTION restock_on_order() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE channel_sync.stock SET on_hand = on_hand + 100 WHERE sku = 'CAP' AND location_id = 'wh1';
  RETURN NEW;
END $$;
UPDATE channel_sync.stock SET on_hand = 20, reserved = 0 WHERE sku = 'CAP' AND location_id = 'wh1';
CREATE TRIGGER restock AFTER INSERT ON channel_sync.orders FOR EACH ROW EXECUTE FUNCTION restock_on_order();
SELECT on_hand, reserved FROM channel_sync.stock WHERE sku = 'CAP' AND location_id = 'wh1';
SELECT status FROM channel_sync.ingest('shop', 'k-R1', 'order_placed',
  '{"order_id": "R1", "lines": [{"sku": "TEE", "qty": 1}, {"sku": "CAP", "qty": 2}]}');
SELECT status, count(*) FROM channel_sync.ingest_batch('shop', (
  SELECT jsonb_agg(jsonb_build_object('idempotency_key', 'k-RB' || i, 'event_type', 'order_placed',
           'payload', jsonb_build_object('order_id', 'RB' || i, 'lines',
             '[{"sku": "TEE", "qty": 1}, {"sku": "CAP", "qty": 1}]'::jsonb)))
    FROM generate_series(1, 3) AS i)) GROUP BY 1;
-- 3 trigger firings of +100 each after the first; 2 + 3 units reserved
SELECT on_hand, reserved FROM channel_sync.stock WHERE sku = 'CAP' AND location_id = 'wh1';
SELECT count(*) AS drift FROM channel_sync.verify();
DROP TRIGGER restock ON channel_sync.orders;
