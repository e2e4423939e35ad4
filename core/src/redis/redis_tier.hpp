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
#pragma once

#include <string>
#include <string_view>

#include "redis/pool.hpp"
#include "remote_tier.hpp"

namespace stratacache::redis {

class RedisTier final : public RemoteTier {
 public:
  explicit RedisTier(RedisOptions options);
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
  L2Stats stats() const override { return counters_.snapshot(); }

  // A plain GET (no PTTL): the bare round trip, for benchmarks and comparisons.
  Result<std::string> get_value(std::string_view key, Deadline deadline);

 private:
  // Runs fn(Connection&) -> Status on a pooled connection, with the retry described above.
  template <typename Fn>
  Status run(Deadline deadline, bool idempotent, Fn&& fn);
  // Count a failed operation.
  void count_failure(const Status& s);
  Status failed(Status s);

  RedisOptions options_;
  Counters counters_;
  ConnectionPool pool_;
};

}  // namespace stratacache::redis
