// The orders and stock an ingest_batch() call locks once it has claimed its keys
// (batch_keys_pg.hpp). A batch applies its steps one after the other -- each run of consecutive
// order_placed events set-based, each other event alone -- and each step locks the orders and then
// the stock rows it changes, each in key order. Two batches whose steps lock shared rows in other
// orders (a connector's orders interleaved with its adjustments, another's with its cancellations)
// would deadlock; so a batch of more than one step that touches stock or observes a listing first
// locks, in key order, every existing order its events name and then every stock row they may lock,
// before it applies anything. Its re-target comes at its end, while an observation writes its
// listing as its step comes: a batch that observes listings then takes the re-target locks of the
// SKUs it observes and of those whose stock it may change (and of their bundles;
// cs::propagation::lock_for_retarget_of), as every re-target takes them before it writes a listing,
// and locks the listings it observes, SKU by SKU in byte order, as a re-target writes them and
// ack_batch() locks them. Else a stock change elsewhere re-targeting one of those SKUs held its re-
// target lock and waited for a listing the batch had written, while the batch waited for a listing
// the re-target had written or, at its own re-target, for that lock.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

#include "ingest/context_pg.hpp"
#include "ingest/keys_pg.hpp"

namespace cs::ingest::glue {

// The steps of a batch, in order: [from, to) each, a run of two or more consecutive valid
// order_placed events or a single event.
std::vector<std::pair<size_t, size_t>> batch_steps(const std::vector<prepared>& ready);

// Locks the orders, stock rows and listings the batch's claimed events (ids[i] != 0) may lock,
// when more than one step touches stock or observes a listing; else
// nothing: one step locks its rows in key order by itself.
void lock_batch_rows(call_context& cx, const std::vector<prepared>& ready,
                     const std::vector<int64_t>& ids,
                     const std::vector<std::pair<size_t, size_t>>& steps);

}  // namespace cs::ingest::glue
