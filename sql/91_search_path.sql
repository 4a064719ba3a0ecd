-- search_path hardening: look-alike functions, operators, aggregates and tables planted in
-- public and in a schema placed before pg_catalog on the caller's search_path raise
-- 'hijacked: ...' if anything resolves to them. The whole API runs under that path; none runs.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS channel_sync CASCADE;
DROP SCHEMA IF EXISTS evil CASCADE;
CREATE EXTENSION channel_sync;
RESET client_min_messages;
\set SHOW_CONTEXT never
\set VERBOSITY terse

INSERT INTO channel_sync.channels (channel_id, kind, max_attempts) VALUES ('shop', 'storefront', 8), ('amazon', 'marketplace', 1);
INSERT INTO channel_sync.locations VALUES ('wh1', 'warehouse', true), ('wh2', 'warehouse', true);
-- one SKU a statement: their messages are numbered in this order (a statement's re-target
-- writes its SKUs in byte order)
INSERT INTO channel_sync.skus (sku, base_price) VALUES ('TEE', 20);
INSERT INTO channel_sync.skus (sku, base_price) VALUES ('CAP', 10);
INSERT INTO channel_sync.skus (sku, base_price) VALUES ('MUG', 5);
INSERT INTO channel_sync.skus (sku, kind, base_price) VALUES ('KIT', 'bundle', 25);
INSERT INTO channel_sync.bundle_components VALUES ('KIT', 'TEE', 1), ('KIT', 'CAP', 1);
INSERT INTO channel_sync.sku_aliases VALUES ('amazon', 'B0TEE', 'TEE');
INSERT INTO channel_sync.stock (sku, location_id, on_hand) VALUES ('TEE', 'wh1', 10), ('CAP', 'wh1', 10), ('MUG', 'wh1', 5), ('MUG', 'wh2', 5);
INSERT INTO channel_sync.allocation_rules (channel_id, buffer, reserve_pct, cap, dynamic_buffer) VALUES ('amazon', 1, 10, 50, true);

-- the traps
CREATE SCHEMA evil;
CREATE FUNCTION public.trap(what text) RETURNS boolean LANGUAGE plpgsql STABLE AS $$
BEGIN
  RAISE EXCEPTION 'hijacked: %', what;
END
$$;
DO $plant$
DECLARE
  s text;
  f text;
