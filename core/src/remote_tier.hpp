// The L2 tier contract. Keys are full Redis keys (prefix already applied by the facade);
// values are envelopes (opaque bytes). Every method returns by its deadline.
// Failure contract: kUnavailable (cannot reach the server / connection lost / backing
// off after failed connects), kTimeout (deadline passed; the connection is discarded so a
// late reply never reaches another caller), kPermissionDenied (AUTH/ACL), kWrongType,
// kTooLarge (reply over limits), kInternal (unexpected reply). kNotFound is a miss.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
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
};

class RemoteTier {
 public:
  virtual ~RemoteTier() = default;

  // false only for the null tier (mem://).
  virtual bool enabled() const = 0;

  // GET + PTTL in one round trip.
  virtual Result<RemoteEntry> get(std::string_view key, Deadline deadline) = 0;
  // One round trip for all keys; result[i] is kNotFound for a miss. On a transport
  // failure every element carries that failure.
  virtual std::vector<Result<RemoteEntry>> mget(const std::vector<std::string>& keys, Deadline deadline) = 0;
  virtual Status set(std::string_view key, std::string_view value, int64_t ttl_ms, Deadline deadline) = 0;
  virtual Status mset(const std::vector<RemoteWrite>& writes, Deadline deadline) = 0;
  // Number of keys that existed.
  virtual Result<int64_t> del(const std::vector<std::string>& keys, Deadline deadline) = 0;
  virtual Result<bool> exists(std::string_view key, Deadline deadline) = 0;
  // kNotFound when missing; -1 when the key has no TTL; else remaining ms.
  virtual Result<int64_t> pttl(std::string_view key, Deadline deadline) = 0;
  // INCRBY; when ttl_ms > 0 the key gets that TTL only if it has none (EXPIRE NX),
  // in the same round trip. kWrongType when the key holds a non-integer.
  virtual Result<int64_t> incr_by(std::string_view key, int64_t amount, int64_t ttl_ms, Deadline deadline) = 0;
  // SCAN MATCH glob + batched UNLINK; never KEYS. Returns the number deleted.
  virtual Result<int64_t> delete_matching(std::string_view glob, Deadline deadline) = 0;
  virtual Result<HealthInfo> health(Deadline deadline) = 0;
  virtual L2Stats stats() const = 0;

  // ---- compare-and-delete: a read removes only the damaged value it read ----
  // Deletes `key` only while it still holds exactly `expected` (one atomic step on the
  // server: EVAL of GET == ARGV[1] then DEL), so a value written since it was read
  // survives. true: deleted. Idempotent. The null tier: false.
  virtual Result<bool> delete_if_value(std::string_view key, std::string_view expected, Deadline deadline) = 0;
  // The same, asynchronous (see below). The Redis tiers never block in it, so it may be
  // called from another request's completion.
  virtual void delete_if_value_async(std::string_view key, std::string_view expected, Deadline deadline,
                                     std::function<void(Result<bool>)> done) {
    done(delete_if_value(key, expected, deadline));
  }
  // ---- end compare-and-delete ----

  // Asynchronous submission. The callback runs exactly once: later on the tier's I/O
  // thread (or on a thread that happened to read the reply), or inline before the call
  // returns when the request fails at once (breaker open, no connection). It must not
  // block or make synchronous calls on this tier. The tier must outlive its pending
  // requests; destroying it completes them with kUnavailable.
  // async_native(): whether these really are non-blocking. The defaults below run the
  // synchronous method inline (the null tier: nothing to wait for), so a caller on an
  // event loop should use a thread instead when async_native() is false.
  virtual bool async_native() const { return false; }
  // Completes every pending asynchronous request (kUnavailable) and stops background
  // threads; later calls fail. Called by the cache before it tears down what
  // completions use. Idempotent.
  virtual void close() {}
  virtual void get_async(std::string_view key, Deadline deadline, std::function<void(Result<RemoteEntry>)> done) {
    done(get(key, deadline));
  }
  virtual void set_async(std::string_view key, std::string_view value, int64_t ttl_ms, Deadline deadline,
                         std::function<void(Status)> done) {
    done(set(key, value, ttl_ms, deadline));
  }
  virtual void del_async(const std::vector<std::string>& keys, Deadline deadline,
                         std::function<void(Result<int64_t>)> done) {
    done(del(keys, deadline));
  }
};

// The null object for mem://: every read misses, every write is a successful no-op.
std::unique_ptr<RemoteTier> make_null_remote_tier();
// A standalone Redis tier (TCP or unix socket). Never fails to construct: connection
// happens lazily, so a Redis that is down at start only makes L2 calls unavailable.
std::unique_ptr<RemoteTier> make_redis_tier(const RedisOptions& options);

}  // namespace stratacache
