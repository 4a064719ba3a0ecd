-- The stock hot path writes listings and outbox messages in place, without SQL: what an
-- UPDATE would do must still happen -- users' row triggers fire (and may change or skip the
-- row), users' CHECK constraints hold, and foreign keys are untouched.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS channel_sync CASCADE;
CREATE EXTENSION channel_sync;
RESET client_min_messages;
\set VERBOSITY terse

INSERT INTO channel_sync.channels (channel_id) VALUES ('shop'), ('amazon');
INSERT INTO channel_sync.locations (location_id) VALUES ('wh1');
INSERT INTO channel_sync.skus (sku, base_price) VALUES ('TEE', 20);
INSERT INTO channel_sync.stock (sku, location_id, on_hand) VALUES ('TEE', 'wh1', 10);

-- a user's row trigger on listings sees every direct write (it runs under the trigger's
-- pinned search_path, so it names its own table with its schema)
CREATE TABLE listing_audit (channel_id text, old_qty int, new_qty int);
CREATE FUNCTION audit_listing() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.listing_audit VALUES (NEW.channel_id, OLD.target_qty, NEW.target_qty);
  RETURN NEW;
END $$;
CREATE TRIGGER audit BEFORE UPDATE ON channel_sync.listings FOR EACH ROW EXECUTE FUNCTION audit_listing();
UPDATE channel_sync.stock SET on_hand = 7 WHERE sku = 'TEE';
SELECT * FROM listing_audit ORDER BY channel_id;
SELECT channel_id, target_qty, target_version FROM channel_sync.listings ORDER BY channel_id;
DROP TRIGGER audit ON channel_sync.listings;

-- a row trigger that changes the row: the message carries what was written
CREATE FUNCTION halve_amazon() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.channel_id = 'amazon' THEN NEW.target_qty := NEW.target_qty / 2; END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER halve BEFORE UPDATE ON channel_sync.listings FOR EACH ROW EXECUTE FUNCTION halve_amazon();
UPDATE channel_sync.stock SET on_hand = 8 WHERE sku = 'TEE';
SELECT l.channel_id, l.target_qty, o.qty, l.target_version = o.version AS same_version
  FROM channel_sync.listings l JOIN channel_sync.outbox o USING (channel_id, sku) ORDER BY 1;
DROP TRIGGER halve ON channel_sync.listings;

-- a row trigger that skips the row: no new version, no message update, as with an UPDATE
CREATE FUNCTION freeze_shop() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.channel_id = 'shop' THEN RETURN NULL; END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER freeze_shop BEFORE UPDATE ON channel_sync.listings FOR EACH ROW EXECUTE FUNCTION freeze_shop();
UPDATE channel_sync.stock SET on_hand = 3 WHERE sku = 'TEE';
SELECT l.channel_id, l.target_qty, l.target_version, o.qty, o.version
  FROM channel_sync.listings l JOIN channel_sync.outbox o USING (channel_id, sku) ORDER BY 1;
DROP TRIGGER freeze_shop ON channel_sync.listings;

-- a CHECK constraint a DBA added is enforced, and the failed statement changes nothing
ALTER TABLE channel_sync.listings ADD CONSTRAINT small_listings CHECK (target_qty <= 50);
UPDATE channel_sync.stock SET on_hand = 60 WHERE sku = 'TEE';
SELECT channel_id, target_qty FROM channel_sync.listings ORDER BY 1;
SELECT on_hand FROM channel_sync.stock WHERE sku = 'TEE';
ALTER TABLE channel_sync.listings DROP CONSTRAINT small_listings;
UPDATE channel_sync.stock SET on_hand = 60 WHERE sku = 'TEE';
SELECT channel_id, target_qty FROM channel_sync.listings ORDER BY 1;

-- and verify agrees with every listing the direct path wrote
SELECT count(*) AS findings FROM channel_sync.verify();
