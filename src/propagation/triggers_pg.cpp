// Propagation triggers (statement level, transition tables new_rows / old_rows):
//  - _retarget_on_change: on stock, skus, channel_prices, bundle_components, allocation_rules,
//    channel_locations, channels and locations; finds the SKUs whose targets a statement may
//    have changed (a component's change adds every bundle containing it; a channel-wide change
//    means all SKUs) and calls cs::allocation::retarget(), which rewrites changed listings;
//    (stock, the hot path, reads its transition tables in C++ instead of querying them);
//    retarget's listings upsert enqueues the outbox messages in the same statement;
//  - _enqueue_listing_changes: on listings; for every other writer of listings, upserts the
//    one outbox message per (channel, SKU) whose target_version moved, then NOTIFYs
//    channel_sync once per channel. It returns at once for retarget's own upsert (see
//    cs::allocation::writing_outbox()); a listings write made by a user trigger nested inside
//    that statement would be skipped too (channel_sync's own code makes none);
//  - _refuse_truncate: BEFORE TRUNCATE, because a TRUNCATE shows no rows to a trigger.
#include "common/boundary.hpp"

extern "C" {
#include "commands/async.h"
#include "commands/trigger.h"
#include "catalog/namespace.h"
#include "catalog/pg_trigger.h"
#include "utils/lsyscache.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "utils/array.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/tuplestore.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/xact.h"
#include "utils/snapmgr.h"
#include "utils/inval.h"
}
#include "common/pg_headers.hpp"
#include "common/spi_pg.hpp"
#include "common/table_access_pg.hpp"

#include <algorithm>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "allocation/targets_pg.hpp"
#include "propagation/notifier_pg.hpp"
#include "propagation/outbox_sql.hpp"
#include "propagation/stock_writes_pg.hpp"

