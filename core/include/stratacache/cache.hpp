// The multi-level cache facade: L1 (in-process) in front of L2 (Redis).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "stratacache/codec.hpp"
#include "stratacache/lock.hpp"
#include "stratacache/metrics.hpp"
#include "stratacache/options.hpp"
#include "stratacache/read_through.hpp"
#include "stratacache/stats.hpp"
#include "stratacache/status.hpp"
#include "stratacache/value_ref.hpp"
#include "stratacache/value.hpp"

namespace stratacache {

// Per-call settings. Defaults come from Options.
struct CallOptions {
  static constexpr int64_t kDefaultTtl = -1;
  int64_t ttl_ms = kDefaultTtl;  // writes: < 0 default_ttl, 0 no expiry, > 0 milliseconds
  Millis timeout{-1};            // deadline for the whole call; < 0: socket_timeout
  bool skip_l1 = false;          // neither read nor write L1
  bool skip_l2 = false;          // neither read nor write L2
  // Writes (docs/tags.md): the tags of the written entries, and the keys they depend on
  // (overwriting, deleting or invalidating one of those removes the written entries).
  std::vector<std::string> tags;
  std::vector<std::string> depends_on;
};

// What warm() did: keys found in Redis (now in L1), keys loaded by the loader, keys
// that exist nowhere and keys that failed (Redis unavailable, timeout, a loader error:
// `error` is the first failure), each list in the order given.
struct WarmResult {
  int64_t found = 0;
  int64_t loaded = 0;
  std::vector<std::string> missing_keys;
  std::vector<std::string> failed_keys;
  Status error;
};

// What one key holds, for tools (Cache::inspect, stratacache_inspect_json). Read from
// L2 when the cache has one (the stored bytes: the envelope header is parsed, the body
// is neither decompressed nor decrypted), else from L1 (the decoded payload).
struct EntryInspection {
  const char* tier = "l2";     // "l2" or "l1": where it was read
  bool in_l1 = false;          // this handle holds an L1 copy
  const char* kind = "envelope";  // "envelope", "counter" (an INCRBY integer), "foreign"
                               // (not an envelope: another client's value), "payload" (L1)
  Format format = Format::kRaw;
  Compression compression = Compression::kNone;
  bool encrypted = false;
  uint32_t key_id = 0;         // encrypted only
  uint64_t stored_bytes = 0;   // bytes in Redis (envelope included), or the L1 payload
  uint64_t payload_bytes = 0;  // serialized length before compression
  int64_t ttl_ms = -1;         // remaining; -1: no expiry
  std::optional<EntryMeta> meta;  // read-through entry metadata (docs/envelope.md)
  bool stale = false;          // in its stale period: meta->stale_ms > 0 and ttl_ms <= it
  Status header_error;         // an envelope whose header does not parse: why (kind "envelope")
};

// Thread-safe. Failure contract of every operation:
//  - kNotFound: a miss (get) / missing key (ttl).
//  - kInvalidArgument: key longer than max_key_length (empty keys are allowed), a
//    value the serializer cannot encode.
//  - kUnavailable / kTimeout: L2 failed; L1 was still read/written (a write is then in
//    L1 only; a delete removed the L1 copy). Callers that prefer availability treat
//    these as a miss / success.
//  - An L2 value that cannot be read is a miss (kNotFound) counted in
//    stats().decode_errors. Only an envelope that is truncated, malformed or fails
//    authentication is deleted from L2, and only while it still holds the bytes read
//    (compare-and-delete). A value that is not an envelope (another client's) stays,
//    and with foreign_values=raw is returned as Format::kRaw; so does an envelope this
//    process cannot read (newer version, unknown key id, over max_value_bytes).
class Cache {
 public:
  static Result<std::unique_ptr<Cache>> open(std::string_view url);
  static Result<std::unique_ptr<Cache>> open(Options options);
  ~Cache();
  Cache(const Cache&) = delete;
  Cache& operator=(const Cache&) = delete;

