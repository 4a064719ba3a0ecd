"""Stock changes and connectors at once, then drained: nothing lost, nothing out of order.

Two sessions change stock (single-row UPDATEs, UPDATEs of several rows, transactions of several
UPDATEs, one SKU's rows among them); three connectors
(two for one channel, one for the other) claim, ack (with or without the channel's quantity),
fail (retry at once), let leases lapse and requeue dead messages, each call in its own
transaction, as the README asks. Then the outbox is drained. No call may fail; verify() must
find no drift; every listing must be acknowledged at its target version, quantity and price;
each listing's acknowledgements must carry rising versions and the last one must be what the
listing records.
"""
import argparse
import random
import subprocess
import sys
import threading
import time

DB = "propagation_connector_race"
CHANNELS = ["amazon", "shop"]
LOCS = ["wh-1", "wh-2"]
SKUS = [f"S{i}" for i in range(1, 16)]


def psql(sql, db=DB, errors=None):
    p = subprocess.run(["psql", "-XAtq", "-F", "|", "-v", "ON_ERROR_STOP=1", "-d", db],
                       input=sql, capture_output=True, text=True)
    if p.returncode != 0:
        if errors is None:
            raise RuntimeError(p.stderr)
        errors.append(p.stderr.strip()[:300])
    return p.stdout


def setup(rng):
    psql(f"DROP DATABASE IF EXISTS {DB}", db="postgres")
    psql(f"CREATE DATABASE {DB}", db="postgres")
    stock = ", ".join(f"('{s}', '{l}', {rng.randint(0, 15)})" for s in SKUS for l in LOCS)
    psql("\n".join([
        "CREATE EXTENSION channel_sync;",
        "INSERT INTO channel_sync.channels (channel_id, max_attempts) VALUES ('amazon', 3), ('shop', 3);",
        "INSERT INTO channel_sync.locations (location_id) VALUES ('wh-1'), ('wh-2');",
        "INSERT INTO channel_sync.skus (sku, base_price) SELECT unnest(ARRAY[" +
        ", ".join(f"'{s}'" for s in SKUS) + "]), 10;",
        "INSERT INTO channel_sync.skus (sku, kind, base_price) VALUES ('KIT', 'bundle', 25);",
        "INSERT INTO channel_sync.bundle_components VALUES ('KIT', 'S1', 1), ('KIT', 'S2', 2);",
        f"INSERT INTO channel_sync.stock (sku, location_id, on_hand) VALUES {stock};",
    ]))


def sorted_rows(rows):
    """The rows of a multi-statement transaction in key order (two transactions changing two
    rows in opposite orders deadlock with or without channel_sync); one SKU's rows at two
    locations, or both components of KIT, may be among them (isolation spec
    propagation_transfer)."""
    return sorted(rows)


def stock_changer(seed, rounds, errors):
    r = random.Random(seed)
    for _ in range(rounds):
        rows = r.sample([(s, l) for s in SKUS for l in LOCS], r.randint(1, 4))
        mode = r.random()
        if mode < 0.4:  # single-row UPDATEs, each its own transaction
            psql("".join(f"UPDATE channel_sync.stock SET on_hand = {r.randint(0, 30)} "
                         f"WHERE sku = '{s}' AND location_id = '{l}';" for s, l in rows), errors=errors)
        elif mode < 0.7:  # one UPDATE of several rows (a SKU's rows at several locations among them)
            keys = ", ".join(f"('{s}', '{l}')" for s, l in rows)
            psql(f"UPDATE channel_sync.stock SET on_hand = on_hand + {r.randint(-2, 3)} "
                 f"WHERE (sku, location_id) IN ({keys}) AND on_hand >= 2;", errors=errors)
        else:  # a transaction of several UPDATEs
            psql("BEGIN;" + "".join(f"UPDATE channel_sync.stock SET on_hand = on_hand + {r.randint(-2, 3)} "
                                    f"WHERE sku = '{s}' AND location_id = '{l}' AND on_hand >= 2;"
                                    for s, l in sorted_rows(rows)) + "COMMIT;", errors=errors)


def connector(seed, channel, rounds, errors):
    r = random.Random(seed)
    for _ in range(rounds):
        act = r.random()
        lease = "0.2 seconds" if act >= 0.8 else "30 seconds"  # a lapsing lease: claimed again
        claimed = psql(f"SELECT message_id, qty FROM channel_sync.claim('{channel}', {r.randint(1, 8)}, "
                       f"'{lease}');", errors=errors).split()
        calls = []
        for row in claimed:
            message, qty = row.split("|")
            if act < 0.6:
                calls.append(f"SELECT channel_sync.ack({message}, {qty if int(qty) % 2 == 0 else 'NULL'});")
            elif act < 0.8:
                calls.append(f"SELECT channel_sync.fail({message}, 'HTTP 503', '0 seconds');")
        if r.random() < 0.1:
            calls.append(f"SELECT channel_sync.requeue_dead('{channel}');")
        if calls:
            psql("".join(calls), errors=errors)  # each call its own transaction


def drain():
    for _ in range(300):
        if psql("SELECT count(*) FROM channel_sync.outbox;").strip() == "0":
            return True
        for ch in CHANNELS:
            psql(f"SELECT channel_sync.requeue_dead('{ch}');"
                 f"SELECT count(*) FROM channel_sync.claim('{ch}', 100) c, LATERAL channel_sync.ack(c.message_id) a;")
        time.sleep(0.05)
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=150)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    setup(rng)
    errors, failures = [], []

    def check(name, ok, detail=""):
        print(("ok " if ok else "not ok ") + name + ("" if ok else f": {detail}"))
        if not ok:
            failures.append(name)

    workers = [threading.Thread(target=stock_changer, args=(rng.random(), args.rounds, errors)) for _ in range(2)]
    workers += [threading.Thread(target=connector, args=(rng.random(), ch, args.rounds, errors))
                for ch in ["amazon", "amazon", "shop"]]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    check("stock changes and connector calls at once all succeed", not errors, errors[:3])
    check("the outbox drains", drain())
    check("verify() finds no drift after the race",
          psql("SELECT count(*) FROM channel_sync.verify();").strip() == "0")
    check("every listing is acknowledged at its target version, quantity and price", psql("""
        SELECT count(*) FROM channel_sync.listings
         WHERE acked_version IS DISTINCT FROM target_version OR acked_qty IS DISTINCT FROM target_qty
            OR acked_price IS DISTINCT FROM target_price;""").strip() == "0")
    check("each listing's acknowledgements carry rising versions", psql("""
        SELECT count(*) FROM (SELECT version, pg_catalog.lag(version) OVER (PARTITION BY channel_id, sku
                                                                          ORDER BY log_id) AS before
                                FROM channel_sync.propagation_log) v WHERE version <= before;""").strip() == "0")
    check("a listing records its last acknowledgement", psql("""
        SELECT count(*) FROM channel_sync.listings l
          JOIN LATERAL (SELECT version, qty FROM channel_sync.propagation_log g
                         WHERE g.channel_id = l.channel_id AND g.sku = l.sku ORDER BY log_id DESC LIMIT 1) g ON true
         WHERE g.version <> l.acked_version OR g.qty <> l.acked_qty;""").strip() == "0")
    check("connectors reported quantities and failed deliveries along the way", psql("""
        SELECT (SELECT count(*) FROM channel_sync.propagation_log WHERE reported_qty IS NOT NULL) > 0
           AND (SELECT count(*) FROM channel_sync.propagation_log WHERE attempts > 1) > 0;""").strip() == "t")
    psql(f"DROP DATABASE IF EXISTS {DB}", db="postgres")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
