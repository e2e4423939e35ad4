#include "memory/memory_tier.hpp"

#include <atomic>
#include <functional>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>

#include "glob.hpp"
#include "integer_payload.hpp"

namespace stratacache {
namespace {

struct Node {
  std::string key;
  PayloadPtr value;
  int64_t expires_at_ms = 0;  // 0: never
  size_t charge = 0;
};

using LruList = std::list<Node>;  // front = most recently used

// Shared-pointer control block + Payload object + list node + hash node + bucket slot.
constexpr size_t kEntryOverhead = sizeof(Payload) + 2 * sizeof(void*) +       // payload + ctrl block
                                  sizeof(Node) + 2 * sizeof(void*) +          // list node
                                  sizeof(std::string_view) + sizeof(LruList::iterator) +
                                  2 * sizeof(void*) + sizeof(void*);          // hash node + bucket

size_t charge_of(std::string_view key, const PayloadPtr& value) {
  return key.size() + (value ? value->data.size() : 0) + kEntryOverhead;
}

}  // namespace

struct MemoryTier::Shard {
  mutable std::mutex mu;
  LruList lru;
  std::unordered_map<std::string_view, LruList::iterator> index;  // views into Node::key
  size_t bytes = 0;
  std::atomic<uint64_t> epoch{0};  // bumped under mu by every write
  size_t max_entries = 0;
  size_t max_bytes = 0;
  uint64_t hits = 0, misses = 0, evictions = 0, expirations = 0;

  bool expired(const Node& n, int64_t now) const { return n.expires_at_ms != 0 && n.expires_at_ms <= now; }

  void remove(LruList::iterator it) {
    bytes -= it->charge;
    index.erase(std::string_view(it->key));
    lru.erase(it);
  }

  // Finds a live entry; drops it (counting an expiration) when expired.
  LruList::iterator find_live(std::string_view key, int64_t now) {
    auto found = index.find(key);
    if (found == index.end()) return lru.end();
    auto it = found->second;
    if (expired(*it, now)) {
      ++expirations;
      remove(it);
      return lru.end();
    }
    return it;
  }

  void evict_to_fit(int64_t now) {
    while (!lru.empty() && (lru.size() > max_entries || bytes > max_bytes)) {
      auto victim = std::prev(lru.end());
      if (expired(*victim, now)) ++expirations; else ++evictions;
      remove(victim);
    }
  }

  void bump() { epoch.store(epoch.load(std::memory_order_relaxed) + 1, std::memory_order_release); }

  bool fits(size_t charge) const { return max_entries > 0 && charge <= max_bytes; }

  void insert(std::string_view key, PayloadPtr value, int64_t expires_at, int64_t now) {
    bump();
    size_t charge = charge_of(key, value);
    auto found = index.find(key);
    if (found != index.end()) {
      auto it = found->second;
      bytes = bytes - it->charge + charge;
      it->value = std::move(value);
      it->expires_at_ms = expires_at;
      it->charge = charge;
      lru.splice(lru.begin(), lru, it);
    } else {
      lru.push_front(Node{std::string(key), std::move(value), expires_at, charge});
      index.emplace(std::string_view(lru.front().key), lru.begin());
      bytes += charge;
    }
    evict_to_fit(now);
  }
};

MemoryTier::MemoryTier(const L1Options& options, std::shared_ptr<const Clock> clock)
    : clock_(clock ? std::move(clock) : std::make_shared<SteadyClock>()), options_(options) {
  // Enough shards to spread lock contention, few enough that each shard's share of
  // the bounds stays meaningful (>= 64 entries).
  size_t n = 1;
  while (n < 16 && options.max_entries / (n * 2) >= 64) n *= 2;
  shards_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    auto s = std::make_unique<Shard>();
    s->max_entries = options.max_entries / n + (i < options.max_entries % n ? 1 : 0);
    s->max_bytes = options.max_bytes / n;
    shards_.push_back(std::move(s));
  }
}

MemoryTier::~MemoryTier() = default;

size_t MemoryTier::entry_overhead() { return kEntryOverhead; }

MemoryTier::Shard& MemoryTier::shard_for(std::string_view key) const {
  size_t h = std::hash<std::string_view>{}(key);
  // High bits pick the shard; the map uses the low bits of the same hash.
  return *shards_[(h >> 48) % shards_.size()];
}

PayloadPtr MemoryTier::get(std::string_view key) {
  Shard& s = shard_for(key);
  int64_t now = clock_->now_ms();
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.find_live(key, now);
  if (it == s.lru.end()) {
    ++s.misses;
    return nullptr;
  }
  ++s.hits;
  s.lru.splice(s.lru.begin(), s.lru, it);
  return it->value;
}

