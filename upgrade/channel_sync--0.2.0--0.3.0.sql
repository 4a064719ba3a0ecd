\echo Use "ALTER EXTENSION channel_sync UPDATE TO '0.3.0'" to load this file. \quit
-- channel_sync 0.2.0 -> 0.3.0: room for in-page (HOT) updates on the tables every stock
-- change rewrites, and no row lock before each stock UPDATE. Keep in step with src/ (the
-- parts marked "-- since: 0.3.0" and src/common/validation.sql; test/upgrade compares).
--
-- A fillfactor applies to pages written from now on; to give the existing rows room too,
-- rewrite the tables when convenient (VACUUM FULL takes an exclusive lock):
--   VACUUM FULL channel_sync.stock, channel_sync.listings, channel_sync.outbox;
ALTER TABLE channel_sync.stock SET (fillfactor = 70);
ALTER TABLE channel_sync.listings SET (fillfactor = 70);
ALTER TABLE channel_sync.outbox SET (fillfactor = 70);

-- The SKU-kind check on stock: BEFORE INSERT, and AFTER UPDATE OF sku (a BEFORE UPDATE row
-- trigger, even one limited to sku, makes every UPDATE lock the row first: a WAL record).
DROP TRIGGER stock_is_simple ON channel_sync.stock;
CREATE TRIGGER stock_is_simple BEFORE INSERT ON channel_sync.stock
  FOR EACH ROW EXECUTE FUNCTION channel_sync._check_stock_sku();
ALTER TABLE channel_sync.stock ENABLE ALWAYS TRIGGER stock_is_simple;
CREATE TRIGGER stock_sku_is_simple AFTER UPDATE OF sku ON channel_sync.stock
  FOR EACH ROW EXECUTE FUNCTION channel_sync._check_stock_sku();
ALTER TABLE channel_sync.stock ENABLE ALWAYS TRIGGER stock_sku_is_simple;
