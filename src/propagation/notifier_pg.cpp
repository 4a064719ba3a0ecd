// The batched notifier. PostgreSQL takes one cluster-wide lock in the commit of every
// transaction that ran NOTIFY and holds it through the commit's WAL flush, so notifying
// transactions commit one at a time. With channel_sync.notify_mode = batched a changing
// transaction only notes which channels got new outbox work; after it committed (its rows are
// visible) the note joins its database's set in shared memory and a background worker of
// that database sends NOTIFY channel_sync, '<channel>' for the set, at most once per
// channel_sync.notify_interval, in a transaction of its own.
//
// Lifecycle: the first marking transaction of a database with no worker registers one (a
// dynamic background worker connected to that database); the worker leaves after
// kIdleExitMs without work, so an idle database can be dropped. A transaction that cannot
// get a slot or a worker notifies in the transaction, as in transaction mode. Batched mode
// needs channel_sync in shared_preload_libraries; without it every NOTIFY is transactional.
//
// Everything here is a plain C frame (it may ereport; no object with a destructor lives in
// it): the commit callback and the worker run outside any CS_FUNCTION.
#include "propagation/notifier_pg.hpp"

#include "common/boundary.hpp"

extern "C" {
#include "access/xact.h"
#include "commands/async.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "catalog/namespace.h"
#include "commands/dbcommands.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"
PGDLLEXPORT void channel_sync_notifier_main(Datum main_arg);
}

#include <cstring>
#include <string>

#include "propagation/notify_batch.hpp"

