#include "sinks.hpp"

#include <curl/curl.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>
#include <strings.h>
#include <thread>

namespace connector {

std::string message_json(const std::string& channel, const message& m) {
  nlohmann::json j = {{"channel", channel},
                      {"message_id", m.id},
                      {"sku", m.sku},
                      {"qty", m.qty},
                      {"version", m.version}};
  j["external_id"] =
      m.external_id.empty() ? nlohmann::json(nullptr) : nlohmann::json(m.external_id);
  // the price stays the decimal text channel_sync sent: no binary floating point on the way
  j["price"] = m.price.empty() ? nlohmann::json(nullptr) : nlohmann::json(m.price);
  return j.dump();
}

namespace {

// Appends one JSON line per message to a file.
class file_sink : public sink {
 public:
  explicit file_sink(const std::string& path) : out_(path, std::ios::app) {
    if (!out_) throw std::runtime_error("cannot open " + path);
  }
  outcome push(const std::string& channel, const message& m) override {
    out_ << message_json(channel, m) << "\n";
    out_.flush();
    if (!out_) return {false, "write failed", std::nullopt, std::nullopt};
    return {true, "", m.qty, std::nullopt};
  }

 private:
  std::ofstream out_;
};

// A marketplace API inside the process that fails, times out or answers late with the given
// percentages.
class simulated_marketplace : public sink {
 public:
  simulated_marketplace(int fail_pct, int timeout_pct, int late_pct, unsigned seed)
      : fail_(fail_pct), timeout_(timeout_pct), late_(late_pct), rng_(seed) {}
  outcome push(const std::string&, const message& m) override {
    int roll = std::uniform_int_distribution<int>(0, 99)(rng_);
    if (roll < fail_) return {false, "HTTP 503 Service Unavailable", std::nullopt, std::nullopt};
    if (roll < fail_ + timeout_) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the client's timeout
      return {false, "timeout after 50 ms", std::nullopt, std::nullopt};
    }
    if (roll < fail_ + timeout_ + late_) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return {true, "", m.qty, std::nullopt};
  }

 private:
  int fail_, timeout_, late_;
  std::mt19937 rng_;
};

// Retry-After in seconds (the HTTP-date form is not used by the APIs this example talks to).
std::optional<double> retry_after(const std::string& header_line) {
  static const char name[] = "retry-after:";
  if (header_line.size() <= sizeof(name) - 1 ||
      strncasecmp(header_line.c_str(), name, sizeof(name) - 1) != 0)
    return std::nullopt;
  double seconds = 0;
  if (std::sscanf(header_line.c_str() + sizeof(name) - 1, "%lf", &seconds) != 1 || seconds < 0)
    return std::nullopt;
  return seconds;
}

size_t collect_body(char* data, size_t size, size_t count, void* to) {
  static_cast<std::string*>(to)->append(data, size * count);
  return size * count;
}

size_t collect_retry_after(char* data, size_t size, size_t count, void* to) {
  if (auto s = retry_after(std::string(data, size * count)))
    *static_cast<std::optional<double>*>(to) = s;
  return size * count;
}

// The quantity the channel says it shows now, when its answer carries one.
std::optional<int> shown_qty(const std::string& body) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("qty") && j["qty"].is_number_integer())
    return j["qty"].get<int>();
  return std::nullopt;
}

// POSTs each message as JSON to a marketplace endpoint, with an Idempotency-Key the marketplace
// can deduplicate a retried push by. 2xx is delivered; anything else, a timeout or a refused
// connection is a failure, retried after the marketplace's Retry-After when it sends one.
class http_sink : public sink {
 public:
  http_sink(const std::string& url, long timeout_ms)
      : url_(url), timeout_ms_(timeout_ms), curl_(curl_easy_init()) {
    if (curl_ == nullptr) throw std::runtime_error("curl_easy_init failed");
  }
  ~http_sink() override { curl_easy_cleanup(curl_); }
  http_sink(const http_sink&) = delete;
  http_sink& operator=(const http_sink&) = delete;

  outcome push(const std::string& channel, const message& m) override {
    std::string body = message_json(channel, m), answer;
    std::optional<double> wait;
    std::string key =
        "Idempotency-Key: " + channel + ":" + escaped(m.sku) + ":" + std::to_string(m.version);
    curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
    headers = curl_slist_append(headers, key.c_str());
    curl_easy_setopt(curl_, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, timeout_ms_);
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &answer);
    curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, collect_retry_after);
    curl_easy_setopt(curl_, CURLOPT_HEADERDATA, &wait);
    CURLcode rc = curl_easy_perform(curl_);
    curl_slist_free_all(headers);
    if (rc == CURLE_OPERATION_TIMEDOUT)
      return {false, "timeout after " + std::to_string(timeout_ms_) + " ms", std::nullopt,
              std::nullopt};
    if (rc != CURLE_OK)
      return {false, std::string(curl_easy_strerror(rc)) + " (" + url_ + ")", std::nullopt,
              std::nullopt};
    long status = 0;
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300) return {true, "", shown_qty(answer), std::nullopt};
    return {false, "HTTP " + std::to_string(status) + ": " + answer.substr(0, 200), std::nullopt,
            wait};
  }

 private:
  // a SKU may hold any printable character; a header holds ASCII
  std::string escaped(const std::string& text) {
    char* e = curl_easy_escape(curl_, text.data(), static_cast<int>(text.size()));
    if (e == nullptr) throw std::runtime_error("curl_easy_escape failed");
    std::string out(e);
    curl_free(e);
    return out;
  }

  std::string url_;
  long timeout_ms_;
  CURL* curl_;
};

}  // namespace

std::unique_ptr<sink> make_sink(const std::string& spec, const std::string& channel,
                                long timeout_ms) {
  if (spec.rfind("file:", 0) == 0) return std::make_unique<file_sink>(spec.substr(5));
  if (spec.rfind("http://", 0) == 0 || spec.rfind("https://", 0) == 0)
    return std::make_unique<http_sink>(spec, timeout_ms);
  if (spec.rfind("sim:", 0) == 0) {
    int f = 0, t = 0, l = 0;
    if (std::sscanf(spec.c_str() + 4, "%d,%d,%d", &f, &t, &l) < 1)
      throw std::runtime_error("bad sim sink: " + spec);
    return std::make_unique<simulated_marketplace>(
        f, t, l, static_cast<unsigned>(std::hash<std::string>{}(channel)));
  }
  throw std::runtime_error("unknown sink " + spec +
                           " (file:PATH, sim:FAIL,TIMEOUT,LATE or http[s]://HOST:PORT/PATH)");
}

}  // namespace connector
