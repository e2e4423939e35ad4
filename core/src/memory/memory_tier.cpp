#include "memory/memory_tier.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
#include <mutex>
#include <random>
#include <shared_mutex>
#include <thread>
#include <vector>

#include "glob.hpp"
#include "integer_payload.hpp"
#include "memory/entry.hpp"
#include "memory/frequency_sketch.hpp"
#include "memory/rw_lock.hpp"
#include "memory/timer_wheel.hpp"
#include "thread_probe.hpp"

namespace stratacache {

namespace detail {
void destroy_entry(RefCounted* e) noexcept { std::free(static_cast<l1::Entry*>(e)); }
}  // namespace detail

using l1::Entry;
using l1::Queue;

namespace {

// glibc's chunk for an n-byte request: n + 8-byte header, 16-byte granules, >= 32.
size_t chunk_size(size_t n) { return std::max<size_t>(32, (n + 8 + 15) & ~size_t(15)); }
constexpr size_t kBucketShare = sizeof(Entry*);  // one bucket slot per entry at load factor 1

size_t charge_for(size_t key_len, size_t value_len, bool timed, bool idle) {
  return chunk_size(Entry::header_size(timed, idle) + key_len + value_len) + kBucketShare;
}
size_t charge_of(const Entry* e) { return charge_for(e->key_len, e->value_len, e->timed(), e->idle()); }

uint32_t default_hash(std::string_view key) {
  uint64_t h = std::hash<std::string_view>{}(key);
  return static_cast<uint32_t>(h ^ (h >> 32));
}

uint32_t ceil_pow2(uint32_t x) {
  uint32_t p = 1;
  while (p < x) p <<= 1;
  return p;
}

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

uint64_t thread_random() {
  thread_local std::minstd_rand rng(static_cast<unsigned>(std::hash<std::thread::id>{}(std::this_thread::get_id())));
  return rng();
}

// An intrusive LRU list of entries (front = least recently used).
struct Deque {
  Entry* head = nullptr;
  Entry* tail = nullptr;
  size_t count = 0;
  size_t bytes = 0;

  void push_back(Entry* e) {
    e->prev = tail;
    e->next = nullptr;
    if (tail) tail->next = e;
    else head = e;
    tail = e;
    ++count;
    bytes += charge_of(e);
  }
  void remove(Entry* e) {
    if (e->prev) e->prev->next = e->next;
    else head = e->next;
    if (e->next) e->next->prev = e->prev;
    else tail = e->prev;
    e->prev = e->next = nullptr;
    --count;
    bytes -= charge_of(e);
  }
  void move_to_back(Entry* e) {
    if (tail == e) return;
    remove(e);
    push_back(e);
  }
};

constexpr uint32_t kStripeSlots = 16;

struct alignas(64) Stripe {
  std::atomic<uint32_t> tail{0};
  std::atomic<uint32_t> head{0};
  std::atomic<Entry*> slots[kStripeSlots] = {};
  std::atomic<uint64_t> hits{0};
  std::atomic<uint64_t> misses{0};
};

struct alignas(64) Shard {
  mutable RwLock mu;
  std::vector<Entry*> buckets = std::vector<Entry*>(8, nullptr);
  size_t count = 0;
  // The back-fill guard (MemoryTier::write_epoch): `epoch` counts the shard's writes;
  // last_write[slot] is the epoch of the last write or erase of a key whose hash falls
  // in that slot, cleared_at the epoch of the last shard-wide erase. Keys sharing a
  // slot only make a back-fill skip (conservative), never let a stale one in.
  static constexpr uint32_t kGuardSlots = 64;
  std::atomic<uint64_t> epoch{0};
  uint64_t cleared_at = 0;                // under mu
  uint64_t last_write[kGuardSlots] = {};  // under mu

  uint32_t mask() const { return static_cast<uint32_t>(buckets.size() - 1); }

