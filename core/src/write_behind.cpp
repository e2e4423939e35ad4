// Write-through and write-behind (write_behind.hpp, docs/write-behind.md).
//
// The queue, per key: at most one `waiting` write (not yet handed to the writer; a
// newer write replaces it: coalescing) and at most one `active` write (with the writer,
// or waiting for its retry's backoff). A key is listed in `ready` when its next write
// may go to the writer: the active one again (its backoff is over) or the waiting one
// (nothing active). So a key is with the writer at most once at a time, in write order,
// and a failing key holds back only its own later writes.
//
// `pending` counts waiting + active writes; a write that would add one past
// max_pending is refused before anything is cached. flush() waits on sequence
// numbers: every queued write has one (a coalesced write gives up its own), and
// `outstanding` holds those not yet written or failed.
//
// Writes of one key are cached and queued under the key's stripe lock, so the cache
// and the writer see them in the same order even when threads race on one key.
#include "stratacache/write_behind.hpp"

#include <algorithm>
#include <array>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cache_impl.hpp"
#include "deadline.hpp"
#include "read_through.hpp"
#include "stratacache/cache.hpp"

namespace stratacache {

namespace {

using WbClock = std::chrono::steady_clock;

// Writer failures that a retry cannot fix.
bool final_failure(StatusCode c) {
  return c == StatusCode::kInvalidArgument || c == StatusCode::kDataLoss || c == StatusCode::kTooLarge ||
         c == StatusCode::kWrongType || c == StatusCode::kUnsupported;
}

// A cache write that failed only in L2 (L1 holds the value): the store still gets it.
bool cache_degraded(StatusCode c) { return c == StatusCode::kUnavailable || c == StatusCode::kTimeout; }

}  // namespace

Status write_through(Cache& cache, std::string_view key, const Payload& value, const Writer& writer,
                     const CallOptions& call) {
  Status st = writer(WriteOp{std::string(key), WriteOp::Kind::kSet, value, 1});
  if (!st) {
    (void)cache.del(key, call);  // best effort: the writer's status is what the caller needs
    return st;
  }
  return cache.set(key, value, call);
}

Status delete_through(Cache& cache, std::string_view key, const Writer& writer, const CallOptions& call) {
  Status st = writer(WriteOp{std::string(key), WriteOp::Kind::kDelete, {}, 1});
  auto deleted = cache.del(key, call);
  if (!st) return st;
  return deleted ? Status::ok() : deleted.status();
}

struct WriteBehind::State : std::enable_shared_from_this<State> {
  struct Queued {
    WriteOp op;
    uint64_t seq;
  };
  struct KeyState {
    std::optional<Queued> waiting;
    std::optional<Queued> active;
  };
  struct Failure {
    WriteOp op;
    Status status;
    uint64_t seq;  // stays outstanding (flush waits) until on_failure has run
  };

  State(Cache& c, WriteBehindCounters* totals, WriteBehindOptions o)
      : cache(c), cache_counters(totals), options(std::move(o)), rng(std::random_device{}()) {}

  Cache& cache;
  WriteBehindCounters* const cache_counters;
  WriteBehindCounters counters;
  const WriteBehindOptions options;
  Writer writer;             // workers call it
  AsyncWriter async_writer;  // or the dispatch thread hands ops to it

  std::array<std::mutex, 64> stripes;
  mutable std::mutex mu;
  std::condition_variable work_cv;  // workers: a key became ready, a retry was scheduled, stop
  std::condition_variable done_cv;  // flush: a write was written or failed
  std::unordered_map<std::string, KeyState> keys;
  std::deque<std::string> ready;
  std::multimap<WbClock::time_point, std::string> retries;
  std::set<uint64_t> outstanding;
  uint64_t next_seq = 1;
  bool closed = false;    // refuses new writes
  bool stopping = false;  // workers exit
  std::string last_error;
  std::mt19937_64 rng;
  std::vector<std::thread> threads;

  void count(WriteBehindCounter c, int64_t n) {
    (counters.*c).fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
    (cache_counters->*c).fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
  }

  std::mutex& stripe(std::string_view key) { return stripes[std::hash<std::string_view>{}(key) % stripes.size()]; }

