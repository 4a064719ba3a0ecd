// The keys of an ingest_batch() call, claimed before the call locks anything else. Every call
// takes its locks in one order: its events' keys (inserted, or the first delivery's row counted
// as a duplicate or pointed at by a conflict), in key order; then orders, stock and the rows the
// stock's changes re-target. A batch that claimed key by key as it applied its steps waited for a
// key while holding stock another session, holding that key, waited for (40P01).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "ingest/context_pg.hpp"
#include "ingest/keys_pg.hpp"

namespace cs::ingest::glue {

struct batch_claim {
  // the new event id of a key's first delivery in the batch; 0 for every other delivery
  std::vector<int64_t> ids;
  // >= 0: the delivery repeats that one of the batch (same content) and was counted as its
  // duplicate when that one was inserted
  std::vector<long> same_as;
  // the outcome of a delivery whose key was taken before the batch: a duplicate or a conflict
  std::vector<std::optional<outcome>> taken;
  bool direct = false;  // the events were inserted without SQL (write_events)
};

// Claims every key of the batch in key order and answers the deliveries of keys taken before.
batch_claim claim_batch_keys(call_context& cx, const std::vector<prepared>& ready);

// The outcomes of the deliveries the claim left open: repeats of a key the batch claimed, once
// the batch has applied the key's first delivery (results[i] for ready[i]).
void answer_repeats(call_context& cx, const std::vector<prepared>& ready, const batch_claim& claim,
                    std::vector<outcome>& results);

}  // namespace cs::ingest::glue
