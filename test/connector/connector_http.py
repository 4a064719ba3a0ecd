"""The example connector (examples/connector) against the simulated marketplace's HTTP API
(examples/marketplace), end to end: faults, an outage, terminated sessions, polling, a stop.

1. Outage: a connector whose marketplace refuses connections fails every push; nothing is
   lost, nothing goes dead early, and SIGTERM stops it with its summary.
2. Faults: two connectors (amazon, walmart) deliver the catalog (two SKUs with quotes, a slash,
   spaces, a percent sign and non-ASCII letters among it) and a stream of stock changes
   to a marketplace that answers 503, 429 with Retry-After, times out (after applying) or
   answers late; their database sessions are terminated twice meanwhile. The outbox drains;
   the marketplace then shows every listing's target quantity, price, version and external
   id; timed-out pushes were repeated under the same Idempotency-Key; no retry came before
   the Retry-After it was given; each connector reconnected.
   Before that, a stop in the middle of a batch hands the unpushed messages back (release()):
   none stays leased, none counts an attempt; a lease that would run out during the next push
   hands the batch back too; an ack of a message taken over meanwhile is a lost lease.
3. Wakeup: a connector polling every 30 s delivers a change at once (its channel's NOTIFY).
   Polling: a push throttled with nothing changing afterwards (no NOTIFY will come) is
   delivered once its Retry-After ends, by the connector's poll timer.
"""
import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

DB = "connector_http"
CHANNELS = ["amazon", "walmart"]
N_SKUS = 120
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CONNECTOR = os.path.join(ROOT, "examples", "connector", "connector")
MARKETPLACE = os.path.join(ROOT, "examples", "marketplace", "marketplace.py")
results = []


def check(name, ok, detail=""):
    results.append(ok)
    print(("ok " if ok else "not ok ") + name + ("" if ok or not detail else f"  # {detail}"))
    sys.stdout.flush()


def psql(sql, db=DB):
    p = subprocess.run(["psql", "-XAtq", "-F", "|", "-v", "ON_ERROR_STOP=1", "-d", db],
                       input=sql, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(p.stderr)
    return p.stdout.strip()


def setup():
    psql(f"DROP DATABASE IF EXISTS {DB}", db="postgres")
    psql(f"CREATE DATABASE {DB}", db="postgres")
    psql(f"""
CREATE EXTENSION channel_sync;
INSERT INTO channel_sync.channels (channel_id, max_attempts) VALUES ('amazon', 1000), ('walmart', 1000);
INSERT INTO channel_sync.locations (location_id) VALUES ('wh-1'), ('wh-2');
INSERT INTO channel_sync.skus (sku, base_price)
  SELECT 'S' || i, (10 + i % 7) + 0.99 FROM generate_series(1, {N_SKUS - 2}) i
  UNION ALL VALUES ('TEE "red" / L', 19.5), ('café-ü 50%', 7);
INSERT INTO channel_sync.stock (sku, location_id, on_hand)
  SELECT sku, l, 5 + length(sku) FROM channel_sync.skus, unnest(ARRAY['wh-1', 'wh-2']) l;
INSERT INTO channel_sync.sku_aliases (channel_id, sku, external_id)
  SELECT 'walmart', sku, 'WM-' || sku FROM channel_sync.skus;
""")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_marketplace(work, *faults):
    port_file = os.path.join(work, "marketplace.port")
    proc = subprocess.Popen([sys.executable, MARKETPLACE, "--port-file", port_file, "--seed", "7", *faults])
    for _ in range(100):
        if os.path.exists(port_file):
            return proc, int(open(port_file).read())
        time.sleep(0.05)
    raise RuntimeError("the marketplace did not start")


def http(port, path, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}",
                                 data=None if body is None else json.dumps(body).encode(),
                                 method="GET" if body is None else "POST")
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.loads(r.read())


def start_connector(channel, sink, *extra):
    return subprocess.Popen([CONNECTOR, "--channel", channel, "--sink", sink, "--quiet",
                             "--seconds", "120", "--poll", "0.5", "--timeout-ms", "300",
                             "--retry-in", "0.2", "--lease", "3", "--batch", "25", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PGDATABASE=DB))


