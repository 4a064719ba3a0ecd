#!/usr/bin/python3
"""Soak test: steady mixed load for a set time, then drain and check.

usage: soak.py CLUSTER_DIR PORT SECONDS OUT_DIR   (database $SOAK_DATABASE or 'soak', catalog loaded)

Load, each worker paced to a fixed rate (open loop: a late call does not shift the schedule):
  - ingest workers: order_placed, order_cancelled, order_shipped, stock_adjusted on all five
    channels; 20 % of the calls redeliver an earlier event (same key, same payload);
  - a stock worker: direct UPDATEs of stock, as an ERP would;
  - one connector per channel: claim, then ack, or fail 5 % of the deliveries (retry in 1 s).
A sampler records outbox depth and the load backends' memory every few seconds.
After the load stops the connectors keep going until the outbox is empty; dead letters are
accepted only when they reached the channel's max_attempts, and are requeued and drained.
Checks (printed as `ok name` / `not ok name`, and in REPORT.md):
  memory_bounded   every load backend: private memory at the end <= 1.5 x after warm-up + 20 MB
  outbox_drains    no pending message within DRAIN_SECONDS after the load stops
  dead_letters_from_max_attempts
  verify_no_drift  channel_sync.verify() returns nothing
  load_at_rate     each worker reached >= 90 % of its target rate
"""
import json
import multiprocessing as mp
import os
import random
import subprocess
import sys
import time

import psycopg2

CLUSTER, PORT, SECONDS, OUT = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
DBNAME = os.environ.get("SOAK_DATABASE", "soak")
# the short variant inside make test shares the machine: its rate is reported, not asserted
CHECK_RATE = os.environ.get("SOAK_CHECK_RATE", "1") == "1"
INGEST_WORKERS = int(os.environ.get("SOAK_INGEST_WORKERS", "2"))
INGEST_RATE = float(os.environ.get("SOAK_RATE", "40"))        # ingest calls/s, all workers together
STOCK_RATE = float(os.environ.get("SOAK_STOCK_RATE", "10"))   # direct stock updates/s
FAIL_RATE = 0.05
DUP_RATE = 0.20
DRAIN_SECONDS = float(os.environ.get("SOAK_DRAIN_SECONDS", "120"))
SAMPLE_EVERY = float(os.environ.get("SOAK_SAMPLE_SECONDS", "3"))
WARMUP = min(30.0, max(5.0, SECONDS * 0.1))
CHANNELS = ["shop", "amazon", "walmart", "etsy", "ebay"]
SKUS = [f"SKU-{i:05d}" for i in range(1, 9701)]
LOCATIONS = ["wh-east", "wh-west", "3pl-central"]
MAX_CALLS = 10_000_000  # every loop is bounded in count as well as time


def connect():
    c = psycopg2.connect(host=CLUSTER, port=PORT, user="postgres", dbname=DBNAME, connect_timeout=10)
    c.autocommit = True
    return c


def backend_pid(cur):
    cur.execute("SELECT pg_backend_pid()")
    return cur.fetchone()[0]


class Pacer:
    """Paces calls at a fixed rate until a deadline or a stop event."""

    def __init__(self, rate, deadline, stop):
        self.interval, self.deadline, self.stop = 1.0 / rate, deadline, stop
        self.next = time.time()
        self.n = 0

    def wait(self):
        self.next += self.interval
        self.n += 1
        delay = self.next - time.time()
        if delay > 0:
            time.sleep(delay)
        return time.time() < self.deadline and not self.stop.is_set() and self.n < MAX_CALLS


ERRORS = {}


def timed(cur, lat, kind, sql, args):
    """Runs one call, records its latency; an error is counted by call and SQLSTATE, not fatal."""
    t = time.perf_counter()
    try:
        cur.execute(sql, args)
        rows = cur.fetchall()
    except psycopg2.Error as e:
        key = f"{kind} {e.pgcode}: {(e.pgerror or str(e)).splitlines()[0][:120]}"
        ERRORS[key] = ERRORS.get(key, 0) + 1
        return None
    lat.setdefault(kind, []).append(time.perf_counter() - t)
    return rows


