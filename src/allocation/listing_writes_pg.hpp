// Writing changed listing targets and their outbox messages: in place for small SKU sets (each
// listing and message updated through its unique key, without the SQL upsert's planning and
// executor start-up), else, and for the rows the direct writer cannot write (no listing or no
// message yet), with the SQL upserts; the channels with new work are woken.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "allocation/plans_pg.hpp"

namespace cs::allocation::glue {

// The changed rows of one retarget, flushed to listings every kWriteChunk rows.
class listing_writer {
 public:
  explicit listing_writer(bool direct) : direct_(direct) {}
  // tid: where the listing was read in this statement (encode_tid), else 0
  void add(const std::string& channel, std::string_view sku, int32_t qty, const std::string& price,
           uint64_t tid = 0) {
    channels_.push_back(channel);
    skus_.emplace_back(sku);
    qty_.push_back(qty);
    prices_.push_back(&price);
    tids_.push_back(tid);
    if (channels_.size() >= kWriteChunk) flush();
  }
  void flush();
  int64_t written() const { return written_; }
  // Report progress in pg_stat_activity after each chunk, out of `total` listings to write.
  void report(size_t total) { report_total_ = total; }

 private:
  void flush_direct();
  void clear();

  bool direct_;
  size_t report_total_ = 0;
  size_t sent_ = 0;
  std::vector<std::string> channels_, skus_;
  std::vector<int32_t> qty_;
  std::vector<const std::string*> prices_;
  std::vector<uint64_t> tids_;
  int64_t written_ = 0;
};

}  // namespace cs::allocation::glue