def stop_connector(proc):
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=15)
    return proc.returncode, out.strip(), err


def summary_field(line, name):
    """'amazon delivered 12, stale acks 0, ... reconnects 2' -> the number after name."""
    m = re.search(r"\b" + re.escape(name) + r" (\d+)", line)
    return int(m.group(1)) if m else None


def pending(channel=None):
    where = f" AND channel_id = '{channel}'" if channel else ""
    return int(psql(f"SELECT count(*) FROM channel_sync.outbox WHERE status = 'pending'{where}"))


def wait_until(predicate, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def bad_options():
    outs = [subprocess.run([CONNECTOR, "--channel", "amazon", *args], capture_output=True, text=True)
            for args in (["--batch", "0"], ["--lease", "2.5"], ["--poll", "x"], ["--sink", "ftp://x"])]
    check("bad options: exit 2 and a message naming the option, before connecting",
          all(p.returncode == 2 for p in outs) and "--batch" in outs[0].stderr
          and "--lease" in outs[1].stderr and "--poll" in outs[2].stderr and "unknown sink" in outs[3].stderr,
          "; ".join(f"{p.returncode} {p.stderr.strip()}" for p in outs))


def outage():
    before = pending("walmart")
    proc = start_connector("walmart", f"http://127.0.0.1:{free_port()}/walmart/listings")
    time.sleep(2.5)
    rc, out, err = stop_connector(proc)
    state = psql("SELECT count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'dead'),"
                 " count(*) FILTER (WHERE attempts > 0), count(*) FILTER (WHERE last_error LIKE '%connect%')"
                 " FROM channel_sync.outbox WHERE channel_id = 'walmart'").split("|")
    check("outage: SIGTERM stops the connector with exit 0 and its summary",
          rc == 0 and out.startswith("walmart") and summary_field(out, "delivered") == 0,
          f"rc {rc}, out {out!r}, err {err[-300:]!r}")
    check("outage: refused connections fail the pushes; every message stays pending, none dead",
          int(state[0]) == before and int(state[1]) == 0 and int(state[2]) > 0 and int(state[3]) > 0
          and (summary_field(out, "retried") or 0) > 0,
          f"pending/dead/attempted/connect errors {state}, before {before}, summary {out!r}")


def terminate_connector_sessions():
    return int(psql("SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    f" WHERE datname = '{DB}' AND application_name LIKE 'channel_sync connector %') t"))


def change_stock(rounds):
    for r in range(rounds):
        psql(f"UPDATE channel_sync.stock SET on_hand = (on_hand + {r} * 7) % 23"
             f" WHERE (sku IN (SELECT 'S' || (1 + (i * 37 + {r} * 11) % {N_SKUS}) FROM generate_series(1, 6) i)"
             f" OR ({r} % 3 = 0 AND sku NOT LIKE 'S%'))"
             " AND location_id = 'wh-1'")
        time.sleep(0.1)


def listings_match(port):
    shown = {ch: http(port, f"/{ch}/listings") for ch in CHANNELS}
    rows = psql("SELECT l.channel_id, l.sku, l.target_qty, l.target_price::text, l.target_version,"
                " coalesce(a.external_id, ''), coalesce(l.acked_version = l.target_version, false)"
                " FROM channel_sync.listings l LEFT JOIN channel_sync.sku_aliases a USING (channel_id, sku)"
                " ORDER BY 1, 2").splitlines()
    wrong = []
    for row in rows:
        ch, sku, qty, price, version, ext, acked = row.split("|")
        s = shown[ch].get(sku)
        if (s is None or s["qty"] != int(qty) or s["version"] != int(version) or acked != "t"
                or float(s["price"]) != float(price) or (s["external_id"] or "") != ext):
            wrong.append((row, s))
    return len(rows), wrong


RATES = {"fail": 15, "throttle": 8, "timeout": 4, "late": 10}


def stop_mid_batch(port):
    http(port, "/control", {"fail": 0, "throttle": 0, "late": 0, "timeout": 100})
    before = http(port, "/stats")["timed_out"]
    proc = start_connector("amazon", f"http://127.0.0.1:{port}/amazon/listings", "--batch", "50", "--lease", "60")
    # each push times out after 300 ms, so a batch of 50 takes 15 s: the stop comes in the first
    started = wait_until(lambda: http(port, "/stats")["timed_out"] > before, 10)
    time.sleep(0.4)
    rc, out, err = stop_connector(proc)
    http(port, "/control", RATES)
    state = psql("SELECT count(*) FILTER (WHERE leased_until > now()), count(*) FILTER (WHERE attempts = 0),"
                 " count(*) FROM channel_sync.outbox WHERE channel_id = 'amazon'").split("|")
    failed = summary_field(out, "retried") or 0
    check("stop mid-batch: the connector hands back what it did not push (release), no lease left, no attempt counted",
          started and rc == 0 and int(state[0]) == 0 and 0 < failed < 50 and int(state[1]) == int(state[2]) - failed,
          f"rc {rc}, leased/unattempted/all {state}, summary {out!r}, err {err[-300:]!r}")


def leases(port):
    """A lease that would run out during the next push hands the rest of the batch back; an ack
    of a message taken over meanwhile (its lease failed by someone else) is a lost lease, not
    an error."""
    http(port, "/control", {"fail": 0, "throttle": 0, "late": 0, "timeout": 100, "hang_ms": 600})
    proc = start_connector("amazon", f"http://127.0.0.1:{port}/amazon/listings", "--batch", "50", "--lease", "2")
    time.sleep(3.5)  # 300 ms a push: each batch hands back what is left after ~1.7 s
    rc, out, err = stop_connector(proc)
    leased = psql("SELECT count(*) FROM channel_sync.outbox WHERE channel_id = 'amazon' AND leased_until > now()")
    check("leases: a batch is handed back before its lease runs out (released), without errors",
          rc == 0 and (summary_field(out, "released") or 0) > 45 and leased == "0", f"rc {rc}, {out!r}, leased {leased}, {err[-300:]!r}")
    http(port, "/control", {"timeout": 0, "late": 100, "late_ms": 1000})
    proc = start_connector("amazon", f"http://127.0.0.1:{port}/amazon/listings", "--batch", "5",
                           "--lease", "30", "--timeout-ms", "3000")
    before = http(port, "/stats")["late"]
    wait_until(lambda: http(port, "/stats")["late"] > before, 10)  # a push is under way
    psql("SELECT channel_sync.fail(message_id, 'taken over', '0 seconds') FROM channel_sync.outbox"
         " WHERE channel_id = 'amazon' AND claimed_version IS NOT NULL")
    time.sleep(1.5)
    rc, out, err = stop_connector(proc)
    http(port, "/control", dict(RATES, hang_ms=600, late_ms=30))
    check("leases: an ack of a message taken over meanwhile counts as a lost lease, and the connector goes on",
          rc == 0 and (summary_field(out, "lost leases") or 0) >= 1 and (summary_field(out, "delivered") or 0) >= 1,
          f"rc {rc}, {out!r}, {err[-300:]!r}")


def against_marketplace(work):
    market, port = start_marketplace(work, *[a for f, r in RATES.items() for a in (f"--{f}", str(r))],
                                     "--hang-ms", "600", "--late-ms", "30")
    try:
        stop_mid_batch(port)
        leases(port)
        faults(port)
        wakeup(port)
        polling(port)
    finally:
        market.terminate()
        market.wait()


def faults(port):
    procs = {ch: start_connector(ch, f"http://127.0.0.1:{port}/{ch}/listings") for ch in CHANNELS}
    terminated = 0
    for round_ in range(3):
        change_stock(10)
        if round_ < 2:
            terminated += terminate_connector_sessions()
    drained = wait_until(lambda: pending() == 0, 60)
    stats = http(port, "/stats")
    stopped = {ch: stop_connector(p) for ch, p in procs.items()}
    check("faults: the outbox drains through 503s, 429s, timeouts, late answers and terminated sessions",
          drained and psql("SELECT count(*) FROM channel_sync.outbox WHERE status = 'dead'") == "0",
          f"pending {pending()}, stats {stats}")
    n, wrong = listings_match(port)
    check(f"faults: the marketplace shows all {n} listings at their target, version, price and alias, all acked",
          n == len(CHANNELS) * N_SKUS and not wrong, f"{len(wrong)} wrong, e.g. {wrong[:3]}")
    check("faults: each fault happened, and timed-out pushes were repeated under their Idempotency-Key",
          all(stats[k] > 0 for k in ("failed", "throttled", "timed_out", "late", "replayed")), str(stats))
    check("faults: no push came back before the Retry-After it was given",
          stats["retried_before_retry_after"] == 0, str(stats))
    check("faults: each connector reconnected after its session was terminated, and stopped cleanly",
          terminated >= 2 and all(rc == 0 for rc, _, _ in stopped.values())
          and all((summary_field(out, "reconnects") or 0) >= 1 for _, out, _ in stopped.values()),
          f"terminated {terminated}, {stopped}")
    check("faults: verify() finds no drift", psql("SELECT count(*) FROM channel_sync.verify()") == "0")


def wakeup(port):
    """A connector that polls only every 30 s delivers a change at once: its channel's NOTIFY
    woke it (the receiver matches its own channel's payload)."""
    http(port, "/control", {"fail": 0, "timeout": 0, "late": 0, "throttle": 0})
    proc = start_connector("amazon", f"http://127.0.0.1:{port}/amazon/listings", "--poll", "30")
    try:
        time.sleep(1)  # connected and LISTENing, nothing to drain
        # a price of amazon's only: the one NOTIFY is amazon's (a stock change would wake walmart's too)
        psql("INSERT INTO channel_sync.channel_prices (channel_id, sku, price) VALUES ('amazon', 'S2', 99.5)")
        version = int(psql("SELECT target_version FROM channel_sync.listings WHERE channel_id = 'amazon' AND sku = 'S2'"))
        started = time.monotonic()
        delivered = wait_until(lambda: http(port, "/amazon/listings").get("S2", {}).get("version") == version, 5)
        check("wakeup: a change is delivered at once by the connector its NOTIFY woke, not by its 30 s poll",
              delivered, f"not delivered within {time.monotonic() - started:.1f} s")
    finally:
        stop_connector(proc)


def polling(port):
    proc = start_connector("amazon", f"http://127.0.0.1:{port}/amazon/listings", "--retry-in", "30")
    try:
        clean = pending("amazon") == 0  # else the drain of older messages could pick it up
        http(port, "/control", {"fail": 0, "timeout": 0, "late": 0, "throttle": 100, "retry_after": 1})
        before = http(port, "/stats")["throttled"]
        psql("UPDATE channel_sync.stock SET on_hand = on_hand + 3 WHERE sku = 'S1' AND location_id = 'wh-2'")
        version = int(psql("SELECT target_version FROM channel_sync.listings WHERE channel_id = 'amazon' AND sku = 'S1'"))
        throttled = wait_until(lambda: http(port, "/stats")["throttled"] > before, 10)
        http(port, "/control", {"throttle": 0})
        delivered = wait_until(lambda: http(port, "/amazon/listings").get("S1", {}).get("version") == version, 10)
        check("polling: a throttled push is delivered after its Retry-After, with no notification to wake it",
              clean and throttled and delivered and pending("amazon") == 0,
              f"nothing pending before {clean}, throttled {throttled}, delivered {delivered}, pending {pending('amazon')}")
    finally:
        stop_connector(proc)


def main():
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    build = subprocess.run(["make", "-s", "-B", "-C", os.path.dirname(CONNECTOR),
                            "CXXFLAGS=-std=c++17 -O2 -Wall -Wextra -Werror"], capture_output=True, text=True)
    check("the example connector builds without warnings (-Wall -Wextra -Werror)", build.returncode == 0,
          (build.stdout + build.stderr)[-500:])
    if build.returncode != 0:
        sys.exit(1)
    setup()
    bad_options()
    with tempfile.TemporaryDirectory() as work:
        outage()
        against_marketplace(work)
    psql(f"DROP DATABASE {DB}", db="postgres")
    print(f"# connector: {sum(results)} passed, {len(results) - sum(results)} failed")


if __name__ == "__main__":
    main()
