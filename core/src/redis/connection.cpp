#include "redis/connection.hpp"

#include <hiredis/hiredis.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <vector>

#include "redis/tls.hpp"
#include "redis/tracker.hpp"

namespace stratacache::redis {
namespace {

constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kInlineArgs = 8;

Deadline earlier(Deadline a, Deadline b) { return a.at() < b.at() ? a : b; }

}  // namespace

void append_command(std::string& out, const std::string_view* args, size_t n, Status* error) {
  const char* argv_inline[kInlineArgs];
  size_t len_inline[kInlineArgs];
  std::vector<const char*> argv_heap;
  std::vector<size_t> len_heap;
  const char** argv = argv_inline;
  size_t* lens = len_inline;
  if (n > kInlineArgs) {
    argv_heap.resize(n);
    len_heap.resize(n);
    argv = argv_heap.data();
    lens = len_heap.data();
  }
  size_t total = 0;
  for (size_t i = 0; i < n; ++i) {
    // An empty string_view may carry a null pointer; hiredis memcpy()s from it.
    argv[i] = args[i].data() != nullptr ? args[i].data() : "";
    lens[i] = args[i].size();
    total += lens[i];
  }
  // redisFormatCommandArgv returns an int length.
  if (total > INT_MAX / 2 || n > INT_MAX / 2) {
    if (error->is_ok()) *error = too_large("command over 1 GiB");
    return;
  }
  char* cmd = nullptr;
  int len = redisFormatCommandArgv(&cmd, static_cast<int>(n), argv, lens);
  if (len < 0 || cmd == nullptr) {
    if (error->is_ok()) *error = internal_error("redisFormatCommandArgv failed");
    return;
  }
  out.append(cmd, static_cast<size_t>(len));
  redisFreeCommand(cmd);
}

Connection::Connection(const RedisOptions& options, uint64_t generation, const TlsContext* tls)
    : options_(options),
      tls_(tls),
      reader_(ReplyLimits{options.max_reply_bytes, options.max_reply_elements}),
      in_(new char[kReadChunk]),
      generation_(generation),
      pid_(::getpid()),
      last_used_(Clock::now()) {
  out_.reserve(512);
  replies_.reserve(8);
}

Connection::~Connection() {
  // A forked child's copy of the parent's connection: the parent still has it open.
  if (tracker_ != nullptr && pid_ == ::getpid()) tracker_->forget(this);
}

Status Connection::fail(Status s) {
  broken_ = true;
  failure_ = s.code();
  return s;
}

Status Connection::open(Deadline deadline) {
  Deadline connect_deadline = earlier(deadline, Deadline::after(options_.socket_connect_timeout));
  // A connect timeout is the server's fault (unavailable); the caller's own deadline
  // passing is a timeout.
  auto classify = [&](Status s) {
    if (s.code() == StatusCode::kTimeout && !deadline.expired()) {
      return unavailable("no answer within socket_connect_timeout (" +
                         std::to_string(options_.socket_connect_timeout.count()) + " ms): " + s.message());
    }
    return s;
  };
  auto sock = options_.transport == RedisOptions::Transport::kUnix
                  ? Socket::connect_unix(options_.unix_path, connect_deadline)
                  : Socket::connect_tcp(options_.host, options_.port, connect_deadline);
  if (!sock) return fail(classify(sock.status()));
  if (tls_ != nullptr) {
    auto tls = tls_->handshake(std::move(sock).value(), options_.host, options_.port, connect_deadline);
    if (!tls) return fail(classify(tls.status()));
    stream_ = std::move(tls).value();
  } else {
    stream_ = std::make_unique<PlainStream>(std::move(sock).value());
  }

  bool auth = !options_.password.empty();
  std::string db = std::to_string(options_.db);
  if (auth) {
    if (options_.username.empty()) {
      command({"AUTH", options_.password});
    } else {
      command({"AUTH", options_.username, options_.password});
    }
  }
  if (options_.db != 0) command({"SELECT", db});
  // Over TLS 1.3 the server judges our certificate after our side of the handshake is
  // done, so a refusal shows only on the first read: a PING (when nothing else is sent)
  // makes it a connect failure, with the pool's backoff, rather than a failed command.
  if (tls_ != nullptr && queued_ == 0) command({"PING"});
  if (queued_ == 0) return Status();
  // AUTH and SELECT pipelined: one round trip.
  if (Status s = roundtrip(connect_deadline); !s) return fail(classify(s));
  size_t i = 0;
  if (auth) {
    Reply r = reply(i++);
    if (r.is(ReplyType::kError)) {
      return fail(Status(StatusCode::kPermissionDenied, "AUTH failed: " + std::string(r.str())));
    }
  }
  if (options_.db != 0) {
    Reply r = reply(i);
    if (r.is(ReplyType::kError)) {
      Status s = server_error(r.str());
      if (s.code() == StatusCode::kInternal) s = invalid_argument("SELECT " + db + ": " + std::string(r.str()));
      return fail(s);
    }
  }
  touch();
  return Status();
}

void Connection::command(const std::string_view* args, size_t n) {
  ++queued_;
  append_command(out_, args, n, &format_error_);
}

Status Connection::roundtrip(Deadline deadline) {
  size_t expected = queued_;
  queued_ = 0;
  replies_.clear();
  reader_.clear();
  if (!format_error_.is_ok()) {
    // Nothing was sent: the connection is still in step.
    out_.clear();
    Status s = format_error_;
    format_error_ = Status();
    return s;
  }
  if (deadline.expired()) {
    // Nothing sent: the connection is still in step and goes back to the pool.
    out_.clear();
    return timeout_error("deadline passed before the request was sent");
  }
  Status sent = stream_->send_all(out_.data(), out_.size(), deadline);
  out_.clear();
  if (!sent) return fail(std::move(sent));
  bool first_read = true;
  while (replies_.size() < expected) {
    Reply r;
    if (Status s = reader_.next(&r); !s) return fail(std::move(s));
    if (r.valid()) {
      replies_.push_back(r);
      continue;
    }
    // A server streaming bytes non-stop never makes us wait: check the clock too.
    if (deadline.expired()) return fail(timeout_error("read timed out"));
    auto n = stream_->recv_some(in_.get(), kReadChunk, deadline, first_read);
    first_read = false;
    if (!n) return fail(n.status());
    received_any_ = true;
    if (Status s = reader_.feed(in_.get(), *n); !s) return fail(std::move(s));
  }
  // Bytes nobody asked for: the stream is out of step, keep the replies but not the connection.
  if (reader_.has_buffered()) broken_ = true;
  return Status();
}

Status Connection::ping(Deadline deadline) {
  command({"PING"});
  if (Status s = roundtrip(deadline); !s) return s;
  Reply r = reply(0);
  if (r.is(ReplyType::kError)) return server_error(r.str());
  if (!r.is(ReplyType::kStatus) || r.str() != "PONG") return fail(internal_error("unexpected reply to PING"));
  return Status();
}

}  // namespace stratacache::redis
