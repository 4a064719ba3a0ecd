// What the batched notifier keeps between a commit and the NOTIFY that wakes the channel's
// listeners: the set of channels with new outbox work, and when the next NOTIFY may go out.
// Fixed size and plain data, because the set lives in shared memory (one per database) and
// is filled in a commit callback, where nothing may allocate or fail. No PostgreSQL headers.
#pragma once

#include <cstdint>

namespace cs::propagation {

constexpr int kChannelIdMax = 64;  // NAMEDATALEN: channel ids match ^[a-z][a-z0-9_]{0,62}$
constexpr int kPendingChannelsMax = 64;

// Channels to wake. Past kPendingChannelsMax names (or on a name too long to keep) it stops
// listing and wakes every channel instead: a spurious wakeup costs a connector one empty claim,
// a lost one costs it a poll interval.
struct pending_channels {
  int count;
  bool every_channel;
  char names[kPendingChannelsMax][kChannelIdMax];
};

void clear(pending_channels& set);
bool is_empty(const pending_channels& set);
bool contains(const pending_channels& set, const char* channel_id);
// Adds a channel unless it is there already.
void add_channel(pending_channels& set, const char* channel_id);
// Adds every channel of `from` to `into`.
void merge(pending_channels& into, const pending_channels& from);

// Microseconds to wait before the next NOTIFY: none after a quiet period (the first change
// wakes listeners at once), else what is left of the interval since the last one. Times in
// microseconds; last_flush_us 0 means never.
int64_t flush_delay_us(int64_t now_us, int64_t last_flush_us, int64_t interval_us);

// A database's slot, as the choice of a slot sees it.
struct slot_state {
  uint32_t database;       // 0: free
  bool served;             // a worker serves it
  int transactions;        // open transactions that will mark it at commit
  int64_t launched_at_us;  // when a worker was registered that has not started; 0: none
};

// The slot for `database` among slots[0..n): its own, else a free one, else one abandoned --
// its worker was registered over relaunch_after_us ago and never started, and no transaction
// counts on it (a database whose worker could not start, then no more changes: dropped, say).
// -1: none. Taking an abandoned slot drops its unsent wakeups; connectors' polling covers them.
int choose_slot(const slot_state* slots, int n, uint32_t database, int64_t now_us,
                int64_t relaunch_after_us);

}  // namespace cs::propagation
