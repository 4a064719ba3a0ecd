// Who is calling, and may they act for a channel. SECURITY DEFINER functions run as the
// extension's owner, so the check reads the role outside them (GetOuterUserId: SET ROLE
// respected). Written in C++ because every connector call pays for it.
#include "common/boundary.hpp"
#include "common/spi_pg.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/acl.h"
}

#include <string>

namespace {

// The channel's connector_role, or "" when it has none; false when the channel is unknown.
bool load_connector_role(const std::string& channel_id, std::string* role) {
  static SPIPlanPtr plan = nullptr;
  const char* id = channel_id.c_str();
  const char* found_role = nullptr;
  int rows = cs::pg::guard([&] {
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "channel_sync: SPI_connect failed");
    if (plan == nullptr) {
      Oid types[1] = {TEXTOID};
      plan = cs::pg::prepare_kept_plan(
          "SELECT c.connector_role::text FROM channel_sync.channels AS c"
          " WHERE c.channel_id OPERATOR(pg_catalog.=) $1",
          1, types);
    }
    Datum args[1] = {CStringGetTextDatum(id)};
    if (SPI_execute_plan(plan, args, nullptr, true, 1) != SPI_OK_SELECT)
      elog(ERROR, "channel_sync: channel lookup failed");
    int n = static_cast<int>(SPI_processed);
    if (n > 0) {
      char* value = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
      found_role = value == nullptr ? nullptr : MemoryContextStrdup(TopTransactionContext, value);
    }
    SPI_finish();
    return n;
  });
  if (rows == 0) return false;
  *role = found_role == nullptr ? "" : found_role;
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
CS_FUNCTION(_assert_channel_access) {
  if (PG_ARGISNULL(0))
    throw cs::user_error(cs::sqlstate::kNullValueNotAllowed, "channel_id must not be null");
  std::string channel_id = cs::pg::text_to_string(PG_GETARG_DATUM(0));
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
  PG_RETURN_VOID();
}