  Entry* find(uint32_t h, std::string_view key) const {
    for (Entry* e = buckets[h & mask()]; e; e = e->chain) {
      if (e->hash == h && e->key_len == key.size() && e->key() == key) return e;
    }
    return nullptr;
  }
  // Puts `e` in the map; returns the entry it replaced (its map reference passes to
  // the caller), or nullptr.
  Entry* replace(Entry* e) {
    Entry** link = &buckets[e->hash & mask()];
    std::string_view key = e->key();
    for (; *link; link = &(*link)->chain) {
      Entry* cur = *link;
      if (cur->hash == e->hash && cur->key_len == key.size() && cur->key() == key) {
        e->chain = cur->chain;
        *link = e;
        e->set_in_map(true);
        cur->set_in_map(false);
        cur->chain = nullptr;
        return cur;
      }
    }
    e->chain = nullptr;
    *link = e;
    e->set_in_map(true);
    if (++count > buckets.size()) grow();
    return nullptr;
  }
  // Unmaps exactly this entry if it is still mapped; true when it was (the map's
  // reference passes to the caller).
  bool unmap(Entry* e) {
    for (Entry** link = &buckets[e->hash & mask()]; *link; link = &(*link)->chain) {
      if (*link == e) {
        *link = e->chain;
        e->chain = nullptr;
        e->set_in_map(false);
        --count;
        return true;
      }
    }
    return false;
  }
  Entry* unmap_key(uint32_t h, std::string_view key) {
    Entry* e = find(h, key);
    if (e) unmap(e);
    return e;
  }
  void grow() {
    std::vector<Entry*> next(buckets.size() * 2, nullptr);
    uint32_t m = static_cast<uint32_t>(next.size() - 1);
    for (Entry* head : buckets) {
      while (head) {
        Entry* e = head;
        head = e->chain;
        e->chain = next[e->hash & m];
        next[e->hash & m] = e;
      }
    }
    buckets.swap(next);
  }
  // Under mu (exclusive): a write or erase of the key hashing to h; all keys for bump_all.
  void bump(uint32_t h) { last_write[h & (kGuardSlots - 1)] = next_epoch(); }
  void bump_all() { cleared_at = next_epoch(); }
  // Under mu: whether a key hashing to h was written after `token` was read.
  bool written_since(uint32_t h, uint64_t token) const {
    return std::max(cleared_at, last_write[h & (kGuardSlots - 1)]) > token;
  }
  uint64_t next_epoch() {
    uint64_t e = epoch.load(std::memory_order_relaxed) + 1;
    epoch.store(e, std::memory_order_release);
    return e;
  }
};

// Caffeine's tuning constants for the window and the hill climber.
constexpr double kPercentMain = 0.99;
constexpr double kPercentMainProtected = 0.80;
constexpr double kClimberRestartThreshold = 0.05;
constexpr double kClimberStepPercent = 0.0625;
constexpr double kClimberStepDecay = 0.98;
constexpr int kAdmitHashDosThreshold = 6;
constexpr int kQueueTransferThreshold = 1000;

}  // namespace

struct MemoryTier::Impl {
  L1Options options;
  std::shared_ptr<const Clock> clock;
  bool lru;
  bool idle;
  uint32_t shard_shift;
  std::vector<Shard> shards;
  uint32_t stripe_mask;
  std::vector<Stripe> stripes;
  std::atomic<uint64_t> dirty{0};  // stripes that may hold entries (bit per stripe)
  // Whether reads are recorded for the policy. As in Caffeine, W-TinyLFU ignores reads
  // until the cache is half full (the sketch starts then): nothing is evicted before.
  std::atomic<bool> record_reads{false};

  // --- policy state: everything below is guarded by policy_mu ---
  mutable std::mutex policy_mu;
  Deque window, probation, protected_;  // LRU mode uses `window` only
  size_t count = 0, bytes = 0, payload_bytes = 0;
  size_t max_entries, max_bytes;
  size_t window_max = 0, protected_max = 0;
  l1::FrequencySketch sketch;
  l1::TimerWheel wheel;
  size_t hits_in_sample = 0, misses_in_sample = 0;
  double previous_hit_rate = 0, step_size = 0;
  int64_t adjustment = 0;
  uint64_t evictions = 0, expirations = 0, rejections = 0;
  std::minstd_rand rng{0x5eed};

  Impl(const L1Options& o, std::shared_ptr<const Clock> c)
      : options(o),
        clock(c ? std::move(c) : std::make_shared<SteadyClock>()),
        lru(o.policy == L1Policy::kLru),
        idle(o.idle_ttl.count() > 0),
        shards(64),
        sketch(o.doorkeeper),
        wheel(clock->now_ms()) {
    record_reads.store(lru, std::memory_order_relaxed);
    shard_shift = 32 - 6;
    unsigned hw = std::max(1u, std::thread::hardware_concurrency());
    uint32_t n = std::min<uint32_t>(64, std::max<uint32_t>(4, ceil_pow2(4 * hw)));
    stripes = std::vector<Stripe>(n);
    stripe_mask = n - 1;
    max_entries = o.max_entries;
    max_bytes = o.max_bytes;
    window_max = max_entries - static_cast<size_t>(kPercentMain * static_cast<double>(max_entries));
    protected_max = static_cast<size_t>(kPercentMainProtected * static_cast<double>(max_entries - window_max));
    step_size = -kClimberStepPercent * static_cast<double>(max_entries);
  }

