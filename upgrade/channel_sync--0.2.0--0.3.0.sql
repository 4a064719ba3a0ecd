\echo Use "ALTER EXTENSION channel_sync UPDATE TO '0.3.0'" to load this file. \quit
-- channel_sync 0.2.0 -> 0.3.0: room for in-page (HOT) updates on the tables every stock
-- change rewrites. Keep in step with the parts of src/ marked "-- since: 0.3.0"
-- (test/upgrade compares).
--
-- A fillfactor applies to pages written from now on; to give the existing rows room too,
-- rewrite the tables when convenient (VACUUM FULL takes an exclusive lock):
--   VACUUM FULL channel_sync.stock, channel_sync.listings, channel_sync.outbox;
ALTER TABLE channel_sync.stock SET (fillfactor = 70);
ALTER TABLE channel_sync.listings SET (fillfactor = 70);
ALTER TABLE channel_sync.outbox SET (fillfactor = 70);
