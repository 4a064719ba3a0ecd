-- One single-row INSERT per transaction into an append-only log (identity key), no trigger.
\set n random(1, :rows)
INSERT INTO baseline_log (sku, qty) VALUES ('sku-' || lpad(:n::text, 7, '0'), 1);
