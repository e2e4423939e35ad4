// Master discovery through Redis Sentinel (redis+sentinel://).
//
// resolve() asks the sentinels in turn, starting with the one that answered last,
// `SENTINEL get-master-addr-by-name <name>`, each bounded by sentinel_timeout (connect,
// AUTH with sentinel_username/sentinel_password, query). The address a sentinel names
// is used only after the node itself confirms with ROLE that it is a master (with the
// data-node credentials and db): a sentinel that has not yet noticed a failover, or a
// node still loading, sends resolve() on to the next sentinel.
//
// TLS (rediss+sentinel://): the sentinels and the data nodes are both reached over TLS,
// verified with the same ssl_* options (one TlsContext here for the sentinels and the
// ROLE check; the tier's pool has its own for the data path). A sentinel that does not
// speak TLS is one more "why" in the kUnavailable below, bounded by sentinel_timeout.
//
// Failures: kUnavailable naming every sentinel tried and why (kPermissionDenied, with
// the same message, when every attempt was refused: TLS verification or AUTH); kTimeout
// when the caller's deadline ran out first; the TlsContext's kInvalidArgument (an unloadable CA, client
// certificate or key) on every call, before any connect. Thread-safe; it holds no
// connection between calls.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <thread>
#include <cstdint>
#include <string>
#include <vector>

#include "deadline.hpp"
#include "stratacache/options.hpp"
#include "stratacache/status.hpp"

namespace stratacache::redis {

class Connection;
class TlsContext;

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
  ~SentinelResolver();

  Result<Endpoint> resolve(Deadline deadline);

  // One sentinel's answer, on an open connection to it (no ROLE check).
  Result<Endpoint> query(Connection& sentinel, Deadline deadline) const;
  const std::vector<RedisOptions>& sentinels() const { return sentinels_; }
  size_t preferred() const { return preferred_.load(std::memory_order_relaxed); }
  // Opens a connection to sentinel `i` (over TLS for rediss+sentinel://).
  Result<std::unique_ptr<Connection>> connect(size_t i, Deadline deadline) const;

 private:
  Result<Endpoint> ask(size_t sentinel, Deadline deadline) const;
  Status verify_master(const Endpoint& at, Deadline deadline) const;

  const RedisOptions& options_;
  std::vector<RedisOptions> sentinels_;  // connection options of each sentinel
  std::unique_ptr<TlsContext> tls_;      // null: plain TCP
  Status tls_error_;                     // why tls_ could not be built
  std::atomic<size_t> preferred_{0};     // the sentinel that answered last
};

// A background thread that asks a sentinel for the master every
// sentinel_watch_interval over one kept-open connection (moving on to the next sentinel
// when that one fails) and bumps `*news` whenever the answer changes, so the tier
// re-resolves on its next call instead of writing to a demoted master until Sentinel
// reconfigures it (which can take ~10 s after a manual failover). Polling rather than
// SUBSCRIBE +switch-master: the same answer, one code path, nothing to resynchronise
// after a reconnect.
//
// The thread only writes `*news` (an atomic) and its own state. Fork: the child has no
// such thread; the tier starts a new watcher there and abandon()s the inherited one.
class SentinelWatcher {
 public:
  // `resolver`, `news` and `options` must outlive the watcher.
  SentinelWatcher(const RedisOptions& options, const SentinelResolver& resolver, std::atomic<uint64_t>& news);
  ~SentinelWatcher();  // stops and joins the thread (at most one sentinel_timeout)
  SentinelWatcher(const SentinelWatcher&) = delete;
  SentinelWatcher& operator=(const SentinelWatcher&) = delete;

 private:
  void loop();

  const RedisOptions& options_;
  const SentinelResolver& resolver_;
  std::atomic<uint64_t>& news_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace stratacache::redis
