#!/usr/bin/python3
"""Batched notifier (channel_sync.notify_mode = batched), on a cluster of its own that loads
channel_sync through shared_preload_libraries, and the fallback on the main test cluster
(no preload: batched behaves as transaction).

Usage: notifier.py CLUSTER_DIR PORT MAIN_CLUSTER_DIR MAIN_PORT. Prints `ok <check>` /
`not ok <check>` lines.
"""
import os
import random
import select
import subprocess
import sys
import threading
import time

import psycopg2
import psycopg2.errors

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLUSTER, PORT, MAIN_CLUSTER, MAIN_PORT = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
INTERVAL_MS = 50
CHANNELS = ["shop", "amazon"]
failures = 0


def report(name, ok, detail=""):
    global failures
    print(("ok " if ok else "not ok ") + name + (" -- " + detail if detail else ""), flush=True)
    failures += 0 if ok else 1


def connect(db, host=CLUSTER, port=PORT):
    c = psycopg2.connect(host=host, port=port, user="postgres", dbname=db, connect_timeout=5)
    c.autocommit = True
    return c


def run(c, sql, args=None):
    with c.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall() if cur.description else None


def backend_pid(c):
    return run(c, "SELECT pg_backend_pid()")[0][0]


def create_catalog(db, host=CLUSTER, port=PORT, skus=40):
    admin = connect("postgres", host, port)
    run(admin, f"DROP DATABASE IF EXISTS {db}")
    run(admin, f"CREATE DATABASE {db}")
    admin.close()
    c = connect(db, host, port)
    run(c, "CREATE EXTENSION channel_sync")
    run(c, "INSERT INTO channel_sync.channels (channel_id, kind) VALUES ('shop', 'storefront'), ('amazon', 'marketplace')")
    run(c, "INSERT INTO channel_sync.locations (location_id) VALUES ('wh1')")
    run(c, "INSERT INTO channel_sync.skus (sku, base_price) SELECT 'S' || i, 10 FROM generate_series(1, %s) i", (skus,))
    run(c, "INSERT INTO channel_sync.stock (sku, location_id, on_hand) SELECT sku, 'wh1', 50 FROM channel_sync.skus")
    deliver_everything(c)
    return c


def deliver_everything(c):
    """A connector acks every message: the next change of any SKU writes a new message and
    wakes the channel (a change to a message still pending coalesces and wakes no one)."""
    run(c, "SELECT count(channel_sync.ack(m.message_id)) FROM channel_sync.channels ch, "
           "LATERAL channel_sync.claim(ch.channel_id, 10000) m")


class Listener:
    def __init__(self, db, host=CLUSTER, port=PORT):
        self.conn = connect(db, host, port)
        run(self.conn, "LISTEN channel_sync")

    def collect(self, seconds, until=None):
        """Notifications received within `seconds` (stops early once until(list) is true)."""
        got = []
        deadline = time.monotonic() + seconds
        while True:
            self.conn.poll()
            while self.conn.notifies:
                n = self.conn.notifies.pop(0)
                got.append((n.pid, n.payload))
            if until is not None and until(got):
                return got
            left = deadline - time.monotonic()
            if left <= 0:
                return got
            select.select([self.conn], [], [], min(left, 0.05))

    def drain(self):
        self.collect(0.3)


def every_channel(got):
    return set(CHANNELS) <= {p for _, p in got}


def notifier_pids(c, db=None):
    rows = run(c, "SELECT pid FROM pg_stat_activity WHERE backend_type = 'channel_sync notifier'"
                  " AND (%s::text IS NULL OR datname = %s)", (db, db))
    return [r[0] for r in rows]


def change(c, sku):
    run(c, "UPDATE channel_sync.stock SET on_hand = on_hand + 1 WHERE sku = %s", (sku,))


def check_batched_wakes_from_worker(c, listener):
    listener.drain()
    me = backend_pid(c)
    t0 = time.monotonic()
    change(c, "S1")
    got = listener.collect(3, every_channel)
    elapsed_ms = (time.monotonic() - t0) * 1000
    workers = notifier_pids(c, "nf")
    senders = {pid for pid, _ in got}
    report("batched: the listener of each changed channel is woken", every_channel(got), f"got {got}")
    report("batched: the NOTIFY comes from the database's notifier worker, not the changing session",
           len(workers) == 1 and senders == {workers[0]} and me not in senders,
           f"senders {senders}, workers {workers}, session {me}")
    report("batched: the first change after a quiet period is notified at once (< 1 s)",
           elapsed_ms < 1000, f"{elapsed_ms:.0f} ms")


