"""Two connectors' ingest_batch calls over shared, scarce SKUs at once, round after round.

A batch plans its orders from the stock as committed, writes them, and only then locks the
stock rows (where it may wait for the other batch); once it holds them it plans again and
corrects what changed. Each round must therefore end as the two batches one after the other
would, in one order or the other: every order's oversold flag and lines (a bundle's spread
over its components) as a serial model gives them, its event's detail saying oversold
exactly when the order is, and every stock row's reservations equal to its lines. verify()
must find no drift at the end.
"""
import argparse
import random
import sys
import threading

from pgcall import psql_in

DB = "ingest_batch_race"
LOCS = ["wh-1", "wh-2"]
CHANNELS = ["amazon", "walmart"]


def psql(sql, db=DB):
    return psql_in(db, sql)


def batch_sql(channel, orders):
    items = ", ".join(
        "jsonb_build_object('idempotency_key', '%s-%s', 'event_type', 'order_placed', 'payload', "
        "jsonb_build_object('order_id', '%s', 'lines', jsonb_build_array(%s)))"
        % (channel, oid, oid, ", ".join("jsonb_build_object('sku', '%s', 'qty', %d)" % line
                                        for line in lines))
        for oid, lines in orders)
    return ("SELECT count(*) FROM channel_sync.ingest_batch('%s', jsonb_build_array(%s));"
            % (channel, items))


