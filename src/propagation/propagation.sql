-- Propagation that cannot be skipped: C++ statement-level triggers re-target the affected
-- (channel, SKU) pairs and upsert one coalesced outbox message per changed listing in the
-- same transaction, NOTIFY channel_sync once per channel; connectors claim, ack and fail.

-- After a restore the triggers recompute every listing from the restored truth (listings
-- and the outbox are derived state and are not dumped); the delivery history is kept.
SELECT pg_catalog.pg_extension_config_dump('channel_sync.propagation_log_log_id_seq', '');

CREATE FUNCTION channel_sync._retarget_on_change() RETURNS trigger
  LANGUAGE c SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', '_retarget_on_change';
COMMENT ON FUNCTION channel_sync._retarget_on_change() IS 'Internal trigger (C++): re-targets the SKUs a statement on a source-of-truth table may have changed (bundles of a changed component too; all SKUs for channel-wide changes).';

CREATE FUNCTION channel_sync._enqueue_listing_changes() RETURNS trigger
  LANGUAGE c SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', '_enqueue_listing_changes';
COMMENT ON FUNCTION channel_sync._enqueue_listing_changes() IS 'Internal trigger (C++): upserts the one outbox message per listing whose target_version moved and NOTIFYs channel_sync once per channel.';

CREATE FUNCTION channel_sync._refuse_truncate() RETURNS trigger
  LANGUAGE c AS 'MODULE_PATHNAME', '_refuse_truncate';
COMMENT ON FUNCTION channel_sync._refuse_truncate() IS 'Internal trigger (C++): refuses TRUNCATE of a table whose changes must be propagated.';

CREATE FUNCTION channel_sync._retry_backoff(attempts integer) RETURNS interval
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', '_retry_backoff';
COMMENT ON FUNCTION channel_sync._retry_backoff(integer) IS 'Internal: default retry delay after n failed attempts: 1 s × 2^(n−1), at most 1 hour.';

CREATE FUNCTION channel_sync._verify_targets()
  RETURNS TABLE(check_name text, channel_id text, sku text, expected text, found text)
  LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', '_verify_targets';
COMMENT ON FUNCTION channel_sync._verify_targets() IS 'Internal (C++): recomputes every target in one pass and reports target_drift and message_missing findings.';

-- The triggers: one per table and event (transition tables allow one event per trigger),
-- ENABLE ALWAYS so they fire under session_replication_role = replica too.
DO $$
DECLARE
  t text;
  ev text;
  ref text;
BEGIN
  FOREACH t IN ARRAY ARRAY['stock', 'skus', 'channel_prices', 'bundle_components', 'allocation_rules',
                           'channel_locations', 'channels', 'locations'] LOOP
    FOREACH ev IN ARRAY ARRAY['insert', 'update', 'delete'] LOOP
      ref := CASE ev WHEN 'insert' THEN 'NEW TABLE AS new_rows'
                     WHEN 'update' THEN 'OLD TABLE AS old_rows NEW TABLE AS new_rows'
                     ELSE 'OLD TABLE AS old_rows' END;
      EXECUTE pg_catalog.format(
        'CREATE TRIGGER %I AFTER %s ON channel_sync.%I REFERENCING %s FOR EACH STATEMENT '
        'EXECUTE FUNCTION channel_sync._retarget_on_change()', 'retarget_on_' || ev, ev, t, ref);
      EXECUTE pg_catalog.format('ALTER TABLE channel_sync.%I ENABLE ALWAYS TRIGGER %I', t, 'retarget_on_' || ev);
    END LOOP;
  END LOOP;
  FOREACH t IN ARRAY ARRAY['stock', 'channel_prices', 'bundle_components', 'allocation_rules',
                           'channel_locations', 'listings'] LOOP
    EXECUTE pg_catalog.format(
      'CREATE TRIGGER refuse_truncate BEFORE TRUNCATE ON channel_sync.%I FOR EACH STATEMENT '
      'EXECUTE FUNCTION channel_sync._refuse_truncate()', t);
    EXECUTE pg_catalog.format('ALTER TABLE channel_sync.%I ENABLE ALWAYS TRIGGER refuse_truncate', t);
  END LOOP;
END
$$;

CREATE TRIGGER enqueue_on_insert AFTER INSERT ON channel_sync.listings
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION channel_sync._enqueue_listing_changes();
CREATE TRIGGER enqueue_on_update AFTER UPDATE ON channel_sync.listings
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION channel_sync._enqueue_listing_changes();
ALTER TABLE channel_sync.listings ENABLE ALWAYS TRIGGER enqueue_on_insert;
ALTER TABLE channel_sync.listings ENABLE ALWAYS TRIGGER enqueue_on_update;

-- claim: lease up to max_messages ready messages of a channel (SKIP LOCKED, oldest change first).
CREATE FUNCTION channel_sync.claim(channel_id text, max_messages integer DEFAULT 100,
                                   lease interval DEFAULT '30 seconds')
  RETURNS TABLE(message_id bigint, sku text, external_id text, qty integer, price numeric,
                version bigint, attempts integer)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  p_channel text := claim.channel_id;
