// The only place the hit-ratio benchmark touches MemoryTier: one cache of `capacity`
// entries (the byte bound is set out of reach), replayed one key at a time.
//
// Written against L1 v0, which is LRU only: until W-TinyLFU lands, the "W-TinyLFU"
// variant runs LRU too (kWTinyLfuAvailable says which one the numbers are). To switch
// to the W-TinyLFU API: kWTinyLfuAvailable = true; policy = lru ? kLru : kWTinyLfu
// (drop the `(void)lru`); set(k, Format::kRaw, {}, 0) (drop `empty_` and <memory>).
// `if (tier_.get(k))` works for both PayloadPtr and L1Ref.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>

#include "memory/memory_tier.hpp"

namespace stratacache::bench {

class L1Sim {
 public:
  static constexpr bool kWTinyLfuAvailable = false;

  L1Sim(size_t capacity, bool lru) : tier_(options(capacity, lru)) {}

  // True on a hit; on a miss the key is inserted (the tier may decline or evict).
  bool access(uint64_t key) {
    char bytes[sizeof key];
    std::memcpy(bytes, &key, sizeof key);  // the key is the 8 raw bytes
    std::string_view k(bytes, sizeof bytes);
    if (tier_.get(k)) return true;
    tier_.set(k, empty_, 0);
    return false;
  }

 private:
  static L1Options options(size_t capacity, bool lru) {
    L1Options o;
    o.max_entries = capacity;
    o.max_bytes = SIZE_MAX / 4;  // only the entry bound applies
    o.policy = L1Policy::kLru;   // v0 has no other policy; `lru` is ignored for now
    (void)lru;
    return o;
  }

  MemoryTier tier_;
  PayloadPtr empty_ = std::make_shared<const Payload>(Payload{Format::kRaw, ""});
};

}  // namespace stratacache::bench
