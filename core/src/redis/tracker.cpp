#include "redis/tracker.hpp"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "redis/pipe.hpp"
#include "stratacache/log.hpp"

namespace stratacache::redis {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::string_view kChannel = "__redis__:invalidate";
// A silent channel is PINGed after this long; it is lost when no answer comes within
// socket_timeout.
constexpr milliseconds kPingAfter{1000};
constexpr size_t kReadChunk = 64 * 1024;

// Every live tracker, so that fork() never happens while one of their locks is held.
// The handlers are registered when the library loads, before any PipeSet registers its
// own: prepare handlers run in reverse order, so a fork takes the pipe sets' locks first
// and the trackers' last, the order a pick() nests them in (register_on()).
std::mutex g_trackers_mu;
std::vector<std::mutex*>* g_tracker_locks = nullptr;
void fork_prepare() {
  g_trackers_mu.lock();
  if (g_tracker_locks) for (std::mutex* m : *g_tracker_locks) m->lock();
}
void fork_parent() {
  if (g_tracker_locks) for (std::mutex* m : *g_tracker_locks) m->unlock();
  g_trackers_mu.unlock();
}

// A server that cannot track: old (no CLIENT TRACKING), or an ACL that denies it.
const bool g_atfork_registered = [] {
  ::pthread_atfork(&fork_prepare, &fork_parent, &fork_parent);
  return true;
}();

bool cannot_track(std::string_view error) {
  return error.find("NOPERM") != std::string_view::npos || error.find("unknown") != std::string_view::npos ||
         error.find("Unknown") != std::string_view::npos || error.find("syntax") != std::string_view::npos;
}

}  // namespace

Tracker::Tracker(ConnectionPool& pool, const RedisOptions& options, std::shared_ptr<Coherence> coherence,
                 bool enabled, Sentinel sentinel)
    : pool_(pool),
      options_(options),
      coherence_(std::move(coherence)),
      tracking_(coherence_->mode() == L1Coherence::kTracking),
      sentinel_(std::move(sentinel)),
      enabled_(enabled),
      generation_(fork_generation()) {
  (void)g_atfork_registered;
  std::lock_guard<std::mutex> lk(g_trackers_mu);
  if (!g_tracker_locks) g_tracker_locks = new std::vector<std::mutex*>();  // never freed (atfork)
  g_tracker_locks->push_back(&mu_);
}

Tracker::~Tracker() {
  stop();
  std::lock_guard<std::mutex> lk(g_trackers_mu);
  g_tracker_locks->erase(std::find(g_tracker_locks->begin(), g_tracker_locks->end(), &mu_));
}

void Tracker::after_fork_locked() {
  // Only this thread exists in the child: the parent's thread, channel and registered
  // connections are not ours. Coherence counts every channel down until it is up here.
  if (thread_.joinable()) new std::thread(std::move(thread_));  // leaked, never joined
  if (wake_fd_ >= 0) ::close(wake_fd_);  // shared with the parent's eventfd
  wake_fd_ = -1;
  running_ = false;
  up_ = false;
  epoch_.store(0, std::memory_order_release);
  redirect_.clear();
  channel_fd_ = -1;  // the parent's socket: never shut it down from here
  watched_.clear();
  start_reported_ = true;  // coherence_->forked() stops every wait in the child
  generation_ = fork_generation();
  coherence_->forked();
}

void Tracker::ensure_running() {
  std::unique_lock<std::mutex> lk(mu_);
  if (generation_ != fork_generation()) after_fork_locked();
  if (running_ || !enabled_ || stop_) return;
  if (coherence_->mode() == L1Coherence::kOff) return;  // fell back: nothing to track
  if (!counted_) {
    coherence_->channel_added();
    counted_ = true;
    start_reported_ = false;
  }
  if (wake_fd_ < 0) wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  running_ = true;
  uint64_t generation = generation_;
  try {
    thread_ = std::thread([this, generation] { run(generation); });
  } catch (const std::exception& e) {
    running_ = false;
    coherence_->note_error(std::string("could not start the invalidation channel thread: ") + e.what());
  }
}

void Tracker::report_started_locked() {
  if (!counted_ || start_reported_) return;
  start_reported_ = true;
  coherence_->started();
}

void Tracker::set_enabled(bool enabled) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (enabled_ == enabled) return;
    enabled_ = enabled;
  }
  if (enabled) return ensure_running();
  stop();
  std::lock_guard<std::mutex> lk(mu_);
  stop_ = false;  // may be enabled again
}

