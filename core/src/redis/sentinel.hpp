// Master discovery through Redis Sentinel (redis+sentinel://).
//
// resolve() asks the sentinels in turn, starting with the one that answered last,
// `SENTINEL get-master-addr-by-name <name>`, each bounded by sentinel_timeout (connect,
// AUTH with sentinel_username/sentinel_password, query). The address a sentinel names
// is used only after the node itself confirms with ROLE that it is a master (with the
// data-node credentials and db): a sentinel that has not yet noticed a failover, or a
// node still loading, sends resolve() on to the next sentinel.
//
// Failures: kUnavailable naming every sentinel tried and why; kTimeout when the caller's
// deadline ran out first. Thread-safe; it holds no connection between calls.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "deadline.hpp"
#include "stratacache/options.hpp"
#include "stratacache/status.hpp"

namespace stratacache::redis {

struct Endpoint {
  std::string host;
  uint16_t port = 0;
  bool operator==(const Endpoint& o) const { return port == o.port && host == o.host; }
  bool operator!=(const Endpoint& o) const { return !(*this == o); }
  std::string to_string() const { return host + ":" + std::to_string(port); }
};

// `options` with the data node moved to `at` (what a pool connects with).
RedisOptions options_for(const RedisOptions& options, const Endpoint& at);

class SentinelResolver {
 public:
  // `options` must outlive the resolver.
  explicit SentinelResolver(const RedisOptions& options);

  Result<Endpoint> resolve(Deadline deadline);

 private:
  Result<Endpoint> ask(const RedisOptions& sentinel, Deadline deadline) const;
  Status verify_master(const Endpoint& at, Deadline deadline) const;

  const RedisOptions& options_;
  std::vector<RedisOptions> sentinels_;  // connection options of each sentinel
  std::atomic<size_t> preferred_{0};     // the sentinel that answered last
};

}  // namespace stratacache::redis
