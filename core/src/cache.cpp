#include "stratacache/cache.hpp"

#include <algorithm>
#include <atomic>
#include <future>
#include <random>

#include "cache_impl.hpp"
#include "glob.hpp"
#include "integer_payload.hpp"
#include "lock.hpp"
#include "read_through.hpp"
#include "stratacache/version.hpp"

namespace stratacache {

std::atomic<void (*)(std::string_view)> test_hooks::before_backfill{nullptr};
std::atomic<void (*)(std::string_view)> test_hooks::on_l2_reply{nullptr};
std::atomic<void (*)(std::string_view)> test_hooks::after_backfill{nullptr};
std::atomic<bool> test_hooks::skip_dependents_check{false};

Cache::Impl::~Impl() = default;

int64_t Cache::Impl::jittered(int64_t ttl_ms) const {
  if (ttl_ms <= 1 || options.ttl_jitter <= 0) return ttl_ms;
  thread_local std::minstd_rand rng(std::random_device{}());
  double cut = options.ttl_jitter * static_cast<double>(ttl_ms) * std::uniform_real_distribution<double>(0, 1)(rng);
  return std::max<int64_t>(1, ttl_ms - static_cast<int64_t>(cut));
}

void Cache::Impl::wake_loads(std::string_view key) {
  rt->wake(key);
  locks->wake(key);
}
void Cache::Impl::wake_all_locks() { locks->wake_all(); }

Cache::Cache(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Cache::~Cache() {
  // Pending asynchronous completions run now, while everything they use (l1, codec,
  // counters, l2 itself) is alive; they must not submit new L2 requests.
  impl_->closing.store(true, std::memory_order_release);
  impl_->rt->close();
  impl_->locks->close();
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
    OpTimer timer;
    Seen s = see(l1.get(key));
    timer.done(metrics, MetricOp::kGet, key);
    if (serves(s)) return done(std::move(s.value));
    if (s.state == Seen::kNegative) return done(Result<ValueRef>(unserved(s)));
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
            std::optional<EntryMeta> meta;
            auto p = open_envelope(k, full, r->value, c, &meta);
            if (!p) return done(Result<ValueRef>(p.status()));
            Seen s = backfill(k, *p, meta, r->pttl_ms, epoch, token, fill);
            if (!serves(s)) return done(Result<ValueRef>(unserved(s)));
            done(Result<ValueRef>(std::move(s.value)));
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
    impl_->count_decode_error({}, v.status());
    return not_found("stored value could not be deserialized (" + v.status().to_string() + ")");
  }
  return v;
}

void Cache::Impl::mget(const std::vector<std::string>& keys, const CallOptions& call, bool wait,
                       std::function<void(std::vector<Result<Payload>>)> done, bool warming) {
  std::vector<Result<Payload>> out(keys.size(), Result<Payload>(not_found()));
  std::vector<size_t> pending;
  check_fork();
  for (size_t i = 0; i < keys.size(); ++i) {
    if (Status st = check_key(keys[i]); !st) {
      out[i] = st;
      continue;
    }
    if (use_l1(call) && !warming) {
      Seen s = see(l1.get(keys[i]));
      if (serves(s)) {
        out[i] = s.value.to_payload();
        continue;
      }
      if (s.state == Seen::kNegative) continue;  // out[i]: not found
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
           [this, keys, call, c, token, fulls, warming, epochs = std::move(epochs), pending = std::move(pending), out = std::move(out),
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
               std::optional<EntryMeta> meta;
               auto p = open_envelope(keys[i], (*fulls)[j], remote[j]->value, c, &meta);
               if (!p) {
                 out[i] = p.status();
                 continue;
               }
               Seen s = backfill(keys[i], *p, meta, remote[j]->pttl_ms, epochs[j], token, use_l1(call), warming);
               if (!serves(s)) {
                 out[i] = unserved(s);
                 continue;
               }
               out[i] = s.value.to_payload();
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

// ---- Warming: mget in batches, every value read entering L1 ----

namespace {

constexpr size_t kWarmBatch = 1000;  // keys per round trip (per node on a Cluster)

struct Warming {
  std::vector<std::string> keys;
  CallOptions call;
  size_t next = 0;
  bool again = false;  // the batch at `next` is a second reading
  WarmResult result;
  std::function<void(WarmResult)> done;
};

}  // namespace

static void warm_next(Cache::Impl* impl, std::shared_ptr<Warming> w, bool wait) {
  if (w->next >= w->keys.size()) return w->done(std::move(w->result));
  size_t end = std::min(w->keys.size(), w->next + kWarmBatch);
  std::vector<std::string> batch(w->keys.begin() + static_cast<ptrdiff_t>(w->next),
                                 w->keys.begin() + static_cast<ptrdiff_t>(end));
  w->next = end;
  uint64_t token = impl->coherence ? impl->coherence->token() : 0;
  impl->mget(
      batch, w->call, wait,
      [impl, w, wait, token, n = batch.size()](std::vector<Result<Payload>> got) {
        // Coherence lapsed during the batch (e.g. a Cluster node's channel opening on
        // first use): its values were served but not kept. Read it once more.
        if (!impl->l1_covered(token) && !w->again) {
          w->again = true;
          w->next -= n;
          return warm_next(impl, std::move(w), wait);
        }
        w->again = false;
        for (size_t i = 0; i < n; ++i) {
          const Result<Payload>& r = i < got.size() ? got[i] : Result<Payload>(internal_error("short reply"));
          if (r) {
            ++w->result.found;
          } else if (r.code() == StatusCode::kNotFound) {
            w->result.missing_keys.push_back(w->keys[w->next - n + i]);
          } else {
            w->result.failed_keys.push_back(w->keys[w->next - n + i]);
            if (w->result.error.is_ok()) w->result.error = r.status();
          }
        }
        warm_next(impl, std::move(w), wait);
      },
      true);
}

static void start_warm(Cache::Impl* impl, const std::vector<std::string>& keys, const CallOptions& call, bool wait,
                       std::function<void(WarmResult)> done) {
  auto w = std::make_shared<Warming>();
  w->keys = keys;
  w->call = call;
  w->done = std::move(done);
  warm_next(impl, std::move(w), wait);
}

void Cache::warm_async(const std::vector<std::string>& keys, const CallOptions& call,
                       std::function<void(WarmResult)> done) {
  start_warm(impl_.get(), keys, call, false, std::move(done));
}

WarmResult Cache::warm(const std::vector<std::string>& keys, const CallOptions& call) {
  return waited(WarmResult(), [&](auto done) { start_warm(impl_.get(), keys, call, true, done); });
}

WarmResult Cache::warm(const std::vector<std::string>& keys, const Loader& loader, const LoadOptions& options) {
  CallOptions call;
  call.timeout = options.hard_timeout;
  call.skip_l1 = options.skip_l1;
  WarmResult r = warm(keys, call);
  std::vector<std::string> missing = std::move(r.missing_keys);
  for (const std::string& key : missing) {
    Result<Loaded> got = get_or_load(key, loader, options);
    if (got) {
      ++r.loaded;
    } else if (got.code() == StatusCode::kNotFound) {
      r.missing_keys.push_back(key);
    } else {
      r.failed_keys.push_back(key);
      if (r.error.is_ok()) r.error = got.status();
    }
  }
  return r;
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
  keep_write(key, use_l1(call), l2, epoch, token, [&](const uint64_t* e) {
    if (e) l1.set_if_epoch(key, value.format, value.data, l1_ttl(ttl), *e);
    else l1.set(key, value.format, value.data, l1_ttl(ttl));
  });
}

void Cache::Impl::keep_write(std::string_view key, bool in_l1, const Status* l2, uint64_t epoch, uint64_t token,
                             const std::function<void(const uint64_t* epoch)>& store) {
  // Skipping L1 still invalidates it: a write must never leave an older copy visible.
  if (!in_l1) {
    l1.erase(key);
    return;
  }
  if (l2 == nullptr || !coherence) return store(nullptr);
  // Coherent L1: the copy must be one Redis will tell us about. A write Redis took is
  // kept while coverage held since it began and nothing touched the key meanwhile (an
  // invalidation that raced it wins). A write Redis did not take is kept only while
  // coverage is down anyway (an outage; dropped when the channel comes back): with the
  // channel up, nobody would tell us when another client writes the key.
  auto guarded = [&] { store(&epoch); };
  auto erase = [&] { l1.erase(key); };
  if (!l2->is_ok()) return coherence->store_uncovered(guarded, erase);
  if (coherence->covered(token)) guarded();
  else erase();
}

void Cache::Impl::mset(std::vector<std::pair<std::string, Payload>> items, const CallOptions& call, bool wait,
                       std::function<void(Status)> done) {
  if (items.empty()) return done(Status());
  // Each item is checked and finished exactly as a single set is; nothing is written
  // unless every item passes. Each gets its own jittered TTL.
  std::vector<int64_t> ttls;
  ttls.reserve(items.size());
  for (auto& [k, v] : items) {
    auto t = check_write(k, v, call);
    if (!t) return done(t.status());
    ttls.push_back(jittered(*t));
  }
  if (Status st = check_tags(call.tags, call.depends_on); !st) return done(st);
  for (auto& item : items) rt->key_changed(item.first);
  const bool tagged = !call.tags.empty() || !call.depends_on.empty();
  auto members = [&] {
    std::vector<Tags::Member> m;
    m.reserve(items.size());
    for (size_t i = 0; i < items.size(); ++i) m.push_back(Tags::Member{items[i].first, ttls[i]});
    return m;
  };
  auto keys_of = [](const std::vector<std::pair<std::string, Payload>>& its) {
    std::vector<std::string> k;
    k.reserve(its.size());
    for (auto& it : its) k.push_back(it.first);
    return k;
  };
  if (!use_l2(call)) {
    for (size_t i = 0; i < items.size(); ++i) finish_write(items[i].first, items[i].second, call, ttls[i]);
    Call c = l2_call(call, wait);
    if (tagged) tags->add(members(), call.tags, call.depends_on, false, c, [](Status) {});
    if (!tags->has_local()) return done(Status());
    return after_write(keys_of(items), {}, c, Status(), std::move(done));
  }
  std::vector<RemoteWrite> writes;
  writes.reserve(items.size());
  // Whether each key has dependents in Redis: EXISTS of its dependents set rides in the
  // write's pipeline (docs/tags.md).
  auto found = std::make_shared<std::vector<uint8_t>>(items.size(), 0);
  const bool check = !test_hooks::skip_dependents_check.load(std::memory_order_relaxed);
  for (size_t i = 0; i < items.size(); ++i) {
    auto env = envelope(items[i].first, items[i].second);
    if (!env) return done(env.status());
    writes.push_back(RemoteWrite{full_key(items[i].first), std::move(env).value(), ttls[i]});
    if (check) {
      writes.back().check_key = Tags::deps_set(writes.back().key);
      writes.back().exists_out = &(*found)[i];
    }
  }
  Call c = l2_call(call, wait);
  uint64_t token = coverage_token(c);
  std::vector<uint64_t> epochs;
  epochs.reserve(items.size());
  for (auto& item : items) epochs.push_back(l1.write_epoch(item.first));
  std::vector<Tags::Member> tagged_members = tagged ? members() : std::vector<Tags::Member>{};
  auto finish = [this, items = std::move(items), epochs = std::move(epochs), token, call, c, found, keys_of,
                 ttls = std::move(ttls), done = std::move(done)](Status s) mutable {
    for (size_t i = 0; i < items.size(); ++i) {
      finish_write(items[i].first, items[i].second, call, ttls[i], &s, epochs[i], token);
    }
    std::vector<std::string> remote;
    for (size_t i = 0; i < items.size(); ++i) {
      if ((*found)[i]) remote.push_back(items[i].first);
    }
    if (remote.empty() && !tags->has_local()) return done(std::move(s));
    after_write(keys_of(items), remote, c, std::move(s), std::move(done));
  };
  auto write = [this, writes = std::move(writes), c, finish = std::move(finish)](Status memberships) mutable {
    if (!memberships) return finish(std::move(memberships));
    // One key without the look for dependents: a plain SET (no per-slot grouping).
    if (writes.size() == 1 && writes[0].check_key.empty()) {
      return l2->set(writes[0].key, writes[0].value, writes[0].ttl_ms, c, std::move(finish));
    }
    l2->mset(writes, c, std::move(finish));
  };
  // Memberships first: an invalidation that starts once the write returned finds it.
  if (!tagged) return write(Status());
  tags->add(tagged_members, call.tags, call.depends_on, true, c, std::move(write));
}

void Cache::Impl::after_write(const std::vector<std::string>& keys, const std::vector<std::string>& remote_keys,
                              Call c, Status written, std::function<void(Status)> done) {
  tags->invalidate_dependents(keys, remote_keys, c,
                              [written = std::move(written), done = std::move(done)](Result<int64_t> r) mutable {
                                if (written && !r) return done(r.status());
                                done(std::move(written));
                              });
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
  for (auto& k : keys) {
    l1_count += l1.erase(k) ? 1 : 0;
    rt->key_changed(k);
  }
  if (!use_l2(call) || keys.empty()) {
    if (!tags->has_local()) return done(l1_count);
    return tags->invalidate_dependents(keys, {}, l2_call(call, wait), [l1_count, done = std::move(done)](Result<int64_t>) {
      done(l1_count);
    });
  }
  std::vector<std::string> full;
  full.reserve(keys.size());
  for (auto& k : keys) full.push_back(full_key(k));
  Call c = l2_call(call, wait);
  l2->del(full, c, [this, keys, c, done = std::move(done)](Result<int64_t> r) {
    for (auto& k : keys) l1.erase(k);
    if (!r) return done(std::move(r));
    // Their dependents go too (docs/tags.md): one more round trip to find them.
    tags->deleted(keys, c, [n = *r, done = std::move(done)](Result<int64_t> d) {
      if (!d) return done(d.status());
      done(n);
    });
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
  rt->key_changed(key);
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
  rt->keys_changed(glob);
  if (!use_l2(call)) return done(l1_count);
  std::string pattern = glob_escape(options.prefix);
  pattern.append(glob);
  l2->delete_matching(pattern, l2_call(call, wait, Millis(30000)),
                      [this, g = std::string(glob), done = std::move(done)](Result<int64_t> r) {
                        l1.erase_matching(g);  // see del(): no back-fill of what L2 just lost
                        done(std::move(r));
                      });
}

Status Cache::Impl::check_tags(const std::vector<std::string>& names, const std::vector<std::string>& parents) const {
  for (auto& t : names) {
    if (t.empty()) return invalid_argument("a tag must not be empty");
    if (Status st = check_key("~tag:" + t); !st) return st;
  }
  for (auto& p : parents) {
    if (Status st = check_key(p); !st) return st;
  }
  return Status();
}

void Cache::Impl::invalidate_tags(const std::vector<std::string>& names, const CallOptions& call,
                                  std::function<void(Result<int64_t>)> done) {
  if (Status st = check_tags(names, {}); !st) return done(st);
  tags->invalidate_tags(names, use_l2(call), l2_call(call, false, Millis(30000)), std::move(done));
}

Result<int64_t> Cache::invalidate_tags(const std::vector<std::string>& tags, const CallOptions& call) {
  // The asynchronous form waited for: a tag's members are deleted many at a time.
  std::promise<Result<int64_t>> out;
  impl_->invalidate_tags(tags, call, [&out](Result<int64_t> r) { out.set_value(std::move(r)); });
  return out.get_future().get();
}

void Cache::invalidate_tags_async(const std::vector<std::string>& tags, const CallOptions& call,
                                  std::function<void(Result<int64_t>)> done) {
  impl_->invalidate_tags(tags, call, std::move(done));
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

Result<ServerInfo> Cache::server_info(const CallOptions& call) {
  return waited(Result<ServerInfo>(ServerInfo()),
                [&](auto done) { impl_->l2->server_info(impl_->l2_call(call, true), std::move(done)); });
}

void Cache::server_info_async(const CallOptions& call, std::function<void(Result<ServerInfo>)> done) {
  impl_->l2->server_info(impl_->l2_call(call, false), std::move(done));
}

void Cache::flush_l1() { impl_->l1.clear(); }

CacheStats Cache::stats() const {
  CacheStats s;
  s.l1 = impl_->l1.stats();
  if (impl_->coherence) impl_->coherence->add_stats(&s.l1);
  s.l1.promotions_deferred = impl_->promotion.deferred();
  s.l1.promotions = impl_->promotion.promoted();
  s.l2 = impl_->l2->stats();
  s.decode_errors = impl_->decode_errors.load(std::memory_order_relaxed);
  s.read_through = impl_->rt->stats();
  s.write_behind = impl_->write_behind.snapshot();
  s.tags = impl_->tags->stats();
  s.lock = impl_->locks->stats();
  return s;
}

CacheMetrics Cache::metrics() const {
  CacheMetrics m;
  m.counters = stats();
  impl_->metrics.snapshot(&m.operations);
  m.l1_sample_every = MetricsRecorder::kEnabled ? MetricsRecorder::kL1SampleEvery : 0;
  return m;
}

const char* version_string() noexcept { return STRATACACHE_CORE_VERSION_STRING; }

}  // namespace stratacache
