// The standalone Redis L2 tier (TCP or unix socket): RemoteTier over a ConnectionPool.
//
// Beyond the RemoteTier contract:
// - Idempotent operations (all but incr_by) are retried once, on another connection,
//   when a pooled connection turns out dead before any byte of its reply arrived (the
//   server closed it while idle: CLIENT KILL, timeout, restart).
// - A connection that failed with a transport error makes the pool close its idle
//   connections too: after a restart they are all dead.
// - health() never fails: any error comes back as HealthInfo{healthy = false, error}.
//   A user whose ACL denies INFO still gets healthy = true (PING answered) with the
//   INFO fields left empty.
// - While backing off after an AUTH refusal, calls fail fast with kPermissionDenied
//   (not kUnavailable) so a wrong password reads the same on every call.
// - Server errors beyond the contract: -LOADING, -BUSY, -MASTERDOWN, -TRYAGAIN,
//   -READONLY and -OOM map to kUnavailable (retryable).
//
// Circuit breaker (redis/circuit_breaker.hpp), on by default: every call goes through
// it. Failures that count: connection errors (refused, lost), timeouts, failed connects
// and AUTH refusals at connect. Misses and error replies (WRONGTYPE, OOM, ...) prove the
// server is there and count as successes; a caller's wait for a busy pool counts as
// neither. After circuit_breaker_threshold consecutive failures calls fail at once
// (kUnavailable, or kPermissionDenied when an AUTH refusal opened it, with a message
// saying since when and why) for circuit_breaker_cooldown; then one probe call goes to
// the server: success closes the breaker, failure re-opens it with the cooldown doubled
// (up to circuit_breaker_cooldown_max; with Sentinel it stays at circuit_breaker_cooldown,
// since a failover brings a new master within seconds).
// The breaker replaces the pool's own reconnect backoff (one mechanism: connect failures
// are simply failures the breaker counts); with circuit_breaker_threshold=0 there is no
// breaker and the pool's backoff (retry_backoff_min/max, counted in fast_failures)
// protects the server from reconnect storms, as before.
//
// Sentinel (options.sentinels non-empty): before the first call, and again after a
// connection error, a failed connect, or a -READONLY / -LOADING reply (the master was
// demoted or is not ready), the tier asks the sentinels for the master (one caller at a
// time; the others use the result) and, when it moved, retargets the pool (connections
// to the old master are closed) and resets the breaker, so a healthy new master is
// never kept behind a breaker opened by the old one. The call that noticed is retried
// once on the new master when that is safe: idempotent commands, and any command
// refused with -READONLY (it did not run). A background SentinelWatcher (every
// sentinel_watch_interval; 0: none) notices a new master before the old one fails or
// is demoted (after SENTINEL FAILOVER the old master keeps accepting writes for up to
// ~10 s); the next call then re-resolves, before the breaker is asked. Fork: the child
// starts its own watcher on its first call.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "redis/circuit_breaker.hpp"
#include "redis/pipe_set.hpp"
#include "redis/pool.hpp"
#include "redis/sentinel.hpp"
#include "remote_tier.hpp"

namespace stratacache::redis {

// Redis Cluster ASK redirects: while one lives, every command this thread sends
// through a RedisTier is preceded by ASKING in the same pipeline (see Connection).
class AskingScope {
 public:
  AskingScope();
  ~AskingScope();
  AskingScope(const AskingScope&) = delete;
  AskingScope& operator=(const AskingScope&) = delete;

 private:
  bool previous_;
};

class RedisTier final : public RemoteTier {
 public:
  // cluster_node: one node of a Redis Cluster (redis/cluster_tier.hpp): commands never
  // carry keys of several slots (delete_matching unlinks per slot).
  explicit RedisTier(RedisOptions options, bool cluster_node = false);
  ~RedisTier() override;

  bool enabled() const override { return true; }
  Result<RemoteEntry> get(std::string_view key, Deadline deadline) override;
  std::vector<Result<RemoteEntry>> mget(const std::vector<std::string>& keys, Deadline deadline) override;
  Status set(std::string_view key, std::string_view value, int64_t ttl_ms, Deadline deadline) override;
  Status mset(const std::vector<RemoteWrite>& writes, Deadline deadline) override;
  Result<int64_t> del(const std::vector<std::string>& keys, Deadline deadline) override;
  Result<bool> exists(std::string_view key, Deadline deadline) override;
  Result<int64_t> pttl(std::string_view key, Deadline deadline) override;
  Result<int64_t> incr_by(std::string_view key, int64_t amount, int64_t ttl_ms, Deadline deadline) override;
  Result<int64_t> delete_matching(std::string_view glob, Deadline deadline) override;
  Result<HealthInfo> health(Deadline deadline) override;
  L2Stats stats() const override;