BEGIN
  FOREACH s IN ARRAY ARRAY['evil', 'public'] LOOP
    -- functions with the signatures channel_sync calls
    FOREACH f IN ARRAY ARRAY[
      'now() RETURNS timestamptz', 'clock_timestamp() RETURNS timestamptz', 'lower(text) RETURNS text',
      'upper(text) RETURNS text', 'length(text) RETURNS integer', 'jsonb_typeof(jsonb) RETURNS text',
      'jsonb_array_length(jsonb) RETURNS integer', 'jsonb_build_object(VARIADIC text[]) RETURNS jsonb',
      'format(text) RETURNS text', 'format(text, VARIADIC text[]) RETURNS text',
      'pg_notify(text, text) RETURNS void', 'pg_has_role(oid, name, text) RETURNS boolean',
      'pg_advisory_xact_lock(bigint) RETURNS void', 'pg_advisory_xact_lock(integer, integer) RETURNS void',
      'quote_ident(text) RETURNS text',
      'md5(text) RETURNS text', 'ceil(double precision) RETURNS double precision',
      'floor(numeric) RETURNS numeric', 'round(numeric) RETURNS numeric',
      'date_part(text, interval) RETURNS double precision', 'to_jsonb(anyelement) RETURNS jsonb',
      'array_length(anyarray, integer) RETURNS integer',
      'int4(numeric) RETURNS integer', 'text(integer) RETURNS text',
      'lag_sketch(double precision) RETURNS double precision', '_outer_user() RETURNS oid',
      '_assert_channel_access(text) RETURNS void', 'available_to_sell(text, text) RETURNS integer'] LOOP
      EXECUTE pg_catalog.format(
        'CREATE FUNCTION %I.%s LANGUAGE plpgsql AS $f$ BEGIN PERFORM public.trap(%L); END $f$',
        s, f, s || '.' || pg_catalog.split_part(f, ' RETURNS', 1));
    END LOOP;
    -- operators on the types channel_sync compares
    EXECUTE pg_catalog.format($o$
      CREATE FUNCTION %1$I.op_text(text, text) RETURNS boolean LANGUAGE plpgsql AS $f$ BEGIN RETURN public.trap('%1$s.= (text, text)'); END $f$;
      CREATE FUNCTION %1$I.op_int(integer, integer) RETURNS boolean LANGUAGE plpgsql AS $f$ BEGIN RETURN public.trap('%1$s.op (integer, integer)'); END $f$;
      CREATE FUNCTION %1$I.op_bigint(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS $f$ BEGIN RETURN public.trap('%1$s.op (bigint, bigint)'); END $f$;
      CREATE FUNCTION %1$I.op_ts(timestamptz, timestamptz) RETURNS boolean LANGUAGE plpgsql AS $f$ BEGIN RETURN public.trap('%1$s.op (timestamptz, timestamptz)'); END $f$;
      CREATE FUNCTION %1$I.op_num(numeric, numeric) RETURNS boolean LANGUAGE plpgsql AS $f$ BEGIN RETURN public.trap('%1$s.op (numeric, numeric)'); END $f$;
      CREATE FUNCTION %1$I.op_jsonb(jsonb, text) RETURNS text LANGUAGE plpgsql AS $f$ BEGIN PERFORM public.trap('%1$s.->> (jsonb, text)'); RETURN NULL; END $f$;
      CREATE FUNCTION %1$I.op_plus(integer, integer) RETURNS integer LANGUAGE plpgsql AS $f$ BEGIN PERFORM public.trap('%1$s.+- (integer, integer)'); RETURN NULL; END $f$;
      CREATE FUNCTION %1$I.op_cat(text, text) RETURNS text LANGUAGE plpgsql AS $f$ BEGIN PERFORM public.trap('%1$s.|| (text, text)'); RETURN NULL; END $f$;
      CREATE FUNCTION %1$I.op_tsplus(timestamptz, interval) RETURNS timestamptz LANGUAGE plpgsql AS $f$ BEGIN PERFORM public.trap('%1$s.+ (timestamptz, interval)'); RETURN NULL; END $f$;
      CREATE OPERATOR %1$I.= (LEFTARG = text, RIGHTARG = text, FUNCTION = %1$I.op_text);
      CREATE OPERATOR %1$I.<> (LEFTARG = text, RIGHTARG = text, FUNCTION = %1$I.op_text);
      CREATE OPERATOR %1$I.~ (LEFTARG = text, RIGHTARG = text, FUNCTION = %1$I.op_text);
      CREATE OPERATOR %1$I.= (LEFTARG = integer, RIGHTARG = integer, FUNCTION = %1$I.op_int);
      CREATE OPERATOR %1$I.< (LEFTARG = integer, RIGHTARG = integer, FUNCTION = %1$I.op_int);
      CREATE OPERATOR %1$I.> (LEFTARG = integer, RIGHTARG = integer, FUNCTION = %1$I.op_int);
      CREATE OPERATOR %1$I.>= (LEFTARG = integer, RIGHTARG = integer, FUNCTION = %1$I.op_int);
      CREATE OPERATOR %1$I.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = %1$I.op_bigint);
      CREATE OPERATOR %1$I.< (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = %1$I.op_bigint);
      CREATE OPERATOR %1$I.> (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = %1$I.op_bigint);
      CREATE OPERATOR %1$I.<= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = %1$I.op_bigint);
      CREATE OPERATOR %1$I.<= (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = %1$I.op_ts);
      CREATE OPERATOR %1$I.< (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = %1$I.op_ts);
      CREATE OPERATOR %1$I.> (LEFTARG = numeric, RIGHTARG = numeric, FUNCTION = %1$I.op_num);
      CREATE OPERATOR %1$I.->> (LEFTARG = jsonb, RIGHTARG = text, FUNCTION = %1$I.op_jsonb);
      CREATE OPERATOR %1$I.+ (LEFTARG = integer, RIGHTARG = integer, FUNCTION = %1$I.op_plus);
      CREATE OPERATOR %1$I.- (LEFTARG = integer, RIGHTARG = integer, FUNCTION = %1$I.op_plus);
      CREATE OPERATOR %1$I.|| (LEFTARG = text, RIGHTARG = text, FUNCTION = %1$I.op_cat);
      CREATE OPERATOR %1$I.+ (LEFTARG = timestamptz, RIGHTARG = interval, FUNCTION = %1$I.op_tsplus);
      -- aggregates
      CREATE FUNCTION %1$I.agg_step(bigint, integer) RETURNS bigint LANGUAGE plpgsql AS $f$ BEGIN PERFORM public.trap('%1$s.sum(integer)'); RETURN NULL; END $f$;
      CREATE AGGREGATE %1$I.sum(integer) (SFUNC = %1$I.agg_step, STYPE = bigint);
      CREATE FUNCTION %1$I.agg_step_t(text, text) RETURNS text LANGUAGE plpgsql AS $f$ BEGIN PERFORM public.trap('%1$s.max(text)'); RETURN NULL; END $f$;
      CREATE AGGREGATE %1$I.max(text) (SFUNC = %1$I.agg_step_t, STYPE = text);
      -- tables with the extension's names
      CREATE VIEW %1$I.channels AS SELECT * FROM channel_sync.channels WHERE public.trap('%1$s.channels');
      CREATE VIEW %1$I.stock AS SELECT * FROM channel_sync.stock WHERE public.trap('%1$s.stock');
      CREATE VIEW %1$I.outbox AS SELECT * FROM channel_sync.outbox WHERE public.trap('%1$s.outbox');
      CREATE VIEW %1$I.listings AS SELECT * FROM channel_sync.listings WHERE public.trap('%1$s.listings');
      CREATE VIEW %1$I.events AS SELECT * FROM channel_sync.events WHERE public.trap('%1$s.events');
    $o$, s);
  END LOOP;
