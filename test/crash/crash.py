#!/usr/bin/python3
"""Crash test: mixed concurrent load, kill -9 of the postmaster mid-load, restart, check.

Load: ingest workers send order_placed and stock_adjusted events (20 % are redeliveries
of keys already sent), a stock worker updates safety stock directly, connector workers
claim and ack. At a kill point every server process is killed with SIGKILL (the power
goes out); the cluster restarts through crash recovery and the checks run:
  - every ingest that returned to its client is present, with the status it returned;
  - no idempotency key was applied twice (one owner row per key, one order per order_id);
  - every listing whose target is newer than its acknowledged version has a pending
    message carrying that version;
  - verify() reports no drift and no disabled trigger;
  - reserved and on_hand equal what the applied events imply.
Prints `ok <check>` / `not ok <check>` lines, one set per kill point.
"""
import json
import multiprocessing as mp
import os
import random
import select
import signal
import subprocess
import sys
import time

import psycopg2

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLUSTER = sys.argv[1]
PORT = int(sys.argv[2])
KILL_POINTS = [float(x) for x in (sys.argv[3] if len(sys.argv) > 3 else "1.5,3,5").split(",")]
SKUS = 50
INITIAL_ON_HAND = 1000


def connect():
    return psycopg2.connect(host=CLUSTER, port=PORT, user="postgres", dbname="crash", connect_timeout=5)


def cluster(*args):
    subprocess.run([os.path.join(ROOT, "scripts/cluster.sh"), *args], check=True,
                   stdout=subprocess.DEVNULL)


def setup():
    # as production would run it: the batched notifier's shared memory is rebuilt by the
    # restart and its workers are started again by the first changes after it
    cluster("start", CLUSTER, str(PORT), "fsync = on", "synchronous_commit = on",
            "shared_preload_libraries = 'channel_sync'", "channel_sync.notify_mode = batched")
    c = psycopg2.connect(host=CLUSTER, port=PORT, user="postgres", dbname="postgres")
    c.autocommit = True
    c.cursor().execute("CREATE DATABASE crash")
    c.close()
    c = connect()
    c.autocommit = True
    cur = c.cursor()
    cur.execute("CREATE EXTENSION channel_sync")
    cur.execute("""
      INSERT INTO channel_sync.channels (channel_id, kind, max_attempts) VALUES
        ('shop', 'storefront', 5), ('amazon', 'marketplace', 5);
      INSERT INTO channel_sync.locations VALUES ('wh', 'warehouse', true);
      INSERT INTO channel_sync.skus (sku, base_price)
        SELECT 'S' || i, 10 FROM generate_series(1, %s) i;
      INSERT INTO channel_sync.stock (sku, location_id, on_hand)
        SELECT sku, 'wh', %s FROM channel_sync.skus;
      INSERT INTO channel_sync.allocation_rules (channel_id, buffer) VALUES ('amazon', 2);
    """, (SKUS, INITIAL_ON_HAND))
    cur.execute("SELECT channel_sync.recompute_targets()")
    c.close()


def ingest_worker(worker, seconds, queue):
    """Sends events; reports every call that returned, with its key and status."""
    rng = random.Random(worker)
    returned = []
    sent = []
    try:
        c = connect()
        c.autocommit = True
        cur = c.cursor()
        deadline = time.time() + seconds
        n = 0
        while time.time() < deadline and n < 100000:
            n += 1
            if sent and rng.random() < 0.2:
                key, etype, payload, channel = rng.choice(sent)          # a redelivery
            else:
                channel = rng.choice(["shop", "amazon"])
                key = f"w{worker}-{n}"
                if rng.random() < 0.7:
                    etype = "order_placed"
                    payload = {"order_id": key, "lines": [
                        {"sku": f"S{rng.randint(1, SKUS)}", "qty": rng.randint(1, 3), "location_id": "wh"}]}
                else:
                    etype = "stock_adjusted"
                    payload = {"sku": f"S{rng.randint(1, SKUS)}", "location_id": "wh",
                               "delta": rng.randint(-2, 5), "reason": "crash-test"}
                sent.append((key, etype, payload, channel))
            cur.execute("SELECT event_id, status FROM channel_sync.ingest(%s, %s, %s, %s::jsonb, "
                        "'2026-01-01 00:00:00+00')", (channel, key, etype, json.dumps(payload)))
            event_id, status = cur.fetchone()
            returned.append((channel, key, event_id, status))
    except psycopg2.Error:
        pass  # the server went away: what returned so far is what counts
    queue.put(("ingest", returned))


