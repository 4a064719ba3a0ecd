// For writers that update rows without an UPDATE statement (ingest's stock, the re-target's
// listings and outbox messages): when that does what the statement would, and what
// channel_sync's stock triggers do after one, so propagation is the same.
#pragma once

#include <string>
#include <vector>

#include "common/pg_headers.hpp"

extern "C" {
#include "utils/rel.h"
}

namespace cs::propagation {

// Whether stock carries channel_sync's own triggers as installed (ENABLE ALWAYS, among them
// retarget_on_update) and no trigger of anyone else's but foreign-key checks (row triggers
// fire through the direct writer, statement triggers would not): only then do direct writes
// followed by retarget_changed_stock() do what an UPDATE statement would. Plain C frame.
bool stock_triggers_as_installed(Relation stock);

// Whether rel (listings, outbox, events) may be written in place: no trigger but channel_sync's
// own and foreign-key checks on INSERT or UPDATE is a statement trigger or has transition
// tables (row triggers fire through the direct writer; those would not), and no row-level
// security applies. Plain C frame.
bool triggers_allow_direct_writes(Relation rel);

// What the stock triggers do for an UPDATE that changed stock rows of these SKUs (at commit,
// through retarget_at_commit; ingest calls it at the end of its call): they and the bundles
// containing them are re-targeted, under the re-target locks.
void retarget_changed_stock(const std::vector<std::string>& skus);

// Takes the re-target locks of these SKUs and of the bundles containing them (those
// retarget_changed_stock(skus) takes), ahead of writing their listings otherwise: every
// re-target holds them before it writes a listing, so a writer locking listings of these SKUs
// first (a batch observing listings) waits for a re-target in progress instead of crossing it.
void lock_for_retarget_of(const std::vector<std::string>& skus);

// Whether rel (a configuration table) carries channel_sync's re-target triggers for INSERT,
// UPDATE and DELETE, enabled ALWAYS: only then does every write to it reach
// cs::allocation::configuration_written(). Plain C frame.
bool retarget_triggers_fire_always(Relation rel);

// Registers the transaction callback that forgets the SKUs left to re-target at commit.
void init_triggers();

}  // namespace cs::propagation
