-- Roles end to end: a connector per marketplace acts only for its own channel, through the
-- functions only; row-level security shows it only its channel's rows; a reader selects the
-- views; an admin configures, and its changes propagate through the triggers.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS channel_sync CASCADE;
CREATE EXTENSION channel_sync;
DROP ROLE IF EXISTS amz_bot, etsy_bot, amazon_connector, etsy_connector, cs_rdr, cs_adm;
RESET client_min_messages;
\set SHOW_CONTEXT never
\set VERBOSITY default

-- one login-less role per marketplace connector, member of the connector group and of its
-- channel's connector_role; a reader; an admin
CREATE ROLE amazon_connector NOLOGIN IN ROLE channel_sync_connector;
CREATE ROLE etsy_connector NOLOGIN IN ROLE channel_sync_connector;
CREATE ROLE amz_bot NOLOGIN IN ROLE amazon_connector;
CREATE ROLE etsy_bot NOLOGIN IN ROLE etsy_connector;
CREATE ROLE cs_rdr NOLOGIN IN ROLE channel_sync_reader;
CREATE ROLE cs_adm NOLOGIN IN ROLE channel_sync_admin;

-- the admin configures everything (RLS lets it write the protected tables; triggers run as it)
SET ROLE cs_adm;
INSERT INTO channel_sync.channels (channel_id, kind, max_attempts) VALUES
  ('shop', 'storefront', 8), ('amazon', 'marketplace', 2), ('etsy', 'marketplace', 8);
UPDATE channel_sync.channels SET connector_role = 'amazon_connector' WHERE channel_id = 'amazon';
UPDATE channel_sync.channels SET connector_role = 'etsy_connector' WHERE channel_id = 'etsy';
INSERT INTO channel_sync.locations VALUES ('wh1', 'warehouse', true);
INSERT INTO channel_sync.skus (sku, base_price) VALUES ('TEE', 20), ('CAP', 10);
INSERT INTO channel_sync.sku_aliases VALUES ('amazon', 'B0TEE', 'TEE'), ('etsy', 'E-TEE', 'TEE');
INSERT INTO channel_sync.stock (sku, location_id, on_hand) VALUES ('TEE', 'wh1', 10), ('CAP', 'wh1', 5);
INSERT INTO channel_sync.channel_prices VALUES ('amazon', 'TEE', 22);
INSERT INTO channel_sync.allocation_rules (channel_id, buffer) VALUES ('amazon', 1);
WITH u AS (UPDATE channel_sync.health_thresholds SET healthy_limit = healthy_limit RETURNING 1)
SELECT count(*) > 0 AS admin_edits_thresholds FROM u;
-- stock updates by the admin propagate: listings and messages follow
UPDATE channel_sync.stock SET on_hand = 9 WHERE sku = 'TEE';
SELECT channel_id, sku, target_qty, target_price FROM channel_sync.listings ORDER BY 1, 2;
SELECT channel_id, sku, qty FROM channel_sync.outbox ORDER BY 1, 2;
SELECT channel_sync.snapshot_parity() > 0 AS admin_snapshots_parity;
SELECT count(*) AS no_drift FROM channel_sync.verify();
SELECT channel_sync.recompute_targets() AS admin_recomputes;
SELECT count(*) AS admin_prunes FROM channel_sync.prune_events('1 day') WHERE false;
RESET ROLE;

-- the amazon connector claims, acks, fails, requeues, ingests and replays for amazon
SET ROLE amz_bot;
SELECT sku, external_id, qty, price FROM channel_sync.claim('amazon') ORDER BY sku;
SELECT channel_sync.ack(message_id, 8) FROM channel_sync.outbox WHERE channel_id = 'amazon' AND sku = 'TEE';
-- CAP is still leased: fail it (retry), claim it again and fail it (dead at max_attempts 2)
SELECT channel_sync.fail(message_id, 'HTTP 503', '0 seconds') FROM channel_sync.outbox WHERE channel_id = 'amazon' AND sku = 'CAP';
SELECT m.sku, channel_sync.fail(m.message_id, 'HTTP 503', '0 seconds') FROM channel_sync.claim('amazon') m;
SELECT channel_sync.requeue_dead('amazon') AS requeued;
SELECT status, detail FROM channel_sync.ingest('amazon', 'a1', 'order_placed',
  '{"order_id": "A1", "lines": [{"external_id": "B0TEE", "qty": 1}]}', '2024-05-01 10:00+00');
SELECT status FROM channel_sync.ingest('amazon', 'a2', 'order_placed',
  '{"order_id": "A2", "lines": [{"external_id": "B0CAP", "qty": 1}]}', '2024-05-01 10:01+00');
