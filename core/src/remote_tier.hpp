// The L2 tier contract. Keys are full Redis keys (prefix already applied by the facade);
// values are envelopes (opaque bytes). Every operation completes by its deadline.
// Failure contract: kUnavailable (cannot reach the server / connection lost / breaker
// open), kTimeout (deadline passed; a late reply is read and dropped, never handed to
// another caller), kPermissionDenied (AUTH/ACL), kWrongType, kTooLarge (reply over
// limits), kInternal (unexpected reply). kNotFound is a miss.
//
// Every operation is declared once, as a virtual taking a Call and a completion:
// - Call::wait = false: asynchronous. `done` runs exactly once, later on the tier's I/O
//   thread (or on a thread that happened to read the reply), or inline before the call
//   returns when it fails at once (breaker open, no connection) or needs no round trip.
//   It must not block and must not make waiting calls on this tier.
// - Call::wait = true: synchronous. The I/O happens on the calling thread and `done`
//   has run when the call returns. The non-virtual forms below (get(key, deadline) ...)
//   are exactly that, returning the result.
// The tier must outlive its pending requests; close() (or destruction) completes them
// with kUnavailable.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "deadline.hpp"
#include "stratacache/options.hpp"
#include "stratacache/stats.hpp"
#include "stratacache/status.hpp"

namespace stratacache {

struct RemoteEntry {
  std::string value;
  int64_t pttl_ms = -1;  // remaining TTL in ms; -1: no expiry
};

struct RemoteWrite {
  std::string key;
  std::string value;
  int64_t ttl_ms = 0;  // 0: no expiry
  // Dependencies (docs/tags.md): when not empty, EXISTS of this key (in key's slot) rides
  // in the same pipeline as the write, and *exists_out (which must live until the write
  // completes) tells whether it existed.
  std::string check_key{};
  uint8_t* exists_out = nullptr;
};

// What lease_try found (read-through leases, docs/read-through.md).
struct LeaseTry {
  bool acquired = false;       // the lease is this caller's
  bool value_arrived = false;  // not taken: the value key exists now (only with if_absent)
  int64_t holder_pttl_ms = 0;  // not taken: the current holder's remaining lease time
};

// The reply of a Lua script (RemoteTier::script): nil, an integer, a string (bulk or
// status reply), or an array of them.
struct ScriptValue {
  enum class Kind : uint8_t { kNil, kInteger, kString, kArray };
  Kind kind = Kind::kNil;
  int64_t integer = 0;
  std::string str;
  std::vector<ScriptValue> items;
};

struct Call {
  Deadline deadline;
  bool wait = false;  // synchronous: I/O on the calling thread, done() before returning
};

template <typename T>
using Done = std::function<void(Result<T>)>;
using DoneStatus = std::function<void(Status)>;
using DoneEntries = std::function<void(std::vector<Result<RemoteEntry>>)>;

class RemoteTier {
 public:
  virtual ~RemoteTier() = default;

  // false only for the null tier (mem://).
  virtual bool enabled() const = 0;
  // Whether wait = false calls really are non-blocking (false: they complete inline).
  virtual bool async_native() const { return false; }
  // Completes every pending asynchronous request (kUnavailable) and stops background
  // threads; later calls fail. Called by the cache before it tears down what
  // completions use. Idempotent.
  virtual void close() {}
  virtual L2Stats stats() const = 0;

