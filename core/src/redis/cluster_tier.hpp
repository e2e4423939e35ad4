// The Redis Cluster L2 tier (redis+cluster://h1:p1,h2:p2, rediss+cluster://): the
// operations of redis/redis_ops.hpp routed by hash slot to one RedisTier per node (each
// with its own pipes, I/O thread and circuit breaker). docs/cluster.md has the user's view.
//
// Routing (send): a request goes to the owner of its slot in the slot map. Its
// completion decides, for waiting and asynchronous requests alike:
// - -MOVED: the slot's owner is updated (the whole map is re-read by the next call) and
//   the request goes to the new owner; -ASK: it goes to the named node with ASKING
//   before each command (Request::wire), the map untouched. At most kMaxRedirects, none
//   past the deadline.
// - A connection-level failure of the node: the map is stale. A waiting caller re-reads
//   it at once and, for an idempotent request whose slot moved, goes to the new owner;
//   an asynchronous completion must not block, so the next call re-reads the map.
// Multi-key requests (send_keyed) are split per node (mget) or per slot (mset, del), all
// groups in flight at once, and joined in the caller's order; a group answered MOVED/ASK
// goes again, in a next round, to where it was sent. A per-slot group answered -ASK or
// -TRYAGAIN (its slot is being migrated, MIGRATE moves keys a few at a time) goes again
// one key per request: a pipelined group answered -ASK may have been served in part,
// and a multi-key DEL is refused with -TRYAGAIN until the migration ends; a single key
// is never refused so, and its ASK is exact.
// Per-server operations (delete_matching, health) run on every master; server_info on
// every master and replica of the last slot map.
//
// The map: loaded by the first call (on the calling thread; an asynchronous call waits
// for it there, once per tier), re-read after a MOVED or a node failure (by the next
// call) and every kRefreshInterval; at most one read in flight and at most one per
// kMinRefreshGap. Asked of the known masters first, then the other known nodes, then
// the seeds. Only the IPs of CLUSTER SLOTS are used (not announced hostnames); no reads
// from replicas. A node that left the cluster keeps its idle tier until destruction.
// Fork: a refresh in flight is marked with its pid, so a child forked during one can
// refresh; the node tiers are fork-safe themselves.
// Destruction: pending requests complete (kUnavailable, or their result); redirects that
// arrive meanwhile are not followed.
#pragma once

#include <sys/types.h>

#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "redis/cluster_slots.hpp"
#include "redis/redis_tier.hpp"

namespace stratacache::redis {

class ClusterTier final : public RedisOps {
 public:
  static constexpr int kMaxRedirects = 5;
  static constexpr std::chrono::milliseconds kMinRefreshGap{100};
  static constexpr std::chrono::milliseconds kRefreshInterval{10000};

  explicit ClusterTier(RedisOptions options, std::shared_ptr<Coherence> coherence = nullptr);
  ~ClusterTier() override;

  void close() override;
  L2Stats stats() const override;
  // Routes by req->slot (see the top).
  void send(RequestPtr req) override;

  // For tests and diagnostics.
  std::string slot_owner(uint16_t slot) const;  // "host:port"; "" before the first load
  std::vector<std::string> masters() const;
  uint64_t moved_redirects() const { return moved_.load(std::memory_order_relaxed); }
  uint64_t ask_redirects() const { return ask_.load(std::memory_order_relaxed); }
  uint64_t refreshes() const { return refreshes_.load(std::memory_order_relaxed); }

 protected:
  void send_keyed(std::shared_ptr<Keyed> k) override;
  Result<Servers> servers(Deadline deadline) override;
  Result<Servers> info_servers(Deadline deadline) override;  // the masters, then the replicas

 private:
  using Clock = std::chrono::steady_clock;
  struct Target {
    std::string address;
    bool asking = false;
  };
  struct Routed;   // one request on its way, and the redirects it followed
  struct Scatter;  // one multi-key request on its way

  // The node's tier, created on first use. Never null.
  RedisTier& node(const std::string& address);
  // Coherent L1: the masters' invalidation channels run, the others' stop; L1 is
  // emptied when slots changed owner (moved).
  void follow_masters(const std::vector<std::string>& masters, bool moved);
  // Loads the map when it has never been loaded (waiting up to the deadline for a load
  // in flight), and refreshes it when stale. kUnavailable/kTimeout when no node answered.
  Status ensure_map(Deadline deadline);
  // Asks the nodes for CLUSTER SLOTS and installs the answer. Skipped (false) when a
  // refresh is in flight, or one finished less than kMinRefreshGap ago.
  bool refresh(Deadline deadline, Status* error = nullptr);
  bool refresh_locked(Deadline deadline, Status* error);
  bool try_begin_refresh();  // false: a refresh is in flight in this process
  void end_refresh();
  void set_owner(uint16_t slot, const std::string& address);
  // Whether `s` is a MOVED/ASK reply; then target/slot say where to go.
  bool redirected(const Status& s, uint16_t* slot, Target* target);
  void route(std::shared_ptr<Routed> r);
  void on_routed(std::shared_ptr<Routed> r, Status s);
  void scatter_round(std::shared_ptr<Scatter> sc);
  void on_group(const std::shared_ptr<Scatter>& sc, const std::vector<size_t>& group, const Target& target);

  RedisOptions options_;
  std::vector<std::string> seeds_;

  mutable std::shared_mutex map_mu_;
  std::vector<std::string> addresses_;        // every node address the map ever named
  std::array<int16_t, kClusterSlots> owner_;  // index into addresses_; -1: unassigned
  std::vector<std::string> masters_;
  std::vector<std::string> replicas_;  // of every master, for server_info only
  bool loaded_ = false;

  // The pid of the process whose refresh is in flight (0: none). A pid rather than a
  // mutex so that a child forked during a refresh is not locked out of refreshing.
  std::atomic<pid_t> refreshing_pid_{0};
  std::atomic<bool> stale_{false};
  std::atomic<int64_t> last_refresh_ns_{0};  // steady_clock, 0: never

  mutable std::mutex nodes_mu_;
  std::map<std::string, std::unique_ptr<RedisTier>> nodes_;
  std::vector<std::string> known_masters_;  // under nodes_mu_: the nodes whose channel runs

  std::atomic<uint64_t> moved_{0}, ask_{0}, refreshes_{0};

  // Destruction: from closing_ on, completions resubmit nothing; the destructor waits for
  // the sends in progress (sending_) before it destroys the node tiers.
  std::atomic<bool> closing_{false};
  std::atomic<int> sending_{0};
};

}  // namespace stratacache::redis