  bool async_native() const override { return true; }
  void close() override { pipes_.close(); }
  void get_async(std::string_view key, Deadline deadline, std::function<void(Result<RemoteEntry>)> done) override;
  void set_async(std::string_view key, std::string_view value, int64_t ttl_ms, Deadline deadline,
                 std::function<void(Status)> done) override;
  void del_async(const std::vector<std::string>& keys, Deadline deadline,
                 std::function<void(Result<int64_t>)> done) override;
  // The same for a Redis Cluster node (ClusterTier): with `asking`, every command is
  // preceded by ASKING in the same request (an ASK redirect followed from a completion,
  // where the thread-local AskingScope does not apply).
  void get_async(std::string_view key, Deadline deadline, bool asking, std::function<void(Result<RemoteEntry>)> done);
  void set_async(std::string_view key, std::string_view value, int64_t ttl_ms, Deadline deadline, bool asking,
                 std::function<void(Status)> done);
  void del_async(const std::vector<std::string>& keys, Deadline deadline, bool asking,
                 std::function<void(Result<int64_t>)> done);

  // ---- compare-and-delete (RemoteTier::delete_if_value) ----
  Result<bool> delete_if_value(std::string_view key, std::string_view expected, Deadline deadline) override;
  void delete_if_value_async(std::string_view key, std::string_view expected, Deadline deadline,
                             std::function<void(Result<bool>)> done) override {
    delete_if_value_async(key, expected, deadline, false, std::move(done));
  }
  void delete_if_value_async(std::string_view key, std::string_view expected, Deadline deadline, bool asking,
                             std::function<void(Result<bool>)> done);
  // ---- end compare-and-delete ----

  // A plain GET (no PTTL): the bare round trip, for benchmarks and comparisons.
  Result<std::string> get_value(std::string_view key, Deadline deadline);

  // Runs fn on a pooled connection with this tier's breaker, retries and failure
  // counting (for commands the RemoteTier interface has no method for: CLUSTER SLOTS).
  Status call(Deadline deadline, bool idempotent, const std::function<Status(Batch&)>& fn);

 private:
  // Runs fn(Batch&) -> Status on a shared pipe, through the breaker, with
  // the retries described above. Counts the kind of a failure (not `errors`).
  template <typename Fn>
  Status run(Deadline deadline, bool idempotent, Fn&& fn);
  // Sends `bytes` (`expected` replies) on a pipe through the breaker; `parse` reads the
  // replies, `done` gets the outcome (counted like run()'s). Not retried: a lost
  // connection fails the request (and, with Sentinel, makes the next call re-resolve).
  // asking: `bytes` has an ASKING before each command (see append_routed), and
  // `expected` counts the commands only; `parse` sees the commands' replies only.
  void submit_async(Deadline deadline, std::string bytes, size_t expected,
                    std::function<Status(const PipeRequest&)> parse, std::function<void(Status)> done,
                    bool asking = false);
  template <typename Fn>
  Status attempt(Deadline deadline, bool idempotent, Fn&& fn, CircuitBreaker::Outcome* outcome);
  // Sentinel: asks for the master unless another caller already moved the pool past
  // `seen_epoch`. True when the pool now targets another master than at seen_epoch.
  bool refresh_master(Deadline deadline, uint64_t seen_epoch, Status* error);
  // Sentinel: (re)starts the watcher when needed and acts on its news.
  void follow_master(Deadline deadline);
  // The kind counter of a failure the server or the connection produced.
  void count_kind(const Status& s);
  // Count a failed operation.
  void count_failure(const Status& s);
  Status failed(Status s);

  bool cluster_node_;
  RedisOptions options_;
  Counters counters_;
  ConnectionPool pool_;
  PipeSet pipes_;  // after pool_: pipes give their connections back to it
  CircuitBreaker breaker_;
  std::unique_ptr<SentinelResolver> sentinel_;  // null: standalone
  // One caller asks the sentinels at a time; the others wait for its answer.
  std::mutex resolve_mu_;
  std::condition_variable resolved_;
  bool resolving_ = false;
  std::atomic<uint64_t> sentinel_news_{0};       // bumped by the watcher
  std::atomic<uint64_t> news_handled_{0};
  std::mutex watcher_mu_;
  std::atomic<uint64_t> watcher_generation_{0};  // fork_generation() + 1 of watcher_'s process
  std::unique_ptr<SentinelWatcher> watcher_;     // last: it uses the members above
};

}  // namespace stratacache::redis
