-- The propagation a team would write by hand: a per-row PL/pgSQL trigger on stock that
-- recomputes the SKU's quantity for every channel, upserts an outbox row per channel and
-- calls pg_notify per row. Same shape of work as channel_sync's trigger (per channel:
-- pool over the channel's locations, price, a coalescing upsert), without transition
-- tables, statement-level batching or one NOTIFY per channel per transaction.
CREATE SCHEMA IF NOT EXISTS bench_ref;
CREATE TABLE bench_ref.channels (channel_id text PRIMARY KEY, active boolean NOT NULL DEFAULT true);
CREATE TABLE bench_ref.skus (sku text PRIMARY KEY, base_price numeric(12, 2) NOT NULL DEFAULT 0);
CREATE TABLE bench_ref.stock (
  sku text NOT NULL REFERENCES bench_ref.skus, location_id text NOT NULL,
  on_hand integer NOT NULL DEFAULT 0, reserved integer NOT NULL DEFAULT 0, safety_stock integer NOT NULL DEFAULT 0,
  PRIMARY KEY (sku, location_id));
CREATE TABLE bench_ref.listings (
  channel_id text NOT NULL, sku text NOT NULL, target_qty integer NOT NULL, target_price numeric(12, 2),
  target_version bigint NOT NULL DEFAULT 1, PRIMARY KEY (channel_id, sku));
CREATE TABLE bench_ref.outbox (
  message_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, channel_id text NOT NULL, sku text NOT NULL,
  qty integer NOT NULL, price numeric(12, 2), version bigint NOT NULL,
  first_change_at timestamptz NOT NULL DEFAULT now(), UNIQUE (channel_id, sku));

CREATE FUNCTION bench_ref.propagate() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  ch record;
  qty integer;
  price numeric;
  ver bigint;
BEGIN
  SELECT coalesce(sum(greatest(0, s.on_hand - s.reserved - s.safety_stock)), 0) INTO qty
    FROM bench_ref.stock s WHERE s.sku = NEW.sku;
  SELECT k.base_price INTO price FROM bench_ref.skus k WHERE k.sku = NEW.sku;
  FOR ch IN SELECT channel_id, active FROM bench_ref.channels LOOP
    INSERT INTO bench_ref.listings AS l (channel_id, sku, target_qty, target_price)
    VALUES (ch.channel_id, NEW.sku, CASE WHEN ch.active THEN qty ELSE 0 END, price)
    ON CONFLICT (channel_id, sku) DO UPDATE
       SET target_qty = excluded.target_qty, target_price = excluded.target_price,
           target_version = l.target_version + 1
     WHERE (l.target_qty, l.target_price) IS DISTINCT FROM (excluded.target_qty, excluded.target_price)
    RETURNING target_version INTO ver;
    IF ver IS NOT NULL THEN
      INSERT INTO bench_ref.outbox AS o (channel_id, sku, qty, price, version)
      VALUES (ch.channel_id, NEW.sku, CASE WHEN ch.active THEN qty ELSE 0 END, price, ver)
      ON CONFLICT (channel_id, sku) DO UPDATE SET qty = excluded.qty, price = excluded.price, version = excluded.version;
      PERFORM pg_notify('channel_sync_ref', ch.channel_id || ':' || NEW.sku);
    END IF;
  END LOOP;
  RETURN NULL;
END
$$;
CREATE TRIGGER propagate AFTER INSERT OR UPDATE ON bench_ref.stock
  FOR EACH ROW EXECUTE FUNCTION bench_ref.propagate();