namespace {

using cs::propagation::pending_channels;

constexpr char kNotifyChannel[] = "channel_sync";
constexpr char kTranche[] = "channel_sync_notifier";
constexpr int kDatabasesMax = 16;
constexpr int kIdleExitMs = 2000;       // below DROP DATABASE's 5 s wait for other sessions
constexpr int kRelaunchAfterMs = 5000;  // a registered worker that never started

enum notify_mode_value { kTransaction, kBatched };
const config_enum_entry kNotifyModes[] = {
    {"transaction", kTransaction, false}, {"batched", kBatched, false}, {nullptr, 0, false}};
int notify_mode = kTransaction;
int notify_interval_ms = 10;
bool notifier_available = false;  // channel_sync.batched_notifier_available (read-only)

// One database's notifier state, in shared memory, under notifier_shared::lock.
struct database_slot {
  Oid database;              // InvalidOid: free
  int transactions;          // open transactions of this database that will mark at commit
  Latch* worker_latch;       // the serving worker's latch (set by the worker); null: none
  TimestampTz launched_at;   // when a worker was last registered and has not started; 0: none
  pending_channels pending;  // committed, not yet notified
  // what the slot's workers sent since the slot was taken (channel_sync.notifier_status())
  int64 notify_transactions;
  int64 notifications;
  TimestampTz last_notify_at;  // 0: none yet
  pid_t worker_pid;
};

struct notifier_shared {
  LWLock* lock;
  database_slot slots[kDatabasesMax];
};

notifier_shared* shared = nullptr;  // null unless loaded by shared_preload_libraries
shmem_request_hook_type prev_shmem_request_hook = nullptr;
shmem_startup_hook_type prev_shmem_startup_hook = nullptr;

// What the current transaction will add to its database's set when it commits.
struct transaction_marks {
  bool joined;    // counted in its slot's transactions
  bool fallback;  // no slot or no worker: NOTIFY in the transaction
  int slot;
  pending_channels channels;
};
transaction_marks tx = {false, false, -1, {0, false, {}}};

void reset_transaction_marks() {
  tx.joined = false;
  tx.fallback = false;
  tx.slot = -1;
  cs::propagation::clear(tx.channels);
}

// ---- shared memory

void request_shared_memory() {
  if (prev_shmem_request_hook != nullptr) prev_shmem_request_hook();
  RequestAddinShmemSpace(sizeof(notifier_shared));
  RequestNamedLWLockTranche(kTranche, 1);
}

void attach_shared_memory() {
  if (prev_shmem_startup_hook != nullptr) prev_shmem_startup_hook();
  LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
  bool found = false;
  auto* s = static_cast<notifier_shared*>(
      ShmemInitStruct("channel_sync notifier", sizeof(notifier_shared), &found));
  if (!found) {
    std::memset(s, 0, sizeof(*s));  // every slot free, its pending set empty
    s->lock = &GetNamedLWLockTranche(kTranche)->lock;
  }
  LWLockRelease(AddinShmemInitLock);
  shared = s;
}

// Index of the database's slot, or -1. Caller holds the lock.
int find_slot(Oid database) {
  for (int k = 0; k < kDatabasesMax; ++k)
    if (shared->slots[k].database == database) return k;
  return -1;
}

// The database's slot, else a free or abandoned one taken for it (see choose_slot); -1: none.
// Caller holds the lock.
int find_or_take_slot(Oid database, TimestampTz now) {
  cs::propagation::slot_state states[kDatabasesMax];
  for (int k = 0; k < kDatabasesMax; ++k) {
    const database_slot& s = shared->slots[k];
    states[k] = {s.database, s.worker_latch != nullptr, s.transactions, s.launched_at};
  }
  int k = cs::propagation::choose_slot(states, kDatabasesMax, database, now,
                                       int64_t{kRelaunchAfterMs} * 1000);
  if (k < 0 || shared->slots[k].database == database) return k;
  database_slot& slot = shared->slots[k];
  std::memset(&slot, 0, sizeof(slot));  // no worker, nothing pending, no counts
  slot.database = database;
  return k;
}

// ---- backends: marking at commit

bool register_worker(Oid database) {
  BackgroundWorker w;
  std::memset(&w, 0, sizeof(w));
  w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
  w.bgw_start_time = BgWorkerStart_RecoveryFinished;
  w.bgw_restart_time = BGW_NEVER_RESTART;
  snprintf(w.bgw_library_name, BGW_MAXLEN, "channel_sync");
  snprintf(w.bgw_function_name, BGW_MAXLEN, "channel_sync_notifier_main");
  snprintf(w.bgw_name, BGW_MAXLEN, "channel_sync notifier for database %u", database);
  snprintf(w.bgw_type, BGW_MAXLEN, "channel_sync notifier");
  w.bgw_main_arg = ObjectIdGetDatum(database);
  return RegisterDynamicBackgroundWorker(&w, nullptr);
}

// Counts the transaction in its database's slot and makes sure a worker serves it. False:
// notify in the transaction instead.
bool join_database_slot() {
  TimestampTz now = GetCurrentTimestamp();
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  int k = find_or_take_slot(MyDatabaseId, now);
  bool launch = false;
  if (k >= 0) {
    database_slot& slot = shared->slots[k];
    ++slot.transactions;
    launch = slot.worker_latch == nullptr &&
             (slot.launched_at == 0 ||
              TimestampDifferenceExceeds(slot.launched_at, now, kRelaunchAfterMs));
    if (launch) slot.launched_at = now;
  }
  LWLockRelease(shared->lock);
  if (k < 0) return false;
  tx.slot = k;
  tx.joined = true;
  if (launch && !register_worker(MyDatabaseId)) {
    LWLockAcquire(shared->lock, LW_EXCLUSIVE);
    --shared->slots[k].transactions;
    shared->slots[k].launched_at = 0;
    LWLockRelease(shared->lock);
    tx.joined = false;
    static bool logged = false;  // once per session: under load this would repeat per commit
    if (!logged)
      ereport(LOG, (errmsg("channel_sync: could not register the notifier worker; this "
                           "session's transactions notify listeners themselves until one runs"),
                    errhint("Raise max_worker_processes.")));
    logged = true;
    return false;
  }
  return true;
}

// Commit: the transaction's channels join the database's set and the worker wakes. Abort:
// only the count is undone. Runs after the commit is visible; must not fail.
void publish_or_drop_marks(bool committed) {
  Latch* latch = nullptr;
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  database_slot& slot = shared->slots[tx.slot];
  --slot.transactions;
  if (committed && !cs::propagation::is_empty(tx.channels)) {
    cs::propagation::merge(slot.pending, tx.channels);
    latch = slot.worker_latch;
  }
  LWLockRelease(shared->lock);
  if (latch != nullptr) SetLatch(latch);
}

void on_transaction_end(XactEvent event, void*) {
  switch (event) {
    case XACT_EVENT_PRE_PREPARE:
      if (tx.joined && !cs::propagation::is_empty(tx.channels))
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("cannot PREPARE a transaction that has new work for channel_sync "
                               "connectors"),
                        errdetail("Its listeners would have to be woken when COMMIT PREPARED "
                                  "runs; PostgreSQL refuses to PREPARE a transaction that ran "
                                  "NOTIFY for the same reason.")));
      return;
    case XACT_EVENT_COMMIT:
    case XACT_EVENT_ABORT:
    case XACT_EVENT_PREPARE:
      if (tx.joined) publish_or_drop_marks(event == XACT_EVENT_COMMIT);
      reset_transaction_marks();
      return;
    default:
      return;
  }
}

