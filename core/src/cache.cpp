#include "stratacache/cache.hpp"

#include <algorithm>
#include <atomic>

#include "cache_test_hooks.hpp"
#include "coherence.hpp"
#include "deadline.hpp"
#include "glob.hpp"
#include "integer_payload.hpp"
#include "memory/memory_tier.hpp"
#include "remote_tier.hpp"
#include "stratacache/version.hpp"

namespace stratacache {

std::atomic<void (*)(std::string_view)> test_hooks::before_backfill{nullptr};
std::atomic<void (*)(std::string_view)> test_hooks::on_l2_reply{nullptr};
std::atomic<void (*)(std::string_view)> test_hooks::after_backfill{nullptr};

struct Cache::Impl : Coherence::Sink {
  Options options;
  // Null: no coherence (mem://, l1_coherence=off).
  std::shared_ptr<Coherence> coherence;
  MemoryTier l1;
  std::unique_ptr<RemoteTier> l2;
  Codec codec;
  bool plain_integers;  // integers go to Redis as ASCII (INCRBY-compatible) unless encrypted
  std::atomic<uint64_t> decode_errors{0};
  // Set when the cache is being destroyed: completions of pending asynchronous calls
  // (run while l2 is destroyed) must not submit new ones.
  std::atomic<bool> closing{false};

  explicit Impl(Options o)
      : options(std::move(o)),
        coherence(options.redis.transport == RedisOptions::Transport::kNone || options.l1.coherence == L1Coherence::kOff
                      ? nullptr
                      : std::make_shared<Coherence>(options.l1.coherence, options.prefix)),
        l1(options.l1),
        l2(options.redis.transport == RedisOptions::Transport::kNone ? make_null_remote_tier()
                                                                     : make_redis_tier(options.redis, coherence)),
        codec(options.codec),
        plain_integers(!options.codec.keys || options.codec.keys->empty()) {
    if (coherence) coherence->attach(this);
  }

  // ---- Coherence::Sink: what Redis says changed ----
  void invalidate(std::string_view full) override {
    if (full.substr(0, options.prefix.size()) != options.prefix) return;  // another cache's key
    full.remove_prefix(options.prefix.size());
    l1.erase(full);
  }
  void flush() override { l1.clear(); }
  // A forked child drops the L1 copies its parent's connections tracked (counted as a
  // fork flush) before it serves anything from L1.
  void check_fork() {
    if (coherence) coherence->forked();
  }
  // Before an L2 call whose value L1 may keep: a synchronous call waits for a channel on
  // its first attempt (the first calls after open), then takes the coverage token.
  uint64_t coverage_token(const Call& c) const {
    if (!coherence) return 0;
    if (c.wait && coherence->starting()) coherence->await_start(c.deadline);
    return coherence->token();
  }
  // Whether L1 may keep a value from an L2 call that took `token` (coherence.hpp).
  bool l1_covered(uint64_t token) const { return !coherence || coherence->covered(token); }

  bool use_l1(const CallOptions& c) const { return !c.skip_l1; }
  bool use_l2(const CallOptions& c) const { return !c.skip_l2 && l2->enabled(); }

  Deadline deadline(const CallOptions& c, Millis minimum = Millis(0)) const {
    Millis t = c.timeout.count() >= 0 ? c.timeout : std::max(options.redis.socket_timeout, minimum);
    return Deadline::after_saturating(t);
  }
  Call l2_call(const CallOptions& c, bool wait, Millis minimum = Millis(0)) const {
    return Call{deadline(c, minimum), wait};
  }

  Status check_key(std::string_view key) const {
    size_t full = options.prefix.size() + key.size();
    if (full > options.max_key_length) {
      return invalid_argument("key is " + std::to_string(full) + " bytes with its prefix; max_key_length is " +
                              std::to_string(options.max_key_length));
    }
    return Status::ok();
  }

  std::string full_key(std::string_view key) const {
    std::string k;
    k.reserve(options.prefix.size() + key.size());
    k.append(options.prefix).append(key);
    return k;
  }

