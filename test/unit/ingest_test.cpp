// Unit tests of the pure C++ of inbound events: the JSON reader, payload validation,
// fingerprints, location choice and the order arithmetic.
#include <gtest/gtest.h>

#include "ingest/event.hpp"
#include "ingest/fingerprint.hpp"
#include "ingest/json.hpp"
#include "ingest/orders.hpp"

namespace ig = cs::ingest;

TEST(IngestJson, ParsesNestedValuesAndEscapes) {
  std::string err;
  auto v = ig::parse_json(
      R"({"a": [1, -2.50, "x\"\u00e9\ud83d\ude00"], "b": {"c": null, "d": true}})", err);
  ASSERT_TRUE(v) << err;
  ASSERT_EQ(v->find("a")->items.size(), 3u);
  EXPECT_EQ(v->find("a")->items[2].text, "x\"\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_EQ(v->find("b")->find("c")->type, ig::json_value::kind::null);
  EXPECT_TRUE(v->find("b")->find("d")->boolean);
  EXPECT_EQ(v->find("zz"), nullptr);
}

TEST(IngestJson, RejectsMalformedAndTooDeep) {
  std::string err;
  EXPECT_FALSE(ig::parse_json("{\"a\": }", err));
  EXPECT_FALSE(ig::parse_json("[1, 2", err));
  EXPECT_FALSE(ig::parse_json("\"\\ud83d\"", err));
  EXPECT_FALSE(ig::parse_json("1 2", err));
  EXPECT_FALSE(ig::parse_json(std::string(100, '[') + std::string(100, ']'), err));
  EXPECT_EQ(err, "JSON nested too deeply");
}

TEST(IngestJson, IntegersOnly) {
  std::string err;
  auto n = [&](const char* t) { return ig::json_integer(*ig::parse_json(t, err)); };
  EXPECT_EQ(n("42"), 42);
  EXPECT_EQ(n("-7"), -7);
  EXPECT_EQ(n("3.000"), 3);
  EXPECT_FALSE(n("2.5"));
  EXPECT_FALSE(n("1e3"));
  EXPECT_FALSE(n("\"2\""));
  EXPECT_FALSE(n("99999999999999999999999"));
}

TEST(IngestEvent, ValidOrderPlaced) {
  auto p = ig::parse_event(
      "order_placed",
      R"({"lines": [{"qty": 2, "sku": "TEE"}, {"external_id": "B0", "qty": 1, "location_id": "wh"}], "order_id": 1001})");
  ASSERT_TRUE(p.ok) << p.reason;
  EXPECT_EQ(p.ok->order_id, "1001");
  ASSERT_EQ(p.ok->lines.size(), 2u);
  EXPECT_FALSE(p.ok->lines[0].item.external);
  EXPECT_TRUE(p.ok->lines[1].item.external);
  EXPECT_EQ(p.ok->lines[1].location_id, "wh");
}

TEST(IngestEvent, NumericIdsAreTheirIntegerText) {
  for (const char* id : {"1001", "1001.0", "1001.00"}) {
    auto p = ig::parse_event("order_cancelled", std::string(R"({"order_id": )") + id + "}");
    ASSERT_TRUE(p.ok) << p.reason;
    EXPECT_EQ(p.ok->order_id, "1001");
  }
  EXPECT_EQ(ig::parse_event("order_cancelled", R"({"order_id": 1001.5})").reason,
            "\"order_id\" must be a string or an integer within 64 bits, not 1001.5");
  EXPECT_EQ(ig::parse_event("order_cancelled", R"({"order_id": 1e20})").reason,
            "\"order_id\" must be a string or an integer within 64 bits, not 1e20");
  std::string digits(300, '7');
  EXPECT_EQ(ig::parse_event("order_cancelled", R"({"order_id": )" + digits + "}").reason,
            "\"order_id\" must be a string or an integer within 64 bits, not " +
                digits.substr(0, 40) + "...");
}