def check_status(c):
    rows = run(c, "SELECT database, worker_pid, pending_channels, wakes_every_channel, open_transactions,"
                  " notify_transactions, notifications, last_notify_at IS NOT NULL"
                  " FROM channel_sync.notifier_status() WHERE database = 'nf'")
    workers = notifier_pids(c, "nf")
    ok = (len(rows) == 1 and len(workers) == 1 and rows[0][1] == workers[0] and rows[0][2] == 0
          and rows[0][3] is False and rows[0][4] == 0 and rows[0][5] >= 1 and rows[0][6] >= 2 and rows[0][7])
    report("batched: notifier_status() shows the database's worker and what it sent", ok,
           f"rows {rows}, workers {workers}")


def check_not_before_commit(c, listener):
    listener.drain()
    run(c, "BEGIN")
    change(c, "S2")
    early = listener.collect(4 * INTERVAL_MS / 1000 + 0.3)
    run(c, "COMMIT")
    late = listener.collect(3, every_channel)
    report("batched: no wakeup before the change commits", early == [], f"early {early}")
    report("batched: the wakeup follows the commit", every_channel(late), f"got {late}")


def check_rollback(c, listener):
    listener.drain()
    run(c, "BEGIN")
    change(c, "S3")
    run(c, "ROLLBACK")
    got = listener.collect(0.5)
    report("batched: a rolled-back change wakes no one", got == [], f"got {got}")
    deliver_everything(c)


def burst(c, listener, first_sku, n):
    listener.drain()
    deliver_everything(c)
    for i in range(first_sku, first_sku + n):
        change(c, f"S{i}")  # each a new message: a wakeup per transaction in transaction mode
    return [p for _, p in listener.collect(1.0) if p == "shop"]


