-- since: 0.4.0
-- A dynamic buffer's velocity is the units a channel sold of the SKU over the trailing window.
-- Each line carries its order's placed_at, so a re-target reads the SKU's lines in the window
-- through order_lines (sku, placed_at), not every line the SKU was ever sold on.
ALTER TABLE channel_sync.order_lines ADD COLUMN placed_at timestamptz;
COMMENT ON COLUMN channel_sync.order_lines.placed_at IS 'placed_at of the order, written with the line (NULL on a line written without it: its order''s is used).';
DROP INDEX channel_sync.order_lines_sku_idx;
CREATE INDEX order_lines_sku_idx ON channel_sync.order_lines (sku, placed_at);
-- An event's status and detail are written after its row (an oversold order, a rejection in a
-- batch, a duplicate's counter): 15 % of each page of events is left free so that second
-- version fits beside the first (a HOT update) instead of adding an entry to every index.
ALTER TABLE channel_sync.events SET (fillfactor = 85);
-- A re-target writes the messages of a SKU's listings together: with the SKU first in the
-- outbox's key, one index scan finds all of them (not one descent per channel). requeue_dead()
-- finds a channel's dead messages through their own small index.
ALTER TABLE channel_sync.outbox DROP CONSTRAINT one_message_per_listing,
  ADD CONSTRAINT one_message_per_listing UNIQUE (sku, channel_id);
CREATE INDEX outbox_dead_idx ON channel_sync.outbox (channel_id) WHERE status = 'dead';
