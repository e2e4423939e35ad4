// Distributed locks (docs/locks.md): mutual exclusion between processes through Redis
// (an in-process table for mem://), with a TTL, a bounded wait that is woken rather than
// polled, extension and release by the owner only, and a fencing token.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "stratacache/options.hpp"
#include "stratacache/status.hpp"

namespace stratacache {

struct LockOptions {
  // Lifetime of the lock: it is freed this long after the last acquire or extend even if
  // its holder died. > 0, at most 10 years.
  Millis ttl{30000};
  // How long acquire waits for another holder to let go: 0 tries once; > 0 waits up to
  // this long, woken when the lock is released or expires (docs/locks.md, "Waiting").
  Millis wait{0};
  // Deadline of each Redis round trip (< 0: socket_timeout). An acquire takes at most
  // wait + timeout.
  Millis timeout{-1};
};

// A held lock, from Cache::lock / Cache::lock_async. Thread-safe. The cache must
// outlive it (the C ABI's stratacache_lock pins its handle).
// Failure contract of extend / release:
//  - kAborted: this caller no longer owns the lock (it expired and maybe was taken by
//    someone else, or was deleted): nothing was changed. Counted in stats().lock.lost.
//  - kInvalidArgument: already released (by release()), or a bad ttl.
//  - kUnavailable / kTimeout: Redis failed; the lock stays until its TTL.
class DistributedLock {
 public:
  // Releases the lock if it is still held (best effort, without waiting).
  ~DistributedLock();
  DistributedLock(const DistributedLock&) = delete;
  DistributedLock& operator=(const DistributedLock&) = delete;

  const std::string& name() const;
  // The fencing token: strictly greater than every earlier holder's of this name
  // (per Redis server / per cache handle for mem://). Pass it to the storage the lock
  // protects, which refuses writes with a smaller token than one it has seen.
  uint64_t fence() const;
  // Sets the remaining lifetime to ttl, if this caller still holds the lock.
  Status extend(Millis ttl);
  // Frees the lock (compare-and-delete: only while this caller still holds it).
  Status release();
  // The same without blocking; `done` as in Cache::*_async.
  void extend_async(Millis ttl, std::function<void(Status)> done);
  void release_async(std::function<void(Status)> done);

  struct State;
  explicit DistributedLock(std::shared_ptr<State> s);

 private:
  std::shared_ptr<State> s_;
};

}  // namespace stratacache