def check_burst_coalesces(c, listener):
    n = 20
    run(c, "SET channel_sync.notify_mode = transaction")
    per_transaction = burst(c, listener, 10, n)
    run(c, "RESET channel_sync.notify_mode")
    batched = burst(c, listener, 10, n)
    report(f"transaction mode: {n} commits with new work notify {n} times",
           len(per_transaction) == n, f"{len(per_transaction)} notifications")
    report(f"batched: {n} commits within a few intervals are notified in fewer NOTIFYs",
           1 <= len(batched) < n // 2, f"{len(batched)} notifications")


def check_transaction_mode(c, listener):
    listener.drain()
    deliver_everything(c)
    run(c, "SET channel_sync.notify_mode = transaction")
    change(c, "S4")
    got = listener.collect(2, every_channel)
    run(c, "RESET channel_sync.notify_mode")
    me = backend_pid(c)
    report("transaction mode (SET per session): the changing session notifies itself",
           every_channel(got) and {pid for pid, _ in got} == {me}, f"got {got}, session {me}")


def check_requeue_dead_batched(c, listener):
    deliver_everything(c)
    change(c, "S9")  # new messages; one of shop's goes dead
    listener.collect(3, every_channel)
    run(c, "UPDATE channel_sync.outbox SET status = 'dead' WHERE channel_id = 'shop' AND sku = 'S9'")
    listener.drain()
    requeued = run(c, "SELECT channel_sync.requeue_dead('shop')")[0][0]
    got = listener.collect(3, lambda g: any(p == "shop" for _, p in g))
    workers = notifier_pids(c, "nf")
    report("batched: requeue_dead() wakes through the notifier worker too",
           requeued == 1 and [p for _, p in got] == ["shop"] and {p for p, _ in got} == set(workers),
           f"requeued {requeued}, got {got}, workers {workers}")


def check_prepare_refused(c):
    deliver_everything(c)
    run(c, "BEGIN")
    change(c, "S5")
    try:
        run(c, "PREPARE TRANSACTION 'cs_notifier_test'")
        run(c, "COMMIT PREPARED 'cs_notifier_test'")
        report("batched: PREPARE of a transaction with new connector work is refused", False, "prepared")
    except psycopg2.Error as e:  # the failed PREPARE ended the transaction
        report("batched: PREPARE of a transaction with new connector work is refused (0A000)",
               e.pgcode == "0A000" and "PREPARE" in e.diag.message_primary,
               f"{e.pgcode} {e.diag.message_primary}")
    on_hand = run(c, "SELECT on_hand FROM channel_sync.stock WHERE sku = 'S5'")[0][0]
    report("batched: the refused PREPARE left no effect", on_hand == 50, f"on_hand {on_hand}")


def check_second_database(c, listener):
    other = create_catalog("nf2", skus=3)
    other_listener = Listener("nf2")
    listener.drain()
    change(other, "S1")
    got_other = other_listener.collect(3, every_channel)
    got_here = listener.collect(0.3)
    workers = notifier_pids(c, "nf2")
    report("batched: a second database gets its own worker and its own wakeups",
           every_channel(got_other) and len(workers) == 1 and {p for p, _ in got_other} == set(workers)
           and got_here == [], f"nf2 got {got_other}, workers {workers}, nf got {got_here}")
    other_listener.conn.close()
    other.close()


def check_idle_worker_leaves(c):
    deadline = time.monotonic() + 8
    while notifier_pids(c, "nf2") and time.monotonic() < deadline:
        time.sleep(0.2)
    left = notifier_pids(c, "nf2") == []
    report("batched: an idle database's worker leaves (within 8 s)", left)
    admin = connect("postgres")
    try:
        run(admin, "DROP DATABASE nf2")
        report("batched: the idle database can then be dropped", True)
    except psycopg2.Error as e:
        report("batched: the idle database can then be dropped", False, e.diag.message_primary)
    admin.close()


def check_worker_killed(c, listener):
    deliver_everything(c)
    change(c, "S6")
    listener.collect(3, every_channel)
    workers = notifier_pids(c, "nf")
    if workers:
        run(c, "SELECT pg_terminate_backend(%s, 5000)", (workers[0],))
    deliver_everything(c)
    listener.drain()
    change(c, "S7")
    got = listener.collect(3, every_channel)
    now = notifier_pids(c, "nf")
    report("batched: after the worker is terminated the next change starts a new one and wakes",
           len(workers) == 1 and every_channel(got) and len(now) == 1 and now != workers,
           f"before {workers}, after {now}, got {got}")


def check_every_channel_on_overflow(c, listener):
    many = [f"mk{i:02d}" for i in range(70)]  # more than the 64 names a set keeps
    run(c, "INSERT INTO channel_sync.channels (channel_id, kind) SELECT unnest(%s::text[]), 'marketplace'", (many,))
    deliver_everything(c)
    listener.drain()
    change(c, "S8")
    want = set(many) | set(CHANNELS)
    got = listener.collect(5, lambda g: want <= {p for _, p in g})
    missing = want - {p for _, p in got}
    report("batched: more than 64 channels in one transaction wake every channel",
           not missing, f"missing {sorted(missing)[:5]}")
    run(c, "DELETE FROM channel_sync.channels WHERE channel_id = ANY(%s)", (many,))


def only_listening_connector_misses_nothing(c, mode, writers=3, updates=80, skus=40):
    """Writers change random SKUs while a connector that never polls claims and acks the
    'shop' channel each time it is woken (claiming again until nothing is left, as an ack
    that returns false asks); once the writers stopped and the wakeups ended, nothing of
    'shop' may be left pending."""
    deliver_everything(c)
    run(c, f"ALTER DATABASE nf SET channel_sync.notify_mode = {mode}")
    connector = Listener("nf")
    connector.drain()

    def write(seed):
        w = connect("nf")
        rnd = random.Random(seed)
        for _ in range(updates):
            change(w, f"S{rnd.randint(1, skus)}")
        w.close()

    threads = [threading.Thread(target=write, args=(k,)) for k in range(writers)]
    for t in threads:
        t.start()
    quiet_since = time.monotonic()
    while any(t.is_alive() for t in threads) or time.monotonic() - quiet_since < 1.5:
        got = connector.collect(0.2, lambda g: len(g) > 0)
        if not any(p == "shop" for _, p in got):
            continue
        quiet_since = time.monotonic()
        while True:  # claim, then ack each message in its own transaction, as a connector does
            claimed = run(connector.conn, "SELECT message_id FROM channel_sync.claim('shop', 1000)")
            if not claimed:
                break
            for (message_id,) in claimed:
                run(connector.conn, "SELECT channel_sync.ack(%s)", (message_id,))
    for t in threads:
        t.join()
    left = run(c, "SELECT count(*) FROM channel_sync.outbox WHERE channel_id = 'shop' AND status = 'pending'")[0][0]
    run(c, "ALTER DATABASE nf RESET channel_sync.notify_mode")
    connector.conn.close()
    report(f"{mode}: a connector that only listens misses nothing ({writers} writers x {updates} changes)",
           left == 0, f"{left} messages left pending")


def check_fallback_without_preload():
    c = create_catalog("cs_notifier_fallback", MAIN_CLUSTER, MAIN_PORT, skus=2)
    listener = Listener("cs_notifier_fallback", MAIN_CLUSTER, MAIN_PORT)
    run(c, "SET channel_sync.notify_mode = batched")
    available = run(c, "SHOW channel_sync.batched_notifier_available")[0][0]
    change(c, "S1")
    got = listener.collect(3, every_channel)
    me = backend_pid(c)
    report("without shared_preload_libraries: batched_notifier_available is off", available == "off", available)
    report("without shared_preload_libraries batched mode notifies in the transaction",
           every_channel(got) and {p for p, _ in got} == {me}, f"got {got}, session {me}")
    listener.conn.close()
    c.close()
    run(connect("postgres", MAIN_CLUSTER, MAIN_PORT), "DROP DATABASE cs_notifier_fallback")


def start_cluster(directory, port, *conf):
    subprocess.run([os.path.join(ROOT, "scripts/cluster.sh"), "start", directory, str(port),
                    "shared_preload_libraries = 'channel_sync'", "channel_sync.notify_mode = batched",
                    f"channel_sync.notify_interval = {INTERVAL_MS}ms", *conf],
                   check=True, stdout=subprocess.DEVNULL)


def check_no_worker_slot():
    """max_worker_processes = 0: no worker can be registered; transactions notify themselves
    and the server log says why, once per session."""
    directory, port = CLUSTER + "-noworker", PORT + 100
    start_cluster(directory, port, "max_worker_processes = 0")
    try:
        c = create_catalog("nw", directory, port, skus=3)
        listener = Listener("nw", directory, port)
        change(c, "S1")
        got = listener.collect(3, every_channel)
        deliver_everything(c)
        listener.drain()
        change(c, "S2")
        again = listener.collect(3, every_channel)
        me = backend_pid(c)
        report("batched without a free worker slot: the transaction notifies itself",
               every_channel(got) and every_channel(again) and {p for p, _ in got + again} == {me},
               f"got {got + again}, session {me}")
        with open(os.path.join(directory, "server.log")) as log:
            lines = [l for l in log if "could not register the notifier worker" in l]
        report("batched without a free worker slot: logged once per session", len(lines) == 1,
               f"{len(lines)} log lines")
        listener.conn.close()
        c.close()
    finally:
        subprocess.run([os.path.join(ROOT, "scripts/cluster.sh"), "stop", directory],
                       stdout=subprocess.DEVNULL)
        subprocess.run(["rm", "-rf", directory])


def main():
    start_cluster(CLUSTER, PORT)
    c = create_catalog("nf")
    available = run(c, "SHOW channel_sync.batched_notifier_available")[0][0]
    report("preloaded: channel_sync.batched_notifier_available is on", available == "on", available)
    listener = Listener("nf")
    check_batched_wakes_from_worker(c, listener)
    check_status(c)
    check_not_before_commit(c, listener)
    check_rollback(c, listener)
    check_burst_coalesces(c, listener)
    check_transaction_mode(c, listener)
    check_requeue_dead_batched(c, listener)
    check_prepare_refused(c)
    check_second_database(c, listener)
    check_idle_worker_leaves(c)
    check_worker_killed(c, listener)
    check_every_channel_on_overflow(c, listener)
    only_listening_connector_misses_nothing(c, "batched")
    only_listening_connector_misses_nothing(c, "transaction")
    check_fallback_without_preload()
    check_no_worker_slot()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
