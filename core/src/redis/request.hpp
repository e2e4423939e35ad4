// One L2 request: what every RemoteTier operation builds, whatever the deployment
// (standalone, Sentinel, Cluster) and whether the caller waits or not (docs/l2.md,
// "The request path").
//
// A Request holds
// - the commands, formatted once (RESP), with their boundaries, so that a Cluster ASK
//   redirect can put ASKING before each of them without formatting anything again;
// - a reply handler, called with the replies of the commands (ASKING's removed) each
//   time an attempt got them all; it returns the outcome, server errors included
//   (a -MOVED reply is an error Status that the Cluster router reads);
// - flags: idempotent (may go again after a connection turned out dead, when it may
//   have run), the key's hash slot (Cluster routing) and whether the caller waits;
// - the deadline, and the completion, called exactly once with the final outcome.
//
// wait = true is a synchronous call: the transport does its I/O on the calling thread
// (the pipe's leader optimisation: one send, one read for a lone caller) and `done` has
// run before the submitting function returns. wait = false: `done` runs later on the
// tier's I/O thread, or inline when the request fails at once. Everything between
// submission and `done` -- retries, redirects, Sentinel re-resolution, breaker
// accounting -- is one completion path for both.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "deadline.hpp"
#include "redis/reply.hpp"
#include "stratacache/status.hpp"

namespace stratacache::redis {

// The replies of one attempt, in command order, without the replies to ASKING.
class Replies {
 public:
  Replies(const std::vector<Reply>& all, bool asking) : all_(all), asking_(asking) {}
  size_t size() const { return asking_ ? all_.size() / 2 : all_.size(); }
  Reply operator[](size_t i) const { return all_[asking_ ? 2 * i + 1 : i]; }

 private:
  const std::vector<Reply>& all_;
  bool asking_;
};

struct Request {
  static constexpr uint16_t kNoSlot = UINT16_MAX;

  Request(Deadline d, bool wait_for_it) : deadline(d), wait(wait_for_it) {}

  void command(std::initializer_list<std::string_view> args) { command(args.begin(), args.size()); }
  void command(const std::string_view* args, size_t n);
  size_t commands() const { return starts_.size(); }
  // The bytes to send: the commands, each preceded by ASKING when `asking`.
  std::string_view wire(bool asking, std::string* scratch) const;
  // A command argument could not be formatted (nothing is sent then).
  const Status& format_error() const { return format_error_; }

  Deadline deadline;
  bool wait;               // the caller waits: I/O on its thread, done() before returning
  bool idempotent = true;  // running it twice is harmless
  uint16_t slot = kNoSlot; // Cluster: the hash slot of its keys (kNoSlot: any node)
  std::function<Status(const Replies&)> on_reply;
  std::function<void(Status)> done;

 private:
  std::string bytes_;
  std::vector<uint32_t> starts_;
  Status format_error_;
};

using RequestPtr = std::shared_ptr<Request>;

// Reply readers shared by the operations.
Status unexpected_reply(const char* command);
Status read_integer(Reply r, const char* command, int64_t* out);
Status read_ok(Reply r, const char* command);
// Whether a server error is a Cluster redirect (-MOVED, -ASK) or -TRYAGAIN: routing,
// not a failure of the server.
bool is_redirect(const Status& s);

}  // namespace stratacache::redis
