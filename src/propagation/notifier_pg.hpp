// Waking the listeners of a channel that has new outbox work: NOTIFY channel_sync in the
// changing transaction (channel_sync.notify_mode = transaction), or, batched, a mark that a
// background worker turns into one NOTIFY per channel per channel_sync.notify_interval after
// the transaction committed (see notifier_pg.cpp).
#pragma once

namespace cs::propagation {

// GUCs, the transaction callback and, when loaded by shared_preload_libraries, the shared
// memory of the batched notifier. Called by _PG_init.
void init_notifier();

// Wakes channel_id's listeners once the current transaction commits. Plain C frame: may
// ereport (callers from C++ wrap it in cs::pg::guard).
void wake_listeners(const char* channel_id);

}  // namespace cs::propagation
