// What a set of inbound events names, read in a few statements for all of them at once: their
// SKUs (whether each is a bundle), the channel's aliases, and the bundles' components.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ingest/context_pg.hpp"
#include "ingest/event.hpp"

namespace cs::ingest::glue {

struct item_refs {
  std::map<std::string, bool> skus;  // sku -> is a bundle
  std::map<std::string, sku_info> aliases;

  std::optional<sku_info> resolve(const cs::ingest::item_ref& item) const;
};

// The SKUs and aliases among items; the components of the bundles among them go into
// cx.components (an empty list for a bundle without any).
item_refs read_item_refs(call_context& cx, const std::vector<const cs::ingest::item_ref*>& items);

}  // namespace cs::ingest::glue