  // Before caching: refuses a closed queue, or a full one unless the key has a waiting
  // write to replace. *reserved: a slot was taken for this write.
  Status admit(const std::string& key, bool* reserved) {
    std::lock_guard<std::mutex> lk(mu);
    *reserved = false;
    if (closed) return unavailable("write-behind closed");
    auto it = keys.find(key);
    if (it != keys.end() && it->second.waiting) return Status::ok();  // will coalesce
    if (counters.pending.load(std::memory_order_relaxed) >= options.max_pending) {
      count(&WriteBehindCounters::rejected, 1);
      return unavailable("write-behind queue full (" + std::to_string(options.max_pending) + " writes pending)");
    }
    count(&WriteBehindCounters::pending, 1);
    *reserved = true;
    return Status::ok();
  }

  void release(bool reserved) {
    if (!reserved) return;
    std::lock_guard<std::mutex> lk(mu);
    count(&WriteBehindCounters::pending, -1);
  }

  // Queues op after admit(). If the waiting write admit() counted on was taken by a
  // worker meanwhile, this write takes a slot anyway: pending exceeds max_pending by at
  // most the number of threads inside write() at that instant.
  void enqueue(WriteOp op, bool reserved) {
    std::lock_guard<std::mutex> lk(mu);
    KeyState& ks = keys[op.key];
    uint64_t seq = next_seq++;
    outstanding.insert(seq);
    if (ks.waiting) {
      outstanding.erase(ks.waiting->seq);
      count(&WriteBehindCounters::coalesced, 1);
      if (reserved) count(&WriteBehindCounters::pending, -1);
      done_cv.notify_all();
    } else {
      if (!reserved) count(&WriteBehindCounters::pending, 1);
      if (!ks.active) {
        ready.push_back(op.key);
        work_cv.notify_one();
      }
    }
    ks.waiting = Queued{std::move(op), seq};
  }

  Millis backoff(int next_attempt) {
    int doublings = std::min(next_attempt - 2, 30);
    auto base = options.backoff_initial.count() << std::max(doublings, 0);
    double d = static_cast<double>(std::min<int64_t>(base, options.backoff_max.count()));
    double jitter = std::clamp(options.backoff_jitter, 0.0, 1.0);
    d *= 1.0 - jitter * std::uniform_real_distribution<double>(0.0, 1.0)(rng);
    return Millis(static_cast<int64_t>(d));
  }

  // Waits for the next key to hand to the writer; nullptr once stopping. The key's
  // active write is set (taken from `waiting` when it is the key's next write).
  const WriteOp* next(std::unique_lock<std::mutex>& lk, std::string* key) {
    for (;;) {
      if (stopping) return nullptr;
      auto now = WbClock::now();
      while (!retries.empty() && retries.begin()->first <= now) {
        ready.push_back(std::move(retries.begin()->second));
        retries.erase(retries.begin());
      }
      if (!ready.empty()) {
        *key = std::move(ready.front());
        ready.pop_front();
        KeyState& ks = keys[*key];
        if (!ks.active) {
          ks.active = std::move(ks.waiting);
          ks.waiting.reset();
        }
        return &ks.active->op;  // stable: only this thread touches `active` until finish()
      }
      if (retries.empty()) {
        work_cv.wait(lk);
      } else {
        // A copy: wait_until reads its deadline again after waking, when another worker
        // may have erased the map node it came from.
        const WbClock::time_point until = retries.begin()->first;
        work_cv.wait_until(lk, until);
      }
    }
  }

  // The writer's outcome for attempt `attempt` of key's active write `seq` (a late or
  // repeated answer is ignored). Returns a failure for on_failure, if any.
  std::optional<Failure> finish(const std::string& key, uint64_t seq, int attempt, const Status& st) {
    auto it = keys.find(key);
    if (it == keys.end() || !it->second.active || it->second.active->seq != seq ||
        it->second.active->op.attempt != attempt) {
      return std::nullopt;
    }
    KeyState& ks = it->second;
    std::optional<Failure> failure;
    if (!st) {
      last_error = key + ": " + st.to_string();
      if (!final_failure(st.code()) && ks.active->op.attempt <= options.max_retries) {
        count(&WriteBehindCounters::retries, 1);
        int next_attempt = ++ks.active->op.attempt;
        retries.emplace(WbClock::now() + backoff(next_attempt), key);
        work_cv.notify_one();
        return std::nullopt;
      }
      count(&WriteBehindCounters::failed, 1);
      failure = Failure{std::move(ks.active->op), st, seq};
    } else {
      count(&WriteBehindCounters::written, 1);
      outstanding.erase(seq);
    }
    count(&WriteBehindCounters::pending, -1);
    ks.active.reset();
    if (ks.waiting) {
      ready.push_back(key);
      work_cv.notify_one();
    } else {
      keys.erase(it);
    }
    done_cv.notify_all();
    return failure;
  }

