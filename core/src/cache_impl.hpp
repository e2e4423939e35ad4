// Internal: the cache facade's state and the helpers its operations share (cache.cpp)
// and read-through (read_through.cpp) uses.
#pragma once

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "cache_test_hooks.hpp"
#include "coherence.hpp"
#include "deadline.hpp"
#include "entry_frame.hpp"
#include "integer_payload.hpp"
#include "memory/memory_tier.hpp"
#include "metrics/recorder.hpp"
#include "promotion.hpp"
#include "remote_tier.hpp"
#include "stratacache/cache.hpp"
#include "stratacache/log.hpp"
#include "write_behind.hpp"
#include "tags.hpp"

namespace stratacache {

class ReadThrough;
std::unique_ptr<ReadThrough> make_read_through(Cache::Impl& cache);
class Locks;
struct LocksDeleter {  // defined in lock.cpp, so this header needs no Locks definition
  void operator()(Locks* l) const;
};
std::unique_ptr<Locks, LocksDeleter> make_locks(Cache::Impl& cache);

struct Cache::Impl : Coherence::Sink {
  Options options;
  // Latency histograms and L2 byte counts (metrics/recorder.hpp); before l2, which
  // records into it.
  MetricsRecorder metrics;
  // Null: no coherence (mem://, l1_coherence=off).
  std::shared_ptr<Coherence> coherence;
  MemoryTier l1;
  PromotionFilter promotion;  // l1_promote_after (promotion.hpp)
  std::unique_ptr<RemoteTier> l2;
  Codec codec;
  bool plain_integers;  // integers go to Redis as ASCII (INCRBY-compatible) unless encrypted
  std::atomic<uint64_t> decode_errors{0};
  // Set when the cache is being destroyed: completions of pending asynchronous calls
  // (run while l2 is destroyed) must not submit new ones.
  std::atomic<bool> closing{false};
  // Bumped when coherence empties L1: framed entries (entry_frame.hpp) stored under an
  // older generation stay only as fail-safe values (stale, never fresh).
  std::atomic<uint64_t> l1_generation{1};
  // Read-through (read_through.hpp).
  std::unique_ptr<ReadThrough> rt;
  // The write-behinds opened on this cache add their counters here (write_behind.cpp).
  WriteBehindCounters write_behind;
  // Tags and dependencies (tags.hpp).
  std::unique_ptr<Tags> tags;
  // Distributed locks (lock.hpp).
  std::unique_ptr<Locks, LocksDeleter> locks;

  explicit Impl(Options o)
      : options(std::move(o)),
        metrics(options.slow_op_threshold),
        coherence(options.redis.transport == RedisOptions::Transport::kNone || options.l1.coherence == L1Coherence::kOff
                      ? nullptr
                      : std::make_shared<Coherence>(options.l1.coherence, options.prefix)),
        l1(options.l1),
        promotion(options.l1.promote_after, std::max<size_t>(options.l1.max_entries, 1024)),
        l2(options.redis.transport == RedisOptions::Transport::kNone
               ? make_null_remote_tier()
               : make_timed_remote_tier(make_redis_tier(options.redis, coherence), metrics)),
        codec(options.codec),
        plain_integers(!options.codec.keys || options.codec.keys->empty()) {
    rt = make_read_through(*this);  // before attach(): invalidations wake its waiters
    tags = std::make_unique<Tags>(*this);
    locks = make_locks(*this);
    if (coherence) coherence->attach(this);
  }
  ~Impl() override;

  // ---- Coherence::Sink: what Redis says changed ----
  void invalidate(std::string_view full) override {
    if (full.substr(0, options.prefix.size()) != options.prefix) return;  // another cache's key
    full.remove_prefix(options.prefix.size());
    l1.erase(full);
    wake_loads(full);
  }
  // Copies with a stale period stay as fail-safe values (a reload that fails may still
  // serve them); everything else goes.
  void flush() override {
    l1_generation.fetch_add(1, std::memory_order_acq_rel);
    l1.erase_unless([](std::string_view, Format f, std::string_view v) {
      return frame::framed(f) && (frame::header(v).flags & frame::kHasStale) != 0;
    });
    wake_all_locks();  // invalidations may have been missed: lock waiters look again
  }
  // A key changed in Redis: callers waiting for another process's load of it look again.
  void wake_loads(std::string_view key);
  void wake_all_locks();
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

