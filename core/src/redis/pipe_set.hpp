// The pipes of one tier (redis/pipe.hpp) and the I/O thread that serves asynchronous
// requests on them.
//
// pick() returns the pipe with the fewest outstanding requests; a new pipe is opened
// (through the ConnectionPool: its connect timeout, TLS, AUTH, backoff and target)
// only when every open one already has kGrowAt requests outstanding, up to
// max_connections pipes. A lone caller therefore always uses one connection, and many
// callers share a few, in large batches. Broken pipes and pipes to a previous Sentinel
// target are dropped on the next pick(). A pipe idle for longer than
// health_check_interval is PINGed before it is used again.
//
// The I/O thread starts on the first asynchronous request (start_io()); it polls the
// pipes that have outstanding requests and no synchronous leader, writes what
// asynchronous submitters queued (woken through an eventfd, at most once per batch),
// reads replies, runs completions and times out asynchronous requests.
//
// Fork: in a child, the inherited pipes are closed without a byte sent and leaked (a
// parent thread may have held their locks), the parent's I/O thread does not exist, and
// the set starts empty; the child's first asynchronous request starts its own thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "redis/pipe.hpp"
#include "redis/pool.hpp"
#include "redis/tracker.hpp"

namespace stratacache::redis {

class PipeSet {
 public:
  // A new pipe opens only when every open one has at least this many requests outstanding.
  static constexpr size_t kGrowAt = 8;

  // `pool`, `options` and `counters` must outlive the set.
  PipeSet(ConnectionPool& pool, const RedisOptions& options, Counters& counters);
  ~PipeSet();
  PipeSet(const PipeSet&) = delete;
  PipeSet& operator=(const PipeSet&) = delete;

  struct Pick {
    std::shared_ptr<Pipe> pipe;
    bool reused = false;  // opened before this call (it may have gone stale)
  };
  // may_grow=false (asynchronous submitters, which must not wait for a connect): open a
  // pipe only when there is none.
  Result<Pick> pick(Deadline deadline, AcquireFailure* why, bool may_grow = true);
  // Forgets a pipe (a broken one is also dropped by the next pick()).
  void drop(const Pipe* pipe);
  // Makes sure the I/O thread runs in this process (an error when it cannot be started
  // or the set is closed).
  Status start_io();
  size_t size() const;
  // Coherent L1 (redis/tracker.hpp): every pick makes sure the pipe's connection is
  // registered with the tracker's channel as it is now. Set before the first pick.
  void set_tracker(Tracker* tracker) { tracker_ = tracker; }
  // pthread_atfork handlers (all sets, registered once): fork() waits for the lock.
  void lock_for_fork();
  void unlock_for_fork();
  // Stops the I/O thread and fails every outstanding request with kUnavailable (their
  // callbacks run here). Idempotent; the destructor calls it. Picks fail afterwards.
  void close();

 private:
  void after_fork_locked();
  void wake();
  void io_loop();

  ConnectionPool& pool_;
  const RedisOptions& options_;
  Counters& counters_;
  const size_t max_pipes_;
  Tracker* tracker_ = nullptr;

  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::vector<std::shared_ptr<Pipe>> pipes_;
  size_t connecting_ = 0;
  uint64_t generation_;

  int wake_fd_ = -1;
  std::atomic<bool> wake_pending_{false};
  std::atomic<bool> io_running_{false};
  bool stop_ = false;
  std::thread io_;
};

}  // namespace stratacache::redis