  int64_t resolve_ttl(const CallOptions& c) const {
    return c.ttl_ms < 0 ? options.default_ttl.count() : c.ttl_ms;
  }

  // L1 lifetime: the entry's TTL, capped by l1.ttl when an L2 exists (L1 copies in other
  // processes are not invalidated, so they must not outlive the cap).
  int64_t l1_ttl(int64_t entry_ttl_ms) const {
    int64_t cap = l2->enabled() ? options.l1.ttl.count() : 0;
    if (entry_ttl_ms <= 0) return cap;
    if (cap <= 0) return entry_ttl_ms;
    return std::min(entry_ttl_ms, cap);
  }

  Result<std::string> envelope(std::string_view key, const Payload& p) const {
    if (plain_integers) {
      if (auto v = payload_integer(p)) return std::to_string(*v);
    }
    return codec.encode(p, options.prefix, key);
  }

  // Decode an L2 value (docs/envelope.md, "Errors"). A read never destroys
  // data the cache did not write:
  // - not an envelope (kWrongType: another client's value): with foreign_values=raw,
  //   the bytes as they are (Format::kRaw); else a miss counted in decode_errors. It stays.
  // - an envelope that is truncated, malformed or fails authentication (kDataLoss): a
  //   counted miss, removed from L2 by compare-and-delete, so a value written since the
  //   read survives; for an asynchronous read, without waiting for the delete.
  // - an envelope this process cannot read (newer format, a key it lacks, over its size
  //   limit): a counted miss, left for the processes that can read it.
  Result<Payload> open_envelope(std::string_view key, const std::string& full, std::string_view env, Call c) {
    auto p = codec.decode(env, options.prefix, key);
    if (p) return p;
    if (p.code() == StatusCode::kWrongType && options.foreign_values == ForeignValues::kRaw) {
      return Payload{Format::kRaw, std::string(env)};
    }
    decode_errors.fetch_add(1, std::memory_order_relaxed);
    if (p.code() == StatusCode::kDataLoss) {
      if (c.wait || !closing.load(std::memory_order_acquire)) l2->delete_if_value(full, env, c, [](Result<bool>) {});
    }
    return not_found("stored value was unreadable (" + p.status().to_string() + "); treated as a miss");
  }

  // Back-fill only when no write to the key raced the L2 fetch (`epoch`: l1.write_epoch
  // taken before it), and never for a key in its last millisecond (PTTL 0).
  // Returns a reference to the value either way.
  // With coherent L1, also only while coverage held since `token` (coherence.hpp).
  ValueRef backfill(std::string_view key, const Payload& p, int64_t l2_pttl_ms, uint64_t epoch, uint64_t token) {
    if (auto hook = test_hooks::before_backfill.load(std::memory_order_relaxed)) hook(key);
    ValueRef out = l2_pttl_ms == 0 || !l1_covered(token) ? MemoryTier::make_ref(p.format, p.data)
                                                    : l1.set_if_epoch(key, p.format, p.data, l1_ttl(l2_pttl_ms), epoch);
    if (auto hook = test_hooks::after_backfill.load(std::memory_order_relaxed)) hook(key);
    return out;
  }

  // The operations (see "Operations" below).
  template <typename Done>
  void get(std::string_view key, const CallOptions& call, bool wait, Done&& done);
  void mget(const std::vector<std::string>& keys, const CallOptions& call, bool wait,
            std::function<void(std::vector<Result<Payload>>)> done);
  void mset(std::vector<std::pair<std::string, Payload>> items, const CallOptions& call, bool wait,
            std::function<void(Status)> done);
  void del(const std::vector<std::string>& keys, const CallOptions& call, bool wait,
           std::function<void(Result<int64_t>)> done);
  void exists(std::string_view key, const CallOptions& call, bool wait, std::function<void(Result<bool>)> done);
  void ttl(std::string_view key, const CallOptions& call, bool wait, std::function<void(Result<int64_t>)> done);
  void increment(std::string_view key, int64_t amount, const CallOptions& call, bool wait,
                 std::function<void(Result<int64_t>)> done);
  void clear_pattern(std::string_view glob, const CallOptions& call, bool wait,
                     std::function<void(Result<int64_t>)> done);
  void health(const CallOptions& call, bool wait, std::function<void(HealthInfo)> done);

