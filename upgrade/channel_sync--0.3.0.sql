-- channel_sync 0.3.0, generated from src/*/*.sql by the Makefile; edit those files instead

-- ==== src/common/_header.sql
\echo Use "CREATE EXTENSION channel_sync" to load this file. \quit

-- ==== src/common/access.sql
-- Channel-scoped access: a connector acts only for channels whose connector_role it is a
-- member of. Called first thing by every SECURITY DEFINER function that takes a channel.

CREATE FUNCTION channel_sync._outer_user() RETURNS oid
  LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', '_outer_user';
COMMENT ON FUNCTION channel_sync._outer_user() IS 'Internal: the calling role as seen outside SECURITY DEFINER functions (SET ROLE respected).';

CREATE FUNCTION channel_sync._assert_channel_access(p_channel_id text) RETURNS void
  LANGUAGE c STABLE AS 'MODULE_PATHNAME', '_assert_channel_access';
COMMENT ON FUNCTION channel_sync._assert_channel_access(text) IS 'Internal: raises insufficient_privilege unless the caller is superuser, channel_sync_admin, or a member of the channel''s connector_role.';

-- ==== src/common/roles.sql
-- Roles are cluster-wide: create them once, and only if absent, so the extension can be
-- created in several databases of one cluster (and dropped and created again).
DO $roles$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['channel_sync_admin', 'channel_sync_connector', 'channel_sync_reader'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
      EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
    END IF;
  END LOOP;
END
$roles$;

-- ==== src/common/schema.sql
-- The source of truth: channels, locations, SKUs, stock, channel aliases and prices,
-- allocation rules and the listings each channel should show.

CREATE TABLE channel_sync.channels (
  channel_id     text PRIMARY KEY
                 CONSTRAINT channel_id_format CHECK (channel_id ~ '^[a-z][a-z0-9_]{0,62}$'),
  kind           text NOT NULL DEFAULT 'marketplace'
                 CONSTRAINT channel_kind_known CHECK (kind IN ('storefront', 'marketplace', 'wholesale', 'pos')),
  active         boolean NOT NULL DEFAULT true,
  lag_target     interval NOT NULL DEFAULT '3 minutes'
                 CONSTRAINT lag_target_positive CHECK (lag_target > '0'::interval),
  max_attempts   integer NOT NULL DEFAULT 8
                 CONSTRAINT max_attempts_range CHECK (max_attempts BETWEEN 1 AND 1000),
  connector_role name
);
COMMENT ON TABLE channel_sync.channels IS 'Every place the brand sells: its storefront, marketplaces, wholesale and POS.';
COMMENT ON COLUMN channel_sync.channels.channel_id IS 'Short lower-case id matching ^[a-z][a-z0-9_]{0,62}$ (e.g. amazon_us); also the NOTIFY payload.';
COMMENT ON COLUMN channel_sync.channels.kind IS 'storefront, marketplace, wholesale or pos.';
COMMENT ON COLUMN channel_sync.channels.active IS 'An inactive channel lists 0 of everything.';
COMMENT ON COLUMN channel_sync.channels.lag_target IS 'How long a change may take to be acknowledged by this channel; drives propagation_gaps and stands in for measured lag in dynamic buffers.';
COMMENT ON COLUMN channel_sync.channels.max_attempts IS 'Delivery attempts before an outbox message becomes a dead letter.';
COMMENT ON COLUMN channel_sync.channels.connector_role IS 'The database role whose members may claim, ack, fail and ingest for this channel.';

CREATE TABLE channel_sync.locations (
  location_id text PRIMARY KEY
              CONSTRAINT location_id_format CHECK (location_id ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,62}$'),
  kind        text NOT NULL DEFAULT 'warehouse'
              CONSTRAINT location_kind_known CHECK (kind IN ('warehouse', '3pl', 'store')),
  active      boolean NOT NULL DEFAULT true
);
COMMENT ON TABLE channel_sync.locations IS 'Places that hold stock: warehouses, 3PLs and stores.';
COMMENT ON COLUMN channel_sync.locations.location_id IS 'Location id: letters, digits and _ . : - up to 63 characters.';
COMMENT ON COLUMN channel_sync.locations.kind IS 'warehouse, 3pl or store.';
COMMENT ON COLUMN channel_sync.locations.active IS 'Stock at an inactive location feeds no channel.';

CREATE TABLE channel_sync.channel_locations (
  channel_id  text NOT NULL REFERENCES channel_sync.channels ON DELETE CASCADE,
  location_id text NOT NULL REFERENCES channel_sync.locations ON DELETE CASCADE,
  PRIMARY KEY (channel_id, location_id)
);
COMMENT ON TABLE channel_sync.channel_locations IS 'Which locations feed a channel; a channel with no row here is fed by every active location.';

CREATE TABLE channel_sync.skus (
  sku        text PRIMARY KEY
             CONSTRAINT sku_format CHECK (sku <> '' AND pg_catalog.length(sku) <= 255 AND sku !~ '[[:cntrl:]]'),
  title      text NOT NULL DEFAULT '',
  kind       text NOT NULL DEFAULT 'simple'
             CONSTRAINT sku_kind_known CHECK (kind IN ('simple', 'bundle')),
  base_price numeric(12, 2) NOT NULL DEFAULT 0
             CONSTRAINT base_price_not_negative CHECK (base_price >= 0)
);
COMMENT ON TABLE channel_sync.skus IS 'Canonical SKUs: simple items that have stock, and bundles made of simple items.';
COMMENT ON COLUMN channel_sync.skus.sku IS 'Canonical SKU code (1 to 255 characters, no control characters).';
COMMENT ON COLUMN channel_sync.skus.title IS 'Human-readable name.';
COMMENT ON COLUMN channel_sync.skus.kind IS 'simple (has stock) or bundle (made of simple SKUs, see bundle_components).';
COMMENT ON COLUMN channel_sync.skus.base_price IS 'Price every channel lists unless channel_prices says otherwise.';

CREATE TABLE channel_sync.channel_prices (
  channel_id text NOT NULL REFERENCES channel_sync.channels ON DELETE CASCADE,
  sku        text NOT NULL REFERENCES channel_sync.skus ON DELETE CASCADE,
  price      numeric(12, 2) NOT NULL CONSTRAINT channel_price_not_negative CHECK (price >= 0),
  PRIMARY KEY (channel_id, sku)
);
COMMENT ON TABLE channel_sync.channel_prices IS 'A channel''s own price for a SKU; without a row the SKU''s base_price applies.';
COMMENT ON COLUMN channel_sync.channel_prices.price IS 'Listed price on this channel.';

CREATE TABLE channel_sync.bundle_components (
  bundle_sku    text NOT NULL REFERENCES channel_sync.skus ON DELETE CASCADE,
  component_sku text NOT NULL REFERENCES channel_sync.skus ON DELETE RESTRICT,
  qty_per       integer NOT NULL CONSTRAINT qty_per_positive CHECK (qty_per > 0),
  PRIMARY KEY (bundle_sku, component_sku),
  CONSTRAINT bundle_not_its_own_component CHECK (bundle_sku <> component_sku)
);
CREATE INDEX bundle_components_component_idx ON channel_sync.bundle_components (component_sku);
COMMENT ON TABLE channel_sync.bundle_components IS 'What a bundle is made of, one level deep: a bundle''s components are simple SKUs.';
COMMENT ON COLUMN channel_sync.bundle_components.bundle_sku IS 'The bundle (a SKU of kind bundle).';
COMMENT ON COLUMN channel_sync.bundle_components.component_sku IS 'A simple SKU the bundle contains.';
COMMENT ON COLUMN channel_sync.bundle_components.qty_per IS 'Units of the component in one bundle (> 0).';

CREATE TABLE channel_sync.sku_aliases (
  channel_id  text NOT NULL REFERENCES channel_sync.channels ON DELETE CASCADE,
  external_id text NOT NULL
              CONSTRAINT external_id_format CHECK (external_id <> '' AND pg_catalog.length(external_id) <= 255),
  sku         text NOT NULL REFERENCES channel_sync.skus ON DELETE CASCADE,
  PRIMARY KEY (channel_id, external_id),
  CONSTRAINT one_alias_per_channel_sku UNIQUE (channel_id, sku)
);
COMMENT ON TABLE channel_sync.sku_aliases IS 'The channel''s own id (ASIN, listing id, item id…) for a canonical SKU.';
COMMENT ON COLUMN channel_sync.sku_aliases.external_id IS 'The id the channel uses in its events and API.';

CREATE TABLE channel_sync.stock (
  sku          text NOT NULL REFERENCES channel_sync.skus ON DELETE CASCADE,
  location_id  text NOT NULL REFERENCES channel_sync.locations ON DELETE CASCADE,
  on_hand      integer NOT NULL DEFAULT 0 CONSTRAINT on_hand_not_negative CHECK (on_hand >= 0),
  reserved     integer NOT NULL DEFAULT 0 CONSTRAINT reserved_not_negative CHECK (reserved >= 0),
  safety_stock integer NOT NULL DEFAULT 0 CONSTRAINT safety_stock_not_negative CHECK (safety_stock >= 0),
  PRIMARY KEY (sku, location_id)
);
COMMENT ON TABLE channel_sync.stock IS 'Units per simple SKU and location. Sellable = on_hand - reserved - safety_stock (reserved may exceed on_hand after an oversell).';
COMMENT ON COLUMN channel_sync.stock.on_hand IS 'Physical units at the location.';
COMMENT ON COLUMN channel_sync.stock.reserved IS 'Units promised to open orders.';
COMMENT ON COLUMN channel_sync.stock.safety_stock IS 'Units never offered to any channel.';

CREATE TABLE channel_sync.allocation_rules (
  channel_id       text NOT NULL REFERENCES channel_sync.channels ON DELETE CASCADE,
  sku              text REFERENCES channel_sync.skus ON DELETE CASCADE,
  buffer           integer NOT NULL DEFAULT 0 CONSTRAINT buffer_not_negative CHECK (buffer >= 0),
  reserve_pct      numeric(5, 2) NOT NULL DEFAULT 0
                   CONSTRAINT reserve_pct_range CHECK (reserve_pct BETWEEN 0 AND 100),
  list_pct         numeric(5, 2) NOT NULL DEFAULT 100
                   CONSTRAINT list_pct_range CHECK (list_pct BETWEEN 0 AND 100),
  cap              integer CONSTRAINT cap_not_negative CHECK (cap >= 0),
  low_stock_cutoff integer NOT NULL DEFAULT 0 CONSTRAINT low_stock_cutoff_not_negative CHECK (low_stock_cutoff >= 0),
  dynamic_buffer   boolean NOT NULL DEFAULT false,
  CONSTRAINT one_rule_per_channel_sku UNIQUE NULLS NOT DISTINCT (channel_id, sku)
);
COMMENT ON TABLE channel_sync.allocation_rules IS 'Per-channel allocation rules: a default row (sku IS NULL) and optional per-SKU rows that replace it for that SKU.';
COMMENT ON COLUMN channel_sync.allocation_rules.sku IS 'NULL for the channel''s default rule, else the SKU this row overrides.';
COMMENT ON COLUMN channel_sync.allocation_rules.buffer IS 'Units kept off this channel (static buffer).';
COMMENT ON COLUMN channel_sync.allocation_rules.reserve_pct IS 'Percent of this channel''s pool held back from every other channel (0-100).';
COMMENT ON COLUMN channel_sync.allocation_rules.list_pct IS 'Percent of the remaining pool this channel lists, rounded down (0-100).';
COMMENT ON COLUMN channel_sync.allocation_rules.cap IS 'Most units this channel lists; NULL for no cap.';
COMMENT ON COLUMN channel_sync.allocation_rules.low_stock_cutoff IS 'The channel lists 0 while its pool is below this.';
COMMENT ON COLUMN channel_sync.allocation_rules.dynamic_buffer IS 'Size the buffer as max(buffer, ceil(units/hour sold here x this channel''s p95 sync lag)).';

CREATE TABLE channel_sync.listings (
  channel_id      text NOT NULL REFERENCES channel_sync.channels ON DELETE CASCADE,
  sku             text NOT NULL REFERENCES channel_sync.skus ON DELETE CASCADE,
  target_qty      integer NOT NULL DEFAULT 0 CONSTRAINT target_qty_not_negative CHECK (target_qty >= 0),
  target_price    numeric(12, 2),
  target_version  bigint NOT NULL DEFAULT 0,
  target_since    timestamptz NOT NULL DEFAULT pg_catalog.now(),
  acked_qty       integer,
  acked_price     numeric(12, 2),
  acked_version   bigint,
  acked_at        timestamptz,
  reported_qty    integer,
  observed_qty    integer,
  observed_price  numeric(12, 2),
  observed_at     timestamptz,
  PRIMARY KEY (channel_id, sku)
);
CREATE INDEX listings_sku_idx ON channel_sync.listings (sku);
COMMENT ON TABLE channel_sync.listings IS 'Per channel and SKU: what the channel should show (target), what it confirmed (acked) and what it says it shows (observed).';
COMMENT ON COLUMN channel_sync.listings.target_qty IS 'Available to sell on this channel, from the allocation rules.';
COMMENT ON COLUMN channel_sync.listings.target_price IS 'Price this channel should list.';
COMMENT ON COLUMN channel_sync.listings.target_version IS 'Bumped on every change of target_qty or target_price.';
COMMENT ON COLUMN channel_sync.listings.target_since IS 'When the current target was set.';
COMMENT ON COLUMN channel_sync.listings.acked_qty IS 'Quantity in the last message the connector acknowledged.';
COMMENT ON COLUMN channel_sync.listings.acked_price IS 'Price in the last message the connector acknowledged.';
COMMENT ON COLUMN channel_sync.listings.acked_version IS 'Target version of the last acknowledged message.';
COMMENT ON COLUMN channel_sync.listings.acked_at IS 'When the last acknowledgement arrived.';
COMMENT ON COLUMN channel_sync.listings.reported_qty IS 'Quantity the channel reported at the last ack, if it did.';
COMMENT ON COLUMN channel_sync.listings.observed_qty IS 'Quantity the channel says it shows (listing_observed events).';
COMMENT ON COLUMN channel_sync.listings.observed_price IS 'Price the channel says it shows (listing_observed events).';
COMMENT ON COLUMN channel_sync.listings.observed_at IS 'occurred_at of the last listing_observed event applied.';

SELECT pg_catalog.pg_extension_config_dump('channel_sync.channels', '');
SELECT pg_catalog.pg_extension_config_dump('channel_sync.locations', '');
SELECT pg_catalog.pg_extension_config_dump('channel_sync.channel_locations', '');
SELECT pg_catalog.pg_extension_config_dump('channel_sync.skus', '');
SELECT pg_catalog.pg_extension_config_dump('channel_sync.channel_prices', '');
SELECT pg_catalog.pg_extension_config_dump('channel_sync.bundle_components', '');
SELECT pg_catalog.pg_extension_config_dump('channel_sync.sku_aliases', '');
SELECT pg_catalog.pg_extension_config_dump('channel_sync.stock', '');
SELECT pg_catalog.pg_extension_config_dump('channel_sync.allocation_rules', '');

CREATE FUNCTION channel_sync._boundary_selftest(mode text) RETURNS integer
  LANGUAGE c STRICT AS 'MODULE_PATHNAME', '_boundary_selftest';
COMMENT ON FUNCTION channel_sync._boundary_selftest(text) IS 'Internal: raises each kind of error the C/C++ boundary handles (regression tests only).';

-- Propagation: the transactional outbox and the log of acknowledged deliveries.
CREATE TABLE channel_sync.outbox (
  message_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  channel_id      text NOT NULL REFERENCES channel_sync.channels ON DELETE CASCADE,
  sku             text NOT NULL REFERENCES channel_sync.skus ON DELETE CASCADE,
  qty             integer NOT NULL CONSTRAINT outbox_qty_not_negative CHECK (qty >= 0),
  price           numeric(12, 2),
  version         bigint NOT NULL,
  first_change_at timestamptz NOT NULL,
  enqueued_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
  status          text NOT NULL DEFAULT 'pending' CONSTRAINT outbox_status_known CHECK (status IN ('pending', 'dead')),
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT '-infinity',
  leased_until    timestamptz,
  claimed_version bigint,
  claimed_qty     integer,
  claimed_price   numeric(12, 2),
  changed_after_claim_at timestamptz,
  last_error      text,
  CONSTRAINT one_message_per_listing UNIQUE (channel_id, sku)
);
CREATE INDEX outbox_ready_idx ON channel_sync.outbox (channel_id, next_attempt_at) WHERE status = 'pending';
COMMENT ON TABLE channel_sync.outbox IS 'One pending message per (channel, SKU) carrying the latest desired state; written in the same transaction as the change.';
COMMENT ON COLUMN channel_sync.outbox.message_id IS 'Id a connector claims, acks or fails.';
COMMENT ON COLUMN channel_sync.outbox.qty IS 'Quantity to list (the latest target).';
COMMENT ON COLUMN channel_sync.outbox.price IS 'Price to list (the latest target).';
COMMENT ON COLUMN channel_sync.outbox.version IS 'The listing''s target_version this message carries.';
COMMENT ON COLUMN channel_sync.outbox.first_change_at IS 'Time of the first change not yet propagated; lag is measured from it.';
COMMENT ON COLUMN channel_sync.outbox.enqueued_at IS 'When the message was written (or revived from dead by a new change).';
COMMENT ON COLUMN channel_sync.outbox.status IS 'pending, or dead after the channel''s max_attempts failures.';
COMMENT ON COLUMN channel_sync.outbox.attempts IS 'Failed delivery attempts so far.';
COMMENT ON COLUMN channel_sync.outbox.next_attempt_at IS 'Not claimable before this time (retry backoff).';
COMMENT ON COLUMN channel_sync.outbox.leased_until IS 'Claimed by a connector until this time; claimable again after it.';
COMMENT ON COLUMN channel_sync.outbox.claimed_version IS 'Version handed out by the last claim.';
COMMENT ON COLUMN channel_sync.outbox.claimed_qty IS 'Quantity handed out by the last claim (what an ack confirms).';
COMMENT ON COLUMN channel_sync.outbox.claimed_price IS 'Price handed out by the last claim (what an ack confirms).';
COMMENT ON COLUMN channel_sync.outbox.changed_after_claim_at IS 'Time of the first change after the last claim; becomes first_change_at if the ack confirms an older version.';
COMMENT ON COLUMN channel_sync.outbox.last_error IS 'Error the connector reported at the last failure.';

CREATE TABLE channel_sync.propagation_log (
  log_id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  channel_id      text NOT NULL,
  sku             text NOT NULL,
  version         bigint NOT NULL,
  qty             integer NOT NULL,
  price           numeric(12, 2),
  first_change_at timestamptz NOT NULL,
  acked_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
  attempts        integer NOT NULL,
  reported_qty    integer
);
CREATE INDEX propagation_log_channel_time_idx ON channel_sync.propagation_log (channel_id, acked_at);
COMMENT ON TABLE channel_sync.propagation_log IS 'Append-only: one row per acknowledged message. Sync lag = acked_at - first_change_at.';
COMMENT ON COLUMN channel_sync.propagation_log.log_id IS 'Row id.';
COMMENT ON COLUMN channel_sync.propagation_log.version IS 'Target version delivered.';
COMMENT ON COLUMN channel_sync.propagation_log.qty IS 'Quantity delivered.';
COMMENT ON COLUMN channel_sync.propagation_log.price IS 'Price delivered.';
COMMENT ON COLUMN channel_sync.propagation_log.first_change_at IS 'Time of the first change this delivery covered.';
COMMENT ON COLUMN channel_sync.propagation_log.acked_at IS 'When the connector acknowledged it.';
COMMENT ON COLUMN channel_sync.propagation_log.attempts IS 'Delivery attempts it took (1 = first try).';
COMMENT ON COLUMN channel_sync.propagation_log.reported_qty IS 'Quantity the channel reported at ack, if given.';

-- Inbound events and the orders they create.
CREATE TABLE channel_sync.events (
  event_id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  channel_id        text NOT NULL REFERENCES channel_sync.channels ON DELETE CASCADE,
  idempotency_key   text NOT NULL CONSTRAINT idempotency_key_format CHECK (idempotency_key <> '' AND pg_catalog.length(idempotency_key) <= 255),
  event_type        text NOT NULL,
  payload           jsonb NOT NULL,
  occurred_at       timestamptz NOT NULL,
  received_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
  fingerprint       uuid NOT NULL,
  status            text NOT NULL CONSTRAINT event_status_known CHECK (status IN ('applied', 'duplicate', 'conflict', 'stale', 'rejected')),
  detail            text,
  first_event_id    bigint,
  duplicates        integer NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX events_first_delivery_key ON channel_sync.events (channel_id, idempotency_key) WHERE first_event_id IS NULL;
CREATE INDEX events_channel_time_idx ON channel_sync.events (channel_id, received_at);
COMMENT ON TABLE channel_sync.events IS 'Every inbound event with its outcome. The first delivery of a key owns it (first_event_id IS NULL); conflicts are recorded as rows pointing at it.';
COMMENT ON COLUMN channel_sync.events.event_id IS 'Id returned by ingest() and accepted by replay().';
COMMENT ON COLUMN channel_sync.events.idempotency_key IS 'The sender''s key (1 to 255 characters), unique per channel.';
COMMENT ON COLUMN channel_sync.events.event_type IS 'order_placed, order_cancelled, order_shipped, return_received, stock_adjusted, stock_counted or listing_observed.';
COMMENT ON COLUMN channel_sync.events.payload IS 'The event body as received.';
COMMENT ON COLUMN channel_sync.events.occurred_at IS 'When the event happened at the source.';
COMMENT ON COLUMN channel_sync.events.received_at IS 'When channel_sync received it.';
COMMENT ON COLUMN channel_sync.events.fingerprint IS '128-bit fingerprint of event_type, canonical payload and occurred_at.';
COMMENT ON COLUMN channel_sync.events.status IS 'applied, duplicate, conflict, stale or rejected.';
COMMENT ON COLUMN channel_sync.events.detail IS 'Why it was rejected, stale or conflicting.';
COMMENT ON COLUMN channel_sync.events.first_event_id IS 'For a conflict: the event that owns the key.';
COMMENT ON COLUMN channel_sync.events.duplicates IS 'How many duplicate deliveries of this key arrived.';

CREATE TABLE channel_sync.orders (
  channel_id  text NOT NULL REFERENCES channel_sync.channels ON DELETE CASCADE,
  order_id    text NOT NULL CONSTRAINT order_id_format CHECK (order_id <> '' AND pg_catalog.length(order_id) <= 255),
  state       text NOT NULL DEFAULT 'placed' CONSTRAINT order_state_known CHECK (state IN ('placed', 'partially_shipped', 'shipped', 'cancelled', 'returned')),
  oversold    boolean NOT NULL DEFAULT false,
  placed_at   timestamptz NOT NULL,
  updated_at  timestamptz NOT NULL,
  event_id    bigint REFERENCES channel_sync.events ON DELETE SET NULL,
  PRIMARY KEY (channel_id, order_id)
);
COMMENT ON TABLE channel_sync.orders IS 'Orders placed on a channel, created by order_placed events.';
COMMENT ON COLUMN channel_sync.orders.order_id IS 'The channel''s order id.';
COMMENT ON COLUMN channel_sync.orders.state IS 'placed, partially_shipped, shipped, cancelled or returned.';
COMMENT ON COLUMN channel_sync.orders.oversold IS 'The truth could not cover the order when it arrived.';
COMMENT ON COLUMN channel_sync.orders.placed_at IS 'occurred_at of the order_placed event.';
COMMENT ON COLUMN channel_sync.orders.updated_at IS 'occurred_at of the last event applied to the order.';
COMMENT ON COLUMN channel_sync.orders.event_id IS 'The order_placed event.';

CREATE TABLE channel_sync.order_lines (
  channel_id    text NOT NULL,
  order_id      text NOT NULL,
  line_no       integer NOT NULL,
  sku           text NOT NULL REFERENCES channel_sync.skus,
  location_id   text NOT NULL REFERENCES channel_sync.locations,
  qty           integer NOT NULL CONSTRAINT order_line_qty_positive CHECK (qty > 0),
  qty_shipped   integer NOT NULL DEFAULT 0 CONSTRAINT qty_shipped_range CHECK (qty_shipped BETWEEN 0 AND qty),
  qty_cancelled integer NOT NULL DEFAULT 0 CONSTRAINT qty_cancelled_range CHECK (qty_cancelled BETWEEN 0 AND qty),
  qty_returned  integer NOT NULL DEFAULT 0 CONSTRAINT qty_returned_range CHECK (qty_returned BETWEEN 0 AND qty_shipped),
  sold_sku      text NOT NULL,
  units_per_sold integer NOT NULL DEFAULT 1 CONSTRAINT units_per_sold_positive CHECK (units_per_sold > 0),
  PRIMARY KEY (channel_id, order_id, line_no),
  FOREIGN KEY (channel_id, order_id) REFERENCES channel_sync.orders ON DELETE CASCADE,
  CONSTRAINT line_not_overdrawn CHECK (qty_shipped + qty_cancelled <= qty)
);
CREATE INDEX order_lines_sku_idx ON channel_sync.order_lines (sku);
COMMENT ON TABLE channel_sync.order_lines IS 'Reservations of an order: one line per simple SKU and location (a bundle line reserves its components).';
COMMENT ON COLUMN channel_sync.order_lines.order_id IS 'The channel''s order id.';
COMMENT ON COLUMN channel_sync.order_lines.line_no IS 'Line number within the order.';
COMMENT ON COLUMN channel_sync.order_lines.location_id IS 'Location whose stock the line reserves.';
COMMENT ON COLUMN channel_sync.order_lines.qty IS 'Units reserved.';
COMMENT ON COLUMN channel_sync.order_lines.qty_shipped IS 'Units shipped (on_hand and reserved fell by these).';
COMMENT ON COLUMN channel_sync.order_lines.qty_cancelled IS 'Units released by cancellation.';
COMMENT ON COLUMN channel_sync.order_lines.qty_returned IS 'Shipped units returned.';
COMMENT ON COLUMN channel_sync.order_lines.sold_sku IS 'The SKU the channel sold (a bundle, or the simple SKU itself).';
COMMENT ON COLUMN channel_sync.order_lines.units_per_sold IS 'Units of sku in one sold unit of sold_sku (the bundle''s qty_per when the order was placed; 1 for a simple SKU).';

SELECT pg_catalog.pg_extension_config_dump('channel_sync.propagation_log', '');
SELECT pg_catalog.pg_extension_config_dump('channel_sync.events', '');
SELECT pg_catalog.pg_extension_config_dump('channel_sync.orders', '');
SELECT pg_catalog.pg_extension_config_dump('channel_sync.order_lines', '');

-- ==== src/common/since_0_2_0.sql
-- since: 0.2.0
-- Price lookups by SKU (re-targeting a handful of SKUs on every stock change reads their
-- channel prices); the primary key (channel_id, sku) cannot serve "sku = ANY(...)" alone.
CREATE INDEX channel_prices_sku_idx ON channel_sync.channel_prices (sku);

-- ==== src/common/since_0_3_0.sql
-- since: 0.3.0
-- Every stock change rewrites the SKU's stock row, its listings and its outbox messages. On
-- a full page the new version goes to another page and every index of the table gets a new
-- entry; with room left on the page it stays there (a HOT update: no index entry, less WAL,
-- no index bloat). A batch of orders, one transaction, cannot reuse space its own updates
-- freed, so it needs the room most.
ALTER TABLE channel_sync.stock SET (fillfactor = 70);
ALTER TABLE channel_sync.listings SET (fillfactor = 70);
ALTER TABLE channel_sync.outbox SET (fillfactor = 70);

-- ==== src/common/validation.sql
-- Configuration errors that a CHECK constraint cannot see (they span rows or tables),
-- refused with check_violation and a message in PostgreSQL's style.

CREATE FUNCTION channel_sync._check_bundle_component() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  bundle_kind text;
  component_kind text;
BEGIN
  SELECT kind INTO bundle_kind FROM channel_sync.skus WHERE sku = NEW.bundle_sku;
  SELECT kind INTO component_kind FROM channel_sync.skus WHERE sku = NEW.component_sku;
  IF bundle_kind IS DISTINCT FROM 'bundle' THEN
    RAISE EXCEPTION 'sku "%" is not a bundle', NEW.bundle_sku
      USING ERRCODE = 'check_violation',
            DETAIL = pg_catalog.format('Only SKUs of kind bundle have components; "%s" is %s.', NEW.bundle_sku, coalesce(bundle_kind, 'unknown')),
            HINT = 'Set skus.kind to ''bundle'' first.';
  END IF;
  IF component_kind IS DISTINCT FROM 'simple' THEN
    RAISE EXCEPTION 'bundle "%" cannot contain bundle "%"', NEW.bundle_sku, NEW.component_sku
      USING ERRCODE = 'check_violation',
            DETAIL = 'Bundles are one level deep: every component must be a simple SKU.';
  END IF;
  RETURN NEW;
END
$$;
COMMENT ON FUNCTION channel_sync._check_bundle_component() IS 'Internal trigger: a bundle''s components are simple SKUs, one level deep.';

CREATE TRIGGER bundle_component_kinds BEFORE INSERT OR UPDATE ON channel_sync.bundle_components
  FOR EACH ROW EXECUTE FUNCTION channel_sync._check_bundle_component();

CREATE FUNCTION channel_sync._check_sku_kind() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF NEW.kind = 'bundle' AND EXISTS (SELECT 1 FROM channel_sync.bundle_components WHERE component_sku = NEW.sku) THEN
    RAISE EXCEPTION 'sku "%" cannot become a bundle', NEW.sku
      USING ERRCODE = 'check_violation', DETAIL = 'It is a component of another bundle, and bundles are one level deep.';
  END IF;
  IF NEW.kind = 'bundle' AND EXISTS (SELECT 1 FROM channel_sync.stock WHERE sku = NEW.sku) THEN
    RAISE EXCEPTION 'sku "%" cannot become a bundle', NEW.sku
      USING ERRCODE = 'check_violation', DETAIL = 'It has stock rows; a bundle''s availability comes from its components.';
  END IF;
  IF NEW.kind = 'simple' AND EXISTS (SELECT 1 FROM channel_sync.bundle_components WHERE bundle_sku = NEW.sku) THEN
    RAISE EXCEPTION 'sku "%" cannot become simple', NEW.sku
      USING ERRCODE = 'check_violation', DETAIL = 'It still has bundle components.';
  END IF;
  RETURN NEW;
END
$$;
COMMENT ON FUNCTION channel_sync._check_sku_kind() IS 'Internal trigger: a SKU''s kind may change only when nothing depends on the old kind.';

CREATE TRIGGER sku_kind_change BEFORE UPDATE OF kind ON channel_sync.skus
  FOR EACH ROW WHEN (OLD.kind IS DISTINCT FROM NEW.kind) EXECUTE FUNCTION channel_sync._check_sku_kind();

CREATE FUNCTION channel_sync._check_stock_sku() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM channel_sync.skus WHERE sku = NEW.sku AND kind = 'bundle') THEN
    RAISE EXCEPTION 'bundle "%" cannot hold stock', NEW.sku
      USING ERRCODE = 'check_violation',
            DETAIL = 'A bundle''s availability is computed from its components.',
            HINT = 'Record stock for the bundle''s component SKUs instead.';
  END IF;
  RETURN NEW;
END
$$;
COMMENT ON FUNCTION channel_sync._check_stock_sku() IS 'Internal trigger: only simple SKUs hold stock.';

-- An UPDATE of a table with a BEFORE UPDATE row trigger locks each row before it runs the
-- trigger -- even when the trigger is limited to columns the statement does not set -- and
-- that lock is one more WAL record on every stock change; an AFTER trigger fails the
-- statement the same way without it.
CREATE TRIGGER stock_is_simple BEFORE INSERT ON channel_sync.stock
  FOR EACH ROW EXECUTE FUNCTION channel_sync._check_stock_sku();
ALTER TABLE channel_sync.stock ENABLE ALWAYS TRIGGER stock_is_simple;
CREATE TRIGGER stock_sku_is_simple AFTER UPDATE OF sku ON channel_sync.stock
  FOR EACH ROW EXECUTE FUNCTION channel_sync._check_stock_sku();
ALTER TABLE channel_sync.stock ENABLE ALWAYS TRIGGER stock_sku_is_simple;

-- ==== src/common/version.sql
-- since: 0.2.0
-- version(): the installed version of the extension's SQL objects, so a connector or a
-- monitoring check can tell what it talks to (and that an ALTER EXTENSION ... UPDATE ran).
CREATE FUNCTION channel_sync.version() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT e.extversion FROM pg_catalog.pg_extension e WHERE e.extname = 'channel_sync'
$$;
COMMENT ON FUNCTION channel_sync.version() IS 'The installed version of channel_sync (pg_extension.extversion), e.g. 0.2.0.';
REVOKE EXECUTE ON FUNCTION channel_sync.version() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION channel_sync.version()
  TO channel_sync_admin, channel_sync_connector, channel_sync_reader;

-- ==== src/allocation/allocation.sql
-- Allocation: what each channel may list (design §Allocation). The engine is C++
-- (src/allocation/allocator.cpp); these are its SQL entry points.

CREATE TYPE channel_sync.alloc_rule AS (
  buffer            integer,
  reserve_pct       numeric,
  list_pct          numeric,
  cap               integer,
  low_stock_cutoff  integer,
  dynamic_buffer    boolean,
  velocity_per_hour double precision,
  lag_p95           interval
);
COMMENT ON TYPE channel_sync.alloc_rule IS 'One channel''s allocation rule for allocate(): the allocation_rules fields plus the dynamic-buffer inputs. NULL fields take the allocation_rules defaults (cap NULL = no cap, velocity and lag NULL = 0).';

CREATE FUNCTION channel_sync.allocate(pools integer[], rules channel_sync.alloc_rule[]) RETURNS integer[]
  LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'allocate';
COMMENT ON FUNCTION channel_sync.allocate(integer[], channel_sync.alloc_rule[]) IS 'The allocation engine: element i of the result is what channel i may list, given each channel''s pool and rule (what-if analysis).';

CREATE FUNCTION channel_sync.available_to_sell(channel_id text, sku text) RETURNS integer
  LANGUAGE c STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'available_to_sell';
COMMENT ON FUNCTION channel_sync.available_to_sell(text, text) IS 'Units of the SKU the channel may list right now, from the truth and the allocation rules.';

CREATE FUNCTION channel_sync.explain_allocation(sku text)
  RETURNS TABLE(channel_id text, pool integer, holdback integer, buffer integer, ats integer, limited_by text)
  LANGUAGE c STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'explain_allocation';
COMMENT ON FUNCTION channel_sync.explain_allocation(text) IS 'Per channel: the SKU''s pool, the units held back for other channels, the buffer, what it may list (ats) and the rule that decided it (limited_by).';

CREATE FUNCTION channel_sync._compute_targets(skus text[] DEFAULT NULL)
  RETURNS TABLE(channel_id text, sku text, target_qty integer, target_price numeric)
  LANGUAGE c STABLE SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', '_compute_targets';
COMMENT ON FUNCTION channel_sync._compute_targets(text[]) IS 'Internal: every channel''s listing target (quantity and price) for the SKUs (NULL = all); writes nothing.';

CREATE FUNCTION channel_sync._retarget(skus text[]) RETURNS bigint
  LANGUAGE c STRICT SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', '_retarget';
COMMENT ON FUNCTION channel_sync._retarget(text[]) IS 'Internal: recomputes the listing targets of the SKUs and writes the changed ones (version bumped); returns how many changed.';

CREATE FUNCTION channel_sync.recompute_targets() RETURNS bigint
  LANGUAGE c SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'recompute_targets';
COMMENT ON FUNCTION channel_sync.recompute_targets() IS 'Recomputes every listing target from the truth in one pass and returns how many changed; progress shows in pg_stat_activity.query.';

-- ==== src/allocation/reserves.sql
-- Reserves that sum to more than 100 % for one SKU are a configuration error: each
-- channel's reserve is held back from every other channel, so together they cannot
-- exceed the whole pool. The effective reserve of a channel for a SKU is its per-SKU
-- row, else its default row, else 0.

CREATE FUNCTION channel_sync._check_reserves() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  bad_sku text;
  total numeric;
  parts text;
  check_all boolean;
BEGIN
  -- a changed default row affects every SKU; a per-SKU row only its SKU
  IF TG_OP = 'DELETE' THEN
    SELECT s.sku, sum(coalesce(o.reserve_pct, d.reserve_pct, 0)),
           string_agg(pg_catalog.format('%s (%s)', c.channel_id, coalesce(o.reserve_pct, d.reserve_pct)), ', '
                      ORDER BY c.channel_id) FILTER (WHERE coalesce(o.reserve_pct, d.reserve_pct, 0) > 0)
      INTO bad_sku, total, parts
      FROM (SELECT DISTINCT x.sku FROM old_rules x WHERE x.sku IS NOT NULL) s
      CROSS JOIN channel_sync.channels c
      LEFT JOIN channel_sync.allocation_rules o ON o.channel_id = c.channel_id AND o.sku = s.sku
      LEFT JOIN channel_sync.allocation_rules d ON d.channel_id = c.channel_id AND d.sku IS NULL
     GROUP BY s.sku HAVING sum(coalesce(o.reserve_pct, d.reserve_pct, 0)) > 100
     ORDER BY s.sku LIMIT 1;
  ELSE
    check_all := EXISTS (SELECT 1 FROM new_rules x WHERE x.sku IS NULL);
    -- the defaults alone (every SKU without per-SKU rows)
    IF check_all THEN
      SELECT sum(d.reserve_pct),
             string_agg(pg_catalog.format('%s (%s)', d.channel_id, d.reserve_pct), ', ' ORDER BY d.channel_id)
               FILTER (WHERE d.reserve_pct > 0)
        INTO total, parts
        FROM channel_sync.allocation_rules d WHERE d.sku IS NULL;
      IF total > 100 THEN
        RAISE EXCEPTION 'default reserves sum to % %%, more than 100 %%', total
          USING ERRCODE = 'check_violation',
                DETAIL = pg_catalog.format('Channels reserving by default: %s. Each reserve is held back from every other channel, so together they cannot exceed the whole pool.', parts),
                HINT = 'Lower reserve_pct on one of these channels.';
      END IF;
    END IF;
    SELECT s.sku, sum(coalesce(o.reserve_pct, d.reserve_pct, 0)),
           string_agg(pg_catalog.format('%s (%s)', c.channel_id, coalesce(o.reserve_pct, d.reserve_pct)), ', '
                      ORDER BY c.channel_id) FILTER (WHERE coalesce(o.reserve_pct, d.reserve_pct, 0) > 0)
      INTO bad_sku, total, parts
      FROM (SELECT DISTINCT r.sku FROM channel_sync.allocation_rules r
             WHERE r.sku IS NOT NULL
               AND (check_all OR r.sku IN (SELECT x.sku FROM new_rules x))) s
      CROSS JOIN channel_sync.channels c
      LEFT JOIN channel_sync.allocation_rules o ON o.channel_id = c.channel_id AND o.sku = s.sku
      LEFT JOIN channel_sync.allocation_rules d ON d.channel_id = c.channel_id AND d.sku IS NULL
     GROUP BY s.sku HAVING sum(coalesce(o.reserve_pct, d.reserve_pct, 0)) > 100
     ORDER BY s.sku LIMIT 1;
  END IF;
  IF bad_sku IS NOT NULL THEN
    RAISE EXCEPTION 'reserves for sku "%" sum to % %%, more than 100 %%', bad_sku, total
      USING ERRCODE = 'check_violation',
            DETAIL = pg_catalog.format('Channels reserving for this SKU (per-SKU rule, else default): %s. Each reserve is held back from every other channel, so together they cannot exceed the whole pool.', parts),
            HINT = 'Lower reserve_pct on one of these channels for this SKU.';
  END IF;
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION channel_sync._check_reserves() IS 'Internal trigger: refuses allocation rules whose reserves sum to more than 100 % for a SKU.';

CREATE TRIGGER reserves_within_pool_insert AFTER INSERT ON channel_sync.allocation_rules
  REFERENCING NEW TABLE AS new_rules FOR EACH STATEMENT EXECUTE FUNCTION channel_sync._check_reserves();
CREATE TRIGGER reserves_within_pool_update AFTER UPDATE ON channel_sync.allocation_rules
  REFERENCING NEW TABLE AS new_rules FOR EACH STATEMENT EXECUTE FUNCTION channel_sync._check_reserves();
CREATE TRIGGER reserves_within_pool_delete AFTER DELETE ON channel_sync.allocation_rules
  REFERENCING OLD TABLE AS old_rules FOR EACH STATEMENT EXECUTE FUNCTION channel_sync._check_reserves();

-- ==== src/propagation/propagation.sql
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

-- ack: the channel confirmed the claimed version. Locks the listing before the message
-- (the order the triggers use), so an ack never deadlocks with a concurrent change.
CREATE FUNCTION channel_sync.ack(message_id bigint, channel_qty integer DEFAULT NULL) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  p_id bigint := ack.message_id;
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
COMMENT ON FUNCTION channel_sync.ack(bigint, integer) IS 'Connector: records the delivery of the claimed version in propagation_log and the listing (acked_*, reported_qty = channel_qty if given). Returns false when a newer change arrived after the claim; that change stays pending with its own first-change time.';

-- fail: the delivery failed; retry after backoff, or dead after the channel's max_attempts.
CREATE FUNCTION channel_sync.fail(message_id bigint, error text, retry_in interval DEFAULT NULL) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  p_id bigint := fail.message_id;
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
COMMENT ON FUNCTION channel_sync.fail(bigint, text, interval) IS 'Connector: records a failed delivery. Returns ''retry'' (claimable again after retry_in, default 1 s × 2^(attempts−1) up to 1 hour) or ''dead'' once the channel''s max_attempts is reached.';

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
    PERFORM pg_catalog.pg_notify('channel_sync', p_channel);
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
    PERFORM pg_catalog.pg_notify('channel_sync', q.channel_id) FROM (
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

-- ==== src/ingest/ingest.sql
-- Inbound events: ingest(), ingest_batch(), replay() and prune_events(). The hot path is
-- C++ (src/ingest/ingest_pg.cpp) running prepared SPI plans; payload validation, the
-- fingerprint and the order arithmetic are pure C++ beside it.

CREATE TYPE channel_sync.ingest_result AS (event_id bigint, status text, detail text);
COMMENT ON TYPE channel_sync.ingest_result IS 'Outcome of one inbound event: its event id, status (applied, duplicate, conflict, stale, rejected) and why.';

CREATE TABLE channel_sync.stock_counts (
  sku         text NOT NULL REFERENCES channel_sync.skus ON DELETE CASCADE,
  location_id text NOT NULL REFERENCES channel_sync.locations ON DELETE CASCADE,
  counted_at  timestamptz NOT NULL,
  event_id    bigint,
  PRIMARY KEY (sku, location_id)
);
COMMENT ON TABLE channel_sync.stock_counts IS 'The last applied stock_counted event per SKU and location: an older count arriving later is stale.';
COMMENT ON COLUMN channel_sync.stock_counts.counted_at IS 'occurred_at of the last applied count.';
COMMENT ON COLUMN channel_sync.stock_counts.event_id IS 'The stock_counted event that set it.';
SELECT pg_catalog.pg_extension_config_dump('channel_sync.stock_counts', '');

CREATE INDEX events_status_idx ON channel_sync.events (status, received_at)
  WHERE status IN ('conflict', 'rejected', 'stale');

CREATE FUNCTION channel_sync.ingest(channel_id text, idempotency_key text, event_type text,
                                    payload jsonb, occurred_at timestamptz DEFAULT pg_catalog.now())
  RETURNS channel_sync.ingest_result
  LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS 'MODULE_PATHNAME', 'cs_ingest';
COMMENT ON FUNCTION channel_sync.ingest(text, text, text, jsonb, timestamptz) IS 'Applies one inbound event exactly once per (channel, idempotency_key): applied, duplicate, conflict, stale or rejected.';

CREATE FUNCTION channel_sync.ingest_batch(channel_id text, events jsonb)
  RETURNS SETOF channel_sync.ingest_result
  LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS 'MODULE_PATHNAME', 'cs_ingest_batch';
COMMENT ON FUNCTION channel_sync.ingest_batch(text, jsonb) IS 'Ingests a JSON array of {idempotency_key, event_type, payload, occurred_at}: one result per element, in order; a bad element is rejected without failing the rest.';

CREATE FUNCTION channel_sync.replay(event_id bigint) RETURNS channel_sync.ingest_result
  LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS 'MODULE_PATHNAME', 'cs_replay';
COMMENT ON FUNCTION channel_sync.replay(bigint) IS 'Re-applies a rejected event after its cause was fixed (an alias added, a count corrected); refuses any other event.';

CREATE FUNCTION channel_sync.prune_events(older_than interval) RETURNS bigint
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  removed bigint;
BEGIN
  IF older_than IS NULL THEN
    RAISE EXCEPTION 'older_than must not be null' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF older_than < '0'::interval THEN
    RAISE EXCEPTION 'older_than must not be negative: "%"', older_than
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Keep history longer than the longest retry window of any channel (days, not hours).';
  END IF;
  DELETE FROM channel_sync.events e
   WHERE e.status IN ('applied', 'duplicate')
     AND e.received_at < pg_catalog.now() - older_than
     AND NOT EXISTS (SELECT 1 FROM channel_sync.events c WHERE c.first_event_id = e.event_id)
     AND NOT EXISTS (SELECT 1 FROM channel_sync.orders o
                      WHERE o.channel_id = e.channel_id AND o.order_id = e.payload ->> 'order_id'
                        AND o.state IN ('placed', 'partially_shipped'));
  GET DIAGNOSTICS removed = ROW_COUNT;
  RETURN removed;
END
$$;
COMMENT ON FUNCTION channel_sync.prune_events(interval) IS 'Deletes applied and duplicate event history received longer ago than older_than; keeps rejected, conflicting and stale events, keys that conflicts point at, and every event of an open order. Returns the number removed.';

CREATE INDEX events_first_event_idx ON channel_sync.events (first_event_id) WHERE first_event_id IS NOT NULL;

-- ==== src/parity/10_lag_sketch.sql
-- Parity and health, part 1: the lag_sketch type, a mergeable quantile sketch of lags in
-- seconds with a 1 % relative-error guarantee (DDSketch-like), its aggregates and functions.

CREATE TYPE channel_sync.lag_sketch;

CREATE FUNCTION channel_sync._lag_sketch_in(cstring) RETURNS channel_sync.lag_sketch
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', '_lag_sketch_in';
CREATE FUNCTION channel_sync._lag_sketch_out(channel_sync.lag_sketch) RETURNS cstring
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', '_lag_sketch_out';
CREATE FUNCTION channel_sync._lag_sketch_recv(internal) RETURNS channel_sync.lag_sketch
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', '_lag_sketch_recv';
CREATE FUNCTION channel_sync._lag_sketch_send(channel_sync.lag_sketch) RETURNS bytea
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', '_lag_sketch_send';

CREATE TYPE channel_sync.lag_sketch (
  INPUT = channel_sync._lag_sketch_in,
  OUTPUT = channel_sync._lag_sketch_out,
  RECEIVE = channel_sync._lag_sketch_recv,
  SEND = channel_sync._lag_sketch_send,
  INTERNALLENGTH = VARIABLE,
  STORAGE = extended
);
COMMENT ON TYPE channel_sync.lag_sketch IS
  'Mergeable quantile sketch of lags in seconds (DDSketch-like): quantiles within 1 % of the true value for lags from 1 ms to 30 days; <= 0 counts as 0, below 1 ms within 1 ms, above 30 days reported as >= 30 days; at most 4 kB. Text form: v=1 count=N zeros=N under=N over=N min=X max=X bins=INDEX:COUNT,...';
COMMENT ON FUNCTION channel_sync._lag_sketch_in(cstring) IS 'Internal: lag_sketch text input (versioned; malformed text raises 22P02).';
COMMENT ON FUNCTION channel_sync._lag_sketch_out(channel_sync.lag_sketch) IS 'Internal: lag_sketch text output.';
COMMENT ON FUNCTION channel_sync._lag_sketch_recv(internal) IS 'Internal: lag_sketch binary input (version byte, flags byte; malformed input raises 22P03).';
COMMENT ON FUNCTION channel_sync._lag_sketch_send(channel_sync.lag_sketch) IS 'Internal: lag_sketch binary output.';

-- aggregate support
CREATE FUNCTION channel_sync._lag_sketch_add_interval(internal, interval) RETURNS internal
  LANGUAGE c PARALLEL SAFE AS 'MODULE_PATHNAME', '_lag_sketch_add_interval';
CREATE FUNCTION channel_sync._lag_sketch_add_float8(internal, double precision) RETURNS internal
  LANGUAGE c PARALLEL SAFE AS 'MODULE_PATHNAME', '_lag_sketch_add_float8';
CREATE FUNCTION channel_sync._lag_sketch_add_sketch(internal, channel_sync.lag_sketch) RETURNS internal
  LANGUAGE c PARALLEL SAFE AS 'MODULE_PATHNAME', '_lag_sketch_add_sketch';
CREATE FUNCTION channel_sync._lag_sketch_combine(internal, internal) RETURNS internal
  LANGUAGE c PARALLEL SAFE AS 'MODULE_PATHNAME', '_lag_sketch_combine';
CREATE FUNCTION channel_sync._lag_sketch_serialize(internal) RETURNS bytea
  LANGUAGE c STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', '_lag_sketch_serialize';
CREATE FUNCTION channel_sync._lag_sketch_deserialize(bytea, internal) RETURNS internal
  LANGUAGE c STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', '_lag_sketch_deserialize';
CREATE FUNCTION channel_sync._lag_sketch_final(internal) RETURNS channel_sync.lag_sketch
  LANGUAGE c PARALLEL SAFE AS 'MODULE_PATHNAME', '_lag_sketch_final';
COMMENT ON FUNCTION channel_sync._lag_sketch_add_interval(internal, interval) IS 'Internal: lag_sketch(interval) transition (interval converted to seconds as EXTRACT(EPOCH) does).';
COMMENT ON FUNCTION channel_sync._lag_sketch_add_float8(internal, double precision) IS 'Internal: lag_sketch(double precision) transition (seconds).';
COMMENT ON FUNCTION channel_sync._lag_sketch_add_sketch(internal, channel_sync.lag_sketch) IS 'Internal: lag_sketch(lag_sketch) transition (merge).';
COMMENT ON FUNCTION channel_sync._lag_sketch_combine(internal, internal) IS 'Internal: merges two partial lag_sketch states (parallel aggregation).';
COMMENT ON FUNCTION channel_sync._lag_sketch_serialize(internal) IS 'Internal: lag_sketch state to bytea (parallel aggregation).';
COMMENT ON FUNCTION channel_sync._lag_sketch_deserialize(bytea, internal) IS 'Internal: lag_sketch state from bytea, validated (parallel aggregation).';
COMMENT ON FUNCTION channel_sync._lag_sketch_final(internal) IS 'Internal: lag_sketch aggregate result.';

CREATE AGGREGATE channel_sync.lag_sketch(interval) (
  SFUNC = channel_sync._lag_sketch_add_interval, STYPE = internal, SSPACE = 8760,
  FINALFUNC = channel_sync._lag_sketch_final, COMBINEFUNC = channel_sync._lag_sketch_combine,
  SERIALFUNC = channel_sync._lag_sketch_serialize, DESERIALFUNC = channel_sync._lag_sketch_deserialize,
  PARALLEL = SAFE);
CREATE AGGREGATE channel_sync.lag_sketch(double precision) (
  SFUNC = channel_sync._lag_sketch_add_float8, STYPE = internal, SSPACE = 8760,
  FINALFUNC = channel_sync._lag_sketch_final, COMBINEFUNC = channel_sync._lag_sketch_combine,
  SERIALFUNC = channel_sync._lag_sketch_serialize, DESERIALFUNC = channel_sync._lag_sketch_deserialize,
  PARALLEL = SAFE);
CREATE AGGREGATE channel_sync.lag_sketch(channel_sync.lag_sketch) (
  SFUNC = channel_sync._lag_sketch_add_sketch, STYPE = internal, SSPACE = 8760,
  FINALFUNC = channel_sync._lag_sketch_final, COMBINEFUNC = channel_sync._lag_sketch_combine,
  SERIALFUNC = channel_sync._lag_sketch_serialize, DESERIALFUNC = channel_sync._lag_sketch_deserialize,
  PARALLEL = SAFE);
COMMENT ON AGGREGATE channel_sync.lag_sketch(interval) IS 'Sketch of lags given as intervals (converted to seconds like EXTRACT(EPOCH FROM ...)); NULLs are skipped; NULL when no row.';
COMMENT ON AGGREGATE channel_sync.lag_sketch(double precision) IS 'Sketch of lags in seconds; NULLs are skipped; NaN/Infinity raise 22023; NULL when no row.';
COMMENT ON AGGREGATE channel_sync.lag_sketch(channel_sync.lag_sketch) IS 'Merges sketches (rollups: hourly sketches into a day, channels into a total); the result equals the sketch of all their values.';

CREATE FUNCTION channel_sync.quantile(sketch channel_sync.lag_sketch, q double precision) RETURNS double precision
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'lag_sketch_quantile';
COMMENT ON FUNCTION channel_sync.quantile(channel_sync.lag_sketch, double precision) IS
  'The q-quantile (0 <= q <= 1) of the sketch, in seconds, within 1 % of the exact order statistic of rank q*(n-1); q = 0 and 1 give the exact min and max; NULL for an empty sketch; q outside [0,1] raises 22003.';

CREATE FUNCTION channel_sync.quantiles(sketch channel_sync.lag_sketch, qs double precision[]) RETURNS double precision[]
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'lag_sketch_quantiles';
COMMENT ON FUNCTION channel_sync.quantiles(channel_sync.lag_sketch, double precision[]) IS
  'quantile() for each element of qs, in seconds, same array shape; a NULL element raises 22004; NULL for an empty sketch.';

CREATE FUNCTION channel_sync.sketch_count(sketch channel_sync.lag_sketch) RETURNS bigint
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'lag_sketch_count';
COMMENT ON FUNCTION channel_sync.sketch_count(channel_sync.lag_sketch) IS 'How many values the sketch holds.';

-- ==== src/parity/20_health.sql
-- Parity and health, part 2: the views an analyst queries. All read-only (every view joins
-- several relations or aggregates, so none is auto-updatable); they read what allocation
-- (listings targets), propagation (outbox, propagation_log) and ingest (events, orders)
-- write. Windows: "last 24 h" means now() - interval '24 hours' < t <= now().

-- ---------------------------------------------------------------------------------------
-- Health bands
CREATE TABLE channel_sync.health_thresholds (
  metric        text PRIMARY KEY CONSTRAINT metric_format CHECK (metric ~ '^[a-z][a-z0-9_]{0,62}$'),
  unit          text NOT NULL CONSTRAINT threshold_unit_known CHECK (unit IN ('minutes', 'percent')),
  better        text NOT NULL CONSTRAINT threshold_better_known CHECK (better IN ('lower', 'higher')),
  healthy_limit numeric NOT NULL,
  watch_limit   numeric NOT NULL,
  description   text NOT NULL DEFAULT '',
  is_default    boolean NOT NULL DEFAULT false,
  CONSTRAINT limits_ordered CHECK (CASE better WHEN 'lower' THEN healthy_limit <= watch_limit
                                                ELSE healthy_limit >= watch_limit END)
);
COMMENT ON TABLE channel_sync.health_thresholds IS
  'Health bands per metric, seeded with industry KPI values and editable by the admin. For better = lower: healthy if value <= healthy_limit, watch if value <= watch_limit, else intervention; for better = higher: healthy if value >= healthy_limit, watch if value >= watch_limit, else intervention. No value (no data) gives no band.';
COMMENT ON COLUMN channel_sync.health_thresholds.metric IS 'inventory_sync_p95_lag, price_propagation_p95_lag, order_handoff_success, reconciliation_variance or stock_mismatch_cancellations.';
COMMENT ON COLUMN channel_sync.health_thresholds.unit IS 'minutes or percent: the unit of the two limits.';
COMMENT ON COLUMN channel_sync.health_thresholds.better IS 'lower (lags, variance, cancellations) or higher (success rates).';
COMMENT ON COLUMN channel_sync.health_thresholds.healthy_limit IS 'Edge of the healthy band (inclusive).';
COMMENT ON COLUMN channel_sync.health_thresholds.watch_limit IS 'Edge of the watch band (inclusive); beyond it: intervention.';
COMMENT ON COLUMN channel_sync.health_thresholds.description IS 'What the metric measures.';
COMMENT ON COLUMN channel_sync.health_thresholds.is_default IS 'true for a row as seeded by CREATE EXTENSION; any UPDATE makes it false. Only rows with false are dumped by pg_dump (a restore re-seeds the defaults and the dumped rows replace them).';

CREATE FUNCTION channel_sync._health_threshold_edit() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    NEW.is_default := false;
  ELSE
    -- a user row (or a restored one) replaces the seeded default of the same metric
    DELETE FROM channel_sync.health_thresholds WHERE metric = NEW.metric AND is_default;
  END IF;
  RETURN NEW;
END
$$;
COMMENT ON FUNCTION channel_sync._health_threshold_edit() IS 'Internal trigger: an edited threshold stops being a seeded default; an inserted one replaces the default of its metric (so pg_dump/restore keeps edits without duplicating seeds).';
CREATE TRIGGER health_threshold_edit BEFORE INSERT OR UPDATE ON channel_sync.health_thresholds
  FOR EACH ROW EXECUTE FUNCTION channel_sync._health_threshold_edit();
ALTER TABLE channel_sync.health_thresholds ENABLE ALWAYS TRIGGER health_threshold_edit;

INSERT INTO channel_sync.health_thresholds (metric, unit, better, healthy_limit, watch_limit, description, is_default) VALUES
  ('inventory_sync_p95_lag', 'minutes', 'lower', 3, 12, 'p95 of acked_at - first_change_at over the last 24 h of deliveries (healthy <= 3 min, watch 4-12 min, intervention > 12 min).', true),
  ('price_propagation_p95_lag', 'minutes', 'lower', 6, 25, 'p95 lag of the deliveries of the last 24 h that changed the price (healthy <= 6 min, watch 7-25 min, intervention > 25 min).', true),
  ('order_handoff_success', 'percent', 'higher', 99.4, 98.5, 'Acknowledged deliveries / delivery attempts (healthy >= 99.4 %, watch 98.5-99.3 %, intervention < 98.5 %).', true),
  ('reconciliation_variance', 'percent', 'lower', 0.3, 0.9, 'sum |channel qty - source qty| / sum source qty (healthy <= 0.3 %, watch 0.31-0.9 %, intervention > 0.9 %).', true),
  ('stock_mismatch_cancellations', 'percent', 'lower', 0.5, 1.2, 'Orders cancelled after being oversold / orders, last 24 h (healthy <= 0.5 %, watch 0.51-1.2 %, intervention > 1.2 %).', true);

SELECT pg_catalog.pg_extension_config_dump('channel_sync.health_thresholds', 'WHERE NOT is_default');

CREATE FUNCTION channel_sync._band(value numeric, better text, healthy_limit numeric, watch_limit numeric)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE
    WHEN value IS NULL OR better IS NULL THEN NULL
    WHEN better = 'lower' AND value <= healthy_limit THEN 'healthy'
    WHEN better = 'lower' AND value <= watch_limit THEN 'watch'
    WHEN better = 'lower' THEN 'intervention'
    WHEN value >= healthy_limit THEN 'healthy'
    WHEN value >= watch_limit THEN 'watch'
    ELSE 'intervention' END
$$;
COMMENT ON FUNCTION channel_sync._band(numeric, text, numeric, numeric) IS 'Internal: healthy, watch or intervention for a value against a threshold row; NULL without a value.';

CREATE FUNCTION channel_sync._band_rank(band text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE band WHEN 'intervention' THEN 3 WHEN 'watch' THEN 2 WHEN 'healthy' THEN 1 END
$$;
COMMENT ON FUNCTION channel_sync._band_rank(text) IS 'Internal: 1 healthy, 2 watch, 3 intervention, NULL for no band (to take the worst).';

-- ---------------------------------------------------------------------------------------
-- Parity: per listing, the truth against what the channel shows
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
COMMENT ON VIEW channel_sync.parity IS
  'Per listing: what the truth allows (source) against what the channel shows, the difference and a status. Status, first match wins: oversell_risk = the channel shows more than source_qty; pending = a pending outbox message is on its way; unknown = the channel never acknowledged nor reported a quantity; undersell = the channel shows less; in_sync = equal quantities. Status is about quantity; price drift is in price_delta.';
COMMENT ON COLUMN channel_sync.parity.channel_id IS 'The channel.';
COMMENT ON COLUMN channel_sync.parity.sku IS 'The canonical SKU.';
COMMENT ON COLUMN channel_sync.parity.source_qty IS 'What the truth allows this channel to list: listings.target_qty.';
COMMENT ON COLUMN channel_sync.parity.channel_qty IS 'What the channel shows: the observed quantity (listing_observed) if it is at least as recent as the last ack, else the quantity the channel reported at the last ack, else the acknowledged quantity; NULL if none.';
COMMENT ON COLUMN channel_sync.parity.channel_qty_source IS 'Where channel_qty comes from: observed, reported or acked (NULL when unknown).';
COMMENT ON COLUMN channel_sync.parity.channel_seen_at IS 'When channel_qty was observed or acknowledged.';
COMMENT ON COLUMN channel_sync.parity.qty_delta IS 'channel_qty - source_qty: > 0 the channel may oversell, < 0 it undersells.';
COMMENT ON COLUMN channel_sync.parity.source_price IS 'Price the channel should list: listings.target_price.';
COMMENT ON COLUMN channel_sync.parity.channel_price IS 'Price the channel shows (observed if fresh, else acknowledged).';
COMMENT ON COLUMN channel_sync.parity.price_delta IS 'channel_price - source_price (NULL when either is unknown).';
COMMENT ON COLUMN channel_sync.parity.status IS 'in_sync, oversell_risk, undersell, pending or unknown (see the view comment).';
COMMENT ON COLUMN channel_sync.parity.diverged_since IS 'NULL when in_sync; else the first unpropagated change of a pending message, or the later of target_since and channel_seen_at.';
COMMENT ON COLUMN channel_sync.parity.pending_message_id IS 'The pending outbox message carrying the current target, if any.';

-- ---------------------------------------------------------------------------------------
-- Propagation gaps: changes not acknowledged within the channel's lag_target
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
COMMENT ON VIEW channel_sync.propagation_gaps IS
  'Listings whose change has not been acknowledged within the channel''s lag_target: outbox messages (pending or dead) older than lag_target, and listings whose target_version is ahead of acked_version with no outbox message at all (missing: the change that never fired).';
COMMENT ON COLUMN channel_sync.propagation_gaps.channel_id IS 'The channel.';
COMMENT ON COLUMN channel_sync.propagation_gaps.sku IS 'The canonical SKU.';
COMMENT ON COLUMN channel_sync.propagation_gaps.message_id IS 'The outbox message, NULL when missing.';
COMMENT ON COLUMN channel_sync.propagation_gaps.message_state IS 'pending (not yet acknowledged), dead (gave up after max_attempts) or missing (target changed, no message).';
COMMENT ON COLUMN channel_sync.propagation_gaps.first_change_at IS 'First unacknowledged change (outbox.first_change_at; listings.target_since when missing).';
COMMENT ON COLUMN channel_sync.propagation_gaps.waiting IS 'now() - first_change_at.';
COMMENT ON COLUMN channel_sync.propagation_gaps.lag_target IS 'The channel''s lag_target.';
COMMENT ON COLUMN channel_sync.propagation_gaps.overdue_by IS 'waiting - lag_target (> 0).';
COMMENT ON COLUMN channel_sync.propagation_gaps.attempts IS 'Failed delivery attempts so far.';
COMMENT ON COLUMN channel_sync.propagation_gaps.last_error IS 'Error the connector reported last.';

-- ---------------------------------------------------------------------------------------
-- Channel health: one row per channel, metrics and bands
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
COMMENT ON VIEW channel_sync.channel_health IS
  'Per channel: parity, sync lag, queue, handoff, inbound-event and order metrics, a band per banded metric (health_thresholds) and the overall band = the worst of the five bands (healthy when none has data). Windows: lags, handoff, events and orders over the last 24 h; parity, pending and dead are current.';
COMMENT ON COLUMN channel_sync.channel_health.channel_id IS 'The channel.';
COMMENT ON COLUMN channel_sync.channel_health.listings IS 'Listings (channel, SKU) of the channel.';
COMMENT ON COLUMN channel_sync.channel_health.in_sync_pct IS 'Percent of listings with parity status in_sync (2 decimals; NULL without listings).';
COMMENT ON COLUMN channel_sync.channel_health.oversell_risk IS 'Listings with parity status oversell_risk (the channel shows more than the truth allows).';
COMMENT ON COLUMN channel_sync.channel_health.lag_p50 IS 'Median sync lag (acked_at - first_change_at) of the deliveries acknowledged in the last 24 h, from lag_sketch (within 1 %), rounded to the millisecond.';
COMMENT ON COLUMN channel_sync.channel_health.lag_p95 IS 'p95 sync lag, last 24 h (banded as inventory_sync_p95_lag).';
COMMENT ON COLUMN channel_sync.channel_health.lag_p99 IS 'p99 sync lag, last 24 h.';
COMMENT ON COLUMN channel_sync.channel_health.price_lag_p95 IS 'p95 lag of the deliveries of the last 24 h whose price differs from the previous delivery of the same listing in that window (banded as price_propagation_p95_lag).';
COMMENT ON COLUMN channel_sync.channel_health.pending IS 'Outbox messages pending now.';
COMMENT ON COLUMN channel_sync.channel_health.oldest_pending IS 'Age of the oldest pending change: now() - min(first_change_at) of pending messages.';
COMMENT ON COLUMN channel_sync.channel_health.dead IS 'Dead-letter messages now.';
COMMENT ON COLUMN channel_sync.channel_health.handoff_success_pct IS '100 x acknowledged deliveries (last 24 h) / delivery attempts (their attempts, at least 1 each, plus the failed attempts of messages still in the outbox); banded as order_handoff_success.';
COMMENT ON COLUMN channel_sync.channel_health.duplicate_pct IS '100 x duplicate deliveries / all deliveries of inbound events received in the last 24 h (a duplicate is counted by events.duplicates or as a row with status duplicate).';
COMMENT ON COLUMN channel_sync.channel_health.conflicts IS 'Inbound events with status conflict received in the last 24 h.';
COMMENT ON COLUMN channel_sync.channel_health.rejected IS 'Inbound events with status rejected received in the last 24 h.';
COMMENT ON COLUMN channel_sync.channel_health.stock_mismatch_cancel_pct IS '100 x orders placed in the last 24 h now cancelled and marked oversold / orders placed in the last 24 h; banded as stock_mismatch_cancellations.';
COMMENT ON COLUMN channel_sync.channel_health.reconciliation_variance_pct IS '100 x sum |qty_delta| / sum source_qty over listings whose channel_qty is known, now (3 decimals); banded as reconciliation_variance.';
COMMENT ON COLUMN channel_sync.channel_health.lag_band IS 'Band of lag_p95 in minutes against inventory_sync_p95_lag.';
COMMENT ON COLUMN channel_sync.channel_health.price_lag_band IS 'Band of price_lag_p95 in minutes against price_propagation_p95_lag.';
COMMENT ON COLUMN channel_sync.channel_health.handoff_band IS 'Band of handoff_success_pct against order_handoff_success.';
COMMENT ON COLUMN channel_sync.channel_health.variance_band IS 'Band of reconciliation_variance_pct against reconciliation_variance.';
COMMENT ON COLUMN channel_sync.channel_health.cancel_band IS 'Band of stock_mismatch_cancel_pct against stock_mismatch_cancellations.';
COMMENT ON COLUMN channel_sync.channel_health.overall_band IS 'The worst of the five bands: intervention > watch > healthy; healthy when no band has data.';

-- ==== src/parity/30_reconciliation.sql
-- Parity and health, part 3: daily reconciliation (with a parity history recorded by
-- snapshot_parity(), safe to schedule with pg_cron) and the exceptions queue.

CREATE TABLE channel_sync.parity_history (
  day            date NOT NULL,
  channel_id     text NOT NULL REFERENCES channel_sync.channels ON DELETE CASCADE,
  listings       integer NOT NULL,
  in_sync        integer NOT NULL,
  oversell_risk  integer NOT NULL,
  undersell      integer NOT NULL,
  pending        integer NOT NULL,
  unknown        integer NOT NULL,
  source_units   bigint NOT NULL,
  abs_delta_units bigint NOT NULL,
  variance_pct   numeric,
  recorded_at    timestamptz NOT NULL,
  PRIMARY KEY (day, channel_id)
);
COMMENT ON TABLE channel_sync.parity_history IS 'One row per day and channel: the parity recorded by snapshot_parity() (the last run of the day wins).';
COMMENT ON COLUMN channel_sync.parity_history.day IS 'current_date (session TimeZone) when recorded.';
COMMENT ON COLUMN channel_sync.parity_history.channel_id IS 'The channel.';
COMMENT ON COLUMN channel_sync.parity_history.listings IS 'Listings of the channel.';
COMMENT ON COLUMN channel_sync.parity_history.in_sync IS 'Listings with parity status in_sync.';
COMMENT ON COLUMN channel_sync.parity_history.oversell_risk IS 'Listings with parity status oversell_risk.';
COMMENT ON COLUMN channel_sync.parity_history.undersell IS 'Listings with parity status undersell.';
COMMENT ON COLUMN channel_sync.parity_history.pending IS 'Listings with parity status pending.';
COMMENT ON COLUMN channel_sync.parity_history.unknown IS 'Listings with parity status unknown.';
COMMENT ON COLUMN channel_sync.parity_history.source_units IS 'sum source_qty over listings whose channel_qty is known.';
COMMENT ON COLUMN channel_sync.parity_history.abs_delta_units IS 'sum |channel_qty - source_qty| over the same listings.';
COMMENT ON COLUMN channel_sync.parity_history.variance_pct IS '100 x abs_delta_units / source_units (3 decimals; NULL when source_units = 0).';
COMMENT ON COLUMN channel_sync.parity_history.recorded_at IS 'When snapshot_parity() recorded the row.';
SELECT pg_catalog.pg_extension_config_dump('channel_sync.parity_history', '');

CREATE FUNCTION channel_sync.snapshot_parity() RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  recorded integer;
BEGIN
  INSERT INTO channel_sync.parity_history AS h
    (day, channel_id, listings, in_sync, oversell_risk, undersell, pending, unknown,
     source_units, abs_delta_units, variance_pct, recorded_at)
  SELECT current_date, c.channel_id, count(p.sku),
         count(*) FILTER (WHERE p.status = 'in_sync'),
         count(*) FILTER (WHERE p.status = 'oversell_risk'),
         count(*) FILTER (WHERE p.status = 'undersell'),
         count(*) FILTER (WHERE p.status = 'pending'),
         count(*) FILTER (WHERE p.status = 'unknown'),
         coalesce(sum(p.source_qty) FILTER (WHERE p.channel_qty IS NOT NULL), 0),
         coalesce(sum(abs(p.qty_delta)), 0),
         round(100.0 * sum(abs(p.qty_delta)) / nullif(sum(p.source_qty) FILTER (WHERE p.channel_qty IS NOT NULL), 0), 3),
         now()
    FROM channel_sync.channels c
    LEFT JOIN channel_sync.parity p ON p.channel_id = c.channel_id
   GROUP BY c.channel_id
  ON CONFLICT (day, channel_id) DO UPDATE SET
    listings = EXCLUDED.listings, in_sync = EXCLUDED.in_sync, oversell_risk = EXCLUDED.oversell_risk,
    undersell = EXCLUDED.undersell, pending = EXCLUDED.pending, unknown = EXCLUDED.unknown,
    source_units = EXCLUDED.source_units, abs_delta_units = EXCLUDED.abs_delta_units,
    variance_pct = EXCLUDED.variance_pct, recorded_at = EXCLUDED.recorded_at;
  GET DIAGNOSTICS recorded = ROW_COUNT;
  RETURN recorded;
END
$$;
COMMENT ON FUNCTION channel_sync.snapshot_parity() IS
  'Records today''s parity per channel into parity_history and returns the number of channels recorded. Idempotent per day: a second run the same day replaces that day''s rows (schedule it with pg_cron, e.g. every hour or at 23:55).';

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
COMMENT ON VIEW channel_sync.reconciliation_daily IS
  'Per day (session TimeZone) and channel: inbound events by status, orders and units, and the parity recorded that day by snapshot_parity() (NULL on days without a snapshot).';
COMMENT ON COLUMN channel_sync.reconciliation_daily.day IS 'Day of events.received_at, orders.placed_at and parity_history.day.';
COMMENT ON COLUMN channel_sync.reconciliation_daily.channel_id IS 'The channel.';
COMMENT ON COLUMN channel_sync.reconciliation_daily.events IS 'Inbound event rows received that day (every status).';
COMMENT ON COLUMN channel_sync.reconciliation_daily.applied IS 'Events applied.';
COMMENT ON COLUMN channel_sync.reconciliation_daily.duplicates IS 'Duplicate deliveries (events.duplicates plus rows with status duplicate).';
COMMENT ON COLUMN channel_sync.reconciliation_daily.conflicts IS 'Events with status conflict (a key reused with other content).';
COMMENT ON COLUMN channel_sync.reconciliation_daily.stale IS 'Events with status stale.';
COMMENT ON COLUMN channel_sync.reconciliation_daily.rejected IS 'Events with status rejected (any reason).';
COMMENT ON COLUMN channel_sync.reconciliation_daily.unmatched IS 'Rejected events whose detail names an unknown SKU, alias or external id (fix the catalog, then replay).';
COMMENT ON COLUMN channel_sync.reconciliation_daily.orders IS 'Orders placed that day.';
COMMENT ON COLUMN channel_sync.reconciliation_daily.units IS 'Units reserved by those orders (sum of order_lines.qty; a bundle counts its component units).';
COMMENT ON COLUMN channel_sync.reconciliation_daily.oversold_orders IS 'Of those orders, the ones the truth could not cover.';
COMMENT ON COLUMN channel_sync.reconciliation_daily.listings IS 'Listings at the day''s parity snapshot.';
COMMENT ON COLUMN channel_sync.reconciliation_daily.in_sync IS 'Listings in_sync at the snapshot.';
COMMENT ON COLUMN channel_sync.reconciliation_daily.oversell_risk IS 'Listings at oversell_risk at the snapshot.';
COMMENT ON COLUMN channel_sync.reconciliation_daily.abs_delta_units IS 'sum |channel qty - source qty| at the snapshot.';
COMMENT ON COLUMN channel_sync.reconciliation_daily.source_units IS 'sum source qty (listings with a known channel qty) at the snapshot.';
COMMENT ON COLUMN channel_sync.reconciliation_daily.variance_pct IS 'Reconciliation variance: 100 x abs_delta_units / source_units.';
COMMENT ON COLUMN channel_sync.reconciliation_daily.variance_band IS 'Band of variance_pct against health_thresholds reconciliation_variance.';

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
COMMENT ON VIEW channel_sync.exceptions IS
  'One queue of everything that needs a person. Kinds and severities: oversold_order (critical; open orders, state placed or partially_shipped, marked oversold), negative_stock (critical; reserved > on_hand at a location), propagation_gap (critical when the change never reached the outbox, high when waiting > 4 x lag_target, else medium; dead ones are listed as dead_message), dead_message (high), rejected_event (high; until replayed), conflict (medium; received in the last 7 days). Order by severity_rank, since.';
COMMENT ON COLUMN channel_sync.exceptions.kind IS 'oversold_order, negative_stock, propagation_gap, dead_message, rejected_event or conflict.';
COMMENT ON COLUMN channel_sync.exceptions.severity IS 'critical, high or medium (see the view comment).';
COMMENT ON COLUMN channel_sync.exceptions.severity_rank IS '1 critical, 2 high, 3 medium: ORDER BY severity_rank, since.';
COMMENT ON COLUMN channel_sync.exceptions.since IS 'When the problem started: order placed, first unacknowledged change, event received; NULL for negative_stock (stock rows carry no time).';
COMMENT ON COLUMN channel_sync.exceptions.channel_id IS 'The channel concerned (NULL for negative_stock).';
COMMENT ON COLUMN channel_sync.exceptions.sku IS 'The SKU concerned (sold SKUs of an order, comma separated; NULL for events).';
COMMENT ON COLUMN channel_sync.exceptions.key IS 'The key to act on, as jsonb: order (channel_id, order_id), stock (sku, location_id), listing (channel_id, sku, message_id), message_id or event_id.';
COMMENT ON COLUMN channel_sync.exceptions.detail IS 'What is wrong, in one sentence.';
COMMENT ON COLUMN channel_sync.exceptions.action IS 'What to do about it.';

-- ==== src/security/grants.sql
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
  channel_sync.ack(bigint, integer),
  channel_sync.fail(bigint, text, interval),
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