// ---- the worker

int worker_slot = -1;
pending_channels worker_batch;  // taken from the slot, not yet notified

// The slot has no worker any more. Caller holds the lock.
void stop_serving(database_slot& slot) {
  slot.worker_latch = nullptr;
  slot.worker_pid = 0;
}

// Before the worker leaves (idle, SIGTERM or an error): the slot is no longer served and an
// unsent batch goes back into it for the next worker.
void detach_worker(int, Datum) {
  if (worker_slot < 0) return;
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  database_slot& slot = shared->slots[worker_slot];
  if (slot.database == MyDatabaseId && slot.worker_latch == MyLatch) {
    stop_serving(slot);
    cs::propagation::merge(slot.pending, worker_batch);
  }
  LWLockRelease(shared->lock);
  worker_slot = -1;
}

bool attach_worker(Oid database) {
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  int k = find_slot(database);
  bool ok = k >= 0 && shared->slots[k].worker_latch == nullptr;
  if (ok) {
    database_slot& slot = shared->slots[k];
    slot.worker_latch = MyLatch;
    slot.worker_pid = MyProcPid;
    slot.launched_at = 0;
    worker_slot = k;
  }
  LWLockRelease(shared->lock);
  return ok;
}

// Moves the slot's pending channels into worker_batch.
void take_pending() {
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  database_slot& slot = shared->slots[worker_slot];
  cs::propagation::merge(worker_batch, slot.pending);
  cs::propagation::clear(slot.pending);
  LWLockRelease(shared->lock);
}

// Leaves the slot when nothing is pending and no transaction will mark it.
bool leave_if_idle() {
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  database_slot& slot = shared->slots[worker_slot];
  bool idle = slot.transactions == 0 && cs::propagation::is_empty(slot.pending);
  if (idle) {
    stop_serving(slot);
    if (slot.launched_at == 0) slot.database = InvalidOid;
    worker_slot = -1;
  }
  LWLockRelease(shared->lock);
  return idle;
}

// NOTIFY every channel of the database (the set overflowed); none once the extension is gone.
// Returns how many.
int notify_every_channel() {
  Oid ns = get_namespace_oid("channel_sync", true);
  if (!OidIsValid(ns) || !OidIsValid(get_relname_relid("channels", ns))) return 0;
  int sent = 0;
  SPI_connect();
  PushActiveSnapshot(GetTransactionSnapshot());
  if (SPI_execute("SELECT channel_id FROM channel_sync.channels", true, 0) == SPI_OK_SELECT) {
    for (uint64 k = 0; k < SPI_processed; ++k) {
      char* channel_id = SPI_getvalue(SPI_tuptable->vals[k], SPI_tuptable->tupdesc, 1);
      if (channel_id == nullptr) continue;
      Async_Notify(kNotifyChannel, channel_id);
      ++sent;
    }
  }
  PopActiveSnapshot();
  SPI_finish();
  return sent;
}

// Records a committed NOTIFY transaction of `sent` channels in the worker's slot.
void count_notified(int sent) {
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  database_slot& slot = shared->slots[worker_slot];
  ++slot.notify_transactions;
  slot.notifications += sent;
  slot.last_notify_at = GetCurrentTimestamp();
  LWLockRelease(shared->lock);
}

