#include "redis/pipe.hpp"

#include <unistd.h>

#include <utility>

namespace stratacache::redis {
namespace {

constexpr size_t kReadChunk = 64 * 1024;

}  // namespace

void PipeRequest::reset(size_t n, Deadline d) {
  expected = n;
  replies.clear();
  arena.nodes.clear();
  arena.bytes.clear();
  status = Status();
  done = abandoned = received = lost = sent = false;
  deadline = d;
}

Pipe::Pipe(std::unique_ptr<Connection> conn, uint64_t target_epoch, std::chrono::milliseconds stall_after,
           std::function<void(std::unique_ptr<Connection>)> release)
    : conn_(std::move(conn)),
      stream_(&conn_->stream()),
      fd_(stream_->fd()),
      concurrent_(stream_->concurrent_send_recv()),
      target_epoch_(target_epoch),
      stall_after_(stall_after.count() > 0 ? stall_after : std::chrono::milliseconds(5000)),
      release_(std::move(release)),
      in_(new char[kReadChunk]),
      last_progress_(Clock::now()),
      last_used_(Clock::now()) {
  out_.reserve(4096);
  sending_.reserve(4096);
}

Pipe::~Pipe() {
  if (!release_ || !conn_) return;
  // Only a connection with nothing outstanding, nothing unsent and no partial reply is in
  // step; anything else (an abandoned request's reply still to come, bytes buffered in
  // the reader or in a TLS session) must never be reused: closed by the pool.
  if (!fifo_.empty() || !out_.empty() || conn_->reader().has_buffered() || stream_->has_buffered()) {
    conn_->mark_broken(StatusCode::kUnavailable);
  }
  release_(std::move(conn_));
}

void Pipe::close_after_fork() {
  // The Socket still holds the number; the object is leaked, so it is never closed twice.
  ::close(fd_);
}

void Pipe::shutdown(Status why) {
  std::unique_lock<std::mutex> lk(mu_);
  break_locked(std::move(why));
  run_callbacks(lk);
}

void Pipe::set_waker(std::function<void()> wake) {
  std::lock_guard<std::mutex> lk(mu_);
  wake_ = std::move(wake);
}

Pipe::Clock::time_point Pipe::last_used() const {
  std::lock_guard<std::mutex> lk(mu_);
  return last_used_;
}

bool Pipe::wants_poll() const {
  std::lock_guard<std::mutex> lk(mu_);
  return !broken_ && !leader_ && !fifo_.empty();
}

bool Pipe::has_unsent() const {
  std::lock_guard<std::mutex> lk(mu_);
  return !broken_ && !out_.empty();
}

void Pipe::enqueue_locked(std::shared_ptr<PipeRequest> req, std::string_view bytes) {
  auto now = Clock::now();
  if (fifo_.empty()) last_progress_ = now;  // the stall clock starts with the first outstanding request
  last_used_ = now;
  out_.append(bytes.data(), bytes.size());
  fifo_.push_back(std::move(req));
  outstanding_.fetch_add(1, std::memory_order_relaxed);
}

void Pipe::call(const std::shared_ptr<PipeRequest>& req, std::string_view bytes) {
  std::unique_lock<std::mutex> lk(mu_);
  if (broken_) {
    req->lost = failure_.code() == StatusCode::kUnavailable;
    req->done = true;
    req->status = failure_;
    return;
  }
  enqueue_locked(req, bytes);
  while (!req->done) {
    if (!leader_) {
      lead_locked(lk, req.get());
      break;
    }
    if (concurrent_ && !writing_ && !out_.empty()) {
      // A plain socket: send now (ours and whatever else is queued) while the leader reads.
      write_locked(lk, req->deadline);
      continue;
    }
    if (req->cv.wait_until(lk, req->deadline.at()) == std::cv_status::timeout && !req->done &&
        req->deadline.expired()) {
      break;
    }
  }
  if (!req->done) {
    // Abandoned, not cancelled: its replies will be read and dropped.
    req->done = req->abandoned = true;
    req->status = timeout_error("read timed out: no reply before the deadline");
    check_stall_locked(Clock::now());
    // We may have been woken to lead just as our deadline passed: pass the role on.
    if (!leader_) handoff_locked(req.get(), true);
  }
  run_callbacks(lk);  // async requests this thread completed (or failed) on the way
}

void Pipe::submit(std::shared_ptr<PipeRequest> req, std::string_view bytes) {
  std::unique_lock<std::mutex> lk(mu_);
  if (broken_) {
    req->lost = failure_.code() == StatusCode::kUnavailable;
    req->done = true;
    req->status = failure_;
    lk.unlock();
    req->on_done(*req);
    return;
  }
  enqueue_locked(std::move(req), bytes);
  // Written (with whatever else is queued by then) by the leader or the I/O thread.
  if (wake_) wake_();
}

bool Pipe::write_locked(std::unique_lock<std::mutex>& lk, Deadline deadline) {
  writing_ = true;
  while (!out_.empty() && !broken_) {
    sending_.swap(out_);
    // Everything queued is in sending_ now: from here on it may reach the server.
    // (A delivered request -- abandoned -- is its caller's: not written, see consume_locked.)
    for (auto it = fifo_.rbegin(); it != fifo_.rend() && !(*it)->sent; ++it) {
      if (!(*it)->done) (*it)->sent = true;
    }
    lk.unlock();
    Status s = stream_->send_all(sending_.data(), sending_.size(), deadline);
    lk.lock();
    sending_.clear();
    if (!s) {
      writing_ = false;
      // Part of a command may be on the wire: the stream is out of step either way.
      break_locked(s.code() == StatusCode::kTimeout ? timeout_error("write timed out: " + s.message()) : s);
      return false;
    }
  }
  writing_ = false;
  return !broken_;
}

void Pipe::lead_locked(std::unique_lock<std::mutex>& lk, PipeRequest* me) {
  leader_ = true;
  PipeRequest* const caller = me;
  bool just_wrote = false;
  Deadline deadline = me != nullptr ? me->deadline : Deadline(Clock::now());
  while (!broken_) {
    if (me != nullptr && me->done) {
      // Replies already decrypted into the TLS session are invisible to poll(): read
      // them now (without waiting) rather than leave them to the I/O thread.
      if (fifo_.empty() || !stream_->has_buffered()) break;
      me = nullptr;
      deadline = Deadline(Clock::now());
    }
    // A server streaming bytes non-stop never makes the leader wait: check the clock too.
    if (me != nullptr && deadline.expired()) break;
    if (!out_.empty() && !writing_) {
      // The I/O thread writes with a bound of its own: the stall limit.
      if (!write_locked(lk, me != nullptr ? deadline : Deadline(Clock::now() + stall_after_))) break;
      just_wrote = true;
      continue;
    }
    if (fifo_.empty()) break;
    lk.unlock();
    auto n = stream_->recv_some(in_.get(), kReadChunk, deadline, just_wrote && me != nullptr);
    lk.lock();
    just_wrote = false;
    if (!n) {
      if (n.status().code() == StatusCode::kTimeout) {
        if (me != nullptr) check_stall_locked(Clock::now());
        break;  // our deadline passed (or, for the I/O thread, nothing more to read now)
      }
      break_locked(n.status());
      break;
    }
    if (!consume_locked(lk, in_.get(), *n)) break;
  }
  leader_ = false;
  handoff_locked(caller, caller != nullptr);
  run_callbacks(lk);
}

bool Pipe::consume_locked(std::unique_lock<std::mutex>& lk, const char* data, size_t n) {
  last_progress_ = Clock::now();
  ReplyReader& reader = conn_->reader();
  if (Status s = reader.feed(data, n); !s) {
    break_locked(s);
    return false;
  }
  for (;;) {
    if (fifo_.empty()) {
      if (reader.has_buffered()) {
        break_locked(internal_error("reply bytes nobody asked for: the connection is out of step"));
        return false;
      }
      break;
    }
    PipeRequest& head = *fifo_.front();
    // Once delivered (an abandoned request), its outcome belongs to its caller, who
    // reads it without the lock: nothing here writes to it any more.
    if (!head.done) head.received = true;
    reader.target(&head.arena);
    Reply r;
    if (Status s = reader.next(&r); !s) {
      break_locked(s);
      return false;
    }
    if (!r.valid()) break;
    head.replies.push_back(r);
    if (head.replies.size() < head.expected) continue;
    std::shared_ptr<PipeRequest> done = std::move(fifo_.front());
    fifo_.pop_front();
    outstanding_.fetch_sub(1, std::memory_order_relaxed);
    if (!done->done) {
      complete_locked(*done, Status());
      if (done->on_done) callbacks_.push_back(std::move(done));
    }
    // An abandoned request's callback (and its captures) is destroyed after unlocking.
    if (done) dead_.push_back(std::move(done));
  }
  reader.target(nullptr);
  // Completed asynchronous requests run their callbacks outside the lock.
  if (!callbacks_.empty() || !dead_.empty()) run_callbacks(lk);
  return !broken_;
}

void Pipe::complete_locked(PipeRequest& req, Status s) {
  req.done = true;
  req.status = std::move(s);
  if (!req.on_done) req.cv.notify_one();
}

void Pipe::break_locked(Status s) {
  if (broken_) return;
  broken_ = true;
  broken_flag_.store(true, std::memory_order_release);
  failure_ = s;
  conn_->mark_broken(s.code());
  bool lost = s.code() == StatusCode::kUnavailable;
  for (auto& req : fifo_) {
    if (req->done) continue;
    req->lost = lost;
    complete_locked(*req, s);
    if (req->on_done) callbacks_.push_back(req);
  }
  outstanding_.fetch_sub(fifo_.size(), std::memory_order_relaxed);
  for (auto& req : fifo_) dead_.push_back(std::move(req));
  fifo_.clear();
  out_.clear();
}

void Pipe::check_stall_locked(Clock::time_point now) {
  if (broken_ || fifo_.empty() || now - last_progress_ < stall_after_) return;
  break_locked(timeout_error("no reply for " + std::to_string(stall_after_.count()) +
                             " ms with requests outstanding: the connection is stalled"));
}

void Pipe::handoff_locked(const PipeRequest* skip, bool wake_io) {
  // The oldest synchronous caller still waiting (not `skip`, not past its deadline: it
  // is about to give up) leads next; asynchronous (and abandoned) requests are left to
  // the I/O thread.
  bool async_waiting = false;
  for (auto& req : fifo_) {
    if (req->done || req.get() == skip) continue;
    if (req->on_done) {
      async_waiting = true;
      continue;
    }
    if (req->deadline.expired()) continue;
    req->cv.notify_one();
    return;
  }
  if (wake_io && (async_waiting || !out_.empty()) && wake_) wake_();
}

void Pipe::run_callbacks(std::unique_lock<std::mutex>& lk) {
  if (callbacks_.empty() && dead_.empty()) return;
  std::vector<std::shared_ptr<PipeRequest>> ready, dead;
  ready.swap(callbacks_);
  dead.swap(dead_);
  lk.unlock();
  for (auto& req : ready) {
    // A throwing callback must not leave the pipe locked or led (nor kill the I/O thread).
    try {
      req->on_done(*req);
    } catch (...) {
    }
  }
  ready.clear();
  dead.clear();
  lk.lock();
}

void Pipe::service() {
  std::unique_lock<std::mutex> lk(mu_);
  if (broken_) {
    run_callbacks(lk);
    return;
  }
  if (leader_) {
    if (concurrent_ && !writing_ && !out_.empty()) write_locked(lk, Deadline(Clock::now() + stall_after_));
    run_callbacks(lk);
    return;
  }
  lead_locked(lk, nullptr);
}

Pipe::Clock::time_point Pipe::expire(Clock::time_point now) {
  std::unique_lock<std::mutex> lk(mu_);
  auto next = Clock::time_point::max();
  for (auto& req : fifo_) {
    if (req->done || !req->on_done) continue;
    if (req->deadline.at() <= now) {
      req->abandoned = true;
      complete_locked(*req, timeout_error("read timed out: no reply before the deadline"));
      callbacks_.push_back(req);
    } else if (req->deadline.at() < next) {
      next = req->deadline.at();
    }
  }
  if (!leader_) check_stall_locked(now);
  if (!fifo_.empty() && !broken_) {
    auto stall_at = last_progress_ + stall_after_;
    if (stall_at < next) next = stall_at;
  }
  run_callbacks(lk);
  return next;
}

}  // namespace stratacache::redis
