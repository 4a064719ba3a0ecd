-- Who may do what. Runs last in the install script, over every object the areas created.
--   channel_sync_admin     configures channels, rules, thresholds; writes base tables; runs maintenance
--   channel_sync_connector claims, acks, fails and ingests, through the functions only, for its own channels
--   channel_sync_reader    selects the views and calls the read-only functions
-- Nobody else gets anything: PUBLIC's default EXECUTE on functions is revoked.

REVOKE ALL ON SCHEMA channel_sync FROM PUBLIC;
GRANT USAGE ON SCHEMA channel_sync TO channel_sync_admin, channel_sync_connector, channel_sync_reader;

REVOKE ALL ON ALL TABLES IN SCHEMA channel_sync FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA channel_sync FROM PUBLIC;
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA channel_sync FROM PUBLIC;

-- admin: every table and function
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA channel_sync TO channel_sync_admin;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA channel_sync TO channel_sync_admin;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA channel_sync TO channel_sync_admin;

-- reader: the analyst's views and read-only functions (available_to_sell and explain_allocation
-- are SECURITY DEFINER: they read the truth for the caller, who has no base-table access)
GRANT SELECT ON channel_sync.parity, channel_sync.channel_health, channel_sync.propagation_gaps,
                channel_sync.reconciliation_daily, channel_sync.exceptions, channel_sync.health_thresholds,
                channel_sync.parity_history
  TO channel_sync_reader;
GRANT EXECUTE ON FUNCTION
  channel_sync.available_to_sell(text, text),
  channel_sync.explain_allocation(text)
  TO channel_sync_reader;
GRANT EXECUTE ON FUNCTION
  channel_sync.allocate(integer[], channel_sync.alloc_rule[]),
  channel_sync.quantile(channel_sync.lag_sketch, double precision),
  channel_sync.quantiles(channel_sync.lag_sketch, double precision[]),
  channel_sync.sketch_count(channel_sync.lag_sketch),
  channel_sync.lag_sketch(interval),
  channel_sync.lag_sketch(double precision),
  channel_sync.lag_sketch(channel_sync.lag_sketch)
  TO channel_sync_reader, channel_sync_connector;

-- connector: the connector API; each function checks the caller's channel itself
GRANT EXECUTE ON FUNCTION
  channel_sync.claim(text, integer, interval),
  channel_sync.ack(bigint, integer, bigint),
  channel_sync.fail(bigint, text, interval, bigint),
  channel_sync.ingest(text, text, text, jsonb, timestamptz),
  channel_sync.ingest_batch(text, jsonb),
  channel_sync.replay(bigint),
  channel_sync.requeue_dead(text)
  TO channel_sync_connector;

-- connectors may read their own channels' messages, events, orders and listings, nothing else
-- SECURITY DEFINER: the policy runs as the querying connector, which may not read channels.
CREATE FUNCTION channel_sync._may_act_for(p_channel_id text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT EXISTS (
    SELECT 1 FROM channel_sync.channels c JOIN pg_catalog.pg_roles r ON r.rolname = c.connector_role
     WHERE c.channel_id = p_channel_id AND pg_catalog.pg_has_role(channel_sync._outer_user(), r.oid, 'MEMBER'))
$$;
COMMENT ON FUNCTION channel_sync._may_act_for(text) IS 'Internal: true when the calling role is a member of the channel''s connector_role (row-level security).';
GRANT EXECUTE ON FUNCTION channel_sync._may_act_for(text), channel_sync._outer_user() TO channel_sync_connector;

DO $rls$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['outbox', 'events', 'orders', 'order_lines', 'listings', 'propagation_log'] LOOP
    EXECUTE pg_catalog.format('ALTER TABLE channel_sync.%I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE pg_catalog.format('GRANT SELECT ON channel_sync.%I TO channel_sync_connector', t);
    EXECUTE pg_catalog.format(
      'CREATE POLICY own_channel ON channel_sync.%I FOR SELECT TO channel_sync_connector '
      'USING (channel_sync._may_act_for(channel_id))', t);
    EXECUTE pg_catalog.format(
      'CREATE POLICY admin_all ON channel_sync.%I TO channel_sync_admin USING (true) WITH CHECK (true)', t);
  END LOOP;
END
$rls$;
