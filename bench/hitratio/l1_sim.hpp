// The only place the hit-ratio benchmark touches MemoryTier: one cache of `capacity`
// entries (the byte bound is set out of reach), replayed one key at a time.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

#include "memory/memory_tier.hpp"

namespace stratacache::bench {

class L1Sim {
 public:
  static constexpr bool kWTinyLfuAvailable = true;

  L1Sim(size_t capacity, bool lru, bool doorkeeper = false) : tier_(options(capacity, lru, doorkeeper)) {}

  // True on a hit; on a miss the key is inserted (the tier may decline or evict).
  bool access(uint64_t key) {
    char bytes[sizeof key];
    std::memcpy(bytes, &key, sizeof key);  // the key is the 8 raw bytes
    std::string_view k(bytes, sizeof bytes);
    if (tier_.get(k)) return true;
    tier_.set(k, Format::kRaw, {}, 0);
    return false;
  }

 private:
  static L1Options options(size_t capacity, bool lru, bool doorkeeper) {
    L1Options o;
    o.max_entries = capacity;
    o.max_bytes = SIZE_MAX / 4;  // only the entry bound applies
    o.policy = lru ? L1Policy::kLru : L1Policy::kWTinyLfu;
    o.doorkeeper = doorkeeper;
    return o;
  }

  MemoryTier tier_;
};

}  // namespace stratacache::bench
