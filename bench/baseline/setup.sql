-- The bare tables of the baseline: no extension objects, no trigger. :rows SKUs.
DROP TABLE IF EXISTS baseline_stock, baseline_log;
CREATE TABLE baseline_stock (sku text PRIMARY KEY, on_hand integer NOT NULL);
CREATE TABLE baseline_log (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  sku text NOT NULL,
  qty integer NOT NULL,
  at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
INSERT INTO baseline_stock SELECT 'sku-' || lpad(g::text, 7, '0'), 100 FROM generate_series(1, :rows) AS g;
VACUUM ANALYZE baseline_stock;
CHECKPOINT;
