// Up to max_connections connections to one Redis, shared by every thread of a tier,
// with reconnect backoff and fork safety.
//
// acquire(): an idle connection (PINGed first when idle longer than
// health_check_interval), else a new one while under the cap, else wait for a release
// until the deadline (kTimeout). After a failed connect the pool backs off
// (exponential from retry_backoff_min to retry_backoff_max, jittered): meanwhile
// acquire() fails at once (kUnavailable, or kPermissionDenied after an AUTH refusal)
// instead of each caller paying a connect timeout; after the window one caller probes
// with a real connect, and success ends the backoff. That backoff is the pool's only
// when the tier's circuit breaker is off (circuit_breaker_threshold=0): with the breaker
// on, a failed connect is reported to the caller (acquire's AcquireFailure) and the
// breaker alone decides when to fail fast, so users see one mechanism, one counter
// (breaker_rejections) and one set of settings.
//
// Sentinel: the pool's target (the master) is set by retarget(); until then acquire()
// fails with kUnavailable. Retargeting closes the idle connections to the old target,
// and connections leased before it are closed when released (release() compares the
// lease's target epoch), so nothing talks to a demoted master afterwards.
//
// TLS (rediss://): one TlsContext per pool, built from the options in the constructor
// and shared by its connections. When it cannot be built (an unloadable certificate or
// key), acquire() returns that kInvalidArgument without connecting.
//
// Fork: connections remember the pid and the fork generation that opened them. In a
// child, the inherited connections are closed without a byte sent (the parent's copies
// keep working) and the pool starts empty.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <vector>

#include "deadline.hpp"
#include "redis/connection.hpp"
#include "redis/fork.hpp"
#include "redis/tls.hpp"
#include "stratacache/options.hpp"
#include "stratacache/stats.hpp"
#include "stratacache/status.hpp"

namespace stratacache::redis {

struct Counters {
  std::atomic<uint64_t> hits{0}, misses{0}, sets{0}, deletes{0}, errors{0}, timeouts{0};
  std::atomic<uint64_t> connect_failures{0}, connections_opened{0}, connections_discarded{0}, fast_failures{0};
  std::atomic<uint64_t> connection_errors{0}, protocol_errors{0}, auth_errors{0}, server_errors{0};
  std::atomic<uint64_t> master_changes{0}, sentinel_failures{0};
  L2Stats snapshot() const;
};

// Why acquire() failed.
enum class AcquireFailure : uint8_t {
  kNone,
  kConnect,  // a connect (or its handshake) was tried and failed
  kBackoff,  // refused at once: backing off after failed connects (breaker off only)
  kWait,     // every connection busy until the deadline, or a health-check PING ran out of time
  kOther,    // no target yet (Sentinel), configuration
};

inline void bump(std::atomic<uint64_t>& c, uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }

class ConnectionPool {
 public:
  // `options` and `counters` must outlive the pool.
  ConnectionPool(const RedisOptions& options, Counters& counters);
  ~ConnectionPool();
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  struct Lease {
    std::unique_ptr<Connection> conn;
    bool reused = false;       // came from the idle list (it may have gone stale)
    uint64_t target_epoch = 0;  // the target it was opened for
  };
  Result<Lease> acquire(Deadline deadline, AcquireFailure* why = nullptr);
  // Back to the idle list when still in step and opened for the current target, else
  // closed and counted as discarded.
  void release(std::unique_ptr<Connection> conn, uint64_t target_epoch);
  // A connection found the server gone (`why`): closes every idle connection and logs
  // l2.connection_lost, once per outage (docs/operations.md).
  void connection_lost(const Status& why);
  // A connection to the current target outside the pool (not counted in max_connections,
  // no backoff): the invalidation channel's (redis/tracker.hpp).
  Result<std::unique_ptr<Connection>> open_dedicated(Deadline deadline);

  // Sentinel: new connections go to `at` from now on (see above).
  void retarget(const std::string& host, uint16_t port);
  // 0 until the first retarget() in Sentinel mode; then incremented by each one.
  uint64_t target_epoch() const { return target_epoch_.load(std::memory_order_acquire); }
  // host:port of the current target.
  std::string target() const;

 private:
  void reset_after_fork_locked();
  void note_connect_failure_locked(const Status& s);
  // Log events: l2.connection_lost on the first failure after the server was reachable,
  // l2.reconnected (and l2.connection_opened, debug) when a connect succeeds. Call
  // without mu_ held.
  void note_unreachable(const Status& why);
  void note_opened();
  Status backoff_status_locked() const;

  const RedisOptions& options_;
  Counters& counters_;
  const size_t max_connections_;
  std::unique_ptr<TlsContext> tls_;  // null: plain connections
  Status tls_error_;                 // why tls_ could not be built
  const bool own_backoff_;  // no circuit breaker: the pool backs off by itself
  std::atomic<bool> unreachable_{false};  // since the last l2.connection_lost, until a connect succeeds

  // Every target so far, current last: connections keep a reference to theirs.
  std::vector<std::unique_ptr<const RedisOptions>> targets_;
  std::atomic<uint64_t> target_epoch_{0};

  mutable std::mutex mu_;
  std::condition_variable released_;
  std::vector<std::unique_ptr<Connection>> idle_;  // most recently used last
  size_t open_ = 0;                                // idle + leased + connecting
  uint64_t generation_;                            // fork generation of this pool's connections

  // Backoff after failed connects.
  unsigned failures_ = 0;
  std::chrono::steady_clock::time_point retry_at_{};
  bool probing_ = false;
  Status last_connect_error_;
  std::minstd_rand rng_;
};



}  // namespace stratacache::redis
