// The L2 tier contract. Keys are full Redis keys (prefix already applied by the facade);
// values are envelopes (opaque bytes). Every method returns by its deadline.
// Failure contract: kUnavailable (cannot reach the server / connection lost / backing
// off after failed connects), kTimeout (deadline passed; the connection is discarded so a
// late reply never reaches another caller), kPermissionDenied (AUTH/ACL), kWrongType,
// kTooLarge (reply over limits), kInternal (unexpected reply). kNotFound is a miss.
#pragma once

#include <cstdint>
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
};

// The null object for mem://: every read misses, every write is a successful no-op.
std::unique_ptr<RemoteTier> make_null_remote_tier();
// A standalone Redis tier (TCP or unix socket). Never fails to construct: connection
// happens lazily, so a Redis that is down at start only makes L2 calls unavailable.
std::unique_ptr<RemoteTier> make_redis_tier(const RedisOptions& options);

}  // namespace stratacache