namespace {

constexpr char kFeatureNotSupported[] = "0A000";
constexpr char kAllSkus[] = "*";  // the statement re-targets every SKU

// Per table and event: a query over the transition tables returning the affected SKUs
// (column 1, text; a NULL row means every SKU), or kAllSkus, or nullptr (nothing to do).
struct watched_table {
  const char* table;
  const char* on_insert;
  const char* on_update;
  const char* on_delete;
};

#define CS_WITH_BUNDLES(skus)    \
  "WITH s AS (" skus             \
  ") SELECT s.sku FROM s UNION " \
  "SELECT b.bundle_sku FROM channel_sync.bundle_components b JOIN s ON b.component_sku = s.sku"

// A stock row whose image (key and quantities) is the same before and after the statement
// changed nothing a target depends on: an UPDATE rewriting the same values re-targets nothing.
#define CS_STOCK_SAME(a, b)                                                        \
  "NOT EXISTS (SELECT FROM " a " x WHERE x.sku = " b ".sku AND x.location_id = " b \
  ".location_id AND x.on_hand = " b ".on_hand AND x.reserved = " b                 \
  ".reserved AND x.safety_stock = " b ".safety_stock)"

const watched_table kWatched[] = {
    {"stock", CS_WITH_BUNDLES("SELECT sku FROM new_rows"),
     CS_WITH_BUNDLES("SELECT n.sku FROM new_rows n WHERE " CS_STOCK_SAME(
         "old_rows", "n") " UNION SELECT o.sku FROM old_rows o WHERE " CS_STOCK_SAME("new_rows",
                                                                                     "o")),
     CS_WITH_BUNDLES("SELECT sku FROM old_rows")},
    {"allocation_rules", CS_WITH_BUNDLES("SELECT sku FROM new_rows"),
     CS_WITH_BUNDLES("SELECT sku FROM new_rows UNION SELECT sku FROM old_rows"),
     CS_WITH_BUNDLES("SELECT sku FROM old_rows")},
    {"channel_prices", "SELECT DISTINCT sku FROM new_rows",
     "SELECT sku FROM new_rows UNION SELECT sku FROM old_rows",
     "SELECT DISTINCT sku FROM old_rows"},
    {"bundle_components", "SELECT DISTINCT bundle_sku FROM new_rows",
     "SELECT bundle_sku FROM new_rows UNION SELECT bundle_sku FROM old_rows",
     "SELECT DISTINCT bundle_sku FROM old_rows"},
    {"skus", "SELECT sku FROM new_rows",
     "SELECT n.sku FROM new_rows n JOIN old_rows o ON o.sku = n.sku"
     " WHERE n.base_price IS DISTINCT FROM o.base_price OR n.kind IS DISTINCT FROM o.kind",
     nullptr},
    {"channels", kAllSkus,
     "SELECT NULL::text FROM new_rows n JOIN old_rows o ON o.channel_id = n.channel_id"
     " WHERE (n.active, n.kind, n.lag_target) IS DISTINCT FROM (o.active, o.kind, o.lag_target)"
     " LIMIT 1",
     kAllSkus},
    {"channel_locations", kAllSkus, kAllSkus, kAllSkus},
    {"locations", nullptr,
     "SELECT NULL::text FROM new_rows n JOIN old_rows o ON o.location_id = n.location_id"
     " WHERE n.active IS DISTINCT FROM o.active LIMIT 1",
     nullptr},
};

#undef CS_WITH_BUNDLES
#undef CS_STOCK_SAME

const char kEnqueueInserted[] = CS_UPSERT_OUTBOX(
    "SELECT n.channel_id, n.sku, n.target_qty, n.target_price, n.target_version, "
    "pg_catalog.now() FROM new_rows n"
    " WHERE n.acked_version IS NULL OR n.acked_version < n.target_version");

const char kEnqueueUpdated[] = CS_UPSERT_OUTBOX(
    "SELECT n.channel_id, n.sku, n.target_qty, n.target_price, n.target_version, "
    "pg_catalog.now() FROM new_rows n JOIN old_rows o ON o.channel_id = n.channel_id AND o.sku = "
    "n.sku"
    " WHERE n.target_version > o.target_version"
    " AND (n.acked_version IS NULL OR n.acked_version < n.target_version)");

// Prepared plans, one per trigger (its transition-table names are part of the plan).
std::unordered_map<Oid, SPIPlanPtr> plans;

// The TriggerData of a trigger call, or an error if called another way.
TriggerData* trigger_data(FunctionCallInfo fcinfo, const char* function) {
  if (!CALLED_AS_TRIGGER(fcinfo))
    throw cs::user_error("39P01", std::string(function) + "() was not called as a trigger",
                         "It is meant to be used only by channel_sync's own triggers.");
  return reinterpret_cast<TriggerData*>(fcinfo->context);
}

// Rows in a transition table (0 when the trigger has none).
int64_t transition_rows(Tuplestorestate* table) {
  return table == nullptr ? 0 : cs::pg::guard([&] { return tuplestore_tuple_count(table); });
}

// Runs the trigger's prepared query over its transition tables inside an SPI connection
// and returns column 1 of every row as text (nullptr for NULL).
struct text_column {
  std::vector<std::string> values;
  bool saw_null = false;
};

text_column run_transition_query(TriggerData* td, const char* sql) {
  text_column out;
  Oid trigger_oid = td->tg_trigger->tgoid;
  SPIPlanPtr plan = nullptr;
  auto found = plans.find(trigger_oid);
  if (found != plans.end()) plan = found->second;
  SPITupleTable* table = cs::pg::guard([&] {
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    if (SPI_register_trigger_data(td) != SPI_OK_TD_REGISTER)
      elog(ERROR, "SPI_register_trigger_data failed");
    if (plan == nullptr) plan = cs::pg::prepare_kept_plan(sql, 0, nullptr);
    int rc = SPI_execute_plan(plan, nullptr, nullptr, false, 0);
    if (rc < 0) elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
    return SPI_tuptable;
  });
  plans[trigger_oid] = plan;
  uint64 n = table == nullptr ? 0 : SPI_processed;
  out.values.reserve(n);
  for (uint64 i = 0; i < n; ++i) {
    bool is_null = false;
    Datum d =
        cs::pg::guard([&] { return SPI_getbinval(table->vals[i], table->tupdesc, 1, &is_null); });
    if (is_null)
      out.saw_null = true;
    else
      out.values.push_back(cs::pg::text_to_string(d));
  }
  cs::pg::guard([] { SPI_finish(); });
  return out;
}

// ---------------------------------------------------------------------------------------
// stock: the changed SKUs read straight from the transition tables (no query), the hot path
// of every stock write.

// One stock row image: (sku, location_id, on_hand, reserved, safety_stock).
using stock_image = std::tuple<std::string, std::string, int32, int32, int32>;

// Every row of a stock transition table (nullptr: none).
std::vector<stock_image> read_stock_rows(Relation rel, Tuplestorestate* table) {
  std::vector<stock_image> rows;
  if (table == nullptr) return rows;
  TupleDesc desc = RelationGetDescr(rel);
  int att[5];
  const char* names[5] = {"sku", "location_id", "on_hand", "reserved", "safety_stock"};
  TupleTableSlot* slot = cs::pg::guard([&] {
    for (int k = 0; k < 5; ++k) {
      att[k] = SPI_fnumber(desc, names[k]);
      if (att[k] <= 0) elog(ERROR, "channel_sync: stock has no column %s", names[k]);
    }
    tuplestore_rescan(table);
    return MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
  });
  Datum values[5];
  bool nulls[5];
  for (;;) {
    bool more = cs::pg::guard([&] {
      if (!tuplestore_gettupleslot(table, true, false, slot)) return false;
      for (int k = 0; k < 5; ++k) values[k] = slot_getattr(slot, att[k], &nulls[k]);
      return true;
    });
    if (!more) break;
    if (nulls[0] || nulls[1] || nulls[2] || nulls[3] || nulls[4])
      throw cs::user_error(cs::sqlstate::kInternalError, "channel_sync: a stock row has a NULL");
    rows.emplace_back(cs::pg::text_to_string(values[0]), cs::pg::text_to_string(values[1]),
                      DatumGetInt32(values[2]), DatumGetInt32(values[3]), DatumGetInt32(values[4]));
  }
  cs::pg::guard([&] { ExecDropSingleTupleTableSlot(slot); });
  return rows;
}

// The SKUs of the rows of `rows` that have no identical row in `other` (all of them when
// other is nullptr): a row rewritten with the same values changed nothing a target uses.
void add_changed_skus(const std::vector<stock_image>& rows, const std::vector<stock_image>* other,
                      std::set<std::string>& skus) {
  std::set<stock_image> same;
  if (other != nullptr) same.insert(other->begin(), other->end());
  for (const auto& r : rows)
    if (other == nullptr || same.count(r) == 0) skus.insert(std::get<0>(r));
}

// The bundles that contain any of the SKUs: direct lookups in bundle_components' index on
// component_sku (no SQL on the hot path). Plain C frame.
void collect_bundles(const std::string* skus, int n, HeapTuple** rows, int* count, TupleDesc* desc,
                     AttrNumber* bundle_att) {
  Relation heap = cs::pg::open_cs_relation("bundle_components", AccessShareLock);
  Relation index = cs::pg::open_cs_relation("bundle_components_component_idx", AccessShareLock);
  if (heap == nullptr || index == nullptr)
    elog(ERROR, "channel_sync: bundle_components or its component index is missing");
  *desc = RelationGetDescr(heap);
  *bundle_att = cs::pg::column_number(heap, "bundle_sku");
  int size = 0;
  *rows = nullptr;
  *count = 0;
  for (int k = 0; k < n; ++k) {
    Datum key =
        PointerGetDatum(cstring_to_text_with_len(skus[k].data(), static_cast<int>(skus[k].size())));
    HeapTuple* found = nullptr;
    int nfound = 0;
    cs::pg::fetch_by_key(heap, index, 1, &key, nullptr, GetActiveSnapshot(), &found, &nfound);
    if (nfound == 0) continue;
    if (*count + nfound > size) {
      size = 2 * (*count + nfound);
      *rows = static_cast<HeapTuple*>(*rows == nullptr ? palloc(sizeof(HeapTuple) * size)
                                                       : repalloc(*rows, sizeof(HeapTuple) * size));
    }
    memcpy(*rows + *count, found, sizeof(HeapTuple) * nfound);
    *count += nfound;
  }
  relation_close(index, NoLock);
  relation_close(heap, NoLock);
}

std::vector<std::string> bundles_of(const std::vector<std::string>& skus) {
  const std::string* s = skus.data();
  int n = static_cast<int>(skus.size());
  HeapTuple* rows = nullptr;
  int count = 0;
  TupleDesc desc = nullptr;
  AttrNumber att = InvalidAttrNumber;
  cs::pg::guard([&] { collect_bundles(s, n, &rows, &count, &desc, &att); });
  std::vector<std::string> out;
  for (int k = 0; k < count; ++k) {
    HeapTuple t = rows[k];
    Datum d = cs::pg::guard([&] {
      bool isnull = false;
      return heap_getattr(t, att, desc, &isnull);
    });
    out.push_back(cs::pg::text_to_string(d));
  }
  return out;
}

// The SKUs of the stock rows a statement changed (their bundles are not among them).
std::vector<std::string> changed_stock_skus(TriggerData* td) {
  std::set<std::string> skus;
  std::vector<stock_image> old_rows = read_stock_rows(td->tg_relation, td->tg_oldtable);
  std::vector<stock_image> new_rows = read_stock_rows(td->tg_relation, td->tg_newtable);
  bool update = TRIGGER_FIRED_BY_UPDATE(td->tg_event);
  add_changed_skus(new_rows, update ? &old_rows : nullptr, skus);
  add_changed_skus(old_rows, update ? &new_rows : nullptr, skus);
  return std::vector<std::string>(skus.begin(), skus.end());
}

// Advisory lock space of the retarget locks (two int4 keys: space, SKU hash; 0 = every SKU).
constexpr int32 kLockSpace = 1668481024;  // 'c' 's' 0 0

// Serializes re-targeting: a statement re-targeting some SKUs waits for every uncommitted
// transaction that re-targeted one of them (or all SKUs), so the targets it computes next,
// with a fresh snapshot, include their changes; re-targeting all SKUs waits for everyone.
// Transaction-scoped advisory locks, taken in hash order.
// A statement touching more SKUs than kMaxSkuLocks takes the "every SKU" lock instead:
// the lock table holds a limited number of locks per transaction.
constexpr size_t kMaxSkuLocks = 32;

void lock_for_retarget(const std::vector<std::string>* skus) {
  if (skus == nullptr || skus->size() > kMaxSkuLocks) {
    cs::pg::guard([] {
      DirectFunctionCall2(pg_advisory_xact_lock_int4, Int32GetDatum(kLockSpace), Int32GetDatum(0));
    });
    return;
  }
  std::vector<int32> keys;
  keys.reserve(skus->size());
  for (const auto& s : *skus) keys.push_back(static_cast<int32>(std::hash<std::string>{}(s) | 1u));
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  cs::pg::guard([&] {
    DirectFunctionCall2(pg_advisory_xact_lock_shared_int4, Int32GetDatum(kLockSpace),
                        Int32GetDatum(0));
    for (int32 k : keys)
      DirectFunctionCall2(pg_advisory_xact_lock_int4, Int32GetDatum(kLockSpace), Int32GetDatum(k));
  });
}

// Locks (see lock_for_retarget) and re-targets the SKUs (nullptr: all of them).
void locked_retarget(const std::vector<std::string>* skus) {
  lock_for_retarget(skus);
  cs::allocation::retarget(skus);
}

// The SKUs whose stock this transaction's statements changed, re-targeted when its deferred
// triggers fire (at COMMIT): a SKU's re-target lock is taken only then, when the transaction
// takes no more row locks, so a transaction that changes one SKU's rows in two statements does
// not hold that lock between them (another transaction changing the second row would wait for
// it while holding the row: a deadlock).
std::set<std::string> stock_skus_to_retarget;

// Whether stock's retarget_at_commit trigger will fire in this session (an install from before
// 0.4.0 has none, a DBA may have disabled it): else the statement re-targets at once.
bool commit_trigger_fires(Relation stock) {
  TriggerDesc* td = stock->trigdesc;
  for (int i = 0; td != nullptr && i < td->numtriggers; ++i) {
    const Trigger& t = td->triggers[i];
    if (strcmp(t.tgname, "retarget_at_commit") != 0 || !t.tgdeferrable || !t.tginitdeferred)
      continue;
    bool replica = SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA;
    return t.tgenabled == TRIGGER_FIRES_ALWAYS ||
           (t.tgenabled == TRIGGER_FIRES_ON_ORIGIN && !replica) ||
           (t.tgenabled == TRIGGER_FIRES_ON_REPLICA && replica);
  }
  return false;
}

void forget_stock_skus(XactEvent event, void*) {
  if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT || event == XACT_EVENT_PREPARE)
    stock_skus_to_retarget.clear();
}

