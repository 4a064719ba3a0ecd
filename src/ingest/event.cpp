// Payload validation for every event type (see event.hpp and README "Inbound events").
#include "ingest/event.hpp"

#include <cstring>

#include "ingest/json.hpp"

namespace cs::ingest {

namespace {

struct kind_name {
  event_kind kind;
  const char* name;
};
constexpr kind_name kKinds[] = {
    {event_kind::order_placed, "order_placed"},
    {event_kind::order_cancelled, "order_cancelled"},
    {event_kind::order_shipped, "order_shipped"},
    {event_kind::return_received, "return_received"},
    {event_kind::stock_adjusted, "stock_adjusted"},
    {event_kind::stock_counted, "stock_counted"},
    {event_kind::listing_observed, "listing_observed"},
};

// A validation failure carrying its reason.
struct invalid {
  std::string reason;
};

// Characters (not bytes) in UTF-8 text, as PostgreSQL's length() counts them.
size_t utf8_length(std::string_view s) {
  size_t n = 0;
  for (char c : s)
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  return n;
}

// A JSON number as written, cut after 40 characters (a number may have thousands of digits).
std::string number_shown(std::string_view s) {
  return s.size() > 40 ? std::string(s.substr(0, 40)) + "..." : std::string(s);
}

std::string quoted(std::string_view s) {
  std::string out = "\"";
  out.append(s.substr(0, 100));
  if (s.size() > 100) out += "...";
  out += '"';
  return out;
}

// An identifier field: a non-empty string (or an integer, as some channels send ids)
// of at most 255 characters.
std::string id_field(const json_value& obj, const char* field, const std::string& where,
                     bool required, bool* present = nullptr) {
  const json_value* v = obj.find(field);
  if (present != nullptr) *present = v != nullptr && v->type != json_value::kind::null;
  if (v == nullptr || v->type == json_value::kind::null) {
    if (required) throw invalid{where + "\"" + field + "\" is missing"};
    return {};
  }
  std::string value;
  if (v->type == json_value::kind::string) {
    value = v->text;
  } else if (std::optional<int64_t> n = json_integer(*v)) {
    value = std::to_string(*n);  // 1001.0 is 1001, as the fingerprint has it
  } else if (v->type == json_value::kind::number) {
    throw invalid{where + "\"" + field + "\" must be a string or an integer within 64 bits, not " +
                  number_shown(v->text)};
  } else {
    throw invalid{where + "\"" + field + "\" must be a string, not " + v->type_name()};
  }
  if (value.empty()) throw invalid{where + "\"" + field + "\" must not be empty"};
  if (utf8_length(value) > kMaxIdLength)
    throw invalid{where + "\"" + field + "\" is longer than 255 characters"};
  for (char c : value)
    if (static_cast<unsigned char>(c) < 0x20)
      throw invalid{where + "\"" + field + "\" contains a control character"};
  return value;
}

// An integer field within [min, max].
int32_t int_field(const json_value& obj, const char* field, const std::string& where, int64_t min,
                  int64_t max, const char* range_text) {
  const json_value* v = obj.find(field);
  if (v == nullptr || v->type == json_value::kind::null)
    throw invalid{where + "\"" + field + "\" is missing"};
  std::optional<int64_t> n = json_integer(*v);
  if (!n) {
    if (v->type == json_value::kind::number)
      throw invalid{where + "\"" + field + "\" must be an integer, not " + number_shown(v->text)};
    throw invalid{where + "\"" + field + "\" must be an integer, not " + v->type_name()};
  }
  if (*n < min || *n > max)
    throw invalid{where + "\"" + field + "\" must be " + range_text + ", not " +
                  number_shown(v->text)};
  return static_cast<int32_t>(*n);
}

constexpr int64_t kMaxQty = 1000000000;

// {sku} or {external_id}: exactly one of them.
item_ref item_field(const json_value& obj, const std::string& where) {
  bool has_sku = false, has_external = false;
  std::string sku = id_field(obj, "sku", where, false, &has_sku);
  std::string ext = id_field(obj, "external_id", where, false, &has_external);
  if (has_sku && has_external)
    throw invalid{where + "give either \"sku\" or \"external_id\", not both"};
  if (!has_sku && !has_external) throw invalid{where + "\"sku\" or \"external_id\" is missing"};
  return has_sku ? item_ref{sku, false} : item_ref{ext, true};
}

// "lines": a non-empty array of line objects.
std::vector<event_line> lines_field(const json_value& obj, bool required, bool with_location) {
  const json_value* v = obj.find("lines");
  if (v == nullptr || v->type == json_value::kind::null) {
    if (required) throw invalid{"\"lines\" is missing"};
    return {};
  }
  if (v->type != json_value::kind::array)
    throw invalid{std::string("\"lines\" must be an array, not ") + v->type_name()};
  if (v->items.empty()) throw invalid{"\"lines\" must not be empty"};
  if (v->items.size() > kMaxLines) throw invalid{"\"lines\" has more than 1000 lines"};
  std::vector<event_line> lines;
  lines.reserve(v->items.size());
  for (size_t i = 0; i < v->items.size(); ++i) {
    const json_value& l = v->items[i];
    std::string where = "line " + std::to_string(i + 1) + ": ";
    if (l.type != json_value::kind::object)
      throw invalid{where + "must be an object, not " + l.type_name()};
    event_line line;
    line.item = item_field(l, where);
    line.qty = int_field(l, "qty", where, 1, kMaxQty, "a positive integer");
    if (with_location) line.location_id = id_field(l, "location_id", where, false);
    lines.push_back(std::move(line));
  }
  return lines;
}

// A price: a non-negative number that fits numeric(12,2).
std::string price_field(const json_value& v) {
  if (v.type != json_value::kind::number)
    throw invalid{std::string("\"price\" must be a number, not ") + v.type_name()};
  const std::string& t = v.text;
  if (t[0] == '-') throw invalid{"\"price\" must not be negative, not " + t};
  size_t dot = t.find_first_of(".eE");
  size_t int_digits = dot == std::string::npos ? t.size() : dot;
  if (t.find_first_of("eE") != std::string::npos || int_digits > 10)
    throw invalid{"\"price\" is out of range: " + t};
  return t;
}

event parse_fields(event_kind kind, const json_value& p) {
  event ev;
  ev.kind = kind;
  const std::string none;
  switch (kind) {
    case event_kind::order_placed:
      ev.order_id = id_field(p, "order_id", none, true);
      ev.lines = lines_field(p, true, true);
      break;
    case event_kind::order_cancelled:
    case event_kind::order_shipped:
      ev.order_id = id_field(p, "order_id", none, true);
      ev.lines = lines_field(p, false, false);
      break;
    case event_kind::return_received: {
      ev.order_id = id_field(p, "order_id", none, false);
      ev.item = item_field(p, none);
      ev.qty = int_field(p, "qty", none, 1, kMaxQty, "a positive integer");
      ev.location_id = id_field(p, "location_id", none, true);
      const json_value* r = p.find("restock");
      if (r == nullptr || r->type == json_value::kind::null)
        throw invalid{"\"restock\" is missing"};
      if (r->type != json_value::kind::boolean)
        throw invalid{std::string("\"restock\" must be true or false, not ") + r->type_name()};
      ev.restock = r->boolean;
      break;
    }
    case event_kind::stock_adjusted: {
      ev.item = item_field(p, none);
      ev.location_id = id_field(p, "location_id", none, true);
      ev.delta = int_field(p, "delta", none, -kMaxQty, kMaxQty, "an integer within +-1000000000");
      if (ev.delta == 0) throw invalid{"\"delta\" must not be 0"};
      const json_value* r = p.find("reason");
      if (r == nullptr || r->type != json_value::kind::string || r->text.empty())
        throw invalid{"\"reason\" must be a non-empty string"};
      ev.reason = r->text;
      break;
    }
    case event_kind::stock_counted:
      ev.item = item_field(p, none);
      ev.location_id = id_field(p, "location_id", none, true);
      ev.on_hand = int_field(p, "on_hand", none, 0, kMaxQty, "a non-negative integer");
      break;
    case event_kind::listing_observed: {
      ev.item = item_field(p, none);
      ev.qty = int_field(p, "qty", none, 0, kMaxQty, "a non-negative integer");
      const json_value* price = p.find("price");
      if (price != nullptr && price->type != json_value::kind::null) ev.price = price_field(*price);
      break;
    }
  }
  return ev;
}

}  // namespace

std::optional<event_kind> parse_event_kind(std::string_view name) {
  for (const kind_name& k : kKinds)
    if (name == k.name) return k.kind;
  return std::nullopt;
}

const char* event_kind_name(event_kind k) {
  for (const kind_name& n : kKinds)
    if (n.kind == k) return n.name;
  return "unknown";
}

parse_outcome parse_event(std::string_view event_type, std::string_view payload_json) {
  parse_outcome out;
  std::optional<event_kind> kind = parse_event_kind(event_type);
  if (!kind) {
    out.reason = "unknown event_type " + quoted(event_type);
    return out;
  }
  if (payload_json.size() > kMaxPayloadBytes) {
    out.reason = "payload is larger than 1 MB (" + std::to_string(payload_json.size()) + " bytes)";
    return out;
  }
  std::string error;
  std::optional<json_value> doc = parse_json(payload_json, error);
  if (!doc) {
    out.reason = "payload is not valid JSON: " + error;
    return out;
  }
  if (doc->type != json_value::kind::object) {
    out.reason = std::string("payload must be a JSON object, not ") + doc->type_name();
    return out;
  }
  try {
    out.ok = parse_fields(*kind, *doc);
  } catch (const invalid& e) {
    out.reason = e.reason;
  }
  return out;
}

std::string check_key(std::string_view key) {
  if (key.empty()) return "idempotency_key is empty";
  size_t n = utf8_length(key);
  if (n > kMaxIdLength)
    return "idempotency_key is " + std::to_string(n) + " characters long; at most 255 are allowed";
  return {};
}

}  // namespace cs::ingest
