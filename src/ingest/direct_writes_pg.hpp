// Events, orders and order lines written without SQL: the hot path of ingest() and
// ingest_batch(). An INSERT of an event, an order and its line runs six foreign-key checks,
// each an SPI query, and compiles the tables' CHECK constraints; here the rows are inserted
// directly (table_access_pg.hpp) and only the referenced rows another transaction could delete
// are locked, once per call: the channel, each SKU and each location. An order's event and
// the order itself are rows this transaction inserted or holds locked. Plain C frames: call
// through cs::pg::guard.
#pragma once

#include "common/pg_headers.hpp"

extern "C" {
#include "utils/timestamp.h"
#include "utils/uuid.h"
}

namespace cs::ingest::pg {

// The first delivery of an event (first_event_id NULL, no duplicates yet).
struct event_row {
  const char* key;
  const char* type;
  Datum payload;  // jsonb
  TimestampTz occurred_at;
  const pg_uuid_t* fingerprint;
  const char* status;
  const char* detail;  // nullptr: NULL
  int32 duplicates;    // deliveries of it already counted (later ones in the same batch)
};

// Inserts first deliveries of events of channel (ON CONFLICT on events_first_delivery_key DO
// NOTHING), ids drawn in the order given, rows in key order (so concurrent calls take the keys in
// one order): ids[k] the new event's id, 0 where the key is taken. Keys are distinct.
// Returns false, having written nothing, when events carries a user's trigger, column or
// policy: the caller then writes with SQL.
bool write_events(const char* channel, const event_row* events, int n, int64* ids);

// A key taken by an earlier event, delivered again (n times, with these fingerprints), and
// what its first delivery is.
struct taken_key {
  const char* key;
  const pg_uuid_t* const* fingerprints;
  const pg_uuid_t* const* legacy_fingerprints;  // as an earlier library had them, or nullptr
  int n;
  bool found;             // out: the key's first delivery exists
  int64 event_id;         // out: its event id
  char* status;           // out: its status (palloc'd)
  pg_uuid_t fingerprint;  // out: its fingerprint; a delivery with the same one is a duplicate
};

// Finds the first delivery of each taken key of channel (distinct keys) and bumps its
// duplicates counter by the number of deliveries with its fingerprint, in place (row_updater:
// triggers, constraints, a concurrent bump waited for and redone). Returns false, having
// written nothing, when events may not be updated in place (a user's statement trigger, a
// transition table or row-level security): the caller then uses SQL.
bool count_duplicates(const char* channel, taken_key* keys, int n);

// Sets status[k] and detail[k] (nullptr: NULL) of event ids[k], k < n: first deliveries
// this call inserted with write_events, in place (row_updater; their channel is locked, so no
// foreign-key check is queued for them). Returns false, having written nothing, when events
// may not be updated in place (as count_duplicates): the caller then uses SQL.
bool set_statuses(const int64* ids, const char* const* statuses, const char* const* details, int n);

struct order_row {
  const char* order_id;
  bool oversold;
  TimestampTz at;  // placed_at and updated_at
  int64 event_id;  // an event this transaction inserted or holds locked
};

struct line_row {
  int order;  // index into the orders
  int32 line_no;
  const char* sku;
  const char* location_id;
  int32 qty;
  const char* sold_sku;
  int32 units_per_sold;
};

// Inserts the orders of channel (ON CONFLICT (channel_id, order_id) DO NOTHING: placed[k]
// false where the order exists) and the lines of the orders it placed. Returns false, having
// written nothing, when orders or order_lines carry a trigger, column or policy of a user's:
// the caller then writes with SQL.
bool write_orders(const char* channel, const order_row* orders, int n, const line_row* lines,
                  int nlines, bool* placed);

// A change of one stock row: on_hand += on_hand_delta, reserved = max(0, reserved +
// reserved_delta), as ingest's UPDATE statement sets them.
struct stock_delta {
  const char* sku;
  const char* location_id;
  int32 on_hand_delta, reserved_delta;
  ItemPointerData at;  // where the caller locked the row (invalid: unknown; found by key)
  // out: written (directly; its SKU to re-target if the row changed), missing (no such row),
  // or to_sql (the UPDATE statement must write it: it would fail a constraint or overflow)
  enum { written, missing, to_sql } outcome;
  bool changed;  // out, when written: on_hand or reserved moved
};

// Updates stock rows in place (row_updater) under READ COMMITTED, when stock carries only
// channel_sync's triggers (stock_triggers_as_installed) and no row-level security applies; the
// caller then re-targets the changed SKUs (retarget_changed_stock). Returns false, having
// written nothing, otherwise.
bool update_stock(stock_delta* deltas, int n);

}  // namespace cs::ingest::pg
