-- since: 0.4.0
-- _wake_listeners(): requeue_dead() and verify(fix => true) wake a channel's connectors the
-- way the triggers do (channel_sync.notify_mode), not with a pg_notify of their own.
CREATE FUNCTION channel_sync._wake_listeners(channel_id text) RETURNS void
  LANGUAGE c VOLATILE STRICT AS 'MODULE_PATHNAME', '_wake_listeners';
COMMENT ON FUNCTION channel_sync._wake_listeners(text) IS 'Internal (C++): wakes the listeners of the channel once the transaction commits, as the propagation triggers do (NOTIFY in the transaction, or the batched notifier).';
REVOKE EXECUTE ON FUNCTION channel_sync._wake_listeners(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION channel_sync._wake_listeners(text) TO channel_sync_admin;

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
