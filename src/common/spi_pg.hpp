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

// Whether the generic plan of a kept plan reads the table channel_sync.<table> from end to end
// (a sequential scan of it; a plan node this does not know counts as one). A generic plan of
// `col = ANY($1)` made while the table was small does, comparing every row with every element
// of the array, and is kept until the table's statistics change. PostgreSQL-level code: call
// it with SPI connected, inside cs::pg::guard.
bool generic_plan_seq_scans(SPIPlanPtr plan, const char* table);

}  // namespace cs::pg
