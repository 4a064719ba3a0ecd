-- since: 0.4.0
-- prune_propagation_log(): propagation_log gains a row per acknowledged delivery and nothing
-- else removes any. This keeps a retention window and, older than it, each listing's newest
-- acknowledgement (restore_listing_state() gives a restored listing its last one back).
-- channel_health and dynamic buffers read the last 24 hours, so the window is at least a day.
CREATE FUNCTION channel_sync.prune_propagation_log(older_than interval) RETURNS bigint
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  removed bigint;
BEGIN
  IF older_than IS NULL THEN
    RAISE EXCEPTION 'older_than must not be null' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF older_than < '1 day'::interval THEN
    RAISE EXCEPTION 'older_than must be at least 1 day: "%"', older_than
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'channel_health and dynamic buffers read the acknowledgements of the last 24 hours; lag reports over weeks need weeks.';
  END IF;
  -- one sort of the log (not NOT IN: a subquery result larger than work_mem is not hashed)
  DELETE FROM channel_sync.propagation_log g
   USING (SELECT r.log_id
            FROM (SELECT l.log_id, l.acked_at,
                         pg_catalog.row_number() OVER (PARTITION BY l.channel_id, l.sku
                                                      ORDER BY l.acked_at DESC, l.log_id DESC) AS newer
                    FROM channel_sync.propagation_log l) r
           WHERE r.newer > 1 AND r.acked_at < pg_catalog.now() - older_than) old
   WHERE g.log_id = old.log_id;
  GET DIAGNOSTICS removed = ROW_COUNT;
  RETURN removed;
END
$$;
COMMENT ON FUNCTION channel_sync.prune_propagation_log(interval) IS 'Admin: deletes acknowledgements older than older_than (at least 1 day) from propagation_log, keeping each listing''s newest one. Returns the number removed.';
REVOKE EXECUTE ON FUNCTION channel_sync.prune_propagation_log(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION channel_sync.prune_propagation_log(interval) TO channel_sync_admin;
