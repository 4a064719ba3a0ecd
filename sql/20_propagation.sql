-- Propagation: every change to availability writes one coalesced outbox message per
-- (channel, SKU) in the same transaction; connectors claim, ack and fail messages.
DROP EXTENSION IF EXISTS channel_sync CASCADE;
CREATE EXTENSION channel_sync;
\set SHOW_CONTEXT never
\set VERBOSITY default

INSERT INTO channel_sync.channels (channel_id, kind, max_attempts) VALUES ('amazon', 'marketplace', 3), ('shop', 'storefront', 8);
INSERT INTO channel_sync.locations VALUES ('wh1', 'warehouse', true);
INSERT INTO channel_sync.skus (sku, base_price) VALUES ('TEE', 20), ('CAP', 10);
INSERT INTO channel_sync.skus (sku, kind, base_price) VALUES ('KIT', 'bundle', 25);
INSERT INTO channel_sync.bundle_components VALUES ('KIT', 'TEE', 2), ('KIT', 'CAP', 1);
INSERT INTO channel_sync.sku_aliases VALUES ('amazon', 'B0TEE', 'TEE');
INSERT INTO channel_sync.stock (sku, location_id, on_hand) VALUES ('TEE', 'wh1', 10), ('CAP', 'wh1', 3);

-- every (channel, SKU) has a listing and one pending message with its latest state
SELECT channel_id, sku, target_qty, target_price FROM channel_sync.listings ORDER BY 1, 2;
SELECT channel_id, sku, qty, price, status, attempts, version = l.target_version AS latest_version
  FROM channel_sync.outbox o JOIN channel_sync.listings l USING (channel_id, sku) ORDER BY 1, 2;

-- a connector delivers everything: claim, ack
SELECT count(*) AS acked FROM channel_sync.claim('amazon') c, LATERAL channel_sync.ack(c.message_id) a WHERE a;
SELECT count(*) AS acked FROM channel_sync.claim('shop') c, LATERAL channel_sync.ack(c.message_id, c.qty) a WHERE a;
SELECT count(*) AS pending FROM channel_sync.outbox;
SELECT count(*) AS logged, bool_and(attempts = 1) AS first_try FROM channel_sync.propagation_log;
SELECT bool_and(acked_version = target_version AND acked_qty = target_qty AND acked_at IS NOT NULL) AS listings_acked,
       count(reported_qty) AS reported FROM channel_sync.listings;

-- coalescing: many changes in many transactions make one message with the latest state,
-- and the time of the first change is kept
BEGIN;
UPDATE channel_sync.stock SET on_hand = 9 WHERE sku = 'TEE';
SELECT pg_catalog.now() AS first_change \gset
COMMIT;
UPDATE channel_sync.stock SET on_hand = 8 WHERE sku = 'TEE';
UPDATE channel_sync.stock SET on_hand = 7 WHERE sku = 'TEE';
UPDATE channel_sync.stock SET on_hand = 6 WHERE sku = 'TEE';
SELECT channel_id, sku, qty, version, first_change_at = :'first_change' AS first_change_kept
  FROM channel_sync.outbox ORDER BY 1, 2;
-- bundles follow their components: 6 TEE / 2 per KIT = 3 KIT, unchanged; CAP 3 -> 1 changes KIT
UPDATE channel_sync.stock SET on_hand = 1 WHERE sku = 'CAP';
SELECT channel_id, sku, qty FROM channel_sync.outbox ORDER BY 1, 2;
-- versions only move forward: listings and messages agree
SELECT channel_id, sku, l.target_version, o.version FROM channel_sync.listings l
  JOIN channel_sync.outbox o USING (channel_id, sku) ORDER BY 1, 2;

-- an update that changes no target writes no message
SELECT count(*) AS before FROM channel_sync.outbox \gset
UPDATE channel_sync.stock SET on_hand = on_hand WHERE sku = 'TEE';
SELECT count(*) - :before AS new_messages FROM channel_sync.outbox;

-- NOTIFY once per channel per transaction, delivered at commit (not per row, not per statement)
SELECT count(*) AS delivered FROM channel_sync.channels ch, LATERAL channel_sync.claim(ch.channel_id) c,
       LATERAL channel_sync.ack(c.message_id) a WHERE a;
