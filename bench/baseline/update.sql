-- One single-row UPDATE per transaction on a stock-shaped table (text key), no trigger.
\set n random(1, :rows)
UPDATE baseline_stock SET on_hand = on_hand + 1 WHERE sku = 'sku-' || lpad(:n::text, 7, '0');