def ingest_worker(worker, deadline, stop, pids, results):
    rng = random.Random(worker)
    c = connect()
    cur = c.cursor()
    pids.put(("ingest", worker, backend_pid(cur)))
    lat, statuses, sent, open_orders = {}, {}, [], []
    pacer = Pacer(INGEST_RATE / INGEST_WORKERS, deadline, stop)
    n = 0
    while pacer.wait():
        n += 1
        if sent and rng.random() < DUP_RATE:
            channel, key, etype, payload, at = rng.choice(sent)
            kind = "ingest_duplicate"
        else:
            channel = rng.choice(CHANNELS)
            key = f"soak-{worker}-{n}"
            r = rng.random()
            if r < 0.25 and open_orders:
                channel, order_id = open_orders.pop(rng.randrange(len(open_orders)))
                etype = "order_shipped" if r < 0.17 else "order_cancelled"
                payload = {"order_id": order_id}
            elif r < 0.45:
                etype = "stock_adjusted"
                payload = {"sku": rng.choice(SKUS), "location_id": rng.choice(LOCATIONS),
                           "delta": rng.choice([-1, 1, 2, 3, 5]), "reason": "soak"}
            else:
                etype = "order_placed"
                payload = {"order_id": key, "lines": [{"sku": rng.choice(SKUS), "qty": rng.randint(1, 2)}
                                                      for _ in range(rng.randint(1, 3))]}
                open_orders.append((channel, key))
            at = time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime())
            sent.append((channel, key, etype, payload, at))
            if len(sent) > 5000:
                sent.pop(0)
            kind = "ingest_" + etype
        rows = timed(cur, lat, kind,
                     "SELECT status FROM channel_sync.ingest(%s, %s, %s, %s::jsonb, %s)",
                     (channel, key, etype, json.dumps(payload), at))
        if rows:
            statuses[rows[0][0]] = statuses.get(rows[0][0], 0) + 1
    c.close()
    results.put(("ingest", worker, lat, ERRORS, statuses, pacer.n / max(1e-9, time.time() - (deadline - SECONDS))))


def stock_worker(deadline, stop, pids, results):
    rng = random.Random(7)
    c = connect()
    cur = c.cursor()
    pids.put(("stock", 0, backend_pid(cur)))
    lat = {}
    pacer = Pacer(STOCK_RATE, deadline, stop)
    while pacer.wait():
        if rng.random() < 0.5:
            timed(cur, lat, "stock_update_on_hand",
                  "UPDATE channel_sync.stock SET on_hand = greatest(0, on_hand + %s) WHERE sku = %s AND location_id = %s "
                  "RETURNING 1", (rng.choice([-1, 1, 4]), rng.choice(SKUS), rng.choice(LOCATIONS)))
        else:
            timed(cur, lat, "stock_update_safety",
                  "UPDATE channel_sync.stock SET safety_stock = %s WHERE sku = %s RETURNING 1",
                  (rng.randint(0, 3), rng.choice(SKUS)))
    c.close()
    results.put(("stock", 0, lat, ERRORS, {}, pacer.n / max(1e-9, time.time() - (deadline - SECONDS))))


