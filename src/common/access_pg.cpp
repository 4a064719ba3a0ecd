// Who is calling, and may they act for a channel. SECURITY DEFINER functions run as the
// extension's owner, so the check reads the role outside them (GetOuterUserId: SET ROLE
// respected). Written in C++ because every connector call pays for it.
#include "common/boundary.hpp"
#include "common/access_pg.hpp"
#include "common/table_access_pg.hpp"

extern "C" {
#include "utils/acl.h"
}

#include <string>

namespace {

// The channel's connector_role, or "" when it has none; false when the channel is unknown
// (a direct primary-key lookup: every connector call pays for it).
bool load_connector_role(const std::string& channel_id, std::string* role) {
  const char* id = channel_id.c_str();
  bool found = false;
  const char* value = cs::pg::guard([&] {
    return cs::pg::text_by_unique_key("channels", "channels_pkey", id, "connector_role", &found);
  });
  if (!found) return false;
  *role = value == nullptr ? "" : value;
  return true;
}

// True when role_oid is a member of the role named name (which may not exist).
bool is_member_of(Oid role_oid, const char* name) {
  return cs::pg::guard([&] {
    Oid group = get_role_oid(name, true);
    return OidIsValid(group) && is_member_of_role(role_oid, group);
  });
}

// The name of a role, for messages.
std::string role_name(Oid role_oid) {
  const char* name = cs::pg::guard([&] { return GetUserNameFromId(role_oid, true); });
  return name == nullptr ? "?" : name;
}

// The connector_role as the message shows it: quoted like an identifier, or "(none set)".
std::string shown_role(const std::string& role) {
  if (role.empty()) return "(none set)";
  const char* r = role.c_str();
  return cs::pg::guard([&] { return quote_identifier(r); });
}

}  // namespace

// _outer_user() returns the role that called into channel_sync (SET ROLE respected).
CS_FUNCTION(_outer_user) {
  (void)fcinfo;
  return ObjectIdGetDatum(GetOuterUserId());
}

// _assert_channel_access(channel_id) raises insufficient_privilege unless the caller is
// superuser, a member of channel_sync_admin, or a member of the channel's connector_role.
namespace cs::pg {

void assert_channel_access(const std::string& channel_id) {
  std::string role;
  if (!load_connector_role(channel_id, &role))
    throw cs::user_error(cs::sqlstate::kUndefinedObject,
                         "channel \"" + channel_id + "\" does not exist", "",
                         "Channels are rows of channel_sync.channels.");
  Oid caller = GetOuterUserId();
  bool allowed = cs::pg::guard([&] { return superuser_arg(caller); }) ||
                 is_member_of(caller, "channel_sync_admin") ||
                 (!role.empty() && is_member_of(caller, role.c_str()));
  if (!allowed)
    throw cs::user_error(cs::sqlstate::kInsufficientPrivilege,
                         "permission denied for channel \"" + channel_id + "\"",
                         "Role \"" + role_name(caller) +
                             "\" is not a member of the channel's connector_role " +
                             shown_role(role) + ".");
}

}  // namespace cs::pg

CS_FUNCTION(_assert_channel_access) {
  if (PG_ARGISNULL(0))
    throw cs::user_error(cs::sqlstate::kNullValueNotAllowed, "channel_id must not be null");
  cs::pg::assert_channel_access(cs::pg::text_to_string(PG_GETARG_DATUM(0)));
  PG_RETURN_VOID();
}