bool MemoryTier::contains(std::string_view key) {
  Shard& s = shard_for(key);
  int64_t now = clock_->now_ms();
  std::lock_guard<std::mutex> lock(s.mu);
  return s.find_live(key, now) != s.lru.end();
}

bool MemoryTier::set(std::string_view key, PayloadPtr value, int64_t ttl_ms) {
  Shard& s = shard_for(key);
  int64_t now = clock_->now_ms();
  std::lock_guard<std::mutex> lock(s.mu);
  if (!s.fits(charge_of(key, value))) {
    s.bump();
    auto found = s.index.find(key);
    if (found != s.index.end()) s.remove(found->second);  // never leave a stale value behind
    return false;
  }
  s.insert(key, std::move(value), ttl_ms > 0 ? now + ttl_ms : 0, now);
  return true;
}

uint64_t MemoryTier::write_epoch(std::string_view key) const {
  return shard_for(key).epoch.load(std::memory_order_acquire);
}

bool MemoryTier::set_if_epoch(std::string_view key, PayloadPtr value, int64_t ttl_ms, uint64_t epoch) {
  Shard& s = shard_for(key);
  int64_t now = clock_->now_ms();
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.epoch.load(std::memory_order_relaxed) != epoch || !s.fits(charge_of(key, value))) return false;
  s.insert(key, std::move(value), ttl_ms > 0 ? now + ttl_ms : 0, now);
  return true;
}

bool MemoryTier::admissible(std::string_view key, size_t value_bytes) const {
  return shard_for(key).fits(key.size() + value_bytes + kEntryOverhead);
}

bool MemoryTier::erase(std::string_view key) {
  Shard& s = shard_for(key);
  std::lock_guard<std::mutex> lock(s.mu);
  s.bump();
  auto found = s.index.find(key);
  if (found == s.index.end()) return false;
  bool live = !s.expired(*found->second, clock_->now_ms());
  s.remove(found->second);
  return live;
}

size_t MemoryTier::erase_matching(std::string_view glob) {
  size_t removed = 0;
  int64_t now = clock_->now_ms();
  for (auto& sp : shards_) {
    Shard& s = *sp;
    std::lock_guard<std::mutex> lock(s.mu);
    s.bump();
    for (auto it = s.lru.begin(); it != s.lru.end();) {
      auto next = std::next(it);
      if (glob_match(glob, it->key)) {
        if (!s.expired(*it, now)) ++removed;
        s.remove(it);
      }
      it = next;
    }
  }
  return removed;
}

std::optional<int64_t> MemoryTier::ttl_ms(std::string_view key) {
  Shard& s = shard_for(key);
  int64_t now = clock_->now_ms();
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.find_live(key, now);
  if (it == s.lru.end()) return std::nullopt;
  return it->expires_at_ms == 0 ? -1 : it->expires_at_ms - now;
}

Result<int64_t> MemoryTier::increment(std::string_view key, int64_t amount, int64_t ttl_if_new_ms) {
  Shard& s = shard_for(key);
  int64_t now = clock_->now_ms();
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.find_live(key, now);
  int64_t current = 0;
  int64_t expires_at = ttl_if_new_ms > 0 ? now + ttl_if_new_ms : 0;
  if (it != s.lru.end()) {
    auto v = payload_integer(*it->value);
    if (!v) return Status(StatusCode::kWrongType, "value at key is not an integer");
    current = *v;
    expires_at = it->expires_at_ms;  // incrementing never extends a TTL
  }
  int64_t result;
  if (__builtin_add_overflow(current, amount, &result)) {
    return invalid_argument("increment would overflow int64");
  }
  auto payload = std::make_shared<const Payload>(integer_payload(result));
  if (!s.fits(charge_of(key, payload))) return too_large("the counter does not fit in L1 (l1_max_entries / l1_max_bytes)");
  s.insert(key, std::move(payload), expires_at, now);
  return result;
}

void MemoryTier::clear() {
  for (auto& sp : shards_) {
    std::lock_guard<std::mutex> lock(sp->mu);
    sp->bump();
    sp->index.clear();
    sp->lru.clear();
    sp->bytes = 0;
  }
}

L1Stats MemoryTier::stats() const {
  L1Stats st;
  st.max_entries = options_.max_entries;
  st.max_bytes = options_.max_bytes;
  for (auto& sp : shards_) {
    std::lock_guard<std::mutex> lock(sp->mu);
    st.hits += sp->hits;
    st.misses += sp->misses;
    st.evictions += sp->evictions;
    st.expirations += sp->expirations;
    st.entries += sp->lru.size();
    st.bytes += sp->bytes;
  }
  return st;
}

}  // namespace stratacache