  ~Impl() {
    for (auto& s : stripes) drain_stripe(s);
    for (auto& s : shards) {
      for (Entry* head : s.buckets) {
        while (head) {
          Entry* e = head;
          head = e->chain;
          e->release();  // map
        }
      }
    }
    for (Deque* d : {&window, &probation, &protected_}) {
      while (d->head) {
        Entry* e = d->head;
        d->remove(e);
        e->release();  // policy
      }
    }
  }

  uint32_t (*const hash_fn)(std::string_view) = options.key_hash ? options.key_hash : default_hash;
  uint32_t hash_key(std::string_view key) const { return hash_fn(key); }

  Shard& shard_for(uint32_t h) { return shards[h >> shard_shift]; }
  const Shard& shard_for(uint32_t h) const { return shards[h >> shard_shift]; }

  bool fits(size_t key_len, size_t value_len, bool timed) const {
    return max_entries > 0 && key_len <= Entry::kMaxKey && value_len <= UINT32_MAX &&
           charge_for(key_len, value_len, timed || idle, idle) <= max_bytes;
  }

  int64_t now() const { return clock->now_ms(); }

  // L1 deadline for a TTL: jittered downwards when asked (never past the given TTL).
  int64_t expiry_for(int64_t ttl_ms, int64_t now_ms) const {
    if (ttl_ms <= 0) return 0;
    if (options.ttl_jitter > 0) {
      double cut = options.ttl_jitter * static_cast<double>(ttl_ms) * (static_cast<double>(thread_random() % 1000001) / 1e6);
      ttl_ms = std::max<int64_t>(1, ttl_ms - static_cast<int64_t>(cut));
    }
    return now_ms + ttl_ms;
  }

  Entry* make_entry(std::string_view key, uint32_t h, Format format, std::string_view data, int64_t hard, int64_t now_ms) {
    if (!idle) return Entry::make(key, h, format, data, hard, false, 0);
    int64_t at = now_ms + options.idle_ttl.count();
    if (hard != 0) at = std::min(at, hard);
    return Entry::make(key, h, format, data, at, true, hard);
  }

  void touch_idle(Entry* e, int64_t now_ms) {
    auto* t = static_cast<Entry::IdleTimed*>(e->timing());
    int64_t at = now_ms + options.idle_ttl.count();
    if (t->hard_expires_at != 0) at = std::min(at, t->hard_expires_at);
    if (at > t->expires_at.load(std::memory_order_relaxed)) t->expires_at.store(at, std::memory_order_relaxed);
  }

  // ---- read buffers ----
  enum class Push { kOk, kFull, kDropped };

  Push push(Stripe& s, uint32_t index, Entry* e) {
    uint32_t t = s.tail.load(std::memory_order_relaxed);
    uint32_t h = s.head.load(std::memory_order_acquire);
    uint32_t used = t - h;
    if (used >= kStripeSlots) return Push::kFull;  // this access goes unrecorded
    if (!s.tail.compare_exchange_strong(t, t + 1, std::memory_order_acq_rel)) return Push::kDropped;
    e->retain();  // the slot's reference
    s.slots[t & (kStripeSlots - 1)].store(e, std::memory_order_release);
    if (used == 0) dirty.fetch_or(uint64_t(1) << index, std::memory_order_release);
    return Push::kOk;
  }

  // Policy lock held.
  void drain_stripe(Stripe& s) {
    uint32_t h = s.head.load(std::memory_order_relaxed);
    uint32_t t = s.tail.load(std::memory_order_acquire);
    for (; h != t; ++h) {
      auto& slot = s.slots[h & (kStripeSlots - 1)];
      Entry* e = slot.load(std::memory_order_acquire);
      if (!e) break;  // claimed, not yet written: the rest waits for the next drain
      slot.store(nullptr, std::memory_order_relaxed);
      on_access(e);
      e->release();
    }
    s.head.store(h, std::memory_order_release);
  }

