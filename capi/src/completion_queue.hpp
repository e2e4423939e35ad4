// Completions of the C ABI and the queue that hands them to a host thread.
//
// A Completion is what a callback receives, owned until delivered: the message lives
// in the record, the value buffer (malloc'd, the callee's once the callback runs) is
// freed and the lease (acquire's completions) abandoned if the completion is dropped.
//
// The queue's eventfd is readable exactly while completions wait: the first push into
// an empty queue writes 1, the drain that empties it reads the counter back to 0, both
// under the queue's lock, so the invariant "counter != 0 <=> items not empty" holds
// after every locked section (level-triggered for any poller).
//
// Submissions hold a shared reference to the queue's core, so a completion arriving
// after stratacache_queue_free finds it marked freed and is dropped instead of touching
// freed memory or a reused fd number.
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "stratacache.h"

namespace stratacache_capi {

struct Completion {
  stratacache_callback done = nullptr;
  stratacache_acquire_callback acquire_done = nullptr;  // acquire's completions run this instead of done
  void* payload = nullptr;
  int status = STRATACACHE_OK;
  std::string message;  // "" for OK and ENOTFOUND
  void* value = nullptr;
  size_t len = 0;
  int format = -1;
  int64_t count = 0;
  unsigned info = 0;                     // acquire: STRATACACHE_INFO_* bits
  stratacache_lease* lease = nullptr;    // acquire: the callee's once the callback runs
  // Other kinds (write-behind): run once, with true when delivered, false when dropped.
  std::function<void(bool delivered)> task;
  stratacache_lock_callback lock_done = nullptr;  // lock acquire's completions run this instead of done
  stratacache_lock* lock = nullptr;               // lock acquire: the callee's once the callback runs

  Completion() = default;
  Completion(Completion&& o) noexcept { *this = std::move(o); }
  Completion& operator=(Completion&& o) noexcept {
    if (this != &o) {
      drop();
      done = o.done;
      acquire_done = o.acquire_done;
      payload = o.payload;
      status = o.status;
      message = std::move(o.message);
      value = std::exchange(o.value, nullptr);
      len = o.len;
      format = o.format;
      count = o.count;
      info = o.info;
      lease = std::exchange(o.lease, nullptr);
      task = std::exchange(o.task, nullptr);
      lock_done = o.lock_done;
      lock = std::exchange(o.lock, nullptr);
    }
    return *this;
  }
  Completion(const Completion&) = delete;
  Completion& operator=(const Completion&) = delete;
  ~Completion() { drop(); }

  // Hands the value (and lease) to the callee: after this, the record no longer owns them.
  void run() noexcept {
    if (task) return std::exchange(task, nullptr)(true);
    void* v = std::exchange(value, nullptr);
    if (lock_done) {
      lock_done(payload, status, message.c_str(), std::exchange(lock, nullptr), static_cast<uint64_t>(count));
      return;
    }
    if (acquire_done) {
      acquire_done(payload, status, message.c_str(), v, len, format, info, std::exchange(lease, nullptr));
      return;
    }
    done(payload, status, message.c_str(), v, len, format, count);
  }
  // Never called under the queue's lock: abandoning a lease wakes waiters, whose
  // completions may be pushed to this queue.
  void drop() noexcept {
    if (task) std::exchange(task, nullptr)(false);
    std::free(value);
    value = nullptr;
    stratacache_lease_abandon(std::exchange(lease, nullptr), STRATACACHE_EUNAVAILABLE,
                              "the completion carrying the lease was dropped");
    stratacache_lock_free(std::exchange(lock, nullptr));
  }
};

class QueueCore {
 public:
  QueueCore() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
  ~QueueCore() { close_fd(); }
  QueueCore(const QueueCore&) = delete;
  QueueCore& operator=(const QueueCore&) = delete;

  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  // Never throws: a completion that cannot be queued (freed queue, no memory) is dropped.
  void push(Completion&& c) noexcept {
    std::lock_guard<std::mutex> lk(mu_);
    if (freed_) return;  // c's destructor frees the value
    try {
      items_.push_back(std::move(c));
    } catch (...) {
      return;
    }
    if (items_.size() == 1) signal();
  }

  // Takes up to max waiting completions (0: all) and clears the fd when none remain.
  std::vector<Completion> take(size_t max) {
    std::vector<Completion> out;
    std::lock_guard<std::mutex> lk(mu_);
    size_t k = (max == 0 || max > items_.size()) ? items_.size() : max;
    out.reserve(k);
    for (size_t i = 0; i < k; ++i) {
      out.push_back(std::move(items_.front()));
      items_.pop_front();
    }
    if (items_.empty()) clear_signal();
    return out;
  }

  // The owner's free: later pushes are dropped, waiting ones freed, fd closed.
  void release() noexcept {
    std::deque<Completion> dropped;
    {
      std::lock_guard<std::mutex> lk(mu_);
      freed_ = true;
      dropped.swap(items_);
      close_fd();
    }
  }

 private:
  void signal() noexcept {
    uint64_t one = 1;
    while (::write(fd_, &one, sizeof one) < 0 && errno == EINTR) {
    }
  }
  void clear_signal() noexcept {
    uint64_t n;
    while (::read(fd_, &n, sizeof n) < 0 && errno == EINTR) {
    }
  }
  void close_fd() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  std::mutex mu_;
  std::deque<Completion> items_;
  int fd_;
  bool freed_ = false;
};

}  // namespace stratacache_capi
