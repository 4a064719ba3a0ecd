#!/usr/bin/env python3
"""A simulated marketplace listings API on loopback, for the example connector's HTTP sink.

    marketplace.py [--port 0] [--port-file F] [--fail PCT] [--throttle PCT] [--timeout PCT]
                   [--late PCT] [--retry-after S] [--hang-ms MS] [--late-ms MS] [--seed N]

POST /<channel>/listings   {"sku", "qty", "version", "price", "external_id", ...}; header
                           Idempotency-Key. Answers 200 {"qty", "version"}: what the channel
                           now shows. A repeated key gets the first answer again; an older
                           version than the one shown changes nothing.
                           Faults, drawn per request: --fail % answer 503; --throttle % answer
                           429 with Retry-After; --timeout % apply, then answer only after
                           --hang-ms (past the client's timeout); --late % answer after --late-ms.
GET  /<channel>/listings   {sku: {"qty", "price", "version", "external_id"}}
GET  /stats                request counts by outcome, and retries that came before the
                           Retry-After they were given
POST /control              {"fail"|"throttle"|"timeout"|"late"|"retry_after"|"hang_ms"|
                           "late_ms": n, ...} sets the fault rates and delays from now on
"""
import argparse
import json
import os
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAULTS = ("fail", "throttle", "timeout", "late")


class Marketplace:
    def __init__(self, args):
        self.rates = {f: getattr(args, f) for f in FAULTS}
        self.retry_after = args.retry_after
        self.hang_s = args.hang_ms / 1000
        self.late_s = args.late_ms / 1000
        self.rng = random.Random(args.seed)
        self.lock = threading.Lock()
        self.listings = {}        # channel -> sku -> shown listing
        self.answers = {}         # idempotency key -> (status, body) of its first applied push
        self.throttled_until = {}  # idempotency key -> time its Retry-After ends
        self.stats = {k: 0 for k in ("requests", "applied", "replayed", "out_of_order", "bad",
                                     "failed", "throttled", "timed_out", "late",
                                     "retried_before_retry_after")}

    def fault(self):
        roll, edge = self.rng.uniform(0, 100), 0
        for f in FAULTS:
            edge += self.rates[f]
            if roll < edge:
                return f
        return None

    def push(self, channel, key, body):
        """(status, answer, headers, delay before answering) for one POST."""
        with self.lock:
            self.stats["requests"] += 1
            now = time.monotonic()
            if key and now < self.throttled_until.get(key, 0):
                self.stats["retried_before_retry_after"] += 1
            if key in self.answers:
                self.stats["replayed"] += 1
                return self.answers[key] + ({}, 0)
            fault = self.fault()
            if fault == "fail":
                self.stats["failed"] += 1
                return 503, {"error": "service unavailable"}, {}, 0
            if fault == "throttle":
                self.stats["throttled"] += 1
                if key:
                    self.throttled_until[key] = now + self.retry_after * 0.9
                return 429, {"error": "too many requests"}, {"Retry-After": str(self.retry_after)}, 0
            shown = self.apply(channel, body)
            answer = (200, {"qty": shown["qty"], "version": shown["version"]})
            if key:
                self.answers[key] = answer
            delay = 0
            if fault == "timeout":
                self.stats["timed_out"] += 1
                delay = self.hang_s
            elif fault == "late":
                self.stats["late"] += 1
                delay = self.late_s
            return answer + ({}, delay)

    def apply(self, channel, body):
        shown = self.listings.setdefault(channel, {})
        old = shown.get(body["sku"])
        if old is not None and old["version"] >= body["version"]:
            self.stats["out_of_order"] += 1
            return old
        self.stats["applied"] += 1
        shown[body["sku"]] = {k: body.get(k) for k in ("qty", "price", "version", "external_id")}
        return shown[body["sku"]]


def valid_listing(body):
    return (isinstance(body, dict) and isinstance(body.get("sku"), str) and body["sku"]
            and isinstance(body.get("qty"), int) and body["qty"] >= 0
            and isinstance(body.get("version"), int)
            and (body.get("price") is None or isinstance(body["price"], str)))


def handler_for(market):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the connector's libcurl handle expects

        def log_message(self, *args):
            pass

        def answer(self, status, body, headers=None):
            data = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client timed out and went away

        def read_json(self):
            length = int(self.headers.get("Content-Length") or 0)
            try:
                return json.loads(self.rfile.read(length) or b"null")
            except ValueError:
                return None

        def parts(self):
            return [p for p in self.path.split("?")[0].split("/") if p]

        def do_GET(self):
            p = self.parts()
            with market.lock:
                if p == ["stats"]:
                    return self.answer(200, dict(market.stats))
                if len(p) == 2 and p[1] == "listings":
                    return self.answer(200, dict(market.listings.get(p[0], {})))
            self.answer(404, {"error": "not found"})

        def do_POST(self):
            p = self.parts()
            body = self.read_json()
            if p == ["control"] and isinstance(body, dict):
                with market.lock:
                    for f in FAULTS:
                        if f in body:
                            market.rates[f] = float(body[f])
                    if "retry_after" in body:
                        market.retry_after = int(body["retry_after"])
                    if "hang_ms" in body:
                        market.hang_s = float(body["hang_ms"]) / 1000
                    if "late_ms" in body:
                        market.late_s = float(body["late_ms"]) / 1000
                return self.answer(200, {"rates": market.rates, "retry_after": market.retry_after})
            if len(p) != 2 or p[1] != "listings":
                return self.answer(404, {"error": "not found"})
            if not valid_listing(body):
                with market.lock:
                    market.stats["bad"] += 1
                return self.answer(400, {"error": "a listing needs sku, qty >= 0 and version"})
            status, answer, headers, delay = market.push(p[0], self.headers.get("Idempotency-Key"), body)
            if delay:
                time.sleep(delay)
            self.answer(status, answer, headers)

    return Handler


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    for f in FAULTS:
        ap.add_argument(f"--{f}", type=float, default=0, metavar="PCT")
    ap.add_argument("--retry-after", type=int, default=1, metavar="S")
    ap.add_argument("--hang-ms", type=int, default=3000)
    ap.add_argument("--late-ms", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler_for(Marketplace(args)))
    server.daemon_threads = True
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(str(server.server_address[1]))
        os.replace(args.port_file + ".tmp", args.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