  void drain_reads(Stripe* also) {
    uint64_t mask = dirty.exchange(0, std::memory_order_acq_rel);
    while (mask) {
      int i = __builtin_ctzll(mask);
      mask &= mask - 1;
      drain_stripe(stripes[static_cast<size_t>(i)]);
    }
    if (also) drain_stripe(*also);
  }

  // ---- policy (policy lock held) ----
  bool linked(const Entry* e) const {
    Queue q = e->queue();
    return q == l1::kWindow || q == l1::kProbation || q == l1::kProtected;
  }
  Deque& deque_of(Queue q) { return q == l1::kWindow ? window : q == l1::kProbation ? probation : protected_; }

  void on_access(Entry* e) {
    if (!linked(e)) return;
    if (lru) {
      window.move_to_back(e);
      return;
    }
    sketch.increment(e->hash);
    switch (e->queue()) {
      case l1::kWindow: window.move_to_back(e); break;
      case l1::kProbation:
        probation.remove(e);
        protected_.push_back(e);
        e->set_queue(l1::kProtected);
        break;
      default: protected_.move_to_back(e); break;
    }
    ++hits_in_sample;
  }

  void on_add(Entry* e, int64_t now_ms) {
    if (e->queue() == l1::kDead || !e->in_map()) {  // replaced or removed before we got here
      e->set_queue(l1::kDead);
      e->release();
      return;
    }
    size_t c = charge_of(e);
    ++count;
    bytes += c;
    payload_bytes += e->key_len + e->value_len;
    window.push_back(e);
    e->set_queue(l1::kWindow);
    if (e->timed()) wheel.schedule(e, now_ms);
    if (lru) return;
    if (!sketch.initialized() && (count >= max_entries / 2 || bytes >= max_bytes / 2)) {
      // Sized for the entries the cache holds when full (estimated from the current
      // mean size when the byte bound is the tighter one).
      size_t by_bytes = bytes > 0 ? static_cast<size_t>(static_cast<double>(max_bytes) / (static_cast<double>(bytes) / static_cast<double>(count))) : max_entries;
      sketch.ensure_capacity(std::min(max_entries, std::max<size_t>(by_bytes, 1)));
      record_reads.store(true, std::memory_order_relaxed);
    }
    sketch.increment(e->hash);
    ++misses_in_sample;
  }

  // Takes the entry out of the policy (whatever its state) and drops the policy's
  // reference when it had one.
  void on_remove(Entry* e) {
    Queue q = e->queue();
    if (q == l1::kDead) return;
    if (q == l1::kUnlinked) {  // its add is still on its way; that add drops the reference
      e->set_queue(l1::kDead);
      return;
    }
    deque_of(q).remove(e);
    --count;
    bytes -= charge_of(e);
    payload_bytes -= e->key_len + e->value_len;
    if (e->timed()) wheel.deschedule(e);
    e->set_queue(l1::kDead);
    e->release();
  }

  // Evicts or expires a linked entry: out of the map (if still there), out of the policy.
  void remove_entry(Entry* e) {
    Shard& s = shard_for(e->hash);
    bool was_mapped;
    {
      std::unique_lock<RwLock> lock(s.mu);
      was_mapped = s.unmap(e);
    }
    on_remove(e);
    if (was_mapped) e->release();
  }

  void expire(int64_t now_ms) {
    wheel.advance(now_ms, [&](Entry* e) {
      ++expirations;
      remove_entry(e);
    });
  }

  bool over() const { return count > max_entries || bytes > max_bytes; }
  size_t share_of_bytes(size_t entries) const {
    if (max_entries == 0) return 0;
    return static_cast<size_t>(static_cast<long double>(max_bytes) * entries / max_entries);
  }
  bool window_over() const { return window.count > window_max || window.bytes > share_of_bytes(window_max); }
  bool protected_over() const {
    return protected_.count > protected_max || protected_.bytes > share_of_bytes(protected_max);
  }

  void evict_entry(Entry* e) {
    ++evictions;
    remove_entry(e);
  }

  bool admit(const Entry* candidate, const Entry* victim) {
    int victim_freq = sketch.frequency(victim->hash);
    int candidate_freq = sketch.frequency(candidate->hash);
    if (candidate_freq > victim_freq) return true;
    // A popular candidate sometimes gets in anyway, so an attacker who makes a victim
    // look hot (hash flooding) cannot keep everything new out.
    if (candidate_freq >= kAdmitHashDosThreshold) return (rng() & 127) == 0;
    return false;
  }

