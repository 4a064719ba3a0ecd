// Order arithmetic (see orders.hpp).
#include "ingest/orders.hpp"

#include <algorithm>
#include <map>

namespace cs::ingest {

std::string quote(const std::string& s) {
  return "\"" + s + "\"";
}

std::string unknown_item(const std::string& channel, const item_ref& item) {
  if (item.external)
    return "unknown external_id " + quote(item.id) + " on channel " + quote(channel);
  return "unknown sku " + quote(item.id);
}

std::optional<std::string> order_parts(const event& ev, const std::string& channel,
                                       const std::vector<std::string>& feeding,
                                       const item_resolver& resolve,
                                       std::vector<order_part>& parts) {
  for (size_t i = 0; i < ev.lines.size(); ++i) {
    const event_line& line = ev.lines[i];
    std::string where = "line " + std::to_string(i + 1) + ": ";
    std::optional<resolved_item> s = resolve(line.item);
    if (!s) return where + unknown_item(channel, line.item);
    if (!line.location_id.empty() &&
        std::find(feeding.begin(), feeding.end(), line.location_id) == feeding.end())
      return where + "location " + quote(line.location_id) + " does not feed channel " +
             quote(channel);
    if (!s->bundle) {
      parts.push_back({s->sku, s->sku, line.location_id, 1, line.qty});
      continue;
    }
    if (s->components.empty()) return where + "bundle " + quote(s->sku) + " has no components";
    for (const auto& [comp, per] : s->components)
      parts.push_back({comp, s->sku, line.location_id, per, int64_t{line.qty} * per});
  }
  for (const order_part& p : parts)
    if (p.units > 1000000000) return "order " + quote(ev.order_id) + " is too large";
  return std::nullopt;
}

namespace {

// The location each SKU of parts without one takes.
std::map<std::string, std::string> chosen_locations(
    const std::vector<order_part>& parts, const std::vector<std::string>& feeding,
    const std::map<stock_key, stock_level>& levels) {
  std::map<std::string, std::string> chosen;
  for (const order_part& p : parts) {
    if (!p.location.empty() || chosen.count(p.sku)) continue;
    std::vector<stock_level> of_sku;
    for (const std::string& loc : feeding) {
      auto it = levels.find({p.sku, loc});
      if (it != levels.end()) of_sku.push_back(it->second);
    }
    chosen[p.sku] = choose_location(feeding, of_sku);
  }
  return chosen;
}

// The parts merged into lines, one per (sold SKU, SKU, location), in order of first part.
std::vector<line_to_place> merged_lines(const std::vector<order_part>& parts) {
  std::vector<line_to_place> lines;
  for (const order_part& p : parts) {
    auto same = std::find_if(lines.begin(), lines.end(), [&](const line_to_place& l) {
      return l.sku == p.sku && l.location == p.location && l.sold_sku == p.sold_sku;
    });
    if (same != lines.end())
      same->qty += static_cast<int32_t>(p.units);
    else
      lines.push_back({p.sku, p.location, p.sold_sku, static_cast<int32_t>(lines.size() + 1),
                       static_cast<int32_t>(p.units), p.per});
  }
  return lines;
}

}  // namespace

order_plan plan_order(std::vector<order_part> parts, const std::vector<std::string>& feeding,
                      const std::map<stock_key, stock_level>& levels) {
  std::map<std::string, std::string> chosen = chosen_locations(parts, feeding, levels);
  order_plan plan;
  for (order_part& p : parts) {
    if (p.location.empty()) p.location = chosen[p.sku];
    plan.reserve[{p.sku, p.location}] += p.units;
  }
  for (const auto& [key, units] : plan.reserve) {
    auto it = levels.find(key);
    int64_t free_units = it == levels.end() ? 0 : it->second.on_hand - it->second.reserved;
    if (units > free_units) {
      plan.oversold = "oversold: " + quote(key.first) + " at " + quote(key.second) + " needs " +
                      std::to_string(units) + ", " +
                      std::to_string(std::max<int64_t>(0, free_units)) + " available";
      break;
    }
  }
  plan.lines = merged_lines(parts);
  return plan;
}

const char* order_state_name(order_state s) {
  switch (s) {
    case order_state::placed:
      return "placed";
    case order_state::partially_shipped:
      return "partially_shipped";
    case order_state::shipped:
      return "shipped";
    case order_state::cancelled:
      return "cancelled";
    case order_state::returned:
      return "returned";
  }
  return "placed";
}

order_state parse_order_state(const std::string& name) {
  if (name == "partially_shipped") return order_state::partially_shipped;
  if (name == "shipped") return order_state::shipped;
  if (name == "cancelled") return order_state::cancelled;
  if (name == "returned") return order_state::returned;
  return order_state::placed;
}

std::string choose_location(const std::vector<std::string>& feeding,
                            const std::vector<stock_level>& levels) {
  std::string best;
  int64_t best_sellable = 0;
  bool have = false;
  for (const std::string& loc : feeding) {
    int64_t sellable = 0;
    for (const stock_level& l : levels)
      if (l.location_id == loc) sellable = l.sellable();
    if (!have || sellable > best_sellable || (sellable == best_sellable && loc < best)) {
      best = loc;
      best_sellable = sellable;
      have = true;
    }
  }
  return best;
}

const char* line_op_target(line_op op) {
  switch (op) {
    case line_op::cancel:
      return "cancelled";
    case line_op::ship:
      return "shipped";
    case line_op::ret:
      return "returned";
  }
  return "";
}

std::string check_transition(const std::string& order_id, order_state from, line_op op) {
  bool ok = op == line_op::ret
                ? (from == order_state::shipped || from == order_state::partially_shipped ||
                   from == order_state::returned)
                : (from == order_state::placed || from == order_state::partially_shipped);
  if (ok) return {};
  return "invalid transition for order \"" + order_id + "\": " + order_state_name(from) + " -> " +
         line_op_target(op);
}

namespace {

// Units a line can still take for op.
int64_t room(line_op op, const order_line& l, int32_t already) {
  if (op == line_op::ret) return l.shipped - l.returned - already;
  return l.open() - already;
}

const char* verb(line_op op) {
  switch (op) {
    case line_op::cancel:
      return "cancel";
    case line_op::ship:
      return "ship";
    case line_op::ret:
      return "return";
  }
  return "";
}

}  // namespace

std::string plan_line_op(line_op op, const std::string& order_id,
                         const std::vector<order_line>& lines,
                         const std::vector<sold_request>& requests, std::vector<int32_t>& delta) {
  delta.assign(lines.size(), 0);
  if (requests.empty()) {
    int64_t total = 0;
    for (size_t i = 0; i < lines.size(); ++i) {
      delta[i] = static_cast<int32_t>(room(op, lines[i], 0));
      total += delta[i];
    }
    if (total == 0)
      return std::string("order \"") + order_id + "\" has nothing left to " + verb(op);
    return {};
  }
  // sum the sold units asked per sold SKU, keeping first-seen order
  std::vector<sold_request> asked;
  for (const sold_request& r : requests) {
    bool merged = false;
    for (sold_request& a : asked)
      if (a.sold_sku == r.sold_sku) {
        a.qty += r.qty;
        merged = true;
      }
    if (!merged) asked.push_back(r);
  }
  for (const sold_request& a : asked) {
    // component sku -> line indexes, for lines that sold a.sold_sku
    std::map<std::string, std::vector<size_t>> parts;
    for (size_t i = 0; i < lines.size(); ++i)
      if (lines[i].sold_sku == a.sold_sku) parts[lines[i].sku].push_back(i);
    if (parts.empty()) return "order \"" + order_id + "\" has no line for \"" + a.sold_sku + "\"";
    for (const auto& [sku, idx] : parts) {
      int64_t per = lines[idx.front()].units_per_sold;
      int64_t need = a.qty * per, avail = 0;
      for (size_t i : idx) avail += room(op, lines[i], delta[i]);
      if (avail < need)
        return std::string("cannot ") + verb(op) + " " + std::to_string(a.qty) + " of \"" +
               a.sold_sku + "\" in order \"" + order_id + "\": only " +
               std::to_string(avail / per) + " left to " + verb(op);
      for (size_t i : idx) {
        int64_t take = std::min(need, room(op, lines[i], delta[i]));
        delta[i] += static_cast<int32_t>(take);
        need -= take;
      }
    }
  }
  return {};
}

order_state derive_state(const std::vector<order_line>& lines) {
  int64_t open = 0, shipped = 0, returned = 0;
  for (const order_line& l : lines) {
    open += l.open();
    shipped += l.shipped;
    returned += l.returned;
  }
  if (open > 0) return shipped > 0 ? order_state::partially_shipped : order_state::placed;
  if (shipped == 0) return order_state::cancelled;
  return returned == shipped ? order_state::returned : order_state::shipped;
}

}  // namespace cs::ingest