// Whether a watched table is one whose rows the direct loader remembers across transactions.
bool is_configuration(const char* table) {
  for (const char* t : {"channels", "locations", "channel_locations", "allocation_rules"})
    if (std::strcmp(t, table) == 0) return true;
  return false;
}

// The watched-table entry for a relation name, or nullptr.
const watched_table* find_watched(const char* relname) {
  for (const auto& w : kWatched)
    if (std::strcmp(w.table, relname) == 0) return &w;
  return nullptr;
}

}  // namespace

namespace cs::propagation {

namespace {

// Whether t runs one of channel_sync's (schema ns) trigger functions named in own.
bool is_own_trigger(const Trigger& t, Oid ns, std::initializer_list<const char*> own) {
  const char* fn = get_func_name(t.tgfoid);
  if (fn == nullptr || get_func_namespace(t.tgfoid) != ns) return false;
  for (const char* name : own)
    if (strcmp(fn, name) == 0) return true;
  return false;
}

}  // namespace

bool stock_triggers_as_installed(Relation stock) {
  TriggerDesc* td = stock->trigdesc;
  Oid ns = get_namespace_oid("channel_sync", true);
  bool retarget_on_update = false;
  for (int i = 0; td != nullptr && i < td->numtriggers; ++i) {
    const Trigger& t = td->triggers[i];
    if (t.tgisinternal) continue;  // foreign-key checks
    bool ours = is_own_trigger(
        t, ns,
        {"_retarget_on_change", "_retarget_at_commit", "_refuse_truncate", "_check_stock_sku"});
    if (!ours || t.tgenabled != TRIGGER_FIRES_ALWAYS) return false;
    retarget_on_update |= strcmp(t.tgname, "retarget_on_update") == 0 &&
                          TRIGGER_FOR_UPDATE(t.tgtype) && !TRIGGER_FOR_ROW(t.tgtype);
  }
  return retarget_on_update;
}

bool retarget_triggers_fire_always(Relation rel) {
  TriggerDesc* td = rel->trigdesc;
  Oid ns = get_namespace_oid("channel_sync", true);
  bool insert = false, update = false, remove = false;
  for (int i = 0; td != nullptr && i < td->numtriggers; ++i) {
    const Trigger& t = td->triggers[i];
    if (t.tgenabled != TRIGGER_FIRES_ALWAYS || TRIGGER_FOR_ROW(t.tgtype) ||
        !is_own_trigger(t, ns, {"_retarget_on_change"}))
      continue;
    insert |= TRIGGER_FOR_INSERT(t.tgtype);
    update |= TRIGGER_FOR_UPDATE(t.tgtype);
    remove |= TRIGGER_FOR_DELETE(t.tgtype);
  }
  return insert && update && remove;
}

bool triggers_allow_direct_writes(Relation rel) {
  TriggerDesc* td = rel->trigdesc;
  Oid ns = get_namespace_oid("channel_sync", true);
  for (int i = 0; td != nullptr && i < td->numtriggers; ++i) {
    const Trigger& t = td->triggers[i];
    // foreign-key checks; listings' own enqueue trigger, whose work the writers do themselves
    if (t.tgisinternal || is_own_trigger(t, ns, {"_enqueue_listing_changes", "_refuse_truncate"}))
      continue;
    bool on_write = TRIGGER_FOR_INSERT(t.tgtype) || TRIGGER_FOR_UPDATE(t.tgtype);
    bool transition_tables = t.tgoldtable != nullptr || t.tgnewtable != nullptr;
    if (on_write && (!TRIGGER_FOR_ROW(t.tgtype) || transition_tables)) return false;
  }
  return check_enable_rls(RelationGetRelid(rel), InvalidOid, true) != RLS_ENABLED;
}

void init_triggers() {
  RegisterXactCallback(forget_stock_skus, nullptr);
}

namespace {

// The SKUs a stock change of these SKUs re-targets: they and the bundles containing them.
std::vector<std::string> retargeted_by_stock(const std::vector<std::string>& changed) {
  std::set<std::string> skus(changed.begin(), changed.end());
  if (skus.empty()) return {};
  for (std::string& b : bundles_of(changed)) skus.insert(std::move(b));
  return std::vector<std::string>(skus.begin(), skus.end());
}

}  // namespace

void retarget_changed_stock(const std::vector<std::string>& changed) {
  std::vector<std::string> all = retargeted_by_stock(changed);
  if (!all.empty()) locked_retarget(&all);
}

void lock_for_retarget_of(const std::vector<std::string>& skus) {
  std::vector<std::string> all = retargeted_by_stock(skus);
  if (!all.empty()) lock_for_retarget(&all);
}

}  // namespace cs::propagation