  // ---- Operations ----
  // GET + PTTL in one round trip.
  virtual void get(std::string_view key, Call call, Done<RemoteEntry> done) = 0;
  // result[i] for keys[i]: kNotFound for a miss, a failure for that key only where the
  // server answered so (per key), or the transport failure for every key.
  virtual void mget(const std::vector<std::string>& keys, Call call, DoneEntries done) = 0;
  virtual void set(std::string_view key, std::string_view value, int64_t ttl_ms, Call call, DoneStatus done) = 0;
  virtual void mset(const std::vector<RemoteWrite>& writes, Call call, DoneStatus done) = 0;
  // Number of keys that existed.
  virtual void del(const std::vector<std::string>& keys, Call call, Done<int64_t> done) = 0;
  virtual void exists(std::string_view key, Call call, Done<bool> done) = 0;
  // kNotFound when missing; -1 when the key has no TTL; else remaining ms.
  virtual void pttl(std::string_view key, Call call, Done<int64_t> done) = 0;
  // INCRBY; when ttl_ms > 0 a key created by this increment gets that TTL, in the same
  // round trip. kWrongType when the key holds a non-integer. Not idempotent.
  virtual void incr_by(std::string_view key, int64_t amount, int64_t ttl_ms, Call call, Done<int64_t> done) = 0;
  // SCAN MATCH glob + batched UNLINK on every master; never KEYS. The number deleted.
  virtual void delete_matching(std::string_view glob, Call call, Done<int64_t> done) = 0;
  // The same SCAN MATCH on every master, deleting nothing: how many distinct keys match.
  virtual void count_matching(std::string_view glob, Call call, Done<int64_t> done) = 0;
  // Never fails: an unreachable server is HealthInfo{healthy = false, error}.
  virtual void health(Call call, std::function<void(HealthInfo)> done) = 0;
  // INFO of every server this client knows (standalone: the server; Sentinel: the
  // current master; Cluster: every master and replica), each node's and their sum
  // (docs/operations.md, "Server info"). A node that did not answer is listed with its
  // error; the call fails only when none answered. The null tier: kUnsupported.
  virtual void server_info(Call call, Done<ServerInfo> done) = 0;
  // Compare-and-delete: deletes `key` only while it still holds exactly `expected` (one
  // atomic step on the server), so a value written since it was read survives. true:
  // deleted. Idempotent. The null tier: false.
  virtual void delete_if_value(std::string_view key, std::string_view expected, Call call, Done<bool> done) = 0;
  // Read-through leases: lease_key is in value_key's hash slot (one atomic script each).
  // Takes the lease (SET lease_key token NX PX ttl_ms) unless another caller holds it,
  // or (if_absent) unless value_key exists. Reads the keys it checks, so that in
  // tracking mode this process hears when they change. The null tier: always acquired.
  virtual void lease_try(std::string_view value_key, std::string_view lease_key, std::string_view token,
                         int64_t ttl_ms, bool if_absent, Call call, Done<LeaseTry> done) = 0;
  // Fenced fill: writes value_key (ttl_ms; 0: no expiry) and deletes the lease only
  // while lease_key holds token. true: written; false: refused (the lease expired or
  // was taken over). The null tier: true.
  virtual void lease_fill(std::string_view value_key, std::string_view lease_key, std::string_view token,
                          std::string_view value, int64_t ttl_ms, Call call, Done<bool> done) = 0;
  // Runs a Lua script (EVAL) with `keys` and `args` on the server of keys[0]; every key
  // must hash to one slot (Cluster: a script over several slots fails with CROSSSLOT).
  // idempotent: whether running it twice is harmless (then a request that met a dead
  // connection is retried). An error reply is a server error (kInternal with Redis's
  // message). Reads in a script track keys like any read (coherence.hpp). The null
  // tier: kUnsupported (features with an in-process form check enabled() first).
  virtual void script(std::string_view lua, const std::vector<std::string>& keys,
                      const std::vector<std::string>& args, bool idempotent, Call call, Done<ScriptValue> done) = 0;

