-- ack_batch(message_ids, channel_qtys, versions): many acknowledgements in one call, each as
-- ack() records it, one status per element in order; a malformed call records nothing.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS channel_sync CASCADE;
DROP ROLE IF EXISTS ab_amazon_bot;
DROP ROLE IF EXISTS ab_amazon;
CREATE EXTENSION channel_sync;
RESET client_min_messages;
\set SHOW_CONTEXT never
\set VERBOSITY default

INSERT INTO channel_sync.channels (channel_id, kind) VALUES ('amazon', 'marketplace'), ('etsy', 'marketplace');
INSERT INTO channel_sync.locations VALUES ('wh1', 'warehouse', true);
-- one SKU a statement: their messages are numbered in this order (a statement's re-target
-- writes its SKUs in byte order)
INSERT INTO channel_sync.skus (sku, base_price) VALUES ('CAP', 10);
INSERT INTO channel_sync.skus (sku, base_price) VALUES ('MUG', 8);
INSERT INTO channel_sync.skus (sku, base_price) VALUES ('TEE', 20);
INSERT INTO channel_sync.skus (sku, base_price) VALUES ('HAT', 15);
INSERT INTO channel_sync.stock (sku, location_id, on_hand) SELECT sku, 'wh1', 10 FROM channel_sync.skus;
CREATE TEMP TABLE claims AS SELECT * FROM channel_sync.claim('amazon', 3, '1 hour');
SELECT sku, qty, version FROM claims ORDER BY sku;

-- after the claim TEE changes (its ack records the claimed version, the newer one stays
-- pending); HAT was never claimed; one id is repeated, one does not exist, one is claimed at
-- another version than the caller says
UPDATE channel_sync.stock SET on_hand = 7 WHERE sku = 'TEE';
SELECT b.ord, o.sku, b.status
  FROM channel_sync.ack_batch(
         ARRAY[(SELECT message_id FROM claims WHERE sku = 'TEE'), (SELECT message_id FROM claims WHERE sku = 'CAP'),
               (SELECT message_id FROM channel_sync.outbox WHERE channel_id = 'amazon' AND sku = 'HAT'), 0,
               (SELECT message_id FROM claims WHERE sku = 'CAP'), (SELECT message_id FROM claims WHERE sku = 'MUG')],
         ARRAY[9, 10, 11, 12, 13, 14],
         ARRAY[(SELECT version FROM claims WHERE sku = 'TEE'), NULL, NULL, NULL, NULL,
               (SELECT version + 1 FROM claims WHERE sku = 'MUG')])
       WITH ORDINALITY AS b(message_id, status, ord)
  LEFT JOIN (SELECT message_id, sku FROM claims
             UNION ALL SELECT message_id, sku FROM channel_sync.outbox WHERE sku = 'HAT' AND channel_id = 'amazon') o
    ON o.message_id = b.message_id
 ORDER BY b.ord;
-- recorded: TEE at its claimed version (and the newer version pending, unclaimed), CAP; not
-- MUG (claimed at another version than given) nor HAT (not claimed)
SELECT sku, version, qty, reported_qty FROM channel_sync.propagation_log ORDER BY sku;
SELECT sku, target_version, acked_version, reported_qty FROM channel_sync.listings
 WHERE channel_id = 'amazon' ORDER BY sku;
SELECT sku, version, claimed_version, leased_until IS NOT NULL AS leased FROM channel_sync.outbox
 WHERE channel_id = 'amazon' ORDER BY sku;
-- MUG at its own version, by named arguments and without quantities
SELECT status FROM channel_sync.ack_batch(message_ids => ARRAY[(SELECT message_id FROM claims WHERE sku = 'MUG')],
                                          versions => ARRAY[(SELECT version FROM claims WHERE sku = 'MUG')]);
SELECT count(*) AS amazon_messages_left FROM channel_sync.outbox WHERE channel_id = 'amazon';

-- an empty call acknowledges nothing; arrays with other bounds are read in order
SELECT count(*) FROM channel_sync.ack_batch('{}');
SELECT * FROM channel_sync.ack_batch('[0:1]={0,-1}', '[5:6]={1,2}');

-- malformed calls: errors, nothing recorded
\set VERBOSITY sqlstate
SELECT * FROM channel_sync.ack_batch(NULL);
SELECT * FROM channel_sync.ack_batch('{1,NULL}');
SELECT * FROM channel_sync.ack_batch('{{1},{2}}');
SELECT * FROM channel_sync.ack_batch('{1,2}', '{1}');
SELECT * FROM channel_sync.ack_batch('{1,2}', NULL, '{1,2,3}');
SELECT * FROM channel_sync.ack_batch(ARRAY(SELECT generate_series(1, 10001)::bigint));
\set VERBOSITY default

-- a connector acknowledges only its channel's messages: a call naming another channel's message
-- fails whole (42501), its own messages in it stay claimed
CREATE ROLE ab_amazon NOLOGIN IN ROLE channel_sync_connector;
CREATE ROLE ab_amazon_bot NOLOGIN IN ROLE ab_amazon;
UPDATE channel_sync.channels SET connector_role = 'ab_amazon' WHERE channel_id = 'amazon';
UPDATE channel_sync.stock SET on_hand = 5 WHERE sku = 'CAP';
TRUNCATE claims;
INSERT INTO claims SELECT * FROM channel_sync.claim('amazon', 10, '1 hour');
SELECT count(*) AS etsy_claimed FROM channel_sync.claim('etsy', 1, '1 hour');
SELECT min(message_id) AS amazon_id, array_agg(message_id ORDER BY message_id) AS amazon_ids FROM claims \gset
SELECT message_id AS etsy_id FROM channel_sync.outbox WHERE channel_id = 'etsy' AND claimed_version IS NOT NULL \gset
GRANT SELECT ON claims TO ab_amazon_bot;
SET ROLE ab_amazon_bot;
SELECT * FROM channel_sync.ack_batch(ARRAY[:amazon_id, :etsy_id]::bigint[]);
SELECT count(*) AS amazon_claimed FROM channel_sync.outbox WHERE channel_id = 'amazon' AND claimed_version IS NOT NULL;
SELECT o.sku, b.status FROM channel_sync.ack_batch(:'amazon_ids') b
  JOIN claims o USING (message_id) ORDER BY o.sku;
SELECT status, count(*) FROM channel_sync.ack_batch(:'amazon_ids') GROUP BY 1;
RESET ROLE;
SELECT sku, version FROM channel_sync.propagation_log WHERE channel_id = 'amazon' ORDER BY sku, version;

DROP TABLE claims;
SET client_min_messages = warning;
DROP EXTENSION channel_sync CASCADE;
DROP ROLE ab_amazon_bot;
DROP ROLE ab_amazon;
RESET client_min_messages;