  // Hands a failure to on_failure (no lock held), then lets flush() count it as done.
  void report(std::optional<Failure> f) {
    if (!f) return;
    if (options.on_failure) options.on_failure(f->op, f->status);
    std::lock_guard<std::mutex> lk(mu);
    outstanding.erase(f->seq);
    done_cv.notify_all();
  }

  void run_worker() {
    std::unique_lock<std::mutex> lk(mu);
    std::string key;
    while (const WriteOp* op = next(lk, &key)) {
      uint64_t seq = keys[key].active->seq;
      int attempt = op->attempt;
      lk.unlock();
      Status st;
      try {
        st = writer(*op);
      } catch (const std::exception& e) {
        st = internal_error(std::string("writer threw: ") + e.what());
      } catch (...) {
        st = internal_error("writer threw");
      }
      lk.lock();
      auto failure = finish(key, seq, attempt, st);
      if (failure) {
        lk.unlock();
        report(std::move(failure));
        lk.lock();
      }
    }
  }

  void run_dispatcher() {
    std::unique_lock<std::mutex> lk(mu);
    std::string key;
    while (const WriteOp* op = next(lk, &key)) {
      uint64_t seq = keys[key].active->seq;
      WriteOp copy = *op;  // the ack may finish the write before async_writer returns
      lk.unlock();
      WriteAck ack = [self = shared_from_this(), key, seq, attempt = copy.attempt](Status st) {
        std::unique_lock<std::mutex> l(self->mu);
        auto failure = self->finish(key, seq, attempt, st);
        l.unlock();
        self->report(std::move(failure));
      };
      try {
        async_writer(copy, ack);
      } catch (...) {  // the writer could not start the write: a failed attempt (ignored if it acked)
        ack(internal_error("write-behind writer threw"));
      }
      lk.lock();
    }
  }

  Status flush(Millis timeout) {
    Deadline deadline = Deadline::after_saturating(timeout);
    std::unique_lock<std::mutex> lk(mu);
    uint64_t target = next_seq - 1;
    auto done = [&] { return outstanding.empty() || *outstanding.begin() > target; };
    while (!done()) {
      if (deadline.expired()) {
        return timeout_error("write-behind flush: " + std::to_string(outstanding.size()) + " writes still pending");
      }
      done_cv.wait_until(lk, std::min(deadline.at(), WbClock::now() + std::chrono::hours(1)));  // max() is no time
    }
    return Status::ok();
  }

