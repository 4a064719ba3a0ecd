-- The source of truth: channels, locations, SKUs, stock, channel aliases and prices,
-- allocation rules and the listings each channel should show.
--
-- Identifiers (channel, location, SKU, external, order and idempotency keys) are COLLATE "C"
-- since 0.4.0: they are codes, compared and sorted byte by byte as the marketplaces compare
-- them, their B-trees skip the locale's strcoll() on every comparison, and an operating-system
-- upgrade that changes the locale's sort order cannot corrupt their indexes.
-- (upgrade/channel_sync--0.3.0--0.4.0.sql alters the columns of earlier installs.)

CREATE TABLE channel_sync.channels (
  channel_id     text COLLATE "C" PRIMARY KEY
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
  location_id text COLLATE "C" PRIMARY KEY
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
  channel_id  text COLLATE "C" NOT NULL REFERENCES channel_sync.channels ON DELETE CASCADE,
  location_id text COLLATE "C" NOT NULL REFERENCES channel_sync.locations ON DELETE CASCADE,
  PRIMARY KEY (channel_id, location_id)
);
COMMENT ON TABLE channel_sync.channel_locations IS 'Which locations feed a channel; a channel with no row here is fed by every active location.';

CREATE TABLE channel_sync.skus (
  sku        text COLLATE "C" PRIMARY KEY
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
  channel_id text COLLATE "C" NOT NULL REFERENCES channel_sync.channels ON DELETE CASCADE,
  sku        text COLLATE "C" NOT NULL REFERENCES channel_sync.skus ON DELETE CASCADE,
  price      numeric(12, 2) NOT NULL CONSTRAINT channel_price_not_negative CHECK (price >= 0),
  PRIMARY KEY (channel_id, sku)
);
COMMENT ON TABLE channel_sync.channel_prices IS 'A channel''s own price for a SKU; without a row the SKU''s base_price applies.';
COMMENT ON COLUMN channel_sync.channel_prices.price IS 'Listed price on this channel.';

CREATE TABLE channel_sync.bundle_components (
  bundle_sku    text COLLATE "C" NOT NULL REFERENCES channel_sync.skus ON DELETE CASCADE,
  component_sku text COLLATE "C" NOT NULL REFERENCES channel_sync.skus ON DELETE RESTRICT,
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
  channel_id  text COLLATE "C" NOT NULL REFERENCES channel_sync.channels ON DELETE CASCADE,
  external_id text COLLATE "C" NOT NULL
              CONSTRAINT external_id_format CHECK (external_id <> '' AND pg_catalog.length(external_id) <= 255),
  sku         text COLLATE "C" NOT NULL REFERENCES channel_sync.skus ON DELETE CASCADE,
  PRIMARY KEY (channel_id, external_id),
  CONSTRAINT one_alias_per_channel_sku UNIQUE (channel_id, sku)
);
COMMENT ON TABLE channel_sync.sku_aliases IS 'The channel''s own id (ASIN, listing id, item id…) for a canonical SKU.';
COMMENT ON COLUMN channel_sync.sku_aliases.external_id IS 'The id the channel uses in its events and API.';

CREATE TABLE channel_sync.stock (
  sku          text COLLATE "C" NOT NULL REFERENCES channel_sync.skus ON DELETE CASCADE,
  location_id  text COLLATE "C" NOT NULL REFERENCES channel_sync.locations ON DELETE CASCADE,
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
  channel_id       text COLLATE "C" NOT NULL REFERENCES channel_sync.channels ON DELETE CASCADE,
  sku              text COLLATE "C" REFERENCES channel_sync.skus ON DELETE CASCADE,
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
  channel_id      text COLLATE "C" NOT NULL REFERENCES channel_sync.channels ON DELETE CASCADE,
  sku             text COLLATE "C" NOT NULL REFERENCES channel_sync.skus ON DELETE CASCADE,
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
  channel_id      text COLLATE "C" NOT NULL REFERENCES channel_sync.channels ON DELETE CASCADE,
  sku             text COLLATE "C" NOT NULL REFERENCES channel_sync.skus ON DELETE CASCADE,
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
  channel_id      text COLLATE "C" NOT NULL,
  sku             text COLLATE "C" NOT NULL,
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
  channel_id        text COLLATE "C" NOT NULL REFERENCES channel_sync.channels ON DELETE CASCADE,
  idempotency_key   text COLLATE "C" NOT NULL CONSTRAINT idempotency_key_format CHECK (idempotency_key <> '' AND pg_catalog.length(idempotency_key) <= 255),
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
  channel_id  text COLLATE "C" NOT NULL REFERENCES channel_sync.channels ON DELETE CASCADE,
  order_id    text COLLATE "C" NOT NULL CONSTRAINT order_id_format CHECK (order_id <> '' AND pg_catalog.length(order_id) <= 255),
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
  channel_id    text COLLATE "C" NOT NULL,
  order_id      text COLLATE "C" NOT NULL,
  line_no       integer NOT NULL,
  sku           text COLLATE "C" NOT NULL REFERENCES channel_sync.skus,
  location_id   text COLLATE "C" NOT NULL REFERENCES channel_sync.locations,
  qty           integer NOT NULL CONSTRAINT order_line_qty_positive CHECK (qty > 0),
  qty_shipped   integer NOT NULL DEFAULT 0 CONSTRAINT qty_shipped_range CHECK (qty_shipped BETWEEN 0 AND qty),
  qty_cancelled integer NOT NULL DEFAULT 0 CONSTRAINT qty_cancelled_range CHECK (qty_cancelled BETWEEN 0 AND qty),
  qty_returned  integer NOT NULL DEFAULT 0 CONSTRAINT qty_returned_range CHECK (qty_returned BETWEEN 0 AND qty_shipped),
  sold_sku      text COLLATE "C" NOT NULL,
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
