#include "read_through.hpp"


#include <algorithm>
#include <array>
#include <cmath>
#include <random>

#include "companion_key.hpp"
#include "glob.hpp"
#include "redis/cluster_slots.hpp"

namespace stratacache {

std::unique_ptr<ReadThrough> make_read_through(Cache::Impl& cache) { return std::make_unique<ReadThrough>(cache); }

// ---- Timers ----

void Timers::at(Deadline::Clock::time_point when, std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopped_) return;
  queue_.emplace(when, std::move(fn));
  if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
  cv_.notify_one();
}

void Timers::stop() {
  std::thread t;
  std::multimap<Deadline::Clock::time_point, std::function<void()>> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
    dropped.swap(queue_);
    t = std::move(thread_);
  }
  cv_.notify_all();
  if (t.joinable()) t.join();
}

void Timers::run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopped_) {
    if (queue_.empty()) {
      cv_.wait(lock);
      continue;
    }
    auto first = queue_.begin();
    if (first->first > Deadline::Clock::now()) {
      const auto until = first->first;  // a copy: the node may go while this waits
      cv_.wait_until(lock, until);
      continue;
    }
    auto fn = std::move(first->second);
    queue_.erase(first);
    lock.unlock();
    fn();
    lock.lock();
  }
}

// ---- Lease keys and tokens ----

namespace {

constexpr std::string_view kLeaseMark = "~lease{";

Deadline::Clock::time_point clamp(Deadline::Clock::time_point t) {
  // Far-away deadlines (no timeout) as one day: condition variables convert clocks.
  auto limit = Deadline::Clock::now() + std::chrono::hours(24);
  return std::min(t, limit);
}

}  // namespace

// In the key's slot (companion_key.hpp).
std::string lease_key(std::string_view full) { return companion_key(full, kLeaseMark.substr(0, kLeaseMark.size() - 1)); }

static bool valid(const LoadOptions& o) {
  return o.stale_ttl_ms >= 0 && o.negative_ttl_ms >= 0 && o.early_refresh >= 0 && std::isfinite(o.early_refresh);
}

// XFetch (Vattani et al., VLDB 2015): refresh a fresh entry when
// now - load_time * beta * ln(U) reaches the end of its fresh period, U uniform in (0, 1].
static bool refresh_due(const Cache::Impl::Seen& s, double beta) {
  if (beta <= 0 || s.fresh_until_ms == INT64_MAX) return false;
  double delta = std::max<double>(s.load_ms, 1) * beta;
  double left = static_cast<double>(s.fresh_until_ms - s.seen_at_ms);
  // -ln(U) > 40 has probability e^-40: no draw while the end is that far away.
  if (left > 40 * delta) return false;
  thread_local std::mt19937_64 rng(std::random_device{}());
  double u = std::uniform_real_distribution<double>(std::nextafter(0.0, 1.0), 1.0)(rng);
  return -delta * std::log(u) >= left;
}

// ---- One call ----

struct ReadThrough::Op {
  std::string key, full;
  LoadOptions opt;
  bool wait = true;
  Deadline hard{Deadline::Clock::time_point::max()};
  Deadline soft{Deadline::Clock::time_point::max()};
  std::function<void(Lookup)> done;
  ValueRef stale;                  // a stale value this caller may serve
  std::shared_ptr<Flight> flight;  // when this caller leads the key's flight
  bool l2_failed = false;          // Redis failed during this call: no lease, serve stale if any
  bool counted_wait = false;
  Deadline::Clock::time_point holder_until{};  // when the lease this caller waits for runs out
  Millis poll{10};                 // without a coherence channel: the next look
  int restarts = 0;
  Call call() const { return Call{hard, wait}; }
};

