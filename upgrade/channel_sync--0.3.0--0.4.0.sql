\echo Use "ALTER EXTENSION channel_sync UPDATE TO '0.4.0'" to load this file. \quit
-- channel_sync 0.3.0 -> 0.4.0: notifier_status(), what the batched notifier is doing, and
-- requeue_dead() / verify(fix => true) waking connectors through _wake_listeners(), and
-- order_lines.placed_at for dynamic buffers' velocity, restore_listing_state(), prune_propagation_log(), release(),
-- the version argument of ack(), fail() and release(), ack_batch(), and the outbox key SKU first. Keep in
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
  -- this transaction's own stock changes are re-targeted at its commit (retarget_at_commit):
  -- do that now, so they are not reported as drift
  BEGIN
    SET CONSTRAINTS channel_sync.retarget_at_commit IMMEDIATE;
    SET CONSTRAINTS channel_sync.retarget_at_commit DEFERRED;
  EXCEPTION WHEN undefined_object THEN
    NULL;  -- the trigger was dropped: the drift it leaves is reported below
  END;
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
                      'channel_sync._retarget_at_commit()'::regprocedure,
                      'channel_sync._enqueue_listing_changes()'::regprocedure,
                      'channel_sync._refuse_truncate()'::regprocedure);
  INSERT INTO pg_temp.channel_sync_verify_findings SELECT * FROM channel_sync._verify_targets();
  IF fix THEN
    FOR tg IN SELECT t.tgname, c.relname FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
               WHERE c.relnamespace = 'channel_sync'::regnamespace AND NOT t.tgisinternal AND t.tgenabled <> 'A'
                 AND t.tgfoid IN ('channel_sync._retarget_on_change()'::regprocedure,
                                  'channel_sync._retarget_at_commit()'::regprocedure,
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

-- release(): a connector hands back a claimed message it did not push (it is stopping in the
-- middle of a batch), so it can be claimed again at once instead of when its lease lapses.
-- No attempt is counted and next_attempt_at is kept. Locks only the message, as fail() does.
-- version: as for ack(); a claim that is no longer the message's is not released (false).
CREATE FUNCTION channel_sync.release(message_id bigint, version bigint DEFAULT NULL) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  p_id bigint := release.message_id;
  p_version bigint := release.version;
  ch text := channel_sync._message_channel(p_id);
  m channel_sync.outbox;
BEGIN
  PERFORM channel_sync._assert_channel_access(ch);
  SELECT * INTO m FROM channel_sync.outbox o WHERE o.message_id = p_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'outbox message % does not exist', p_id
      USING ERRCODE = 'no_data_found', DETAIL = 'It was acknowledged concurrently.';
  END IF;
  IF m.claimed_version IS NULL THEN
    RETURN false;  -- not claimed: acknowledged and changed since, failed, or never handed out
  END IF;
  IF p_version IS NOT NULL AND m.claimed_version <> p_version THEN
    RETURN false;  -- claimed again since: not this caller's claim
  END IF;
  UPDATE channel_sync.outbox o
     SET leased_until = NULL, claimed_version = NULL, claimed_qty = NULL, claimed_price = NULL,
         changed_after_claim_at = NULL
   WHERE o.message_id = p_id;
  -- another connector of the channel may take it now
  PERFORM channel_sync._wake_listeners(ch);
  RETURN true;
END
$$;
COMMENT ON FUNCTION channel_sync.release(bigint, bigint) IS 'Connector: hands back a claimed message that was not pushed, claimable again at once (no attempt counted, next_attempt_at kept) and notifies; false when it is not claimed, or not at version (the one claim() returned) when given. Release only messages you claimed and still hold.';
REVOKE EXECUTE ON FUNCTION channel_sync.release(bigint, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION channel_sync.release(bigint, bigint) TO channel_sync_admin, channel_sync_connector;

-- ack(), fail() and release() take the version claim() handed out, so a connector whose lease
-- lapsed cannot acknowledge, fail or release the claim another connector took since. As in
-- src/propagation/propagation.sql.
DROP FUNCTION channel_sync.ack(bigint, integer);
DROP FUNCTION channel_sync.fail(bigint, text, interval);
-- _record_ack: records the delivery of the version message m (a claimed outbox row, locked by
-- the caller after its listing) was claimed at: ack() and ack_batch() share it.
CREATE FUNCTION channel_sync._record_ack(m channel_sync.outbox, channel_qty integer) RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  p_id bigint := m.message_id;
BEGIN
  INSERT INTO channel_sync.propagation_log (channel_id, sku, version, qty, price, first_change_at, attempts, reported_qty)
  VALUES (m.channel_id, m.sku, m.claimed_version, m.claimed_qty, m.claimed_price, m.first_change_at, m.attempts + 1, channel_qty);
  UPDATE channel_sync.listings l
     SET acked_qty = m.claimed_qty, acked_price = m.claimed_price, acked_version = m.claimed_version,
         acked_at = pg_catalog.now(), reported_qty = coalesce(channel_qty, l.reported_qty)
   WHERE l.channel_id = m.channel_id AND l.sku = m.sku
     AND (l.acked_version IS NULL OR l.acked_version <= m.claimed_version);
  IF m.version > m.claimed_version THEN
    -- a newer change arrived after the claim: it stays pending, lag counted from its own first change
    UPDATE channel_sync.outbox o
       SET first_change_at = coalesce(m.changed_after_claim_at, pg_catalog.now()), attempts = 0,
           next_attempt_at = '-infinity', leased_until = NULL, claimed_version = NULL,
           claimed_qty = NULL, claimed_price = NULL, changed_after_claim_at = NULL, last_error = NULL
     WHERE o.message_id = p_id;
    RETURN false;
  END IF;
  DELETE FROM channel_sync.outbox o WHERE o.message_id = p_id;
  RETURN true;
END
$$;
COMMENT ON FUNCTION channel_sync._record_ack(channel_sync.outbox, integer) IS 'Internal: records the delivery of a claimed message (locked with its listing by the caller) in propagation_log and the listing; deletes the message, or keeps it pending when a newer change arrived after the claim (false).';
REVOKE EXECUTE ON FUNCTION channel_sync._record_ack(channel_sync.outbox, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION channel_sync._record_ack(channel_sync.outbox, integer) TO channel_sync_admin;

-- ack: the channel confirmed the claimed version. Locks the listing before the message
-- (the order the triggers use), so an ack never deadlocks with a concurrent change. version:
-- the one claim() handed out with the message; when given, an ack of a claim that is no longer
-- the message's (its lease lapsed and another connector claimed it at another version) is
-- refused, as an ack of a message not claimed at all is.
CREATE FUNCTION channel_sync.ack(message_id bigint, channel_qty integer DEFAULT NULL, version bigint DEFAULT NULL)
  RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  p_id bigint := ack.message_id;
  p_version bigint := ack.version;
  m channel_sync.outbox;
  ch text := channel_sync._message_channel(p_id);
BEGIN
  PERFORM channel_sync._assert_channel_access(ch);
  PERFORM 1 FROM channel_sync.listings l
    JOIN channel_sync.outbox o ON o.channel_id = l.channel_id AND o.sku = l.sku
   WHERE o.message_id = p_id FOR NO KEY UPDATE OF l;
  SELECT * INTO m FROM channel_sync.outbox o WHERE o.message_id = p_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'outbox message % does not exist', p_id
      USING ERRCODE = 'no_data_found', DETAIL = 'It was acknowledged concurrently.';
  END IF;
  IF m.claimed_version IS NULL THEN
    RAISE EXCEPTION 'outbox message % is not claimed', p_id
      USING ERRCODE = 'object_not_in_prerequisite_state',
            DETAIL = 'Only a message handed out by claim() can be acknowledged; it failed or was never claimed.',
            HINT = 'Claim it again with channel_sync.claim().';
  END IF;
  IF m.claimed_version <> p_version THEN
    RAISE EXCEPTION 'outbox message % is claimed at version %, not %', p_id, m.claimed_version, p_version
      USING ERRCODE = 'object_not_in_prerequisite_state',
            DETAIL = 'Its lease lapsed and another connector claimed it since; nothing was recorded.',
            HINT = 'Claim it again with channel_sync.claim().';
  END IF;
  RETURN channel_sync._record_ack(m, channel_qty);
END
$$;
COMMENT ON FUNCTION channel_sync.ack(bigint, integer, bigint) IS 'Connector: records the delivery of the claimed version in propagation_log and the listing (acked_*, reported_qty = channel_qty if given). Returns false when a newer change arrived after the claim; that change stays pending with its own first-change time. version, the one claim() returned: when given, an ack of a message claimed since at another version is refused (55000), as one of a message not claimed is.';
REVOKE EXECUTE ON FUNCTION channel_sync.ack(bigint, integer, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION channel_sync.ack(bigint, integer, bigint) TO channel_sync_admin, channel_sync_connector;

-- fail: the delivery failed; retry after backoff, or dead after the channel's max_attempts.
-- version: as for ack(); a failure of a claim that is no longer the message's (not claimed,
-- or claimed since at another version) is refused and counts nothing.
CREATE FUNCTION channel_sync.fail(message_id bigint, error text, retry_in interval DEFAULT NULL,
                                  version bigint DEFAULT NULL) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  p_id bigint := fail.message_id;
  p_version bigint := fail.version;
  ch text := channel_sync._message_channel(p_id);
  m channel_sync.outbox;
  limit_attempts integer;
BEGIN
  PERFORM channel_sync._assert_channel_access(ch);
  IF retry_in < '0'::interval THEN
    RAISE EXCEPTION 'retry_in must not be negative, not %', retry_in USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT * INTO m FROM channel_sync.outbox o WHERE o.message_id = p_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'outbox message % does not exist', p_id
      USING ERRCODE = 'no_data_found', DETAIL = 'It was acknowledged concurrently.';
  END IF;
  IF p_version IS NOT NULL AND m.claimed_version IS DISTINCT FROM p_version THEN
    RAISE EXCEPTION 'outbox message % is not claimed at version %', p_id, p_version
      USING ERRCODE = 'object_not_in_prerequisite_state',
            DETAIL = 'Its lease lapsed and it was claimed, failed or released since; nothing was counted.',
            HINT = 'Claim it again with channel_sync.claim().';
  END IF;
  IF m.status = 'dead' THEN
    RETURN 'dead';
  END IF;
  SELECT c.max_attempts INTO limit_attempts FROM channel_sync.channels c WHERE c.channel_id = ch;
  UPDATE channel_sync.outbox o
     SET attempts = m.attempts + 1, last_error = error,
         status = CASE WHEN m.attempts + 1 >= limit_attempts THEN 'dead' ELSE 'pending' END,
         next_attempt_at = pg_catalog.clock_timestamp()
                           + coalesce(retry_in, channel_sync._retry_backoff(m.attempts + 1)),
         leased_until = NULL, claimed_version = NULL, claimed_qty = NULL, claimed_price = NULL,
         changed_after_claim_at = NULL
   WHERE o.message_id = p_id;
  RETURN CASE WHEN m.attempts + 1 >= limit_attempts THEN 'dead' ELSE 'retry' END;
END
$$;
COMMENT ON FUNCTION channel_sync.fail(bigint, text, interval, bigint) IS 'Connector: records a failed delivery. Returns ''retry'' (claimable again after retry_in, default 1 s × 2^(attempts−1) up to 1 hour) or ''dead'' once the channel''s max_attempts is reached. version, the one claim() returned: when given and the message is no longer claimed at it, the failure is refused (55000) and nothing is counted.';
REVOKE EXECUTE ON FUNCTION channel_sync.fail(bigint, text, interval, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION channel_sync.fail(bigint, text, interval, bigint) TO channel_sync_admin, channel_sync_connector;

-- ack_batch(): as in src/propagation/ack_batch.sql
-- ack_batch(): a connector acknowledges many pushed messages in one call (one round trip and
-- one commit instead of one per message). Locks every listing first, then every message, so
-- acknowledging many does not cross a re-target, which writes a listing and then its message,
-- SKU by SKU in byte order (acks one by one in a transaction lock listing and message in turn,
-- and two SKUs acknowledged in the other order deadlock with it). One status per element, in
-- order:
--   acked          as ack() returning true: delivered at the latest version, message done;
--   newer_pending  as ack() returning false: delivered, a newer change stays pending;
--   missing        no such message (acknowledged already, or its listing was deleted);
--   not_claimed    not claimed (failed, released, or never handed out): nothing recorded;
--   claimed_elsewhere  versions[k] given and the message is claimed at another version now (its
--                  lease lapsed and another connector claimed it): nothing recorded;
--   duplicate      the message appears earlier in message_ids: acknowledged there.
-- A malformed call is an error and records nothing: NULL message_ids or a NULL element,
-- channel_qtys or versions of another length, more than 10,000 elements, a message of a channel
-- the caller may not act for.
CREATE FUNCTION channel_sync.ack_batch(message_ids bigint[], channel_qtys integer[] DEFAULT NULL,
                                       versions bigint[] DEFAULT NULL)
  RETURNS TABLE(message_id bigint, status text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  ids bigint[] := ack_batch.message_ids;
  qtys integer[] := channel_qtys;
  vers bigint[] := versions;
  n integer;
  firsts boolean[];
  ch text;
  m channel_sync.outbox;
BEGIN
  IF pg_catalog.array_ndims(ids) > 1 OR pg_catalog.array_ndims(qtys) > 1 OR pg_catalog.array_ndims(vers) > 1 THEN
    RAISE EXCEPTION 'message_ids, channel_qtys and versions must be one-dimensional arrays'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF ids IS NULL OR pg_catalog.array_position(ids, NULL) IS NOT NULL THEN
    RAISE EXCEPTION 'message_ids must not be null nor contain nulls' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  -- subscripts from 1, whatever bounds the caller's arrays had
  ids := ARRAY(SELECT pg_catalog.unnest(ids));
  qtys := CASE WHEN qtys IS NOT NULL THEN ARRAY(SELECT pg_catalog.unnest(qtys)) END;
  vers := CASE WHEN vers IS NOT NULL THEN ARRAY(SELECT pg_catalog.unnest(vers)) END;
  n := pg_catalog.cardinality(ids);
  IF n > 10000 THEN
    RAISE EXCEPTION 'message_ids has % elements, at most 10000 are acknowledged at once', n
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF pg_catalog.cardinality(qtys) <> n OR pg_catalog.cardinality(vers) <> n THEN
    RAISE EXCEPTION 'channel_qtys and versions must have one element per message (%), not % and %', n,
      coalesce(pg_catalog.cardinality(qtys)::text, 'NULL'), coalesce(pg_catalog.cardinality(vers)::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF n = 0 THEN
    RETURN;
  END IF;
  FOR ch IN SELECT DISTINCT o.channel_id FROM channel_sync.outbox o WHERE o.message_id = ANY (ids) LOOP
    PERFORM channel_sync._assert_channel_access(ch);
  END LOOP;
  PERFORM 1 FROM channel_sync.listings l
    JOIN channel_sync.outbox o ON o.channel_id = l.channel_id AND o.sku = l.sku
   WHERE o.message_id = ANY (ids)
   ORDER BY l.sku COLLATE "C", l.channel_id
     FOR NO KEY UPDATE OF l;
  PERFORM 1 FROM channel_sync.outbox o WHERE o.message_id = ANY (ids) ORDER BY o.message_id FOR UPDATE;
  SELECT pg_catalog.array_agg(q.is_first ORDER BY q.k) INTO firsts
    FROM (SELECT u.k, u.k = pg_catalog.min(u.k) OVER (PARTITION BY u.id) AS is_first
            FROM pg_catalog.unnest(ids) WITH ORDINALITY AS u(id, k)) q;
  FOR k IN 1 .. n LOOP
    message_id := ids[k];
    IF NOT firsts[k] THEN
      status := 'duplicate';
    ELSE
      SELECT * INTO m FROM channel_sync.outbox o WHERE o.message_id = ids[k];
      status := CASE
        WHEN NOT FOUND THEN 'missing'
        WHEN m.claimed_version IS NULL THEN 'not_claimed'
        WHEN vers[k] IS NOT NULL AND vers[k] <> m.claimed_version THEN 'claimed_elsewhere'
        WHEN channel_sync._record_ack(m, qtys[k]) THEN 'acked'
        ELSE 'newer_pending' END;
    END IF;
    RETURN NEXT;
  END LOOP;
END
$$;
COMMENT ON FUNCTION channel_sync.ack_batch(bigint[], integer[], bigint[]) IS 'Connector: acknowledges many claimed messages at once, as ack() does each (channel_qtys and versions: one per message, optional). One row per element, in order: acked, newer_pending (delivered; a newer change stays pending), missing, not_claimed, claimed_elsewhere (claimed since at another version; nothing recorded) or duplicate. Locks every listing (SKU by SKU in byte order), then every message: the order a stock change''s re-target of up to 64 SKUs writes them, so it does not deadlock with one.';
REVOKE EXECUTE ON FUNCTION channel_sync.ack_batch(bigint[], integer[], bigint[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION channel_sync.ack_batch(bigint[], integer[], bigint[]) TO channel_sync_admin, channel_sync_connector;


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

-- events' fillfactor: as in src/common/since_0_4_0.sql (pages written from now on)
ALTER TABLE channel_sync.events SET (fillfactor = 85);

-- the outbox's key SKU first, and the dead messages' index: as in src/common/since_0_4_0.sql
ALTER TABLE channel_sync.outbox DROP CONSTRAINT one_message_per_listing,
  ADD CONSTRAINT one_message_per_listing UNIQUE (sku, channel_id);
CREATE INDEX outbox_dead_idx ON channel_sync.outbox (channel_id) WHERE status = 'dead';

-- Identifiers COLLATE "C", as declared in src/common/schema.sql, src/ingest/ingest.sql and
-- src/parity/30_reconciliation.sql. PostgreSQL does not change the collation of a column that a
-- view, a policy or an UPDATE OF trigger depends on: channel_sync's own are dropped and created
-- again around the ALTERs. Policies and triggers are saved as they are (with their enabled state
-- and comments); the views are created again from src/parity/ (a view created from its own
-- pg_get_viewdef() does not always print the same again), with their saved comments and
-- privileges. A view of the DBA's own over these columns stops the update with PostgreSQL's
-- error naming it (README "Upgrading"). The ALTERs rebuild the indexes on the columns, not the
-- tables.
CREATE TEMP TABLE channel_sync_saved (seq serial, drop_sql text, create_sql text) ON COMMIT DROP;
INSERT INTO channel_sync_saved (drop_sql, create_sql)
SELECT pg_catalog.format('DROP VIEW channel_sync.%I', c.relname),
       pg_catalog.concat_ws(E';\n',
         (SELECT pg_catalog.format('COMMENT ON VIEW channel_sync.%I IS %L', c.relname, d.description)
            FROM pg_catalog.pg_description d
           WHERE d.objoid = c.oid AND d.classoid = 'pg_catalog.pg_class'::regclass AND d.objsubid = 0),
         (SELECT pg_catalog.string_agg(pg_catalog.format('COMMENT ON COLUMN channel_sync.%I.%I IS %L',
                   c.relname, a.attname, d.description), E';\n' ORDER BY a.attnum)
            FROM pg_catalog.pg_description d
            JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.objsubid
           WHERE d.objoid = c.oid AND d.classoid = 'pg_catalog.pg_class'::regclass AND d.objsubid > 0),
         (SELECT pg_catalog.string_agg(pg_catalog.format('GRANT %s ON channel_sync.%I TO %s',
                   p.privilege_type, c.relname,
                   CASE p.grantee WHEN 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(r.rolname) END), E';\n')
            FROM pg_catalog.aclexplode(c.relacl) p
            LEFT JOIN pg_catalog.pg_roles r ON r.oid = p.grantee
           WHERE p.grantee <> c.relowner))
  FROM pg_catalog.pg_class c
 WHERE c.relnamespace = 'channel_sync'::regnamespace AND c.relkind = 'v'
 ORDER BY c.oid;
INSERT INTO channel_sync_saved (drop_sql, create_sql)
SELECT pg_catalog.format('DROP POLICY %I ON channel_sync.%I', p.policyname, p.tablename),
       pg_catalog.format('CREATE POLICY %I ON channel_sync.%I AS %s FOR %s TO %s%s%s', p.policyname,
         p.tablename, p.permissive, p.cmd,
         (SELECT pg_catalog.string_agg(CASE r WHEN 'public' THEN 'PUBLIC' ELSE pg_catalog.quote_ident(r) END, ', ')
            FROM pg_catalog.unnest(p.roles) r),
         ' USING (' || p.qual || ')', ' WITH CHECK (' || p.with_check || ')')
  FROM pg_catalog.pg_policies p
 WHERE p.schemaname = 'channel_sync'
 ORDER BY p.tablename, p.policyname;
INSERT INTO channel_sync_saved (drop_sql, create_sql)
SELECT pg_catalog.format('DROP TRIGGER %I ON %s', t.tgname, t.tgrelid::regclass),
       pg_catalog.concat_ws(E';\n', pg_catalog.pg_get_triggerdef(t.oid),
         CASE t.tgenabled WHEN 'A' THEN pg_catalog.format('ALTER TABLE %s ENABLE ALWAYS TRIGGER %I', t.tgrelid::regclass, t.tgname)
                          WHEN 'R' THEN pg_catalog.format('ALTER TABLE %s ENABLE REPLICA TRIGGER %I', t.tgrelid::regclass, t.tgname)
                          WHEN 'D' THEN pg_catalog.format('ALTER TABLE %s DISABLE TRIGGER %I', t.tgrelid::regclass, t.tgname) END,
         (SELECT pg_catalog.format('COMMENT ON TRIGGER %I ON %s IS %L', t.tgname, t.tgrelid::regclass, d.description)
            FROM pg_catalog.pg_description d
           WHERE d.objoid = t.oid AND d.classoid = 'pg_catalog.pg_trigger'::regclass))
  FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
 WHERE c.relnamespace = 'channel_sync'::regnamespace AND NOT t.tgisinternal AND t.tgattr::text <> ''
 ORDER BY t.oid;

DO $$
DECLARE s record;
BEGIN
  FOR s IN SELECT drop_sql FROM pg_temp.channel_sync_saved ORDER BY seq DESC LOOP
    EXECUTE s.drop_sql;
  END LOOP;
END
$$;

ALTER TABLE channel_sync.channels ALTER COLUMN channel_id TYPE text COLLATE "C";
ALTER TABLE channel_sync.locations ALTER COLUMN location_id TYPE text COLLATE "C";
ALTER TABLE channel_sync.skus ALTER COLUMN sku TYPE text COLLATE "C";
ALTER TABLE channel_sync.channel_locations ALTER COLUMN channel_id TYPE text COLLATE "C",
  ALTER COLUMN location_id TYPE text COLLATE "C";
ALTER TABLE channel_sync.channel_prices ALTER COLUMN channel_id TYPE text COLLATE "C",
  ALTER COLUMN sku TYPE text COLLATE "C";
ALTER TABLE channel_sync.bundle_components ALTER COLUMN bundle_sku TYPE text COLLATE "C",
  ALTER COLUMN component_sku TYPE text COLLATE "C";
ALTER TABLE channel_sync.sku_aliases ALTER COLUMN channel_id TYPE text COLLATE "C",
  ALTER COLUMN external_id TYPE text COLLATE "C", ALTER COLUMN sku TYPE text COLLATE "C";
ALTER TABLE channel_sync.stock ALTER COLUMN sku TYPE text COLLATE "C",
  ALTER COLUMN location_id TYPE text COLLATE "C";
ALTER TABLE channel_sync.allocation_rules ALTER COLUMN channel_id TYPE text COLLATE "C",
  ALTER COLUMN sku TYPE text COLLATE "C";
ALTER TABLE channel_sync.listings ALTER COLUMN channel_id TYPE text COLLATE "C",
  ALTER COLUMN sku TYPE text COLLATE "C";
ALTER TABLE channel_sync.outbox ALTER COLUMN channel_id TYPE text COLLATE "C",
  ALTER COLUMN sku TYPE text COLLATE "C";
ALTER TABLE channel_sync.propagation_log ALTER COLUMN channel_id TYPE text COLLATE "C",
  ALTER COLUMN sku TYPE text COLLATE "C";
ALTER TABLE channel_sync.events ALTER COLUMN channel_id TYPE text COLLATE "C",
  ALTER COLUMN idempotency_key TYPE text COLLATE "C";
ALTER TABLE channel_sync.orders ALTER COLUMN channel_id TYPE text COLLATE "C",
  ALTER COLUMN order_id TYPE text COLLATE "C";
ALTER TABLE channel_sync.order_lines ALTER COLUMN channel_id TYPE text COLLATE "C",
  ALTER COLUMN order_id TYPE text COLLATE "C", ALTER COLUMN sku TYPE text COLLATE "C",
  ALTER COLUMN location_id TYPE text COLLATE "C", ALTER COLUMN sold_sku TYPE text COLLATE "C";
ALTER TABLE channel_sync.stock_counts ALTER COLUMN sku TYPE text COLLATE "C",
  ALTER COLUMN location_id TYPE text COLLATE "C";
ALTER TABLE channel_sync.parity_history ALTER COLUMN channel_id TYPE text COLLATE "C";

-- the views: as in src/parity/20_health.sql and src/parity/30_reconciliation.sql
CREATE VIEW channel_sync.parity AS
SELECT l.channel_id,
       l.sku,
       l.target_qty AS source_qty,
       ch.qty AS channel_qty,
       ch.source AS channel_qty_source,
       ch.seen_at AS channel_seen_at,
       ch.qty - l.target_qty AS qty_delta,
       l.target_price AS source_price,
       ch.price AS channel_price,
       ch.price - l.target_price AS price_delta,
       st.status,
       CASE WHEN st.status = 'in_sync' THEN NULL
            ELSE coalesce(o.first_change_at, GREATEST(l.target_since, ch.seen_at)) END AS diverged_since,
       o.message_id AS pending_message_id
  FROM channel_sync.listings l
  LEFT JOIN channel_sync.outbox o
         ON o.channel_id = l.channel_id AND o.sku = l.sku AND o.status = 'pending'
  CROSS JOIN LATERAL (
    SELECT CASE WHEN fresh THEN l.observed_qty WHEN l.reported_qty IS NOT NULL THEN l.reported_qty
                WHEN l.acked_qty IS NOT NULL THEN l.acked_qty ELSE l.observed_qty END AS qty,
           CASE WHEN fresh THEN 'observed' WHEN l.reported_qty IS NOT NULL THEN 'reported'
                WHEN l.acked_qty IS NOT NULL THEN 'acked'
                WHEN l.observed_qty IS NOT NULL THEN 'observed' END AS source,
           CASE WHEN fresh THEN l.observed_at WHEN l.reported_qty IS NOT NULL OR l.acked_qty IS NOT NULL
                THEN l.acked_at ELSE l.observed_at END AS seen_at,
           CASE WHEN fresh THEN coalesce(l.observed_price, l.acked_price)
                ELSE coalesce(l.acked_price, l.observed_price) END AS price
      FROM (SELECT l.observed_qty IS NOT NULL
                   AND (l.acked_at IS NULL OR l.observed_at >= l.acked_at) AS fresh) f
  ) ch
  CROSS JOIN LATERAL (
    SELECT CASE WHEN ch.qty > l.target_qty THEN 'oversell_risk'
                WHEN o.message_id IS NOT NULL THEN 'pending'
                WHEN ch.qty IS NULL THEN 'unknown'
                WHEN ch.qty < l.target_qty THEN 'undersell'
                ELSE 'in_sync' END AS status
  ) st;

CREATE VIEW channel_sync.propagation_gaps AS
SELECT g.channel_id, g.sku, g.message_id, g.message_state, g.first_change_at,
       pg_catalog.now() - g.first_change_at AS waiting,
       c.lag_target,
       (pg_catalog.now() - g.first_change_at) - c.lag_target AS overdue_by,
       g.attempts, g.last_error
  FROM (SELECT o.channel_id, o.sku, o.message_id, o.status AS message_state, o.first_change_at,
               o.attempts, o.last_error
          FROM channel_sync.outbox o
        UNION ALL
        SELECT l.channel_id, l.sku, NULL, 'missing', l.target_since, 0, NULL
          FROM channel_sync.listings l
         WHERE l.target_version > coalesce(l.acked_version, 0)
           AND NOT EXISTS (SELECT 1 FROM channel_sync.outbox o
                            WHERE o.channel_id = l.channel_id AND o.sku = l.sku)) g
  JOIN channel_sync.channels c ON c.channel_id = g.channel_id
 WHERE pg_catalog.now() - g.first_change_at > c.lag_target;

CREATE VIEW channel_sync.channel_health AS
WITH par AS (
  SELECT channel_id, count(*) AS listings,
         count(*) FILTER (WHERE status = 'in_sync') AS in_sync,
         count(*) FILTER (WHERE status = 'oversell_risk') AS oversell_risk,
         sum(pg_catalog.abs(qty_delta)) AS abs_delta,
         sum(source_qty) FILTER (WHERE channel_qty IS NOT NULL) AS source_units
    FROM channel_sync.parity GROUP BY channel_id
), deliveries AS (
  SELECT channel_id, acked_at - first_change_at AS lag_time, GREATEST(attempts, 1) AS attempts,
         price IS DISTINCT FROM pg_catalog.lag(price) OVER w AND pg_catalog.lag(log_id) OVER w IS NOT NULL AS price_change
    FROM channel_sync.propagation_log
   WHERE acked_at > pg_catalog.now() - interval '24 hours' AND acked_at <= pg_catalog.now()
  WINDOW w AS (PARTITION BY channel_id, sku ORDER BY acked_at, log_id)
), lags AS (
  SELECT channel_id, count(*) AS acked, sum(attempts) AS attempts,
         channel_sync.quantiles(channel_sync.lag_sketch(lag_time), '{0.5,0.95,0.99}') AS q,
         channel_sync.quantile(channel_sync.lag_sketch(lag_time) FILTER (WHERE price_change), 0.95) AS price_p95
    FROM deliveries GROUP BY channel_id
), box AS (
  SELECT channel_id, count(*) FILTER (WHERE status = 'pending') AS pending,
         min(first_change_at) FILTER (WHERE status = 'pending') AS oldest_change,
         count(*) FILTER (WHERE status = 'dead') AS dead,
         sum(attempts) AS failed_attempts
    FROM channel_sync.outbox GROUP BY channel_id
), ev AS (
  SELECT channel_id, count(*) AS events,
         sum(duplicates) + count(*) FILTER (WHERE status = 'duplicate') AS duplicates,
         count(*) FILTER (WHERE status = 'conflict') AS conflicts,
         count(*) FILTER (WHERE status = 'rejected') AS rejected
    FROM channel_sync.events
   WHERE received_at > pg_catalog.now() - interval '24 hours' AND received_at <= pg_catalog.now()
   GROUP BY channel_id
), ord AS (
  SELECT channel_id, count(*) AS orders,
         count(*) FILTER (WHERE state = 'cancelled' AND oversold) AS mismatch_cancelled
    FROM channel_sync.orders
   WHERE placed_at > pg_catalog.now() - interval '24 hours' AND placed_at <= pg_catalog.now()
   GROUP BY channel_id
), m AS (
  SELECT c.channel_id,
         coalesce(par.listings, 0) AS listings,
         pg_catalog.round(100.0 * par.in_sync / nullif(par.listings, 0), 2) AS in_sync_pct,
         coalesce(par.oversell_risk, 0) AS oversell_risk,
         pg_catalog.make_interval(secs => pg_catalog.round(lags.q[1]::numeric, 3)) AS lag_p50,
         pg_catalog.make_interval(secs => pg_catalog.round(lags.q[2]::numeric, 3)) AS lag_p95,
         pg_catalog.make_interval(secs => pg_catalog.round(lags.q[3]::numeric, 3)) AS lag_p99,
         pg_catalog.make_interval(secs => pg_catalog.round(lags.price_p95::numeric, 3)) AS price_lag_p95,
         coalesce(box.pending, 0) AS pending,
         pg_catalog.now() - box.oldest_change AS oldest_pending,
         coalesce(box.dead, 0) AS dead,
         pg_catalog.round(100.0 * lags.acked / nullif(coalesce(lags.attempts, 0) + coalesce(box.failed_attempts, 0), 0), 2) AS handoff_success_pct,
         pg_catalog.round(100.0 * ev.duplicates / nullif(ev.events + ev.duplicates, 0), 2) AS duplicate_pct,
         coalesce(ev.conflicts, 0) AS conflicts,
         coalesce(ev.rejected, 0) AS rejected,
         pg_catalog.round(100.0 * ord.mismatch_cancelled / nullif(ord.orders, 0), 2) AS stock_mismatch_cancel_pct,
         pg_catalog.round(100.0 * par.abs_delta / nullif(par.source_units, 0), 3) AS reconciliation_variance_pct
    FROM channel_sync.channels c
    LEFT JOIN par ON par.channel_id = c.channel_id
    LEFT JOIN lags ON lags.channel_id = c.channel_id
    LEFT JOIN box ON box.channel_id = c.channel_id
    LEFT JOIN ev ON ev.channel_id = c.channel_id
    LEFT JOIN ord ON ord.channel_id = c.channel_id
), b AS (
  SELECT m.*,
         channel_sync._band(pg_catalog.date_part('epoch', m.lag_p95)::numeric / 60, t1.better, t1.healthy_limit, t1.watch_limit) AS lag_band,
         channel_sync._band(pg_catalog.date_part('epoch', m.price_lag_p95)::numeric / 60, t2.better, t2.healthy_limit, t2.watch_limit) AS price_lag_band,
         channel_sync._band(m.handoff_success_pct, t3.better, t3.healthy_limit, t3.watch_limit) AS handoff_band,
         channel_sync._band(m.reconciliation_variance_pct, t4.better, t4.healthy_limit, t4.watch_limit) AS variance_band,
         channel_sync._band(m.stock_mismatch_cancel_pct, t5.better, t5.healthy_limit, t5.watch_limit) AS cancel_band
    FROM m
    LEFT JOIN channel_sync.health_thresholds t1 ON t1.metric = 'inventory_sync_p95_lag'
    LEFT JOIN channel_sync.health_thresholds t2 ON t2.metric = 'price_propagation_p95_lag'
    LEFT JOIN channel_sync.health_thresholds t3 ON t3.metric = 'order_handoff_success'
    LEFT JOIN channel_sync.health_thresholds t4 ON t4.metric = 'reconciliation_variance'
    LEFT JOIN channel_sync.health_thresholds t5 ON t5.metric = 'stock_mismatch_cancellations'
)
SELECT b.channel_id, b.listings, b.in_sync_pct, b.oversell_risk, b.lag_p50, b.lag_p95, b.lag_p99,
       b.price_lag_p95, b.pending, b.oldest_pending, b.dead, b.handoff_success_pct, b.duplicate_pct,
       b.conflicts, b.rejected, b.stock_mismatch_cancel_pct, b.reconciliation_variance_pct,
       b.lag_band, b.price_lag_band, b.handoff_band, b.variance_band, b.cancel_band,
       CASE GREATEST(channel_sync._band_rank(b.lag_band), channel_sync._band_rank(b.price_lag_band),
                                channel_sync._band_rank(b.handoff_band), channel_sync._band_rank(b.variance_band),
                                channel_sync._band_rank(b.cancel_band))
         WHEN 3 THEN 'intervention' WHEN 2 THEN 'watch' ELSE 'healthy' END AS overall_band
  FROM b;

CREATE VIEW channel_sync.reconciliation_daily AS
WITH ev AS (
  SELECT (received_at)::date AS day, channel_id, count(*) AS events,
         count(*) FILTER (WHERE status = 'applied') AS applied,
         sum(duplicates) + count(*) FILTER (WHERE status = 'duplicate') AS duplicates,
         count(*) FILTER (WHERE status = 'conflict') AS conflicts,
         count(*) FILTER (WHERE status = 'stale') AS stale,
         count(*) FILTER (WHERE status = 'rejected') AS rejected,
         count(*) FILTER (WHERE status = 'rejected' AND detail ~* 'unknown (sku|alias|external)') AS unmatched
    FROM channel_sync.events GROUP BY 1, 2
), ord AS (
  SELECT (o.placed_at)::date AS day, o.channel_id, count(*) AS orders, coalesce(sum(l.units), 0) AS units,
         count(*) FILTER (WHERE o.oversold) AS oversold
    FROM channel_sync.orders o
    LEFT JOIN (SELECT channel_id, order_id, sum(qty) AS units FROM channel_sync.order_lines GROUP BY 1, 2) l
           ON l.channel_id = o.channel_id AND l.order_id = o.order_id
   GROUP BY 1, 2
)
SELECT day, channel_id,
       coalesce(ev.events, 0) AS events, coalesce(ev.applied, 0) AS applied,
       coalesce(ev.duplicates, 0) AS duplicates, coalesce(ev.conflicts, 0) AS conflicts,
       coalesce(ev.stale, 0) AS stale, coalesce(ev.rejected, 0) AS rejected,
       coalesce(ev.unmatched, 0) AS unmatched,
       coalesce(ord.orders, 0) AS orders, coalesce(ord.units, 0) AS units,
       coalesce(ord.oversold, 0) AS oversold_orders,
       h.listings, h.in_sync, h.oversell_risk, h.abs_delta_units, h.source_units, h.variance_pct,
       channel_sync._band(h.variance_pct, t.better, t.healthy_limit, t.watch_limit) AS variance_band
  FROM ev
  FULL JOIN ord USING (day, channel_id)
  FULL JOIN channel_sync.parity_history h USING (day, channel_id)
  LEFT JOIN channel_sync.health_thresholds t ON t.metric = 'reconciliation_variance';

CREATE VIEW channel_sync.exceptions AS
SELECT x.kind, x.severity,
       CASE x.severity WHEN 'critical' THEN 1 WHEN 'high' THEN 2 ELSE 3 END AS severity_rank,
       x.since, x.channel_id, x.sku, x.key, x.detail, x.action
  FROM (
    SELECT 'oversold_order' AS kind, 'critical' AS severity, o.placed_at AS since, o.channel_id,
           (SELECT pg_catalog.string_agg(DISTINCT ol.sold_sku, ',' ORDER BY ol.sold_sku)
              FROM channel_sync.order_lines ol
             WHERE ol.channel_id = o.channel_id AND ol.order_id = o.order_id) AS sku,
           pg_catalog.jsonb_build_object('channel_id', o.channel_id, 'order_id', o.order_id) AS key,
           pg_catalog.format('order %s is %s but the stock could not cover it when it arrived', o.order_id, o.state) AS detail,
           'Ship it from another location or cancel it and tell the buyer; then check why the channel showed more than the truth.' AS action
      FROM channel_sync.orders o
     WHERE o.oversold AND o.state IN ('placed', 'partially_shipped')
    UNION ALL
    SELECT 'negative_stock', 'critical', NULL::timestamptz, NULL, s.sku,
           pg_catalog.jsonb_build_object('sku', s.sku, 'location_id', s.location_id),
           pg_catalog.format('%s reserved but %s on hand at %s (sellable %s)', s.reserved, s.on_hand, s.location_id,
                             s.on_hand - s.reserved - s.safety_stock),
           'Count the location, then receive stock or move or cancel the reservations.'
      FROM channel_sync.stock s
     WHERE s.on_hand - s.reserved < 0
    UNION ALL
    SELECT 'propagation_gap', CASE WHEN g.message_state = 'missing' THEN 'critical'
                                   WHEN g.waiting > 4 * g.lag_target THEN 'high' ELSE 'medium' END,
           g.first_change_at, g.channel_id, g.sku,
           pg_catalog.jsonb_build_object('channel_id', g.channel_id, 'sku', g.sku, 'message_id', g.message_id),
           pg_catalog.format('change %s for %s, %s past the lag target of %s', g.message_state,
                             pg_catalog.date_trunc('second', g.waiting), pg_catalog.date_trunc('second', g.overdue_by), g.lag_target),
           CASE WHEN g.message_state = 'missing' THEN 'The change never reached the outbox: check disabled triggers and run channel_sync.verify(fix => true).'
                ELSE 'Check the connector of the channel: is it running, claiming and acknowledging?' END
      FROM channel_sync.propagation_gaps g
     WHERE g.message_state <> 'dead'
    UNION ALL
    SELECT 'dead_message', 'high', o.first_change_at, o.channel_id, o.sku,
           pg_catalog.jsonb_build_object('message_id', o.message_id),
           pg_catalog.format('gave up after %s attempts: %s', o.attempts, coalesce(o.last_error, 'no error text')),
           'Fix the cause of the connector error, then deliver the message again.'
      FROM channel_sync.outbox o
     WHERE o.status = 'dead'
    UNION ALL
    SELECT 'rejected_event', 'high', e.received_at, e.channel_id, NULL,
           pg_catalog.jsonb_build_object('event_id', e.event_id),
           pg_catalog.format('%s %s rejected: %s', e.event_type, e.idempotency_key, coalesce(e.detail, 'no reason recorded')),
           'Fix the cause (for example add the SKU alias), then replay the event.'
      FROM channel_sync.events e
     WHERE e.status = 'rejected'
    UNION ALL
    SELECT 'conflict', 'medium', e.received_at, e.channel_id, NULL,
           pg_catalog.jsonb_build_object('event_id', e.event_id, 'first_event_id', e.first_event_id),
           pg_catalog.format('%s key %s reused with different content%s', e.event_type, e.idempotency_key,
                             coalesce(': ' || e.detail, '')),
           'Compare with the first delivery of the key and fix the sender; nothing was applied.'
      FROM channel_sync.events e
     WHERE e.status = 'conflict' AND e.received_at > pg_catalog.now() - interval '7 days'
  ) x;

DO $$
DECLARE s record;
BEGIN
  FOR s IN SELECT create_sql FROM pg_temp.channel_sync_saved WHERE create_sql <> '' ORDER BY seq LOOP
    EXECUTE s.create_sql;
  END LOOP;
END
$$;
DROP TABLE pg_temp.channel_sync_saved;
