// The transport of a standalone Redis server (TCP or unix socket), of a Sentinel-managed
// master, and of one Redis Cluster node (redis/cluster_tier.hpp): it sends the requests
// of every operation (redis/redis_ops.hpp) on shared pipes (redis/pipe_set.hpp), waiting
// or not (Request::wait), through one completion path.
//
// Beyond the RemoteTier contract:
// - A request is sent again, once, when its connection turns out dead: any request whose
//   bytes never reached the socket (it provably did not run), and an idempotent one
//   (all but incr_by) when the pooled connection died before any byte of its reply
//   arrived (the server closed it while idle: CLIENT KILL, timeout, restart). The same
//   for waiting and asynchronous calls (an asynchronous retry runs on the I/O thread; it
//   connects there, bounded by the deadline, when no connection is left).
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
// refused with -READONLY (it did not run). An asynchronous call does not wait for the
// sentinels on the I/O thread: its failure makes the next call re-resolve. A background SentinelWatcher (every
// sentinel_watch_interval; 0: none) notices a new master before the old one fails or
// is demoted (after SENTINEL FAILOVER the old master keeps accepting writes for up to
// ~10 s); the next call then re-resolves, before the breaker is asked. Fork: the child
// starts its own watcher on its first call.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "redis/circuit_breaker.hpp"
#include "redis/pipe_set.hpp"
#include "redis/pool.hpp"
#include "redis/redis_ops.hpp"
#include "redis/sentinel.hpp"
#include "redis/tracker.hpp"

namespace stratacache::redis {

class RedisTier final : public RedisOps {
 public:
  // cluster_node: one node of a Redis Cluster (redis/cluster_tier.hpp): its commands never
  // carry keys of several slots (delete_matching unlinks per slot).
  // coherence: the cache's (coherence.hpp); null or off: no invalidation channel. A
  // cluster node's channel runs only while set_tracking(true) (the node is a master).
  explicit RedisTier(RedisOptions options, bool cluster_node = false, std::shared_ptr<Coherence> coherence = nullptr);
  ~RedisTier() override;

  void close() override;
  // Cluster: whether this node's invalidation channel runs (it is a master).
  void set_tracking(bool on) {
    if (tracker_) tracker_->set_enabled(on);
  }
  L2Stats stats() const override;

  void send(RequestPtr req) override { send(std::move(req), false); }
  // asking: a Redis Cluster ASK redirect: each command is preceded by ASKING.
  void send(RequestPtr req, bool asking);

 protected:
  void send_keyed(std::shared_ptr<Keyed> k) override;
  Result<Servers> servers(Deadline) override { return Servers{{this}, {}, cluster_node_}; }
  std::string address() const override { return pool_.target(); }

 private:
  struct Attempt;
  // One try of `req` on a pipe; in_completion: called from a completion (an asynchronous
  // retry), where nothing may wait for the sentinels.
  void attempt(RequestPtr req, std::shared_ptr<Attempt> a, bool in_completion);
  // The one completion path: retries, Sentinel re-resolution, counting, breaker.
  void on_replies(RequestPtr req, std::shared_ptr<Attempt> a, PipeRequest& r, const std::shared_ptr<Pipe>& pipe,
                  bool reused, bool in_completion);
  void finish(const RequestPtr& req, Attempt& a, Status s, CircuitBreaker::Outcome outcome);
  // Sentinel: asks for the master unless another caller already moved the pool past
  // `seen_epoch`. True when the pool now targets another master than at seen_epoch.
  bool refresh_master(Deadline deadline, uint64_t seen_epoch, Status* error);
  // Sentinel: (re)starts the watcher when needed and acts on its news.
  void follow_master(Deadline deadline);
  // The kind counter of a failure the server or the connection produced.
  void count_kind(const Status& s);

  bool cluster_node_;
  RedisOptions options_;
  // Before pool_ and pipes_: their connections tell it when they close (it is stopped
  // first, in the destructor).
  std::unique_ptr<Tracker> tracker_;
  ConnectionPool pool_;
  PipeSet pipes_;  // after pool_: pipes give their connections back to it
  CircuitBreaker breaker_;
  std::unique_ptr<SentinelResolver> sentinel_;  // null: standalone
  // One caller asks the sentinels at a time; the others wait for its answer.
  std::mutex resolve_mu_;
  std::condition_variable resolved_;
  bool resolving_ = false;
  std::atomic<uint64_t> sentinel_news_{0};       // bumped by the watcher and by asynchronous failures
  std::atomic<uint64_t> news_handled_{0};
  std::mutex watcher_mu_;
  std::atomic<uint64_t> watcher_generation_{0};  // fork_generation() + 1 of watcher_'s process
  std::unique_ptr<SentinelWatcher> watcher_;     // last: it uses the members above
};

}  // namespace stratacache::redis