void notify_batch() {
  SetCurrentStatementStartTimestamp();
  StartTransactionCommand();
  pgstat_report_activity(STATE_RUNNING, "NOTIFY channel_sync");
  int sent = worker_batch.count;
  if (worker_batch.every_channel)
    sent = notify_every_channel();
  else
    for (int k = 0; k < worker_batch.count; ++k)
      Async_Notify(kNotifyChannel, worker_batch.names[k]);
  CommitTransactionCommand();
  count_notified(sent);
  cs::propagation::clear(worker_batch);
  pgstat_report_activity(STATE_IDLE, nullptr);
}

// Sleeps up to ms or until the latch is set; answers SIGTERM and reloads.
void wait_ms(long ms) {
  int rc =
      WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, ms, PG_WAIT_EXTENSION);
  if (rc & WL_LATCH_SET) ResetLatch(MyLatch);
  CHECK_FOR_INTERRUPTS();
  if (ConfigReloadPending) {
    ConfigReloadPending = false;
    ProcessConfigFile(PGC_SIGHUP);
  }
}

// Waits until until_us (a GetCurrentTimestamp() value) has passed, answering interrupts
// meanwhile; commits setting the latch do not end the wait (they are taken after it).
void wait_until(TimestampTz until_us) {
  for (TimestampTz now = GetCurrentTimestamp(); now < until_us; now = GetCurrentTimestamp())
    wait_ms(static_cast<long>((until_us - now + 999) / 1000));
}

void serve_database() {
  TimestampTz last_flush = 0;
  TimestampTz last_work = GetCurrentTimestamp();
  for (;;) {
    take_pending();
    TimestampTz now = GetCurrentTimestamp();
    if (!cs::propagation::is_empty(worker_batch)) {
      int64 delay = cs::propagation::flush_delay_us(now, last_flush, notify_interval_ms * 1000L);
      if (delay > 0) {
        wait_until(now + delay);
        take_pending();
      }
      notify_batch();
      last_flush = last_work = GetCurrentTimestamp();
      continue;
    }
    if (TimestampDifferenceExceeds(last_work, now, kIdleExitMs)) {
      if (leave_if_idle()) return;
      last_work = now;
    }
    wait_ms(kIdleExitMs);
  }
}

// ---- channel_sync.notifier_status()

// One database slot as notifier_status() shows it, copied under the lock.
struct slot_view {
  Oid database;
  pid_t worker_pid;  // 0: no worker
  int pending;
  bool every_channel;
  int transactions;
  int64 notify_transactions;
  int64 notifications;
  TimestampTz last_notify_at;
};

// Copies the slots in use into out (kDatabasesMax entries); returns how many.
int copy_slots(slot_view* out) {
  if (shared == nullptr) return 0;
  int n = 0;
  LWLockAcquire(shared->lock, LW_SHARED);
  for (const database_slot& slot : shared->slots) {
    if (slot.database == InvalidOid) continue;
    out[n++] = slot_view{
        slot.database,     slot.worker_pid,          slot.pending.count, slot.pending.every_channel,
        slot.transactions, slot.notify_transactions, slot.notifications, slot.last_notify_at};
  }
  LWLockRelease(shared->lock);
  return n;
}

// Appends one row to the function's result. Plain C frame: may ereport.
void put_slot_row(ReturnSetInfo* rsinfo, const slot_view* v) {
  Datum values[8];
  bool nulls[8] = {false, false, false, false, false, false, false, false};
  char* name = get_database_name(v->database);  // NULL once the database is gone
  values[0] = name != nullptr ? CStringGetTextDatum(name) : 0;
  nulls[0] = name == nullptr;
  values[1] = Int32GetDatum(v->worker_pid);
  nulls[1] = v->worker_pid == 0;
  values[2] = Int32GetDatum(v->pending);
  values[3] = BoolGetDatum(v->every_channel);
  values[4] = Int32GetDatum(v->transactions);
  values[5] = Int64GetDatum(v->notify_transactions);
  values[6] = Int64GetDatum(v->notifications);
  values[7] = TimestampTzGetDatum(v->last_notify_at);
  nulls[7] = v->last_notify_at == 0;
  tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

}  // namespace

