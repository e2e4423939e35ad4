// The promotion threshold (l1_promote_after=N, docs/l1.md "Promotion"): a value read
// from Redis enters L1 only at its N-th read within its lifetime, so keys read once
// (scans, crawlers, one-off reports) do not displace L1's working set. Writes of this
// process, read-through fills it loaded and warm() are not reads and enter at once; the
// W-TinyLFU admission filter still decides what stays.
//
// The counts live in a bounded table (`capacity` keys, one L1's worth by default,
// about 48 bytes each): 16 shards, each a map from the key's 64-bit hash to its count
// and the end of the value's lifetime as Redis reported it (a count ends with it), and a
// FIFO that forgets the oldest candidates first when a shard is full. A hash collision
// (two keys sharing one count) can only promote a key early.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <string_view>
#include <unordered_map>

namespace stratacache {

class PromotionFilter {
 public:
  PromotionFilter(uint32_t after, size_t capacity);

  // No threshold (after <= 1): every read value enters L1.
  bool enabled() const { return after_ > 1; }
  // Counts one read of `key` from Redis (pttl_ms: the value's remaining life; < 0: no
  // expiry) and says whether it may enter L1 now: the after-th read within the value's
  // lifetime (the count is then forgotten). Always true when !enabled().
  bool admit(std::string_view key, int64_t pttl_ms);

  uint64_t promoted() const { return sum(&Shard::promoted); }  // reads that reached the threshold
  uint64_t deferred() const { return sum(&Shard::deferred); }  // reads kept out of L1 below it
  size_t candidates() const { return sum(nullptr); }           // keys counted now

 private:
  struct Count {
    uint32_t reads = 0;
    int64_t expires_ms = 0;  // steady-clock ms; INT64_MAX: no expiry
  };
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<uint64_t, Count> counts;
    std::deque<uint64_t> order;  // insertion order; may hold hashes already gone
    uint64_t promoted = 0, deferred = 0;
  };
  static constexpr size_t kShards = 16;
  // A counter summed over the shards (null: the keys counted).
  uint64_t sum(uint64_t Shard::*field) const;

  uint32_t after_;
  size_t shard_capacity_;
  Shard shards_[kShards];
};

}  // namespace stratacache
