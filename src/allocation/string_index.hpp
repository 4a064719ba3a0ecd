// An open-addressing hash index from strings to dense ids (0, 1, 2, ...), built for the
// million-SKU pass: one flat slot array, keys copied into one arena, a hash tag in each
// slot so a probe rarely touches a key that does not match. Pure C++.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace cs::allocation {

class string_index {
 public:
  // The id of s, or -1.
  int64_t find(std::string_view s) const {
    if (slots_.empty()) return -1;
    uint64_t h = hash(s);
    uint32_t tag = static_cast<uint32_t>(h >> 32);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const slot& x = slots_[i];
      if (x.id_plus1 == 0) return -1;
      if (x.tag == tag && key(x.id_plus1 - 1) == s) return x.id_plus1 - 1;
    }
  }

  // The id of s, adding it with the next id if absent; `added` tells which.
  uint32_t insert(std::string_view s, bool* added) {
    if ((count() + 1) * 2 > slots_.size()) grow();
    uint64_t h = hash(s);
    uint32_t tag = static_cast<uint32_t>(h >> 32);
    size_t i = h & mask_;
    for (;; i = (i + 1) & mask_) {
      const slot& x = slots_[i];
      if (x.id_plus1 == 0) break;
      if (x.tag == tag && key(x.id_plus1 - 1) == s) {
        *added = false;
        return x.id_plus1 - 1;
      }
    }
    uint32_t id = static_cast<uint32_t>(count());
    offsets_.push_back(arena_.size());
    arena_.insert(arena_.end(), s.begin(), s.end());
    slots_[i] = slot{id + 1, tag};
    *added = true;
    return id;
  }

  size_t count() const { return offsets_.size(); }
  std::string_view key(size_t id) const {
    size_t begin = offsets_[id];
    size_t end = id + 1 < offsets_.size() ? offsets_[id + 1] : arena_.size();
    return std::string_view(arena_.data() + begin, end - begin);
  }

  static uint64_t hash(std::string_view s) {
    const char* p = s.data();
    size_t n = s.size();
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xff51afd7ed558ccdull);
    while (n >= 8) {
      uint64_t v;
      std::memcpy(&v, p, 8);
      h = (h ^ v) * 0xbf58476d1ce4e5b9ull;
      h ^= h >> 31;
      p += 8;
      n -= 8;
    }
    uint64_t v = 0;
    std::memcpy(&v, p, n);
    h = (h ^ v) * 0x94d049bb133111ebull;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 32);
  }

 private:
  struct slot {
    uint32_t id_plus1;  // 0 = empty
    uint32_t tag;       // high bits of the hash
  };

  void grow() {
    size_t size = slots_.empty() ? 1024 : slots_.size() * 2;
    slots_.assign(size, slot{0, 0});
    mask_ = size - 1;
    for (size_t id = 0; id < count(); ++id) {
      uint64_t h = hash(key(id));
      size_t i = h & mask_;
      while (slots_[i].id_plus1 != 0) i = (i + 1) & mask_;
      slots_[i] = slot{static_cast<uint32_t>(id + 1), static_cast<uint32_t>(h >> 32)};
    }
  }

  std::vector<slot> slots_;
  size_t mask_ = 0;
  std::vector<char> arena_;
  std::vector<size_t> offsets_;
};

}  // namespace cs::allocation
