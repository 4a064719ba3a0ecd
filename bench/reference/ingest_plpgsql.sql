-- Reference for bench/ingest: what a team would write instead of channel_sync.ingest() —
-- the same semantics for order_placed in PL/pgSQL (idempotency key, fingerprint,
-- duplicate/conflict, payload validation, SKU/alias resolution, bundles, location
-- choice, oversold flag, reservation, order and lines), over the same tables and
-- triggers. Other event types are out of the benchmark's scope and are rejected here.
-- Its fingerprint is over the payload as jsonb prints it: unlike channel_sync's, 19.90 and 19.9
-- differ (the benchmark's payloads hold integers only, so that costs neither side anything).
CREATE SCHEMA IF NOT EXISTS channel_sync_ref;

CREATE OR REPLACE FUNCTION channel_sync_ref.ingest(p_channel text, p_key text, p_type text, p_payload jsonb,
                                                   p_occurred_at timestamptz DEFAULT now())
RETURNS channel_sync.ingest_result
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  fp uuid;
  new_id bigint;
  owner record;
  reason text;
  line jsonb;
  n int := 0;
  item_sku text;
  item_kind text;
  feeding text[];
  demand jsonb := '[]';
  oversold boolean := false;
  d record;
  best text;
  free_units bigint;
BEGIN
  PERFORM channel_sync._assert_channel_access(p_channel);
  IF p_key IS NULL THEN
    RAISE EXCEPTION 'idempotency_key must not be null' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  fp := md5(p_type || chr(1) || p_payload::text || chr(1) || p_occurred_at::text)::uuid;
  IF p_type IS DISTINCT FROM 'order_placed' THEN
    reason := format('unknown event_type "%s"', p_type);
  ELSIF jsonb_typeof(p_payload) <> 'object' THEN
    reason := 'payload must be a JSON object';
  ELSIF jsonb_typeof(p_payload -> 'order_id') NOT IN ('string', 'number') THEN
    reason := '"order_id" is missing';
  ELSIF jsonb_typeof(p_payload -> 'lines') IS DISTINCT FROM 'array' OR jsonb_array_length(p_payload -> 'lines') = 0 THEN
    reason := '"lines" must be a non-empty array';
  END IF;
  INSERT INTO channel_sync.events AS e (channel_id, idempotency_key, event_type, payload, occurred_at, fingerprint, status, detail)
  VALUES (p_channel, p_key, p_type, p_payload, p_occurred_at, fp, CASE WHEN reason IS NULL THEN 'applied' ELSE 'rejected' END, reason)
  ON CONFLICT (channel_id, idempotency_key) WHERE first_event_id IS NULL DO NOTHING
  RETURNING e.event_id INTO new_id;
  IF new_id IS NULL THEN
    UPDATE channel_sync.events e SET duplicates = e.duplicates + 1
     WHERE e.channel_id = p_channel AND e.idempotency_key = p_key AND e.first_event_id IS NULL AND e.fingerprint = fp
     RETURNING e.event_id, e.status INTO owner;
    IF FOUND THEN
      RETURN (owner.event_id, 'duplicate', 'first delivery was ' || owner.status)::channel_sync.ingest_result;
    END IF;
    SELECT e.event_id, e.fingerprint INTO owner FROM channel_sync.events e
     WHERE e.channel_id = p_channel AND e.idempotency_key = p_key AND e.first_event_id IS NULL;
    reason := format('idempotency key "%s" was first used by event %s with fingerprint %s; this delivery has fingerprint %s',
                     p_key, owner.event_id, owner.fingerprint, fp);
    INSERT INTO channel_sync.events (channel_id, idempotency_key, event_type, payload, occurred_at, fingerprint, status, detail, first_event_id)
    VALUES (p_channel, p_key, p_type, p_payload, p_occurred_at, fp, 'conflict', reason, owner.event_id) RETURNING event_id INTO new_id;
    RETURN (new_id, 'conflict', reason)::channel_sync.ingest_result;
  END IF;
  IF reason IS NOT NULL THEN
    RETURN (new_id, 'rejected', reason)::channel_sync.ingest_result;
  END IF;

  SELECT array_agg(l.location_id ORDER BY l.location_id) INTO feeding FROM channel_sync.locations l
   WHERE l.active AND (EXISTS (SELECT 1 FROM channel_sync.channel_locations cl WHERE cl.channel_id = p_channel AND cl.location_id = l.location_id)
                       OR NOT EXISTS (SELECT 1 FROM channel_sync.channel_locations cl WHERE cl.channel_id = p_channel));
  FOR line IN SELECT * FROM jsonb_array_elements(p_payload -> 'lines') LOOP
    n := n + 1;
    IF jsonb_typeof(line -> 'qty') IS DISTINCT FROM 'number' OR (line ->> 'qty')::numeric <> trunc((line ->> 'qty')::numeric)
       OR (line ->> 'qty')::numeric <= 0 THEN
      reason := format('line %s: "qty" must be a positive integer', n);
      EXIT;
    END IF;
    IF line ? 'sku' THEN
      SELECT s.sku, s.kind INTO item_sku, item_kind FROM channel_sync.skus s WHERE s.sku = line ->> 'sku';
    ELSE
      SELECT s.sku, s.kind INTO item_sku, item_kind FROM channel_sync.sku_aliases a JOIN channel_sync.skus s ON s.sku = a.sku
       WHERE a.channel_id = p_channel AND a.external_id = line ->> 'external_id';
    END IF;
    IF NOT FOUND THEN
      reason := format('line %s: unknown sku', n);
      EXIT;
    END IF;
    IF item_kind = 'bundle' THEN
      demand := demand || (SELECT jsonb_agg(jsonb_build_object('sku', b.component_sku, 'sold', item_sku, 'per', b.qty_per,
                                                               'units', b.qty_per * (line ->> 'qty')::int, 'loc', line ->> 'location_id'))
                             FROM channel_sync.bundle_components b WHERE b.bundle_sku = item_sku);
    ELSE
      demand := demand || jsonb_build_array(jsonb_build_object('sku', item_sku, 'sold', item_sku, 'per', 1,
                                                               'units', (line ->> 'qty')::int, 'loc', line ->> 'location_id'));
    END IF;
  END LOOP;
  IF reason IS NOT NULL THEN
    UPDATE channel_sync.events SET status = 'rejected', detail = reason WHERE event_id = new_id;
    RETURN (new_id, 'rejected', reason)::channel_sync.ingest_result;
  END IF;

  CREATE TEMP TABLE IF NOT EXISTS ref_demand (sku text, sold text, per int, units int, loc text) ON COMMIT DELETE ROWS;
  DELETE FROM ref_demand;
  INSERT INTO ref_demand SELECT x.sku, x.sold, x.per, x.units, x.loc FROM jsonb_to_recordset(demand) AS x(sku text, sold text, per int, units int, loc text);
  PERFORM 1 FROM channel_sync.stock s WHERE s.sku IN (SELECT sku FROM ref_demand) AND s.location_id = ANY (feeding)
   ORDER BY s.sku, s.location_id FOR UPDATE;
  FOR d IN SELECT DISTINCT sku FROM ref_demand ORDER BY sku LOOP
    SELECT f.loc INTO best FROM unnest(feeding) AS f(loc)
      LEFT JOIN channel_sync.stock s ON s.sku = d.sku AND s.location_id = f.loc
     ORDER BY coalesce(s.on_hand - s.reserved - s.safety_stock, 0) DESC, f.loc LIMIT 1;
    UPDATE ref_demand SET loc = best WHERE sku = d.sku AND loc IS NULL;
  END LOOP;
  FOR d IN SELECT r.sku, r.loc, sum(r.units) AS units FROM ref_demand r GROUP BY r.sku, r.loc LOOP
    SELECT s.on_hand - s.reserved INTO free_units FROM channel_sync.stock s WHERE s.sku = d.sku AND s.location_id = d.loc;
    IF d.units > coalesce(free_units, 0) THEN oversold := true; END IF;
  END LOOP;
  INSERT INTO channel_sync.orders (channel_id, order_id, state, oversold, placed_at, updated_at, event_id)
  VALUES (p_channel, p_payload ->> 'order_id', 'placed', oversold, p_occurred_at, p_occurred_at, new_id)
  ON CONFLICT DO NOTHING;
  IF NOT FOUND THEN
    reason := format('invalid transition for order "%s": %s -> placed', p_payload ->> 'order_id',
                     (SELECT o.state FROM channel_sync.orders o WHERE o.channel_id = p_channel AND o.order_id = p_payload ->> 'order_id'));
    UPDATE channel_sync.events SET status = 'rejected', detail = reason WHERE event_id = new_id;
    RETURN (new_id, 'rejected', reason)::channel_sync.ingest_result;
  END IF;
  INSERT INTO channel_sync.stock AS s (sku, location_id, reserved)
  SELECT r.sku, r.loc, sum(r.units) FROM ref_demand r GROUP BY r.sku, r.loc
  ON CONFLICT (sku, location_id) DO UPDATE SET reserved = s.reserved + excluded.reserved;
  INSERT INTO channel_sync.order_lines (channel_id, order_id, line_no, sku, location_id, qty, sold_sku, units_per_sold, placed_at)
  SELECT p_channel, p_payload ->> 'order_id', row_number() OVER (), r.sku, r.loc, sum(r.units), r.sold, r.per, p_occurred_at
    FROM ref_demand r GROUP BY r.sku, r.loc, r.sold, r.per;
  RETURN (new_id, 'applied', CASE WHEN oversold THEN 'oversold' END)::channel_sync.ingest_result;
END
$$;