\setenv DB :DBNAME
\! psql -qX -d "$DB" -c 'LISTEN channel_sync' -c 'BEGIN' -c "UPDATE channel_sync.stock SET on_hand = on_hand + 1" -c "UPDATE channel_sync.stock SET on_hand = on_hand + 1 WHERE sku = 'TEE'" -c "UPDATE channel_sync.channel_prices SET price = price WHERE false" -c 'COMMIT' 2>&1 | sed -E 's/PID [0-9]+/PID N/'
\! psql -qX -d "$DB" -c 'LISTEN channel_sync' -c 'BEGIN' -c "UPDATE channel_sync.stock SET on_hand = on_hand - 2" -c 'ROLLBACK' -c 'SELECT 1 AS no_notification_after_rollback' 2>&1 | sed -E 's/PID [0-9]+/PID N/'
-- a change coalesced into messages still waiting to be claimed wakes no one (listeners
-- were woken when those messages were written); a message in flight (claimed) does
\! psql -qX -d "$DB" -c 'LISTEN channel_sync' -c "UPDATE channel_sync.stock SET on_hand = on_hand + 1 WHERE sku = 'TEE'" -c 'SELECT 1 AS no_notification_when_coalesced' 2>&1 | sed -E 's/PID [0-9]+/PID N/'
SELECT count(*) AS claimed_by_amazon FROM channel_sync.claim('amazon', 100, '1 ms') WHERE sku = 'TEE';
\! psql -qX -d "$DB" -c 'LISTEN channel_sync' -c "UPDATE channel_sync.stock SET on_hand = on_hand - 1 WHERE sku = 'TEE'" 2>&1 | sed -E 's/PID [0-9]+/PID N/'

-- ack after a newer change: returns false, the newer version stays pending with its own first change
-- (claims that filter their result use a 1 ms lease, so the rows they skip are free again)
SELECT message_id AS tee_msg, version AS claimed FROM channel_sync.claim('amazon', 100, '1 ms') WHERE sku = 'TEE' \gset
BEGIN;
UPDATE channel_sync.stock SET on_hand = 20 WHERE sku = 'TEE';
SELECT pg_catalog.now() AS newer_change \gset
COMMIT;
SELECT channel_sync.ack(:tee_msg, 7) AS acked_latest;
SELECT qty, version > :claimed AS newer, first_change_at = :'newer_change' AS own_first_change,
       leased_until IS NULL AS unleased, claimed_version IS NULL AS unclaimed
  FROM channel_sync.outbox WHERE message_id = :tee_msg;
SELECT acked_version = :claimed AS acked_claimed, target_version > acked_version AS newer_pending, reported_qty
  FROM channel_sync.listings WHERE channel_id = 'amazon' AND sku = 'TEE';
SELECT version = :claimed AS logged_claimed, reported_qty FROM channel_sync.propagation_log
 WHERE channel_id = 'amazon' AND sku = 'TEE' ORDER BY log_id DESC LIMIT 1;
-- the newer one is delivered next
SELECT pg_catalog.pg_sleep(0.01);
SELECT sku, qty FROM channel_sync.claim('amazon', 100, '1 ms') WHERE sku = 'TEE';
SELECT channel_sync.ack(:tee_msg) AS acked_latest;
SELECT count(*) AS tee_pending FROM channel_sync.outbox WHERE channel_id = 'amazon' AND sku = 'TEE';

