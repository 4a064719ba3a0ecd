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

-- a statement that re-targets many SKUs (here 80, beyond the direct loader's 64) reads them
-- with set scans and writes their listings in place the same way: row triggers see each
-- write, a skipped row keeps its version and its message
INSERT INTO channel_sync.skus (sku, base_price) SELECT 'MANY-' || i, 5 FROM generate_series(1, 80) AS i;
INSERT INTO channel_sync.stock (sku, location_id, on_hand) SELECT 'MANY-' || i, 'wh1', 10 FROM generate_series(1, 80) AS i;
CREATE TABLE many_audit (channel_id text, sku text, old_qty int, new_qty int);
CREATE FUNCTION audit_many() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.sku = 'MANY-7' AND NEW.channel_id = 'shop' THEN RETURN NULL; END IF;
  INSERT INTO public.many_audit VALUES (NEW.channel_id, NEW.sku, OLD.target_qty, NEW.target_qty);
  RETURN NEW;
END $$;
CREATE TRIGGER audit_many BEFORE UPDATE ON channel_sync.listings FOR EACH ROW EXECUTE FUNCTION audit_many();
UPDATE channel_sync.stock SET on_hand = 4 WHERE sku LIKE 'MANY-%';
SELECT count(*) AS audited, count(DISTINCT sku) AS skus, min(old_qty) AS old, max(new_qty) AS new FROM many_audit;
SELECT l.channel_id, l.target_qty, l.target_version, o.qty, o.version
  FROM channel_sync.listings l JOIN channel_sync.outbox o USING (channel_id, sku)
 WHERE l.sku = 'MANY-7' ORDER BY 1;
SELECT count(*) AS listings_behind_their_message FROM channel_sync.listings l
  JOIN channel_sync.outbox o USING (channel_id, sku) WHERE l.sku LIKE 'MANY-%' AND l.target_version <> o.version;
DROP TRIGGER audit_many ON channel_sync.listings;
DROP FUNCTION audit_many();
DROP TABLE many_audit;
-- verify finds exactly the listing the trigger held back
SELECT check_name, channel_id, sku FROM channel_sync.verify();

-- a user's statement trigger on listings or outbox fires as it would for an UPDATE: with one
-- on either table the re-target writes through SQL (the direct writer would skip it)
CREATE TABLE statement_audit (tbl text, op text);
CREATE FUNCTION audit_statement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.statement_audit VALUES (TG_TABLE_NAME, TG_OP);
  RETURN NULL;
END $$;
CREATE TRIGGER audit_outbox AFTER INSERT OR UPDATE ON channel_sync.outbox
  FOR EACH STATEMENT EXECUTE FUNCTION audit_statement();
UPDATE channel_sync.stock SET on_hand = 9 WHERE sku = 'TEE';
SELECT tbl, op, count(*) FROM statement_audit GROUP BY 1, 2 ORDER BY 1, 2;
DROP TRIGGER audit_outbox ON channel_sync.outbox;
TRUNCATE statement_audit;
CREATE TRIGGER audit_listings AFTER UPDATE ON channel_sync.listings
  FOR EACH STATEMENT EXECUTE FUNCTION audit_statement();
UPDATE channel_sync.stock SET on_hand = 11 WHERE sku = 'TEE';
SELECT tbl, op, count(*) FROM statement_audit GROUP BY 1, 2 ORDER BY 1, 2;
SELECT l.channel_id, l.target_qty, l.target_version = o.version AS message_current, o.qty
  FROM channel_sync.listings l JOIN channel_sync.outbox o USING (channel_id, sku)
 WHERE l.sku = 'TEE' ORDER BY 1;
DROP TRIGGER audit_listings ON channel_sync.listings;
-- a row trigger with a transition table would see none from the direct writer: SQL too
CREATE FUNCTION audit_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.statement_audit SELECT 'listings rows', TG_OP FROM new_rows;
  RETURN NULL;
END $$;
TRUNCATE statement_audit;
CREATE TRIGGER audit_rows AFTER UPDATE ON channel_sync.listings REFERENCING NEW TABLE AS new_rows
  FOR EACH ROW EXECUTE FUNCTION audit_rows();
UPDATE channel_sync.stock SET on_hand = 12 WHERE sku = 'TEE';
SELECT tbl, op, count(*) FROM statement_audit GROUP BY 1, 2 ORDER BY 1, 2;
DROP TRIGGER audit_rows ON channel_sync.listings;

-- listings' own enqueue trigger is for other writers of listings: with it disabled a
-- re-target still enqueues its messages itself (through SQL as in place), verify reports it
ALTER TABLE channel_sync.listings DISABLE TRIGGER enqueue_on_update;
UPDATE channel_sync.stock SET on_hand = 13 WHERE sku = 'TEE';
SELECT l.channel_id, l.target_qty, o.qty, l.target_version = o.version AS message_current
  FROM channel_sync.listings l JOIN channel_sync.outbox o USING (channel_id, sku)
 WHERE l.sku = 'TEE' ORDER BY 1;
SELECT check_name, channel_id, sku FROM channel_sync.verify();
ALTER TABLE channel_sync.listings ENABLE ALWAYS TRIGGER enqueue_on_update;
SELECT check_name, channel_id, sku FROM channel_sync.verify();

-- a user's AFTER row trigger on listings or outbox fires for every direct write (only
-- PostgreSQL's foreign-key checks, which would find the keys unchanged, are not queued)
CREATE TABLE after_audit (tbl text, channel_id text);
CREATE FUNCTION after_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.after_audit VALUES (TG_TABLE_NAME, NEW.channel_id);
  RETURN NULL;
END $$;
CREATE TRIGGER after_audit AFTER UPDATE ON channel_sync.listings FOR EACH ROW EXECUTE FUNCTION after_audit();
CREATE TRIGGER after_audit AFTER UPDATE ON channel_sync.outbox FOR EACH ROW EXECUTE FUNCTION after_audit();
UPDATE channel_sync.stock SET on_hand = 14 WHERE sku = 'TEE';
SELECT tbl, channel_id, count(*) FROM after_audit GROUP BY 1, 2 ORDER BY 1, 2;
DROP TRIGGER after_audit ON channel_sync.listings;
DROP TRIGGER after_audit ON channel_sync.outbox;
-- a BEFORE trigger that changes a listing's key: the foreign key is checked, as in an UPDATE
CREATE FUNCTION rekey() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.sku := 'NOPE';
  RETURN NEW;
END $$;
CREATE TRIGGER rekey BEFORE UPDATE ON channel_sync.listings FOR EACH ROW EXECUTE FUNCTION rekey();
UPDATE channel_sync.stock SET on_hand = 15 WHERE sku = 'TEE';
DROP TRIGGER rekey ON channel_sync.listings;
SELECT count(*) AS listings_of_unknown_skus FROM channel_sync.listings WHERE sku = 'NOPE';

-- a re-target finds a SKU's messages in one index scan of the outbox's key (SKU first): each
-- message found is rewritten in place (its id kept), a dead one is revived, a listing whose
-- message was acknowledged gets a new one, and a neighbouring SKU's messages stay as they were
INSERT INTO channel_sync.channels (channel_id) VALUES ('ebay');
INSERT INTO channel_sync.channel_locations (channel_id, location_id) VALUES ('ebay', 'wh1');
INSERT INTO channel_sync.skus (sku, base_price) VALUES ('TEE2', 20);
INSERT INTO channel_sync.stock (sku, location_id, on_hand) VALUES ('TEE2', 'wh1', 10);
UPDATE channel_sync.stock SET on_hand = 16 WHERE sku = 'TEE';
SELECT channel_sync.ack(message_id) FROM channel_sync.claim('amazon', 10) WHERE sku = 'TEE';
UPDATE channel_sync.outbox SET status = 'dead', attempts = 5 WHERE channel_id = 'ebay' AND sku = 'TEE';
CREATE TABLE messages_before AS SELECT channel_id, sku, message_id, version FROM channel_sync.outbox;
UPDATE channel_sync.stock SET on_hand = 17 WHERE sku = 'TEE';
SELECT o.channel_id, o.sku, o.qty, o.status, o.attempts, b.message_id IS NULL AS new_message,
       o.message_id = b.message_id AS same_id, o.version > b.version AS newer
  FROM channel_sync.outbox o LEFT JOIN messages_before b USING (channel_id, sku)
 WHERE o.sku IN ('TEE', 'TEE2') ORDER BY o.sku, o.channel_id;
SELECT l.channel_id, l.target_qty, l.target_version = o.version AS message_current
  FROM channel_sync.listings l JOIN channel_sync.outbox o USING (channel_id, sku)
 WHERE l.sku = 'TEE' ORDER BY 1;
SELECT count(*) AS findings FROM channel_sync.verify();
DROP TABLE messages_before;
