-- Propagation from every source of truth: stock, SKU prices and kinds, channel prices,
-- bundle components, allocation rules, channel locations, channels and locations; replica
-- mode; verify() finds drift planted by disabling a trigger, and fix repairs it.
DROP EXTENSION IF EXISTS channel_sync CASCADE;
CREATE EXTENSION channel_sync;
\set SHOW_CONTEXT never
\set VERBOSITY default

INSERT INTO channel_sync.channels (channel_id) VALUES ('amazon'), ('ebay');
INSERT INTO channel_sync.locations VALUES ('east', 'warehouse', true), ('west', 'warehouse', true);
INSERT INTO channel_sync.skus (sku, base_price) VALUES ('TEE', 20), ('CAP', 10), ('MUG', 8);
INSERT INTO channel_sync.skus (sku, kind, base_price) VALUES ('KIT', 'bundle', 25);
INSERT INTO channel_sync.bundle_components VALUES ('KIT', 'TEE', 1), ('KIT', 'CAP', 1);
INSERT INTO channel_sync.stock (sku, location_id, on_hand) VALUES
  ('TEE', 'east', 4), ('TEE', 'west', 6), ('CAP', 'east', 5), ('MUG', 'west', 2);

-- what each channel is sent; ack everything so each step below shows only its own messages
CREATE FUNCTION pg_temp.deliver_all() RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FROM channel_sync.channels ch, LATERAL channel_sync.claim(ch.channel_id, 1000) c,
         LATERAL channel_sync.ack(c.message_id) a WHERE a $$;
CREATE VIEW pg_temp.sent AS SELECT channel_id, sku, qty, price FROM channel_sync.outbox ORDER BY 1, 2;
SELECT * FROM pg_temp.sent;
SELECT pg_temp.deliver_all();

-- a SKU's base price
UPDATE channel_sync.skus SET base_price = 22 WHERE sku = 'TEE';
SELECT * FROM pg_temp.sent;
SELECT pg_temp.deliver_all();
-- a title change re-targets nothing
UPDATE channel_sync.skus SET title = 'T-shirt' WHERE sku = 'TEE';
SELECT count(*) AS messages FROM channel_sync.outbox;

-- a channel's own price, then its removal
INSERT INTO channel_sync.channel_prices VALUES ('ebay', 'MUG', 9.50);
SELECT * FROM pg_temp.sent;
SELECT pg_temp.deliver_all();
DELETE FROM channel_sync.channel_prices WHERE channel_id = 'ebay';
SELECT * FROM pg_temp.sent;
SELECT pg_temp.deliver_all();

-- bundle components: KIT = min(TEE 10, CAP 5) = 5; with 2 CAP per KIT it is 2
UPDATE channel_sync.bundle_components SET qty_per = 2 WHERE component_sku = 'CAP';
SELECT * FROM pg_temp.sent;
SELECT pg_temp.deliver_all();
-- a component's stock moves the bundle too
DELETE FROM channel_sync.stock WHERE sku = 'CAP';
SELECT * FROM pg_temp.sent;
SELECT pg_temp.deliver_all();
INSERT INTO channel_sync.stock (sku, location_id, on_hand) VALUES ('CAP', 'east', 5);
SELECT pg_temp.deliver_all();

-- allocation rules: a channel default re-targets all its SKUs, a per-SKU rule that SKU
INSERT INTO channel_sync.allocation_rules (channel_id, buffer) VALUES ('ebay', 1);
SELECT * FROM pg_temp.sent;
SELECT pg_temp.deliver_all();
INSERT INTO channel_sync.allocation_rules (channel_id, sku, cap) VALUES ('amazon', 'TEE', 3);
SELECT * FROM pg_temp.sent;
SELECT pg_temp.deliver_all();

-- channel locations: ebay now sells only from east
INSERT INTO channel_sync.channel_locations VALUES ('ebay', 'east');
SELECT * FROM pg_temp.sent;
SELECT pg_temp.deliver_all();

-- a location going inactive, and back
UPDATE channel_sync.locations SET active = false WHERE location_id = 'west';
SELECT * FROM pg_temp.sent;
SELECT pg_temp.deliver_all();
UPDATE channel_sync.locations SET active = true WHERE location_id = 'west';
SELECT pg_temp.deliver_all();

-- a channel going inactive lists nothing; max_attempts alone re-targets nothing
UPDATE channel_sync.channels SET max_attempts = 5 WHERE channel_id = 'amazon';
SELECT count(*) AS messages FROM channel_sync.outbox;
UPDATE channel_sync.channels SET active = false WHERE channel_id = 'amazon';
SELECT * FROM pg_temp.sent;
SELECT pg_temp.deliver_all();
UPDATE channel_sync.channels SET active = true WHERE channel_id = 'amazon';
SELECT pg_temp.deliver_all();

-- a new channel gets every SKU
INSERT INTO channel_sync.channels (channel_id) VALUES ('etsy');
SELECT * FROM pg_temp.sent;
SELECT pg_temp.deliver_all();

-- replica mode (logical replication apply, pg_restore --disable-triggers sessions): still fires
SET session_replication_role = replica;
UPDATE channel_sync.stock SET on_hand = 1 WHERE sku = 'MUG';
RESET session_replication_role;
SELECT * FROM pg_temp.sent;
SELECT pg_temp.deliver_all();
SELECT tgrelid::regclass AS "table", tgname FROM pg_trigger
 WHERE tgrelid::regclass::text LIKE 'channel_sync.%' AND NOT tgisinternal AND tgenabled <> 'A'
   AND tgfoid::regproc::text LIKE 'channel_sync._%' AND tgfoid::regproc::text NOT LIKE '%check%';

-- verify: nothing to report when all is in order
SELECT * FROM channel_sync.verify();

-- plant a drift: disable a trigger, change stock, delete a message by hand
ALTER TABLE channel_sync.stock DISABLE TRIGGER retarget_on_update;
UPDATE channel_sync.stock SET on_hand = 0 WHERE sku = 'MUG';
UPDATE channel_sync.stock SET on_hand = 7 WHERE sku = 'TEE' AND location_id = 'east';
UPDATE channel_sync.listings SET target_qty = 99, target_version = target_version + 1 WHERE channel_id = 'ebay' AND sku = 'CAP';
DELETE FROM channel_sync.outbox WHERE channel_id = 'ebay' AND sku = 'CAP';
SELECT count(*) AS messages FROM channel_sync.outbox;
SELECT * FROM channel_sync.verify();
-- fix: re-enable the trigger, rewrite drifted listings, enqueue what is missing
SELECT count(*) AS findings_fixed FROM channel_sync.verify(fix => true);
SELECT * FROM channel_sync.verify();
SELECT * FROM pg_temp.sent;
SELECT tgenabled FROM pg_trigger WHERE tgrelid = 'channel_sync.stock'::regclass AND tgname = 'retarget_on_update';