ReadThroughStats ReadThrough::stats() const {
  ReadThroughStats s;
  s.loads = n_.loads.load(std::memory_order_relaxed);
  s.load_failures = n_.load_failures.load(std::memory_order_relaxed);
  s.stale_served = n_.stale_served.load(std::memory_order_relaxed);
  s.lease_waits = n_.lease_waits.load(std::memory_order_relaxed);
  s.lease_takeovers = n_.lease_takeovers.load(std::memory_order_relaxed);
  s.early_refreshes = n_.early_refreshes.load(std::memory_order_relaxed);
  s.negative_hits = n_.negative_hits.load(std::memory_order_relaxed);
  s.fills_refused = n_.fills_refused.load(std::memory_order_relaxed);
  return s;
}

void ReadThrough::acquire(std::string_view key, const LoadOptions& options, bool wait,
                          std::function<void(Lookup)> done) {
  if (Status st = c_.check_key(key); !st) return done(Lookup{Result<Loaded>(st), nullptr});
  if (!valid(options)) {
    return done(Lookup{Result<Loaded>(invalid_argument("stale_ttl, negative_ttl and early_refresh must be >= 0 (early_refresh finite)")),
                       nullptr});
  }
  if (Status st = c_.check_tags(options.tags, {}); !st) return done(Lookup{Result<Loaded>(st), nullptr});
  if (ValueRef v = fresh_hit(key, options)) return done(Lookup{Loaded{std::move(v), false, false}, nullptr});
  auto op = std::make_shared<Op>();
  op->key = std::string(key);
  op->full = c_.full_key(key);
  op->opt = options;
  op->wait = wait;
  Millis hard = options.hard_timeout.count() >= 0 ? options.hard_timeout : c_.options.redis.socket_timeout;
  op->hard = Deadline::after_saturating(hard);
  op->soft = options.soft_timeout.count() >= 0 ? Deadline::after_saturating(options.soft_timeout) : op->hard;
  if (op->opt.lease_ttl.count() < 0) op->opt.lease_ttl = std::max(Millis(10000), 2 * hard);
  op->done = std::move(done);
  start(op);
}

// The hit path: a fresh L1 copy that needs no refresh answers without any state.
ValueRef ReadThrough::fresh_hit(std::string_view key, const LoadOptions& options) {
  if (options.skip_l1) return {};
  c_.check_fork();
  Cache::Impl::Seen s = c_.see(c_.l1.get(key));
  if (s.state != Cache::Impl::Seen::kFresh || refresh_due(s, options.early_refresh)) return {};
  return std::move(s.value);
}

void ReadThrough::start(const OpPtr& op) {
  c_.check_fork();
  if (!op->opt.skip_l1) {
    Cache::Impl::Seen s = c_.see(c_.l1.get(op->key));
    // A stale copy is kept to fall back on; Redis may hold a newer one.
    if (s.state == Cache::Impl::Seen::kStale) op->stale = s.value;
    else if (s.state != Cache::Impl::Seen::kMiss) return seen(op, s);
  }
  read_l2(op);
}

// What a look at L1 or L2 found decides the next step.
void ReadThrough::seen(const OpPtr& op, const Cache::Impl::Seen& s) {
  using Seen = Cache::Impl::Seen;
  switch (s.state) {
    case Seen::kFresh: {
      if (op->flight) {  // this caller led a wait for another's load, which landed
        end_flight(op->key, op->flight, Loaded{s.value, false, false});
        op->flight.reset();
        return finish(op, Loaded{s.value, false, false});
      }
      if (refresh_due(s, op->opt.early_refresh)) return try_refresh(op, s.value);
      return finish(op, Loaded{s.value, false, false});
    }
    case Seen::kNegative:
      n_.negative_hits.fetch_add(1, std::memory_order_relaxed);
      if (op->flight) {
        end_flight(op->key, op->flight, Result<Loaded>(not_found()));
        op->flight.reset();
      }
      return finish(op, not_found("the key does not exist (a negative entry)"));
    case Seen::kStale:
      op->stale = s.value;
      return local(op);
    case Seen::kMiss:
      return local(op);
  }
}

