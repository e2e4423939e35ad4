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

  // java_hash: hash the 8-byte key as Java's Long.hashCode does (what Caffeine sees for
  // the same trace), so that sketch collisions are the same as Caffeine's.
  L1Sim(size_t capacity, bool lru, bool java_hash = false) : tier_(options(capacity, lru, java_hash)) {}

  static uint32_t long_hash_code(std::string_view key) {
    uint64_t v;
    std::memcpy(&v, key.data(), sizeof v);
    return static_cast<uint32_t>(v ^ (v >> 32));
  }

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
  static L1Options options(size_t capacity, bool lru, bool java_hash) {
    L1Options o;
    o.max_entries = capacity;
    o.max_bytes = SIZE_MAX / 4;  // only the entry bound applies
    o.policy = lru ? L1Policy::kLru : L1Policy::kWTinyLfu;
    if (java_hash) o.key_hash = &long_hash_code;
    return o;
  }

  MemoryTier tier_;
};

}  // namespace stratacache::bench
