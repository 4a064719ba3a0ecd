\echo Use "ALTER EXTENSION channel_sync UPDATE TO '0.4.0'" to load this file. \quit
-- channel_sync 0.3.0 -> 0.4.0: notifier_status(), what the batched notifier is doing, and
-- requeue_dead() / verify(fix => true) waking connectors through _wake_listeners(), and
-- order_lines.placed_at for dynamic buffers' velocity, and restore_listing_state(). Keep in
-- step with src/ (the parts marked "-- since: 0.4.0" and src/propagation/propagation.sql;
-- test/upgrade compares).
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

-- requeue_dead and verify: as in src/propagation/propagation.sql
CREATE OR REPLACE FUNCTION channel_sync.requeue_dead(channel_id text) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  p_channel text := requeue_dead.channel_id;
  n integer;
BEGIN
  PERFORM channel_sync._assert_channel_access(p_channel);
  UPDATE channel_sync.outbox o
     SET status = 'pending', attempts = 0, next_attempt_at = '-infinity', leased_until = NULL,
         claimed_version = NULL, claimed_qty = NULL, claimed_price = NULL, changed_after_claim_at = NULL
   WHERE o.channel_id = p_channel AND o.status = 'dead';
  GET DIAGNOSTICS n = ROW_COUNT;
  IF n > 0 THEN
    PERFORM channel_sync._wake_listeners(p_channel);
  END IF;
  RETURN n;
END
$$;

