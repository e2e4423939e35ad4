// The Redis Cluster L2 tier (redis+cluster://h1:p1,h2:p2): RemoteTier over one
// standalone RedisTier per node (each with its own ConnectionPool and circuit breaker).
//
// STATUS (wip/cluster, 2026-11-25) -- what works, what does not:
// + URL parsing (redis+cluster://, rediss+cluster://), seed nodes, slot map from
//   CLUSTER SLOTS, CRC16 + hash tags (redis/cluster_slots.hpp).
// + Single-key ops routed by slot; MOVED updates the slot owner and retries; ASK sends
//   ASKING + the command on the target (map untouched); at most kMaxRedirects per call.
// + mget/mset/del split per node (mget) or per slot (mset, del), results in input order,
//   per-key failures per key (mget); delete_matching on every master (UNLINK per slot);
//   health on every master; stats summed over the nodes.
// + A connection error to a node triggers a map refresh; the call is retried on the new
//   owner when the slot moved (never for incr_by, which may have run).
// + Tested against real 6-node clusters (tests/cpp/redis_cluster_test.cpp): routing on
//   all masters, multi-key split, hash tags, delete_matching, health, MOVED after a slot
//   migration, ASK during one, kill -9 of a master (writes resume after the replica's
//   promotion, no call outlives its deadline), the Cache facade.
// + Per-slot mset/del on a slot being migrated: a group answered ASK or TRYAGAIN is sent
//   again key by key (see scatter). Tested on a half-migrated slot, and under load during
//   two `redis-cli --cluster reshard` runs of 1500 slots (no failed call, every read the
//   last write).
// ? rediss+cluster:// is parsed and each node pool gets the TLS context, but it is NOT
//   tested: a TLS cluster (--tls-cluster yes) did not form in the fixture (the nodes'
//   bus handshakes failed with the test PKI); to be done.
// ? The failover test once (1 run in ~20) found keys missing after the promotion
//   although the replica had acknowledged them (WAIT 1); not reproduced since, cause
//   unknown (the test now names the node of a missing key).
// + Fork: the refresh in flight is marked with its pid, so a child forked during one can
//   refresh (the pools are fork-safe themselves). Not covered by a cluster test yet.
// - Node groups are served one after the other, not in parallel: a multi-key call costs
//   one round trip per node (mget) or per slot (mset, del).
// - No reads from replicas; no CLUSTER SHARDS; hostnames announced by nodes
//   (cluster-announce-hostname) are not used, only the IPs of CLUSTER SLOTS.
// - Nodes that left the cluster keep their (idle) pool until the tier is destroyed.
// - delete_matching may miss keys of a slot that is being migrated.
// + L2Stats.moved_redirects / ask_redirects count the redirects followed; the redirect
//   replies themselves are removed from the summed errors/server_errors.
// + Native asynchronous get/set/del (wip/cluster-async): routed by slot to the owner
//   node's RedisTier::*_async; MOVED/ASK followed from the completion (see below).
//   Tested: ops on every master, 3000 in flight from one thread, MOVED after a
//   migration, ASK during one (and a DEL split on TRYAGAIN), multi-slot del count, the
//   Cache facade, destruction with calls pending, kill -9 of a master (calls fail fast,
//   then resume after the promotion; each failure makes the next call re-read the map).
//
// Asynchronous calls (get_async, set_async, del_async; async_native() is true):
// - Submitted to the owner node's RedisTier::*_async; the completion runs on that
//   node's I/O thread and decides there, without blocking: MOVED -> set_owner + map
//   marked stale + resubmitted to the new owner; ASK -> resubmitted to the target with
//   ASKING before each command (RedisTier's `asking` overloads; AskingScope is
//   thread-local and does not apply); at most kMaxRedirects, none past the deadline.
// - A connection error fails the call (the sync path retries after a refresh; here the
//   completing thread must not block) and marks the map stale.
// - del_async: one DEL per slot, all submitted at once, completed once (sum of the
//   counts; the first failure wins); a group answered ASK/TRYAGAIN goes again key by key.
// - Blocking that remains, bounded by the deadline: the first call loads the map
//   synchronously on the submitting thread, and a stale map (MOVED, connection error,
//   kRefreshInterval) is re-read there by the next call; a resubmission to a node with
//   no pipe yet connects on the completing I/O thread (PipeSet::pick).
// - Destruction: pending calls complete with kUnavailable (or their result); redirects
//   arriving meanwhile are not followed.
//
// Map refresh: at the first call, after a MOVED (lazily, by the next call), after a
// connection error, and every kRefreshInterval; at most one in flight and at most one
// per kMinRefreshGap (the first load excepted). Asked of the known masters first, then
// the other known nodes, then the seeds.
#pragma once

#include <sys/types.h>

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "redis/cluster_slots.hpp"
#include "redis/redis_tier.hpp"
#include "remote_tier.hpp"

namespace stratacache::redis {

class ClusterTier final : public RemoteTier {
 public:
  static constexpr int kMaxRedirects = 5;
  static constexpr std::chrono::milliseconds kMinRefreshGap{100};
  static constexpr std::chrono::milliseconds kRefreshInterval{10000};