TEST(IngestEvent, Rejections) {
  auto why = [](const char* type, const char* payload) {
    return ig::parse_event(type, payload).reason;
  };
  EXPECT_EQ(why("nope", "{}"), "unknown event_type \"nope\"");
  EXPECT_EQ(why("order_placed", "[]"), "payload must be a JSON object, not array");
  EXPECT_EQ(why("order_placed", R"({"order_id": "o", "lines": [{"sku": "A", "qty": 0}]})"),
            "line 1: \"qty\" must be a positive integer, not 0");
  EXPECT_EQ(why("order_placed", R"({"order_id": "o", "lines": [{"sku": "A"}]})"),
            "line 1: \"qty\" is missing");
  EXPECT_EQ(why("stock_adjusted", R"({"sku": "A", "location_id": "w", "delta": 0, "reason": "r"})"),
            "\"delta\" must not be 0");
  EXPECT_EQ(why("listing_observed", R"({"sku": "A", "qty": 1, "price": 1e3})"),
            "\"price\" is out of range: 1e3");
  EXPECT_EQ(why("return_received", R"({"sku": "A", "qty": 1, "location_id": "w"})"),
            "\"restock\" is missing");
  std::string big = R"({"order_id": "o", "x": ")" + std::string(ig::kMaxPayloadBytes, 'x') + "\"}";
  EXPECT_EQ(why("order_placed", big.c_str()).rfind("payload is larger than 1 MB", 0), 0u);
}

TEST(IngestEvent, KeysCountCharacters) {
  EXPECT_EQ(ig::check_key(""), "idempotency_key is empty");
  EXPECT_EQ(ig::check_key(std::string(255, 'k')), "");
  std::string e_acute;
  for (int i = 0; i < 255; ++i) e_acute += "\xc3\xa9";
  EXPECT_EQ(ig::check_key(e_acute), "");  // 510 bytes, 255 characters
  EXPECT_NE(ig::check_key(std::string(256, 'k')), "");
}

TEST(IngestFingerprint, StableAndSensitive) {
  auto a = ig::event_fingerprint("order_placed", R"({"a": 1})", 1000);
  EXPECT_EQ(a, ig::event_fingerprint("order_placed", R"({"a": 1})", 1000));
  EXPECT_NE(a, ig::event_fingerprint("order_placed", R"({"a": 2})", 1000));
  EXPECT_NE(a, ig::event_fingerprint("order_placed", R"({"a": 1})", 1001));
  EXPECT_NE(a, ig::event_fingerprint("order_shipped", R"({"a": 1})", 1000));
  // parts are length-prefixed: moving bytes between type and payload changes the hash
  EXPECT_NE(ig::event_fingerprint("ab", "c", 0), ig::event_fingerprint("a", "bc", 0));
  std::string u = ig::to_uuid_text(a);
  EXPECT_EQ(u.size(), 36u);
  EXPECT_EQ(u[8], '-');
}

TEST(IngestFingerprint, NumbersLoseTrailingFractionalZeros) {
  EXPECT_EQ(ig::without_trailing_zeros(R"({"p": 19.90, "q": 2.0, "r": 0.000, "s": -1.50})"),
            R"({"p": 19.9, "q": 2, "r": 0, "s": -1.5})");
  // integers, exponents, other fractions and everything but numbers stay as they are
  EXPECT_EQ(ig::without_trailing_zeros(R"([100, 1e10, 2.5E-3, 0.05, true, false, null])"),
            R"([100, 1e10, 2.5E-3, 0.05, true, false, null])");
  // inside strings (escaped quotes included) nothing changes
  EXPECT_EQ(ig::without_trailing_zeros(R"({"a": "1.50", "b": "x\" 2.0 \"", "c": 3.10})"),
            R"({"a": "1.50", "b": "x\" 2.0 \"", "c": 3.1})");
  EXPECT_EQ(ig::without_trailing_zeros(""), "");
}

TEST(IngestOrders, ChoosesMostSellableThenSmallestId) {
  std::vector<ig::stock_level> levels = {{"b", 10, 2, 1}, {"c", 7, 0, 0}};
  EXPECT_EQ(ig::choose_location({"a", "b", "c"}, levels), "b");  // 7 and 7: the smaller id
  levels[1].on_hand = 8;
  EXPECT_EQ(ig::choose_location({"a", "b", "c"}, levels), "c");
  EXPECT_EQ(ig::choose_location({"x", "y"}, {}), "x");  // no stock anywhere: smallest id
  EXPECT_EQ(ig::choose_location({"x", "y"}, {{"x", 1, 3, 0}}), "y");  // oversold x is below 0
}

