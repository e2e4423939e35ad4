#include "lock.hpp"

#include <algorithm>

#include "companion_key.hpp"

namespace stratacache {

std::unique_ptr<Locks, LocksDeleter> make_locks(Cache::Impl& cache) {
  return std::unique_ptr<Locks, LocksDeleter>(new Locks(cache));
}
void LocksDeleter::operator()(Locks* l) const { delete l; }

namespace {



constexpr std::string_view kLockMark = "~lock:";

// KEYS: lock, fence. ARGV: token, ttl ms. {1, fence}: taken (or already ours: a request
// retried after its connection died ran twice); {0, pttl}: held by another owner. The
// GET reads the lock key, so a tracking connection hears when it changes.
constexpr std::string_view kAcquireScript = R"lua(
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  return {1, tonumber(redis.call('GET', KEYS[2]) or '0')}
end
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return {1, redis.call('INCR', KEYS[2])}
end
return {0, redis.call('PTTL', KEYS[1])}
)lua";

// KEYS: lock. ARGV: token, ttl ms. 1: extended; 0: not the owner.
constexpr std::string_view kExtendScript = R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
)lua";

Deadline::Clock::time_point clamp(Deadline::Clock::time_point t) {
  // Far-away deadlines as one day: condition variables convert clocks.
  return std::min(t, Deadline::Clock::now() + std::chrono::hours(24));
}

Status check_ttl(Millis ttl) {
  if (ttl.count() <= 0 || ttl.count() > Cache::Impl::kMaxTtlMs) {
    return invalid_argument("lock ttl must be > 0 ms and at most 10 years, got " + std::to_string(ttl.count()) + " ms");
  }
  return Status();
}

}  // namespace

// Callers waiting for one lock key: woken by a change of the key (wakes moves on).
struct Locks::Waiters {
  std::mutex mu;
  std::condition_variable cv;
  uint64_t wakes = 0;
  std::vector<std::function<void()>> on_wake;  // asynchronous waiters, each run once
  int users = 0;                               // under Locks::mu_
};

struct Locks::Op {
  std::string name, key, full, fence_key, token;
  LockOptions opt;
  bool wait = true;
  Deadline until{Deadline::Clock::time_point::max()};  // end of the wait for the holder
  Millis poll{10};                           // without a channel: the next look
  bool contended = false;
  std::shared_ptr<Waiters> w;
  std::function<void(Result<std::unique_ptr<DistributedLock>>)> done;
  Millis rtt() const { return opt.timeout; }
};

LockStats Locks::stats() const {
  LockStats s;
  s.acquired = n_.acquired.load(std::memory_order_relaxed);
  s.contended = n_.contended.load(std::memory_order_relaxed);
  s.timeouts = n_.timeouts.load(std::memory_order_relaxed);
  s.lost = n_.lost.load(std::memory_order_relaxed);
  return s;
}

void Locks::acquire(std::string_view name, const LockOptions& options, bool wait,
                    std::function<void(Result<std::unique_ptr<DistributedLock>>)> done) {
  if (Status st = check_ttl(options.ttl); !st) return done(st);
  if (options.wait.count() < 0) return done(invalid_argument("lock wait must be >= 0 ms"));
  auto op = std::make_shared<Op>();
  op->name = std::string(name);
  op->key = std::string(kLockMark).append(name);
  if (Status st = c_.check_key(op->key); !st) return done(st);
  op->full = c_.full_key(op->key);
  if (c_.l2->enabled()) op->fence_key = companion_key(op->full, "~fence");
  op->token = random_token();
  op->opt = options;
  if (op->opt.timeout.count() < 0) op->opt.timeout = c_.options.redis.socket_timeout;
  op->wait = wait;
  op->until = Deadline::after_saturating(options.wait);
  op->done = std::move(done);
  op->w = enter(op->key);
  attempt(op);
}