END
$plant$;

-- the traps are live: the caller's own unqualified calls hit them
SET search_path = evil, pg_catalog, public;
SELECT now();
SELECT 'a' = 'a'::text;
SELECT 1 = 1;
SELECT lower('X');
SELECT * FROM stock;
SET search_path = evil, public;
SELECT * FROM outbox;
-- (pg_catalog is searched first when not listed: these are the real ones; a look-alike
-- with a better-matching argument type would still win, hence the pinned paths)
SELECT now() IS NOT NULL AS real_now, 'a' = 'a'::text AS real_eq, jsonb_typeof('1');
SELECT format('%s', 'x'::text);

-- and they would catch an unpinned trigger: without its search_path the retarget trigger
-- runs its SQL under the caller's path (a price change: the stock hot path runs no SQL)
BEGIN;
ALTER FUNCTION channel_sync._retarget_on_change() RESET search_path;
SET LOCAL search_path = evil, pg_catalog, public;
UPDATE channel_sync.skus SET base_price = base_price OPERATOR(pg_catalog.+) 1 WHERE sku OPERATOR(pg_catalog.=) 'TEE';
ROLLBACK;

-- now the whole API under the hostile path: nothing says "hijacked"
SET search_path = evil, pg_catalog, public;
SELECT status, detail FROM channel_sync.ingest('shop', 'k1', 'order_placed',
  '{"order_id": "S1", "lines": [{"sku": "TEE", "qty": 2}, {"sku": "KIT", "qty": 1}, {"sku": "MUG", "qty": 1, "location_id": "wh2"}]}', '2024-05-01 10:00+00');
SELECT status FROM channel_sync.ingest('shop', 'k1', 'order_placed',
  '{"order_id": "S1", "lines": [{"sku": "TEE", "qty": 2}, {"sku": "KIT", "qty": 1}, {"sku": "MUG", "qty": 1, "location_id": "wh2"}]}', '2024-05-01 10:00+00');
