"""Random inbound-event histories against channel_sync and a model of their semantics.

The history is a list of distinct events (orders with simple and bundle lines, whole
cancellations and shipments, adjustments, counts with out-of-order times, restocking
returns). Deliveries: every event once, some twice or three times (duplicates; a third of
the repeats write their numbers as decimals, 2.0 for 2: the same content), some keys reused
with other content (conflicts), all slightly shuffled (reorderings). The
model processes the same delivery stream, applying each key's first delivery only, and
the final stock, each key's status and the applied count must match the database's.
"""
import argparse
import json
import random
import sys

from pgcall import psql_in

DB = "ingest_generator"
SKUS = ["A", "B", "C", "D"]
KIT = {"A": 1, "B": 2}  # bundle KIT = 1 A + 2 B
LOCS = ["wh-1", "wh-2"]
CHANNELS = ["shop", "amazon"]


def psql(sql, db=DB):
    return psql_in(db, sql)


def q(s):
    return "'" + s.replace("'", "''") + "'"


def make_history(rng, n):
    events, orders, t = [], [], 0
    for i in range(n):
        t += 1
        at = f"2024-05-01 {t // 3600:02d}:{t // 60 % 60:02d}:{t % 60:02d}+00"
        ch = rng.choice(CHANNELS)
        r = rng.random()
        if r < 0.40 or not orders:
            oid = f"O{i}"
            lines = []
            for _ in range(rng.randint(1, 3)):
                sku = rng.choice(SKUS + ["KIT"])
                lines.append({"sku": sku, "qty": rng.randint(1, 3), "location_id": rng.choice(LOCS)})
            orders.append((ch, oid))
            events.append((ch, "order_placed", {"order_id": oid, "lines": lines}, at))
        elif r < 0.55:
            och, oid = rng.choice(orders)
            events.append((och, "order_cancelled", {"order_id": oid}, at))
        elif r < 0.72:
            och, oid = rng.choice(orders)
            events.append((och, "order_shipped", {"order_id": oid}, at))
        elif r < 0.85:
            events.append((ch, "stock_adjusted", {"sku": rng.choice(SKUS), "location_id": rng.choice(LOCS),
                                                  "delta": rng.choice([-4, -2, -1, 2, 3, 5, 8]), "reason": "gen"}, at))
        elif r < 0.95:
            # counts carry their own time, often out of order
            ct = rng.randint(0, 3 * n)
            cat = f"2024-05-01 {ct // 3600:02d}:{ct // 60 % 60:02d}:{ct % 60:02d}+00"
            events.append((ch, "stock_counted", {"sku": rng.choice(SKUS), "location_id": rng.choice(LOCS),
                                                 "on_hand": rng.randint(0, 30)}, cat))
        else:
            events.append((ch, "return_received", {"sku": rng.choice(SKUS + ["KIT"]), "qty": rng.randint(1, 2),
                                                   "location_id": rng.choice(LOCS), "restock": rng.random() < 0.7}, at))
    return [dict(key=f"ev-{i}", channel=e[0], type=e[1], payload=e[2], at=e[3]) for i, e in enumerate(events)]


def make_deliveries(rng, history):
    stream = []
    for e in history:
        stream.append(e)
        for _ in range(rng.choice([0, 0, 0, 1, 2])):
            # a retried webhook, sometimes re-serialized by the sender
            stream.append(dict(e, decimals=True) if rng.random() < 0.33 else e)
        if rng.random() < 0.05:
            other = json.loads(json.dumps(e))
            other["payload"]["_edited"] = True  # same key, other content
            stream.append(other)
    # reorder: each delivery moves a few places
    keyed = [(i + rng.uniform(0, 6), d) for i, d in enumerate(stream)]
    keyed.sort(key=lambda x: x[0])
    return [d for _, d in keyed]


def wire(v, decimals=False):
    """JSON text of v; with decimals, every integer written as a decimal (2 -> 2.0)."""
    if not decimals or v is None or isinstance(v, (bool, str, float)):
        return json.dumps(v)
    if isinstance(v, int):
        return f"{v}.0"
    if isinstance(v, list):
        return "[" + ", ".join(wire(x, True) for x in v) + "]"
    return "{" + ", ".join(json.dumps(k) + ": " + wire(x, True) for k, x in v.items()) + "}"