  explicit ClusterTier(RedisOptions options);
  ~ClusterTier() override;

  bool enabled() const override { return true; }
  void close() override;
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

  // Native asynchronous calls (see "Asynchronous calls" at the top).
  bool async_native() const override { return true; }
  void get_async(std::string_view key, Deadline deadline, std::function<void(Result<RemoteEntry>)> done) override;
  void set_async(std::string_view key, std::string_view value, int64_t ttl_ms, Deadline deadline,
                 std::function<void(Status)> done) override;
  void del_async(const std::vector<std::string>& keys, Deadline deadline,
                 std::function<void(Result<int64_t>)> done) override;
  // ---- compare-and-delete (RemoteTier::delete_if_value), routed like get ----
  Result<bool> delete_if_value(std::string_view key, std::string_view expected, Deadline deadline) override;
  void delete_if_value_async(std::string_view key, std::string_view expected, Deadline deadline,
                             std::function<void(Result<bool>)> done) override;
  // ---- end compare-and-delete ----

  // For tests and diagnostics.
  std::string slot_owner(uint16_t slot) const;  // "host:port"; "" before the first load
  std::vector<std::string> masters() const;
  uint64_t moved_redirects() const { return moved_.load(std::memory_order_relaxed); }
  uint64_t ask_redirects() const { return ask_.load(std::memory_order_relaxed); }
  uint64_t refreshes() const { return refreshes_.load(std::memory_order_relaxed); }

 private:
  using Clock = std::chrono::steady_clock;
  struct Target {
    std::string address;
    bool asking = false;
  };

  // The node's tier, created on first use. Never null.
  RedisTier& node(const std::string& address);
  // Loads the map when it has never been loaded (waiting up to the deadline for a load
  // in flight), and refreshes it when stale. kUnavailable/kTimeout when no node answered.
  Status ensure_map(Deadline deadline);
  // Asks the nodes for CLUSTER SLOTS and installs the answer. Skipped (false) when a
  // refresh is in flight, or one finished less than kMinRefreshGap ago (unless `first`).
  bool refresh(Deadline deadline, Status* error = nullptr);
  bool refresh_locked(Deadline deadline, Status* error);
  bool try_begin_refresh();  // false: a refresh is in flight in this process
  void end_refresh();
  void set_owner(uint16_t slot, const std::string& address);
  // Whether `s` is a MOVED/ASK reply; then target/slot say where to go.
  bool redirected(const Status& s, uint16_t* slot, Target* target);
  // Runs op(RedisTier&) on the owner of `slot`, following redirects (see top).
  template <typename Op>
  Status route(uint16_t slot, Deadline deadline, bool idempotent, Op&& op);
  // Multi-key: batch(tier, indexes, statuses) serves the items `indexes` on one node and
  // writes one Status per item into statuses[index]; redirected items are re-routed.
  // per_slot: one batch per slot (commands that take several keys of one slot only); a
  // slot's batch answered ASK or TRYAGAIN (the slot is being migrated) goes again one
  // batch per key.
  // An asynchronous request on one slot and the redirects it followed.
  struct AsyncRoute;
  struct DelJoin;
  // Sends r's request to r->target; its completion follows redirects (on_async_reply).
  void send_async(std::shared_ptr<AsyncRoute> r);
  void on_async_reply(std::shared_ptr<AsyncRoute> r, Status s);
  // One DEL of `keys` (all of `slot`) for del_async, joined into `join`.
  void del_group_async(std::shared_ptr<DelJoin> join, uint16_t slot, std::vector<std::string> keys, Deadline deadline,
                       Target target, int redirects);
  template <typename Batch>
  void scatter(const std::vector<uint16_t>& slots, Deadline deadline, bool per_slot, std::vector<Status>& statuses,
               Batch&& batch);

  RedisOptions options_;
  std::vector<std::string> seeds_;

  mutable std::shared_mutex map_mu_;
  std::vector<std::string> addresses_;        // every node address the map ever named
  std::array<int16_t, kClusterSlots> owner_;  // index into addresses_; -1: unassigned
  std::vector<std::string> masters_;
  bool loaded_ = false;

  // The pid of the process whose refresh is in flight (0: none). A pid rather than a
  // mutex so that a child forked during a refresh is not locked out of refreshing.
  std::atomic<pid_t> refreshing_pid_{0};
  std::atomic<bool> stale_{false};
  std::atomic<int64_t> last_refresh_ns_{0};  // steady_clock, 0: never

  mutable std::mutex nodes_mu_;
  std::map<std::string, std::unique_ptr<RedisTier>> nodes_;

  std::atomic<uint64_t> moved_{0}, ask_{0}, refreshes_{0};
  std::atomic<uint64_t> redirect_failures_{0};  // failed node ops that were redirects

  // Destruction: from closing_ on, completions resubmit nothing; the destructor waits for
  // the sends in progress (sending_) before it destroys the node tiers.
  std::atomic<bool> closing_{false};
  std::atomic<int> sending_{0};
};

}  // namespace stratacache::redis
