-- release(): a connector that stops in the middle of a batch hands back what it did not push;
-- the message is claimable again at once, without an attempt counted, and listeners are woken.
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
INSERT INTO channel_sync.skus (sku, base_price) VALUES ('MUG', 5);
INSERT INTO channel_sync.stock (sku, location_id, on_hand) VALUES ('TEE', 'wh1', 10), ('CAP', 'wh1', 3), ('MUG', 'wh1', 4);
-- all three claimed; MUG's push fails (attempts 1, due at once) and it is claimed again
SELECT sku, version, attempts FROM channel_sync.claim('amazon', 10, '1 hour') ORDER BY sku;
SELECT channel_sync.fail(message_id, 'HTTP 503', '0 seconds') FROM channel_sync.outbox WHERE sku = 'MUG';
SELECT sku, version, attempts FROM channel_sync.claim('amazon', 10, '1 hour') ORDER BY sku;
-- nothing is claimable while the leases run
SELECT count(*) AS claimable FROM channel_sync.claim('amazon');
-- TEE and MUG are handed back: claimable again at once, the lease gone, no attempt counted
SELECT sku, channel_sync.release(message_id) AS released FROM channel_sync.outbox WHERE sku IN ('TEE', 'MUG') ORDER BY sku;
SELECT sku, status, attempts, leased_until IS NULL AS lease_gone, claimed_version IS NULL AS unclaimed, last_error
  FROM channel_sync.outbox ORDER BY sku;
-- releasing again (not claimed any more) returns false and changes nothing
SELECT channel_sync.release(message_id) AS released_twice FROM channel_sync.outbox WHERE sku = 'TEE';
-- a released message cannot be acknowledged: the connector did not push it
SELECT channel_sync.ack(message_id) FROM channel_sync.outbox WHERE sku = 'TEE';
-- the next claim hands out the released two (CAP keeps its lease), at their current versions
SELECT sku, version, attempts FROM channel_sync.claim('amazon', 10, '1 hour') ORDER BY sku;
-- a change after the claim, then a release: the newer version is what is claimed next
UPDATE channel_sync.stock SET on_hand = 7 WHERE sku = 'TEE';
SELECT channel_sync.release(message_id) AS released FROM channel_sync.outbox WHERE sku = 'TEE';
SELECT sku, qty, version, changed_after_claim_at IS NULL AS no_claim_left FROM channel_sync.outbox WHERE sku = 'TEE';
SELECT sku, qty, version FROM channel_sync.claim('amazon', 10, '1 hour') ORDER BY sku;
-- a failed message is not claimed: release returns false and its retry time stands
SELECT channel_sync.fail(message_id, 'HTTP 429', '1 hour') FROM channel_sync.outbox WHERE sku = 'MUG';
SELECT channel_sync.release(message_id) AS released_failed FROM channel_sync.outbox WHERE sku = 'MUG';
SELECT sku, attempts, next_attempt_at > now() + interval '50 minutes' AS still_waits FROM channel_sync.outbox WHERE sku = 'MUG';
-- a release wakes the channel's listeners at commit (another connector may take the message)
\setenv DB :DBNAME
\! psql -qX -d "$DB" -c 'LISTEN channel_sync' -c "SELECT channel_sync.release(message_id) AS released FROM channel_sync.outbox WHERE sku = 'TEE'" 2>&1 | sed -E 's/PID [0-9]+/PID N/'
-- bad calls
SELECT channel_sync.release(NULL);
SELECT channel_sync.release(0);