SELECT status FROM channel_sync.ingest('shop', 'k1', 'order_placed', '{"order_id": "S1", "lines": [{"sku": "TEE", "qty": 3}]}', '2024-05-01 10:00+00');
SELECT status, detail FROM channel_sync.ingest('shop', 'k2', 'order_shipped', '{"order_id": "S1", "lines": [{"sku": "KIT", "qty": 1}]}', '2024-05-01 11:00+00');
SELECT status, detail FROM channel_sync.ingest('shop', 'k3', 'order_cancelled', '{"order_id": "S1", "lines": [{"sku": "MUG", "qty": 1}]}', '2024-05-01 11:05+00');
SELECT status, detail FROM channel_sync.ingest('shop', 'k4', 'return_received', '{"order_id": "S1", "sku": "KIT", "qty": 1, "location_id": "wh1", "restock": true}', '2024-05-01 12:00+00');
SELECT status, detail FROM channel_sync.ingest('shop', 'k5', 'stock_adjusted', '{"sku": "MUG", "location_id": "wh1", "delta": 5, "reason": "purchase order 7"}', '2024-05-01 12:00+00');
SELECT status, detail FROM channel_sync.ingest('shop', 'k6', 'stock_counted', '{"sku": "MUG", "location_id": "wh1", "on_hand": 20}', '2024-05-01 13:00+00');
SELECT status, detail FROM channel_sync.ingest('shop', 'k7', 'stock_counted', '{"sku": "MUG", "location_id": "wh1", "on_hand": 1}', '2024-05-01 12:30+00');
SELECT status, detail FROM channel_sync.ingest('amazon', 'k8', 'listing_observed', '{"external_id": "B0TEE", "qty": 4, "price": 19.99}', '2024-05-01 13:00+00');
SELECT status, detail FROM channel_sync.ingest('amazon', 'k9', 'order_placed', '{"order_id": "A1", "lines": [{"external_id": "B0CAP", "qty": 1}]}', '2024-05-01 13:00+00');
SELECT status FROM channel_sync.ingest_batch('shop', '[
  {"idempotency_key": "b1", "event_type": "order_placed", "payload": {"order_id": "S2", "lines": [{"sku": "TEE", "qty": 1}]}, "occurred_at": "2024-05-01T14:00:00Z"},
  {"idempotency_key": "b2", "event_type": "order_placed", "payload": {"order_id": "S3", "lines": [{"sku": "CAP", "qty": 1}]}, "occurred_at": "2024-05-01T14:00:00Z"},
  {"idempotency_key": "b3", "event_type": "stock_adjusted", "payload": {"sku": "CAP", "location_id": "wh1", "delta": -1, "reason": "damaged"}, "occurred_at": "2024-05-01T14:00:00Z"},
  {"idempotency_key": "b4", "event_type": "bogus", "payload": {}}]');
-- the rejected event, replayed after its cause is fixed
INSERT INTO channel_sync.sku_aliases VALUES ('amazon', 'B0CAP', 'CAP');
SELECT (channel_sync.replay(e.event_id)).status FROM channel_sync.events e WHERE e.idempotency_key OPERATOR(pg_catalog.=) 'k9';
-- stock, rules and prices changed directly: triggers re-target and enqueue
UPDATE channel_sync.stock SET on_hand = 30 WHERE sku OPERATOR(pg_catalog.=) 'TEE';
INSERT INTO channel_sync.channel_prices VALUES ('amazon', 'TEE', 21.5);
UPDATE channel_sync.allocation_rules SET cap = 20;
DELETE FROM channel_sync.bundle_components WHERE component_sku OPERATOR(pg_catalog.=) 'CAP';
UPDATE channel_sync.channels SET active = false WHERE channel_id OPERATOR(pg_catalog.=) 'shop';
UPDATE channel_sync.channels SET active = true WHERE channel_id OPERATOR(pg_catalog.=) 'shop';
-- allocation
SELECT channel_sync.available_to_sell('amazon', 'TEE') AS ats_amazon_tee;
SELECT channel_id, pool, holdback, buffer, ats, limited_by FROM channel_sync.explain_allocation('TEE');
SELECT channel_sync.allocate(ARRAY[10, 10], ARRAY[ROW(1, 10, 100, NULL, 0, false, NULL, NULL)::channel_sync.alloc_rule,
                                                  ROW(0, 0, 50, 3, 0, false, NULL, NULL)::channel_sync.alloc_rule]);
