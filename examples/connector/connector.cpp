// channel_sync example connector: LISTENs on channel_sync, claims a channel's outbox
// messages in batches, pushes each to a sink (a file, or a simulated marketplace that
// sometimes fails, times out or answers late), then acks or fails it. Reconnects with
// backoff and polls on a timer, because notifications are not durable.
//
//   connector --channel amazon [--sink file:out.jsonl | --sink sim:FAIL_PCT,TIMEOUT_PCT,LATE_PCT]
//             [--batch 100] [--lease 30] [--poll 2] [--retry-in SECONDS] [--seconds 20]
//             [--max-messages N] [--quiet]
// --retry-in overrides channel_sync's exponential backoff after a failure (default: use it).
//
// Connection: libpq environment (PGHOST, PGPORT, PGUSER, PGDATABASE) or --conninfo.
// Prints one summary line at the end: delivered, stale, retried, dead, pending.
#include <pqxx/pqxx>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>

namespace {

using clock_type = std::chrono::steady_clock;

// One message handed out by channel_sync.claim().
struct message {
  long long id = 0;
  std::string sku;
  std::string external_id;  // empty when the channel has no alias for the SKU
  int qty = 0;
  std::string price;  // empty when NULL
  long long version = 0;
  int attempts = 0;
};

// What a sink says about one push.
struct outcome {
  bool ok = false;
  std::string error;               // why it failed
  std::optional<int> channel_qty;  // what the channel reports it now shows
};

// Where messages go. A real connector calls the marketplace's API here.
class sink {
 public:
  virtual ~sink() = default;
  virtual outcome push(const std::string& channel, const message& m) = 0;
};

// Appends one JSON line per message to a file.
class file_sink : public sink {
 public:
  explicit file_sink(const std::string& path) : out_(path, std::ios::app) {
    if (!out_) throw std::runtime_error("cannot open " + path);
  }
  outcome push(const std::string& channel, const message& m) override {
    out_ << "{\"channel\":\"" << channel << "\",\"sku\":\"" << m.sku << "\",\"external_id\":\""
         << m.external_id << "\",\"qty\":" << m.qty
         << ",\"price\":" << (m.price.empty() ? "null" : m.price) << ",\"version\":" << m.version
         << "}\n";
    out_.flush();
    if (!out_) return {false, "write failed", std::nullopt};
    return {true, "", m.qty};
  }

 private:
  std::ofstream out_;
};

// A marketplace API that fails, times out or answers late with the given percentages.
class simulated_marketplace : public sink {
 public:
  simulated_marketplace(int fail_pct, int timeout_pct, int late_pct, unsigned seed)
      : fail_(fail_pct), timeout_(timeout_pct), late_(late_pct), rng_(seed) {}
  outcome push(const std::string&, const message& m) override {
    int roll = std::uniform_int_distribution<int>(0, 99)(rng_);
    if (roll < fail_) return {false, "HTTP 503 Service Unavailable", std::nullopt};
    if (roll < fail_ + timeout_) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the client's timeout
      return {false, "timeout after 50 ms", std::nullopt};
    }
    if (roll < fail_ + timeout_ + late_) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return {true, "", m.qty};
  }

 private:
  int fail_, timeout_, late_;
  std::mt19937 rng_;
};

struct options {
  std::string conninfo;
  std::string channel;
  std::string sink = "sim:10,5,10";
  int batch = 100;
  int lease_s = 30;
  double poll_s = 2.0;
  double retry_in_s = -1;  // < 0: channel_sync's default backoff
  double seconds = 20.0;
  long long max_messages = -1;
  bool quiet = false;
};

struct counters {
  long long delivered = 0, stale = 0, retried = 0, dead = 0, errors = 0, reconnects = 0;
};

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
    else if (a == "--batch")
      o.batch = std::stoi(value());
    else if (a == "--lease")
      o.lease_s = std::stoi(value());
    else if (a == "--poll")
      o.poll_s = std::stod(value());
    else if (a == "--seconds")
      o.seconds = std::stod(value());
    else if (a == "--retry-in")
      o.retry_in_s = std::stod(value());
    else if (a == "--max-messages")
      o.max_messages = std::stoll(value());
    else if (a == "--quiet")
      o.quiet = true;
    else
      throw std::runtime_error("unknown option " + a);
  }
  if (o.channel.empty()) throw std::runtime_error("--channel is required");
  return o;
}

std::unique_ptr<sink> make_sink(const std::string& spec, const std::string& channel) {
  if (spec.rfind("file:", 0) == 0) return std::make_unique<file_sink>(spec.substr(5));
  if (spec.rfind("sim:", 0) == 0) {
    int f = 0, t = 0, l = 0;
    if (std::sscanf(spec.c_str() + 4, "%d,%d,%d", &f, &t, &l) < 1)
      throw std::runtime_error("bad sim sink: " + spec);
    return std::make_unique<simulated_marketplace>(
        f, t, l, static_cast<unsigned>(std::hash<std::string>{}(channel)));
  }
  throw std::runtime_error("unknown sink " + spec + " (file:PATH or sim:FAIL,TIMEOUT,LATE)");
}

