-- ack(), fail() and release() with the version claim() handed out: a connector whose lease
-- lapsed, and whose message another connector claimed since at another version, cannot
-- acknowledge, fail or release that other claim (ack and fail: 55000, release: false).
-- Without a version they act on the message's claim, as before.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS channel_sync CASCADE;
CREATE EXTENSION channel_sync;
RESET client_min_messages;
\set SHOW_CONTEXT never
\set VERBOSITY default

INSERT INTO channel_sync.channels (channel_id, kind) VALUES ('amazon', 'marketplace');
INSERT INTO channel_sync.locations VALUES ('wh1', 'warehouse', true);
-- one SKU a statement: their messages are numbered in this order (a statement's re-target
-- writes its SKUs in byte order)
INSERT INTO channel_sync.skus (sku, base_price) VALUES ('TEE', 20);
INSERT INTO channel_sync.skus (sku, base_price) VALUES ('CAP', 10);
INSERT INTO channel_sync.stock (sku, location_id, on_hand) VALUES ('TEE', 'wh1', 10), ('CAP', 'wh1', 3);
CREATE TEMP TABLE claims (who text, message_id bigint, qty integer, version bigint);

-- connector a claims TEE with a lease that lapses; TEE changes; connector b claims it
INSERT INTO claims SELECT 'a', message_id, qty, version FROM channel_sync.claim('amazon', 1, '1 millisecond');
SELECT pg_sleep(0.05);
UPDATE channel_sync.stock SET on_hand = 8 WHERE sku = 'TEE';
INSERT INTO claims SELECT 'b', message_id, qty, version FROM channel_sync.claim('amazon', 1, '1 hour');
SELECT who, qty, version FROM claims ORDER BY who;
-- a's late calls, with its version, are refused and touch nothing of b's claim
SELECT channel_sync.ack(message_id, 10, version) AS a_acked FROM claims WHERE who = 'a';
SELECT channel_sync.fail(message_id, 'timeout', NULL, version) AS a_failed FROM claims WHERE who = 'a';
SELECT channel_sync.release(message_id, version) AS a_released FROM claims WHERE who = 'a';
SELECT sku, qty, version, claimed_version, claimed_qty, attempts, leased_until > now() AS leased
  FROM channel_sync.outbox WHERE sku = 'TEE';
SELECT count(*) AS deliveries_logged FROM channel_sync.propagation_log;
-- b's ack, with its version, records b's delivery
SELECT channel_sync.ack(message_id, 8, version) AS b_acked FROM claims WHERE who = 'b';
SELECT sku, version, qty, reported_qty FROM channel_sync.propagation_log;
SELECT sku, acked_version, acked_qty, reported_qty FROM channel_sync.listings WHERE channel_id = 'amazon' AND sku = 'TEE';

-- claimed again at the same version (nothing changed in between): a's ack is b's content, so
-- it is recorded; b's ack then finds the message gone
TRUNCATE claims;
INSERT INTO claims SELECT 'a', message_id, qty, version FROM channel_sync.claim('amazon', 1, '1 millisecond');
SELECT pg_sleep(0.05);
INSERT INTO claims SELECT 'b', message_id, qty, version FROM channel_sync.claim('amazon', 1, '1 hour');
SELECT who, qty, version = (SELECT version FROM claims WHERE who = 'a') AS same_version FROM claims ORDER BY who;
SELECT channel_sync.ack(message_id, NULL, version) AS a_acked FROM claims WHERE who = 'a';
SELECT channel_sync.ack(message_id, NULL, version) AS b_acked FROM claims WHERE who = 'b';

-- a message not claimed at all: with a version ack() and fail() are refused and release()
-- answers false; without one ack() is refused as before and fail() counts an attempt
UPDATE channel_sync.stock SET on_hand = 2 WHERE sku = 'CAP';
SELECT channel_sync.ack(message_id, NULL, version) AS acked FROM channel_sync.outbox WHERE sku = 'CAP';
SELECT channel_sync.release(message_id, version) AS released FROM channel_sync.outbox WHERE sku = 'CAP';
SELECT channel_sync.fail(message_id, 'HTTP 500', NULL, version) AS failed FROM channel_sync.outbox WHERE sku = 'CAP';
SELECT channel_sync.ack(message_id) FROM channel_sync.outbox WHERE sku = 'CAP';
SELECT channel_sync.fail(message_id, 'HTTP 500', '0 seconds') AS failed FROM channel_sync.outbox WHERE sku = 'CAP';
SELECT sku, attempts, last_error FROM channel_sync.outbox WHERE sku = 'CAP';

-- named arguments, as connectors call them: CAP claimed, then acked at another version
SELECT count(*) AS claimed FROM channel_sync.claim('amazon', 1, '1 hour');
SELECT channel_sync.ack(message_id => message_id, version => version + 1) AS acked_other_version
  FROM channel_sync.outbox WHERE sku = 'CAP';
SELECT channel_sync.ack(message_id => message_id, version => version) AS acked
  FROM channel_sync.outbox WHERE sku = 'CAP';

DROP TABLE claims;
