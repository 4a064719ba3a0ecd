// The one way glue code includes PostgreSQL: the server headers it needs, then the
// macros PostgreSQL defines over libc names undone before any C++ or Boost header
// (port.h maps snprintf, printf, unlink, bind... to its own versions).
#pragma once

extern "C" {
#include "postgres.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/elog.h"
#include "utils/memutils.h"
}

#undef vsnprintf
#undef snprintf
#undef vsprintf
#undef sprintf
#undef vfprintf
#undef fprintf
#undef vprintf
#undef printf
#undef unlink
#undef bind
#undef gettext
#undef dgettext
#undef ngettext
#undef dngettext