void ReadThrough::read_l2(const OpPtr& op) {
  if (closed_.load(std::memory_order_acquire)) return give_up(op, unavailable("the cache was closed"));
  if (!c_.l2->enabled()) return local(op);
  Call call = op->call();
  uint64_t token = c_.coverage_token(call);
  uint64_t epoch = c_.l1.write_epoch(op->key);
  c_.l2->get(op->full, call, [this, op, call, token, epoch](Result<RemoteEntry> r) {
    if (!r) {
      if (r.code() != StatusCode::kNotFound) {
        op->l2_failed = true;
        if (op->stale) return serve_stale(op);
      }
      return local(op);
    }
    std::optional<EntryMeta> meta;
    auto p = c_.open_envelope(op->key, op->full, r->value, call, &meta);
    if (!p) return local(op);  // unreadable: a miss
    seen(op, c_.backfill(op->key, *p, meta, r->pttl_ms, epoch, token, !op->opt.skip_l1));
  });
}

void ReadThrough::local(const OpPtr& op) {
  if (op->flight) return remote(op);  // looked again while leading: still the leader
  std::shared_ptr<Flight> joined;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto& f = flights_[op->key];
    if (f) joined = f;
    else f = op->flight = std::make_shared<Flight>();
    flight_count_.store(flights_.size(), std::memory_order_release);
  }
  if (joined) return join(op, joined);
  remote(op);
}

void ReadThrough::join(const OpPtr& op, const std::shared_ptr<Flight>& f) {
  if (!op->counted_wait) {
    op->counted_wait = true;
    n_.lease_waits.fetch_add(1, std::memory_order_relaxed);
  }
  auto until = op->stale ? std::min(op->soft.at(), op->hard.at()) : op->hard.at();
  await(f, true, 0, until, op->wait, [this, op, f](bool timed_out) {
    if (timed_out) {
      if (op->stale) return serve_stale(op);
      return finish(op, timeout_error("hard_timeout passed while waiting for another caller's load"));
    }
    Result<Loaded> outcome{not_found()};
    {
      std::lock_guard<std::mutex> lock(f->mu);
      outcome = f->outcome;
    }
    if (outcome) return finish(op, std::move(outcome));
    if (outcome.code() == StatusCode::kNotFound) return finish(op, outcome.status());
    if (outcome.code() == StatusCode::kAborted && !op->hard.expired() && ++op->restarts < 100) return read_l2(op);
    if (op->stale) return serve_stale(op);
    finish(op, outcome.status());
  });
}

void ReadThrough::remote(const OpPtr& op) {
  if (!c_.l2->enabled() || !op->opt.lock || op->l2_failed) return grant(op, false, {}, {});
  std::string token = random_token();
  uint64_t seen_wakes;
  {
    std::lock_guard<std::mutex> lock(op->flight->mu);
    seen_wakes = op->flight->wakes;
  }
  // The channel wakes a waiter only if it covered the read that saw the lease (as for locks).
  uint64_t coverage = c_.coverage_token(op->call());
  c_.l2->lease_try(op->full, lease_key(op->full), token, op->opt.lease_ttl.count(), !op->stale, op->call(),
                   [this, op, token, seen_wakes, coverage](Result<LeaseTry> r) {
                     if (!r) {
                       op->l2_failed = true;
                       if (op->stale) {
                         end_flight(op->key, op->flight, Result<Loaded>(r.status()));
                         op->flight.reset();
                         return serve_stale(op);
                       }
                       return grant(op, false, {}, {});
                     }
                     if (r->acquired) {
                       if (op->holder_until != Deadline::Clock::time_point{} &&
                           Deadline::Clock::now() + Millis(5) >= op->holder_until) {
                         n_.lease_takeovers.fetch_add(1, std::memory_order_relaxed);
                       }
                       return grant(op, true, token, {});
                     }
                     if (r->value_arrived) return read_l2(op);
                     if (!op->counted_wait) {
                       op->counted_wait = true;
                       n_.lease_waits.fetch_add(1, std::memory_order_relaxed);
                     }
                     {
                       std::lock_guard<std::mutex> lock(op->flight->mu);
                       if (op->flight->wakes != seen_wakes) return read_l2(op);  // changed meanwhile
                     }
                     remote_wait(op, r->holder_pttl_ms, coverage);
                   });
}