void Tracker::stop() {
  std::thread t;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (generation_ != fork_generation()) after_fork_locked();
    stop_ = true;
    t = std::move(thread_);
    // A handshake or read blocked on a silent server returns now, not at its deadline.
    if (channel_fd_ >= 0) ::shutdown(channel_fd_, SHUT_RDWR);
  }
  wake();
  cv_.notify_all();
  if (t.joinable()) t.join();
  std::lock_guard<std::mutex> lk(mu_);
  running_ = false;
  bool was_up = up_;
  up_ = false;
  epoch_.store(0, std::memory_order_release);
  report_started_locked();
  if (counted_) coherence_->channel_removed(was_up);
  counted_ = false;
  if (wake_fd_ >= 0) ::close(wake_fd_);
  wake_fd_ = -1;
}

bool Tracker::stopping(uint64_t generation) const {
  std::lock_guard<std::mutex> lk(mu_);
  return stop_ || !enabled_ || generation != generation_;
}

void Tracker::wake() {
  int fd;
  {
    std::lock_guard<std::mutex> lk(mu_);
    fd = wake_fd_;
  }
  if (fd < 0) return;
  uint64_t one = 1;
  ssize_t ignored = ::write(fd, &one, sizeof one);
  (void)ignored;
}

void Tracker::register_on(Pipe& pipe) {
  uint64_t epoch = epoch_.load(std::memory_order_acquire);
  if (epoch == 0) return;
  if (pipe.target_epoch() != channel_target_.load(std::memory_order_acquire)) {
    // The pool moved to a new master before the channel noticed: its id means nothing
    // there. Down now (L1 emptied before this pipe's request is even sent); the channel
    // reconnects to the new master.
    went_down(Coherence::Flush::kTopology, "the master changed");
    wake();
    return;
  }
  Connection& conn = pipe.connection();
  if (!tracking_ || conn.tracking_epoch() == epoch) return;
  std::string bytes;
  Status error;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (epoch_.load(std::memory_order_relaxed) != epoch) return;
    std::string_view args[] = {"CLIENT", "TRACKING", "ON", "REDIRECT", redirect_, "NOLOOP"};
    append_command(bytes, args, 6, &error);
    watched_[&conn] = Watched{conn.fd(), epoch};
    watch_changed_ = true;
  }
  conn.set_tracking(this, epoch);
  auto req = std::make_shared<PipeRequest>();
  req->reset(1, Deadline::after(options_.socket_timeout));
  req->on_done = [this, c = &conn](PipeRequest& r) {
    // A refusal leaves the connection untracked: forget it (L1 emptied) and register
    // again before its next request. A transport failure breaks the pipe, which does
    // the same when the connection closes.
    if (!r.status || !r.replies[0].is(ReplyType::kError)) return;
    coherence_->note_error("CLIENT TRACKING on a data connection: " + std::string(r.replies[0].str()));
    forget(c);
    c->set_tracking(this, 0);
  };
  pipe.submit(std::move(req), bytes);
  wake();
}

void Tracker::forget(const Connection* conn) {
  bool flush = false;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (generation_ != fork_generation()) return;
    auto it = watched_.find(conn);
    if (it == watched_.end()) return;
    flush = up_ && it->second.epoch == epoch_.load(std::memory_order_relaxed);
    watched_.erase(it);
    watch_changed_ = true;
  }
  if (flush) coherence_->flush(Coherence::Flush::kConnection);
}

void Tracker::went_down(Coherence::Flush why, std::string error) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (!up_) return;  // already down (a picker noticed first): counted once
    up_ = false;
    lost_ = true;
    epoch_.store(0, std::memory_order_release);  // no data connection registers with a dead id
    redirect_.clear();
    watched_.clear();
    watch_changed_ = true;
  }
  if (log_enabled(LogLevel::kWarning)) {
    log_event(LogLevel::kWarning, "coherence.channel_lost",
              pool_.target() + ": invalidation channel lost, L1 emptied and not filled until it is back: " + error);
  }
  coherence_->channel_down(why, "invalidation channel: " + error);
}

