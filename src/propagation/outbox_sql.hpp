// The outbox upsert, shared by the listings trigger and retarget's direct writer.
#pragma once

// Upserts the outbox message of every listing whose target_version moved. A dead message
// is revived (pending, attempts reset, enqueued_at now) and keeps its first_change_at; a
// message claimed before this change remembers when the first change after the claim
// happened. An older version never replaces a newer one. Returns, per row, the channel to
// wake, or NULL when the change was coalesced into a message still waiting to be claimed:
// its listeners were woken when it was written, so waking them again is only cost (a
// NOTIFY serializes commits cluster-wide).
#define CS_UPSERT_OUTBOX(changed_rows)                                                            \
  "INSERT INTO channel_sync.outbox AS o (channel_id, sku, qty, price, version, "                  \
  "first_change_at) " changed_rows                                                                \
  " ON CONFLICT (channel_id, sku) DO UPDATE SET qty = excluded.qty, price = excluded.price,"      \
  " version = excluded.version, status = 'pending',"                                              \
  " attempts = CASE WHEN o.status = 'dead' THEN 0 ELSE o.attempts END,"                           \
  " enqueued_at = CASE WHEN o.status = 'dead' THEN pg_catalog.now() ELSE o.enqueued_at END,"      \
  " next_attempt_at = CASE WHEN o.status = 'dead' THEN '-infinity' ELSE o.next_attempt_at "       \
  "END,"                                                                                          \
  " changed_after_claim_at = CASE WHEN o.claimed_version IS NOT NULL"                             \
  " THEN coalesce(o.changed_after_claim_at, excluded.first_change_at) END"                        \
  " WHERE excluded.version > o.version"                                                           \
  " RETURNING CASE WHEN o.enqueued_at = pg_catalog.now() OR o.changed_after_claim_at IS NOT NULL" \
  " THEN o.channel_id END"