BEGIN
  PERFORM channel_sync._assert_channel_access(p_channel);
  IF max_messages IS NULL OR max_messages < 1 OR max_messages > 10000 THEN
    RAISE EXCEPTION 'max_messages must be between 1 and 10000, not %', coalesce(max_messages::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF lease IS NULL OR lease <= '0'::interval THEN
    RAISE EXCEPTION 'lease must be a positive interval, not %', coalesce(lease::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN QUERY
  WITH ready AS (
    SELECT o.message_id FROM channel_sync.outbox o
     WHERE o.channel_id = p_channel AND o.status = 'pending'
       AND o.next_attempt_at <= pg_catalog.clock_timestamp()
       AND (o.leased_until IS NULL OR o.leased_until <= pg_catalog.clock_timestamp())
     ORDER BY o.first_change_at, o.message_id
     LIMIT max_messages
       FOR UPDATE SKIP LOCKED),
  claimed AS (
    UPDATE channel_sync.outbox o
       SET leased_until = pg_catalog.clock_timestamp() + lease,
           claimed_version = o.version, claimed_qty = o.qty, claimed_price = o.price,
           changed_after_claim_at = NULL
      FROM ready WHERE o.message_id = ready.message_id
    RETURNING o.message_id, o.sku, o.qty, o.price, o.version, o.attempts, o.first_change_at)
  SELECT c.message_id, c.sku, a.external_id, c.qty, c.price::numeric, c.version, c.attempts
    FROM claimed c
    LEFT JOIN channel_sync.sku_aliases a ON a.channel_id = p_channel AND a.sku = c.sku
   ORDER BY c.first_change_at, c.message_id;
END
$$;
COMMENT ON FUNCTION channel_sync.claim(text, integer, interval) IS 'Connector: leases up to max_messages ready messages of the channel (FOR UPDATE SKIP LOCKED; expired leases are claimable again; retries wait for next_attempt_at). external_id is the channel''s alias of the SKU, NULL without one.';

-- The message's channel, or an error when there is no such message (locks nothing).
CREATE FUNCTION channel_sync._message_channel(p_message_id bigint) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  ch text;
BEGIN
  IF p_message_id IS NULL THEN
    RAISE EXCEPTION 'message_id must not be null' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  SELECT o.channel_id INTO ch FROM channel_sync.outbox o WHERE o.message_id = p_message_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'outbox message % does not exist', p_message_id
      USING ERRCODE = 'no_data_found',
            DETAIL = 'It was acknowledged already, or its channel or SKU was deleted.';
  END IF;
  RETURN ch;
END
$$;
COMMENT ON FUNCTION channel_sync._message_channel(bigint) IS 'Internal: the channel of an outbox message; no_data_found if it does not exist.';

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

-- requeue_dead: every dead message of the channel becomes pending again, attempts reset.
CREATE FUNCTION channel_sync.requeue_dead(channel_id text) RETURNS integer
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
COMMENT ON FUNCTION channel_sync.requeue_dead(text) IS 'Connector/admin: makes every dead message of the channel pending again (attempts reset, first_change_at kept) and notifies; returns how many.';

-- verify: drift between the truth and listings/outbox, and disabled propagation triggers.
CREATE FUNCTION channel_sync.verify(fix boolean DEFAULT false)
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
COMMENT ON FUNCTION channel_sync.verify(boolean) IS 'Admin: recomputes every target from the truth in one C++ pass and reports target_drift (listing differs from the truth), message_missing (an unacknowledged version with no message) and trigger_disabled. With fix => true it re-enables the triggers, rewrites drifted listings and enqueues their messages.';

-- Enqueues a message for every listing version not acknowledged and not in the outbox.
CREATE FUNCTION channel_sync._enqueue_unacked() RETURNS SETOF text
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
  INSERT INTO channel_sync.outbox AS o (channel_id, sku, qty, price, version, first_change_at)
  SELECT l.channel_id, l.sku, l.target_qty, l.target_price, l.target_version, l.target_since
    FROM channel_sync.listings l
    LEFT JOIN channel_sync.outbox x ON x.channel_id = l.channel_id AND x.sku = l.sku
   WHERE (l.acked_version IS NULL OR l.acked_version < l.target_version)
     AND (x.message_id IS NULL OR x.version < l.target_version)
  ON CONFLICT (channel_id, sku) DO UPDATE
     SET qty = excluded.qty, price = excluded.price, version = excluded.version, status = 'pending',
         attempts = CASE WHEN o.status = 'dead' THEN 0 ELSE o.attempts END,
         next_attempt_at = CASE WHEN o.status = 'dead' THEN '-infinity' ELSE o.next_attempt_at END
   WHERE excluded.version > o.version
  RETURNING o.channel_id
$$;
COMMENT ON FUNCTION channel_sync._enqueue_unacked() IS 'Internal (verify fix): enqueues every unacknowledged listing version that has no message; returns the channels.';
