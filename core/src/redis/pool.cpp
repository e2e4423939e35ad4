#include "redis/pool.hpp"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "stratacache/log.hpp"

namespace stratacache::redis {
namespace {

void on_fork_child() { detail::g_fork_generation.fetch_add(1, std::memory_order_relaxed); }
std::once_flag g_atfork_once;

}  // namespace


L2Stats Counters::snapshot() const {
  auto get = [](const std::atomic<uint64_t>& c) { return c.load(std::memory_order_relaxed); };
  L2Stats s;
  s.hits = get(hits);
  s.misses = get(misses);
  s.sets = get(sets);
  s.deletes = get(deletes);
  s.errors = get(errors);
  s.timeouts = get(timeouts);
  s.connect_failures = get(connect_failures);
  s.connections_opened = get(connections_opened);
  s.connections_discarded = get(connections_discarded);
  s.fast_failures = get(fast_failures);
  s.connection_errors = get(connection_errors);
  s.protocol_errors = get(protocol_errors);
  s.auth_errors = get(auth_errors);
  s.server_errors = get(server_errors);
  s.master_changes = get(master_changes);
  s.sentinel_failures = get(sentinel_failures);
  return s;
}

ConnectionPool::ConnectionPool(const RedisOptions& options, Counters& counters)
    : options_(options),
      counters_(counters),
      max_connections_(std::max<size_t>(1, options.max_connections)),
      own_backoff_(options.circuit_breaker_threshold == 0),
      rng_(static_cast<unsigned>(::getpid()) ^
           static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count())) {
  std::call_once(g_atfork_once, [] { ::pthread_atfork(nullptr, nullptr, &on_fork_child); });
  generation_ = fork_generation();
  idle_.reserve(max_connections_);
  if (options.tls.enabled) {
    auto tls = TlsContext::create(options.tls);
    if (tls) tls_ = std::move(tls).value();
    else tls_error_ = tls.status();
  }
  if (options.sentinels.empty()) {
    targets_.push_back(std::make_unique<RedisOptions>(options));
    target_epoch_.store(1, std::memory_order_release);
  }
}

void ConnectionPool::retarget(const std::string& host, uint16_t port) {
  auto next = std::make_unique<RedisOptions>(options_);
  next->host = host;
  next->port = port;
  std::vector<std::unique_ptr<Connection>> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    targets_.push_back(std::move(next));
    target_epoch_.store(targets_.size(), std::memory_order_release);
    dropped.swap(idle_);
    idle_.reserve(max_connections_);
    open_ -= dropped.size();
    failures_ = 0;  // a new server: no backoff inherited from the old one
  }
  bump(counters_.connections_discarded, dropped.size());
  released_.notify_all();
}

std::string ConnectionPool::target() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (targets_.empty()) return "(none)";
  return targets_.back()->host + ":" + std::to_string(targets_.back()->port);
}

ConnectionPool::~ConnectionPool() = default;

void ConnectionPool::reset_after_fork_locked() {
  // Only the forking thread exists here; connections leased by the parent's other
  // threads will never come back. Close the inherited ones without writing to them.
  for (auto& c : idle_) {
    if (c->pid() != ::getpid()) c.reset();
  }
  idle_.clear();
  open_ = 0;
  failures_ = 0;
  probing_ = false;
  generation_ = fork_generation();
}

void ConnectionPool::note_connect_failure_locked(const Status& s) {
  if (!own_backoff_) return;
  last_connect_error_ = s;
  ++failures_;
  auto min_ms = std::max<int64_t>(1, options_.retry_backoff_min.count());
  auto max_ms = std::max<int64_t>(min_ms, options_.retry_backoff_max.count());
  int64_t base = min_ms;
  for (unsigned i = 1; i < failures_ && base < max_ms; ++i) base *= 2;
  base = std::min(base, max_ms);
  // Jitter over [base/2, base] so that many clients do not reconnect in step.
  std::uniform_int_distribution<int64_t> jitter(base / 2, base);
  retry_at_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(jitter(rng_));
}

Status ConnectionPool::backoff_status_locked() const {
  std::string why = "backing off after a failed connect: " + last_connect_error_.message();
  if (last_connect_error_.code() == StatusCode::kPermissionDenied) {
    return Status(StatusCode::kPermissionDenied, std::move(why));
  }
  return unavailable(std::move(why));
}