void ReadThrough::remote_wait(const OpPtr& op, int64_t holder_pttl_ms, uint64_t coverage) {
  auto now = Deadline::Clock::now();
  op->holder_until = now + Millis(holder_pttl_ms);
  auto until = std::min(op->hard.at(), op->holder_until + Millis(2));
  if (op->stale) until = std::min(until, op->soft.at());
  // Without a channel that covered the lease read nothing wakes us: look again with backoff.
  if (!c_.coherence || !c_.l1_covered(coverage)) {
    until = std::min(until, now + op->poll);
    op->poll = std::min(op->poll * 2, Millis(200));
  }
  uint64_t seen_wakes;
  {
    std::lock_guard<std::mutex> lock(op->flight->mu);
    seen_wakes = op->flight->wakes;
  }
  await(op->flight, false, seen_wakes, until, op->wait, [this, op](bool) {
    if (op->hard.expired()) return give_up(op, timeout_error("hard_timeout passed while another process loaded"));
    if (op->stale && op->soft.expired()) return give_up(op, timeout_error("soft_timeout"));
    read_l2(op);
  });
}

void ReadThrough::try_refresh(const OpPtr& op, ValueRef value) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto& f = flights_[op->key];
    if (f) return finish(op, Loaded{std::move(value), false, false});  // being loaded already
    f = op->flight = std::make_shared<Flight>();
    flight_count_.store(flights_.size(), std::memory_order_release);
  }
  if (!c_.l2->enabled() || !op->opt.lock) return grant(op, false, {}, std::move(value));
  std::string token = random_token();
  c_.l2->lease_try(op->full, lease_key(op->full), token, op->opt.lease_ttl.count(), false, op->call(),
                   [this, op, token, value](Result<LeaseTry> r) {
                     if (r && r->acquired) return grant(op, true, token, value);
                     // Another process refreshes it (or Redis fails): keep serving this one.
                     end_flight(op->key, op->flight, Result<Loaded>(Status(StatusCode::kAborted, "no refresh")));
                     op->flight.reset();
                     finish(op, Loaded{value, false, false});
                   });
}

void ReadThrough::grant(const OpPtr& op, bool remote, std::string token, ValueRef fresh_value) {
  auto s = std::make_shared<Lease::State>();
  s->rt = this;
  s->key = op->key;
  s->options = op->opt;
  s->flight = std::move(op->flight);
  if (s->flight) {
    // The load starts now: only changes from here on can predate what it reads (one
    // seen while waiting for another process, e.g. the key's expiry, does not count).
    std::lock_guard<std::mutex> lock(s->flight->mu);
    s->flight->changed = false;
  }
  s->token = remote ? std::move(token) : std::string();
  s->refresh = static_cast<bool>(fresh_value);
  s->stale = static_cast<bool>(op->stale);
  s->started_ms = frame::now_ms();
  n_.loads.fetch_add(1, std::memory_order_relaxed);
  if (s->refresh) n_.early_refreshes.fetch_add(1, std::memory_order_relaxed);
  Lookup l;
  if (fresh_value) l.value = Loaded{std::move(fresh_value), false, false};
  else if (op->stale) l.value = Loaded{op->stale, true, false};
  l.lease = std::make_unique<Lease>(std::move(s));
  op->done(std::move(l));
}

void ReadThrough::serve_stale(const OpPtr& op) {
  n_.stale_served.fetch_add(1, std::memory_order_relaxed);
  finish(op, Loaded{op->stale, true, false});
}