// _retarget_on_change(): AFTER statement trigger on the tables that decide availability.
CS_FUNCTION(_retarget_on_change) {
  TriggerData* td = trigger_data(fcinfo, "_retarget_on_change");
  Datum done = PointerGetDatum(nullptr);
  if (transition_rows(td->tg_newtable) == 0 && transition_rows(td->tg_oldtable) == 0) return done;
  const watched_table* w = find_watched(RelationGetRelationName(td->tg_relation));
  if (w == nullptr) return done;
  if (is_configuration(w->table)) {
    // every other backend drops the configuration it remembered once this commits; the lock of
    // every SKU, released only after the invalidation is sent, keeps their re-targets from
    // reading the committed change before it arrives (an insert of a location re-targets
    // nothing, yet feeds every channel without channel_locations rows)
    Relation rel = td->tg_relation;
    cs::pg::guard([&] { CacheInvalidateRelcache(rel); });
    cs::allocation::configuration_written();
    lock_for_retarget(nullptr);
  }
  TriggerEvent ev = td->tg_event;
  const char* sql = TRIGGER_FIRED_BY_INSERT(ev)   ? w->on_insert
                    : TRIGGER_FIRED_BY_UPDATE(ev) ? w->on_update
                    : TRIGGER_FIRED_BY_DELETE(ev) ? w->on_delete
                                                  : nullptr;
  if (sql == nullptr) return done;
  if (std::strcmp(sql, kAllSkus) == 0) {
    locked_retarget(nullptr);
    return done;
  }
  if (std::strcmp(w->table, "stock") == 0) {
    std::vector<std::string> changed = changed_stock_skus(td);
    if (!commit_trigger_fires(td->tg_relation)) {
      cs::propagation::retarget_changed_stock(changed);
      return done;
    }
    for (std::string& sku : changed) stock_skus_to_retarget.insert(std::move(sku));
    return done;
  }
  text_column skus = run_transition_query(td, sql);
  if (skus.saw_null)
    locked_retarget(nullptr);
  else if (!skus.values.empty())
    locked_retarget(&skus.values);
  return done;
}