  Status close(Millis timeout) {
    if (timeout.count() < 0) timeout = options.close_timeout;
    {
      std::lock_guard<std::mutex> lk(mu);
      if (closed) return Status::ok();
      closed = true;
    }
    // A write() admitted before `closed` holds its key's stripe until it has queued:
    // taking every stripe once waits for those, so none queues after the workers stop.
    for (auto& m : stripes) std::lock_guard<std::mutex> g(m);
    (void)flush(timeout);
    {
      std::lock_guard<std::mutex> lk(mu);
      stopping = true;
      work_cv.notify_all();
    }
    for (auto& t : threads) {
      if (t.joinable()) t.join();
    }
    std::vector<WriteOp> abandoned;
    {
      std::lock_guard<std::mutex> lk(mu);
      for (auto& [key, ks] : keys) {
        if (ks.active) abandoned.push_back(std::move(ks.active->op));
        if (ks.waiting) abandoned.push_back(std::move(ks.waiting->op));
      }
      keys.clear();
      ready.clear();
      retries.clear();
      outstanding.clear();
      auto n = static_cast<int64_t>(abandoned.size());
      count(&WriteBehindCounters::abandoned, n);
      count(&WriteBehindCounters::pending, -n);
      done_cv.notify_all();
    }
    if (abandoned.empty()) return Status::ok();
    Status aborted(StatusCode::kAborted, "write-behind closed before the write was made");
    if (options.on_failure) {
      for (auto& op : abandoned) options.on_failure(op, aborted);
    }
    return timeout_error("write-behind close: " + std::to_string(abandoned.size()) +
                         " writes were still pending at the deadline and were abandoned");
  }
};

namespace {

Status check_options(const WriteBehindOptions& o, bool sync) {
  if (o.max_pending == 0) return invalid_argument("write-behind max_pending must be at least 1");
  if (o.max_retries < 0) return invalid_argument("write-behind max_retries must not be negative");
  if (o.backoff_initial.count() < 0 || o.backoff_max.count() < 0) {
    return invalid_argument("write-behind backoff must not be negative");
  }
  if (!(o.backoff_jitter >= 0 && o.backoff_jitter <= 1)) return invalid_argument("write-behind backoff_jitter must be in [0, 1]");
  if (sync && (o.workers < 1 || o.workers > 256)) return invalid_argument("write-behind workers must be in [1, 256]");
  return Status::ok();
}

}  // namespace

Result<std::unique_ptr<WriteBehind>> WriteBehind::open(Cache& cache, Writer writer, WriteBehindOptions options) {
  if (!writer) return invalid_argument("write-behind writer is empty");
  if (Status st = check_options(options, true); !st) return st;
  int workers = options.workers;
  auto state = std::make_shared<State>(cache, &cache.impl_->write_behind, std::move(options));
  state->writer = std::move(writer);
  std::unique_ptr<WriteBehind> wb(new WriteBehind(state));
  for (int i = 0; i < workers; ++i) state->threads.emplace_back([s = state.get()] { s->run_worker(); });
  return wb;
}

Result<std::unique_ptr<WriteBehind>> WriteBehind::open(Cache& cache, AsyncWriter writer, WriteBehindOptions options) {
  if (!writer) return invalid_argument("write-behind writer is empty");
  if (Status st = check_options(options, false); !st) return st;
  auto state = std::make_shared<State>(cache, &cache.impl_->write_behind, std::move(options));
  state->async_writer = std::move(writer);
  std::unique_ptr<WriteBehind> wb(new WriteBehind(state));
  state->threads.emplace_back([s = state.get()] { s->run_dispatcher(); });
  return wb;
}

WriteBehind::WriteBehind(std::shared_ptr<State> state) : state_(std::move(state)) {}

WriteBehind::~WriteBehind() { (void)state_->close(Millis(-1)); }

Status WriteBehind::write(std::string_view key, Payload value, const CallOptions& call) {
  State& s = *state_;
  std::string k(key);
  std::lock_guard<std::mutex> order(s.stripe(key));
  bool reserved = false;
  if (Status st = s.admit(k, &reserved); !st) return st;
  Status cached = s.cache.set(key, value, call);
  if (!cached && !cache_degraded(cached.code())) {
    s.release(reserved);
    return cached;
  }
  s.enqueue(WriteOp{std::move(k), WriteOp::Kind::kSet, std::move(value), 1}, reserved);
  return Status::ok();
}

Status WriteBehind::remove(std::string_view key, const CallOptions& call) {
  State& s = *state_;
  std::string k(key);
  std::lock_guard<std::mutex> order(s.stripe(key));
  bool reserved = false;
  if (Status st = s.admit(k, &reserved); !st) return st;
  auto deleted = s.cache.del(key, call);
  if (!deleted && !cache_degraded(deleted.code())) {
    s.release(reserved);
    return deleted.status();
  }
  s.enqueue(WriteOp{std::move(k), WriteOp::Kind::kDelete, {}, 1}, reserved);
  return Status::ok();
}

Status WriteBehind::flush(Millis timeout) { return state_->flush(timeout); }
Status WriteBehind::close(Millis timeout) { return state_->close(timeout); }
WriteBehindStats WriteBehind::stats() const { return state_->counters.snapshot(); }

std::string WriteBehind::last_error() const {
  std::lock_guard<std::mutex> lk(state_->mu);
  return state_->last_error;
}

}  // namespace stratacache
