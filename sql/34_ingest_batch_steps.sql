-- An ingest_batch of several steps (runs of orders, and each other event alone) re-targets
-- the SKUs its steps changed once, at the end of the call, as an UPDATE statement's are at
-- commit: each listing moves to the batch's final target with one version bump, its message
-- carries that state, and a full recompute finds nothing to change. A batch of one step
-- re-targets as it writes, as before.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS channel_sync CASCADE;
CREATE EXTENSION channel_sync;
RESET client_min_messages;
\set VERBOSITY terse

INSERT INTO channel_sync.channels (channel_id) VALUES ('shop'), ('amazon');
INSERT INTO channel_sync.locations (location_id) VALUES ('wh1'), ('wh2');
INSERT INTO channel_sync.skus (sku, base_price) VALUES ('TEE', 20), ('CAP', 10), ('MUG', 5);
INSERT INTO channel_sync.skus (sku, kind) VALUES ('KIT', 'bundle');
INSERT INTO channel_sync.bundle_components (bundle_sku, component_sku, qty_per) VALUES ('KIT', 'TEE', 1), ('KIT', 'CAP', 2);
INSERT INTO channel_sync.stock (sku, location_id, on_hand) VALUES
  ('TEE', 'wh1', 10), ('TEE', 'wh2', 4), ('CAP', 'wh1', 6), ('MUG', 'wh2', 8);

-- batch('b1', 'adj TEE wh1 -2, order O1 KIT, cancel O1, count MUG wh2 3'): keyed by the
-- tag and each event's place
CREATE FUNCTION batch(tag text, events text) RETURNS SETOF text LANGUAGE sql AS $$
  SELECT r.status || coalesce(': ' || r.detail, '')
    FROM channel_sync.ingest_batch('shop', (
      SELECT jsonb_agg(jsonb_build_object('idempotency_key', tag || '-' || n, 'event_type',
               CASE p[1] WHEN 'adj' THEN 'stock_adjusted' WHEN 'count' THEN 'stock_counted'
                         WHEN 'cancel' THEN 'order_cancelled' WHEN 'ship' THEN 'order_shipped'
                         ELSE 'order_placed' END,
               'payload', CASE p[1]
                 WHEN 'adj' THEN jsonb_build_object('sku', p[2], 'location_id', p[3], 'delta', p[4]::int, 'reason', 'test')
                 WHEN 'count' THEN jsonb_build_object('sku', p[2], 'location_id', p[3], 'on_hand', p[4]::int)
                 WHEN 'cancel' THEN jsonb_build_object('order_id', p[2])
                 WHEN 'ship' THEN jsonb_build_object('order_id', p[2])
                 ELSE jsonb_build_object('order_id', p[2], 'lines', jsonb_build_array(jsonb_build_object('sku', p[3], 'qty', 1)))
               END, 'occurred_at', '2024-05-01T10:00:00Z') ORDER BY n)
        FROM unnest(string_to_array(events, ',')) WITH ORDINALITY AS t (e, n),
             LATERAL (SELECT string_to_array(trim(e), ' ') AS p) AS q)) AS r
$$;
CREATE VIEW shop_listings AS
  SELECT l.sku, l.target_qty, l.target_version, o.qty AS message_qty, o.version AS message_version
    FROM channel_sync.listings l
    LEFT JOIN channel_sync.outbox o ON o.channel_id = l.channel_id AND o.sku = l.sku
   WHERE l.channel_id = 'shop' ORDER BY 1;
SELECT * FROM shop_listings;

-- eight steps over TEE, CAP, KIT and MUG: each listing the batch changes moves once, to
-- its final target, and its message carries it
SELECT batch('b1', 'adj TEE wh1 -2, order O1 KIT, adj CAP wh1 -1, order O2 TEE, order O3 TEE, cancel O1, adj TEE wh2 1, count MUG wh2 3');
SELECT * FROM shop_listings;
SELECT sku, location_id, on_hand, reserved FROM channel_sync.stock ORDER BY 1, 2;
SELECT check_name, channel_id, sku FROM channel_sync.verify();

-- a batch of one step (one run of orders) writes as before
SELECT batch('b2', 'order O4 TEE, order O5 KIT');
SELECT * FROM shop_listings;

-- steps that change nothing in the end bump nothing: TEE down one and back
SELECT batch('b3', 'adj TEE wh1 -1, count MUG wh2 3, adj TEE wh1 1');
SELECT * FROM shop_listings;

-- a batch that fails after two steps wrote stock (a DBA's trigger refuses its third event)
-- leaves nothing behind, and the next call, one event, re-targets at once
CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.idempotency_key = 'b4-3' THEN RAISE EXCEPTION 'refused %', NEW.idempotency_key; END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER refuse_boom BEFORE INSERT ON channel_sync.events FOR EACH ROW EXECUTE FUNCTION refuse_boom();
SELECT batch('b4', 'adj TEE wh1 -1, adj CAP wh1 -1, adj MUG wh2 -1');
DROP TRIGGER refuse_boom ON channel_sync.events;
DROP FUNCTION refuse_boom();
SELECT * FROM shop_listings;
SELECT status FROM channel_sync.ingest('shop', 'one-adj', 'stock_adjusted',
  '{"sku": "CAP", "location_id": "wh1", "delta": 2, "reason": "found"}');
SELECT * FROM shop_listings;
SELECT check_name, channel_id, sku FROM channel_sync.verify();
DROP VIEW shop_listings;
DROP FUNCTION batch(text, text);
