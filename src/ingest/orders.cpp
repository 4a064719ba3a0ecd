// Order arithmetic (see orders.hpp).
#include "ingest/orders.hpp"

#include <map>

namespace cs::ingest {

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
