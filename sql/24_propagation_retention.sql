-- prune_propagation_log(): acknowledgements older than the window go, each listing's newest
-- stays (restore_listing_state() needs it); the window is at least a day.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS channel_sync CASCADE;
CREATE EXTENSION channel_sync;
RESET client_min_messages;
\set SHOW_CONTEXT never
\set VERBOSITY default

INSERT INTO channel_sync.channels (channel_id, kind) VALUES ('amazon', 'marketplace'), ('shop', 'storefront');
INSERT INTO channel_sync.locations VALUES ('wh1', 'warehouse', true);
INSERT INTO channel_sync.skus (sku, base_price) VALUES ('TEE', 20), ('CAP', 10);
INSERT INTO channel_sync.stock (sku, location_id, on_hand) VALUES ('TEE', 'wh1', 10), ('CAP', 'wh1', 3);

-- amazon/TEE acknowledged 40, 35 and 2 days ago; amazon/CAP 40 days ago only; shop/TEE today
INSERT INTO channel_sync.propagation_log (channel_id, sku, version, qty, price, first_change_at, acked_at, attempts)
VALUES ('amazon', 'TEE', 1, 10, 20, now() - interval '40 days 1 minute', now() - interval '40 days', 1),
       ('amazon', 'TEE', 2, 9, 20, now() - interval '35 days 1 minute', now() - interval '35 days', 1),
       ('amazon', 'TEE', 3, 8, 20, now() - interval '2 days 1 minute', now() - interval '2 days', 2),
       ('amazon', 'CAP', 1, 3, 10, now() - interval '40 days 1 minute', now() - interval '40 days', 1),
       ('shop', 'TEE', 1, 10, 20, now() - interval '1 minute', now(), 1);

SELECT channel_sync.prune_propagation_log('30 days') AS removed;
SELECT channel_id, sku, version, round(extract(epoch FROM now() - acked_at) / 86400) AS days_ago
  FROM channel_sync.propagation_log ORDER BY 1, 2, 3;
-- again: nothing more to remove
SELECT channel_sync.prune_propagation_log('30 days') AS removed;
-- a shorter window takes amazon/TEE's newest only if a newer one exists: it does not
SELECT channel_sync.prune_propagation_log('1 day') AS removed;

-- after a restore (listings lost what they had recorded), the kept rows give it back
UPDATE channel_sync.listings SET acked_qty = NULL, acked_price = NULL, acked_at = NULL, acked_version = NULL, reported_qty = NULL;
SELECT channel_sync.restore_listing_state() AS restored;
SELECT channel_id, sku, acked_qty FROM channel_sync.listings WHERE acked_at IS NOT NULL ORDER BY 1, 2;

-- bad windows
SELECT channel_sync.prune_propagation_log(NULL);
SELECT channel_sync.prune_propagation_log('-1 day');
SELECT channel_sync.prune_propagation_log('12 hours');
SELECT count(*) AS rows_left FROM channel_sync.propagation_log;

-- admin only
CREATE ROLE cs_retention_test_connector IN ROLE channel_sync_connector;
SET ROLE cs_retention_test_connector;
SELECT channel_sync.prune_propagation_log('30 days');
RESET ROLE;
DROP ROLE cs_retention_test_connector;