// Claims one batch, pushes every message and records the outcome; returns how many were claimed.
int drain_batch(pqxx::connection& conn, const options& o, sink& out, counters& c,
                long long& budget) {
  std::vector<message> batch;
  {
    pqxx::work tx(conn);
    int want = o.batch;
    if (budget >= 0 && budget < want) want = static_cast<int>(budget);
    if (want <= 0) return 0;
    pqxx::result r = tx.exec_params(
        "SELECT message_id, sku, coalesce(external_id, ''), qty, coalesce(price::text, ''), "
        "version, "
        "attempts FROM channel_sync.claim($1, $2, make_interval(secs => $3))",
        o.channel, want, o.lease_s);
    tx.commit();
    for (const auto& row : r)
      batch.push_back({row[0].as<long long>(), row[1].as<std::string>(), row[2].as<std::string>(),
                       row[3].as<int>(), row[4].as<std::string>(), row[5].as<long long>(),
                       row[6].as<int>()});
  }
  for (const message& m : batch) {
    outcome res = out.push(o.channel, m);
    pqxx::work tx(conn);
    if (res.ok) {
      pqxx::result r = res.channel_qty ? tx.exec_params("SELECT channel_sync.ack($1, $2)", m.id,
                                                        *res.channel_qty)
                                       : tx.exec_params("SELECT channel_sync.ack($1)", m.id);
      if (r[0][0].as<bool>())
        ++c.delivered;
      else
        ++c.stale;  // a newer version arrived meanwhile; it stays pending and comes next
      if (!o.quiet)
        std::cout << "  delivered " << m.sku << " qty " << m.qty << " v" << m.version << "\n";
    } else {
      pqxx::result r =
          o.retry_in_s < 0
              ? tx.exec_params("SELECT channel_sync.fail($1, $2)", m.id, res.error)
              : tx.exec_params("SELECT channel_sync.fail($1, $2, make_interval(secs => $3))", m.id,
                               res.error, o.retry_in_s);
      std::string verdict = r[0][0].as<std::string>();
      if (verdict == "dead")
        ++c.dead;
      else
        ++c.retried;
      if (!o.quiet) std::cout << "  " << verdict << " " << m.sku << ": " << res.error << "\n";
    }
    tx.commit();
    if (budget > 0) --budget;
  }
  return static_cast<int>(batch.size());
}

// Pending messages of the channel, for the summary.
long long pending(pqxx::connection& conn, const std::string& channel) {
  pqxx::work tx(conn);
  auto r = tx.exec_params(
      "SELECT count(*) FROM channel_sync.outbox WHERE channel_id = $1 AND status = 'pending'",
      channel);
  return r[0][0].as<long long>();
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  std::unique_ptr<sink> out;
  try {
    o = parse(argc, argv);
    out = make_sink(o.sink, o.channel);
  } catch (const std::exception& e) {
    std::cerr << "connector: " << e.what() << "\n";
    return 2;
  }
  counters c;
  long long budget = o.max_messages;
  auto deadline =
      clock_type::now() + std::chrono::milliseconds(static_cast<long long>(o.seconds * 1000));
  auto backoff = std::chrono::milliseconds(100);
  std::unique_ptr<pqxx::connection> conn;
  long long left = -1;

  while (clock_type::now() < deadline && budget != 0) {
    try {
      if (!conn || !conn->is_open()) {
        conn = std::make_unique<pqxx::connection>(o.conninfo);
        pqxx::nontransaction setup(*conn);
        setup.exec("LISTEN channel_sync");
        // a lost ack (crash before the WAL flush) only means the message is delivered again
        setup.exec("SET synchronous_commit = off");
        backoff = std::chrono::milliseconds(100);
      }
      // drain everything ready, then sleep until a notification for this channel or the poll timer
      while (drain_batch(*conn, o, *out, c, budget) > 0 && clock_type::now() < deadline) {
      }
      auto wait_until = std::min(
          deadline,
          clock_type::now() + std::chrono::milliseconds(static_cast<long long>(o.poll_s * 1000)));
      while (clock_type::now() < wait_until) {
        auto left_ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(wait_until - clock_type::now());
        long secs = static_cast<long>(left_ms.count() / 1000),
             usecs = static_cast<long>(left_ms.count() % 1000) * 1000;
        // libpqxx 6: await_notification dispatches to receivers; we only need the wake-up
        if (conn->await_notification(secs, usecs) > 0) break;
      }
    } catch (const pqxx::broken_connection& e) {
      ++c.reconnects;
      std::cerr << "connector: connection lost (" << e.what() << "), retrying in "
                << backoff.count() << " ms\n";
      conn.reset();
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
    } catch (const std::exception& e) {
      ++c.errors;
      std::cerr << "connector: " << e.what() << "\n";
      conn.reset();
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
    }
  }
  try {
    if (!conn || !conn->is_open()) conn = std::make_unique<pqxx::connection>(o.conninfo);
    left = pending(*conn, o.channel);
  } catch (const std::exception&) {
  }
  std::printf(
      "%-8s delivered %lld, stale acks %lld, retried %lld, dead %lld, pending %lld, reconnects "
      "%lld\n",
      o.channel.c_str(), c.delivered, c.stale, c.retried, c.dead, left, c.reconnects);
  return c.errors > 0 ? 1 : 0;
}