def stock_worker(worker, seconds, queue):
    """Changes safety stock directly, as an ERP would; every change goes through triggers."""
    rng = random.Random(1000 + worker)
    done = 0
    try:
        c = connect()
        c.autocommit = True
        cur = c.cursor()
        deadline = time.time() + seconds
        while time.time() < deadline and done < 100000:
            cur.execute("UPDATE channel_sync.stock SET safety_stock = %s WHERE sku = %s",
                        (rng.randint(0, 5), f"S{rng.randint(1, SKUS)}"))
            done += 1
    except psycopg2.Error:
        pass
    queue.put(("stock", done))


def connector_worker(worker, seconds, queue):
    """Claims and acks messages like a marketplace connector."""
    acked = 0
    try:
        c = connect()
        c.autocommit = True
        cur = c.cursor()
        deadline = time.time() + seconds
        channel = ["shop", "amazon"][worker % 2]
        while time.time() < deadline and acked < 1000000:
            cur.execute("SELECT message_id, qty FROM channel_sync.claim(%s, 20, '5 seconds')", (channel,))
            rows = cur.fetchall()
            for message_id, qty in rows:
                cur.execute("SELECT channel_sync.ack(%s, %s)", (message_id, qty))
                acked += 1
            if not rows:
                time.sleep(0.02)
    except psycopg2.Error:
        pass
    queue.put(("connector", acked))


def kill_everything():
    """SIGKILL the postmaster and every child at once: the power goes out."""
    with open(os.path.join(CLUSTER, "data", "postmaster.pid")) as f:
        pid = int(f.readline())
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    for p in [pid, *map(int, children)]:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for _ in range(100):
        alive = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True).returncode == 0
        try:
            os.kill(pid, 0)
            alive = True
        except ProcessLookupError:
            pass
        if not alive:
            return
        time.sleep(0.1)


def restart():
    owner = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
    subprocess.run([*owner, "/usr/lib/postgresql/15/bin/pg_ctl", "-D", os.path.join(CLUSTER, "data"),
                    "-l", os.path.join(CLUSTER, "server.log"), "-w", "-t", "120", "start"],
                   check=True, stdout=subprocess.DEVNULL)


def report(name, ok, detail=""):
    print(("ok " if ok else "not ok ") + name + (f"  # {detail}" if detail and not ok else ""), flush=True)
    return ok


