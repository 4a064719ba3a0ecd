// The batched notifier's channel set and pacing (see notify_batch.hpp).
#include "propagation/notify_batch.hpp"

#include <cstring>

namespace cs::propagation {

void clear(pending_channels& set) {
  set.count = 0;
  set.every_channel = false;
}

bool is_empty(const pending_channels& set) {
  return set.count == 0 && !set.every_channel;
}

bool contains(const pending_channels& set, const char* channel_id) {
  for (int k = 0; k < set.count; ++k)
    if (std::strcmp(set.names[k], channel_id) == 0) return true;
  return false;
}

void add_channel(pending_channels& set, const char* channel_id) {
  if (set.every_channel || contains(set, channel_id)) return;
  size_t len = std::strlen(channel_id);
  if (set.count == kPendingChannelsMax || len >= static_cast<size_t>(kChannelIdMax)) {
    set.every_channel = true;
    return;
  }
  std::memcpy(set.names[set.count], channel_id, len + 1);
  ++set.count;
}

void merge(pending_channels& into, const pending_channels& from) {
  if (from.every_channel) into.every_channel = true;
  for (int k = 0; k < from.count && !into.every_channel; ++k) add_channel(into, from.names[k]);
}

int64_t flush_delay_us(int64_t now_us, int64_t last_flush_us, int64_t interval_us) {
  if (last_flush_us == 0 || now_us - last_flush_us >= interval_us) return 0;
  if (now_us < last_flush_us) return interval_us;  // the clock went back: wait one interval
  return interval_us - (now_us - last_flush_us);
}

int choose_slot(const slot_state* slots, int n, uint32_t database, int64_t now_us,
                int64_t relaunch_after_us) {
  int free_slot = -1, abandoned = -1;
  for (int k = 0; k < n; ++k) {
    const slot_state& s = slots[k];
    if (s.database == database) return k;
    if (s.database == 0 && free_slot < 0) free_slot = k;
    if (s.database != 0 && !s.served && s.transactions == 0 && s.launched_at_us != 0 &&
        now_us - s.launched_at_us > relaunch_after_us && abandoned < 0)
      abandoned = k;
  }
  return free_slot >= 0 ? free_slot : abandoned;
}

}  // namespace cs::propagation
