// SPI helpers shared by the areas' glue.
#pragma once

#include "common/pg_headers.hpp"

extern "C" {
#include "executor/spi.h"
}

namespace cs::pg {

// Prepares sql and keeps the plan for the rest of the session; raises an ERROR on failure.
// PostgreSQL-level code: call it with SPI connected, inside cs::pg::guard.
inline SPIPlanPtr prepare_kept_plan(const char* sql, int nargs, const Oid* types,
                                    int cursor_options = 0) {
  SPIPlanPtr plan = SPI_prepare_cursor(sql, nargs, const_cast<Oid*>(types), cursor_options);
  if (plan == nullptr)
    elog(ERROR, "channel_sync: SPI_prepare failed: %s: %s", SPI_result_code_string(SPI_result),
         sql);
  if (SPI_keepplan(plan) != 0) elog(ERROR, "channel_sync: SPI_keepplan failed");
  return plan;
}

}  // namespace cs::pg
