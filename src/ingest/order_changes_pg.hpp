// Cancellations, shipments and returns of placed orders without SQL: the order and its lines
// locked as SELECT ... FOR UPDATE locks them, the lines' counters and the order's state
// updated in place (cs::pg::row_updater), as the UPDATE statements would. The statements ran
// six foreign-key checks an event on lines and orders this transaction placed (PostgreSQL
// checks every row its transaction wrote again); an unchanged reference needs none here
// (table_access_pg.cpp: foreign_keys_to_check). Plain C frames: call through cs::pg::guard.
#pragma once

#include "common/pg_headers.hpp"

extern "C" {
#include "utils/timestamp.h"
}

namespace cs::ingest::pg {

// Whether orders and order_lines may be written in place (triggers_allow_direct_writes for
// both); otherwise the caller locks, reads and writes them with SQL.
bool order_changes_direct();

// Locks the order of channel FOR UPDATE; its state (palloc'd), or nullptr when the channel has
// no such order.
char* lock_order(const char* channel, const char* order_id);

// A line of an order as lock_order_lines read it (strings palloc'd).
struct locked_line {
  int32 line_no;
  char* sku;
  char* location_id;
  char* sold_sku;
  int32 units_per_sold, qty, shipped, cancelled, returned;
};

// Locks the lines of an order FOR UPDATE, in line_no order (palloc'd array of *n).
void lock_order_lines(const char* channel, const char* order_id, locked_line** out, int* n);

// What one line of an order gains: units shipped, cancelled and returned.
struct line_delta {
  int32 line_no;
  int32 shipped, cancelled, returned;
};

// Adds the deltas to the order's (locked) lines and sets its state, and updated_at to the
// later of updated_at and at.
void write_order_change(const char* channel, const char* order_id, const line_delta* deltas, int n,
                        const char* state, TimestampTz at);

}  // namespace cs::ingest::pg