void ReadThrough::finish(const OpPtr& op, Result<Loaded> r) { op->done(Lookup{std::move(r), nullptr}); }

// A leader that stops waiting: its joiners look again themselves (kAborted).
void ReadThrough::give_up(const OpPtr& op, Status why) {
  if (op->flight) {
    end_flight(op->key, op->flight, Result<Loaded>(Status(StatusCode::kAborted, why.message())));
    op->flight.reset();
  }
  if (op->stale) return serve_stale(op);
  finish(op, std::move(why));
}

void ReadThrough::end_flight(const std::string& key, const std::shared_ptr<Flight>& f, Result<Loaded> outcome) {
  if (!f) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = flights_.find(key);
    if (it != flights_.end() && it->second == f) flights_.erase(it);
    flight_count_.store(flights_.size(), std::memory_order_release);
  }
  std::vector<std::function<void()>> run;
  {
    std::lock_guard<std::mutex> lock(f->mu);
    if (f->done) return;
    f->done = true;
    f->outcome = std::move(outcome);
    run.swap(f->on_done);
    run.insert(run.end(), std::make_move_iterator(f->on_wake.begin()), std::make_move_iterator(f->on_wake.end()));
    f->on_wake.clear();
  }
  f->cv.notify_all();
  for (auto& fn : run) fn();
}

void ReadThrough::wake(std::string_view key) {
  if (flight_count_.load(std::memory_order_acquire) == 0) return;  // the usual case: nothing loads
  bool lease = false;
  if (size_t at = key.rfind(kLeaseMark); at != std::string_view::npos && key.back() == '}') {
    key = key.substr(0, at);
    lease = true;
  }
  std::shared_ptr<Flight> f;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = flights_.find(std::string(key));
    if (it == flights_.end()) return;
    f = it->second;
  }
  std::vector<std::function<void()>> run;
  {
    std::lock_guard<std::mutex> lock(f->mu);
    ++f->wakes;
    if (!lease) f->changed = true;
    run.swap(f->on_wake);
  }
  f->cv.notify_all();
  for (auto& fn : run) fn();
}

