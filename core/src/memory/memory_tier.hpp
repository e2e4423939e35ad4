// L1: a concurrent, bounded in-process cache with Caffeine's design.
//
// Data: a hash map split into shards, each under a reader/writer lock (writer-preferring,
// memory/rw_lock.hpp, so an invalidation is never starved by hits) held only for
// the lookup itself. Entries are single allocations (entry.hpp) shared with readers by
// reference count, so a reader never sees a torn value and a hit copies nothing.
//
// Policy (default adaptive W-TinyLFU; LRU selectable): a small LRU window in front of
// a segmented LRU main space (probation/protected). A candidate leaving the window
// enters the main space only when the frequency sketch says it is more popular than
// the main space's victim; the window's share of the capacity is tuned at run time by
// hill climbing on the hit rate. Bounds are global (entries AND bytes, exact: key +
// value + the real per-entry overhead); an entry bigger than the byte bound is never
// admitted.
//
// Concurrency: the policy is single-threaded under one lock, but readers never wait
// for it: a hit records itself in a striped, lossy ring buffer (per thread stripe) and
// whoever fills a stripe drains the buffers under try_lock. Writes update the map
// under the shard lock (linearizable per key), then apply their policy work under the
// policy lock. Expired entries are never returned and are reclaimed by a hierarchical
// timer wheel, not by scans.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>

#include "memory/clock.hpp"
#include "stratacache/codec.hpp"
#include "stratacache/options.hpp"
#include "stratacache/stats.hpp"
#include "stratacache/status.hpp"
#include "stratacache/value_ref.hpp"

namespace stratacache {

class MemoryTier {
 public:
  explicit MemoryTier(const L1Options& options, std::shared_ptr<const Clock> clock = nullptr);
  ~MemoryTier();
  MemoryTier(const MemoryTier&) = delete;
  MemoryTier& operator=(const MemoryTier&) = delete;

  // Empty on a miss; expired entries are never returned. A hit counts as an access
  // for the policy and, with idle expiry, extends the entry's life.
  ValueRef get(std::string_view key);
  bool contains(std::string_view key);
  // Like get, for tools: counts no hit or miss, is no access for the policy and does
  // not extend an idle entry.
  ValueRef peek(std::string_view key);
  // ttl_ms <= 0: no expiry (idle expiry still applies). Returns false when the entry
  // is not admitted (bigger than the byte bound, key over 64 KiB, or out of memory);
  // any older value under the key is then removed.
  bool set(std::string_view key, Format format, std::string_view data, int64_t ttl_ms);
  // Also hands back a reference to the stored value (empty when not admitted).
  ValueRef set_and_ref(std::string_view key, Format format, std::string_view data, int64_t ttl_ms);
  // A value nobody stores: a standalone reference (for callers that skip L1).
  static ValueRef make_ref(Format format, std::string_view data);

  // Back-fill guard. A reader takes write_epoch(key) before fetching the key from L2
  // and back-fills with set_if_epoch, which stores nothing when the key was written
  // (set, erase, increment, clear) since: a stale value never shadows a newer write.
  // Per key: writes of other keys do not stop it, except a key sharing the key's guard
  // slot (64 per shard), which only costs a back-fill. Back-fills are not writes: they
  // never stop each other (a multi-key read back-fills all its keys).
  uint64_t write_epoch(std::string_view key) const;
  ValueRef set_if_epoch(std::string_view key, Format format, std::string_view data, int64_t ttl_ms, uint64_t epoch);
  // Whether an entry of this size could be admitted at all.
  bool admissible(std::string_view key, size_t value_bytes) const;
  bool erase(std::string_view key);
  // Removes every key matching a Redis glob; a literal prefix + '*' is matched as a
  // prefix without the glob engine.
  size_t erase_matching(std::string_view glob);
  // Live entries whose key matches the glob; removes nothing.
  size_t count_matching(std::string_view glob) const;
  size_t erase_prefix(std::string_view prefix);
  // Removes every entry for which keep(key, format, value) is false; returns how many
  // unexpired entries went.
  size_t erase_unless(const std::function<bool(std::string_view key, Format, std::string_view value)>& keep);
  // nullopt: missing; -1: no expiry; else remaining ms.
  std::optional<int64_t> ttl_ms(std::string_view key);
  // Atomic add on an integer payload; a missing key starts at 0 and gets ttl_if_new_ms.
  Result<int64_t> increment(std::string_view key, int64_t amount, int64_t ttl_if_new_ms);
  void clear();
  // Runs pending policy work now: drains the read buffers, reclaims expired entries,
  // evicts to the bounds. (It also happens on its own as the cache is used.)
  void cleanup();
  L1Stats stats() const;

  // Bytes charged for an entry beyond its key and value, before allocator rounding.
  static size_t entry_overhead(bool timed);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace stratacache