SELECT status FROM channel_sync.ingest_batch('amazon',
  '[{"idempotency_key": "a3", "event_type": "listing_observed", "payload": {"external_id": "B0TEE", "qty": 7}, "occurred_at": "2024-05-01T10:02:00Z"}]');
-- restore_listing_state() is the DBA's, after a restore: a connector may not run it
SELECT channel_sync.restore_listing_state();
RESET ROLE;
SET ROLE cs_adm;
INSERT INTO channel_sync.sku_aliases VALUES ('amazon', 'B0CAP', 'CAP');
RESET ROLE;
SET ROLE amz_bot;
SELECT (channel_sync.replay(event_id)).status FROM channel_sync.events WHERE idempotency_key = 'a2';
-- row-level security: the amazon connector sees amazon's rows only
SELECT DISTINCT channel_id AS outbox_sees FROM channel_sync.outbox;
SELECT DISTINCT channel_id AS events_see FROM channel_sync.events;
SELECT DISTINCT channel_id AS orders_see FROM channel_sync.orders;
SELECT DISTINCT channel_id AS order_lines_see FROM channel_sync.order_lines;
SELECT DISTINCT channel_id AS listings_see FROM channel_sync.listings;
SELECT DISTINCT channel_id AS propagation_log_sees FROM channel_sync.propagation_log;
RESET ROLE;

-- the etsy connector has rows of its own, invisible to amazon's
SET ROLE etsy_bot;
SELECT status FROM channel_sync.ingest('etsy', 'e1', 'order_placed',
  '{"order_id": "E1", "lines": [{"external_id": "E-TEE", "qty": 1}]}', '2024-05-01 10:00+00');
SELECT DISTINCT channel_id AS etsy_bot_sees FROM channel_sync.events;
SELECT DISTINCT channel_id AS etsy_bot_sees FROM channel_sync.outbox;
RESET ROLE;
SELECT message_id AS etsy_msg FROM channel_sync.outbox WHERE channel_id = 'etsy' AND sku = 'TEE' \gset
SELECT event_id AS etsy_event FROM channel_sync.events WHERE channel_id = 'etsy' LIMIT 1 \gset

