#include "hitratio/belady.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <unordered_map>

namespace stratacache::bench {
namespace {

constexpr uint32_t kNever = std::numeric_limits<uint32_t>::max();

// A heap entry: next use in the high half, key id in the low half, so comparing the
// packed values orders by next use.
uint64_t pack(uint32_t next_use, uint32_t id) { return (uint64_t{next_use} << 32) | id; }
uint32_t next_use_of(uint64_t e) { return static_cast<uint32_t>(e >> 32); }
uint32_t id_of(uint64_t e) { return static_cast<uint32_t>(e); }

}  // namespace

BeladyTrace::BeladyTrace(const std::vector<uint64_t>& keys) {
  if (keys.size() >= kNever) throw std::length_error("trace too long for 32-bit request indexes");
  ids_.resize(keys.size());
  std::unordered_map<uint64_t, uint32_t> dense;
  dense.reserve(keys.size() / 4);
  for (size_t i = 0; i < keys.size(); ++i) {
    ids_[i] = dense.emplace(keys[i], static_cast<uint32_t>(dense.size())).first->second;
  }
  unique_ = dense.size();
  next_.resize(keys.size());
  std::vector<uint32_t> seen(unique_, kNever);
  for (size_t i = keys.size(); i-- > 0;) {
    next_[i] = seen[ids_[i]];
    seen[ids_[i]] = static_cast<uint32_t>(i);
  }
}

uint64_t BeladyTrace::hits(size_t capacity) const {
  if (capacity == 0) return 0;
  // resident_next[id]: the next use the resident key is filed under; kNever = not resident.
  std::vector<uint32_t> resident_next(unique_, kNever);
  // Max-heap by next use with lazy deletion: an entry is live only while it matches
  // resident_next. Stale entries are filtered out when they pile up.
  std::vector<uint64_t> heap;
  size_t resident = 0;
  uint64_t hits = 0;
  auto push = [&](uint32_t next_use, uint32_t id) {
    heap.push_back(pack(next_use, id));
    std::push_heap(heap.begin(), heap.end());
  };
  auto compact = [&] {
    heap.erase(std::remove_if(heap.begin(), heap.end(),
                              [&](uint64_t e) { return resident_next[id_of(e)] != next_use_of(e); }),
               heap.end());
    std::make_heap(heap.begin(), heap.end());
  };
  auto drop_stale_top = [&] {
    while (resident_next[id_of(heap.front())] != next_use_of(heap.front())) {
      std::pop_heap(heap.begin(), heap.end());
      heap.pop_back();
    }
  };

  for (size_t i = 0; i < ids_.size(); ++i) {
    uint32_t id = ids_[i], next = next_[i];
    if (resident_next[id] != kNever) {
      ++hits;
      if (next == kNever) {  // never used again: free the slot now
        resident_next[id] = kNever;
        --resident;
      } else {
        resident_next[id] = next;
        push(next, id);
      }
    } else if (next != kNever) {
      if (resident == capacity) {
        drop_stale_top();
        if (next_use_of(heap.front()) <= next) continue;  // bypass: the newcomer is the farthest
        resident_next[id_of(heap.front())] = kNever;
        std::pop_heap(heap.begin(), heap.end());
        heap.pop_back();
        --resident;
      }
      resident_next[id] = next;
      ++resident;
      push(next, id);
    }
    if (heap.size() > 4 * capacity + 1024) compact();
  }
  return hits;
}

}  // namespace stratacache::bench