std::vector<ig::order_line> kit_order() {
  // 2 TEE sold as TEE; 2 KIT = TEE x1 + CAP x2 per kit
  return {{1, "TEE", "w", "TEE", 1, 2, 0, 0, 0},
          {2, "CAP", "w", "KIT", 2, 4, 0, 0, 0},
          {3, "TEE", "w", "KIT", 1, 2, 0, 0, 0}};
}

TEST(IngestOrders, PartialLinesSpreadOverComponents) {
  auto lines = kit_order();
  std::vector<int32_t> d;
  EXPECT_EQ(ig::plan_line_op(ig::line_op::ship, "O", lines, {{"KIT", 1}}, d), "");
  EXPECT_EQ(d, (std::vector<int32_t>{0, 2, 1}));
  EXPECT_EQ(ig::plan_line_op(ig::line_op::cancel, "O", lines, {{"KIT", 3}}, d),
            "cannot cancel 3 of \"KIT\" in order \"O\": only 2 left to cancel");
  EXPECT_EQ(ig::plan_line_op(ig::line_op::cancel, "O", lines, {{"MUG", 1}}, d),
            "order \"O\" has no line for \"MUG\"");
  EXPECT_EQ(ig::plan_line_op(ig::line_op::ret, "O", lines, {{"TEE", 1}}, d),
            "cannot return 1 of \"TEE\" in order \"O\": only 0 left to return");
}

TEST(IngestOrders, StatesFollowTheLines) {
  auto lines = kit_order();
  EXPECT_EQ(ig::derive_state(lines), ig::order_state::placed);
  lines[0].shipped = 2;
  EXPECT_EQ(ig::derive_state(lines), ig::order_state::partially_shipped);
  lines[1].cancelled = 4;
  lines[2].cancelled = 2;
  EXPECT_EQ(ig::derive_state(lines), ig::order_state::shipped);
  lines[0].returned = 2;
  EXPECT_EQ(ig::derive_state(lines), ig::order_state::returned);
  for (auto& l : lines)
    l = {l.line_no, l.sku, l.location_id, l.sold_sku, l.units_per_sold, l.qty, 0, l.qty, 0};
  EXPECT_EQ(ig::derive_state(lines), ig::order_state::cancelled);
}

TEST(IngestOrders, Transitions) {
  EXPECT_EQ(ig::check_transition("O", ig::order_state::placed, ig::line_op::ship), "");
  EXPECT_EQ(ig::check_transition("O", ig::order_state::partially_shipped, ig::line_op::cancel), "");
  EXPECT_EQ(ig::check_transition("O", ig::order_state::cancelled, ig::line_op::ship),
            "invalid transition for order \"O\": cancelled -> shipped");
  EXPECT_EQ(ig::check_transition("O", ig::order_state::placed, ig::line_op::ret),
            "invalid transition for order \"O\": placed -> returned");
  EXPECT_EQ(ig::check_transition("O", ig::order_state::returned, ig::line_op::ret), "");
}

// A catalog of TEE, CAP and KIT (= TEE x1 + CAP x2), KIT also listed as external id "K-1".
std::optional<ig::resolved_item> catalog(const ig::item_ref& item) {
  std::string id = item.external && item.id == "K-1" ? "KIT" : item.id;
  if (item.external && id != "KIT") return std::nullopt;
  if (id == "KIT") return ig::resolved_item{"KIT", true, {{"TEE", 1}, {"CAP", 2}}};
  if (id == "TEE" || id == "CAP") return ig::resolved_item{id, false, {}};
  if (id == "EMPTY") return ig::resolved_item{"EMPTY", true, {}};
  return std::nullopt;
}

ig::event placed(const std::string& lines) {
  auto p = ig::parse_event("order_placed", R"({"order_id": "O", "lines": )" + lines + "}");
  EXPECT_TRUE(p.ok) << p.reason;
  return p.ok ? *p.ok : ig::event{};
}

