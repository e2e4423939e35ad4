// Every RemoteTier operation, written once for every Redis deployment (docs/l2.md,
// "The request path").
//
// An operation is commands + a reply handler + a completion (redis/request.hpp). It
// knows nothing of connections, retries, redirects or breakers: it hands its Request to
// send(), which a transport implements:
// - RedisTier (standalone, Sentinel, one Cluster node): pipes, breaker, retry of a
//   request that met a dead connection, Sentinel re-resolution;
// - ClusterTier: routing by hash slot to a node's RedisTier, MOVED/ASK/TRYAGAIN.
// Multi-key operations (mget, mset, del) are a Keyed request: one set of commands per
// key, which a transport groups (all keys in one request on a standalone server; per
// node or per slot on a Cluster). Per-server operations (SCAN-based pattern delete,
// health) run on every server that holds keys (servers()).
//
// Counting: hits, misses, sets, deletes and failed operations (errors) are counted here,
// once per operation; the kind of a failure (timeout, connection, server, ...) where it
// happened, by the transport.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "redis/pool.hpp"
#include "redis/request.hpp"
#include "coherence.hpp"
#include "remote_tier.hpp"

namespace stratacache::redis {

// A multi-key request. Items are the keys, in the caller's order.
struct Keyed {
  Keyed(Call c, bool per_slot_groups) : call(c), per_slot(per_slot_groups) {}
  Call call;
  bool idempotent = true;
  // Cluster: every group holds keys of one slot (commands that take several keys of one
  // slot, and pipelines that must not be split by a migration), else one group per node.
  bool per_slot;
  std::vector<uint16_t> slots;  // per item (Cluster only)
  // Adds the commands of `items` to `req` and sets its reply handler, which writes one
  // Status per item into (*statuses)[item] (a miss is ok) and returns ok when the
  // replies were read (item failures are in the statuses).
  std::function<void(Request& req, const std::vector<size_t>& items, std::vector<Status>* statuses)> build;
  // Once, with one Status per item (a transport failure is every affected item's).
  std::function<void(std::vector<Status>)> done;
};

class RedisOps : public RemoteTier {
 public:
  bool enabled() const override { return true; }
  bool async_native() const override { return true; }

  void get(std::string_view key, Call call, Done<RemoteEntry> done) override;
  void mget(const std::vector<std::string>& keys, Call call, DoneEntries done) override;
  void set(std::string_view key, std::string_view value, int64_t ttl_ms, Call call, DoneStatus done) override;
  void mset(const std::vector<RemoteWrite>& writes, Call call, DoneStatus done) override;
  void del(const std::vector<std::string>& keys, Call call, Done<int64_t> done) override;
  void exists(std::string_view key, Call call, Done<bool> done) override;
  void pttl(std::string_view key, Call call, Done<int64_t> done) override;
  void incr_by(std::string_view key, int64_t amount, int64_t ttl_ms, Call call, Done<int64_t> done) override;
  void delete_matching(std::string_view glob, Call call, Done<int64_t> done) override;
  void count_matching(std::string_view glob, Call call, Done<int64_t> done) override;
  void health(Call call, std::function<void(HealthInfo)> done) override;
  void server_info(Call call, Done<ServerInfo> done) override;  // redis/server_info.cpp
  void delete_if_value(std::string_view key, std::string_view expected, Call call, Done<bool> done) override;
  void lease_try(std::string_view value_key, std::string_view lease_key, std::string_view token, int64_t ttl_ms,
                 bool if_absent, Call call, Done<LeaseTry> done) override;
  void lease_fill(std::string_view value_key, std::string_view lease_key, std::string_view token,
                  std::string_view value, int64_t ttl_ms, Call call, Done<bool> done) override;
  void script(std::string_view lua, const std::vector<std::string>& keys, const std::vector<std::string>& args,
              bool idempotent, Call call, Done<ScriptValue> done) override;
  using RemoteTier::del;
  using RemoteTier::delete_if_value;
  using RemoteTier::count_matching;
  using RemoteTier::delete_matching;
  using RemoteTier::exists;
  using RemoteTier::get;
  using RemoteTier::health;
  using RemoteTier::incr_by;
  using RemoteTier::mget;
  using RemoteTier::mset;
  using RemoteTier::pttl;
  using RemoteTier::script;
  using RemoteTier::server_info;
  using RemoteTier::set;

  // A plain GET (no PTTL): the bare round trip, for benchmarks and comparisons.
  Result<std::string> get_value(std::string_view key, Deadline deadline);

  // Sends one request: req->done runs exactly once (see redis/request.hpp).
  virtual void send(RequestPtr req) = 0;

 protected:
  virtual void send_keyed(std::shared_ptr<Keyed> k) = 0;
  // The servers that hold keys (the master; every Cluster master), for per-server
  // operations; `cluster` tells that each holds only some slots.
  struct Servers {
    std::vector<RedisOps*> nodes;
    std::vector<std::string> names;  // Cluster: each node's address (for messages)
    bool cluster = false;
  };
  virtual Result<Servers> servers(Deadline deadline) = 0;
  // The servers server_info asks: servers(), and on a Cluster the replicas too.
  virtual Result<Servers> info_servers(Deadline deadline) { return servers(deadline); }
  // "host:port" of the server this transport talks to now ("" for a Cluster).
  virtual std::string address() const { return {}; }

  // A single-key request for `key`.
  RequestPtr request(std::string_view key, Call call);
  // Counts a failed operation (not a miss) and passes it on.
  Status failed(Status s);
  // delete_matching (unlink) and count_matching: SCAN MATCH on every server; the
  // number of keys unlinked, or of distinct keys seen.
  void scan_matching(std::string_view glob, bool unlink, Call call, Done<int64_t> done);

  // Coherent L1 in tracking mode: a write also reads its key back (one script), so the
  // connection keeps tracking it (a write untracks a key on the server).
  bool track_writes() const { return coherence_ && coherence_->tracking(); }
  std::shared_ptr<Coherence> coherence_;

  Counters counters_;     // the operations' counts; a RedisTier adds its transport's
  size_t scan_count_ = 1000;  // SCAN COUNT of delete_matching
};

}  // namespace stratacache::redis