void ReadThrough::key_changed(std::string_view key) {
  if (flight_count_.load(std::memory_order_acquire) == 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = flights_.find(std::string(key));
  if (it == flights_.end()) return;
  std::lock_guard<std::mutex> flock(it->second->mu);
  it->second->changed = true;
}

void ReadThrough::keys_changed(std::string_view glob) {
  if (flight_count_.load(std::memory_order_acquire) == 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [key, f] : flights_) {
    if (!glob_match(glob, key)) continue;
    std::lock_guard<std::mutex> flock(f->mu);
    f->changed = true;
  }
}

void ReadThrough::await(const std::shared_ptr<Flight>& f, bool for_done, uint64_t seen, Deadline::Clock::time_point until,
                        bool wait, std::function<void(bool timed_out)> next) {
  until = clamp(until);
  auto ready = [&] { return f->done || (!for_done && f->wakes != seen); };
  if (wait) {
    bool ok;
    {
      std::unique_lock<std::mutex> lock(f->mu);
      ok = f->cv.wait_until(lock, until, ready);
    }
    return next(!ok);
  }
  auto once = std::make_shared<std::atomic<bool>>(false);
  auto fire = std::make_shared<std::function<void(bool)>>(
      [once, next = std::move(next)](bool timed_out) {
        if (!once->exchange(true)) next(timed_out);
      });
  {
    std::unique_lock<std::mutex> lock(f->mu);
    if (!ready()) {
      (for_done ? f->on_done : f->on_wake).push_back([fire] { (*fire)(false); });
      lock.unlock();
      if (closed_.load(std::memory_order_acquire)) return (*fire)(true);
      timers_.at(until, [fire] { (*fire)(true); });
      return;
    }
  }
  (*fire)(false);
}

void ReadThrough::close() {
  if (closed_.exchange(true)) return;
  {
    std::unique_lock<std::mutex> lock(releases_mu_);
    releases_done_.wait_for(lock, std::chrono::milliseconds(500), [this] { return releases_ == 0; });
  }
  timers_.stop();
  std::unordered_map<std::string, std::shared_ptr<Flight>> flights;
  {
    std::lock_guard<std::mutex> lock(mu_);
    flights.swap(flights_);
    flight_count_.store(0, std::memory_order_release);
  }
  for (auto& [key, f] : flights) end_flight(key, f, Result<Loaded>(unavailable("the cache was closed")));
}

// ---- Filling ----

void ReadThrough::fill(const std::shared_ptr<Lease::State>& s, const Payload& value, int64_t ttl_ms, bool wait,
                       std::function<void(Result<ValueRef>)> done) {
  if (s->finished.exchange(true)) return done(invalid_argument("the lease was already filled or abandoned"));
  int64_t fresh = ttl_ms >= 0 ? ttl_ms : s->options.ttl_ms >= 0 ? s->options.ttl_ms : c_.options.default_ttl.count();
  Status bad;
  if (fresh > Cache::Impl::kMaxTtlMs) bad = invalid_argument("ttl of " + std::to_string(fresh) + " ms is over the 10-year maximum");
  if (value.data.size() > c_.options.codec.limits.max_value_bytes) {
    bad = too_large("value is " + std::to_string(value.data.size()) + " bytes; max_value_bytes is " +
                    std::to_string(c_.options.codec.limits.max_value_bytes));
  }
  if (!bad.is_ok()) {
    s->finished.store(false);
    abandon(s, bad);
    return done(std::move(bad));
  }
  fresh = c_.jittered(fresh);
  EntryMeta meta;
  meta.stale_ms = fresh > 0 ? static_cast<uint64_t>(s->options.stale_ttl_ms) : 0;
  meta.load_ms = static_cast<uint32_t>(std::clamp<int64_t>(frame::now_ms() - s->started_ms, 0, UINT32_MAX));
  int64_t total = fresh > 0 ? std::min(fresh + static_cast<int64_t>(meta.stale_ms), Cache::Impl::kMaxTtlMs) : 0;
  store(s, value, meta, fresh, total, wait, std::move(done));
}

void ReadThrough::fill_not_found(const std::shared_ptr<Lease::State>& s, bool wait, std::function<void(Status)> done) {
  if (s->finished.exchange(true)) return done(invalid_argument("the lease was already filled or abandoned"));
  if (s->options.negative_ttl_ms <= 0) {
    release(*s);
    end_flight(s->key, s->flight, Result<Loaded>(not_found("the key does not exist")));
    return done(Status());
  }
  EntryMeta meta;
  meta.negative = true;
  int64_t ttl = c_.jittered(std::min(s->options.negative_ttl_ms, Cache::Impl::kMaxTtlMs));
  store(s, Payload{Format::kRaw, {}}, meta, ttl, ttl, wait, [done = std::move(done)](Result<ValueRef> r) {
    done(r ? Status() : r.status());
  });
}

void ReadThrough::store(const std::shared_ptr<Lease::State>& s, const Payload& value, const EntryMeta& meta,
                        int64_t fresh_ms, int64_t total_ms, bool wait, std::function<void(Result<ValueRef>)> done) {
  auto env = c_.envelope(s->key, value, &meta);
  if (!env) {
    s->finished.store(false);
    abandon(s, env.status());
    return done(env.status());
  }
  bool changed = false;
  if (s->flight) {
    std::lock_guard<std::mutex> lock(s->flight->mu);
    changed = s->flight->changed;
  }
  if (changed) {
    // The key was written, deleted or invalidated while it loaded: what the loader read
    // may be older than that. Store nothing; the waiters look again.
    n_.fills_refused.fetch_add(1, std::memory_order_relaxed);
    release(*s);
    end_flight(s->key, s->flight, Result<Loaded>(Status(StatusCode::kAborted, "the key changed while it loaded")));
    return done(Status(StatusCode::kAborted, "the key changed while it loaded; nothing was stored"));
  }
  frame::Header h;
  h.load_ms = meta.load_ms;
  h.flags = meta.negative ? frame::kNegative : 0;
  if (meta.stale_ms > 0) h.flags |= frame::kHasStale;
  h.fresh_until_ms = fresh_ms > 0 ? frame::now_ms() + fresh_ms : INT64_MAX;
  ValueRef out = MemoryTier::make_ref(value.format, value.data);
  Result<Loaded> outcome = meta.negative ? Result<Loaded>(not_found("the key does not exist"))
                                         : Result<Loaded>(Loaded{out, false, false});
  bool in_l1 = !s->options.skip_l1;
  auto keep = [this, s, value, h, total_ms, in_l1](const Status* l2, uint64_t epoch, uint64_t token) {
    c_.keep_write(s->key, in_l1, l2, epoch, token, [&](const uint64_t* e) {
      uint64_t current = c_.l1.write_epoch(s->key);
      c_.store_framed(s->key, value, h, total_ms, true, e ? *e : current);
    });
  };
  const std::vector<std::string>& tags = s->options.tags;
  if (!c_.l2->enabled()) {
    keep(nullptr, 0, 0);
    if (!tags.empty()) c_.tags->add({Tags::Member{s->key, total_ms}}, tags, {}, false, Call{Deadline::after(Millis(0)), true}, [](Status) {});
    end_flight(s->key, s->flight, std::move(outcome));
    return done(out);
  }
  Millis t = s->options.hard_timeout.count() >= 0 ? s->options.hard_timeout : c_.options.redis.socket_timeout;
  Call call{Deadline::after_saturating(t), wait};
  uint64_t token = c_.coverage_token(call);
  uint64_t epoch = c_.l1.write_epoch(s->key);
  auto finish = [this, s, keep, epoch, token, out, outcome = std::move(outcome), done = std::move(done)](
                    Status l2, bool accepted) mutable {
    if (!accepted) {
      // The lease ran out or was taken over: a newer load owns the key. Our callers
      // still get our value; L1 keeps nothing (Redis has the newer one).
      n_.fills_refused.fetch_add(1, std::memory_order_relaxed);
      c_.l1.erase(s->key);
      end_flight(s->key, s->flight, std::move(outcome));
      return done(Status(StatusCode::kAborted, "the lease expired or was taken over; Redis kept the newer value"));
    }
    keep(&l2, epoch, token);
    end_flight(s->key, s->flight, std::move(outcome));
    done(out);
  };
  std::string full = c_.full_key(s->key);
  auto write = [this, s, full, env = std::move(env).value(), total_ms, call, finish](Status memberships) mutable {
    if (!memberships) return finish(std::move(memberships), true);
    if (!s->token.empty()) {
      c_.l2->lease_fill(full, lease_key(full), s->token, env, total_ms, call, [finish](Result<bool> r) mutable {
        if (!r) return finish(r.status(), true);
        finish(Status(), *r);
      });
    } else {
      c_.l2->set(full, env, total_ms, call, [finish](Status st) mutable { finish(std::move(st), true); });
    }
  };
  if (tags.empty()) return write(Status());
  // Memberships before the value, as for any tagged write (docs/tags.md).
  c_.tags->add({Tags::Member{s->key, total_ms}}, tags, {}, true, call, std::move(write));
}

// Gives the Redis lease back (compare-and-delete), without waiting: waiters in other
// processes are woken by its deletion and one of them loads at once. close() waits a
// moment for releases in flight, so a lease given back just before the cache closes
// still reaches Redis (else the others would wait for lease_ttl).
void ReadThrough::release(const Lease::State& s) {
  if (s.token.empty()) return;
  {
    std::lock_guard<std::mutex> lock(releases_mu_);
    ++releases_;
  }
  c_.l2->delete_if_value(lease_key(c_.full_key(s.key)), s.token, Call{Deadline::after(Millis(1000)), false},
                         [this](Result<bool>) {
                           std::lock_guard<std::mutex> lock(releases_mu_);
                           if (--releases_ == 0) releases_done_.notify_all();
                         });
}

void ReadThrough::abandon(const std::shared_ptr<Lease::State>& s, Status why) {
  if (s->finished.exchange(true)) return;
  n_.load_failures.fetch_add(1, std::memory_order_relaxed);
  if (s->stale) n_.stale_served.fetch_add(1, std::memory_order_relaxed);
  release(*s);
  if (why.is_ok() || why.code() == StatusCode::kNotFound) why = Status(StatusCode::kLoadFailed, "the load failed");
  end_flight(s->key, s->flight, Result<Loaded>(s->refresh ? Status(StatusCode::kAborted, why.message()) : why));
}

// ---- Lease ----

Lease::Lease(std::shared_ptr<State> s) : s_(std::move(s)) {}
Lease::~Lease() {
  if (s_ && !s_->finished.load()) s_->rt->abandon(s_, unavailable("the lease was dropped unfilled"));
}
const std::string& Lease::key() const { return s_->key; }
bool Lease::refresh() const { return s_->refresh; }

Result<ValueRef> Lease::fill(const Payload& value, int64_t ttl_ms) {
  Result<ValueRef> out(not_found());
  s_->rt->fill(s_, value, ttl_ms, true, [&out](Result<ValueRef> r) { out = std::move(r); });
  return out;
}

void Lease::fill_async(Payload value, int64_t ttl_ms, std::function<void(Result<ValueRef>)> done) {
  s_->rt->fill(s_, value, ttl_ms, false, std::move(done));
}

void Lease::fill_not_found_async(std::function<void(Status)> done) {
  s_->rt->fill_not_found(s_, false, std::move(done));
}

Status Lease::fill_not_found() {
  Status out;
  s_->rt->fill_not_found(s_, true, [&out](Status st) { out = std::move(st); });
  return out;
}

void Lease::abandon(Status why) { s_->rt->abandon(s_, std::move(why)); }

// ---- Cache ----

Lookup Cache::acquire(std::string_view key, const LoadOptions& options) {
  Lookup out;
  impl_->rt->acquire(key, options, true, [&out](Lookup l) { out = std::move(l); });
  return out;
}

void Cache::acquire_async(std::string_view key, const LoadOptions& options, std::function<void(Lookup)> done) {
  impl_->rt->acquire(key, options, false, std::move(done));
}

Result<Loaded> Cache::get_or_load(std::string_view key, const Loader& loader, const LoadOptions& options) {
  if (valid(options) && impl_->check_key(key).is_ok()) {
    if (ValueRef v = impl_->rt->fresh_hit(key, options)) return Loaded{std::move(v), false, false};
  }
  Lookup l = acquire(key, options);
  if (!l.lease) return std::move(l.value);
  Result<LoadedValue> r(internal_error("the loader did not return"));
  try {
    r = loader(key);
  } catch (...) {
    l.lease->abandon(internal_error("the loader threw"));
    throw;
  }
  if (r) {
    auto stored = l.lease->fill(r->value, r->ttl_ms);
    return Loaded{stored ? *stored : MemoryTier::make_ref(r->value.format, r->value.data), false, true};
  }
  if (r.code() == StatusCode::kNotFound) {
    (void)l.lease->fill_not_found();
    return r.status();
  }
  l.lease->abandon(r.status());
  if (l.value) return std::move(l.value);  // the fresh value (refresh) or the stale one
  return r.status();
}

}  // namespace stratacache
