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
// Ordering (why no stale value gets in): a read or write takes the L1 back-fill epoch
// (MemoryTier::write_epoch) and a coverage token (token()) before it goes to Redis, and
// stores into L1 only when covered(token) holds at completion -- every channel up, and
// no channel went down or up since -- and no erase or clear touched the key since. A
// channel going down counts itself down and moves the token *before* it clears L1; a
// channel coming up publishes its new registration first (every data connection then
// re-registers before its next request) and only then moves the token and counts itself
// up. So a read that overlaps a transition, or ran on a connection registered with a
// previous channel, is refused. The one thing L1 takes while coverage is down -- a write
// Redis did not take, during an outage -- goes through store_uncovered() and is dropped
// when the channel comes back.
//
// The first use: a cache's channels connect in the background from the start; a
// synchronous call that finds one still on its first attempt waits for it (await_start),
// bounded by the call's deadline, so that open + set + get is an L1 hit.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "deadline.hpp"
#include "redis/fork.hpp"
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

  // Taken before an L2 call; covered(token) after it: whether L1 may take its value
  // (see above). covered() is the state now. Always true when off.
  uint64_t token() const { return generation_.load(std::memory_order_acquire); }
  bool covered(uint64_t token) const { return off() || (down_now() == 0 && token == this->token()); }
  bool covered() const { return off() || down_now() == 0; }
  // Stores a value that is not covered (a write Redis did not take while coverage is
  // down); `store` runs under a lock that channel_up() takes, which drops what it stored.
  void store_uncovered(const std::function<void()>& store, const std::function<void()>& erase);
  // While some channel is on its first attempt: wait for it (until `deadline`).
  void await_start(Deadline deadline);
  bool starting() const { return starting_.load(std::memory_order_acquire) > 0; }
  // The process forked since the last call: the child's L1 holds copies tracked for
  // the parent, which this empties (counted in flushes_fork). Two relaxed loads.
  bool forked() {
    if (fork_generation_.load(std::memory_order_relaxed) == redis::fork_generation()) return false;
    return after_fork();
  }

  // ---- For the channels ----
  void channel_added();              // a channel that must run: down until channel_up(), starting until started()
  void started();                    // its first attempt ended (up or not): await_start() returns
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
  bool after_fork();
  bool off() const { return mode_.load(std::memory_order_acquire) == static_cast<uint8_t>(L1Coherence::kOff); }
  int64_t down_now() const { return down_.load(std::memory_order_acquire); }

  const L1Coherence requested_;
  std::atomic<uint8_t> mode_;
  const std::string prefix_;
  std::atomic<int64_t> down_{0};
  std::atomic<uint64_t> generation_{1};
  std::atomic<int64_t> starting_{0};
  std::mutex mu_;                 // channel_up() vs store_uncovered(); await_start()
  std::condition_variable cv_;
  bool uncovered_ = false;        // under mu_: L1 holds what store_uncovered() stored
  std::atomic<int64_t> channels_{0};
  std::atomic<uint64_t> fork_generation_;
  std::atomic<Sink*> sink_{nullptr};
  std::atomic<uint64_t> invalidations_{0};
  std::atomic<uint64_t> flushes_[5] = {};
  mutable std::mutex error_mu_;
  std::string last_error_;
};

}  // namespace stratacache
