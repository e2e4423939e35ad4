#include "redis/pipe_set.hpp"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

namespace stratacache::redis {
namespace {

// Every live PipeSet, so that fork() never happens while one of their locks is held
// (the I/O thread takes it on every round): the child would block on it forever.
std::mutex g_sets_mu;
std::vector<PipeSet*>* g_sets = nullptr;

void fork_prepare() {
  g_sets_mu.lock();
  if (g_sets) for (PipeSet* s : *g_sets) s->lock_for_fork();
}
void fork_parent() {
  if (g_sets) for (PipeSet* s : *g_sets) s->unlock_for_fork();
  g_sets_mu.unlock();
}
void fork_child() { fork_parent(); }  // only this thread exists here: the locks are ours

}  // namespace

PipeSet::PipeSet(ConnectionPool& pool, const RedisOptions& options, Counters& counters)
    : pool_(pool),
      options_(options),
      counters_(counters),
      max_pipes_(std::max<size_t>(1, options.max_connections)),
      generation_(fork_generation()) {
  static std::once_flag registered;
  std::call_once(registered, [] { ::pthread_atfork(&fork_prepare, &fork_parent, &fork_child); });
  std::lock_guard<std::mutex> lk(g_sets_mu);
  if (!g_sets) g_sets = new std::vector<PipeSet*>();  // never freed: atfork handlers may outlive statics
  g_sets->push_back(this);
}

void PipeSet::lock_for_fork() { mu_.lock(); }
void PipeSet::unlock_for_fork() { mu_.unlock(); }

PipeSet::~PipeSet() {
  close();
  std::lock_guard<std::mutex> lk(g_sets_mu);
  g_sets->erase(std::find(g_sets->begin(), g_sets->end(), this));
}

void PipeSet::close() {
  std::vector<std::shared_ptr<Pipe>> pipes;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (fork_generation() != generation_) after_fork_locked();
    stop_ = true;
    pipes.swap(pipes_);
  }
  if (io_.joinable()) {
    wake_pending_.store(false);
    wake();
    io_.join();
  }
  io_running_.store(false);
  if (wake_fd_ >= 0) ::close(wake_fd_);
  wake_fd_ = -1;
  // Outstanding asynchronous requests complete now (kUnavailable), before the tier goes.
  for (auto& p : pipes) p->shutdown(unavailable("the cache is closing"));
}

size_t PipeSet::size() const {
  std::lock_guard<std::mutex> lk(mu_);
  return pipes_.size();
}

void PipeSet::after_fork_locked() {
  // Only the forking thread exists here. The parent's pipes may be mid-operation (their
  // locks held by threads that do not exist here): close their descriptors, leak them.
  for (auto& p : pipes_) p->close_after_fork();
  new std::vector<std::shared_ptr<Pipe>>(std::move(pipes_));  // deliberately leaked
  pipes_.clear();
  connecting_ = 0;
  if (io_.joinable()) new std::thread(std::move(io_));  // the parent's thread: leaked, never joined
  if (wake_fd_ >= 0) ::close(wake_fd_);
  wake_fd_ = -1;
  io_running_.store(false);
  wake_pending_.store(false);
  generation_ = fork_generation();
}

void PipeSet::wake() {
  if (!io_running_.load(std::memory_order_acquire)) return;
  if (wake_pending_.exchange(true, std::memory_order_acq_rel)) return;
  uint64_t one = 1;
  ssize_t ignored = ::write(wake_fd_, &one, sizeof one);
  (void)ignored;
}

Status PipeSet::start_io() {
  if (io_running_.load(std::memory_order_acquire) && fork_generation() == generation_) return Status();
  std::lock_guard<std::mutex> lk(mu_);
  if (fork_generation() != generation_) after_fork_locked();
  if (stop_) return unavailable("the cache is closing");
  if (io_running_.load(std::memory_order_relaxed)) return Status();
  int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) return internal_error("eventfd failed: no I/O thread for asynchronous requests");
  wake_fd_ = fd;
  try {
    io_ = std::thread([this] { io_loop(); });
  } catch (const std::exception& e) {
    ::close(wake_fd_);
    wake_fd_ = -1;
    return internal_error(std::string("could not start the I/O thread: ") + e.what());
  }
  io_running_.store(true, std::memory_order_release);
  return Status();
}

void PipeSet::io_loop() {
  using Clock = std::chrono::steady_clock;
  std::vector<std::shared_ptr<Pipe>> snap, polled;
  std::vector<pollfd> fds;
  for (;;) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (stop_) return;
      snap = pipes_;
    }
    for (auto& p : snap) {
      if (p->has_unsent()) p->service();
    }
    auto now = Clock::now();
    auto next = now + std::chrono::seconds(1);
    for (auto& p : snap) next = std::min(next, p->expire(now));
    fds.clear();
    polled.clear();
    fds.push_back(pollfd{wake_fd_, POLLIN, 0});
    for (auto& p : snap) {
      if (!p->wants_poll()) continue;
      fds.push_back(pollfd{p->fd(), POLLIN, 0});
      polled.push_back(p);
    }
    snap.clear();
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next - Clock::now()).count() + 1;
    int timeout = static_cast<int>(std::clamp<int64_t>(wait, 0, 1000));
    int n = ::poll(fds.data(), fds.size(), timeout);
    if (n <= 0) continue;
    if (fds[0].revents != 0) {
      uint64_t count;
      ssize_t ignored = ::read(wake_fd_, &count, sizeof count);
      (void)ignored;
      wake_pending_.store(false, std::memory_order_release);
    }
    for (size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents != 0) polled[i - 1]->service();
    }
  }
}

