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