// notifier_status(): one row per database the batched notifier serves now; none without
// shared_preload_libraries.
CS_FUNCTION(notifier_status) {
  slot_view views[kDatabasesMax];
  int n = cs::pg::guard([&] { return copy_slots(views); });
  cs::pg::guard([&] { InitMaterializedSRF(fcinfo, 0); });
  auto* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
  for (int k = 0; k < n; ++k) {
    const slot_view* v = &views[k];
    cs::pg::guard([&] { put_slot_row(rsinfo, v); });
  }
  return PointerGetDatum(nullptr);
}

// _wake_listeners(channel_id text): wake_listeners() for SQL (requeue_dead, verify).
CS_FUNCTION(_wake_listeners) {
  std::string channel_id = cs::pg::text_to_string(PG_GETARG_DATUM(0));
  const char* id = channel_id.c_str();
  cs::pg::guard([&] { cs::propagation::wake_listeners(id); });
  PG_RETURN_VOID();
}

void channel_sync_notifier_main(Datum main_arg) {
  Oid database = DatumGetObjectId(main_arg);
  pqsignal(SIGHUP, SignalHandlerForConfigReload);
  pqsignal(SIGTERM, die);
  BackgroundWorkerUnblockSignals();
  BackgroundWorkerInitializeConnectionByOid(database, InvalidOid, 0);
  pgstat_report_appname("channel_sync notifier");
  // a notification needs no durability (the outbox rows it announces are durable already):
  // the worker's commits do not wait for a WAL flush while they hold the notify lock
  SetConfigOption("synchronous_commit", "off", PGC_SUSET, PGC_S_OVERRIDE);
  cs::propagation::clear(worker_batch);
  if (shared == nullptr || !attach_worker(database)) proc_exit(0);  // another one serves it
  before_shmem_exit(detach_worker, 0);
  serve_database();
  proc_exit(0);
}

namespace cs::propagation {

void init_notifier() {
  DefineCustomEnumVariable(
      "channel_sync.notify_mode", "How channel_sync wakes the connectors that LISTEN.",
      "transaction: NOTIFY channel_sync in the changing transaction (PostgreSQL then commits "
      "notifying transactions one at a time). batched: a background worker sends the NOTIFY "
      "after the commit, at most once per channel per channel_sync.notify_interval; needs "
      "channel_sync in shared_preload_libraries, else it behaves as transaction.",
      &notify_mode, kTransaction, kNotifyModes, PGC_USERSET, 0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable(
      "channel_sync.notify_interval",
      "Batched notify mode: the shortest time between two NOTIFYs of a database's worker.",
      "The first change after a quiet period is notified at once; later ones wait out the "
      "interval and are notified together. 0: no pacing, each NOTIFY as soon as the last one "
      "is done.",
      &notify_interval_ms, 10, 0, 10000, PGC_SIGHUP, GUC_UNIT_MS, nullptr, nullptr, nullptr);
  DefineCustomBoolVariable(
      "channel_sync.batched_notifier_available",
      "Whether channel_sync.notify_mode = batched takes effect (channel_sync is in "
      "shared_preload_libraries).",
      nullptr, &notifier_available, process_shared_preload_libraries_in_progress, PGC_INTERNAL,
      GUC_NOT_IN_SAMPLE | GUC_DISALLOW_IN_FILE, nullptr, nullptr, nullptr);
  RegisterXactCallback(on_transaction_end, nullptr);
  if (!process_shared_preload_libraries_in_progress) return;
  prev_shmem_request_hook = shmem_request_hook;
  shmem_request_hook = request_shared_memory;
  prev_shmem_startup_hook = shmem_startup_hook;
  shmem_startup_hook = attach_shared_memory;
}

void wake_listeners(const char* channel_id) {
  bool batched = notify_mode == kBatched && shared != nullptr && !tx.fallback;
  if (batched && !tx.joined && !join_database_slot()) {
    tx.fallback = true;
    batched = false;
  }
  if (batched)
    add_channel(tx.channels, channel_id);
  else
    Async_Notify(kNotifyChannel, channel_id);
}

}  // namespace cs::propagation
