// One connection to Redis: our stream (a socket, or TLS over one), hiredis' formatter
// and reader, and the handshake (TLS, AUTH, SELECT). Used by one caller at a time (the
// pool hands it out).
//
// A round trip writes every queued command in one send and reads exactly one reply per
// command. Any transport failure, timeout, protocol error or over-limit reply marks
// the connection broken: it is then closed, never reused, so a late reply can never
// reach another caller.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "deadline.hpp"
#include "redis/reply.hpp"
#include "redis/stream.hpp"
#include "stratacache/options.hpp"
#include "stratacache/status.hpp"

namespace stratacache::redis {

class TlsContext;
class Tracker;

// Formats one command (binary-safe arguments) onto `out` with hiredis' formatter. On a
// failure (over 1 GiB, formatter error) nothing is appended and *error is set (once).
void append_command(std::string& out, const std::string_view* args, size_t n, Status* error);

class Connection {
 public:
  using Clock = std::chrono::steady_clock;

  // `options` and `tls` (null: plain TCP / unix socket) must outlive the connection.
  Connection(const RedisOptions& options, uint64_t generation, const TlsContext* tls = nullptr);
  // Tells its tracker (redis/tracker.hpp) that it is gone: Redis forgets what it tracked.
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Connects (bounded by the deadline and socket_connect_timeout) and authenticates.
  // kUnavailable: unreachable or the connect timeout passed; kTimeout: the caller's
  // deadline passed; kPermissionDenied: AUTH refused, or TLS verification failed either
  // way (see redis/tls.hpp); kInvalidArgument: SELECT refused.
  Status open(Deadline deadline);

  // Queues one command (binary-safe arguments).
  void command(std::initializer_list<std::string_view> args) { command(args.begin(), args.size()); }
  void command(const std::string_view* args, size_t n);
  // Sends the queued commands and reads their replies. The replies stay valid until
  // the next round trip.
  Status roundtrip(Deadline deadline);
  size_t reply_count() const { return replies_.size(); }
  Reply reply(size_t i) const { return replies_[i]; }

  // PING, for the pool's health check.
  Status ping(Deadline deadline);

  bool broken() const { return broken_; }
  StatusCode failure() const { return failure_; }
  // Whether any byte arrived since start_lease(): a failure before that is safe to
  // retry on another connection for idempotent commands.
  bool received_any() const { return received_any_; }
  void start_lease() { received_any_ = false; }

  // For a shared pipe (redis/pipe.hpp), which does its own sends, reads and reply
  // matching on an opened connection.
  Stream& stream() { return *stream_; }
  ReplyReader& reader() { return reader_; }
  void mark_broken(StatusCode why) {
    broken_ = true;
    failure_ = why;
  }

  // Coherent L1: the tracker this connection registered with (CLIENT TRACKING ...
  // REDIRECT), and the tracker's epoch at that moment (0: not registered). Set by the
  // tracker, under the owning pipe's discipline (one registration in flight).
  Tracker* tracker() const { return tracker_; }
  uint64_t tracking_epoch() const { return tracking_epoch_.load(std::memory_order_acquire); }
  void set_tracking(Tracker* t, uint64_t epoch) {
    tracker_ = t;
    tracking_epoch_.store(epoch, std::memory_order_release);
  }
  int fd() const { return stream_ ? stream_->fd() : -1; }

  uint64_t generation() const { return generation_; }
  pid_t pid() const { return pid_; }
  Clock::time_point last_used() const { return last_used_; }
  void touch() { last_used_ = Clock::now(); }

 private:
  Status fail(Status s);

  const RedisOptions& options_;
  const TlsContext* tls_;
  std::unique_ptr<Stream> stream_;
  ReplyReader reader_;
  std::string out_;
  size_t queued_ = 0;
  Status format_error_;
  std::vector<Reply> replies_;
  std::unique_ptr<char[]> in_;
  bool broken_ = false;
  StatusCode failure_ = StatusCode::kOk;
  bool received_any_ = false;
  uint64_t generation_;
  Tracker* tracker_ = nullptr;
  std::atomic<uint64_t> tracking_epoch_{0};
  pid_t pid_;
  Clock::time_point last_used_;
};

}  // namespace stratacache::redis
