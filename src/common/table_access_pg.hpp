// Direct table access for the hot path (a trigger re-targeting a few SKUs): B-tree lookups
// and row updates without planning or starting a SQL executor, the way logical replication's
// apply worker writes rows (execReplication.c). Every function here is PostgreSQL-level C:
// call it inside cs::pg::guard, from a frame that owns nothing with a destructor.
#pragma once

#include "common/pg_headers.hpp"

extern "C" {
#include "access/genam.h"
#include "access/htup.h"
#include "access/relscan.h"
#include "executor/executor.h"
#include "nodes/execnodes.h"
#include "utils/rel.h"
#include "utils/snapshot.h"
}

namespace cs::pg {

// Opens channel_sync.<name> (a table or an index); nullptr when there is no such relation
// (an install older than the code, say): callers then take the SQL path.
Relation open_cs_relation(const char* name, LOCKMODE mode);

// Copies of the rows of heap whose leading index columns equal keys[0..nkeys) (a null key
// matches NULL), visible to snap. out / count: palloc'd in the current memory context.
void fetch_by_key(Relation heap, Relation index, int nkeys, const Datum* keys, const bool* nulls,
                  Snapshot snap, HeapTuple** out, int* count);

// Copies of every row of heap visible to snap (for a table of a page or so), as fetch_by_key.
void fetch_all(Relation heap, Snapshot snap, HeapTuple** out, int* count);

// The snapshot SPI would read with now (after a command counter increment, so the rows of
// the statement that is running are visible), pushed as the active one until
// end_fresh_read().
Snapshot begin_fresh_read();
void end_fresh_read();

// The text of column att of the row of heap whose unique index key is keys[0..n), visible
// to snap, copied into the current memory context; nullptr when there is no such row or the
// value is NULL (found says which).
char* text_by_key(Relation heap, Relation index, int n, const Datum* keys, AttrNumber att,
                  Snapshot snap, bool* found);

// Locks the row of heap whose unique index key is keys[0..n) as SELECT ... FOR UPDATE does
// (FOR KEY SHARE with mode LockTupleKeyShare, as a foreign-key check does): its latest
// version (following a concurrent update, after waiting for its transaction), returned in
// slot; false when there is no such row (or it was deleted meanwhile).
bool lock_row_by_key(Relation heap, Relation index, int n, const Datum* keys, TupleTableSlot* slot,
                     LockTupleMode mode = LockTupleExclusive);

// lock_row_by_key for the row found at tid (by an earlier read): its latest version, locked;
// false when it was deleted meanwhile.
bool lock_row_at(Relation heap, const ItemPointerData* tid, TupleTableSlot* slot,
                 LockTupleMode mode = LockTupleExclusive);

// text_by_key for channel_sync.<table>, its one-column unique index and a text key, read
// with begin_fresh_read()'s snapshot.
char* text_by_unique_key(const char* table, const char* index, const char* key, const char* column,
                         bool* found);

// Whether channel_sync.<table> has the column (a column added by a later version is missing
// until ALTER EXTENSION channel_sync UPDATE; the code must work with either). Plain C frame.
bool cs_table_has_column(const char* table, const char* column);

// A column's number in a relation, or an error naming it.
AttrNumber column_number(Relation rel, const char* column);

// Updates rows of one table found by a unique index, with constraints, indexes and row
// triggers handled as an UPDATE statement would (ExecSimpleRelationUpdate's steps). A row
// is read with the latest snapshot and written without locking it first; when a concurrent
// transaction changed it meanwhile, row_updater_update says so (after waiting for
// that transaction) and the caller finds the row again and rebuilds its image -- what an
// UPDATE's EvalPlanQual re-check does.
struct row_updater {
  Relation rel;
  Relation index;
  IndexScanDesc scan;
  IndexScanDesc prefix_scan;         // on the first key column only (row_updater_locate), or null
  IndexFetchTableData* entry_fetch;  // row_updater_fetch_entry's, or null
  Snapshot snap;
  EState* estate;
  ResultRelInfo* rri;
  EPQState epq;
  TupleTableSlot* found;  // the current row
  TupleTableSlot* next;   // the new image, built by the caller from found
  bool check;             // evaluate the table's constraints on every write
  // the table's size in blocks, read at the first fetch by TID: it cannot shrink while the
  // caller holds its lock (truncating takes ACCESS EXCLUSIVE), only grow
  BlockNumber nblocks;
  // AFTER ROW UPDATE triggers: whether any is not PostgreSQL's check of one of the table's
  // foreign keys (then they all fire), whether there are such checks, and whether any of
  // them is deferrable (as channel_sync never declares one, but a DBA may alter it)
  bool after_row_triggers, foreign_key_checks, deferrable_checks;
  Bitmapset* foreign_key_columns;  // the columns those checks compare
  // set by a caller whose rows were inserted by itself without queuing foreign-key checks,
  // having locked the rows they reference (row_inserter): such a row needs no check either
  // while its referencing columns keep their values
  bool references_locked;
  // the table has stored generated columns (recomputed on every write) or column-specific
  // UPDATE triggers (told, as an UPDATE's SET list would tell them, which columns a write
  // changes)
  bool generated, column_triggers;
};

// own_checks[0..n): the CHECK constraints channel_sync itself defines on the table. The
// caller's values satisfy those (and NOT NULL) by construction, so constraints are evaluated
// (their expressions compiled, ~25 us a statement) only when the table has another.
void row_updater_open(row_updater* u, Relation rel, Oid key_index, const char* const* own_checks,
                      int n);
// Finds the row whose unique key (the index's columns, in order) is keys[0..n); false when
// there is none. On true, found holds it with every column deformed.
bool row_updater_find(row_updater* u, int n, const Datum* keys);
// The same for a row read earlier in the statement at tid: found there when that version is
// still the one the updater sees and its key is keys[0..n); false: find it by its key.
bool row_updater_fetch(row_updater* u, ItemPointer tid, int n, const Datum* keys);
// The index entries whose first key column is prefix, in one index-only scan: entries[k]
// counts those whose second key column is wanted[k], and tids[k] is where the one entry
// points when there is exactly one (else invalid), for row_updater_fetch_entry. No entry: no
// row. A unique key of two columns only.
void row_updater_locate(row_updater* u, Datum prefix, int n, const Datum* wanted,
                        ItemPointerData* tids, int* entries);
// The row the index entry at tid (from row_updater_locate) leads to, as row_updater_find
// would read it there (along its HOT chain, the version the updater sees), when its key is
// keys[0..n); false: find it by its key.
bool row_updater_fetch_entry(row_updater* u, ItemPointer tid, int n, const Datum* keys);
// Starts next as a copy of found (values and nulls arrays ready to change).
void row_updater_begin_next(row_updater* u);
// What row_updater_update did.
enum class update_result { written, skipped_by_trigger, changed_concurrently };

// Writes next over found (changed_concurrently: find it again, see above).
update_result row_updater_update(row_updater* u);
void row_updater_close(row_updater* u);

// Inserts rows into one table as an INSERT statement would (ExecInsert's steps: constraints,
// index entries, speculative insertion for ON CONFLICT DO NOTHING), for a table that carries
// no trigger but channel_sync's own foreign-key checks. Those checks are not queued: the
// caller locks the referenced rows itself (lock_row_by_key with LockTupleKeyShare), or
// knows its transaction holds them (rows it inserted or locked).
struct row_inserter {
  Relation rel;
  EState* estate;
  ResultRelInfo* rri;
  List* arbiters;        // the ON CONFLICT DO NOTHING index, or NIL
  TupleTableSlot* slot;  // the next row: row_inserter_set() each column, then insert
  AttrNumber atts[16];   // own.columns' numbers, in order
  int natts;
  bool check;  // evaluate CHECK constraints on every row (someone added some)
};

// What channel_sync itself defines on a table it inserts into directly.
struct own_definition {
  const char* const* columns;  // every column, none other (dropped ones do not count)
  int ncolumns;
  const char* const* foreign_keys;  // constraints whose checks the caller makes itself
  int nforeign_keys;
  const char* const* checks;  // CHECK constraints (as own_checks for row_updater_open)
  int nchecks;
};

// Opens an inserter for rel. arbiter: the unique index of ON CONFLICT DO NOTHING, or
// InvalidOid. Returns false, having opened nothing, when the table is not as `own` describes
// -- a trigger, a foreign key or a column someone added -- or row-level security applies to
// the current user: the caller then writes with SQL, which fires, checks and fills them.
bool row_inserter_open(row_inserter* u, Relation rel, Oid arbiter, const own_definition& own);
// Sets column k (0-based, in the order of own.columns) of the next row.
void row_inserter_set(row_inserter* u, int k, Datum value, bool isnull = false);
// Inserts the next row; false when the arbiter's key is taken (nothing inserted). check:
// evaluate the table's CHECK constraints for this row (values not known to satisfy them).
bool row_inserter_insert(row_inserter* u, bool check);
void row_inserter_close(row_inserter* u);

}  // namespace cs::pg
