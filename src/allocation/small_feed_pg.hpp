// The rows of a small SKU set as world::small_row() takes them, in kind order: the columns of
// the q_small query, which the direct loader (world_direct_pg.cpp) fills the same way.
#pragma once

#include <vector>

#include "allocation/plans_pg.hpp"

namespace cs::allocation::glue {

// Columns of q_small.
enum small_col { k_kind, k_a, k_b, k_n, k_f, k_i1, k_i2, k_i3, k_i4, k_i5, k_i6, k_i7, k_ncols };

// What small_row() keeps between the rows of a small set, which come in kind order; row is
// the direct loader's buffer for the row it decodes.
struct small_feed {
  int stage = -1;
  std::vector<bool> active;
  std::vector<char> listed, lists_any;
  cell row[k_ncols];
};

}  // namespace cs::allocation::glue
