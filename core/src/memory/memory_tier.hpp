// L1 v0: a sharded, bounded (entries AND bytes) in-process LRU with per-entry TTL.
// Values are immutable shared payloads, so a reader never sees a torn value and a hit
// costs one lookup plus a reference-count increment.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "memory/clock.hpp"
#include "stratacache/codec.hpp"
#include "stratacache/options.hpp"
#include "stratacache/stats.hpp"
#include "stratacache/status.hpp"

namespace stratacache {

using PayloadPtr = std::shared_ptr<const Payload>;

class MemoryTier {
 public:
  explicit MemoryTier(const L1Options& options, std::shared_ptr<const Clock> clock = nullptr);
  ~MemoryTier();
  MemoryTier(const MemoryTier&) = delete;
  MemoryTier& operator=(const MemoryTier&) = delete;

  // nullptr on a miss; expired entries are never returned.
  PayloadPtr get(std::string_view key);
  bool contains(std::string_view key);
  // ttl_ms <= 0: no expiry. Returns false when the entry alone exceeds the byte bound
  // (it is not admitted, and any older value under the key is removed).
  bool set(std::string_view key, PayloadPtr value, int64_t ttl_ms);
  // Write epoch of the key's shard: it changes on every set/erase/increment there. A
  // reader takes it before fetching from L2 and back-fills with set_if_epoch, which
  // does nothing when a write raced the fetch (so a stale value never shadows it).
  uint64_t write_epoch(std::string_view key) const;
  bool set_if_epoch(std::string_view key, PayloadPtr value, int64_t ttl_ms, uint64_t epoch);
  // Whether an entry of this size could be admitted at all.
  bool admissible(std::string_view key, size_t value_bytes) const;
  bool erase(std::string_view key);
  size_t erase_matching(std::string_view glob);
  // nullopt: missing; -1: no expiry; else remaining ms.
  std::optional<int64_t> ttl_ms(std::string_view key);
  // Atomic add on an integer payload; a missing key starts at 0 and gets ttl_if_new_ms.
  Result<int64_t> increment(std::string_view key, int64_t amount, int64_t ttl_if_new_ms);
  void clear();
  L1Stats stats() const;

  // Bytes charged for an entry beyond key and value bytes.
  static size_t entry_overhead();

 private:
  struct Shard;
  Shard& shard_for(std::string_view key) const;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::shared_ptr<const Clock> clock_;
  L1Options options_;
};

}  // namespace stratacache