-- acting for another channel: refused with 42501, nothing changed
SET ROLE amz_bot;
SELECT * FROM channel_sync.claim('etsy');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM channel_sync.claim('shop');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT channel_sync.ack(:etsy_msg);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT channel_sync.fail(:etsy_msg, 'sabotage', '1 day');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT channel_sync.release(:etsy_msg);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT channel_sync.requeue_dead('etsy');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM channel_sync.ingest('etsy', 'x1', 'stock_adjusted', '{"sku": "TEE", "location_id": "wh1", "delta": -5, "reason": "theft"}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM channel_sync.ingest_batch('etsy', '[]');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT channel_sync.replay(:etsy_event);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- a connector cannot point a channel at itself, nor call admin functions
UPDATE channel_sync.channels SET connector_role = 'amazon_connector' WHERE channel_id = 'etsy';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT channel_sync.recompute_targets();
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM channel_sync.verify(true);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT attempts, leased_until IS NULL AS not_leased, last_error FROM channel_sync.outbox WHERE message_id = :etsy_msg;
SELECT count(*) AS etsy_events FROM channel_sync.events WHERE channel_id = 'etsy';

-- connectors and readers write no base table, and read none outside RLS
CREATE FUNCTION pg_temp.try_writes(r name) RETURNS TABLE (tbl text, op text, state text) LANGUAGE plpgsql AS $$
DECLARE
  t text;
  stmt text;
  col name;
BEGIN
  FOR t IN SELECT c.relname FROM pg_catalog.pg_class c
            WHERE c.relnamespace = 'channel_sync'::regnamespace AND c.relkind = 'r' ORDER BY 1 LOOP
    FOREACH stmt IN ARRAY ARRAY['INSERT INTO channel_sync.%I DEFAULT VALUES', 'UPDATE channel_sync.%I SET %I = %I',
                                'DELETE FROM channel_sync.%I', 'TRUNCATE channel_sync.%I'] LOOP
      SELECT a.attname INTO col FROM pg_catalog.pg_attribute a
       WHERE a.attrelid = ('channel_sync.' || t)::regclass AND a.attnum > 0 AND a.attidentity = ''
       ORDER BY a.attnum LIMIT 1;
      BEGIN
        EXECUTE pg_catalog.format('SET LOCAL ROLE %I', r);
        EXECUTE pg_catalog.format(stmt, t, col, col);
        tbl := t; op := split_part(stmt, ' ', 1); state := 'succeeded'; RETURN NEXT;
      EXCEPTION WHEN OTHERS THEN
        tbl := t; op := split_part(stmt, ' ', 1); state := SQLSTATE; RETURN NEXT;
      END;
      RESET ROLE;
    END LOOP;
  END LOOP;
END
$$;
-- INSERT, UPDATE, DELETE and TRUNCATE of every base table: all refused with 42501
BEGIN;
SELECT state, count(*) AS tries, count(DISTINCT tbl) AS tables FROM pg_temp.try_writes('amz_bot') GROUP BY 1;
ROLLBACK;
BEGIN;
SELECT state, count(*) AS tries, count(DISTINCT tbl) AS tables FROM pg_temp.try_writes('cs_rdr') GROUP BY 1;
ROLLBACK;

-- connectors read no base table outside the RLS-protected ones
CREATE FUNCTION pg_temp.readable(r name) RETURNS TABLE (rel text) LANGUAGE plpgsql AS $$
DECLARE
  t text;
BEGIN
  FOR t IN SELECT c.relname FROM pg_catalog.pg_class c
            WHERE c.relnamespace = 'channel_sync'::regnamespace AND c.relkind IN ('r', 'v') ORDER BY 1 LOOP
    BEGIN
      EXECUTE pg_catalog.format('SET LOCAL ROLE %I', r);
      EXECUTE pg_catalog.format('SELECT 1 FROM channel_sync.%I LIMIT 1', t);
      rel := t; RETURN NEXT;
    EXCEPTION WHEN insufficient_privilege THEN
      NULL;
    END;
    RESET ROLE;
  END LOOP;
END
$$;
BEGIN;
SELECT string_agg(rel, ', ') AS connector_can_read FROM pg_temp.readable('amz_bot');
ROLLBACK;
BEGIN;
SELECT string_agg(rel, ', ') AS reader_can_read FROM pg_temp.readable('cs_rdr');
ROLLBACK;

-- the reader: every view, read-only functions, no connector API
SET ROLE cs_rdr;
SELECT count(*) > 0 AS parity FROM channel_sync.parity;
SELECT count(*) > 0 AS channel_health FROM channel_sync.channel_health;
SELECT count(*) >= 0 AS propagation_gaps FROM channel_sync.propagation_gaps;
SELECT count(*) >= 0 AS reconciliation_daily FROM channel_sync.reconciliation_daily;
SELECT count(*) >= 0 AS exceptions FROM channel_sync.exceptions;
SELECT count(*) > 0 AS parity_history FROM channel_sync.parity_history;
SELECT count(*) > 0 AS health_thresholds FROM channel_sync.health_thresholds;
SELECT channel_sync.available_to_sell('amazon', 'TEE') AS ats;
SELECT channel_id, ats, limited_by FROM channel_sync.explain_allocation('TEE') ORDER BY 1;
SELECT channel_sync.quantile(channel_sync.lag_sketch(x), 0.5) FROM (VALUES (1.0), (2.0), (3.0)) v(x);
SELECT * FROM channel_sync.stock;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM channel_sync.claim('amazon');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM channel_sync.ingest('amazon', 'r1', 'stock_adjusted', '{}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT channel_sync.snapshot_parity();
\echo SQLSTATE :LAST_ERROR_SQLSTATE
UPDATE channel_sync.health_thresholds SET healthy_limit = 0;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;

-- a role with no channel_sync grant gets nothing at all
CREATE ROLE cs_nobody NOLOGIN;
SET ROLE cs_nobody;
SELECT * FROM channel_sync.claim('amazon');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM channel_sync.parity;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
DROP ROLE cs_nobody;

-- the extension in a second database of the same cluster: the roles exist already
\set regress_db :DBNAME
SET client_min_messages = warning;
DROP DATABASE IF EXISTS cs_security_second;
CREATE DATABASE cs_security_second;
RESET client_min_messages;
\c cs_security_second
CREATE EXTENSION channel_sync;
SET ROLE cs_adm;
INSERT INTO channel_sync.channels (channel_id, connector_role) VALUES ('amazon', 'amazon_connector');
INSERT INTO channel_sync.locations VALUES ('wh1');
INSERT INTO channel_sync.skus (sku) VALUES ('TEE');
INSERT INTO channel_sync.stock (sku, location_id, on_hand) VALUES ('TEE', 'wh1', 3);
RESET ROLE;
SET ROLE amz_bot;
SELECT sku, qty FROM channel_sync.claim('amazon');
RESET ROLE;
\c :regress_db
DROP DATABASE cs_security_second;

-- clean up the cluster-wide roles (the extension's own roles stay: other databases use them)
SET client_min_messages = warning;
DROP EXTENSION channel_sync CASCADE;
DROP ROLE amz_bot, etsy_bot, amazon_connector, etsy_connector, cs_rdr, cs_adm;
RESET client_min_messages;