  int evict_from_window() {
    int candidates = 0;
    Entry* e = window.head;
    while (e && window_over()) {
      Entry* next = e->next;
      window.remove(e);
      probation.push_back(e);
      e->set_queue(l1::kProbation);
      ++candidates;
      e = next;
    }
    return candidates;
  }

  // Caffeine's evictFromMain: the candidates (just moved from the window to the
  // probation tail) are walked from the MRU end, the victims from the probation head;
  // each pair is settled by the sketch. With no candidates left, the window's MRU end
  // supplies more. A pointer to an entry that was just evicted is dropped (Caffeine
  // sees such an entry as dead and moves past it the same way).
  void evict_from_main(int candidates) {
    Queue victim_queue = l1::kProbation;
    Entry* victim = probation.head;
    Entry* candidate = probation.tail;
    auto evict_and_forget = [&](Entry* x) {
      if (victim == x) victim = nullptr;
      if (candidate == x) {
        candidate = nullptr;
        --candidates;
      }
      evict_entry(x);
    };
    while (over()) {
      if (candidates == 0) candidate = window.tail;
      if (!candidate && !victim) {
        if (victim_queue == l1::kProbation) {
          victim = protected_.head;
          victim_queue = l1::kProtected;
          continue;
        }
        if (victim_queue == l1::kProtected) {
          victim = window.head;
          victim_queue = l1::kWindow;
          continue;
        }
        break;
      }
      if (!victim) {
        Entry* evict = candidate;
        candidate = candidate->prev;
        --candidates;
        evict_and_forget(evict);
        continue;
      }
      if (!candidate) {
        Entry* evict = victim;
        victim = victim->next;
        evict_and_forget(evict);
        continue;
      }
      --candidates;
      if (candidate != victim && admit(candidate, victim)) {
        Entry* evict = victim;
        victim = victim->next;
        evict_and_forget(evict);
        if (candidate) candidate = candidate->prev;  // the links already skip the evicted entry
      } else {
        Entry* evict = candidate;
        candidate = candidates > 0 ? candidate->prev : candidate->next;
        ++rejections;
        evict_and_forget(evict);
      }
    }
  }

  void evict_lru() {
    while (over() && window.head) evict_entry(window.head);
  }

  void evict() {
    if (lru) return evict_lru();
    int candidates = evict_from_window();
    evict_from_main(candidates);
  }

  // ---- hill climbing on the window size (Caffeine's climber) ----
  void determine_adjustment() {
    if (!sketch.initialized()) {
      previous_hit_rate = 0;
      hits_in_sample = misses_in_sample = 0;
      return;
    }
    size_t requests = hits_in_sample + misses_in_sample;
    if (requests < sketch.sample_size()) return;
    double hit_rate = static_cast<double>(hits_in_sample) / static_cast<double>(requests);
    double change = hit_rate - previous_hit_rate;
    double amount = change >= 0 ? step_size : -step_size;
    double next_step = std::abs(change) >= kClimberRestartThreshold
                           ? kClimberStepPercent * static_cast<double>(max_entries) * (amount >= 0 ? 1 : -1)
                           : kClimberStepDecay * amount;
    previous_hit_rate = hit_rate;
    adjustment = static_cast<int64_t>(amount);
    step_size = next_step;
    hits_in_sample = misses_in_sample = 0;
  }

  void demote_from_protected() {
    for (int i = 0; i < kQueueTransferThreshold && protected_over() && protected_.head; ++i) {
      Entry* e = protected_.head;
      protected_.remove(e);
      probation.push_back(e);
      e->set_queue(l1::kProbation);
    }
  }

  void increase_window() {
    if (protected_max == 0) return;
    size_t quota = std::min<size_t>(static_cast<size_t>(adjustment), protected_max);
    protected_max -= quota;
    window_max += quota;
    demote_from_protected();
    for (int i = 0; i < kQueueTransferThreshold && quota > 0; ++i) {
      Entry* e = probation.head;
      bool from_probation = true;
      if (!e) {
        e = protected_.head;
        from_probation = false;
      }
      if (!e) break;
      --quota;
      (from_probation ? probation : protected_).remove(e);
      window.push_back(e);
      e->set_queue(l1::kWindow);
    }
    protected_max += quota;
    window_max -= quota;
    adjustment = static_cast<int64_t>(quota);
  }

