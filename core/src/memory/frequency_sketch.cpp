#include "memory/frequency_sketch.hpp"

#include <algorithm>

namespace stratacache::l1 {
namespace {

constexpr uint64_t kResetMask = 0x7777777777777777ULL;  // each nibble after >> 1
constexpr uint64_t kOneMask = 0x1111111111111111ULL;

size_t ceil_pow2(size_t x) {
  size_t p = 1;
  while (p < x) p <<= 1;
  return p;
}

}  // namespace

void FrequencySketch::ensure_capacity(size_t capacity) {
  size_t maximum = std::min<size_t>(std::max<size_t>(capacity, 1), size_t(1) << 30);
  size_t words = std::max<size_t>(ceil_pow2(maximum), 8);
  if (words <= table_.size()) return;
  table_.assign(words, 0);
  block_mask_ = static_cast<uint32_t>((words >> 3) - 1);
  sample_size_ = 10 * maximum;
  size_ = 0;
  if (doorkeeper_enabled_) {
    // About 8 bits per expected item keeps false positives low for a one-hash filter
    // over one sample period's distinct items.
    door_.assign(std::max<size_t>(words / 8, 1), 0);
    door_mask_ = static_cast<uint32_t>(door_.size() * 64 - 1);
  }
}

uint32_t FrequencySketch::spread(uint32_t x) {
  x ^= x >> 17;
  x *= 0xed5ad4bbU;
  x ^= x >> 11;
  x *= 0xac4c1b51U;
  x ^= x >> 15;
  return x;
}

uint32_t FrequencySketch::rehash(uint32_t x) {
  x *= 0x31848babU;
  x ^= x >> 14;
  return x;
}

bool FrequencySketch::door_contains(uint32_t h) const {
  uint32_t bit = rehash(h ^ 0x9e3779b9U) & door_mask_;
  return (door_[bit >> 6] >> (bit & 63)) & 1;
}

bool FrequencySketch::door_put(uint32_t h) {
  uint32_t bit = rehash(h ^ 0x9e3779b9U) & door_mask_;
  uint64_t& w = door_[bit >> 6];
  uint64_t m = uint64_t(1) << (bit & 63);
  bool fresh = !(w & m);
  w |= m;
  return fresh;
}

int FrequencySketch::frequency(uint32_t hash) const {
  if (table_.empty()) return 0;
  uint32_t block_hash = spread(hash);
  uint32_t counter_hash = rehash(block_hash);
  size_t block = size_t(block_hash & block_mask_) << 3;
  int f = 15;
  for (int i = 0; i < 4; ++i) {
    uint32_t h = counter_hash >> (i << 3);
    uint32_t index = (h >> 1) & 15;
    uint32_t offset = h & 1;
    int c = static_cast<int>((table_[block + offset + (i << 1)] >> (index << 2)) & 0xF);
    f = std::min(f, c);
  }
  if (doorkeeper_enabled_ && door_contains(block_hash)) ++f;
  return f;
}

void FrequencySketch::increment(uint32_t hash) {
  if (table_.empty()) return;
  uint32_t block_hash = spread(hash);
  bool added = false;
  if (doorkeeper_enabled_ && door_put(block_hash)) {
    added = true;  // first sighting this period: the doorkeeper absorbs it
  } else {
    uint32_t counter_hash = rehash(block_hash);
    size_t block = size_t(block_hash & block_mask_) << 3;
    for (int i = 0; i < 4; ++i) {
      uint32_t h = counter_hash >> (i << 3);
      uint32_t index = (h >> 1) & 15;
      uint32_t offset = h & 1;
      uint64_t& word = table_[block + offset + (i << 1)];
      uint64_t shift = uint64_t(index) << 2;
      uint64_t mask = uint64_t(0xF) << shift;
      if ((word & mask) != mask) {
        word += uint64_t(1) << shift;
        added = true;
      }
    }
  }
  if (added && ++size_ == sample_size_) reset();
}

void FrequencySketch::reset() {
  size_t odd = 0;
  for (auto& w : table_) {
    odd += static_cast<size_t>(__builtin_popcountll(w & kOneMask));
    w = (w >> 1) & kResetMask;
  }
  size_ = (size_ - (odd >> 2)) >> 1;
  std::fill(door_.begin(), door_.end(), 0);
}

}  // namespace stratacache::l1
