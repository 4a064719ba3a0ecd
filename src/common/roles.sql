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
