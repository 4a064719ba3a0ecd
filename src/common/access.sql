-- Channel-scoped access: a connector acts only for channels whose connector_role it is a
-- member of. Called first thing by every SECURITY DEFINER function that takes a channel.

CREATE FUNCTION channel_sync._outer_user() RETURNS oid
  LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', '_outer_user';
COMMENT ON FUNCTION channel_sync._outer_user() IS 'Internal: the calling role as seen outside SECURITY DEFINER functions (SET ROLE respected).';

CREATE FUNCTION channel_sync._assert_channel_access(p_channel_id text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  caller oid := channel_sync._outer_user();
  role_name name;
BEGIN
  IF p_channel_id IS NULL THEN
    RAISE EXCEPTION 'channel_id must not be null' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  SELECT c.connector_role INTO role_name FROM channel_sync.channels c WHERE c.channel_id = p_channel_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'channel "%" does not exist', p_channel_id
      USING ERRCODE = 'undefined_object', HINT = 'Channels are rows of channel_sync.channels.';
  END IF;
  IF (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.oid = caller)
     OR pg_catalog.pg_has_role(caller, 'channel_sync_admin', 'MEMBER') THEN
    RETURN;
  END IF;
  IF role_name IS NOT NULL AND EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname = role_name)
     AND pg_catalog.pg_has_role(caller, role_name, 'MEMBER') THEN
    RETURN;
  END IF;
  RAISE EXCEPTION 'permission denied for channel "%"', p_channel_id
    USING ERRCODE = 'insufficient_privilege',
          DETAIL = pg_catalog.format('Role "%s" is not a member of the channel''s connector_role %s.',
                                     (SELECT r.rolname FROM pg_catalog.pg_roles r WHERE r.oid = caller),
                                     coalesce(pg_catalog.quote_ident(role_name), '(none set)'));
END
$$;
COMMENT ON FUNCTION channel_sync._assert_channel_access(text) IS 'Internal: raises insufficient_privilege unless the caller is superuser, channel_sync_admin, or a member of the channel''s connector_role.';