// _retarget_at_commit(): deferred constraint trigger on stock (each row); its first firing
// re-targets the SKUs the transaction's statements changed (see stock_skus_to_retarget).
CS_FUNCTION(_retarget_at_commit) {
  trigger_data(fcinfo, "_retarget_at_commit");
  Datum done = PointerGetDatum(nullptr);
  if (stock_skus_to_retarget.empty()) return done;
  std::vector<std::string> skus(stock_skus_to_retarget.begin(), stock_skus_to_retarget.end());
  stock_skus_to_retarget.clear();
  cs::propagation::retarget_changed_stock(skus);
  return done;
}

// _enqueue_listing_changes(): AFTER INSERT / AFTER UPDATE statement trigger on listings.
CS_FUNCTION(_enqueue_listing_changes) {
  TriggerData* td = trigger_data(fcinfo, "_enqueue_listing_changes");
  Datum done = PointerGetDatum(nullptr);
  // retarget's upsert (the triggers' and recompute_targets' path) enqueued them already
  if (cs::allocation::writing_outbox()) return done;
  if (transition_rows(td->tg_newtable) == 0) return done;
  bool inserted = TRIGGER_FIRED_BY_INSERT(td->tg_event);
  text_column channels = run_transition_query(td, inserted ? kEnqueueInserted : kEnqueueUpdated);
  // NULLs (changes coalesced into a message not yet claimed) wake no one
  std::set<std::string> distinct(channels.values.begin(), channels.values.end());
  for (const std::string& channel : distinct) {
    const char* payload = channel.c_str();
    cs::pg::guard([&] { cs::propagation::wake_listeners(payload); });
  }
  return done;
}

// _refuse_truncate(): BEFORE TRUNCATE trigger; a TRUNCATE would bypass propagation.
CS_FUNCTION(_refuse_truncate) {
  TriggerData* td = trigger_data(fcinfo, "_refuse_truncate");
  std::string table = RelationGetRelationName(td->tg_relation);
  throw cs::user_error(
      kFeatureNotSupported, "cannot truncate channel_sync." + table,
      "TRUNCATE shows no rows to the propagation triggers, so no channel would learn of the "
      "change.",
      "Use DELETE FROM channel_sync." + table +
          " instead; its rows are re-targeted and propagated in the same transaction.");
}
