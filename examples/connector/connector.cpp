// channel_sync example connector: LISTENs on channel_sync, claims a channel's outbox
// messages in batches, pushes each to a sink (a file, a simulated marketplace inside the
// process, or a marketplace's HTTP endpoint), then acks or fails it. Reconnects with backoff
// and polls on a timer, because notifications are not durable. SIGTERM or SIGINT stops it
// after the message in hand, with the summary.
//
//   connector --channel amazon [--sink file:out.jsonl | sim:FAIL_PCT,TIMEOUT_PCT,LATE_PCT |
//                               http[s]://127.0.0.1:8080/amazon/listings]
//             [--timeout-ms 2000] [--batch 100] [--lease 30] [--poll 2] [--retry-in SECONDS]
//             [--seconds 20] [--max-messages N] [--quiet]
// --retry-in overrides channel_sync's exponential backoff after a failure (default: use it);
// a marketplace's Retry-After overrides both.
//
// Connection: libpq environment (PGHOST, PGPORT, PGUSER, PGDATABASE) or --conninfo; the
// session's application_name is "channel_sync connector <channel>".
// Prints one summary line at the end: delivered, stale, retried, dead, released (handed back at a
// stop or before the lease ran out), lost leases, pending, reconnects.
#include <pqxx/pqxx>

#include <curl/curl.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "sinks.hpp"

namespace {

using clock_type = std::chrono::steady_clock;
using connector::message;
using connector::outcome;
using connector::sink;

volatile sig_atomic_t stop_requested = 0;

void request_stop(int) {
  stop_requested = 1;
}

struct options {
  std::string conninfo;
  std::string channel;
  std::string sink = "sim:10,5,10";
  long timeout_ms = 2000;
  int batch = 100;
  int lease_s = 30;
  double poll_s = 2.0;
  double retry_in_s = -1;  // < 0: channel_sync's default backoff
  double seconds = 20.0;
  long long max_messages = -1;
  bool quiet = false;
};

struct counters {
  long long delivered = 0, stale = 0, retried = 0, dead = 0, released = 0, lost_leases = 0;
  long long errors = 0, reconnects = 0;
};

// The number an option takes, within [lo, hi] (and whole when whole is set).
double number(const std::string& option, const std::string& text, double lo, double hi,
              bool whole) {
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || !(v >= lo && v <= hi) || (whole && v != std::floor(v))) {
    std::ostringstream why;
    why << option << " needs " << (whole ? "a whole number" : "a number") << " from " << lo
        << " to " << hi << ", not \"" << text << "\"";
    throw std::runtime_error(why.str());
  }
  return v;
}

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--conninfo")
      o.conninfo = value();
    else if (a == "--channel")
      o.channel = value();
    else if (a == "--sink")
      o.sink = value();
    else if (a == "--timeout-ms")
      o.timeout_ms = static_cast<long>(number(a, value(), 1, 600000, true));
    else if (a == "--batch")
      o.batch = static_cast<int>(number(a, value(), 1, 10000, true));
    else if (a == "--lease")
      o.lease_s = static_cast<int>(number(a, value(), 1, 86400, true));
    else if (a == "--poll")
      o.poll_s = number(a, value(), 0.01, 3600, false);
    else if (a == "--seconds")
      o.seconds = number(a, value(), 0, 1e9, false);
    else if (a == "--retry-in")
      o.retry_in_s = number(a, value(), 0, 86400, false);
    else if (a == "--max-messages")
      o.max_messages = static_cast<long long>(number(a, value(), 1, 1e15, true));
    else if (a == "--quiet")
      o.quiet = true;
    else
      throw std::runtime_error("unknown option " + a);
  }
  if (o.channel.empty()) throw std::runtime_error("--channel is required");
  if (o.lease_s * 1000L <= o.timeout_ms)
    throw std::runtime_error("--lease must be longer than --timeout-ms: a push must end within it");
  return o;
}

// Notes a NOTIFY channel_sync whose payload is this connector's channel; the others are
// another connector's work.
class wake_up : public pqxx::notification_receiver {
 public:
  wake_up(pqxx::connection_base& c, const std::string& channel)
      : pqxx::notification_receiver(c, "channel_sync"), channel_(channel) {}
  void operator()(const std::string& payload, int) override { woken |= payload == channel_; }
  bool woken = false;

 private:
  std::string channel_;
};

// A session LISTENing for its channel (the receiver goes before its connection).
struct session {
  std::unique_ptr<pqxx::connection> conn;
  std::unique_ptr<wake_up> listener;
  void close() {
    listener.reset();
    conn.reset();
  }
};

void open_session(session& s, const options& o) {
  s.close();
  s.conn = std::make_unique<pqxx::connection>(o.conninfo);
  pqxx::nontransaction setup(*s.conn);
  setup.exec("SET application_name = " + setup.quote("channel_sync connector " + o.channel));
  // a lost ack (crash before the WAL flush) only means the message is delivered again
  setup.exec("SET synchronous_commit = off");
  s.listener = std::make_unique<wake_up>(*s.conn, o.channel);
}