  // Validation shared by every write: the TTL to write, or why not.
  Result<int64_t> check_write(std::string_view key, const Payload& value, const CallOptions& call);
  // The L1 side of a write, after the L2 side (l2: its outcome; epoch and token: taken
  // before it; all unused when the write skipped L2).
  void finish_write(std::string_view key, const Payload& value, const CallOptions& call, int64_t ttl,
                    const Status* l2 = nullptr, uint64_t epoch = 0, uint64_t token = 0);

  // Ten years: beyond it a TTL is a mistake (and ms arithmetic would overflow).
  static constexpr int64_t kMaxTtlMs = 10LL * 365 * 24 * 3600 * 1000;

  Result<int64_t> ttl_for(const CallOptions& c) const {
    int64_t ttl = resolve_ttl(c);
    if (ttl > kMaxTtlMs) return invalid_argument("ttl of " + std::to_string(ttl) + " ms is over the 10-year maximum");
    return ttl;
  }
};

Cache::Cache(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Cache::~Cache() {
  // Pending asynchronous completions run now, while everything they use (l1, codec,
  // counters, l2 itself) is alive; they must not submit new L2 requests.
  impl_->closing.store(true, std::memory_order_release);
  impl_->l2->close();
  if (impl_->coherence) impl_->coherence->detach();
}

Result<std::unique_ptr<Cache>> Cache::open(std::string_view url) {
  auto o = Options::from_url(url);
  if (!o) return o.status();
  return open(std::move(o).value());
}

Result<std::unique_ptr<Cache>> Cache::open(Options options) {
  if (options.max_key_length == 0) return invalid_argument("max_key_length must be > 0");
  return std::unique_ptr<Cache>(new Cache(std::make_unique<Impl>(std::move(options))));
}

const Options& Cache::options() const { return impl_->options; }

// ---- Operations ----
// Each operation is written once, in Impl, with a completion; `wait` makes it a
// synchronous call (the L2 I/O on the calling thread, `done` run before returning), so
// the synchronous methods below are the asynchronous ones waited for.

namespace {

// Runs an operation with wait = true and returns what its completion got.
template <typename T, typename Op>
T waited(T initial, Op&& op) {
  T out = std::move(initial);
  op([&out](T r) { out = std::move(r); });
  return out;
}

}  // namespace

template <typename Done>
void Cache::Impl::get(std::string_view key, const CallOptions& call, bool wait, Done&& done) {
  if (Status st = check_key(key); !st) return done(Result<ValueRef>(st));
  const bool fill = use_l1(call);
  check_fork();
  if (fill) {
    if (auto p = l1.get(key)) return done(std::move(p));
  }
  if (!use_l2(call)) return done(Result<ValueRef>(not_found()));
  Call c = l2_call(call, wait);
  uint64_t token = coverage_token(c);
  uint64_t epoch = l1.write_epoch(key);
  std::string full = full_key(key);
  l2->get(full, c,
          [this, k = std::string(key), full, epoch, token, fill, c, done = std::forward<Done>(done)](Result<RemoteEntry> r) mutable {
            if (auto hook = test_hooks::on_l2_reply.load(std::memory_order_relaxed)) hook(k);
            if (!r) return done(Result<ValueRef>(r.status()));
            auto p = open_envelope(k, full, r->value, c);
            if (!p) return done(Result<ValueRef>(p.status()));
            if (!fill) return done(Result<ValueRef>(MemoryTier::make_ref(p->format, p->data)));
            done(Result<ValueRef>(backfill(k, *p, r->pttl_ms, epoch, token)));
          });
}

Result<ValueRef> Cache::get_ref(std::string_view key, const CallOptions& call) {
  return waited(Result<ValueRef>(not_found()), [&](auto done) { impl_->get(key, call, true, done); });
}

void Cache::get_async(std::string_view key, const CallOptions& call, std::function<void(Result<ValueRef>)> done) {
  impl_->get(key, call, false, std::move(done));
}

Result<std::shared_ptr<const Payload>> Cache::get_shared(std::string_view key, const CallOptions& call) {
  auto r = get_ref(key, call);
  if (!r) return r.status();
  return std::make_shared<const Payload>(r->to_payload());
}

bool Cache::l2_async_native() const { return !impl_->l2->enabled() || impl_->l2->async_native(); }

Result<Payload> Cache::get(std::string_view key, const CallOptions& call) {
  auto r = get_ref(key, call);
  if (!r) return r.status();
  return r->to_payload();
}

Result<Value> Cache::get_value(std::string_view key, const CallOptions& call) {
  auto r = get_ref(key, call);
  if (!r) return r.status();
  return decode_value(*r);
}

Result<Value> Cache::decode_value(const ValueRef& value) const {
  auto v = deserialize(value.data(), value.format(), impl_->options.codec.limits);
  if (!v) {
    impl_->decode_errors.fetch_add(1, std::memory_order_relaxed);
    return not_found("stored value could not be deserialized (" + v.status().to_string() + ")");
  }
  return v;
}

void Cache::Impl::mget(const std::vector<std::string>& keys, const CallOptions& call, bool wait,
                       std::function<void(std::vector<Result<Payload>>)> done) {
  std::vector<Result<Payload>> out(keys.size(), Result<Payload>(not_found()));
  std::vector<size_t> pending;
  check_fork();
  for (size_t i = 0; i < keys.size(); ++i) {
    if (Status st = check_key(keys[i]); !st) {
      out[i] = st;
      continue;
    }
    if (use_l1(call)) {
      if (auto p = l1.get(keys[i])) {
        out[i] = p.to_payload();
        continue;
      }
    }
    pending.push_back(i);
  }
  if (pending.empty() || !use_l2(call)) return done(std::move(out));
  Call c = l2_call(call, wait);
  uint64_t token = coverage_token(c);
  std::vector<std::string> full;
  std::vector<uint64_t> epochs;
  full.reserve(pending.size());
  epochs.reserve(pending.size());
  for (size_t i : pending) {
    full.push_back(full_key(keys[i]));
    epochs.push_back(l1.write_epoch(keys[i]));
  }
  auto fulls = std::make_shared<std::vector<std::string>>(std::move(full));
  l2->mget(*fulls, c,
           [this, keys, call, c, token, fulls, epochs = std::move(epochs), pending = std::move(pending), out = std::move(out),
            done = std::move(done)](std::vector<Result<RemoteEntry>> remote) mutable {
             for (size_t j = 0; j < pending.size(); ++j) {
               size_t i = pending[j];
               if (j >= remote.size()) {
                 out[i] = internal_error("short mget reply");
                 continue;
               }
               if (!remote[j]) {
                 out[i] = remote[j].status();
                 continue;
               }
               auto p = open_envelope(keys[i], (*fulls)[j], remote[j]->value, c);
               if (!p) {
                 out[i] = p.status();
                 continue;
               }
               if (use_l1(call)) backfill(keys[i], *p, remote[j]->pttl_ms, epochs[j], token);
               out[i] = std::move(p);
             }
             done(std::move(out));
           });
}

std::vector<Result<Payload>> Cache::mget(const std::vector<std::string>& keys, const CallOptions& call) {
  return waited(std::vector<Result<Payload>>(), [&](auto done) { impl_->mget(keys, call, true, done); });
}

void Cache::mget_async(const std::vector<std::string>& keys, const CallOptions& call,
                       std::function<void(std::vector<Result<Payload>>)> done) {
  impl_->mget(keys, call, false, std::move(done));
}

Result<int64_t> Cache::Impl::check_write(std::string_view key, const Payload& value, const CallOptions& call) {
  if (Status st = check_key(key); !st) return st;
  if (value.data.size() > options.codec.limits.max_value_bytes) {
    return too_large("value is " + std::to_string(value.data.size()) + " bytes; max_value_bytes is " +
                     std::to_string(options.codec.limits.max_value_bytes));
  }
  auto ttl = ttl_for(call);
  if (!ttl) return ttl.status();
  if (!use_l2(call) && !use_l1(call)) return Status(StatusCode::kUnsupported, "set with both tiers skipped");
  if (!use_l2(call) && !l1.admissible(key, value.data.size())) {
    l1.erase(key);
    return too_large("value does not fit in L1 (over l1_max_bytes); raise it or use Redis");
  }
  return ttl;
}

void Cache::Impl::finish_write(std::string_view key, const Payload& value, const CallOptions& call, int64_t ttl,
                               const Status* l2, uint64_t epoch, uint64_t token) {
  // Skipping L1 still invalidates it: a write must never leave an older copy visible.
  if (!use_l1(call)) {
    l1.erase(key);
    return;
  }
  if (l2 == nullptr || !coherence) {
    l1.set(key, value.format, value.data, l1_ttl(ttl));
    return;
  }
  // Coherent L1: the copy must be one Redis will tell us about. A write Redis took is
  // kept while coverage held since it began and nothing touched the key meanwhile (an
  // invalidation that raced it wins). A write Redis did not take is kept only while
  // coverage is down anyway (an outage; dropped when the channel comes back): with the
  // channel up, nobody would tell us when another client writes the key.
  auto store = [&] { l1.set_if_epoch(key, value.format, value.data, l1_ttl(ttl), epoch); };
  auto erase = [&] { l1.erase(key); };
  if (!l2->is_ok()) return coherence->store_uncovered(store, erase);
  if (coherence->covered(token)) store();
  else erase();
}

void Cache::Impl::mset(std::vector<std::pair<std::string, Payload>> items, const CallOptions& call, bool wait,
                       std::function<void(Status)> done) {
  if (items.empty()) return done(Status());
  // Each item is checked and finished exactly as a single set is; nothing is written
  // unless every item passes.
  int64_t ttl = 0;
  for (auto& [k, v] : items) {
    auto t = check_write(k, v, call);
    if (!t) return done(t.status());
    ttl = *t;  // the same for every item: it depends on the call only
  }
  if (!use_l2(call)) {
    for (auto& [k, v] : items) finish_write(k, v, call, ttl);
    return done(Status());
  }
  std::vector<RemoteWrite> writes;
  writes.reserve(items.size());
  for (auto& [k, v] : items) {
    auto env = envelope(k, v);
    if (!env) return done(env.status());
    writes.push_back(RemoteWrite{full_key(k), std::move(env).value(), ttl});
  }
  Call c = l2_call(call, wait);
  uint64_t token = coverage_token(c);
  std::vector<uint64_t> epochs;
  epochs.reserve(items.size());
  for (auto& item : items) epochs.push_back(l1.write_epoch(item.first));
  auto finish = [this, items = std::move(items), epochs = std::move(epochs), token, call, ttl,
                 done = std::move(done)](Status s) {
    for (size_t i = 0; i < items.size(); ++i) {
      finish_write(items[i].first, items[i].second, call, ttl, &s, epochs[i], token);
    }
    done(std::move(s));
  };
  // One key: a plain SET (no per-slot grouping to set up).
  if (writes.size() == 1) return l2->set(writes[0].key, writes[0].value, ttl, c, std::move(finish));
  l2->mset(writes, c, std::move(finish));
}

Status Cache::set(std::string_view key, const Payload& value, const CallOptions& call) {
  return set(key, Payload(value), call);
}

Status Cache::set(std::string_view key, Payload&& value, const CallOptions& call) {
  std::vector<std::pair<std::string, Payload>> one;
  one.emplace_back(std::string(key), std::move(value));
  return waited(Status(), [&](auto done) { impl_->mset(std::move(one), call, true, done); });
}

void Cache::set_async(std::string_view key, Payload value, const CallOptions& call, std::function<void(Status)> done) {
  std::vector<std::pair<std::string, Payload>> one;
  one.emplace_back(std::string(key), std::move(value));
  impl_->mset(std::move(one), call, false, std::move(done));
}

Status Cache::set_value(std::string_view key, const Value& value, const CallOptions& call) {
  auto data = serialize(value, impl_->options.serializer);
  if (!data) return data.status();
  return set(key, Payload{impl_->options.serializer, std::move(data).value()}, call);
}

Status Cache::mset(const std::vector<std::pair<std::string, Payload>>& items, const CallOptions& call) {
  return waited(Status(), [&](auto done) { impl_->mset(items, call, true, done); });
}

void Cache::mset_async(std::vector<std::pair<std::string, Payload>> items, const CallOptions& call,
                       std::function<void(Status)> done) {
  impl_->mset(std::move(items), call, false, std::move(done));
}

void Cache::Impl::del(const std::vector<std::string>& keys, const CallOptions& call, bool wait,
                      std::function<void(Result<int64_t>)> done) {
  for (auto& k : keys) {
    if (Status st = check_key(k); !st) return done(st);
  }
  // L1 copies always go (skip_l1 only skips reading/writing values), before the L2
  // delete so this process stops serving them, and again after it so that a read that
  // fetched the old value from L2 meanwhile cannot back-fill it.
  int64_t l1_count = 0;
  for (auto& k : keys) l1_count += l1.erase(k) ? 1 : 0;
  if (!use_l2(call) || keys.empty()) return done(l1_count);
  std::vector<std::string> full;
  full.reserve(keys.size());
  for (auto& k : keys) full.push_back(full_key(k));
  l2->del(full, l2_call(call, wait), [this, keys, done = std::move(done)](Result<int64_t> r) {
    for (auto& k : keys) l1.erase(k);
    done(std::move(r));
  });
}

Result<int64_t> Cache::del(const std::vector<std::string>& keys, const CallOptions& call) {
  return waited(Result<int64_t>(int64_t{0}), [&](auto done) { impl_->del(keys, call, true, done); });
}

Result<int64_t> Cache::del(std::string_view key, const CallOptions& call) {
  return del(std::vector<std::string>{std::string(key)}, call);
}

void Cache::del_async(const std::vector<std::string>& keys, const CallOptions& call,
                      std::function<void(Result<int64_t>)> done) {
  impl_->del(keys, call, false, std::move(done));
}

void Cache::Impl::exists(std::string_view key, const CallOptions& call, bool wait,
                         std::function<void(Result<bool>)> done) {
  if (Status st = check_key(key); !st) return done(st);
  check_fork();
  if (use_l1(call) && l1.contains(key)) return done(true);
  if (!use_l2(call)) return done(false);
  l2->exists(full_key(key), l2_call(call, wait), std::move(done));
}

Result<bool> Cache::exists(std::string_view key, const CallOptions& call) {
  return waited(Result<bool>(false), [&](auto done) { impl_->exists(key, call, true, done); });
}

void Cache::exists_async(std::string_view key, const CallOptions& call, std::function<void(Result<bool>)> done) {
  impl_->exists(key, call, false, std::move(done));
}

void Cache::Impl::ttl(std::string_view key, const CallOptions& call, bool wait,
                      std::function<void(Result<int64_t>)> done) {
  if (Status st = check_key(key); !st) return done(st);
  if (use_l2(call)) return l2->pttl(full_key(key), l2_call(call, wait), std::move(done));
  if (!use_l1(call)) return done(not_found());
  auto t = l1.ttl_ms(key);
  if (!t) return done(not_found());
  done(*t);
}

Result<int64_t> Cache::ttl_ms(std::string_view key, const CallOptions& call) {
  return waited(Result<int64_t>(not_found()), [&](auto done) { impl_->ttl(key, call, true, done); });
}

void Cache::ttl_ms_async(std::string_view key, const CallOptions& call, std::function<void(Result<int64_t>)> done) {
  impl_->ttl(key, call, false, std::move(done));
}

void Cache::Impl::increment(std::string_view key, int64_t amount, const CallOptions& call, bool wait,
                            std::function<void(Result<int64_t>)> done) {
  if (Status st = check_key(key); !st) return done(st);
  auto ttl = ttl_for(call);
  if (!ttl) return done(ttl.status());
  if (!use_l2(call)) {
    if (!use_l1(call)) return done(Status(StatusCode::kUnsupported, "increment with both tiers skipped"));
    return done(l1.increment(key, amount, *ttl));
  }
  // Redis owns the counter; a stale L1 copy must not shadow the new value.
  l1.erase(key);
  l2->incr_by(full_key(key), amount, *ttl, l2_call(call, wait),
              [this, k = std::string(key), done = std::move(done)](Result<int64_t> r) {
                l1.erase(k);
                done(std::move(r));
              });
}

Result<int64_t> Cache::increment(std::string_view key, int64_t amount, const CallOptions& call) {
  return waited(Result<int64_t>(int64_t{0}), [&](auto done) { impl_->increment(key, amount, call, true, done); });
}

void Cache::increment_async(std::string_view key, int64_t amount, const CallOptions& call,
                            std::function<void(Result<int64_t>)> done) {
  impl_->increment(key, amount, call, false, std::move(done));
}

void Cache::Impl::clear_pattern(std::string_view glob, const CallOptions& call, bool wait,
                                std::function<void(Result<int64_t>)> done) {
  int64_t l1_count = static_cast<int64_t>(l1.erase_matching(glob));
  if (!use_l2(call)) return done(l1_count);
  std::string pattern = glob_escape(options.prefix);
  pattern.append(glob);
  l2->delete_matching(pattern, l2_call(call, wait, Millis(30000)),
                      [this, g = std::string(glob), done = std::move(done)](Result<int64_t> r) {
                        l1.erase_matching(g);  // see del(): no back-fill of what L2 just lost
                        done(std::move(r));
                      });
}

Result<int64_t> Cache::clear_pattern(std::string_view glob, const CallOptions& call) {
  return waited(Result<int64_t>(int64_t{0}), [&](auto done) { impl_->clear_pattern(glob, call, true, done); });
}

void Cache::clear_pattern_async(std::string_view glob, const CallOptions& call,
                                std::function<void(Result<int64_t>)> done) {
  impl_->clear_pattern(glob, call, false, std::move(done));
}

void Cache::Impl::health(const CallOptions& call, bool wait, std::function<void(HealthInfo)> done) {
  l2->health(l2_call(call, wait), [this, done = std::move(done)](HealthInfo h) {
    if (coherence) coherence->add_health(&h);
    done(std::move(h));
  });
}

HealthInfo Cache::health(const CallOptions& call) {
  return waited(HealthInfo(), [&](auto done) { impl_->health(call, true, done); });
}

void Cache::health_async(const CallOptions& call, std::function<void(HealthInfo)> done) {
  impl_->health(call, false, std::move(done));
}

void Cache::flush_l1() { impl_->l1.clear(); }

CacheStats Cache::stats() const {
  CacheStats s;
  s.l1 = impl_->l1.stats();
  if (impl_->coherence) impl_->coherence->add_stats(&s.l1);
  s.l2 = impl_->l2->stats();
  s.decode_errors = impl_->decode_errors.load(std::memory_order_relaxed);
  return s;
}

const char* version_string() noexcept { return STRATACACHE_CORE_VERSION_STRING; }

}  // namespace stratacache
