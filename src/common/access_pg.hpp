// May the caller act for a channel: the check every connector-facing function makes.
#pragma once

#include <string>

namespace cs::pg {

// Raises undefined_object for an unknown channel and insufficient_privilege unless the
// caller (SET ROLE respected) is a superuser, a member of channel_sync_admin or of the
// channel's connector_role. C++: throws cs::user_error.
void assert_channel_access(const std::string& channel_id);

}  // namespace cs::pg