def batch_text(run):
    return "[" + ", ".join(
        "{" + f'"idempotency_key": {json.dumps(x["key"])}, "event_type": {json.dumps(x["type"])}, '
        f'"payload": {wire(x["payload"], x.get("decimals", False))}, "occurred_at": {json.dumps(x["at"])}' + "}"
        for x in run) + "]"


class Model:
    def __init__(self, stock):
        self.stock = {k: list(v) for k, v in stock.items()}  # (sku, loc) -> [on_hand, reserved]
        self.orders = {}  # (channel, order) -> [state, {(sku, loc): units}]
        self.counts = {}  # (sku, loc) -> time
        self.seen = {}  # (channel, key) -> content
        self.status = {}  # (channel, key) -> status of the first delivery

    def row(self, sku, loc):
        return self.stock.setdefault((sku, loc), [0, 0])

    @staticmethod
    def units(sku, qty):
        return [(c, qty * per) for c, per in KIT.items()] if sku == "KIT" else [(sku, qty)]

    def apply(self, e):
        p, ch = e["payload"], e["channel"]
        t = e["type"]
        if t == "order_placed":
            if (ch, p["order_id"]) in self.orders:
                return "rejected"
            need = {}
            for line in p["lines"]:
                for sku, u in self.units(line["sku"], line["qty"]):
                    need[(sku, line["location_id"])] = need.get((sku, line["location_id"]), 0) + u
            for k, u in need.items():
                self.row(*k)[1] += u
            self.orders[(ch, p["order_id"])] = ["placed", need]
            return "applied"
        if t in ("order_cancelled", "order_shipped"):
            o = self.orders.get((ch, p["order_id"]))
            if o is None or o[0] != "placed":
                return "rejected"
            if t == "order_shipped":
                if any(self.row(*k)[0] < u for k, u in o[1].items()):
                    return "rejected"
                for k, u in o[1].items():
                    self.row(*k)[0] -= u
            for k, u in o[1].items():
                r = self.row(*k)
                r[1] = max(0, r[1] - u)
            o[0] = "shipped" if t == "order_shipped" else "cancelled"
            return "applied"
        if t == "stock_adjusted":
            r = self.row(p["sku"], p["location_id"])
            if r[0] + p["delta"] < 0:
                return "rejected"
            r[0] += p["delta"]
            return "applied"
        if t == "stock_counted":
            k = (p["sku"], p["location_id"])
            if k in self.counts and e["at"] < self.counts[k]:
                return "stale"
            self.counts[k] = e["at"]
            self.row(*k)[0] = p["on_hand"]
            return "applied"
        if t == "return_received":
            if p["restock"]:
                for sku, u in self.units(p["sku"], p["qty"]):
                    self.row(sku, p["location_id"])[0] += u
            return "applied"
        raise ValueError(t)

    def deliver(self, e):
        k = (e["channel"], e["key"])
        content = json.dumps([e["type"], e["payload"], e["at"]], sort_keys=True)
        if k in self.seen:
            return "duplicate" if self.seen[k] == content else "conflict"
        self.seen[k] = content
        self.status[k] = self.apply(e)
        return self.status[k]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--events", type=int, default=600)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    history = make_history(rng, args.events)
    stream = make_deliveries(rng, history)
    initial = {(s, l): (rng.randint(0, 20), 0) for s in SKUS for l in LOCS}

    psql(f"DROP DATABASE IF EXISTS {DB}", db="postgres")
    psql(f"CREATE DATABASE {DB}", db="postgres")
    setup = ["CREATE EXTENSION channel_sync;",
             "INSERT INTO channel_sync.channels (channel_id) VALUES ('shop'), ('amazon');",
             "INSERT INTO channel_sync.locations (location_id) VALUES ('wh-1'), ('wh-2');",
             "INSERT INTO channel_sync.skus (sku) VALUES " + ", ".join(f"({q(s)})" for s in SKUS) + ";",
             "INSERT INTO channel_sync.skus (sku, kind) VALUES ('KIT', 'bundle');",
             "INSERT INTO channel_sync.bundle_components VALUES " +
             ", ".join(f"('KIT', {q(c)}, {per})" for c, per in KIT.items()) + ";",
             "INSERT INTO channel_sync.stock (sku, location_id, on_hand) VALUES " +
             ", ".join(f"({q(s)}, {q(l)}, {v[0]})" for (s, l), v in initial.items()) + ";"]
    psql("\n".join(setup))

    # deliver: runs of single ingest() calls alternate with ingest_batch() calls
    sql, i = [], 0
    while i < len(stream):
        n = rng.randint(1, 40)
        chunk = stream[i:i + n]
        i += n
        if rng.random() < 0.5:
            for d in chunk:
                sql.append(f"SELECT {q(d['channel'])}, {q(d['key'])}, status FROM channel_sync.ingest("
                           f"{q(d['channel'])}, {q(d['key'])}, {q(d['type'])}, {q(wire(d['payload'], d.get('decimals', False)))}, {q(d['at'])});")
        else:
            # a batch is for one channel: split the chunk into runs of one channel
            run = []
            for d in chunk + [None]:
                if run and (d is None or d["channel"] != run[0]["channel"]):
                    arr = batch_text(run)
                    sql.append(f"SELECT {q(run[0]['channel'])}, e->>'idempotency_key', r.status FROM "
                               f"channel_sync.ingest_batch({q(run[0]['channel'])}, {q(arr)}) WITH ORDINALITY AS r(event_id, status, detail, n) "
                               f"JOIN jsonb_array_elements({q(arr)}) WITH ORDINALITY AS a(e, n) USING (n) ORDER BY n;")
                    run = []
                if d is not None:
                    run.append(d)
    got = [line.split("|") for line in psql("\n".join(sql)).splitlines()]

    model = Model(initial)
    expected = [model.deliver(d) for d in stream]
    ok = True

    def check(name, cond, info=""):
        nonlocal ok
        print(("ok " if cond else "not ok ") + name + ("" if cond else f"  # {info}"))
        ok = ok and cond

    statuses = [g[2] for g in got]
    check("ingest_generator_deliveries_answered", len(got) == len(stream), f"{len(got)} results for {len(stream)}")
    mismatch = [(stream[j]["key"], statuses[j], expected[j]) for j in range(min(len(got), len(stream)))
                if statuses[j] != expected[j]]
    check("ingest_generator_statuses_match_model", not mismatch, str(mismatch[:5]))
    db_stock = {}
    for line in psql("SELECT sku, location_id, on_hand, reserved FROM channel_sync.stock").splitlines():
        s, l, oh, rv = line.split("|")
        db_stock[(s, l)] = [int(oh), int(rv)]
    model_stock = {k: v for k, v in model.stock.items()}
    check("ingest_generator_final_stock_matches_distinct_applied_events", db_stock == model_stock,
          str(sorted(set(db_stock.items()) ^ set((k, tuple(v)) for k, v in model_stock.items()))[:300])
          if db_stock != model_stock else "")
    applied_db = int(psql("SELECT count(*) FROM channel_sync.events WHERE status = 'applied'"))
    applied_model = sum(1 for s in model.status.values() if s == "applied")
    check("ingest_generator_each_key_applied_once", applied_db == applied_model, f"{applied_db} vs {applied_model}")
    dups_db = int(psql("SELECT coalesce(sum(duplicates), 0) FROM channel_sync.events"))
    check("ingest_generator_duplicates_counted", dups_db == expected.count("duplicate"),
          f"{dups_db} vs {expected.count('duplicate')}")
    conflicts = int(psql("SELECT count(*) FROM channel_sync.events WHERE status = 'conflict'"))
    check("ingest_generator_conflicts_recorded", conflicts == expected.count("conflict") and conflicts > 0,
          f"{conflicts} vs {expected.count('conflict')}")
    kinds = {s: expected.count(s) for s in ("applied", "duplicate", "conflict", "stale", "rejected")}
    print(f"# {len(history)} events, {len(stream)} deliveries: {kinds}", file=sys.stderr)
    psql(f"DROP DATABASE IF EXISTS {DB}", db="postgres")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
