// Multiplexed, auto-pipelined connections (docs/l2.md, "Pipes").
//
// A Pipe is one opened Connection shared by every caller of a tier. A request (one or
// more commands, already formatted) is appended to the pipe's send buffer and to its
// FIFO under a short lock; replies are matched to the FIFO in order. Nobody owns the
// connection, so N concurrent callers cost one write and a few reads per batch instead
// of N round trips.
//
// Who does the I/O: there is no dedicated thread for synchronous callers. The first
// caller that finds no *leader* becomes it: it writes what is queued and reads replies,
// completing every request they answer (its own and others'), until its own request
// is done or its deadline passes; then it hands the role to the oldest caller still
// waiting. Meanwhile other callers on a plain socket write their own requests at once
// (send and recv may run concurrently on a socket); over TLS only the leader touches the
// session (OpenSSL's SSL object is not thread-safe), so requests queued while it waits
// go out with its next write. A lone caller thus does exactly what a private connection
// would: one send, one read. Asynchronous requests (PipeRequest::on_done) are served
// by the pipe set's I/O thread (PipeSet) whenever no synchronous leader is active.
//
// Deadlines: a request whose caller gives up is *abandoned*, not cancelled: it stays in
// the FIFO and its replies are read and dropped when they come, so a late reply never
// reaches another caller and the connection stays usable. A pipe that received no
// byte for `stall_after` while requests were outstanding is declared stalled: every
// outstanding request fails with kTimeout and the pipe is broken. Any transport or
// protocol failure breaks the pipe too (outstanding requests fail with that status;
// `lost` marks a connection loss). A broken pipe is never used again.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "deadline.hpp"
#include "redis/connection.hpp"
#include "redis/reply.hpp"
#include "stratacache/status.hpp"

namespace stratacache::redis {

// One request: a run of commands sent together and completed together.
struct PipeRequest {
  size_t expected = 0;  // replies to read
  std::vector<Reply> replies;
  ReplyArena arena;     // where its replies are parsed (valid while the request lives)
  Status status;        // once done
  bool done = false;      // its result was delivered (replies, failure, or timeout)
  bool abandoned = false; // delivered as a timeout: its replies are dropped when they come
  bool received = false;  // some reply bytes for it arrived (a failure after that is not "untouched")
  bool lost = false;      // the connection failed under it (kUnavailable)
  bool sent = false;      // its bytes were handed to the socket (unsent: it provably did not run)
  Deadline deadline{Deadline::Clock::time_point::max()};
  std::condition_variable cv;  // a synchronous caller waits here (with the pipe's mutex)
  // Asynchronous completion: called exactly once, on whichever thread completed the
  // request (the I/O thread, a synchronous leader, or the submitter when the pipe was
  // already broken), with no lock held. It must not block and must not make
  // synchronous calls on the same tier.
  std::function<void(PipeRequest&)> on_done;

  void reset(size_t n, Deadline d);
};

class Pipe {
 public:
  using Clock = std::chrono::steady_clock;

  // `conn` is opened; `release` gets it back when the pipe is destroyed.
  Pipe(std::unique_ptr<Connection> conn, uint64_t target_epoch, std::chrono::milliseconds stall_after,
       std::function<void(std::unique_ptr<Connection>)> release);
  ~Pipe();
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;

  // Synchronous: sends `bytes` (req->expected replies) and waits until they are read or
  // req->deadline passes (kTimeout; the request is abandoned). The outcome is in *req.
  void call(const std::shared_ptr<PipeRequest>& req, std::string_view bytes);
  // Asynchronous: queues the request; req->on_done runs once it completes. `wake` is
  // called (cheaply, possibly under the pipe's lock) so that an I/O thread serves it.
  void submit(std::shared_ptr<PipeRequest> req, std::string_view bytes);

  // For the I/O thread.
  // Writes what is queued and reads what has arrived, without waiting; a no-op while a
  // synchronous leader is active (it does the work), except for writing on a plain socket.
  void service();
  // Times out asynchronous requests past their deadline; breaks the pipe when stalled.
  // Returns the next deadline of an outstanding asynchronous request (max: none).
  Clock::time_point expire(Clock::time_point now);
  // Whether the I/O thread should poll this pipe for replies: outstanding requests and
  // no synchronous leader.
  bool wants_poll() const;
  bool has_unsent() const;
  int fd() const { return fd_; }
  // The connection, for its coherence registration (redis/tracker.hpp): read-only use.
  Connection& connection() { return *conn_; }
  void set_waker(std::function<void()> wake);

  bool broken() const { return broken_flag_.load(std::memory_order_acquire); }
  size_t outstanding() const { return outstanding_.load(std::memory_order_relaxed); }
  uint64_t target_epoch() const { return target_epoch_; }
  Clock::time_point last_used() const;
  // Breaks the pipe: outstanding requests fail with `why` (their callbacks run here).
  void shutdown(Status why);
  // After fork(), in the child: closes the descriptor without a byte sent and without
  // touching the (possibly locked) state; the object must then be leaked.
  void close_after_fork();

 private:
  void enqueue_locked(std::shared_ptr<PipeRequest> req, std::string_view bytes);
  // Leads until `me` is done (null: until nothing more can be read without waiting).
  void lead_locked(std::unique_lock<std::mutex>& lk, PipeRequest* me);
  bool write_locked(std::unique_lock<std::mutex>& lk, Deadline deadline);
  bool consume_locked(std::unique_lock<std::mutex>& lk, const char* data, size_t n);
  void complete_locked(PipeRequest& req, Status s);
  void break_locked(Status s);
  void check_stall_locked(Clock::time_point now);
  // wake_io: let the I/O thread know when only asynchronous work is left (not when it is the one leaving).
  void handoff_locked(const PipeRequest* skip, bool wake_io);
  void run_callbacks(std::unique_lock<std::mutex>& lk);

  std::unique_ptr<Connection> conn_;
  Stream* stream_;
  const int fd_;
  const bool concurrent_;  // send while another thread receives
  const uint64_t target_epoch_;
  const std::chrono::milliseconds stall_after_;
  std::function<void(std::unique_ptr<Connection>)> release_;
  std::unique_ptr<char[]> in_;

  mutable std::mutex mu_;
  std::string out_, sending_;
  std::deque<std::shared_ptr<PipeRequest>> fifo_;  // sent or queued, replies not all read
  std::vector<std::shared_ptr<PipeRequest>> callbacks_;  // completed async requests
  std::vector<std::shared_ptr<PipeRequest>> dead_;       // done with, destroyed outside the lock
  bool leader_ = false;
  bool writing_ = false;
  bool broken_ = false;
  Status failure_;
  Clock::time_point last_progress_;
  Clock::time_point last_used_;
  std::function<void()> wake_;
  std::atomic<bool> broken_flag_{false};
  std::atomic<size_t> outstanding_{0};
};

}  // namespace stratacache::redis
