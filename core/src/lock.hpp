// Internal: distributed locks for one cache (docs/locks.md).
//
// State in Redis, per lock name (full = prefix + "~lock:" + name):
//   full                          the holder's random token, PX ttl
//   companion_key(full, "~fence") the fencing counter: INCR on every acquire; no TTL, so
//                                 tokens stay monotonic across expiries (one small key
//                                 per lock name ever used)
// Acquire is one script: take the lock if free (or already ours: a retried request), and
// return the new fence, else the holder's PTTL. The script reads the lock key, so in
// tracking mode this process hears when it is released or expires; broadcast mode hears
// it through the prefix. Extend is compare-and-PEXPIRE, release compare-and-delete
// (RemoteTier::delete_if_value).
//
// Waiting: a caller that found the lock held waits in a per-key registry (Waiters) until
// the coherence channel says the key changed (Cache::Impl::wake_loads -> wake), until the
// holder's PTTL ran out (expiry notices can lag), or until its own wait ends; then it
// tries again. Without a channel (l1_coherence=off, or the channel is down) it looks
// again with backoff, 10 ms doubling to 200 ms.
//
// mem:// has no Redis: the same state lives in a table here (per cache handle), and a
// release wakes the waiters directly. Every step is a continuation with Call::wait
// semantics, as in read_through.hpp: the synchronous form runs them on its own thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cache_impl.hpp"
#include "read_through.hpp"  // Timers
#include "stratacache/lock.hpp"
#include "stratacache/stats.hpp"

namespace stratacache {

class Locks {
 public:
  explicit Locks(Cache::Impl& cache) : c_(cache) {}
  ~Locks() { close(); }

  void acquire(std::string_view name, const LockOptions& options, bool wait,
               std::function<void(Result<std::unique_ptr<DistributedLock>>)> done);
  void extend(const std::shared_ptr<DistributedLock::State>& s, Millis ttl, bool wait, std::function<void(Status)> done);
  void release(const std::shared_ptr<DistributedLock::State>& s, bool wait, std::function<void(Status)> done);

  // `key` (unprefixed) changed in Redis; wake_all: anything may have (coverage lost).
  void wake(std::string_view key);
  void wake_all();
  // Ends every wait (kUnavailable), gives releases in flight up to 500 ms, stops timers.
  void close();
  LockStats stats() const;

  struct Op;
  struct Waiters;

 private:
  void attempt(const std::shared_ptr<Op>& op);
  // coverage: the coherence token taken before the attempt (Cache::Impl::coverage_token).
  void attempted(const std::shared_ptr<Op>& op, uint64_t seen, uint64_t coverage, Result<int64_t> fence_or_pttl,
                 bool acquired);
  void finish(const std::shared_ptr<Op>& op, Result<std::unique_ptr<DistributedLock>> r);
  void await(const std::shared_ptr<Waiters>& w, uint64_t seen, Deadline::Clock::time_point until, bool wait,
             std::function<void()> next);
  static void ring(Waiters& w);
  std::shared_ptr<Waiters> enter(const std::string& key);
  void leave(const std::string& key);
  // mem://: the table's form of the acquire script.
  std::pair<bool, int64_t> local_acquire(const std::string& key, const std::string& token, Millis ttl);
  bool local_owned(const std::string& key, const std::string& token, Deadline::Clock::time_point* until);
  void release_done();
  Status lost(const char* what);

  Cache::Impl& c_;
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Waiters>> waiting_;  // by unprefixed lock key
  std::atomic<size_t> waiting_count_{0};
  Timers timers_;
  std::atomic<bool> closed_{false};
  std::mutex releases_mu_;
  std::condition_variable releases_done_;
  int releases_ = 0;
  // mem://
  struct Held {
    std::string token;
    Deadline::Clock::time_point until;
  };
  std::mutex local_mu_;
  std::unordered_map<std::string, Held> held_;
  std::unordered_map<std::string, uint64_t> fences_;
  struct Counters {
    std::atomic<uint64_t> acquired{0}, contended{0}, timeouts{0}, lost{0};
  } n_;
};

struct DistributedLock::State {
  Locks* locks = nullptr;
  std::string name, key, full;  // key: unprefixed ("~lock:" + name); full: with the prefix
  std::string token;
  uint64_t fence = 0;
  Millis timeout{-1};  // LockOptions::timeout: each Redis round trip of extend / release
  std::atomic<bool> released{false};
};

}  // namespace stratacache