std::vector<message> claim(pqxx::connection& conn, const options& o, int want) {
  pqxx::work tx(conn);
  pqxx::result r = tx.exec_params(
      "SELECT message_id, sku, coalesce(external_id, ''), qty, coalesce(price::text, ''), "
      "version, attempts FROM channel_sync.claim($1, $2, make_interval(secs => $3))",
      o.channel, want, o.lease_s);
  tx.commit();
  std::vector<message> batch;
  for (const auto& row : r)
    batch.push_back({row[0].as<long long>(), row[1].as<std::string>(), row[2].as<std::string>(),
                     row[3].as<int>(), row[4].as<std::string>(), row[5].as<long long>(),
                     row[6].as<int>()});
  return batch;
}

void record_delivery(pqxx::connection& conn, const options& o, const message& m, const outcome& res,
                     counters& c) {
  pqxx::work tx(conn);
  // with the claimed version: if the lease lapsed and another connector claimed the message
  // since at another version, the ack is refused (55000, a lost lease) and records nothing
  pqxx::result r =
      res.channel_qty
          ? tx.exec_params("SELECT channel_sync.ack($1, $2, $3)", m.id, *res.channel_qty, m.version)
          : tx.exec_params("SELECT channel_sync.ack($1, NULL, $2)", m.id, m.version);
  tx.commit();
  if (r[0][0].as<bool>())
    ++c.delivered;
  else
    ++c.stale;  // a newer version arrived meanwhile; it stays pending and comes next
  if (!o.quiet)
    std::cout << "  delivered " << m.sku << " qty " << m.qty << " v" << m.version << "\n";
}

void record_failure(pqxx::connection& conn, const options& o, const message& m, const outcome& res,
                    counters& c) {
  double retry_in = res.retry_in_s ? *res.retry_in_s : o.retry_in_s;
  pqxx::work tx(conn);
  pqxx::result r =
      retry_in < 0
          ? tx.exec_params("SELECT channel_sync.fail($1, $2, NULL, $3)", m.id, res.error, m.version)
          : tx.exec_params("SELECT channel_sync.fail($1, $2, make_interval(secs => $3), $4)", m.id,
                           res.error, retry_in, m.version);
  tx.commit();
  std::string verdict = r[0][0].as<std::string>();
  if (verdict == "dead")
    ++c.dead;
  else
    ++c.retried;
  if (!o.quiet) std::cout << "  " << verdict << " " << m.sku << ": " << res.error << "\n";
}

// Whether an ack, fail or release found the message gone or no longer claimed: its lease
// lapsed and another connector of the channel took it over (and may have delivered it).
bool lost_lease(const pqxx::sql_error& e) {
  return e.sqlstate() == "55000" || e.sqlstate() == "P0002";
}

// Hands back the messages of a batch from `from` on, not pushed (a stop, or a lease about to
// run out), so they need not wait for the lease to lapse: one statement, one transaction.
long long release_rest(pqxx::connection& conn, const std::vector<message>& batch, size_t from) {
  std::string ids = "{", versions = "{";
  for (size_t k = from; k < batch.size(); ++k) {
    ids += (k > from ? "," : "") + std::to_string(batch[k].id);
    versions += (k > from ? "," : "") + std::to_string(batch[k].version);
  }
  ids += "}";
  versions += "}";
  try {
    pqxx::work tx(conn);
    // a message acknowledged elsewhere meanwhile is gone: skipped, not an error; one claimed
    // by another connector since at another version is left to it
    pqxx::result r = tx.exec_params(
        "SELECT count(*) FILTER (WHERE channel_sync.release(u.id, u.v)) "
        "FROM unnest($1::bigint[], $2::bigint[]) AS u (id, v) "
        "WHERE EXISTS (SELECT 1 FROM channel_sync.outbox o WHERE o.message_id = u.id)",
        ids, versions);
    tx.commit();
    return r[0][0].as<long long>();
  } catch (const pqxx::sql_error& e) {
    if (!lost_lease(e)) throw;
    return 0;  // one went between the check and the release: the rest waits for its lease
  }
}

// Pushes one message and records the outcome.
void deliver(pqxx::connection& conn, const options& o, sink& out, const message& m, counters& c) {
  outcome res = out.push(o.channel, m);
  try {
    if (res.ok)
      record_delivery(conn, o, m, res, c);
    else
      record_failure(conn, o, m, res, c);
  } catch (const pqxx::sql_error& e) {
    if (!lost_lease(e)) throw;
    ++c.lost_leases;
    if (!o.quiet) std::cout << "  lease lost on " << m.sku << ": " << e.what();
  }
}