Result<ConnectionPool::Lease> ConnectionPool::acquire(Deadline deadline, AcquireFailure* why) {
  AcquireFailure ignored;
  if (why == nullptr) why = &ignored;
  *why = AcquireFailure::kNone;
  if (!tls_error_.is_ok()) {
    *why = AcquireFailure::kOther;
    return tls_error_;
  }
  std::unique_lock<std::mutex> lock(mu_);
  if (fork_generation() != generation_) reset_after_fork_locked();
  if (targets_.empty()) {
    *why = AcquireFailure::kOther;
    return unavailable("no master known yet for '" + options_.sentinel_master + "'");
  }
  for (;;) {
    if (!idle_.empty()) {
      std::unique_ptr<Connection> c = std::move(idle_.back());
      idle_.pop_back();
      auto interval = options_.health_check_interval;
      if (interval.count() > 0 && std::chrono::steady_clock::now() - c->last_used() > interval) {
        lock.unlock();
        Status s = c->ping(deadline);
        if (!s) c.reset();
        lock.lock();
        if (!c) {
          --open_;
          bump(counters_.connections_discarded);
          released_.notify_one();
          if (deadline.expired()) {
            *why = AcquireFailure::kWait;
            return timeout_error("health check PING: " + s.message());
          }
          continue;
        }
      }
      c->start_lease();
      return Lease{std::move(c), true, targets_.size()};
    }
    if (open_ < max_connections_) {
      if (failures_ > 0 && (probing_ || std::chrono::steady_clock::now() < retry_at_)) {
        bump(counters_.fast_failures);
        *why = AcquireFailure::kBackoff;
        return backoff_status_locked();
      }
      ++open_;
      bool probe = failures_ > 0;
      if (probe) probing_ = true;
      uint64_t generation = generation_;
      const RedisOptions& target = *targets_.back();
      const uint64_t epoch = targets_.size();
      lock.unlock();
      auto c = std::make_unique<Connection>(target, generation, tls_.get());
      Status s = c->open(deadline);
      if (!s) c.reset();
      lock.lock();
      if (probe) probing_ = false;
      if (!c) {
        --open_;
        bump(counters_.connect_failures);
        // The caller's own deadline cutting a connect short says nothing about the server.
        if (s.code() != StatusCode::kTimeout) note_connect_failure_locked(s);
        released_.notify_all();
        *why = AcquireFailure::kConnect;
        lock.unlock();
        if (s.code() != StatusCode::kTimeout) note_unreachable(s);
        return s;
      }
      failures_ = 0;
      bump(counters_.connections_opened);
      c->start_lease();
      lock.unlock();
      note_opened();
      // Retargeted while connecting: the connection is to the old target; the caller
      // uses it once and release() closes it.
      return Lease{std::move(c), false, epoch};
    }
    if (released_.wait_until(lock, deadline.at()) == std::cv_status::timeout && idle_.empty() &&
        open_ >= max_connections_) {
      *why = AcquireFailure::kWait;
      return timeout_error("no pooled connection became free before the deadline");
    }
  }
}

void ConnectionPool::release(std::unique_ptr<Connection> conn, uint64_t target_epoch) {
  std::unique_lock<std::mutex> lock(mu_);
  if (conn->generation() != generation_) {
    // Opened before a fork, in the parent: not ours to count or reuse.
    lock.unlock();
    return;  // conn closes here
  }
  if (!conn->broken() && target_epoch == targets_.size()) {
    conn->touch();
    idle_.push_back(std::move(conn));
    lock.unlock();
    released_.notify_one();
    return;
  }
  --open_;
  bump(counters_.connections_discarded);
  lock.unlock();
  released_.notify_one();
  conn.reset();  // close outside the lock
}

Result<std::unique_ptr<Connection>> ConnectionPool::open_dedicated(Deadline deadline) {
  if (!tls_error_.is_ok()) return tls_error_;
  const RedisOptions* target;
  uint64_t generation;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (fork_generation() != generation_) reset_after_fork_locked();
    if (targets_.empty()) return unavailable("no master known yet for '" + options_.sentinel_master + "'");
    target = targets_.back().get();  // targets_ only grows: the pointer stays valid
    generation = generation_;
  }
  auto c = std::make_unique<Connection>(*target, generation, tls_.get());
  if (Status s = c->open(deadline); !s) return s;
  return c;
}

void ConnectionPool::note_unreachable(const Status& why) {
  if (!unreachable_.exchange(true, std::memory_order_acq_rel) && log_enabled(LogLevel::kWarning)) {
    log_event(LogLevel::kWarning, "l2.connection_lost", target() + ": " + why.to_string());
  }
}

void ConnectionPool::note_opened() {
  if (log_enabled(LogLevel::kDebug)) log_event(LogLevel::kDebug, "l2.connection_opened", "connected to " + target());
  if (unreachable_.load(std::memory_order_relaxed) && unreachable_.exchange(false, std::memory_order_acq_rel) &&
      log_enabled(LogLevel::kInfo)) {
    log_event(LogLevel::kInfo, "l2.reconnected", "connected to " + target() + " again");
  }
}

void ConnectionPool::connection_lost(const Status& why) {
  note_unreachable(why);
  std::vector<std::unique_ptr<Connection>> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    dropped.swap(idle_);
    idle_.reserve(max_connections_);
    open_ -= dropped.size();
  }
  if (dropped.empty()) return;
  bump(counters_.connections_discarded, dropped.size());
  released_.notify_all();
}

}  // namespace stratacache::redis