void Locks::attempt(const std::shared_ptr<Op>& op) {
  if (closed_.load(std::memory_order_acquire)) return finish(op, unavailable("the cache was closed"));
  uint64_t seen;
  {
    std::lock_guard<std::mutex> lock(op->w->mu);
    seen = op->w->wakes;
  }
  if (!c_.l2->enabled()) {
    auto [taken, value] = local_acquire(op->key, op->token, op->opt.ttl);
    return attempted(op, seen, 0, value, taken);
  }
  Call call{Deadline::after_saturating(op->rtt()), op->wait};
  // The read in the script is tracked only if the channel is up from before it until
  // its reply (coherence.hpp): else no invalidation will come and the waiter polls.
  uint64_t coverage = c_.coverage_token(call);
  c_.l2->script(kAcquireScript, {op->full, op->fence_key}, {op->token, std::to_string(op->opt.ttl.count())}, true, call,
                [this, op, seen, coverage](Result<ScriptValue> r) {
                  if (!r) {
                    // The request may have run before the failure: give back what it took.
                    c_.l2->delete_if_value(op->full, op->token, Call{Deadline::after(Millis(1000)), false},
                                           [](Result<bool>) {});
                    return attempted(op, seen, coverage, r.status(), false);
                  }
                  if (r->kind != ScriptValue::Kind::kArray || r->items.size() != 2 ||
                      r->items[0].kind != ScriptValue::Kind::kInteger ||
                      r->items[1].kind != ScriptValue::Kind::kInteger) {
                    return attempted(op, seen, coverage, internal_error("unexpected reply to the lock script"), false);
                  }
                  attempted(op, seen, coverage, r->items[1].integer, r->items[0].integer == 1);
                });
}

void Locks::attempted(const std::shared_ptr<Op>& op, uint64_t seen, uint64_t coverage, Result<int64_t> fence_or_pttl,
                      bool acquired) {
  if (!fence_or_pttl) return finish(op, fence_or_pttl.status());
  if (acquired) {
    n_.acquired.fetch_add(1, std::memory_order_relaxed);
    auto s = std::make_shared<DistributedLock::State>();
    s->locks = this;
    s->name = op->name;
    s->key = op->key;
    s->full = op->full;
    s->token = op->token;
    s->fence = static_cast<uint64_t>(*fence_or_pttl);
    s->timeout = op->opt.timeout;
    return finish(op, std::make_unique<DistributedLock>(std::move(s)));
  }
  if (!op->contended) {
    op->contended = true;
    n_.contended.fetch_add(1, std::memory_order_relaxed);
  }
  if (op->until.expired()) {
    n_.timeouts.fetch_add(1, std::memory_order_relaxed);
    return finish(op, timeout_error("the lock '" + op->name + "' is held by another owner"));
  }
  bool changed;
  {
    std::lock_guard<std::mutex> lock(op->w->mu);
    changed = op->w->wakes != seen;
  }
  if (changed) return attempt(op);  // released or changed meanwhile
  auto now = Deadline::Clock::now();
  auto until = op->until.at();
  int64_t holder_pttl = *fence_or_pttl;  // -1: a key without a TTL (not ours): only our wait ends
  if (holder_pttl >= 0) until = std::min(until, now + Millis(holder_pttl + 1));
  // Woken by the coherence channel (Redis) or by this table's releases (mem://); else poll.
  bool woken = !c_.l2->enabled() || (c_.coherence && c_.l1_covered(coverage));
  if (!woken) {
    until = std::min(until, now + op->poll);
    op->poll = std::min(op->poll * 2, Millis(200));
  }
  await(op->w, seen, until, op->wait, [this, op] { attempt(op); });
}

void Locks::finish(const std::shared_ptr<Op>& op, Result<std::unique_ptr<DistributedLock>> r) {
  leave(op->key);
  op->done(std::move(r));
}

