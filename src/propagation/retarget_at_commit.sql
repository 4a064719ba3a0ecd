-- since: 0.4.0
-- Stock changes are re-targeted when the transaction's deferred triggers fire (at COMMIT):
-- retarget_on_<event> collects the SKUs each statement changed, and the first firing of this
-- deferred constraint trigger re-targets them, taking their re-target locks only then. A
-- transaction that changes one SKU's rows in two statements then no longer holds that SKU's
-- lock between them, where another transaction changing the second row would wait for it
-- while holding the row (a deadlock; isolation spec propagation_transfer).
CREATE FUNCTION channel_sync._retarget_at_commit() RETURNS trigger
  LANGUAGE c SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', '_retarget_at_commit';
COMMENT ON FUNCTION channel_sync._retarget_at_commit() IS 'Internal trigger (C++): at commit, re-targets the SKUs whose stock the transaction''s statements changed.';
REVOKE EXECUTE ON FUNCTION channel_sync._retarget_at_commit() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION channel_sync._retarget_at_commit() TO channel_sync_admin;
CREATE CONSTRAINT TRIGGER retarget_at_commit AFTER INSERT OR UPDATE OR DELETE ON channel_sync.stock
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION channel_sync._retarget_at_commit();
ALTER TABLE channel_sync.stock ENABLE ALWAYS TRIGGER retarget_at_commit;
