#include "promotion.hpp"

#include <algorithm>
#include <chrono>
#include <functional>
#include <string>

namespace stratacache {
namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

PromotionFilter::PromotionFilter(uint32_t after, size_t capacity)
    : after_(after), shard_capacity_(std::max<size_t>(1, capacity / kShards)) {}

bool PromotionFilter::admit(std::string_view key, int64_t pttl_ms) {
  if (!enabled()) return true;
  uint64_t h = std::hash<std::string_view>{}(key);
  Shard& s = shards_[(h >> 59) & (kShards - 1)];
  int64_t now = now_ms();
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.counts.find(h);
  if (it != s.counts.end() && it->second.expires_ms <= now) it->second = Count{};  // a new lifetime
  if (it == s.counts.end()) {
    while (s.counts.size() >= shard_capacity_ && !s.order.empty()) {
      s.counts.erase(s.order.front());
      s.order.pop_front();
    }
    it = s.counts.emplace(h, Count{}).first;
    s.order.push_back(h);
    // Hashes whose counts ended (promoted) stay in `order` until they reach its front;
    // keep it from growing past twice the capacity with them.
    if (s.order.size() > 2 * shard_capacity_) {
      std::deque<uint64_t> live;
      for (uint64_t x : s.order) {
        if (s.counts.count(x)) live.push_back(x);
      }
      s.order.swap(live);
    }
  }
  Count& c = it->second;
  if (c.reads == 0) c.expires_ms = pttl_ms < 0 ? INT64_MAX : now + pttl_ms;
  if (++c.reads >= after_) {
    s.counts.erase(it);
    ++s.promoted;
    return true;
  }
  ++s.deferred;
  return false;
}

uint64_t PromotionFilter::sum(uint64_t Shard::*field) const {
  uint64_t n = 0;
  for (const Shard& s : shards_) {
    std::lock_guard<std::mutex> lock(s.mu);
    n += field ? s.*field : s.counts.size();
  }
  return n;
}

}  // namespace stratacache
