// Write-through and write-behind (docs/write-behind.md): the cache in front of the
// user's own store (a database), written by the user's writer.
//
// Write-through is synchronous: the writer first, then the cache.
// Write-behind caches at once and hands the write to the writer later, from a bounded
// queue, ordered per key, coalescing the writes of a key that still waits, retrying a
// failed writer call with backoff. What it does not write is never silent: a write the
// writer kept failing, or one still queued when close's deadline passed, is counted
// and handed to on_failure.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "stratacache/options.hpp"
#include "stratacache/stats.hpp"
#include "stratacache/status.hpp"
#include "stratacache/codec.hpp"

namespace stratacache {

class Cache;
struct CallOptions;

// One write handed to the writer.
struct WriteOp {
  enum class Kind { kSet, kDelete };
  std::string key;     // as given to write()/remove() (no cache prefix)
  Kind kind = Kind::kSet;
  Payload value;       // kSet: the value as cached (bytes + format); kDelete: empty
  int attempt = 1;     // 1 for the first call, 2 for the first retry, ...
};

// Synchronous writer: the outcome of writing op to the store. Any non-OK status is a
// failure; kInvalidArgument, kDataLoss, kTooLarge, kWrongType and kUnsupported are
// final (never retried: the same write will fail again), the others are retried.
using Writer = std::function<Status(const WriteOp& op)>;

// Write-through: writer(op) first; on success the value is cached (Cache::set with
// `call`) and the cache's status returned. On failure the writer's status is returned
// and the key is deleted from the cache: a failed writer call may still have reached
// the store (a timeout after the commit), so the cache keeps no copy that could differ
// from it; the next read loads from the store.
Status write_through(Cache& cache, std::string_view key, const Payload& value, const Writer& writer,
                     const CallOptions& call);
// The same for a delete: the writer first, then the key is deleted from the cache
// (whether or not the writer succeeded, for the same reason). The writer's status.
Status delete_through(Cache& cache, std::string_view key, const Writer& writer, const CallOptions& call);

// Asynchronous writer (a host that writes on its own thread or event loop): called on
// the write-behind's dispatch thread, it must not block; it starts the write and calls
// ack(status) exactly once, from any thread, when it is done.
using WriteAck = std::function<void(Status)>;
using AsyncWriter = std::function<void(const WriteOp& op, WriteAck ack)>;

struct WriteBehindOptions {
  // Queued writes (waiting + being written); a write of a key that has no waiting
  // write when this many are pending is refused with kUnavailable "write-behind queue
  // full" (nothing cached, nothing queued). Memory never grows past it.
  size_t max_pending = 10000;
  // Writer calls after the first failure of a write; then it is dropped, counted in
  // `failed` and handed to on_failure.
  int max_retries = 5;
  Millis backoff_initial{100};  // before the first retry; doubles each retry
  Millis backoff_max{10000};
  double backoff_jitter = 0.2;  // each delay is reduced by up to this fraction, at random
  // Library threads that call a synchronous Writer (>= 1). An AsyncWriter is called by
  // one dispatch thread whatever this says.
  int workers = 1;
  // close()'s bound when it is given none (the destructor's).
  Millis close_timeout{5000};
  // A write that will not be made: the writer failed max_retries + 1 times or finally,
  // or close's deadline passed first (status kAborted). Called on a library thread (a
  // worker, or close()'s caller), never under a lock; must not block for long.
  std::function<void(const WriteOp& op, const Status& status)> on_failure;
};

// Thread-safe. write()/remove() may be called from any thread; the writer is called for
// one key at a time, in write order (coalesced writes skipped); different keys are
// written in parallel by the workers. Must be closed (or destroyed) before its Cache.
class WriteBehind {
 public:
  static Result<std::unique_ptr<WriteBehind>> open(Cache& cache, Writer writer, WriteBehindOptions options = {});
  static Result<std::unique_ptr<WriteBehind>> open(Cache& cache, AsyncWriter writer, WriteBehindOptions options = {});
  // close(options.close_timeout).
  ~WriteBehind();
  WriteBehind(const WriteBehind&) = delete;
  WriteBehind& operator=(const WriteBehind&) = delete;

  // Caches value (Cache::set: both tiers) and queues it for the writer. Writes of one
  // key are cached and queued in the same order. Errors: kUnavailable "write-behind
  // queue full" or "write-behind closed" (nothing cached or queued); the cache's
  // kInvalidArgument / kTooLarge (nothing queued). An L2 failure of the cache write
  // (kUnavailable / kTimeout: L1 holds the value) does not stop the write: it is queued
  // and OK returned (counted in the cache's l2 errors).
  Status write(std::string_view key, Payload value, const CallOptions& call);
  // Deletes key from the cache and queues a delete for the writer (same contract).
  Status remove(std::string_view key, const CallOptions& call);
  // Waits until every write queued before this call was written or failed. kTimeout
  // if `timeout` passed first (the writes stay queued).
  Status flush(Millis timeout);
  // flush(timeout) (< 0: options.close_timeout), then stops the workers (waiting for writer calls in progress to
  // return). Writes still queued are abandoned: counted in `abandoned`, handed to
  // on_failure with kAborted, and close returns kTimeout naming how many. Later
  // write()/remove() calls are refused; a second close is a no-op (OK).
  Status close(Millis timeout);
  WriteBehindStats stats() const;
  // The last writer failure ("" if none): what the last failed or retried call said.
  std::string last_error() const;

  struct State;

 private:
  explicit WriteBehind(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

}  // namespace stratacache