def serial(stock, bundles, batches):
    """Each order's (oversold, sorted lines (sku, location, sold sku, qty)) when the batches
    run one after the other: a bundle line reserves its components, each SKU of an order at
    the feeding location with the most sellable units (ties to the smallest id), its demand
    summed; oversold when a SKU's demand at its location exceeds on_hand - reserved there."""
    reserved = {key: 0 for key in stock}
    out = {}
    for orders in batches:
        for oid, lines in orders:
            parts = []  # (sku, sold sku, units)
            for sku, qty in lines:
                for comp, per in bundles.get(sku, [(sku, 1)]):
                    parts.append((comp, sku, qty * per))
            chosen, demand, merged = {}, {}, {}
            for sku, sold, units in parts:
                if sku not in chosen:
                    chosen[sku] = min(LOCS, key=lambda l: (-(stock[(sku, l)] - reserved[(sku, l)]), l))
                key = (sku, chosen[sku])
                demand[key] = demand.get(key, 0) + units
                merged[key + (sold,)] = merged.get(key + (sold,), 0) + units
            oversold = any(d > stock[k] - reserved[k] for k, d in demand.items())
            for k, d in demand.items():
                reserved[k] += d
            out[oid] = (oversold, sorted(k + (q,) for k, q in merged.items()))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--rounds", type=int, default=40)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    psql(f"DROP DATABASE IF EXISTS {DB}", db="postgres")
    psql(f"CREATE DATABASE {DB}", db="postgres")
    psql("CREATE EXTENSION channel_sync;"
         "INSERT INTO channel_sync.channels (channel_id) VALUES ('amazon'), ('walmart');"
         "INSERT INTO channel_sync.locations (location_id) VALUES ('wh-1'), ('wh-2');")

    mismatched, miscounted, misflagged, failed = [], [], [], []
    for r in range(args.rounds):
        skus = [f"R{r}-{k}" for k in range(5)]
        kit = f"R{r}-KIT"
        bundles = {kit: [(skus[0], 1), (skus[1], 2)]}
        stock = {(s, l): rng.randint(0, 4) for s in skus for l in LOCS}
        psql("INSERT INTO channel_sync.skus (sku) VALUES %s;" % ", ".join(f"('{s}')" for s in skus)
             + f"INSERT INTO channel_sync.skus (sku, kind) VALUES ('{kit}', 'bundle');"
             + "INSERT INTO channel_sync.bundle_components VALUES %s;"
             % ", ".join(f"('{kit}', '{c}', {per})" for c, per in bundles[kit])
             + "INSERT INTO channel_sync.stock (sku, location_id, on_hand) VALUES %s;"
             % ", ".join(f"('{s}', '{l}', {n})" for (s, l), n in stock.items()))
        items = skus + [kit]
        batches = [[(f"{ch[0].upper()}{r}-{i}",
                     [(rng.choice(items), rng.randint(1, 2)) for _ in range(rng.choice([1, 1, 2]))])
                    for i in range(rng.randint(6, 14))] for ch in CHANNELS]
        errors = []

        holds = [rng.choice([0, 0.02, 0.05]) for _ in CHANNELS]

        def deliver(channel, orders, hold):
            # the connector's transaction stays open a moment after the call (as one that
            # records the results before it commits would): the other batch then reads the
            # stock before this one's reservations commit, and waits for them
            try:
                psql("BEGIN;" + batch_sql(channel, orders) + f"SELECT pg_sleep({hold}); COMMIT;")
            except RuntimeError as e:
                errors.append(str(e).strip()[:200])

        threads = [threading.Thread(target=deliver, args=(ch, b, h))
                   for ch, b, h in zip(CHANNELS, batches, holds)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            failed.append((r, errors))
            continue
        rows = psql(
            "SELECT o.order_id, o.oversold, l.sku, l.location_id, l.sold_sku, l.qty, "
            "e.detail LIKE 'oversold:%%' "
            "FROM channel_sync.orders o JOIN channel_sync.order_lines l USING (channel_id, order_id) "
            "JOIN channel_sync.events e ON e.event_id = o.event_id "
            "WHERE o.order_id LIKE '%%%d-%%' AND l.sku LIKE 'R%d-%%'" % (r, r))
        got, flagged = {}, True
        for line in rows.splitlines():
            oid, oversold, sku, loc, sold, qty, said = line.split("|")
            flags, lines = got.setdefault(oid, (oversold == "t", []))
            lines.append((sku, loc, sold, int(qty)))
            flagged = flagged and (oversold == "t") == (said == "t")
        got = {oid: (flags, sorted(lines)) for oid, (flags, lines) in got.items()}
        if got not in (serial(stock, bundles, batches), serial(stock, bundles, batches[::-1])):
            mismatched.append(r)
        if not flagged:
            misflagged.append(r)
        counted = psql(
            "SELECT count(*) FROM channel_sync.stock s WHERE s.sku LIKE 'R%d-%%' AND s.reserved <> "
            "(SELECT coalesce(sum(l.qty), 0) FROM channel_sync.order_lines l "
            " WHERE l.sku = s.sku AND l.location_id = s.location_id)" % r).strip()
        if counted != "0":
            miscounted.append(r)

    drift = psql("SELECT count(*) FROM channel_sync.verify()").strip()
    raced = psql("SELECT count(*) FROM channel_sync.orders WHERE oversold").strip()
    ok = True

    def check(name, cond, info=""):
        nonlocal ok
        print(("ok " if cond else "not ok ") + name + ("" if cond else f"  # {info}"))
        ok = ok and cond

    check("ingest_batch_race_batches_succeed", not failed, str(failed[:2]))
    check("ingest_batch_race_orders_as_one_batch_after_the_other", not mismatched,
          f"rounds {mismatched[:10]}")
    check("ingest_batch_race_events_say_oversold_as_orders", not misflagged, f"rounds {misflagged[:10]}")
    check("ingest_batch_race_each_unit_reserved_once", not miscounted, f"rounds {miscounted[:10]}")
    check("ingest_batch_race_no_drift", drift == "0", f"{drift} findings")
    check("ingest_batch_race_scarce_stock_oversold_some", raced != "0", "no order was oversold")
    psql(f"DROP DATABASE {DB}", db="postgres")
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RuntimeError as e:  # a setup statement failed: say so, as a failed check
        print("not ok ingest_batch_race_ran  # " + str(e).strip().replace("\n", " ")[:300])
        sys.exit(1)