CREATE OR REPLACE FUNCTION channel_sync.verify(fix boolean DEFAULT false)
  RETURNS TABLE(check_name text, channel_id text, sku text, expected text, found text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  tg record;
BEGIN
  CREATE TEMP TABLE IF NOT EXISTS pg_temp.channel_sync_verify_findings
    (check_name text, channel_id text, sku text, expected text, found text) ON COMMIT DROP;
  TRUNCATE pg_temp.channel_sync_verify_findings;
  INSERT INTO pg_temp.channel_sync_verify_findings
  SELECT 'trigger_disabled', NULL, NULL, pg_catalog.format('%s on %s enabled always', t.tgname, c.relname),
         CASE t.tgenabled WHEN 'D' THEN 'disabled' WHEN 'O' THEN 'enabled (origin only)'
                          WHEN 'R' THEN 'enabled (replica only)' ELSE t.tgenabled::text END
    FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
   WHERE c.relnamespace = 'channel_sync'::regnamespace AND NOT t.tgisinternal AND t.tgenabled <> 'A'
     AND t.tgfoid IN ('channel_sync._retarget_on_change()'::regprocedure,
                      'channel_sync._enqueue_listing_changes()'::regprocedure,
                      'channel_sync._refuse_truncate()'::regprocedure);
  INSERT INTO pg_temp.channel_sync_verify_findings SELECT * FROM channel_sync._verify_targets();
  IF fix THEN
    FOR tg IN SELECT t.tgname, c.relname FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
               WHERE c.relnamespace = 'channel_sync'::regnamespace AND NOT t.tgisinternal AND t.tgenabled <> 'A'
                 AND t.tgfoid IN ('channel_sync._retarget_on_change()'::regprocedure,
                                  'channel_sync._enqueue_listing_changes()'::regprocedure,
                                  'channel_sync._refuse_truncate()'::regprocedure) LOOP
      EXECUTE pg_catalog.format('ALTER TABLE channel_sync.%I ENABLE ALWAYS TRIGGER %I', tg.relname, tg.tgname);
    END LOOP;
    -- rewrite drifted listings (their trigger enqueues), then enqueue unacknowledged versions;
    -- the advisory lock is the triggers' "every SKU" retarget lock (see triggers_pg.cpp)
    PERFORM pg_catalog.pg_advisory_xact_lock(1668481024, 0);
    PERFORM channel_sync.recompute_targets();
    PERFORM channel_sync._wake_listeners(q.channel_id) FROM (
      SELECT DISTINCT r.channel_id FROM channel_sync._enqueue_unacked() AS r(channel_id)) q;
  END IF;
  RETURN QUERY SELECT f.check_name, f.channel_id, f.sku, f.expected, f.found
                 FROM pg_temp.channel_sync_verify_findings f
                ORDER BY f.check_name, f.channel_id NULLS FIRST, f.sku, f.expected;
END
$$;

-- order_lines.placed_at: as in src/common/since_0_4_0.sql, the lines written so far filled
-- from their orders before the index is built
ALTER TABLE channel_sync.order_lines ADD COLUMN placed_at timestamptz;
COMMENT ON COLUMN channel_sync.order_lines.placed_at IS 'placed_at of the order, written with the line (NULL on a line written without it: its order''s is used).';
UPDATE channel_sync.order_lines AS l SET placed_at = o.placed_at
  FROM channel_sync.orders AS o WHERE o.channel_id = l.channel_id AND o.order_id = l.order_id;
DROP INDEX channel_sync.order_lines_sku_idx;
CREATE INDEX order_lines_sku_idx ON channel_sync.order_lines (sku, placed_at);

-- restore_listing_state(): pg_dump does not keep listings (the triggers derive every target
-- again as the stock is restored), so a restored listing has lost what it had recorded from
-- its channel. This gives it back from the history that is dumped: the last acknowledgement
-- (propagation_log: what the channel was told, when, and the last quantity it reported) and
-- the last applied listing_observed (events). Only listings with none of it are written; the
-- acked version is not (versions are counted anew), so every listing is still delivered once.
CREATE FUNCTION channel_sync.restore_listing_state() RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  acked integer;
  observed integer;
BEGIN
  WITH last_ack AS (
    SELECT g.channel_id, g.sku,
           (pg_catalog.array_agg(g.qty ORDER BY g.acked_at DESC, g.log_id DESC))[1] AS qty,
           (pg_catalog.array_agg(g.price ORDER BY g.acked_at DESC, g.log_id DESC))[1] AS price,
           pg_catalog.max(g.acked_at) AS acked_at,
           (pg_catalog.array_agg(g.reported_qty ORDER BY g.acked_at DESC, g.log_id DESC)
              FILTER (WHERE g.reported_qty IS NOT NULL))[1] AS reported_qty
      FROM channel_sync.propagation_log g
     GROUP BY g.channel_id, g.sku)
  UPDATE channel_sync.listings l
     SET acked_qty = a.qty, acked_price = a.price, acked_at = a.acked_at,
         reported_qty = a.reported_qty
    FROM last_ack a
   WHERE l.channel_id = a.channel_id AND l.sku = a.sku
     AND l.acked_at IS NULL AND l.acked_version IS NULL AND l.reported_qty IS NULL;
  GET DIAGNOSTICS acked = ROW_COUNT;

  WITH seen AS (
    SELECT e.event_id, e.channel_id, coalesce(e.payload ->> 'sku', al.sku) AS sku, e.occurred_at,
           (e.payload ->> 'qty')::numeric::integer AS qty, (e.payload ->> 'price')::numeric AS price
      FROM channel_sync.events e
      LEFT JOIN channel_sync.sku_aliases al
             ON al.channel_id = e.channel_id AND al.external_id = e.payload ->> 'external_id'
     WHERE e.event_type = 'listing_observed' AND e.status = 'applied'),
  last_seen AS (
    SELECT s.channel_id, s.sku,
           (pg_catalog.array_agg(s.qty ORDER BY s.occurred_at DESC, s.event_id DESC))[1] AS qty,
           (pg_catalog.array_agg(s.price ORDER BY s.occurred_at DESC, s.event_id DESC)
              FILTER (WHERE s.price IS NOT NULL))[1] AS price,
           pg_catalog.max(s.occurred_at) AS occurred_at
      FROM seen s WHERE s.sku IS NOT NULL
     GROUP BY s.channel_id, s.sku)
  UPDATE channel_sync.listings l
     SET observed_qty = o.qty, observed_price = o.price, observed_at = o.occurred_at
    FROM last_seen o
   WHERE l.channel_id = o.channel_id AND l.sku = o.sku AND l.observed_at IS NULL;
  GET DIAGNOSTICS observed = ROW_COUNT;
  RETURN acked + observed;
END $$;
COMMENT ON FUNCTION channel_sync.restore_listing_state() IS 'Admin: after a restore, gives each listing back its last acknowledgement (qty, price, time, reported qty; from propagation_log) and its last applied listing_observed (from events), where it has none. Returns the number of listings written (a listing given both counts twice).';
REVOKE EXECUTE ON FUNCTION channel_sync.restore_listing_state() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION channel_sync.restore_listing_state() TO channel_sync_admin;