  // Read-through L1 -> L2; an L2 hit back-fills L1 with a TTL never beyond the
  // entry's remaining L2 TTL.
  Result<Payload> get(std::string_view key, const CallOptions& call = {});
  // The same without copying the value: the caller shares L1's immutable entry (valid
  // for as long as the ValueRef lives, even after eviction). The fastest read.
  Result<ValueRef> get_ref(std::string_view key, const CallOptions& call = {});
  // Kept for compatibility: a copy of the value in a shared Payload.
  Result<std::shared_ptr<const Payload>> get_shared(std::string_view key, const CallOptions& call = {});
  // get + deserialize by the stored format (raw payloads come back as Bytes).
  Result<Value> get_value(std::string_view key, const CallOptions& call = {});
  // Deserialize a value already read (get_ref) by its stored format; undecodable bytes
  // are a miss counted in stats().decode_errors, as in get_value.
  Result<Value> decode_value(const ValueRef& value) const;
  // One L2 round trip for all keys; result[i] for keys[i].
  std::vector<Result<Payload>> mget(const std::vector<std::string>& keys, const CallOptions& call = {});

  Status set(std::string_view key, const Payload& value, const CallOptions& call = {});
  Status set(std::string_view key, Payload&& value, const CallOptions& call = {});
  // Serialized with Options::serializer.
  Status set_value(std::string_view key, const Value& value, const CallOptions& call = {});
  Status mset(const std::vector<std::pair<std::string, Payload>>& items, const CallOptions& call = {});

  // Returns how many of the keys existed (in L2 when it is enabled, else in L1).
  Result<int64_t> del(const std::vector<std::string>& keys, const CallOptions& call = {});
  Result<int64_t> del(std::string_view key, const CallOptions& call = {});
  Result<bool> exists(std::string_view key, const CallOptions& call = {});
  // Remaining TTL in ms; -1 when the key never expires; kNotFound when missing.
  Result<int64_t> ttl_ms(std::string_view key, const CallOptions& call = {});
  // Atomic add (INCRBY in Redis); a missing key starts at 0 and gets call.ttl_ms
  // (default_ttl when < 0) as its TTL; incrementing never extends a TTL.
  // kWrongType when the key holds a non-integer.
  Result<int64_t> increment(std::string_view key, int64_t amount = 1, const CallOptions& call = {});
  // Delete keys matching a Redis glob in L1 and L2 (SCAN + UNLINK, never KEYS).
  // The default deadline is max(socket_timeout, 30 s).
  Result<int64_t> clear_pattern(std::string_view glob, const CallOptions& call = {});

  // Asynchronous forms of every operation (docs/l2.md, "The request path"): the same
  // code as the synchronous form (which is this one, waited for), so the same semantics
  // and failure contract, but the L2 round trip does not block the caller. `done` runs
  // exactly once: inline when the call needs no L2 round trip (an L1 hit, skip_l2,
  // invalid arguments, a fast failure such as an open breaker), else on the L2 tier's
  // I/O thread. It must not block and must not make synchronous calls on this cache
  // (asynchronous ones are fine). The cache must outlive pending calls; destroying it
  // completes them with kUnavailable.
  void get_async(std::string_view key, const CallOptions& call, std::function<void(Result<ValueRef>)> done);
  void set_async(std::string_view key, Payload value, const CallOptions& call, std::function<void(Status)> done);
  void del_async(const std::vector<std::string>& keys, const CallOptions& call,
                 std::function<void(Result<int64_t>)> done);
  void exists_async(std::string_view key, const CallOptions& call, std::function<void(Result<bool>)> done);
  void ttl_ms_async(std::string_view key, const CallOptions& call, std::function<void(Result<int64_t>)> done);
  void increment_async(std::string_view key, int64_t amount, const CallOptions& call,
                       std::function<void(Result<int64_t>)> done);
  void mget_async(const std::vector<std::string>& keys, const CallOptions& call,
                  std::function<void(std::vector<Result<Payload>>)> done);
  void mset_async(std::vector<std::pair<std::string, Payload>> items, const CallOptions& call,
                  std::function<void(Status)> done);
  void clear_pattern_async(std::string_view glob, const CallOptions& call, std::function<void(Result<int64_t>)> done);
  void health_async(const CallOptions& call, std::function<void(HealthInfo)> done);
  // ---- Read-through (docs/read-through.md) ----
  // The value of `key`, loading it with `loader` (on this thread) when it is missing
  // or past its fresh period. Concurrent callers of one key share one load: in this
  // process (any thread, any language on this handle) and, through a lease in Redis,
  // across processes. Errors: kNotFound for "does not exist" (a negative entry or the
  // loader's answer); the loader's error when it fails and no stale value exists;
  // kTimeout when hard_timeout passed while waiting for another caller's load.
  Result<Loaded> get_or_load(std::string_view key, const Loader& loader, const LoadOptions& options = {});
  // The same without a callback, for hosts whose loaders are asynchronous: a value, or
  // a Lease that the caller fills or abandons later, from any thread (see Lookup).
  Lookup acquire(std::string_view key, const LoadOptions& options = {});
  // acquire without blocking: `done` as in the *_async calls above, except that it may
  // also run on a library timer thread (a wait that ended by its deadline).
  void acquire_async(std::string_view key, const LoadOptions& options, std::function<void(Lookup)> done);

