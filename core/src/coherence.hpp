// Coherent L1 (docs/coherence.md): what the cache and its Redis tiers share so that an
// L1 copy never outlives a change in Redis by more than the time an invalidation takes
// to arrive.
//
// One Coherence per cache. Each Redis server the cache reads from (the standalone or
// Sentinel master, every Cluster master) has an invalidation channel (redis/tracker.hpp)
// that registers here while it must run. The cache may keep a value in L1 only while
// every registered channel is up (covered()); any event after which Redis may no longer
// tell us about a change -- a channel lost, timed out or reconnected, a tracked data
// connection closed, a new master, slots that moved, a fork -- empties L1 (flush) before
// anything is served from it again.
//
// Ordering (why no stale value gets in): a read takes the L1 back-fill epoch
// (MemoryTier::write_epoch) before it goes to Redis and back-fills only when
// covered() holds at completion and no erase or clear touched the key since. A channel
// going down marks itself down *before* it clears L1; a channel coming up publishes its
// new registration (so every data connection re-registers before its next request),
// clears L1, and only then counts itself up. A read that overlaps either transition is
// therefore refused by the epoch, and a read entirely inside a down period by covered().
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "stratacache/options.hpp"
#include "stratacache/stats.hpp"

namespace stratacache {

class Coherence {
 public:
  // Where invalidations go (the cache's L1). Called from channel threads and from
  // whichever thread closes a connection; must not block.
  struct Sink {
    virtual ~Sink() = default;
    // `key` is the full Redis key (prefix included).
    virtual void invalidate(std::string_view key) = 0;
    virtual void flush() = 0;
  };

  enum class Flush : uint8_t { kChannel, kConnection, kTopology, kServer, kFork };

  // mode kAuto: tracking, falling back to off when the server cannot track (Redis < 6,
  // an ACL that denies CLIENT TRACKING or SUBSCRIBE).
  Coherence(L1Coherence mode, std::string prefix);

  // The mode in effect: kTracking, kBroadcast or kOff (kAuto resolved; kOff after a fallback).
  L1Coherence mode() const { return static_cast<L1Coherence>(mode_.load(std::memory_order_acquire)); }
  bool tracking() const { return mode() == L1Coherence::kTracking; }
  const std::string& prefix() const { return prefix_; }

  void attach(Sink* sink);
  void detach();

  // Whether L1 may take a value that came from Redis now (see above). Always true when off.
  bool covered() const {
    return mode_.load(std::memory_order_acquire) == static_cast<uint8_t>(L1Coherence::kOff) ||
           down_.load(std::memory_order_acquire) == 0;
  }
  // The process forked since the last call: the child's L1 holds copies tracked for
  // the parent. Cheap; the caller flushes through flush(kFork) when true.
  bool forked();

  // ---- For the channels ----
  void channel_added();              // a channel that must run: down until channel_up()
  void channel_removed(bool was_up);  // no longer needed (a Cluster node that is no master now)
  void channel_up();
  void channel_down(Flush why, std::string error);
  // The server cannot track (kAuto: the cache falls back to off; else the channel stays down).
  void unsupported(std::string error);
  void invalidate(std::string_view key);
  void flush(Flush why);
  void note_error(std::string error);

  void add_stats(L1Stats* s) const;
  void add_health(HealthInfo* h) const;

 private:
  const L1Coherence requested_;
  std::atomic<uint8_t> mode_;
  const std::string prefix_;
  std::atomic<int64_t> down_{0};
  std::atomic<int64_t> channels_{0};
  std::atomic<uint64_t> fork_generation_;
  std::atomic<Sink*> sink_{nullptr};
  std::atomic<uint64_t> invalidations_{0};
  std::atomic<uint64_t> flushes_[5] = {};
  mutable std::mutex error_mu_;
  std::string last_error_;
};

}  // namespace stratacache