def connector_worker(i, stop, pids, results):
    """One channel's connector: claims, acks, fails 5 %; runs until told to stop (after drain)."""
    channel = CHANNELS[i]
    rng = random.Random(100 + i)
    c = connect()
    cur = c.cursor()
    pids.put(("connector", i, backend_pid(cur)))
    lat, outcome = {}, {"acked": 0, "failed": 0, "dead": 0}
    n = 0
    while not stop.is_set() and n < MAX_CALLS:
        rows = timed(cur, lat, "claim", "SELECT message_id, qty FROM channel_sync.claim(%s, 50, '30 seconds')",
                     (channel,))
        for message_id, qty in rows:
            n += 1
            if rng.random() < FAIL_RATE:
                r = timed(cur, lat, "fail", "SELECT channel_sync.fail(%s, 'soak: simulated 503', '1 second')",
                          (message_id,))
                if r:
                    outcome["dead" if r[0][0] == "dead" else "failed"] += 1
            else:
                if timed(cur, lat, "ack", "SELECT channel_sync.ack(%s, %s)", (message_id, qty)):
                    outcome["acked"] += 1
        if not rows:
            time.sleep(0.2)
    c.close()
    results.put(("connector", i, lat, ERRORS, outcome, 0))


def mem(pid):
    """Private (anonymous) RSS, RSS and PSS of a backend in kB."""
    status = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            status[k] = v.strip()
    pss = 0
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                pss = int(line.split()[1])
    kb = lambda k: int(status.get(k, "0 kB").split()[0])
    return {"anon": kb("RssAnon"), "rss": kb("VmRSS"), "pss": pss}


def depth(cur):
    cur.execute("""SELECT count(*) FILTER (WHERE status = 'pending'),
                          count(*) FILTER (WHERE status = 'pending' AND leased_until > clock_timestamp()),
                          count(*) FILTER (WHERE status = 'dead')
                     FROM channel_sync.outbox""")
    return cur.fetchone()


def drain_backlog(cur):
    """The catalog load enqueued a message per listing; acknowledge them before the load starts."""
    for _ in range(1000):
        cur.execute("""SELECT count(channel_sync.ack(m.message_id, m.qty))
                         FROM channel_sync.channels ch, channel_sync.claim(ch.channel_id, 10000) m""")
        if cur.fetchone()[0] == 0:
            return


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100.0 * len(xs)))] if xs else float("nan")


def main():
    os.makedirs(OUT, exist_ok=True)
    mon = connect()
    cur = mon.cursor()
    t = time.time()
    drain_backlog(cur)
    print(f"# initial backlog acknowledged in {time.time() - t:.1f} s", flush=True)
    pids_q, results = mp.Queue(), mp.Queue()
    stop_load, stop_conn = mp.Event(), mp.Event()
    start = time.time()
    deadline = start + SECONDS
    load = [mp.Process(target=ingest_worker, args=(w, deadline, stop_load, pids_q, results))
            for w in range(INGEST_WORKERS)]
    load.append(mp.Process(target=stock_worker, args=(deadline, stop_load, pids_q, results)))
    conns = [mp.Process(target=connector_worker, args=(i, stop_conn, pids_q, results)) for i in range(len(CHANNELS))]
    for p in load + conns:
        p.daemon = True  # never outlive the driver
        p.start()
    pids = [pids_q.get(timeout=60) for _ in load + conns]
    samples, mem_start, mem_last = [], None, {}
    print(f"# load: {INGEST_RATE:g} ingest/s over {INGEST_WORKERS} workers, {STOCK_RATE:g} stock updates/s, "
          f"{len(CHANNELS)} connectors failing {FAIL_RATE:.0%}; {SECONDS:g} s", flush=True)
    drained_at = None
    while True:
        now = time.time() - start
        pending, leased, dead = depth(cur)
        m = {}
        for k, i, pid in pids:
            try:
                m[(k, i)] = mem(pid)
            except OSError:
                pass  # a load worker already disconnected: its last reading stands
        samples.append((now, pending, leased, dead, sum(v["anon"] for v in m.values()) / 1024.0))
        mem_last.update(m)
        if mem_start is None and now >= WARMUP:
            mem_start = dict(m)
        if int(now) % 30 < SAMPLE_EVERY:
            print(f"# t={now:6.0f}s pending={pending} leased={leased} dead={dead}", flush=True)
        if now >= SECONDS:
            if pending == 0 and drained_at is None:
                drained_at = now - SECONDS
                break
            if now >= SECONDS + DRAIN_SECONDS:
                break
        time.sleep(SAMPLE_EVERY if now < SECONDS else 1.0)
    mem_start = mem_start or dict(mem_last)
    # dead letters: only from max_attempts; requeue and drain
    cur.execute("""SELECT count(*), count(*) FILTER (WHERE o.attempts < c.max_attempts)
                     FROM channel_sync.outbox o JOIN channel_sync.channels c USING (channel_id)
                    WHERE o.status = 'dead'""")
    dead_total, dead_early = cur.fetchone()
    requeued = 0
    if dead_total:
        cur.execute("SELECT sum(channel_sync.requeue_dead(channel_id)) FROM channel_sync.channels")
        requeued = cur.fetchone()[0]
        t0 = time.time()
        while time.time() - t0 < DRAIN_SECONDS and sum(depth(cur)[0::2]) > 0:
            time.sleep(1)
    final_pending, _, final_dead = depth(cur)
    stop_load.set()
    stop_conn.set()
    got = [results.get(timeout=120) for _ in load + conns]
    for p in load + conns:
        p.join(timeout=30)
    cur.execute("SELECT count(*) FROM channel_sync.verify()")
    drift = cur.fetchone()[0]
    mon.close()
    report(samples, got, mem_start, mem_last, drained_at, dead_total, dead_early, requeued,
           final_pending, final_dead, drift)