  // A value that could not be decoded: counted in decode_errors and logged once as
  // codec.decode_error (docs/operations.md); `key` may be empty where it is not known.
  void count_decode_error(std::string_view key, const Status& why) {
    decode_errors.fetch_add(1, std::memory_order_relaxed);
    if (!log_enabled(LogLevel::kWarning)) return;
    constexpr size_t kMaxKey = 200;
    std::string text = key.empty() ? std::string("a value") : "key '" + std::string(key.substr(0, kMaxKey)) +
                                                                  (key.size() > kMaxKey ? "...'" : "'");
    log_event(LogLevel::kWarning, "codec.decode_error", text + " could not be decoded (read as a miss): " + why.to_string());
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
  Result<Payload> open_envelope(std::string_view key, const std::string& full, std::string_view env, Call c,
                                std::optional<EntryMeta>* meta) {
    auto p = codec.decode(env, options.prefix, key, meta);
    if (p) return p;
    if (p.code() == StatusCode::kWrongType && options.foreign_values == ForeignValues::kRaw) {
      return Payload{Format::kRaw, std::string(env)};
    }
    count_decode_error(key, p.status());
    if (p.code() == StatusCode::kDataLoss) {
      if (c.wait || !closing.load(std::memory_order_acquire)) l2->delete_if_value(full, env, c, [](Result<bool>) {});
    }
    return not_found("stored value was unreadable (" + p.status().to_string() + "); treated as a miss");
  }

  // An entry as a reader sees it (docs/read-through.md): plain entries are fresh until
  // they expire; entries with read-through metadata have a fresh and a stale period and
  // may be negative ("does not exist").
  struct Seen {
    enum State : uint8_t { kMiss, kFresh, kStale, kNegative };
    State state = kMiss;
    ValueRef value;                    // kFresh, kStale: the value
    int64_t fresh_until_ms = INT64_MAX;  // frame::now_ms() clock
    int64_t seen_at_ms = 0;              // when it was classified (entries with metadata)
    uint32_t load_ms = 0;
  };
  // An L1 entry (empty: a miss).
  Seen see(const ValueRef& entry) const {
    Seen s;
    if (!entry) return s;
    if (!frame::framed(entry.format())) {
      s.state = Seen::kFresh;
      s.value = entry;
      return s;
    }
    frame::Header h = frame::header(entry.data());
    bool current = h.generation == l1_generation.load(std::memory_order_acquire);
    if (h.flags & frame::kNegative) {
      s.state = current ? Seen::kNegative : Seen::kMiss;
      return s;
    }
    s.value = frame::value(entry);
    s.fresh_until_ms = h.fresh_until_ms;
    s.load_ms = h.load_ms;
    s.seen_at_ms = frame::now_ms();
    s.state = current && s.seen_at_ms < h.fresh_until_ms ? Seen::kFresh : Seen::kStale;
    return s;
  }
  // Plain reads (get, mget): a fresh value, or why not. A stale L1 copy is looked up in
  // L2 (another process may have reloaded it).
  static bool serves(const Seen& s) { return s.state == Seen::kFresh; }
  static Status unserved(const Seen& s) {
    return not_found(s.state == Seen::kNegative ? "the key does not exist (a negative entry)"
                                                : s.state == Seen::kStale ? "past its fresh period" : "not found");
  }

  // An L2 value read with its PTTL, stored into L1 (when `store` and the promotion
  // threshold lets it in, unless `warming`) and seen as a reader.
  // Back-fill only when no write to the key raced the L2 fetch (`epoch`: l1.write_epoch
  // taken before it), and never for a key in its last millisecond (PTTL 0). With
  // coherent L1, also only while coverage held since `token` (coherence.hpp), except
  // that an entry with a stale period is kept as a fail-safe value (stale only).
  Seen backfill(std::string_view key, const Payload& p, const std::optional<EntryMeta>& meta, int64_t l2_pttl_ms,
                uint64_t epoch, uint64_t token, bool store = true, bool warming = false) {
    if (auto hook = test_hooks::before_backfill.load(std::memory_order_relaxed)) hook(key);
    if (store && !warming && l2_pttl_ms != 0) store = promotion.admit(key, l2_pttl_ms);
    Seen s;
    bool covered = l1_covered(token);
    if (!meta) {
      s.state = Seen::kFresh;
      s.value = !store || l2_pttl_ms == 0 || !covered ? MemoryTier::make_ref(p.format, p.data)
                                                       : l1.set_if_epoch(key, p.format, p.data, l1_ttl(l2_pttl_ms), epoch);
    } else {
      int64_t now = frame::now_ms();
      int64_t stale = static_cast<int64_t>(std::min<uint64_t>(meta->stale_ms, INT64_MAX / 4));
      frame::Header h;
      h.load_ms = meta->load_ms;
      h.fresh_until_ms = l2_pttl_ms < 0 ? INT64_MAX : now + l2_pttl_ms - stale;
      h.flags = meta->negative ? frame::kNegative : 0;
      if (stale > 0 && !meta->negative) h.flags |= frame::kHasStale;
      s.state = meta->negative ? Seen::kNegative : now < h.fresh_until_ms ? Seen::kFresh : Seen::kStale;
      s.fresh_until_ms = h.fresh_until_ms;
      s.seen_at_ms = now;
      s.load_ms = h.load_ms;
      ValueRef stored;
      if (store) stored = store_framed(key, p, h, l2_pttl_ms, covered, epoch);
      if (!meta->negative) s.value = stored ? frame::value(stored) : MemoryTier::make_ref(p.format, p.data);
    }
    if (auto hook = test_hooks::after_backfill.load(std::memory_order_relaxed)) hook(key);
    return s;
  }

  // Stores an entry with read-through metadata in L1 (`ttl_ms`: its whole remaining
  // life, stale period included; 0 or < 0 as in L2). Fresh in L1 at most l1.ttl when an
  // L2 exists (the staleness bound when coherence is off). `covered`: no gap in
  // coherence since the value was read or written; else kept only as a fail-safe value.
  // Returns the stored entry (framed), or empty when nothing was stored.
  ValueRef store_framed(std::string_view key, const Payload& p, frame::Header h, int64_t ttl_ms, bool covered,
                        uint64_t epoch) {
    if (ttl_ms == 0) return {};
    if (!covered && !(h.flags & frame::kHasStale)) return {};
    int64_t cap = l2->enabled() ? options.l1.ttl.count() : 0;
    if (cap > 0) h.fresh_until_ms = std::min(h.fresh_until_ms, frame::now_ms() + cap);
    h.generation = covered ? l1_generation.load(std::memory_order_acquire) : 0;
    // Without a stale period the L1 lifetime is capped as any entry's.
    int64_t life = (h.flags & frame::kHasStale) ? (ttl_ms < 0 ? 0 : ttl_ms) : l1_ttl(ttl_ms);
    return l1.set_if_epoch(key, frame::framed_format(p.format), frame::make(h, p.data), life, epoch);
  }

  // A written TTL shortened by a random 0..ttl_jitter fraction (never below 1 ms).
  int64_t jittered(int64_t ttl_ms) const;

  // The operations (see "Operations" below).
  template <typename Done>
  void get(std::string_view key, const CallOptions& call, bool wait, Done&& done);
  // warming: no L1 probe (no hit counted), and every value read enters L1 regardless of
  // the promotion threshold.
  void mget(const std::vector<std::string>& keys, const CallOptions& call, bool wait,
            std::function<void(std::vector<Result<Payload>>)> done, bool warming = false);
  void mset(std::vector<std::pair<std::string, Payload>> items, const CallOptions& call, bool wait,
            std::function<void(Status)> done);
  void del(const std::vector<std::string>& keys, const CallOptions& call, bool wait,
           std::function<void(Result<int64_t>)> done);
  void exists(std::string_view key, const CallOptions& call, bool wait, std::function<void(Result<bool>)> done);
  void ttl(std::string_view key, const CallOptions& call, bool wait, std::function<void(Result<int64_t>)> done);
  void increment(std::string_view key, int64_t amount, const CallOptions& call, bool wait,
                 std::function<void(Result<int64_t>)> done);
  // Tag names and dependencies' keys: valid, or why not.
  Status check_tags(const std::vector<std::string>& names, const std::vector<std::string>& parents) const;
  void invalidate_tags(const std::vector<std::string>& names, const CallOptions& call,
                       std::function<void(Result<int64_t>)> done);
  // After a write of `keys`: removes their dependents (in Redis those of the keys whose
  // dependents set the write saw), then done(write's status, or the removal's error).
  void after_write(const std::vector<std::string>& keys, const std::vector<std::string>& remote_keys, Call c,
                   Status written, std::function<void(Status)> done);
  void clear_pattern(std::string_view glob, const CallOptions& call, bool wait,
                     std::function<void(Result<int64_t>)> done);
  void health(const CallOptions& call, bool wait, std::function<void(HealthInfo)> done);

  // Validation shared by every write: the TTL to write, or why not.
  Result<int64_t> check_write(std::string_view key, const Payload& value, const CallOptions& call);
  // The L1 side of a write, after the L2 side (l2: its outcome; epoch and token: taken
  // before it; all unused when the write skipped L2).
  // The same for any L1 copy: store(epoch) stores it (epoch null: unconditionally, else
  // only while the key's write epoch is *epoch).
  void keep_write(std::string_view key, bool in_l1, const Status* l2, uint64_t epoch, uint64_t token,
                  const std::function<void(const uint64_t* epoch)>& store);
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

}  // namespace stratacache
