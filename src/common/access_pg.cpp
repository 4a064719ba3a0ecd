// Who is calling: the role outside any SECURITY DEFINER function, so a definer
// function can check the real caller's right to act for a channel.
#include "common/boundary.hpp"

// _outer_user() returns the role that called into channel_sync (SET ROLE respected).
CS_FUNCTION(_outer_user) {
  (void)fcinfo;
  return ObjectIdGetDatum(GetOuterUserId());
}