void Locks::await(const std::shared_ptr<Waiters>& w, uint64_t seen, Deadline::Clock::time_point until, bool wait,
                  std::function<void()> next) {
  until = clamp(until);
  auto ready = [&] { return w->wakes != seen || closed_.load(std::memory_order_acquire); };
  if (wait) {
    {
      std::unique_lock<std::mutex> lock(w->mu);
      w->cv.wait_until(lock, until, ready);
    }
    return next();
  }
  // Runs `next` once, whichever comes first (a wake or the deadline), and lets go of it
  // then: the other path's copy of `fire` (left in on_wake or the timer) must not keep
  // the operation, and through it its Waiters, alive (a reference cycle).
  struct Once {
    std::mutex mu;
    std::function<void()> next;
  };
  auto once = std::make_shared<Once>();
  once->next = std::move(next);
  auto fire = std::make_shared<std::function<void()>>([once] {
    std::function<void()> n;
    {
      std::lock_guard<std::mutex> lock(once->mu);
      n.swap(once->next);
    }
    if (n) n();
  });
  {
    std::unique_lock<std::mutex> lock(w->mu);
    if (!ready()) {
      w->on_wake.push_back([fire] { (*fire)(); });
      lock.unlock();
      if (closed_.load(std::memory_order_acquire)) return (*fire)();
      timers_.at(until, [fire] { (*fire)(); });
      return;
    }
  }
  (*fire)();
}

std::shared_ptr<Locks::Waiters> Locks::enter(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& w = waiting_[key];
  if (!w) w = std::make_shared<Waiters>();
  ++w->users;
  waiting_count_.store(waiting_.size(), std::memory_order_release);
  return w;
}

void Locks::leave(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = waiting_.find(key);
  if (it != waiting_.end() && --it->second->users == 0) waiting_.erase(it);
  waiting_count_.store(waiting_.size(), std::memory_order_release);
}

void Locks::wake(std::string_view key) {
  if (waiting_count_.load(std::memory_order_acquire) == 0) return;  // the usual case: nobody waits
  if (key.substr(0, kLockMark.size()) != kLockMark) return;
  std::shared_ptr<Waiters> w;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = waiting_.find(std::string(key));
    if (it == waiting_.end()) return;
    w = it->second;
  }
  ring(*w);
}

void Locks::wake_all() {
  std::vector<std::shared_ptr<Waiters>> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [key, w] : waiting_) all.push_back(w);
  }
  for (auto& w : all) ring(*w);
}

// Every waiter of `w` looks again: the synchronous ones wake, the asynchronous ones run.
void Locks::ring(Waiters& w) {
  std::vector<std::function<void()>> run;
  {
    std::lock_guard<std::mutex> lock(w.mu);
    ++w.wakes;
    run.swap(w.on_wake);
  }
  w.cv.notify_all();
  for (auto& fn : run) fn();
}

void Locks::close() {
  if (closed_.exchange(true)) return;
  wake_all();  // every wait ends (attempt() sees closed_)
  {
    std::unique_lock<std::mutex> lock(releases_mu_);
    releases_done_.wait_for(lock, std::chrono::milliseconds(500), [this] { return releases_ == 0; });
  }
  timers_.stop();
}

// ---- mem:// ----

std::pair<bool, int64_t> Locks::local_acquire(const std::string& key, const std::string& token, Millis ttl) {
  std::lock_guard<std::mutex> lock(local_mu_);
  auto now = Deadline::Clock::now();
  auto it = held_.find(key);
  if (it != held_.end() && it->second.until > now) {
    auto left = std::chrono::ceil<Millis>(it->second.until - now).count();
    return {false, static_cast<int64_t>(left)};
  }
  held_[key] = Held{token, now + ttl};
  return {true, static_cast<int64_t>(++fences_[key])};
}

bool Locks::local_owned(const std::string& key, const std::string& token, Deadline::Clock::time_point* until) {
  std::lock_guard<std::mutex> lock(local_mu_);
  auto it = held_.find(key);
  if (it == held_.end() || it->second.token != token || it->second.until <= Deadline::Clock::now()) return false;
  if (until) it->second.until = *until;
  else held_.erase(it);
  return true;
}

// ---- Extend and release ----

