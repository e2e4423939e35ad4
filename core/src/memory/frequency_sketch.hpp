// TinyLFU's popularity estimate: a 4-bit count-min sketch (depth 4) with periodic aging,
// optionally fronted by a doorkeeper.
//
// Layout: counters live in 64-byte blocks; all four counters of an item sit in one
// block, so an increment or estimate touches one cache line. Aging: after
// `10 x capacity` additions every counter is halved (and the doorkeeper cleared), so
// the sketch follows a changing popularity instead of remembering old favourites.
// Doorkeeper: a one-hash bit set in front of the sketch; an item's first sighting in a
// sample period only sets its bit, so the flood of one-hit wonders never reaches the
// counters (estimate = counters + doorkeeper bit).
//
// Not thread-safe: the policy lock guards it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace stratacache::l1 {

class FrequencySketch {
 public:
  explicit FrequencySketch(bool doorkeeper = false) : doorkeeper_enabled_(doorkeeper) {}

  // Sizes the sketch for about `capacity` distinct hot items; drops what it counted
  // when it grows. A no-op when already at least that large.
  void ensure_capacity(size_t capacity);
  bool initialized() const { return !table_.empty(); }

  // Estimated frequency of the item (0..15, or 16 with the doorkeeper).
  int frequency(uint32_t hash) const;
  void increment(uint32_t hash);

  size_t sample_size() const { return sample_size_; }
  size_t memory_bytes() const { return table_.size() * sizeof(uint64_t) + door_.size() * sizeof(uint64_t); }

 private:
  void reset();
  static uint32_t spread(uint32_t x);
  static uint32_t rehash(uint32_t x);
  bool door_contains(uint32_t h) const;
  bool door_put(uint32_t h);  // true when it was newly set

  bool doorkeeper_enabled_;
  std::vector<uint64_t> table_;  // 16 counters of 4 bits per word; 8 words per block
  std::vector<uint64_t> door_;
  uint32_t block_mask_ = 0;
  uint32_t door_mask_ = 0;
  size_t sample_size_ = 0;
  size_t size_ = 0;  // additions since the last aging
};

}  // namespace stratacache::l1
