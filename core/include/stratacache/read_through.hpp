// Read-through: get-or-load with one load per key across threads, languages on one
// handle and processes; fresh and stale periods; early refresh; negative entries
// (docs/read-through.md).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "stratacache/codec.hpp"
#include "stratacache/options.hpp"
#include "stratacache/status.hpp"
#include "stratacache/value_ref.hpp"

namespace stratacache {

// Per-call settings of get_or_load / acquire. Durations < 0 mean "the default" below.
//
//   |<---------- ttl (fresh) ---------->|<---- stale_ttl ---->|
//   write          [early refresh: one caller reloads]    gone
//   fresh: served as is.  stale: the next caller reloads; if the load fails, times out
//   (soft_timeout) or Redis is unavailable, the stale value is served (Loaded::stale).
struct LoadOptions {
  int64_t ttl_ms = -1;           // fresh period when the loader gives none (< 0: default_ttl; 0: no expiry)
  int64_t stale_ttl_ms = 0;      // stale period after the fresh one (0: none)
  int64_t negative_ttl_ms = 0;   // how long "does not exist" is remembered (0: not cached)
  // Early refresh (XFetch): a caller reloads a fresh entry in the background with a
  // probability that rises towards the end of the fresh period, the sooner the longer
  // loads take: when now - load_time * early_refresh * ln(rand()) >= fresh end. 0: off;
  // 1: XFetch's optimum.
  double early_refresh = 0;
  // A caller that has a stale value waits at most this long for another caller's load,
  // then gets the stale value (< 0: until hard_timeout).
  Millis soft_timeout{-1};
  // Bound on every wait of the call: Redis round trips, waiting for another caller's
  // load in this process or another (< 0: socket_timeout). Not the loader itself, which
  // runs on the caller's thread (callback form) or the host's (lease form).
  Millis hard_timeout{-1};
  // Lifetime of the lease in Redis that makes one process load (< 0: max(10 s,
  // 2 * hard_timeout)). A holder that dies is taken over after it.
  Millis lease_ttl{-1};
  bool lock = true;              // take a lease in Redis (false: one load per process only)
  bool skip_l1 = false;          // neither read nor write L1
  std::vector<std::string> tags;  // the filled entry's tags (docs/tags.md)
};

// What a get-or-load returns for a value (a "does not exist" is kNotFound).
struct Loaded {
  ValueRef value;
  bool stale = false;    // from the stale period: the reload failed, timed out or Redis was unavailable
  bool loaded = false;   // this call ran the loader (or filled the lease) and stored the value
};

// What a loader returns: the value and its fresh period (< 0: LoadOptions::ttl_ms).
struct LoadedValue {
  Payload value;
  int64_t ttl_ms = -1;
};

// Runs on the calling thread. kNotFound: the key does not exist (cached for
// negative_ttl_ms); any other error: the load failed (never cached; a stale value is
// served instead when there is one).
using Loader = std::function<Result<LoadedValue>(std::string_view key)>;

class Cache;

// The right, and the duty, to load one key: returned by Cache::acquire to the caller
// that must load. Other callers of the key wait for it (in this process and, through a
// lease in Redis, in others). Thread-safe: may be filled or abandoned from any thread,
// exactly once; destroying it unfilled abandons it. The cache must outlive it.
class Lease {
 public:
  ~Lease();
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

  const std::string& key() const;
  // True for an early refresh: the caller already has a fresh value and nobody waits.
  bool refresh() const;

  // Stores the value in both tiers and hands it to the waiters. The Redis write is
  // fenced: refused (kAborted) when the lease expired or another caller took it over,
  // so an old result never overwrites a newer one; the waiters still get the value.
  // Returns the stored value.
  Result<ValueRef> fill(const Payload& value, int64_t ttl_ms = -1);
  // "Does not exist": stored as a negative entry for negative_ttl_ms (if > 0); the
  // waiters get kNotFound.
  Status fill_not_found();
  // The load failed: the lease is released, the waiters get `why` (kLoadFailed with the
  // loader's message, typically) or their stale value. kAborted: the waiters look again
  // and one of them loads (e.g. a result the caller chose not to cache).
  void abandon(Status why);
  // Asynchronous forms: the same, without blocking on Redis; `done` as in Cache::*_async.
  void fill_async(Payload value, int64_t ttl_ms, std::function<void(Result<ValueRef>)> done);
  void fill_not_found_async(std::function<void(Status)> done);

  struct State;
  explicit Lease(std::shared_ptr<State> s);

 private:
  std::shared_ptr<State> s_;
};

// What Cache::acquire returns. Exactly one of:
//  - a value (fresh, or stale when the reload failed), no lease;
//  - a value and a lease with refresh() true: an early refresh, to load in the background;
//  - a lease and value = kNotFound (nothing to serve) or value = a stale value to serve
//    if the load fails: this caller loads, then fills or abandons the lease;
//  - kNotFound without a lease: a negative entry, the key does not exist;
//  - another error, no lease (e.g. kTimeout: hard_timeout passed while waiting).
struct Lookup {
  Result<Loaded> value{not_found()};
  std::unique_ptr<Lease> lease;
};

}  // namespace stratacache
