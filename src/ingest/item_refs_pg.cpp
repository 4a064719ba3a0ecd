// What a set of inbound events names: see item_refs_pg.hpp.
#include "ingest/item_refs_pg.hpp"

#include "ingest/statements_pg.hpp"

namespace cs::ingest::glue {

std::optional<sku_info> item_refs::resolve(const cs::ingest::item_ref& item) const {
  if (item.external) {
    auto it = aliases.find(item.id);
    if (it == aliases.end()) return std::nullopt;
    return it->second;
  }
  auto it = skus.find(item.id);
  if (it == skus.end()) return std::nullopt;
  return sku_info{item.id, it->second};
}

item_refs read_item_refs(call_context& cx, const std::vector<const cs::ingest::item_ref*>& items) {
  item_refs refs;
  std::vector<std::string> sku_ids, ext_ids;
  for (const cs::ingest::item_ref* item : items)
    (item->external ? ext_ids : sku_ids).push_back(item->id);
  if (!sku_ids.empty()) {
    rows r = run(set_form(P_BULK_SKUS_ANY, P_BULK_SKUS, "skus"), args().datum(text_array(sku_ids)));
    for (uint64 k = 0; k < r.count; ++k) refs.skus[r.text(k, 1)] = r.text(k, 2) == "bundle";
  }
  if (!ext_ids.empty()) {
    rows r = run(P_BULK_ALIASES, args().text(cx.channel).datum(text_array(ext_ids)));
    for (uint64 k = 0; k < r.count; ++k)
      refs.aliases[r.text(k, 1)] = sku_info{r.text(k, 2), r.text(k, 3) == "bundle"};
  }
  std::vector<std::string> bundles;
  for (const auto& [sku, bundle] : refs.skus)
    if (bundle && !cx.components.count(sku)) bundles.push_back(sku);
  for (const auto& [ext, info] : refs.aliases)
    if (info.bundle && !cx.components.count(info.sku)) bundles.push_back(info.sku);
  if (!bundles.empty()) {
    for (const std::string& b : bundles) cx.components[b];  // none found: no components
    rows r = run(P_BULK_COMPONENTS, args().datum(text_array(bundles)));
    for (uint64 k = 0; k < r.count; ++k)
      cx.components[r.text(k, 1)].emplace_back(r.text(k, 2), r.int4(k, 3));
  }
  return refs;
}

}  // namespace cs::ingest::glue
