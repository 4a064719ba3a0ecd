-- A listing and its message written again and again in one transaction (here: price
-- changes of one SKU, each re-targeted at once) run no second foreign-key check: the
-- referencing columns keep their values, and the check of a row this transaction inserted,
-- not deferrable, ran at the end of its statement. A check locks the referenced channel row
-- (FOR KEY SHARE), which is how the test sees whether one ran. With a constraint a DBA made
-- deferrable, every write is checked.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS channel_sync CASCADE;
CREATE EXTENSION channel_sync;
RESET client_min_messages;
\set SHOW_CONTEXT never
\set VERBOSITY default

INSERT INTO channel_sync.channels (channel_id, kind) VALUES ('amazon', 'marketplace');
INSERT INTO channel_sync.locations VALUES ('wh1', 'warehouse', true);
INSERT INTO channel_sync.skus (sku, base_price) VALUES ('TEE', 20);
INSERT INTO channel_sync.stock (sku, location_id, on_hand) VALUES ('TEE', 'wh1', 10);
SELECT sku, target_qty, target_price, target_version FROM channel_sync.listings;
SELECT sku, qty, price, version, status FROM channel_sync.outbox;

CREATE FUNCTION channel_locked_by_me() RETURNS boolean LANGUAGE sql AS $$
  SELECT c.xmax = pg_catalog.xid(pg_catalog.pg_current_xact_id()) FROM channel_sync.channels AS c
   WHERE c.channel_id = 'amazon' $$;

BEGIN;
UPDATE channel_sync.skus SET base_price = 21 WHERE sku = 'TEE';
UPDATE channel_sync.skus SET base_price = 22 WHERE sku = 'TEE';
UPDATE channel_sync.skus SET base_price = 23 WHERE sku = 'TEE';
SELECT channel_locked_by_me() AS checked;
SELECT sku, target_qty, target_price, target_version FROM channel_sync.listings;
SELECT sku, qty, price, version, status FROM channel_sync.outbox;
COMMIT;

-- the same with the listing's reference to its channel made deferrable: checked
ALTER TABLE channel_sync.listings ALTER CONSTRAINT listings_channel_id_fkey DEFERRABLE;
BEGIN;
UPDATE channel_sync.skus SET base_price = 24 WHERE sku = 'TEE';
UPDATE channel_sync.skus SET base_price = 25 WHERE sku = 'TEE';
SELECT channel_locked_by_me() AS checked;
COMMIT;
ALTER TABLE channel_sync.listings ALTER CONSTRAINT listings_channel_id_fkey NOT DEFERRABLE;
SELECT sku, target_qty, target_price, target_version FROM channel_sync.listings;
SELECT check_name, channel_id, sku FROM channel_sync.verify();
DROP FUNCTION channel_locked_by_me();