-- ack and fail of an unknown or unclaimed message
SELECT channel_sync.ack(:tee_msg);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT message_id AS shop_msg FROM channel_sync.outbox WHERE channel_id = 'shop' AND sku = 'TEE' \gset
SELECT channel_sync.ack(:shop_msg);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT channel_sync.ack(NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT channel_sync.fail(-1, 'x');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- claim refuses bad arguments and unknown channels
SELECT * FROM channel_sync.claim('amazon', 0);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM channel_sync.claim('amazon', 10, '-1 second');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM channel_sync.claim('nowhere');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM channel_sync.claim(NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- claim returns the channel's alias, respects max_messages, and never hands out a leased message
SELECT sku, external_id, qty, attempts FROM channel_sync.claim('shop', 2) ORDER BY sku;
SELECT sku AS not_leased_yet FROM channel_sync.claim('shop', 100);
SELECT count(*) AS all_leased FROM channel_sync.claim('shop', 100);

-- lease expiry: a message whose lease ran out can be claimed again
SELECT pg_catalog.pg_sleep(0.01);
-- (a lease long enough that a slow machine cannot outrun it between two statements)
SELECT count(*) AS claimed FROM channel_sync.claim('amazon', 100, '500 milliseconds');
SELECT count(*) AS while_leased FROM channel_sync.claim('amazon', 100);
SELECT pg_catalog.pg_sleep(0.6);
SELECT count(*) AS after_expiry FROM channel_sync.claim('amazon', 100, '10 milliseconds');
SELECT pg_catalog.pg_sleep(0.05);

-- backoff: fail without retry_in waits 1 s × 2^(attempts-1); not claimable before
SELECT channel_sync._retry_backoff(1), channel_sync._retry_backoff(2), channel_sync._retry_backoff(4), channel_sync._retry_backoff(40);
SELECT message_id AS cap_msg FROM channel_sync.claim('amazon', 100, '1 ms') WHERE sku = 'CAP' \gset
SELECT channel_sync.fail(:cap_msg, 'HTTP 503');
SELECT attempts, last_error, next_attempt_at > pg_catalog.clock_timestamp() + '0.5 s' AS backing_off,
       next_attempt_at < pg_catalog.clock_timestamp() + '1.5 s' AS about_one_second
  FROM channel_sync.outbox WHERE message_id = :cap_msg;
SELECT count(*) AS claimable_during_backoff FROM channel_sync.claim('amazon', 100, '1 ms') WHERE sku = 'CAP';
SELECT channel_sync.fail(:cap_msg, 'x', '-1 s');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- dead letter after the channel's max_attempts (3 on amazon); a dead message is not claimed
UPDATE channel_sync.outbox SET next_attempt_at = '-infinity' WHERE message_id = :cap_msg;
SELECT channel_sync.fail(:cap_msg, 'HTTP 500', '0 s');
SELECT channel_sync.fail(:cap_msg, 'timeout', '0 s');
SELECT status, attempts, last_error FROM channel_sync.outbox WHERE message_id = :cap_msg;
SELECT count(*) AS dead_claimed FROM channel_sync.claim('amazon', 100, '1 ms') WHERE sku = 'CAP';
-- requeue_dead makes it pending again, attempts reset
\! psql -qX -d "$DB" -c 'LISTEN channel_sync' -c "SELECT channel_sync.requeue_dead('amazon') AS requeued" 2>&1 | sed -E 's/PID [0-9]+/PID N/'
SELECT status, attempts FROM channel_sync.outbox WHERE message_id = :cap_msg;
SELECT sku, attempts FROM channel_sync.claim('amazon', 100, '1 ms') WHERE sku = 'CAP';
SELECT channel_sync.fail(:cap_msg, 'a', '0 s'), channel_sync.fail(:cap_msg, 'b', '0 s'), channel_sync.fail(:cap_msg, 'c', '0 s');
-- a new change revives a dead message: pending, attempts reset, first change kept
SELECT first_change_at AS dead_first_change FROM channel_sync.outbox WHERE message_id = :cap_msg \gset
UPDATE channel_sync.stock SET on_hand = 5 WHERE sku = 'CAP';
SELECT status, attempts, qty, first_change_at = :'dead_first_change' AS first_change_kept
  FROM channel_sync.outbox WHERE message_id = :cap_msg;
\! psql -qX -d "$DB" -c 'LISTEN channel_sync' -c "SELECT channel_sync.requeue_dead('amazon') AS nothing_dead" 2>&1 | sed -E 's/PID [0-9]+/PID N/'

-- TRUNCATE would bypass the triggers: refused with a hint
TRUNCATE channel_sync.stock;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
TRUNCATE channel_sync.bundle_components;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) AS stock_rows FROM channel_sync.stock;

-- the triggers are not callable by hand
SELECT channel_sync._retarget_on_change();
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT channel_sync._retarget_at_commit();
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- a stock change made with SQL is re-targeted at its transaction's commit (retarget_at_commit):
-- inside the transaction the listing still shows the target from before, verify() re-targets
-- it first, and with the trigger disabled the statement re-targets at once (as before 0.4.0)
BEGIN;
UPDATE channel_sync.stock SET on_hand = 12 WHERE sku = 'TEE';
SELECT channel_id, target_qty AS before_commit FROM channel_sync.listings WHERE sku = 'TEE' ORDER BY 1;
SELECT count(*) AS drift FROM channel_sync.verify() WHERE check_name = 'target_drift';
SELECT channel_id, target_qty AS after_verify FROM channel_sync.listings WHERE sku = 'TEE' ORDER BY 1;
UPDATE channel_sync.stock SET on_hand = 13 WHERE sku = 'TEE';
COMMIT;
SELECT channel_id, target_qty AS after_commit FROM channel_sync.listings WHERE sku = 'TEE' ORDER BY 1;
ALTER TABLE channel_sync.stock DISABLE TRIGGER retarget_at_commit;
BEGIN;
UPDATE channel_sync.stock SET on_hand = 14 WHERE sku = 'TEE';
SELECT channel_id, target_qty AS at_once FROM channel_sync.listings WHERE sku = 'TEE' ORDER BY 1;
COMMIT;
SELECT check_name, expected, found FROM channel_sync.verify() WHERE check_name = 'trigger_disabled';
ALTER TABLE channel_sync.stock ENABLE ALWAYS TRIGGER retarget_at_commit;
SELECT count(*) AS findings FROM channel_sync.verify();