  void decrease_window() {
    if (window_max <= 1) return;
    size_t quota = std::min<size_t>(static_cast<size_t>(-adjustment), window_max - 1);
    protected_max += quota;
    window_max -= quota;
    for (int i = 0; i < kQueueTransferThreshold && quota > 0; ++i) {
      Entry* e = window.head;
      if (!e) break;
      --quota;
      window.remove(e);
      probation.push_back(e);
      e->set_queue(l1::kProbation);
    }
    protected_max -= quota;
    window_max += quota;
    adjustment = -static_cast<int64_t>(quota);
  }

  void climb() {
    if (lru) return;
    determine_adjustment();
    demote_from_protected();
    if (adjustment > 0) increase_window();
    else if (adjustment < 0) decrease_window();
  }

  // Caffeine's order: recorded reads, then the writes' work, expiry, eviction, climbing.
  void maintenance(int64_t now_ms, Stripe* also = nullptr) {
    drain_reads(also);
    after_writes(now_ms);
  }
  void after_writes(int64_t now_ms) {
    expire(now_ms);
    evict();
    climb();
  }

  // Writers hold the policy lock for a few hundred nanoseconds; spinning briefly before
  // blocking keeps two writers from handing the lock over through futex sleeps.
  void lock_policy() {
    for (int i = 0; i < 200; ++i) {
      if (policy_mu.try_lock()) return;
      cpu_relax();
    }
    policy_mu.lock();
  }

  void try_maintenance(Stripe& s) {
    std::unique_lock<std::mutex> lock(policy_mu, std::try_to_lock);
    if (lock.owns_lock()) maintenance(now(), &s);
  }

  // ---- writes ----
  // Applies a map change to the policy: `removed` (with its map reference) leaves,
  // `added` (with its policy reference) joins.
  void apply(Entry* removed, Entry* added, int64_t now_ms) {
    lock_policy();
    std::lock_guard<std::mutex> lock(policy_mu, std::adopt_lock);
    drain_reads(nullptr);
    if (removed) {
      on_remove(removed);
      removed->release();
    }
    if (added) on_add(added, now_ms);
    after_writes(now_ms);
  }

  void apply_removed(std::vector<Entry*>& removed) {
    if (removed.empty()) return;
    lock_policy();
    std::lock_guard<std::mutex> lock(policy_mu, std::adopt_lock);
    for (Entry* e : removed) {
      on_remove(e);
      e->release();
    }
  }

  // Stores a new entry; `epoch` (when non-null) must still match the shard's.
  ValueRef store(std::string_view key, Format format, std::string_view data, int64_t ttl_ms, const uint64_t* epoch,
                 bool want_ref) {
    uint32_t h = hash_key(key);
    Shard& s = shard_for(h);
    int64_t now_ms = now();
    if (!fits(key.size(), data.size(), ttl_ms > 0)) {
      if (!epoch) erase(key);  // never leave an older value behind
      return want_ref ? make_standalone(format, data) : ValueRef();
    }
    Entry* e = make_entry(key, h, format, data, expiry_for(ttl_ms, now_ms), now_ms);
    if (!e) {
      if (!epoch) erase(key);
      return {};
    }
    ValueRef ref = want_ref ? e->ref() : ValueRef();
    Entry* old;
    {
      std::unique_lock<RwLock> lock(s.mu);
      if (epoch && s.written_since(h, *epoch)) {
        lock.unlock();
        // Not stored: drop the map's and the policy's references (the caller's stays).
        if (e->refs.fetch_sub(2, std::memory_order_acq_rel) == 2) detail::destroy_entry(e);
        return ref;
      }
      old = s.replace(e);
      // A back-fill is not a write: it must not stop other back-fills of the shard.
      if (!epoch) s.bump(h);
    }
    apply(old, e, now_ms);
    return ref;
  }

  static ValueRef make_standalone(Format format, std::string_view data) {
    Entry* e = Entry::make({}, 0, format, data, 0, false, 0);
    if (!e) return {};
    e->refs.store(1, std::memory_order_relaxed);
    auto v = e->value();
    return ValueRef::adopt(e, v.data(), v.size(), format);
  }

  bool erase(std::string_view key) {
    uint32_t h = hash_key(key);
    Shard& s = shard_for(h);
    Entry* old;
    {
      std::unique_lock<RwLock> lock(s.mu);
      old = s.unmap_key(h, key);
      s.bump(h);
    }
    if (!old) return false;
    bool live = !old->expired(now());
    lock_policy();
    std::lock_guard<std::mutex> lock(policy_mu, std::adopt_lock);
    on_remove(old);
    old->release();
    return live;
  }

