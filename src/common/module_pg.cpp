// The shared library's entry: module magic, GUC prefix, and the boundary self-test
// used by the regression suite to prove errors cross the C/C++ boundary intact.
#include "common/boundary.hpp"
#include "allocation/targets_pg.hpp"
#include "propagation/notifier_pg.hpp"
#include "propagation/stock_writes_pg.hpp"

#include <memory>
#include <vector>

extern "C" {
#include "utils/guc.h"
PG_MODULE_MAGIC;
void _PG_init(void);
}

void _PG_init(void) {
  cs::allocation::init_allocation();
  cs::propagation::init_notifier();
  cs::propagation::init_triggers();
  MarkGUCPrefixReserved("channel_sync");
}

namespace {

// Counts destructor runs of the resource the self-test holds while PostgreSQL errs.
int resources_released = 0;

struct counted_resource {
  std::vector<int> payload = std::vector<int>(1024, 7);
  ~counted_resource() { ++resources_released; }
};

// Makes PostgreSQL raise invalid_text_representation from inside the guard.
void raise_postgres_error() {
  cs::pg::guard([] { return DirectFunctionCall1(int4in, CStringGetDatum("not a number")); });
}

}  // namespace

// _boundary_selftest(mode text) raises each kind of error the boundary handles, or
// returns how many C++ resources were released while errors unwound.
CS_FUNCTION(_boundary_selftest) {
  std::string mode = cs::pg::text_to_string(PG_GETARG_DATUM(0));
  auto resource = std::make_unique<counted_resource>();
  if (mode == "user_error")
    throw cs::user_error(cs::sqlstate::kInvalidParameterValue, "self-test user error",
                         "This detail came from C++.", "This hint came from C++.");
  if (mode == "std_exception") throw std::runtime_error("self-test std::exception");
  if (mode == "bad_alloc") throw std::bad_alloc();
  if (mode == "postgres_error") raise_postgres_error();
  if (mode == "released") PG_RETURN_INT32(resources_released);
  throw cs::user_error(cs::sqlstate::kInvalidParameterValue,
                       "unknown self-test mode \"" + mode + "\"");
}
