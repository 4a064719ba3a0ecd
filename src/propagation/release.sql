-- since: 0.4.0
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