  // ---- Warming (docs/l1.md, "Warming") ----
  // Fills L1 from Redis: the keys are read in batches of 1000 per round trip (grouped
  // per node on a Cluster), without an L1 probe, and every value found enters L1 (the
  // promotion threshold does not apply; W-TinyLFU admission does). Never throws away a
  // failure: keys Redis did not answer for count in `failed`, the first reason in `error`.
  WarmResult warm(const std::vector<std::string>& keys, const CallOptions& call = {});
  void warm_async(const std::vector<std::string>& keys, const CallOptions& call, std::function<void(WarmResult)> done);
  // The same, then loads the keys still missing through read-through (get_or_load, one
  // after another on this thread: one load per key across processes still holds).
  WarmResult warm(const std::vector<std::string>& keys, const Loader& loader, const LoadOptions& options = {});
  // ---- Tags and dependencies (docs/tags.md) ----
  // Removes every entry written with one of `tags` (and, transitively, their dependents)
  // from L2 and from L1 (this process at once, others through coherence). Returns how
  // many entries were removed. The default deadline is max(socket_timeout, 30 s).
  Result<int64_t> invalidate_tags(const std::vector<std::string>& tags, const CallOptions& call = {});
  void invalidate_tags_async(const std::vector<std::string>& tags, const CallOptions& call,
                             std::function<void(Result<int64_t>)> done);
  // ---- Distributed locks (docs/locks.md) ----
  // Acquires the lock `name` for options.ttl, waiting up to options.wait for its holder.
  // kTimeout: still held by another owner when the wait ran out (or Redis did not answer
  // in time); kUnavailable: Redis failed (a lock never degrades to this process only);
  // kInvalidArgument: a bad ttl/wait or a name over max_key_length.
  Result<std::unique_ptr<DistributedLock>> lock(std::string_view name, const LockOptions& options = {});
  // The same without blocking; `done` as in acquire_async (it may run on a timer thread).
  void lock_async(std::string_view name, const LockOptions& options,
                  std::function<void(Result<std::unique_ptr<DistributedLock>>)> done);

  // Whether the *_async calls never block on L2 (true for mem://, standalone, Sentinel
  // and Cluster; a cluster's first call loads its slot map, docs/cluster.md).
  bool l2_async_native() const;

  void flush_l1();
  CacheStats stats() const;
  // The counters of stats() with the latency histograms (docs/metrics.md).
  CacheMetrics metrics() const;
  // Never fails: an unreachable L2 gives healthy=false with the reason.
  HealthInfo health(const CallOptions& call = {});
  // What `key` holds (EntryInspection), without decoding the value or counting a hit
  // or a miss in L1; an L2 read counts as one. kNotFound when the key is absent.
  Result<EntryInspection> inspect(std::string_view key, const CallOptions& call = {});
  // How many keys match a Redis glob (clear_pattern's dry run): SCAN MATCH on every
  // master, never KEYS, each key counted once; without L2 (or with skip_l2), the live
  // L1 entries. Deletes nothing.
  Result<int64_t> count_matching(std::string_view glob, const CallOptions& call = {});
  // Server INFO of every Redis node this cache knows, each and summed (docs/operations.md,
  // "Server info"). Unreachable nodes are listed with their error; fails only when no
  // node answered. mem://: kUnsupported.
  Result<ServerInfo> server_info(const CallOptions& call = {});
  void server_info_async(const CallOptions& call, std::function<void(Result<ServerInfo>)> done);
  const Options& options() const;

  struct Impl;

 private:
  friend class WriteBehind;  // adds its counters to stats() (write_behind.hpp)
  explicit Cache(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Library version at run time ("0.1.0").
const char* version_string() noexcept;

}  // namespace stratacache
