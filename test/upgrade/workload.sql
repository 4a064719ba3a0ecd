-- What connectors and the triggers do, run by the current library against an install of any
-- version, before and after ALTER EXTENSION channel_sync UPDATE (a package upgrade replaces
-- the library first): it must work either way. psql -v run=<tag>; the last line prints the
-- events not applied and verify()'s findings ("0 0").
\set ON_ERROR_STOP on
\set QUIET on
INSERT INTO channel_sync.channels (channel_id) VALUES ('shop'), ('amazon') ON CONFLICT DO NOTHING;
INSERT INTO channel_sync.locations (location_id) VALUES ('wh1') ON CONFLICT DO NOTHING;
INSERT INTO channel_sync.channel_locations VALUES ('shop', 'wh1'), ('amazon', 'wh1') ON CONFLICT DO NOTHING;
INSERT INTO channel_sync.skus (sku, base_price) VALUES ('TEE', 20), ('CAP', 10) ON CONFLICT DO NOTHING;
INSERT INTO channel_sync.stock (sku, location_id, on_hand) VALUES ('TEE', 'wh1', 100), ('CAP', 'wh1', 100)
  ON CONFLICT DO NOTHING;
INSERT INTO channel_sync.allocation_rules (channel_id, sku, dynamic_buffer) VALUES ('amazon', NULL, true)
  ON CONFLICT DO NOTHING;
UPDATE channel_sync.allocation_rules SET dynamic_buffer = true WHERE channel_id = 'amazon' AND sku IS NULL;
-- an order of one line, one of two lines, a batch of two, a stock change with a dynamic buffer
SELECT channel_sync.ingest('amazon', :'run' || '-1', 'order_placed',
  jsonb_build_object('order_id', :'run' || '-1', 'lines', '[{"sku": "TEE", "qty": 2}]'::jsonb)) \g /dev/null
SELECT channel_sync.ingest('amazon', :'run' || '-2', 'order_placed',
  jsonb_build_object('order_id', :'run' || '-2', 'lines', '[{"sku": "TEE", "qty": 1}, {"sku": "CAP", "qty": 1}]'::jsonb)) \g /dev/null
SELECT count(*) FROM channel_sync.ingest_batch('amazon', jsonb_build_array(
  jsonb_build_object('idempotency_key', :'run' || '-3', 'event_type', 'order_placed', 'occurred_at', now(),
    'payload', jsonb_build_object('order_id', :'run' || '-3', 'lines', '[{"sku": "CAP", "qty": 1}]'::jsonb)),
  jsonb_build_object('idempotency_key', :'run' || '-4', 'event_type', 'order_placed', 'occurred_at', now(),
    'payload', jsonb_build_object('order_id', :'run' || '-4', 'lines', '[{"sku": "TEE", "qty": 1}, {"sku": "CAP", "qty": 2}]'::jsonb)))) \g /dev/null
UPDATE channel_sync.stock SET on_hand = on_hand + 1 WHERE sku = 'TEE';
SELECT (SELECT count(*) FROM channel_sync.events WHERE status <> 'applied') || ' ' ||
       (SELECT count(*) FROM channel_sync.verify());
