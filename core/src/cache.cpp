#include "stratacache/cache.hpp"

#include <algorithm>
#include <atomic>

#include "deadline.hpp"
#include "glob.hpp"
#include "integer_payload.hpp"
#include "memory/memory_tier.hpp"
#include "remote_tier.hpp"
#include "stratacache/version.hpp"

namespace stratacache {

struct Cache::Impl {
  Options options;
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
        l1(options.l1),
        l2(options.redis.transport == RedisOptions::Transport::kNone ? make_null_remote_tier()
                                                                     : make_redis_tier(options.redis)),
        codec(options.codec),
        plain_integers(!options.codec.keys || options.codec.keys->empty()) {}

  bool use_l1(const CallOptions& c) const { return !c.skip_l1; }
  bool use_l2(const CallOptions& c) const { return !c.skip_l2 && l2->enabled(); }

  Deadline deadline(const CallOptions& c, Millis minimum = Millis(0)) const {
    Millis t = c.timeout.count() >= 0 ? c.timeout : std::max(options.redis.socket_timeout, minimum);
    return Deadline::after_saturating(t);
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

  // Decode an L2 value; an unreadable one is a miss and counted. Garbage and tampered
  // values (kDataLoss) are removed from L2; values this process merely cannot read (a
  // newer format, a key it lacks, over its size limit) stay for those that can.
  // From an asynchronous completion (`async`), the bad entry is removed asynchronously.
  Result<Payload> open_envelope(std::string_view key, const std::string& full, std::string_view env, Deadline d,
                                bool async = false) {
    auto p = codec.decode(env, options.prefix, key);
    if (p) return p;
    decode_errors.fetch_add(1, std::memory_order_relaxed);
    if (p.code() == StatusCode::kDataLoss) {
      if (!async) (void)l2->del({full}, d);
      else if (!closing.load(std::memory_order_acquire)) l2->del_async({full}, d, [](Result<int64_t>) {});
    }
    return not_found("stored value was unreadable (" + p.status().to_string() + "); treated as a miss");
  }

  // Back-fill only when no write to the key's shard raced the L2 fetch, and never for a
  // key in its last millisecond (PTTL 0).
  // Returns a reference to the value either way.
  ValueRef backfill(std::string_view key, const Payload& p, int64_t l2_pttl_ms, uint64_t epoch) {
    if (l2_pttl_ms == 0) return MemoryTier::make_ref(p.format, p.data);
    return l1.set_if_epoch(key, p.format, p.data, l1_ttl(l2_pttl_ms), epoch);
  }

  // Validation shared by set and set_async: the TTL to write, or why not.
  Result<int64_t> check_write(std::string_view key, const Payload& value, const CallOptions& call);
  // The L1 side of a write, after the L2 side (whatever its outcome).
  void finish_write(std::string_view key, const Payload& value, const CallOptions& call, int64_t ttl);

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

Result<ValueRef> Cache::get_ref(std::string_view key, const CallOptions& call) {
  Impl& m = *impl_;
  if (Status st = m.check_key(key); !st) return st;
  if (m.use_l1(call)) {
    if (auto p = m.l1.get(key)) return p;
  }
  if (!m.use_l2(call)) return not_found();
  Deadline d = m.deadline(call);
  uint64_t epoch = m.l1.write_epoch(key);
  std::string full = m.full_key(key);
  auto r = m.l2->get(full, d);
  if (!r) return r.status();
  auto p = m.open_envelope(key, full, r->value, d);
  if (!p) return p.status();
  if (!m.use_l1(call)) return MemoryTier::make_ref(p->format, p->data);
  return m.backfill(key, *p, r->pttl_ms, epoch);
}

Result<std::shared_ptr<const Payload>> Cache::get_shared(std::string_view key, const CallOptions& call) {
  auto r = get_ref(key, call);
  if (!r) return r.status();
  return std::make_shared<const Payload>(r->to_payload());
}

void Cache::get_async(std::string_view key, const CallOptions& call, std::function<void(Result<ValueRef>)> done) {
  Impl& m = *impl_;
  if (Status st = m.check_key(key); !st) return done(st);
  bool use_l1 = m.use_l1(call);
  if (use_l1) {
    if (auto p = m.l1.get(key)) return done(std::move(p));
  }
  if (!m.use_l2(call)) return done(not_found());
  Deadline d = m.deadline(call);
  uint64_t epoch = m.l1.write_epoch(key);
  std::string full = m.full_key(key);
  m.l2->get_async(full, d,
                  [&m, k = std::string(key), full, epoch, use_l1, d, done = std::move(done)](Result<RemoteEntry> r) {
                    if (!r) return done(r.status());
                    auto p = m.open_envelope(k, full, r->value, d, true);
                    if (!p) return done(p.status());
                    if (!use_l1) return done(MemoryTier::make_ref(p->format, p->data));
                    done(m.backfill(k, *p, r->pttl_ms, epoch));
                  });
}

// Placeholders with the final signatures: the round trip runs inline until the L2
// request path makes every operation native.
void Cache::exists_async(std::string_view key, const CallOptions& call, std::function<void(Result<bool>)> done) {
  done(exists(key, call));
}
void Cache::ttl_ms_async(std::string_view key, const CallOptions& call, std::function<void(Result<int64_t>)> done) {
  done(ttl_ms(key, call));
}
void Cache::increment_async(std::string_view key, int64_t amount, const CallOptions& call,
                            std::function<void(Result<int64_t>)> done) {
  done(increment(key, amount, call));
}
void Cache::mget_async(const std::vector<std::string>& keys, const CallOptions& call,
                       std::function<void(std::vector<Result<Payload>>)> done) {
  done(mget(keys, call));
}
void Cache::mset_async(std::vector<std::pair<std::string, Payload>> items, const CallOptions& call,
                       std::function<void(Status)> done) {
  done(mset(items, call));
}
void Cache::clear_pattern_async(std::string_view glob, const CallOptions& call,
                                std::function<void(Result<int64_t>)> done) {
  done(clear_pattern(glob, call));
}
void Cache::health_async(const CallOptions& call, std::function<void(HealthInfo)> done) { done(health(call)); }

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

std::vector<Result<Payload>> Cache::mget(const std::vector<std::string>& keys, const CallOptions& call) {
  Impl& m = *impl_;
  std::vector<Result<Payload>> out(keys.size(), Result<Payload>(not_found()));
  std::vector<size_t> pending;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (Status st = m.check_key(keys[i]); !st) { out[i] = st; continue; }
    if (m.use_l1(call)) {
      if (auto p = m.l1.get(keys[i])) { out[i] = p.to_payload(); continue; }
    }
    pending.push_back(i);
  }
  if (pending.empty() || !m.use_l2(call)) return out;
  Deadline d = m.deadline(call);
  std::vector<std::string> full;
  std::vector<uint64_t> epochs;
  full.reserve(pending.size());
  epochs.reserve(pending.size());
  for (size_t i : pending) {
    full.push_back(m.full_key(keys[i]));
    epochs.push_back(m.l1.write_epoch(keys[i]));
  }
  auto remote = m.l2->mget(full, d);
  for (size_t j = 0; j < pending.size(); ++j) {
    size_t i = pending[j];
    if (j >= remote.size()) { out[i] = internal_error("short mget reply"); continue; }
    if (!remote[j]) { out[i] = remote[j].status(); continue; }
    auto p = m.open_envelope(keys[i], full[j], remote[j]->value, d);
    if (!p) { out[i] = p.status(); continue; }
    if (m.use_l1(call)) m.backfill(keys[i], *p, remote[j]->pttl_ms, epochs[j]);
    out[i] = std::move(p);
  }
  return out;
}

Status Cache::set(std::string_view key, const Payload& value, const CallOptions& call) {
  return set(key, Payload(value), call);
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

void Cache::Impl::finish_write(std::string_view key, const Payload& value, const CallOptions& call, int64_t ttl) {
  // Skipping L1 still invalidates it: a write must never leave an older copy visible.
  if (use_l1(call)) l1.set(key, value.format, value.data, l1_ttl(ttl));
  else l1.erase(key);
}

Status Cache::set(std::string_view key, Payload&& value, const CallOptions& call) {
  Impl& m = *impl_;
  auto ttl = m.check_write(key, value, call);
  if (!ttl) return ttl.status();
  Status l2_status;
  if (m.use_l2(call)) {
    auto env = m.envelope(key, value);
    if (!env) return env.status();
    l2_status = m.l2->set(m.full_key(key), *env, *ttl, m.deadline(call));
  }
  m.finish_write(key, value, call, *ttl);
  return l2_status;
}

void Cache::set_async(std::string_view key, Payload value, const CallOptions& call, std::function<void(Status)> done) {
  Impl& m = *impl_;
  auto ttl = m.check_write(key, value, call);
  if (!ttl) return done(ttl.status());
  if (!m.use_l2(call)) {
    m.finish_write(key, value, call, *ttl);
    return done(Status());
  }
  auto env = m.envelope(key, value);
  if (!env) return done(env.status());
  m.l2->set_async(m.full_key(key), *env, *ttl, m.deadline(call),
                  [&m, k = std::string(key), value = std::move(value), call, ttl = *ttl, done = std::move(done)](
                      Status s) {
                    m.finish_write(k, value, call, ttl);
                    done(std::move(s));
                  });
}

void Cache::del_async(const std::vector<std::string>& keys, const CallOptions& call,
                      std::function<void(Result<int64_t>)> done) {
  Impl& m = *impl_;
  for (auto& k : keys) {
    if (Status st = m.check_key(k); !st) return done(st);
  }
  // As del(): L1 copies go before the L2 delete and again after it.
  int64_t l1_count = 0;
  for (auto& k : keys) l1_count += m.l1.erase(k) ? 1 : 0;
  if (!m.use_l2(call) || keys.empty()) return done(l1_count);
  std::vector<std::string> full;
  full.reserve(keys.size());
  for (auto& k : keys) full.push_back(m.full_key(k));
  m.l2->del_async(full, m.deadline(call), [&m, keys, done = std::move(done)](Result<int64_t> r) {
    for (auto& k : keys) m.l1.erase(k);
    done(std::move(r));
  });
}

Status Cache::set_value(std::string_view key, const Value& value, const CallOptions& call) {
  auto data = serialize(value, impl_->options.serializer);
  if (!data) return data.status();
  return set(key, Payload{impl_->options.serializer, std::move(data).value()}, call);
}

Status Cache::mset(const std::vector<std::pair<std::string, Payload>>& items, const CallOptions& call) {
  Impl& m = *impl_;
  for (auto& [k, v] : items) {
    if (Status st = m.check_key(k); !st) return st;
    if (v.data.size() > m.options.codec.limits.max_value_bytes) return too_large("value for a key exceeds max_value_bytes");
  }
  auto ttl = m.ttl_for(call);
  if (!ttl) return ttl.status();
  if (!m.use_l2(call) && !m.use_l1(call)) return Status(StatusCode::kUnsupported, "mset with both tiers skipped");
  if (!m.use_l2(call)) {
    for (auto& [k, v] : items) {
      if (!m.l1.admissible(k, v.data.size())) return too_large("a value does not fit in L1 (l1_max_bytes)");
    }
  }
  Status l2_status;
  if (m.use_l2(call)) {
    std::vector<RemoteWrite> writes;
    writes.reserve(items.size());
    for (auto& [k, v] : items) {
      auto env = m.envelope(k, v);
      if (!env) return env.status();
      writes.push_back(RemoteWrite{m.full_key(k), std::move(env).value(), *ttl});
    }
    l2_status = m.l2->mset(writes, m.deadline(call));
  }
  for (auto& [k, v] : items) {
    if (m.use_l1(call)) m.l1.set(k, v.format, v.data, m.l1_ttl(*ttl));
    else m.l1.erase(k);
  }
  return l2_status;
}

Result<int64_t> Cache::del(const std::vector<std::string>& keys, const CallOptions& call) {
  Impl& m = *impl_;
  for (auto& k : keys) {
    if (Status st = m.check_key(k); !st) return st;
  }
  // L1 copies always go (skip_l1 only skips reading/writing values), before the L2
  // delete so this process stops serving them, and again after it so that a read that
  // fetched the old value from L2 meanwhile cannot back-fill it.
  int64_t l1_count = 0;
  for (auto& k : keys) l1_count += m.l1.erase(k) ? 1 : 0;
  if (!m.use_l2(call) || keys.empty()) return l1_count;
  std::vector<std::string> full;
  full.reserve(keys.size());
  for (auto& k : keys) full.push_back(m.full_key(k));
  auto r = m.l2->del(full, m.deadline(call));
  for (auto& k : keys) m.l1.erase(k);
  return r;
}

Result<int64_t> Cache::del(std::string_view key, const CallOptions& call) {
  return del(std::vector<std::string>{std::string(key)}, call);
}

Result<bool> Cache::exists(std::string_view key, const CallOptions& call) {
  Impl& m = *impl_;
  if (Status st = m.check_key(key); !st) return st;
  if (m.use_l1(call) && m.l1.contains(key)) return true;
  if (!m.use_l2(call)) return false;
  return m.l2->exists(m.full_key(key), m.deadline(call));
}

Result<int64_t> Cache::ttl_ms(std::string_view key, const CallOptions& call) {
  Impl& m = *impl_;
  if (Status st = m.check_key(key); !st) return st;
  if (m.use_l2(call)) return m.l2->pttl(m.full_key(key), m.deadline(call));
  if (!m.use_l1(call)) return not_found();
  auto t = m.l1.ttl_ms(key);
  if (!t) return not_found();
  return *t;
}

Result<int64_t> Cache::increment(std::string_view key, int64_t amount, const CallOptions& call) {
  Impl& m = *impl_;
  if (Status st = m.check_key(key); !st) return st;
  auto ttl = m.ttl_for(call);
  if (!ttl) return ttl.status();
  if (!m.use_l2(call)) {
    if (!m.use_l1(call)) return Status(StatusCode::kUnsupported, "increment with both tiers skipped");
    return m.l1.increment(key, amount, *ttl);
  }
  auto r = m.l2->incr_by(m.full_key(key), amount, *ttl, m.deadline(call));
  // Redis owns the counter; a stale L1 copy must not shadow the new value.
  m.l1.erase(key);
  return r;
}

Result<int64_t> Cache::clear_pattern(std::string_view glob, const CallOptions& call) {
  Impl& m = *impl_;
  int64_t l1_count = static_cast<int64_t>(m.l1.erase_matching(glob));
  if (!m.use_l2(call)) return l1_count;
  std::string pattern = glob_escape(m.options.prefix);
  pattern.append(glob);
  auto r = m.l2->delete_matching(pattern, m.deadline(call, Millis(30000)));
  m.l1.erase_matching(glob);  // see del(): no back-fill of what L2 just lost
  return r;
}

void Cache::flush_l1() { impl_->l1.clear(); }

CacheStats Cache::stats() const {
  CacheStats s;
  s.l1 = impl_->l1.stats();
  s.l2 = impl_->l2->stats();
  s.decode_errors = impl_->decode_errors.load(std::memory_order_relaxed);
  return s;
}

HealthInfo Cache::health(const CallOptions& call) {
  Impl& m = *impl_;
  if (!m.l2->enabled()) {
    HealthInfo h;
    h.healthy = true;
    return h;
  }
  auto r = m.l2->health(m.deadline(call));
  if (r) return *r;
  HealthInfo h;
  h.error = r.status().to_string();
  return h;
}

const char* version_string() noexcept { return STRATACACHE_CORE_VERSION_STRING; }

}  // namespace stratacache
