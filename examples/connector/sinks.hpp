// Where the example connector pushes a channel's outbox messages: a file, a simulated
// marketplace inside the process, or a marketplace's HTTP endpoint.
#pragma once

#include <memory>
#include <optional>
#include <string>

namespace connector {

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
  std::string error;                 // why it failed
  std::optional<int> channel_qty;    // what the channel reports it now shows
  std::optional<double> retry_in_s;  // when the channel asked to be called again (Retry-After)
};

class sink {
 public:
  virtual ~sink() = default;
  virtual outcome push(const std::string& channel, const message& m) = 0;
};

// The message as the JSON object a file line or an HTTP request carries.
std::string message_json(const std::string& channel, const message& m);

// file:PATH, sim:FAIL_PCT,TIMEOUT_PCT,LATE_PCT or http[s]://HOST:PORT/PATH (timeout_ms: how
// long an HTTP push may take before it counts as failed). Throws std::runtime_error.
std::unique_ptr<sink> make_sink(const std::string& spec, const std::string& channel,
                                long timeout_ms);

}  // namespace connector