TEST(IngestOrders, PartsOfBundlesAndSimpleSkus) {
  std::vector<ig::order_part> parts;
  EXPECT_EQ(
      ig::order_parts(
          placed(
              R"([{"sku": "TEE", "qty": 2}, {"external_id": "K-1", "qty": 3, "location_id": "w"}])"),
          "shop", {"e", "w"}, catalog, parts),
      std::nullopt);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0].sku, "TEE");
  EXPECT_EQ(parts[0].units, 2);
  EXPECT_EQ(parts[0].location, "");
  EXPECT_EQ(parts[2].sku, "CAP");
  EXPECT_EQ(parts[2].sold_sku, "KIT");
  EXPECT_EQ(parts[2].per, 2);
  EXPECT_EQ(parts[2].units, 6);
  EXPECT_EQ(parts[2].location, "w");
}

TEST(IngestOrders, PartsRejectTheFirstBadLine) {
  std::vector<ig::order_part> parts;
  auto why = [&](const std::string& lines) {
    parts.clear();
    return ig::order_parts(placed(lines), "shop", {"e", "w"}, catalog, parts).value_or("");
  };
  EXPECT_EQ(
      why(R"([{"sku": "TEE", "qty": 1}, {"sku": "MUG", "qty": 1}, {"sku": "NOPE", "qty": 1}])"),
      "line 2: unknown sku \"MUG\"");
  EXPECT_EQ(why(R"([{"external_id": "X-9", "qty": 1}])"),
            "line 1: unknown external_id \"X-9\" on channel \"shop\"");
  EXPECT_EQ(why(R"([{"sku": "TEE", "qty": 1, "location_id": "north"}])"),
            "line 1: location \"north\" does not feed channel \"shop\"");
  EXPECT_EQ(why(R"([{"sku": "EMPTY", "qty": 1}])"), "line 1: bundle \"EMPTY\" has no components");
  EXPECT_EQ(why(R"([{"sku": "KIT", "qty": 600000000}])"), "order \"O\" is too large");
}

TEST(IngestOrders, PlanSumsDemandAndChoosesOneLocationPerSku) {
  // TEE: e has 3 sellable, w 5: every TEE part without a location goes to w
  std::map<ig::stock_key, ig::stock_level> levels = {{{"TEE", "e"}, {"e", 3, 0, 0}},
                                                     {{"TEE", "w"}, {"w", 9, 4, 0}},
                                                     {{"CAP", "e"}, {"e", 6, 0, 0}}};
  std::vector<ig::order_part> parts = {{"TEE", "TEE", "", 1, 2},
                                       {"TEE", "KIT", "", 1, 1},
                                       {"CAP", "KIT", "", 2, 2},
                                       {"TEE", "TEE", "", 1, 1},
                                       {"TEE", "TEE", "e", 1, 1}};
  ig::order_plan plan = ig::plan_order(parts, {"e", "w"}, levels);
  EXPECT_EQ(plan.reserve, (std::map<ig::stock_key, int64_t>{
                              {{"CAP", "e"}, 2}, {{"TEE", "e"}, 1}, {{"TEE", "w"}, 4}}));
  EXPECT_EQ(plan.oversold, std::nullopt);
  ASSERT_EQ(plan.lines.size(), 4u);  // TEE@w (2 + 1 merged), KIT's TEE@w, KIT's CAP@e, TEE@e
  EXPECT_EQ(plan.lines[0].qty, 3);
  EXPECT_EQ(plan.lines[0].location, "w");
  EXPECT_EQ(plan.lines[1].sold_sku, "KIT");
  EXPECT_EQ(plan.lines[2].per, 2);
  EXPECT_EQ(plan.lines[3].location, "e");
  EXPECT_EQ(plan.lines[3].line_no, 4);
}

TEST(IngestOrders, PlanFlagsTheFirstShortLocation) {
  // on_hand - reserved counts, not safety stock; no stock row is none on hand
  std::map<ig::stock_key, ig::stock_level> levels = {{{"TEE", "e"}, {"e", 5, 2, 3}}};
  ig::order_plan fits = ig::plan_order({{"TEE", "TEE", "e", 1, 3}}, {"e", "w"}, levels);
  EXPECT_EQ(fits.oversold, std::nullopt);
  ig::order_plan short_of =
      ig::plan_order({{"TEE", "TEE", "e", 1, 4}, {"CAP", "CAP", "", 1, 1}}, {"e", "w"}, levels);
  EXPECT_EQ(short_of.oversold, "oversold: \"CAP\" at \"e\" needs 1, 0 available");
  EXPECT_EQ(short_of.reserve.at({"TEE", "e"}), 4);  // still reserved: the order is recorded
}