  // ---- Synchronous forms (Call::wait = true) ----
  Result<RemoteEntry> get(std::string_view key, Deadline d) {
    return wait_for<RemoteEntry>([&](auto done) { get(key, Call{d, true}, std::move(done)); });
  }
  std::vector<Result<RemoteEntry>> mget(const std::vector<std::string>& keys, Deadline d) {
    std::vector<Result<RemoteEntry>> out;
    mget(keys, Call{d, true}, [&out](std::vector<Result<RemoteEntry>> r) { out = std::move(r); });
    return out;
  }
  Status set(std::string_view key, std::string_view value, int64_t ttl_ms, Deadline d) {
    Status out;
    set(key, value, ttl_ms, Call{d, true}, [&out](Status s) { out = std::move(s); });
    return out;
  }
  Status mset(const std::vector<RemoteWrite>& writes, Deadline d) {
    Status out;
    mset(writes, Call{d, true}, [&out](Status s) { out = std::move(s); });
    return out;
  }
  Result<int64_t> del(const std::vector<std::string>& keys, Deadline d) {
    return wait_for<int64_t>([&](auto done) { del(keys, Call{d, true}, std::move(done)); });
  }
  Result<bool> exists(std::string_view key, Deadline d) {
    return wait_for<bool>([&](auto done) { exists(key, Call{d, true}, std::move(done)); });
  }
  Result<int64_t> pttl(std::string_view key, Deadline d) {
    return wait_for<int64_t>([&](auto done) { pttl(key, Call{d, true}, std::move(done)); });
  }
  Result<int64_t> incr_by(std::string_view key, int64_t amount, int64_t ttl_ms, Deadline d) {
    return wait_for<int64_t>([&](auto done) { incr_by(key, amount, ttl_ms, Call{d, true}, std::move(done)); });
  }
  Result<int64_t> delete_matching(std::string_view glob, Deadline d) {
    return wait_for<int64_t>([&](auto done) { delete_matching(glob, Call{d, true}, std::move(done)); });
  }
  Result<int64_t> count_matching(std::string_view glob, Deadline d) {
    return wait_for<int64_t>([&](auto done) { count_matching(glob, Call{d, true}, std::move(done)); });
  }
  Result<bool> delete_if_value(std::string_view key, std::string_view expected, Deadline d) {
    return wait_for<bool>([&](auto done) { delete_if_value(key, expected, Call{d, true}, std::move(done)); });
  }
  Result<ScriptValue> script(std::string_view lua, const std::vector<std::string>& keys,
                             const std::vector<std::string>& args, bool idempotent, Deadline d) {
    return wait_for<ScriptValue>(
        [&](auto done) { script(lua, keys, args, idempotent, Call{d, true}, std::move(done)); });
  }
  Result<ServerInfo> server_info(Deadline d) {
    return wait_for<ServerInfo>([&](auto done) { server_info(Call{d, true}, std::move(done)); });
  }
  HealthInfo health(Deadline d) {
    HealthInfo out;
    health(Call{d, true}, [&out](HealthInfo h) { out = std::move(h); });
    return out;
  }

  // ---- Asynchronous shorthands (Call::wait = false) ----
  void get_async(std::string_view key, Deadline d, Done<RemoteEntry> done) { get(key, Call{d, false}, std::move(done)); }
  void set_async(std::string_view key, std::string_view value, int64_t ttl_ms, Deadline d, DoneStatus done) {
    set(key, value, ttl_ms, Call{d, false}, std::move(done));
  }
  void del_async(const std::vector<std::string>& keys, Deadline d, Done<int64_t> done) {
    del(keys, Call{d, false}, std::move(done));
  }
  void delete_if_value_async(std::string_view key, std::string_view expected, Deadline d, Done<bool> done) {
    delete_if_value(key, expected, Call{d, false}, std::move(done));
  }

 private:
  template <typename T, typename Submit>
  static Result<T> wait_for(Submit&& submit) {
    Result<T> out(internal_error("the request did not complete"));
    submit([&out](Result<T> r) { out = std::move(r); });
    return out;
  }
};

// The null object for mem://: every read misses, every write is a successful no-op.
std::unique_ptr<RemoteTier> make_null_remote_tier();
// A Redis tier: standalone (TCP or unix socket), Sentinel or Cluster, by the options.
// Never fails to construct: connection happens lazily, so a Redis that is down at start
// only makes L2 calls unavailable. coherence: the cache's coherent-L1 state
// (coherence.hpp); null: no invalidation channel.
class Coherence;
std::unique_ptr<RemoteTier> make_redis_tier(const RedisOptions& options, std::shared_ptr<Coherence> coherence = nullptr);

}  // namespace stratacache