// Claims one batch, pushes every message and records the outcome; returns how many were
// claimed. A stop hands the rest of the batch back, and so does a lease that would run out
// during the next push (another connector may claim the message once it has).
int drain_batch(pqxx::connection& conn, const options& o, sink& out, counters& c,
                long long& budget) {
  int want = o.batch;
  if (budget >= 0 && budget < want) want = static_cast<int>(budget);
  if (want <= 0) return 0;
  auto lease_ends = clock_type::now() + std::chrono::seconds(o.lease_s);  // taken before the claim
  std::vector<message> batch = claim(conn, o, want);
  for (size_t k = 0; k < batch.size(); ++k) {
    // the first push of a batch always goes: a batch makes progress however short the lease
    bool lease_too_short =
        k > 0 && clock_type::now() + std::chrono::milliseconds(o.timeout_ms) >= lease_ends;
    if (stop_requested || lease_too_short) {
      c.released += release_rest(conn, batch, k);
      break;
    }
    deliver(conn, o, out, batch[k], c);
    if (budget > 0) --budget;
  }
  return static_cast<int>(batch.size());
}

// Sleeps until a notification for this channel, the poll timer, the deadline or a stop.
void wait_for_work(session& s, const options& o, clock_type::time_point deadline) {
  auto wait_until =
      std::min(deadline, clock_type::now() +
                             std::chrono::milliseconds(static_cast<long long>(o.poll_s * 1000)));
  while (!s.listener->woken && !stop_requested && clock_type::now() < wait_until) {
    auto left =
        std::chrono::duration_cast<std::chrono::microseconds>(wait_until - clock_type::now());
    long slice =
        static_cast<long>(std::min<long long>(left.count(), 200000));  // a stop is seen soon
    s.conn->await_notification(slice / 1000000, slice % 1000000);
  }
}

// Pending messages of the channel, for the summary.
long long pending(pqxx::connection& conn, const std::string& channel) {
  pqxx::work tx(conn);
  auto r = tx.exec_params(
      "SELECT count(*) FROM channel_sync.outbox WHERE channel_id = $1 AND status = 'pending'",
      channel);
  return r[0][0].as<long long>();
}

// Drops the session and waits before the next attempt: 100 ms doubling to 5 s.
void back_off(session& s, std::chrono::milliseconds& backoff) {
  s.close();
  std::this_thread::sleep_for(backoff);
  backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
}

void reconnect_after(const std::exception& e, counters& c, session& s,
                     std::chrono::milliseconds& backoff) {
  ++c.reconnects;
  std::cerr << "connector: connection lost (" << e.what() << "), retrying in " << backoff.count()
            << " ms\n";
  back_off(s, backoff);
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  std::unique_ptr<sink> out;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  try {
    o = parse(argc, argv);
    out = connector::make_sink(o.sink, o.channel, o.timeout_ms);
  } catch (const std::exception& e) {
    std::cerr << "connector: " << e.what() << "\n";
    return 2;
  }
  signal(SIGTERM, request_stop);
  signal(SIGINT, request_stop);
  counters c;
  long long budget = o.max_messages;
  auto deadline =
      clock_type::now() + std::chrono::milliseconds(static_cast<long long>(o.seconds * 1000));
  auto backoff = std::chrono::milliseconds(100);
  session s;
  long long left = -1;

  while (clock_type::now() < deadline && budget != 0 && !stop_requested) {
    try {
      if (!s.conn || !s.conn->is_open()) {
        open_session(s, o);
        backoff = std::chrono::milliseconds(100);
      }
      // drain everything ready, then sleep until there is more
      s.listener->woken = false;
      while (drain_batch(*s.conn, o, *out, c, budget) > 0 && clock_type::now() < deadline &&
             !stop_requested) {
      }
      wait_for_work(s, o, deadline);
    } catch (const pqxx::broken_connection& e) {
      reconnect_after(e, c, s, backoff);
    } catch (const pqxx::in_doubt_error& e) {
      // the connection broke during a commit: an ack that did not commit only means the
      // message is pushed again once its lease lapses, which the marketplace deduplicates
      reconnect_after(e, c, s, backoff);
    } catch (const std::exception& e) {
      ++c.errors;
      std::cerr << "connector: " << e.what() << "\n";
      back_off(s, backoff);
    }
  }
  try {
    if (!s.conn || !s.conn->is_open()) open_session(s, o);
    left = pending(*s.conn, o.channel);
  } catch (const std::exception&) {
  }
  s.close();
  out.reset();
  curl_global_cleanup();
  std::printf(
      "%-8s delivered %lld, stale acks %lld, retried %lld, dead %lld, released %lld, lost leases "
      "%lld, pending %lld, reconnects %lld\n",
      o.channel.c_str(), c.delivered, c.stale, c.retried, c.dead, c.released, c.lost_leases, left,
      c.reconnects);
  return c.errors > 0 ? 1 : 0;
}
