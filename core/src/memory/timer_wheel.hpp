// Hierarchical timer wheel (Varghese & Lauck) for reclaiming expired L1 entries without
// scanning: scheduling, rescheduling and removal are O(1); advancing the clock visits
// only the buckets whose time has come. Expiry is exact on reads (entries compare their
// own expires_at); the wheel only decides when memory is reclaimed, at most one bucket
// span (~1 s at the finest level) after the deadline.
//
// Levels (ms): 64 x 1.024 s, 64 x 65.5 s, 32 x 69.9 min, 4 x 18.6 h, then one overflow
// bucket that is re-sorted as time passes. Not thread-safe: the policy lock guards it.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "memory/entry.hpp"

namespace stratacache::l1 {

class TimerWheel {
 public:
  explicit TimerWheel(int64_t now = 0);
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;

  void schedule(Entry* e, int64_t now);    // by e's current expires_at (must be timed)
  void deschedule(Entry* e);               // no-op when not scheduled
  bool scheduled(const Entry* e) const { return e->timing()->wnext != nullptr; }
  size_t size() const { return size_; }

  // Moves time to `now`: calls on_expired(entry) for every scheduled entry whose
  // expires_at <= now (it is descheduled first); entries whose deadline moved later
  // (sliding expiry) are rescheduled.
  template <class F>
  void advance(int64_t now, F&& on_expired);

 private:
  static constexpr int kLevels = 5;
  static constexpr std::array<int, kLevels> kShift{10, 16, 22, 26, 28};
  static constexpr std::array<int, kLevels> kBuckets{64, 64, 32, 4, 1};

  using Timed = Entry::Timed;
  Timed* bucket(int level, int64_t ticks) { return &rings_[offset_[level] + (ticks & (kBuckets[level] - 1))]; }
  static void link(Timed* head, Timed* t);
  static void unlink(Timed* t);

  std::unique_ptr<Timed[]> rings_;  // sentinels; a bucket is a ring through its sentinel
  std::array<size_t, kLevels> offset_{};
  int64_t time_;
  size_t size_ = 0;
};

template <class F>
void TimerWheel::advance(int64_t now, F&& on_expired) {
  if (now <= time_) return;
  int64_t previous = time_;
  time_ = now;
  std::vector<Timed*> due;
  for (int level = 0; level < kLevels; ++level) {
    int64_t prev_ticks = previous >> kShift[level];
    int64_t cur_ticks = now >> kShift[level];
    if (cur_ticks == prev_ticks) break;
    // Level 0: the buckets whose time has fully passed. Coarser levels: the buckets
    // that just became current, cascading their entries down to finer levels.
    int64_t first = level == 0 ? prev_ticks : prev_ticks + 1;
    int64_t n = std::min<int64_t>(cur_ticks - prev_ticks, kBuckets[level]);
    for (int64_t i = 0; i < n; ++i) {
      Timed* head = bucket(level, first + i);
      for (Timed* t = head->wnext; t != head;) {
        Timed* next = t->wnext;
        unlink(t);
        --size_;
        due.push_back(t);
        t = next;
      }
    }
  }
  for (Timed* t : due) {
    Entry* e = t->entry();
    if (t->expires_at.load(std::memory_order_relaxed) <= now) on_expired(e);
    else schedule(e, now);
  }
}

}  // namespace stratacache::l1
