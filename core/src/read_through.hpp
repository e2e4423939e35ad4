// Internal: read-through for one cache (docs/read-through.md).
//
// A caller that needs a key that is missing or past its fresh period becomes the
// key's loader or waits for the one that is:
// - in this process, a Flight per key: the first caller leads, the others join it and
//   get its outcome (or their stale value after soft_timeout, or kTimeout after
//   hard_timeout);
// - across processes, a lease in Redis (SET NX PX with a random token, in the key's
//   hash slot): the leader that does not get it waits for the holder. It is woken by
//   the coherence channel when the key or the lease changes (both were read on a
//   tracked connection), looks again when the holder's lease runs out (and takes it
//   over), and polls with backoff only when there is no channel (l1_coherence=off);
// - the caller that loads gets a Lease (Lease::State below); filling it writes the
//   value fenced by the token (a lease that expired or was taken over is refused), then
//   completes the Flight.
// Every step is written once, as a continuation with Call::wait semantics: a
// synchronous call runs them on its own thread (blocking where it waits), an
// asynchronous one on whichever thread completes its L2 request, delivers the
// invalidation, or fires its deadline (the timer thread). Nothing here calls into a
// host runtime except the caller's own completion.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cache_impl.hpp"
#include "deadline.hpp"
#include "stratacache/read_through.hpp"
#include "stratacache/stats.hpp"

namespace stratacache {

// One load of a key in progress in this process.
struct Flight {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  // For the callers that joined: the value, kNotFound, the loader's error, or kAborted
  // (the flight ended without an answer: look again).
  Result<Loaded> outcome{not_found()};
  uint64_t wakes = 0;  // times the key or its lease changed in Redis
  // The key itself changed while it was being loaded (an invalidation from Redis, a
  // write or delete in this process): the load may predate the change, so its fill
  // stores nothing (docs/read-through.md, "Fencing").
  bool changed = false;
  // Asynchronous waiters, each run once: waiting for the outcome (run when done), or
  // for a change (run on a wake or when done).
  std::vector<std::function<void()>> on_done, on_wake;
};

// Runs callbacks at their time on one thread, started on first use.
class Timers {
 public:
  ~Timers() { stop(); }
  void at(Deadline::Clock::time_point when, std::function<void()> fn);
  // Drops what is pending and joins the thread; later at() calls are dropped.
  void stop();

 private:
  void run();
  std::mutex mu_;
  std::condition_variable cv_;
  std::multimap<Deadline::Clock::time_point, std::function<void()>> queue_;
  std::thread thread_;
  bool stopped_ = false;
};

class ReadThrough {
 public:
  explicit ReadThrough(Cache::Impl& cache) : c_(cache) {}
  ~ReadThrough() { close(); }

  void acquire(std::string_view key, const LoadOptions& options, bool wait, std::function<void(Lookup)> done);
  // A fresh L1 copy that needs no early refresh, or empty (the key must be valid).
  ValueRef fresh_hit(std::string_view key, const LoadOptions& options);
  // Lease operations (Lease's methods).
  void fill(const std::shared_ptr<Lease::State>& s, const Payload& value, int64_t ttl_ms, bool wait,
            std::function<void(Result<ValueRef>)> done);
  void fill_not_found(const std::shared_ptr<Lease::State>& s, bool wait, std::function<void(Status)> done);
  void abandon(const std::shared_ptr<Lease::State>& s, Status why);

  // The coherence channel says `key` (unprefixed; maybe a lease key) changed in Redis.
  void wake(std::string_view key);
  // This process wrote or deleted keys (`key`, or every key matching `glob`): loads of
  // them in progress must not store what they read before.
  void key_changed(std::string_view key);
  void keys_changed(std::string_view glob);
  // Ends every flight (kUnavailable) and stops the timer thread: nothing waits past it.
  void close();
  ReadThroughStats stats() const;

  struct Op;
  using OpPtr = std::shared_ptr<Op>;

 private:
  // The steps (read_through.cpp).
  void start(const OpPtr& op);
  void read_l2(const OpPtr& op);
  void seen(const OpPtr& op, const Cache::Impl::Seen& s);
  void local(const OpPtr& op);
  void join(const OpPtr& op, const std::shared_ptr<Flight>& f);
  void remote(const OpPtr& op);
  void remote_wait(const OpPtr& op, int64_t holder_pttl_ms, uint64_t coverage);
  void try_refresh(const OpPtr& op, ValueRef value);
  void grant(const OpPtr& op, bool remote, std::string token, ValueRef fresh_value);
  void serve_stale(const OpPtr& op);
  void finish(const OpPtr& op, Result<Loaded> r);
  void give_up(const OpPtr& op, Status why);
  void release(const Lease::State& s);

  // The flight of `key` ends with `outcome`; its waiters run.
  void end_flight(const std::string& key, const std::shared_ptr<Flight>& f, Result<Loaded> outcome);
  // Waits until `f` is done or (unless for_done) its wakes moved past `seen`, or until
  // `until`; then next(timed_out). wait: blocks here; else next runs later, once.
  void await(const std::shared_ptr<Flight>& f, bool for_done, uint64_t seen, Deadline::Clock::time_point until,
             bool wait, std::function<void(bool timed_out)> next);
  // Writes a load's result (a value or a negative entry) to both tiers, fenced by the lease.
  void store(const std::shared_ptr<Lease::State>& s, const Payload& value, const EntryMeta& meta, int64_t fresh_ms,
             int64_t total_ms, bool wait, std::function<void(Result<ValueRef>)> done);

  Cache::Impl& c_;
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Flight>> flights_;
  std::atomic<size_t> flight_count_{0};  // flights_.size(), read without mu_ by writers
  Timers timers_;
  std::atomic<bool> closed_{false};
  std::mutex releases_mu_;
  std::condition_variable releases_done_;
  int releases_ = 0;  // lease releases sent and not yet answered
  struct Counters {
    std::atomic<uint64_t> loads{0}, load_failures{0}, stale_served{0}, lease_waits{0}, lease_takeovers{0},
        early_refreshes{0}, negative_hits{0}, fills_refused{0};
  } n_;
};

// A lease handed to a caller (stratacache/read_through.hpp).
struct Lease::State {
  ReadThrough* rt = nullptr;
  std::string key;
  LoadOptions options;
  std::shared_ptr<Flight> flight;
  std::string token;       // the Redis lease's; empty: no Redis lease (lock off, Redis failing, mem://)
  bool refresh = false;
  bool stale = false;      // the caller got a stale value with the lease
  int64_t started_ms = 0;  // frame::now_ms() when granted: the load time stored with the value
  std::atomic<bool> finished{false};
};

// The Redis key of `full`'s lease: in the same hash slot (its hash tag, or one chosen to
// land in the slot of `full`), recognisable by wake().
std::string lease_key(std::string_view full);

}  // namespace stratacache