SELECT channel_sync.recompute_targets() AS recomputed;
-- propagation: claim, ack, fail, ack_batch, release, dead, requeue, verify
SELECT sku, external_id, qty, price FROM channel_sync.claim('amazon', 2);
SELECT count(*) FILTER (WHERE channel_sync.release(m.message_id)) AS released FROM channel_sync.outbox m WHERE m.claimed_version IS NOT NULL;
SELECT channel_sync.ack(message_id, qty) FROM channel_sync.claim('amazon', 1);
SELECT channel_sync.fail(message_id, 'HTTP 503') FROM channel_sync.claim('amazon', 1);
SELECT status FROM channel_sync.ack_batch(ARRAY(SELECT message_id FROM channel_sync.claim('amazon', 2)), '{1, 2}');
SELECT channel_sync.requeue_dead('amazon') AS requeued;
SELECT count(*) AS findings FROM channel_sync.verify();
SELECT count(*) AS findings FROM channel_sync.verify(true);
SELECT count(*) AS findings FROM channel_sync._verify_targets();
-- parity: the views, the snapshot, the sketch and its aggregates
SELECT count(*) AS parity_rows FROM channel_sync.parity;
SELECT count(*) AS health_rows FROM channel_sync.channel_health;
SELECT count(*) AS gap_rows FROM channel_sync.propagation_gaps;
SELECT count(*) AS daily_rows FROM channel_sync.reconciliation_daily;
SELECT count(*) AS exception_rows FROM channel_sync.exceptions;
SELECT channel_sync.snapshot_parity() AS snapshot_rows;
SELECT channel_sync.sketch_count(channel_sync.lag_sketch(x)) AS n,
       channel_sync.quantile(channel_sync.lag_sketch(x), 1) AS max,
       channel_sync.quantiles(channel_sync.lag_sketch(x), ARRAY[0, 1]) AS min_max
  FROM (VALUES (1.0::float8), (2.0), (3.0)) v(x);
SELECT channel_sync.quantile(channel_sync.lag_sketch(x), 0) AS min FROM (VALUES (interval '2 seconds'), (interval '1 minute')) v(x);
SELECT channel_sync.sketch_count(channel_sync.lag_sketch(s)) AS merged
  FROM (VALUES ('v=1 count=1 zeros=1 under=0 over=0 min=0 max=0 bins='::channel_sync.lag_sketch)) v(s);
SELECT channel_sync.prune_events('0 seconds') >= 0 AS pruned;
-- the same with the look-alikes in public, listed before pg_catalog
SET search_path = public, pg_catalog;
SELECT status FROM channel_sync.ingest('shop', 'p1', 'stock_adjusted', '{"sku": "TEE", "location_id": "wh1", "delta": -1, "reason": "count"}', '2024-05-02 10:00+00');
UPDATE channel_sync.stock SET on_hand = 25 WHERE sku OPERATOR(pg_catalog.=) 'TEE';
SELECT channel_sync.ack(message_id) FROM channel_sync.claim('shop', 1);
SELECT status FROM channel_sync.ack_batch(ARRAY(SELECT message_id FROM channel_sync.claim('shop', 1)));
SELECT count(*) AS findings FROM channel_sync.verify();
SELECT channel_sync.available_to_sell('shop', 'TEE') AS ats_shop_tee;
-- under RLS as a connector
RESET search_path;
CREATE ROLE cs_sp_bot NOLOGIN IN ROLE channel_sync_connector;
UPDATE channel_sync.channels SET connector_role = 'cs_sp_bot' WHERE channel_id = 'amazon';
SET ROLE cs_sp_bot;
SET search_path = evil, pg_catalog, public;
SELECT count(*) AS visible_messages FROM channel_sync.outbox;
SELECT count(*) AS visible_events FROM channel_sync.events;
SELECT channel_sync.ack(message_id) FROM channel_sync.claim('amazon', 1);
RESET ROLE;
RESET search_path;
DROP OWNED BY cs_sp_bot;
UPDATE channel_sync.channels SET connector_role = NULL WHERE channel_id = 'amazon';
DROP ROLE cs_sp_bot;
SELECT count(*) AS no_drift FROM channel_sync.verify();

