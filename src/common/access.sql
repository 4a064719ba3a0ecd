-- Channel-scoped access: a connector acts only for channels whose connector_role it is a
-- member of. Called first thing by every SECURITY DEFINER function that takes a channel.

CREATE FUNCTION channel_sync._outer_user() RETURNS oid
  LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', '_outer_user';
COMMENT ON FUNCTION channel_sync._outer_user() IS 'Internal: the calling role as seen outside SECURITY DEFINER functions (SET ROLE respected).';

CREATE FUNCTION channel_sync._assert_channel_access(p_channel_id text) RETURNS void
  LANGUAGE c STABLE AS 'MODULE_PATHNAME', '_assert_channel_access';
COMMENT ON FUNCTION channel_sync._assert_channel_access(text) IS 'Internal: raises insufficient_privilege unless the caller is superuser, channel_sync_admin, or a member of the channel''s connector_role.';