Status Locks::lost(const char* what) {
  n_.lost.fetch_add(1, std::memory_order_relaxed);
  return Status(StatusCode::kAborted,
                std::string(what) + " refused: this caller no longer holds the lock (it expired; another owner may hold it)");
}

void Locks::extend(const std::shared_ptr<DistributedLock::State>& s, Millis ttl, bool wait,
                   std::function<void(Status)> done) {
  if (Status st = check_ttl(ttl); !st) return done(st);
  if (s->released.load()) return done(invalid_argument("the lock was already released"));
  if (!c_.l2->enabled()) {
    auto until = Deadline::Clock::now() + ttl;
    return done(local_owned(s->key, s->token, &until) ? Status() : lost("extend"));
  }
  Call call{Deadline::after_saturating(s->timeout), wait};
  c_.l2->script(kExtendScript, {s->full}, {s->token, std::to_string(ttl.count())}, true, call,
                [this, done = std::move(done)](Result<ScriptValue> r) {
                  if (!r) return done(r.status());
                  if (r->kind != ScriptValue::Kind::kInteger) return done(internal_error("unexpected reply to the extend script"));
                  done(r->integer == 1 ? Status() : lost("extend"));
                });
}

void Locks::release_done() {
  std::lock_guard<std::mutex> lock(releases_mu_);
  if (--releases_ == 0) releases_done_.notify_all();
}

// Compare-and-delete. Waiters of this handle are woken here; others (other handles and
// processes) by the coherence channel.
void Locks::release(const std::shared_ptr<DistributedLock::State>& s, bool wait, std::function<void(Status)> done) {
  if (s->released.exchange(true)) return done(invalid_argument("the lock was already released"));
  if (!c_.l2->enabled()) {
    bool owned = local_owned(s->key, s->token, nullptr);
    if (owned) wake(s->key);
    return done(owned ? Status() : lost("release"));
  }
  {
    std::lock_guard<std::mutex> lock(releases_mu_);
    ++releases_;
  }
  Call call{Deadline::after_saturating(s->timeout), wait};
  c_.l2->delete_if_value(s->full, s->token, call, [this, s, done = std::move(done)](Result<bool> r) {
    Status st = !r ? r.status() : *r ? Status() : lost("release");
    if (r && *r) wake(s->key);
    release_done();
    done(std::move(st));
  });
}

// ---- DistributedLock ----

DistributedLock::DistributedLock(std::shared_ptr<State> s) : s_(std::move(s)) {}
DistributedLock::~DistributedLock() {
  if (s_ && !s_->released.load()) s_->locks->release(s_, false, [](Status) {});
}
const std::string& DistributedLock::name() const { return s_->name; }
uint64_t DistributedLock::fence() const { return s_->fence; }

Status DistributedLock::extend(Millis ttl) {
  Status out;
  s_->locks->extend(s_, ttl, true, [&out](Status st) { out = std::move(st); });
  return out;
}
Status DistributedLock::release() {
  Status out;
  s_->locks->release(s_, true, [&out](Status st) { out = std::move(st); });
  return out;
}
void DistributedLock::extend_async(Millis ttl, std::function<void(Status)> done) {
  s_->locks->extend(s_, ttl, false, std::move(done));
}
void DistributedLock::release_async(std::function<void(Status)> done) { s_->locks->release(s_, false, std::move(done)); }

// ---- Cache ----

Result<std::unique_ptr<DistributedLock>> Cache::lock(std::string_view name, const LockOptions& options) {
  Result<std::unique_ptr<DistributedLock>> out(internal_error("the lock request did not complete"));
  impl_->locks->acquire(name, options, true, [&out](Result<std::unique_ptr<DistributedLock>> r) { out = std::move(r); });
  return out;
}

void Cache::lock_async(std::string_view name, const LockOptions& options,
                       std::function<void(Result<std::unique_ptr<DistributedLock>>)> done) {
  impl_->locks->acquire(name, options, false, std::move(done));
}

}  // namespace stratacache