-- NOTIFY payloads are channel ids, which cannot carry SQL: the CHECK refuses anything else
INSERT INTO channel_sync.channels (channel_id) VALUES ('x''); DROP TABLE channel_sync.stock; --');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO channel_sync.channels (channel_id) VALUES ('Amazon US');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO channel_sync.channels (channel_id) VALUES (repeat('a', 64));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
UPDATE channel_sync.channels SET channel_id = 'a"b' WHERE channel_id = 'shop';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- every dynamic statement in the extension's SQL builds identifiers with format('%I'), never ||
SELECT p.proname, p.prosrc ~ 'format\(''[^'']*%I' AS uses_format_i
  FROM pg_catalog.pg_proc p
 WHERE p.pronamespace = 'channel_sync'::regnamespace AND p.prosrc ~* 'EXECUTE\s' ORDER BY 1;
SELECT count(*) AS execute_with_concatenation FROM pg_catalog.pg_proc p
 WHERE p.pronamespace = 'channel_sync'::regnamespace AND p.prosrc ~* 'EXECUTE\s[^;]*\|\|';
-- every SECURITY DEFINER function, and every function, pins search_path to pg_catalog, pg_temp
-- (C functions without SQL inside them need no pin: type I/O, sketch and pure functions)
SELECT p.oid::regprocedure AS unpinned FROM pg_catalog.pg_proc p
 WHERE p.pronamespace = 'channel_sync'::regnamespace
   AND NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (p.proconfig), false)
   AND (p.prosecdef OR p.prolang IN (SELECT oid FROM pg_catalog.pg_language WHERE lanname IN ('sql', 'plpgsql'))
        OR p.prosrc IN ('_retarget_on_change', '_enqueue_listing_changes', '_verify_targets', 'cs_ingest', 'cs_ingest_batch',
                        'cs_replay', 'available_to_sell', 'explain_allocation', '_compute_targets', '_retarget', 'recompute_targets'))
 ORDER BY 1;
SELECT count(*) AS security_definer_functions, bool_and('search_path=pg_catalog, pg_temp' = ANY (p.proconfig)) AS all_pinned
  FROM pg_catalog.pg_proc p WHERE p.pronamespace = 'channel_sync'::regnamespace AND p.prosecdef;

-- remove the traps from public (later tests share this database)
SET client_min_messages = warning;
DROP SCHEMA evil CASCADE;
DO $clean$
DECLARE
  o text;
BEGIN
  FOR o IN SELECT c.oid::regclass::text FROM pg_catalog.pg_class c
            WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'v'
              AND c.relname IN ('channels', 'stock', 'outbox', 'listings', 'events') LOOP
    EXECUTE 'DROP VIEW ' || o;  -- o is a regclass text: already quoted
  END LOOP;
  FOR o IN SELECT op.oid::regoperator::text FROM pg_catalog.pg_operator op WHERE op.oprnamespace = 'public'::regnamespace LOOP
    EXECUTE 'DROP OPERATOR ' || o;
  END LOOP;
  FOR o IN SELECT p.oid::regprocedure::text FROM pg_catalog.pg_proc p
            WHERE p.pronamespace = 'public'::regnamespace AND p.prokind = 'a' LOOP
    EXECUTE 'DROP AGGREGATE ' || o;
  END LOOP;
  FOR o IN SELECT p.oid::regprocedure::text FROM pg_catalog.pg_proc p
            WHERE p.pronamespace = 'public'::regnamespace AND p.prosrc ~ 'public\.trap' LOOP
    EXECUTE 'DROP FUNCTION ' || o;
  END LOOP;
END
$clean$;
DROP FUNCTION public.trap(text);
RESET client_min_messages;
SELECT count(*) AS traps_left FROM pg_catalog.pg_proc WHERE pronamespace = 'public'::regnamespace AND prosrc ~ 'trap';