def report(samples, got, mem_start, mem_end, drained_at, dead_total, dead_early, requeued,
           final_pending, final_dead, drift):
    lat, statuses, outcome, rates = {}, {}, {}, []
    errors = {}
    for kind, i, l, errs, extra, rate in got:
        for k, v in errs.items():
            errors[k] = errors.get(k, 0) + v
        for k, v in l.items():
            lat.setdefault(k, []).extend(v)
        if kind == "ingest":
            for k, v in extra.items():
                statuses[k] = statuses.get(k, 0) + v
            rates.append((f"ingest worker {i}", rate, INGEST_RATE / INGEST_WORKERS))
        elif kind == "stock":
            rates.append(("stock worker", rate, STOCK_RATE))
        else:
            for k, v in extra.items():
                outcome[k] = outcome.get(k, 0) + v
    lines = [f"# channel_sync soak test: {SECONDS:g} s of load",
             "",
             f"Cluster: fsync = on, synchronous_commit = on; catalog of demo/steps/10_catalog.sql "
             f"(5 channels, 3 locations, 10,000 SKUs). Load: {INGEST_RATE:g} ingest calls/s "
             f"({DUP_RATE:.0%} redeliveries; order_placed, order_cancelled, order_shipped, stock_adjusted), "
             f"{STOCK_RATE:g} direct stock updates/s, one connector per channel failing {FAIL_RATE:.0%} "
             f"of deliveries (retry after 1 s).",
             "",
             "| call | calls | per second | p50 ms | p99 ms | max ms |",
             "|---|---:|---:|---:|---:|---:|"]
    for k in sorted(lat):
        v = lat[k]
        lines.append(f"| {k} | {len(v)} | {len(v) / SECONDS:.1f} | {pct(v, 50) * 1e3:.2f} | "
                     f"{pct(v, 99) * 1e3:.2f} | {max(v) * 1e3:.1f} |")
    lines += ["", "Ingest statuses: " + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())),
              "Connector deliveries: " + ", ".join(f"{k} {v}" for k, v in sorted(outcome.items())),
              "Errors: " + ("; ".join(f"{k} x{v}" for k, v in sorted(errors.items())) or "none"),
              "Achieved rates: " + ", ".join(f"{n} {r:.1f}/s of {t:g}" for n, r, t in rates), ""]
    load_samples = [s for s in samples if s[0] <= SECONDS]
    max_depth = max((s[1] for s in load_samples), default=0)
    lines += [f"Outbox depth (pending messages) during the load: max {max_depth}, "
              f"mean {sum(s[1] for s in load_samples) / max(1, len(load_samples)):.0f}, "
              f"last {load_samples[-1][1] if load_samples else 0}; "
              f"drained {'%.0f s' % drained_at if drained_at is not None else 'NOT'} after the load stopped. "
              f"Dead letters {dead_total} ({dead_early} before max_attempts), requeued {requeued}.", ""]
    step = max(1, len(samples) // 20)
    lines += ["| t (s) | pending | leased | dead | load backends private MB |", "|---:|---:|---:|---:|---:|"]
    lines += [f"| {s[0]:.0f} | {s[1]} | {s[2]} | {s[3]} | {s[4]:.1f} |" for s in samples[::step]]
    lines += ["", f"Backend memory (kB; after {WARMUP:.0f} s warm-up -> end): private = RssAnon, rss = VmRSS "
              f"(includes the shared buffers the backend touched), pss = proportional set size.", "",
              "| backend | private start | private end | rss start | rss end | pss start | pss end |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    mem_ok = True
    for key in sorted(mem_end):
        a, b = mem_start.get(key, mem_end[key]), mem_end[key]
        grown = b["anon"] > a["anon"] * 1.5 + 20 * 1024
        mem_ok = mem_ok and not grown
        lines.append(f"| {key[0]} {key[1]} | {a['anon']} | {b['anon']} | {a['rss']} | {b['rss']} | "
                     f"{a['pss']} | {b['pss']}{' GREW' if grown else ''} |")
    checks = [
        ("memory_bounded", mem_ok, "private memory end <= 1.5 x start + 20 MB for every load backend"),
        ("outbox_drains", drained_at is not None and final_pending == 0 and final_dead == 0,
         f"pending 0 within {DRAIN_SECONDS:g} s of the load stopping (final pending {final_pending}, dead {final_dead})"),
        ("dead_letters_from_max_attempts", dead_early == 0, f"{dead_early} dead before max_attempts"),
        ("verify_no_drift", drift == 0, f"verify() findings: {drift}"),
        ("redeliveries_are_duplicates", statuses.get("conflict", 0) == 0,
         f"{statuses.get('conflict', 0)} redeliveries recorded as conflicts"),
        ("no_errors", not errors, f"{sum(errors.values())} calls raised an error"),
        ("load_at_rate", all(r >= 0.9 * t for _, r, t in rates), "every worker >= 90 % of its target rate"),
    ]
    if not CHECK_RATE:
        checks.pop()
    lines += ["", "## Checks", ""]
    for name, ok, what in checks:
        lines.append(f"- {'PASS' if ok else 'FAIL'} {name}: {what}")
    text = "\n".join(lines) + "\n"
    with open(os.path.join(OUT, "REPORT.md"), "w") as f:
        f.write(text)
    with open(os.path.join(OUT, "depth.tsv"), "w") as f:
        f.write("t\tpending\tleased\tdead\tprivate_mb\n")
        for s in samples:
            f.write("%.1f\t%d\t%d\t%d\t%.1f\n" % s)
    plot()
    print(text)
    for name, ok, what in checks:
        print(("ok " if ok else "not ok ") + "soak_" + name + ("" if ok else f"  # {what}"))
    sys.exit(0 if all(ok for _, ok, _ in checks) else 1)


def plot():
    """A small PNG of outbox depth over time, when gnuplot is there."""
    script = (f"set terminal png size 640,320; set output '{OUT}/depth.png'; set xlabel 't (s)';"
              f"set ylabel 'pending messages'; set key off; set arrow from {SECONDS},graph 0 to {SECONDS},graph 1 nohead;"
              f"plot '{OUT}/depth.tsv' using 1:2 skip 1 with lines lw 2")
    try:
        subprocess.run(["gnuplot", "-e", script], check=False, timeout=30,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        pass


if __name__ == "__main__":
    main()
