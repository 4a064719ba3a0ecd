// A run of order_placed events in ingest_batch(), set-based: its keys claimed with the batch's,
// a few queries read (and lock) everything the run's claimed events depend on, the run is applied
// in order to an in-memory copy of the stock, and one statement per table writes it. The outcome of
// each event is the one ingest() would give in the same order.
#pragma once

#include <cstddef>
#include <vector>

#include "ingest/context_pg.hpp"
#include "ingest/batch_keys_pg.hpp"
#include "ingest/keys_pg.hpp"

namespace cs::ingest::glue {

// Applies the order_placed events all[from, to) whose keys the batch claimed: results[i] for
// all[i] (the others are answered with the batch's claim).
void ingest_order_run(call_context& cx, const std::vector<prepared>& all, size_t from, size_t to,
                      const batch_claim& claim, std::vector<outcome>& results);

}  // namespace cs::ingest::glue