def check(round_no, returned):
    c = connect()
    c.autocommit = True
    cur = c.cursor()
    tag = f"crash{round_no}"
    # every ingest that returned to its client is present with the status it returned
    missing = 0
    for channel, key, event_id, status in returned:
        cur.execute("SELECT status FROM channel_sync.events WHERE event_id = %s AND channel_id = %s "
                    "AND idempotency_key = %s", (event_id, channel, key))
        row = cur.fetchone()
        if row is None or (status == "applied" and row[0] != "applied"):
            missing += 1
    report(f"{tag}_returned_ingests_durable", missing == 0,
           f"{missing} of {len(returned)} returned ingests missing")
    cur.execute("""SELECT count(*) FROM (SELECT channel_id, idempotency_key FROM channel_sync.events
                    WHERE status = 'applied' GROUP BY 1, 2 HAVING count(*) > 1) d""")
    twice = cur.fetchone()[0]
    cur.execute("""SELECT count(*) FROM channel_sync.events e WHERE e.event_type = 'order_placed'
                    AND e.status = 'applied' AND NOT EXISTS (SELECT 1 FROM channel_sync.orders o
                    WHERE o.channel_id = e.channel_id AND o.order_id = e.payload->>'order_id')""")
    orphan = cur.fetchone()[0]
    report(f"{tag}_no_key_applied_twice", twice == 0 and orphan == 0,
           f"{twice} keys applied twice, {orphan} applied orders without an order row")
    cur.execute("""SELECT count(*) FROM channel_sync.listings l
                    WHERE l.target_version > coalesce(l.acked_version, 0)
                      AND NOT EXISTS (SELECT 1 FROM channel_sync.outbox o WHERE o.channel_id = l.channel_id
                                      AND o.sku = l.sku AND o.version = l.target_version)""")
    unsent = cur.fetchone()[0]
    report(f"{tag}_every_change_has_a_message", unsent == 0, f"{unsent} listings newer than acked without a message")
    cur.execute("SELECT check_name, channel_id, sku, expected, found FROM channel_sync.verify()")
    drift = cur.fetchall()
    report(f"{tag}_verify_reports_no_drift", not drift, f"{len(drift)} findings, first: {drift[:1]}")
    cur.execute("""
      WITH placed AS (
        SELECT ol.sku, sum(ol.qty - ol.qty_shipped - ol.qty_cancelled) AS reserved
          FROM channel_sync.order_lines ol GROUP BY ol.sku),
      adjusted AS (
        SELECT payload->>'sku' AS sku, sum((payload->>'delta')::int) AS delta
          FROM channel_sync.events WHERE status = 'applied' AND event_type = 'stock_adjusted' GROUP BY 1)
      SELECT count(*) FROM channel_sync.stock s
        LEFT JOIN placed p ON p.sku = s.sku LEFT JOIN adjusted a ON a.sku = s.sku
       WHERE s.reserved <> coalesce(p.reserved, 0)
          OR s.on_hand <> %s + coalesce(a.delta, 0)""", (INITIAL_ON_HAND,))
    off = cur.fetchone()[0]
    report(f"{tag}_stock_matches_applied_events", off == 0, f"{off} stock rows differ from the applied events")
    check_wakeup_after_restart(tag, cur)
    c.close()


def check_wakeup_after_restart(tag, cur):
    """A new SKU writes a message per channel: its listeners are woken by the notifier worker
    the restart left to be started again."""
    listener = connect()
    listener.autocommit = True
    listener.cursor().execute("LISTEN channel_sync")
    cur.execute("INSERT INTO channel_sync.skus (sku, base_price) VALUES (%s, 1)", (f"WAKE-{tag}",))
    senders, deadline = set(), time.monotonic() + 5
    while not senders and time.monotonic() < deadline:
        if select.select([listener], [], [], 0.2)[0]:
            listener.poll()
            senders = {n.pid for n in listener.notifies}
    cur.execute("SELECT pid FROM pg_stat_activity WHERE backend_type = 'channel_sync notifier'")
    workers = {r[0] for r in cur.fetchall()}
    report(f"{tag}_notifier_wakes_after_restart", bool(senders) and senders <= workers,
           f"senders {senders}, notifier workers {workers}")
    listener.close()


def main():
    setup()
    try:
        for round_no, kill_after in enumerate(KILL_POINTS, 1):
            queue = mp.Queue()
            seconds = kill_after + 10
            workers = [mp.Process(target=ingest_worker, args=(round_no * 10 + i, seconds, queue)) for i in range(3)]
            workers.append(mp.Process(target=stock_worker, args=(round_no, seconds, queue)))
            workers += [mp.Process(target=connector_worker, args=(i, seconds, queue)) for i in range(2)]
            for w in workers:
                w.start()
            time.sleep(kill_after)
            kill_everything()
            returned, counts = [], {}
            for _ in workers:
                kind, value = queue.get(timeout=60)
                if kind == "ingest":
                    returned += value
                else:
                    counts[kind] = counts.get(kind, 0) + value
            for w in workers:
                w.join(timeout=30)
            print(f"# kill point {round_no}: after {kill_after} s; {len(returned)} ingests returned, "
                  f"{counts.get('stock', 0)} stock updates, {counts.get('connector', 0)} acks", flush=True)
            restart()
            check(round_no, returned)
    finally:
        cluster("stop", CLUSTER)


if __name__ == "__main__":
    main()
