-- since: 0.3.0
-- Every stock change rewrites the SKU's stock row, its listings and its outbox messages. On
-- a full page the new version goes to another page and every index of the table gets a new
-- entry; with room left on the page it stays there (a HOT update: no index entry, less WAL,
-- no index bloat). A batch of orders, one transaction, cannot reuse space its own updates
-- freed, so it needs the room most.
ALTER TABLE channel_sync.stock SET (fillfactor = 70);
ALTER TABLE channel_sync.listings SET (fillfactor = 70);
ALTER TABLE channel_sync.outbox SET (fillfactor = 70);