  template <class Pred>
  size_t erase_if(Pred&& match) {
    size_t live = 0;
    int64_t now_ms = now();
    std::vector<Entry*> removed;
    for (auto& s : shards) {
      std::unique_lock<RwLock> lock(s.mu);
      s.bump_all();
      for (auto& head : s.buckets) {
        for (Entry** link = &head; *link;) {
          Entry* e = *link;
          if (match(*e)) {
            *link = e->chain;
            e->chain = nullptr;
            e->set_in_map(false);
            --s.count;
            if (!e->expired(now_ms)) ++live;
            removed.push_back(e);
          } else {
            link = &e->chain;
          }
        }
      }
    }
    apply_removed(removed);
    return live;
  }
};

MemoryTier::MemoryTier(const L1Options& options, std::shared_ptr<const Clock> clock)
    : impl_(std::make_unique<Impl>(options, std::move(clock))) {}

MemoryTier::~MemoryTier() = default;

size_t MemoryTier::entry_overhead(bool timed) { return Entry::header_size(timed, false) + 8 + kBucketShare; }

ValueRef MemoryTier::get(std::string_view key) {
  Impl& m = *impl_;
  uint32_t h = m.hash_key(key);
  Shard& s = m.shard_for(h);
  uint32_t index = thread_probe() & m.stripe_mask;
  Stripe& st = m.stripes[index];
  ValueRef out;
  Impl::Push pushed;
  {
    std::shared_lock<RwLock> lock(s.mu);
    Entry* e = s.find(h, key);
    if (e && e->timed()) {
      int64_t now_ms = m.now();
      if (e->expired(now_ms)) e = nullptr;
      else if (e->idle()) m.touch_idle(e, now_ms);
    }
    if (!e) {
      lock.unlock();
      st.misses.fetch_add(1, std::memory_order_relaxed);
      return out;
    }
    out = e->ref();
    pushed = m.record_reads.load(std::memory_order_relaxed) ? m.push(st, index, e) : Impl::Push::kOk;
  }
  st.hits.fetch_add(1, std::memory_order_relaxed);
  if (pushed == Impl::Push::kFull) m.try_maintenance(st);
  return out;
}

ValueRef MemoryTier::peek(std::string_view key) {
  Impl& m = *impl_;
  uint32_t h = m.hash_key(key);
  Shard& s = m.shard_for(h);
  std::shared_lock<RwLock> lock(s.mu);
  Entry* e = s.find(h, key);
  if (!e || e->expired(m.now())) return ValueRef();
  return e->ref();
}

bool MemoryTier::contains(std::string_view key) {
  Impl& m = *impl_;
  uint32_t h = m.hash_key(key);
  Shard& s = m.shard_for(h);
  std::shared_lock<RwLock> lock(s.mu);
  Entry* e = s.find(h, key);
  return e && !e->expired(m.now());
}

bool MemoryTier::set(std::string_view key, Format format, std::string_view data, int64_t ttl_ms) {
  Impl& m = *impl_;
  if (!m.fits(key.size(), data.size(), ttl_ms > 0)) {
    m.erase(key);
    return false;
  }
  m.store(key, format, data, ttl_ms, nullptr, false);
  return true;
}

ValueRef MemoryTier::set_and_ref(std::string_view key, Format format, std::string_view data, int64_t ttl_ms) {
  return impl_->store(key, format, data, ttl_ms, nullptr, true);
}

ValueRef MemoryTier::make_ref(Format format, std::string_view data) { return Impl::make_standalone(format, data); }

uint64_t MemoryTier::write_epoch(std::string_view key) const {
  return impl_->shard_for(impl_->hash_key(key)).epoch.load(std::memory_order_acquire);
}

ValueRef MemoryTier::set_if_epoch(std::string_view key, Format format, std::string_view data, int64_t ttl_ms,
                                  uint64_t epoch) {
  return impl_->store(key, format, data, ttl_ms, &epoch, true);
}

bool MemoryTier::admissible(std::string_view key, size_t value_bytes) const {
  return impl_->fits(key.size(), value_bytes, true);
}

bool MemoryTier::erase(std::string_view key) { return impl_->erase(key); }

size_t MemoryTier::erase_prefix(std::string_view prefix) {
  return impl_->erase_if([&](const Entry& e) { return e.key().substr(0, prefix.size()) == prefix; });
}

size_t MemoryTier::erase_matching(std::string_view glob) {
  // "literal*" (no other special characters): a prefix match.
  if (!glob.empty() && glob.back() == '*' && glob.substr(0, glob.size() - 1).find_first_of("*?[\\") == std::string_view::npos) {
    return erase_prefix(glob.substr(0, glob.size() - 1));
  }
  return impl_->erase_if([&](const Entry& e) { return glob_match(glob, e.key()); });
}

size_t MemoryTier::count_matching(std::string_view glob) const {
  const Impl& m = *impl_;
  int64_t now_ms = m.now();
  size_t live = 0;
  for (auto& s : m.shards) {
    std::shared_lock<RwLock> lock(s.mu);
    for (Entry* head : s.buckets) {
      for (Entry* e = head; e; e = e->chain) {
        if (!e->expired(now_ms) && glob_match(glob, e->key())) ++live;
      }
    }
  }
  return live;
}

std::optional<int64_t> MemoryTier::ttl_ms(std::string_view key) {
  Impl& m = *impl_;
  uint32_t h = m.hash_key(key);
  Shard& s = m.shard_for(h);
  int64_t now_ms = m.now();
  std::shared_lock<RwLock> lock(s.mu);
  Entry* e = s.find(h, key);
  if (!e || e->expired(now_ms)) return std::nullopt;
  if (!e->timed()) return -1;
  if (e->idle()) {
    int64_t hard = static_cast<const Entry::IdleTimed*>(e->timing())->hard_expires_at;
    if (hard == 0) return -1;
    return hard - now_ms;
  }
  return e->expires_at() - now_ms;
}

Result<int64_t> MemoryTier::increment(std::string_view key, int64_t amount, int64_t ttl_if_new_ms) {
  Impl& m = *impl_;
  uint32_t h = m.hash_key(key);
  Shard& s = m.shard_for(h);
  int64_t now_ms = m.now();
  int64_t result;
  Entry* added;
  Entry* old;
  {
    std::unique_lock<RwLock> lock(s.mu);
    Entry* cur = s.find(h, key);
    if (cur && cur->expired(now_ms)) cur = nullptr;
    int64_t current = 0;
    int64_t hard = m.expiry_for(ttl_if_new_ms, now_ms);
    if (cur) {
      auto v = payload_integer(Payload{cur->format, std::string(cur->value())});
      if (!v) return Status(StatusCode::kWrongType, "value at key is not an integer");
      current = *v;
      // Incrementing never extends a TTL.
      hard = cur->idle() ? static_cast<const Entry::IdleTimed*>(cur->timing())->hard_expires_at : cur->expires_at();
    }
    if (__builtin_add_overflow(current, amount, &result)) return invalid_argument("increment would overflow int64");
    Payload p = integer_payload(result);
    if (!m.fits(key.size(), p.data.size(), hard != 0)) {
      return too_large("the counter does not fit in L1 (l1_max_entries / l1_max_bytes)");
    }
    added = m.make_entry(key, h, p.format, p.data, hard, now_ms);
    if (!added) return Status(StatusCode::kInternal, "out of memory");
    old = s.replace(added);
    s.bump(h);
  }
  m.apply(old, added, now_ms);
  return result;
}

void MemoryTier::clear() {
  impl_->erase_if([](const Entry&) { return true; });
}

size_t MemoryTier::erase_unless(const std::function<bool(std::string_view, Format, std::string_view)>& keep) {
  return impl_->erase_if([&](const Entry& e) { return !keep(e.key(), e.format, e.value()); });
}

void MemoryTier::cleanup() {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.policy_mu);
  for (auto& s : m.stripes) m.drain_stripe(s);
  m.maintenance(m.now());
}

L1Stats MemoryTier::stats() const {
  const Impl& m = *impl_;
  L1Stats st;
  st.max_entries = m.max_entries;
  st.max_bytes = m.max_bytes;
  for (auto& s : m.stripes) {
    st.hits += s.hits.load(std::memory_order_relaxed);
    st.misses += s.misses.load(std::memory_order_relaxed);
  }
  std::lock_guard<std::mutex> lock(m.policy_mu);
  st.evictions = m.evictions;
  st.expirations = m.expirations;
  st.rejections = m.rejections;
  st.entries = m.count;
  st.bytes = m.bytes;
  st.payload_bytes = m.payload_bytes;
  st.window_max_entries = m.lru ? 0 : m.window_max;
  st.sketch_bytes = m.sketch.memory_bytes();
  return st;
}

}  // namespace stratacache
