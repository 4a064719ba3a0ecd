-- since: 0.4.0
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