namespace {

// The health check of an idle pipe.
Status ping(Pipe& pipe, Deadline deadline) {
  static constexpr std::string_view kPing = "*1\r\n$4\r\nPING\r\n";
  auto req = std::make_shared<PipeRequest>();
  req->reset(1, deadline);
  pipe.call(req, kPing);
  if (!req->status) return req->status;
  Reply r = req->replies[0];
  if (r.is(ReplyType::kError)) return server_error(r.str());
  if (!r.is(ReplyType::kStatus) || r.str() != "PONG") return internal_error("unexpected reply to PING");
  return Status();
}

}  // namespace

void PipeSet::drop(const Pipe* pipe) {
  std::shared_ptr<Pipe> gone;
  std::lock_guard<std::mutex> lk(mu_);
  auto it = std::find_if(pipes_.begin(), pipes_.end(), [&](const auto& p) { return p.get() == pipe; });
  if (it == pipes_.end()) return;
  gone = std::move(*it);
  pipes_.erase(it);
}

Result<PipeSet::Pick> PipeSet::pick(Deadline deadline, AcquireFailure* why, bool may_grow) {
  AcquireFailure ignored;
  if (why == nullptr) why = &ignored;
  *why = AcquireFailure::kNone;
  // Pipes taken out of the set, retired after the lock is released: one still holding
  // requests (a Sentinel failover moved the target) fails them, so that every
  // completion runs; then their connections go back to the pool.
  struct Retired {
    std::vector<std::shared_ptr<Pipe>> pipes;
    void push_back(std::shared_ptr<Pipe> p) { pipes.push_back(std::move(p)); }
    void clear() {
      for (auto& p : pipes) {
        if (!p->broken() && p->outstanding() > 0) p->shutdown(unavailable("redis: the connection's server is no longer the target"));
      }
      pipes.clear();
    }
    ~Retired() { clear(); }
  } gone;
  std::unique_lock<std::mutex> lk(mu_);
  if (fork_generation() != generation_) after_fork_locked();
  if (stop_) {
    *why = AcquireFailure::kOther;
    return unavailable("the cache is closing");
  }
  for (;;) {
    uint64_t epoch = pool_.target_epoch();
    for (auto it = pipes_.begin(); it != pipes_.end();) {
      if ((*it)->broken() || (*it)->target_epoch() != epoch) {
        gone.push_back(std::move(*it));
        it = pipes_.erase(it);
      } else {
        ++it;
      }
    }
    std::shared_ptr<Pipe> best;
    for (auto& p : pipes_) {
      if (!best || p->outstanding() < best->outstanding()) best = p;
    }
    // One connect at a time: callers arriving meanwhile share the open pipes, or wait for
    // the connect when there is none (no herd of connects at start-up).
    bool room = pipes_.size() + connecting_ < max_pipes_ && connecting_ == 0 && (may_grow || !best);
    if (best && (best->outstanding() < kGrowAt || !room)) {
      auto interval = options_.health_check_interval;
      if (interval.count() > 0 && best->outstanding() == 0 &&
          std::chrono::steady_clock::now() - best->last_used() > interval) {
        lk.unlock();
        Status s = ping(*best, deadline);
        lk.lock();
        if (!s) {
          for (auto it = pipes_.begin(); it != pipes_.end(); ++it) {
            if (*it == best) {
              gone.push_back(std::move(*it));
              pipes_.erase(it);
              break;
            }
          }
          if (deadline.expired()) {
            *why = AcquireFailure::kWait;
            return timeout_error("health check PING: " + s.message());
          }
          continue;
        }
      }
      if (tracker_ != nullptr) tracker_->register_on(*best);
      return Pick{std::move(best), true};
    }
    if (room) {
      ++connecting_;
      lk.unlock();
      gone.clear();  // their connections go back to the pool (and count) before it connects
      auto lease = pool_.acquire(deadline, why);
      lk.lock();
      --connecting_;
      changed_.notify_all();
      if (!lease) {
        if (best) {  // growing failed: share what is open
          *why = AcquireFailure::kNone;
          if (tracker_ != nullptr) tracker_->register_on(*best);
          return Pick{std::move(best), true};
        }
        return lease.status();
      }
      if (fork_generation() != generation_) after_fork_locked();
      if (stop_) {  // closed while connecting
        lk.unlock();
        pool_.release(std::move(lease->conn), lease->target_epoch);
        *why = AcquireFailure::kOther;
        return unavailable("the cache is closing");
      }
      ConnectionPool* pool = &pool_;
      uint64_t lease_epoch = lease->target_epoch;
      auto pipe = std::make_shared<Pipe>(
          std::move(lease->conn), lease_epoch, options_.socket_timeout,
          [pool, lease_epoch](std::unique_ptr<Connection> c) { pool->release(std::move(c), lease_epoch); });
      pipe->set_waker([this] { wake(); });
      pipes_.push_back(pipe);
      if (tracker_ != nullptr) tracker_->register_on(*pipe);
      return Pick{std::move(pipe), lease->reused};
    }
    // Every slot is being connected: wait for one.
    if (changed_.wait_until(lk, deadline.at()) == std::cv_status::timeout && deadline.expired()) {
      *why = AcquireFailure::kWait;
      return timeout_error("no connection became ready before the deadline");
    }
  }
}

}  // namespace stratacache::redis