void Tracker::run(uint64_t generation) {
  milliseconds backoff = std::max(options_.retry_backoff_min, milliseconds(1));
  while (!stopping(generation)) {
    auto started = Clock::now();
    milliseconds wait = session(generation);
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (generation == generation_) report_started_locked();
    }
    if (wait.count() < 0) return;  // nothing to track (fell back to off)
    if (Clock::now() - started > std::chrono::seconds(10)) backoff = std::max(options_.retry_backoff_min, milliseconds(1));
    wait = std::max(wait, backoff);
    backoff = std::min(backoff * 2, std::max(options_.retry_backoff_max, backoff));
    std::unique_lock<std::mutex> lk(mu_);
    cv_.wait_for(lk, wait, [&] { return stop_ || !enabled_ || generation != generation_; });
  }
}

milliseconds Tracker::session(uint64_t generation) {
  const milliseconds retry(0);
  // Sentinel: connect to the master the sentinels name now (news since the last call).
  const uint64_t news = sentinel_.news ? sentinel_.news() : 0;
  if (sentinel_.follow) sentinel_.follow(Deadline::after(options_.sentinel_timeout * 3));
  auto opened = pool_.open_dedicated(Deadline::after(options_.socket_connect_timeout));
  if (!opened) {
    coherence_->note_error("invalidation channel: " + opened.status().to_string());
    return retry;
  }
  std::unique_ptr<Connection> conn = std::move(opened).value();
  Connection& c = *conn;
  struct Published {  // the descriptor stop() may shut down, withdrawn before it closes
    Tracker& t;
    Published(Tracker& tracker, int fd) : t(tracker) {
      std::lock_guard<std::mutex> lk(t.mu_);
      t.channel_fd_ = fd;
    }
    ~Published() {
      std::lock_guard<std::mutex> lk(t.mu_);
      t.channel_fd_ = -1;
    }
  } published(*this, c.fd());
  if (stopping(generation)) return retry;
  const uint64_t target = pool_.target_epoch();
  c.command({"CLIENT", "ID"});
  if (Status s = c.roundtrip(Deadline::after(options_.socket_timeout)); !s) {
    coherence_->note_error("invalidation channel: CLIENT ID: " + s.to_string());
    return retry;
  }
  if (!c.reply(0).is(ReplyType::kInteger)) {
    std::string why = c.reply(0).is(ReplyType::kError) ? std::string(c.reply(0).str()) : "unexpected reply";
    coherence_->unsupported("CLIENT ID: " + why);
    return coherence_->mode() == L1Coherence::kOff ? milliseconds(-1) : options_.retry_backoff_max;
  }
  std::string id = std::to_string(c.reply(0).integer());
  std::vector<std::string_view> args = {"CLIENT", "TRACKING", "ON", "REDIRECT", id};
  if (!tracking_) {
    args.push_back("BCAST");
    if (!coherence_->prefix().empty()) {
      args.push_back("PREFIX");
      args.push_back(coherence_->prefix());
    }
  }
  c.command(args.data(), args.size());
  c.command({"SUBSCRIBE", kChannel});
  if (Status s = c.roundtrip(Deadline::after(options_.socket_timeout)); !s) {
    coherence_->note_error("invalidation channel: " + s.to_string());
    return retry;
  }
  for (size_t i = 0; i < 2; ++i) {
    Reply r = c.reply(i);
    if (!r.is(ReplyType::kError)) continue;
    std::string why(r.str());
    if (cannot_track(why)) {
      coherence_->unsupported(why);
      return coherence_->mode() == L1Coherence::kOff ? milliseconds(-1) : options_.retry_backoff_max;
    }
    coherence_->note_error("invalidation channel: " + why);
    return retry;
  }
  bool restored = false;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (stop_ || !enabled_ || generation != generation_) return retry;
    redirect_ = id;
    channel_target_.store(target, std::memory_order_release);  // before the epoch (register_on)
    up_ = true;
    restored = std::exchange(lost_, false);
    epoch_.store(++epochs_, std::memory_order_release);  // data connections register again from now on
  }
  coherence_->channel_up();
  if (restored && log_enabled(LogLevel::kInfo)) {
    log_event(LogLevel::kInfo, "coherence.channel_restored", pool_.target() + ": invalidation channel up again");
  }
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (generation == generation_) report_started_locked();
  }

  ReplyReader& reader = c.reader();
  std::unique_ptr<char[]> in(new char[kReadChunk]);
  std::vector<pollfd> fds;
  std::vector<const Connection*> owners;
  bool rebuild = true;
  auto last_rx = Clock::now();
  bool ping_out = false;
  bool polled_empty = false;  // the last poll found nothing to read on the channel
  Clock::time_point pong_due{};
  auto down = [&](Coherence::Flush why, std::string error) {
    went_down(why, std::move(error));
    return retry;
  };
  // Replies already read past the SUBSCRIBE answer are parsed first.
  bool pending = reader.has_buffered();
  for (;;) {
    if (stopping(generation)) return retry;
    if (pool_.target_epoch() != target) return down(Coherence::Flush::kTopology, "the master changed");
    if (sentinel_.news && sentinel_.news() != news) {
      return down(Coherence::Flush::kTopology, "the sentinels announced a new master");
    }
    // Parse whatever is buffered.
    for (;;) {
      Reply r;
      if (Status s = reader.next(&r); !s) return down(Coherence::Flush::kChannel, s.to_string());
      if (!r.valid()) break;
      if (!r.is(ReplyType::kArray) || r.size() < 2) continue;
      Reply kind = r.first();
      if (kind.str() == "message") {
        Reply payload = kind.next().next();
        if (payload.is(ReplyType::kNil)) {
          coherence_->flush(Coherence::Flush::kServer);  // FLUSHDB / FLUSHALL
        } else if (payload.is(ReplyType::kArray)) {
          for (Reply key = payload.first(); key.valid(); key = key.next()) coherence_->invalidate(key.str());
        }
      }
    }
    // Recycle the arena between messages only: a message split across reads has its
    // first nodes there already.
    if (!reader.mid_reply()) reader.clear();
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (watch_changed_ || rebuild) {
        fds.clear();
        owners.clear();
        fds.push_back(pollfd{wake_fd_, POLLIN, 0});
        fds.push_back(pollfd{c.fd(), POLLIN, 0});
        for (auto& [owner, w] : watched_) {
          if (w.epoch != epoch_.load(std::memory_order_relaxed)) continue;
          fds.push_back(pollfd{w.fd, POLLRDHUP, 0});
          owners.push_back(owner);
        }
        watch_changed_ = false;
        rebuild = false;
      }
    }
    auto now = Clock::now();
    // Overdue only when the poll that just ran found nothing to read (after a long stall
    // of this thread the answer may be waiting in the socket).
    if (ping_out && now >= pong_due && polled_empty) {
      return down(Coherence::Flush::kChannel,
                  "no answer to PING within socket_timeout (" + std::to_string(options_.socket_timeout.count()) + " ms)");
    }
    if (!ping_out && now - last_rx >= kPingAfter) {
      static constexpr std::string_view kPing = "*1\r\n$4\r\nPING\r\n";
      if (Status s = c.stream().send_all(kPing.data(), kPing.size(), Deadline::after(options_.socket_timeout)); !s) {
        return down(Coherence::Flush::kChannel, s.to_string());
      }
      ping_out = true;
      pong_due = now + options_.socket_timeout;
    }
    auto until = ping_out ? pong_due : last_rx + kPingAfter;
    auto wait = std::chrono::duration_cast<milliseconds>(until - now).count() + 1;
    // Sentinel: the watcher's news is checked at least every 100 ms.
    int cap = sentinel_.news ? 100 : 1000;
    int timeout = pending || c.stream().has_buffered() ? 0 : static_cast<int>(std::clamp<int64_t>(wait, 0, cap));
    pending = false;
    for (auto& f : fds) f.revents = 0;
    int n = ::poll(fds.data(), fds.size(), timeout);
    if (n < 0 && errno != EINTR) return down(Coherence::Flush::kChannel, "poll failed");
    if (fds[0].revents != 0) {
      uint64_t count;
      ssize_t ignored = ::read(wake_fd_, &count, sizeof count);
      (void)ignored;
    }
    for (size_t i = 2; i < fds.size(); ++i) {
      if ((fds[i].revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) == 0) continue;
      // The server closed a tracked data connection: what it read is no longer tracked.
      forget(owners[i - 2]);
      rebuild = true;
    }
    polled_empty = fds[1].revents == 0 && !c.stream().has_buffered();
    if (!polled_empty) {
      auto got = c.stream().recv_some(in.get(), kReadChunk, Deadline::after(options_.socket_timeout), false);
      if (!got) return down(Coherence::Flush::kChannel, got.status().to_string());
      if (Status s = reader.feed(in.get(), *got); !s) return down(Coherence::Flush::kChannel, s.to_string());
      last_rx = Clock::now();
      ping_out = false;
    }
  }
}

}  // namespace stratacache::redis
