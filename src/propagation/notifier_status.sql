-- since: 0.4.0
-- notifier_status(): what the batched notifier (channel_sync.notify_mode = batched) is doing,
-- for a DBA or a monitoring check: one row per database it serves now.
CREATE FUNCTION channel_sync.notifier_status()
  RETURNS TABLE(database text, worker_pid integer, pending_channels integer,
                wakes_every_channel boolean, open_transactions integer,
                notify_transactions bigint, notifications bigint, last_notify_at timestamptz)
  LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'notifier_status';
COMMENT ON FUNCTION channel_sync.notifier_status() IS 'Admin/reader: one row per database the batched notifier serves now (none unless channel_sync is in shared_preload_libraries): its worker (NULL between workers), channels committed and not yet notified (wakes_every_channel after an overflow), transactions that will mark at commit, and what its workers sent since the database got its slot.';
REVOKE EXECUTE ON FUNCTION channel_sync.notifier_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION channel_sync.notifier_status() TO channel_sync_admin, channel_sync_reader;
