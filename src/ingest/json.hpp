// A small JSON reader for event payloads. Pure C++: it reads jsonb's canonical text
// (or any JSON text) into a tree of values, bounded in depth so hostile input cannot
// exhaust the stack. Numbers keep their literal text; helpers read them as integers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cs::ingest {

// One JSON value; objects keep their members in input order.
struct json_value {
  enum class kind { null, boolean, number, string, array, object };
  kind type = kind::null;
  bool boolean = false;
  std::string text;  // a string's decoded text, or a number's literal
  std::vector<json_value> items;
  std::vector<std::string> keys;
  std::vector<json_value> values;

  // The member named key of an object, or nullptr.
  const json_value* find(std::string_view key) const;
  // The JSON type name as jsonb_typeof spells it.
  const char* type_name() const;
};

// Parses JSON text; returns nullopt and sets error on malformed input.
std::optional<json_value> parse_json(std::string_view text, std::string& error);

// A number's value if it is an integer (a fraction of zeros allowed) within int64.
std::optional<int64_t> json_integer(const json_value& v);

}  // namespace cs::ingest
