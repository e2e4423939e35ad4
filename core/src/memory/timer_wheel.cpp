#include "memory/timer_wheel.hpp"

namespace stratacache::l1 {

TimerWheel::TimerWheel(int64_t now) : time_(now) {
  size_t total = 0;
  for (int level = 0; level < kLevels; ++level) {
    offset_[level] = total;
    total += kBuckets[level];
  }
  rings_.reset(new Timed[total]);
  for (size_t i = 0; i < total; ++i) {
    Timed& r = rings_[i];
    r.expires_at.store(0, std::memory_order_relaxed);
    r.wprev = r.wnext = &r;
  }
}

void TimerWheel::link(Timed* head, Timed* t) {
  t->wprev = head->wprev;
  t->wnext = head;
  head->wprev->wnext = t;
  head->wprev = t;
}

void TimerWheel::unlink(Timed* t) {
  t->wprev->wnext = t->wnext;
  t->wnext->wprev = t->wprev;
  t->wprev = t->wnext = nullptr;
}

void TimerWheel::schedule(Entry* e, int64_t now) {
  Timed* t = e->timing();
  if (t->wnext) {
    unlink(t);
    --size_;
  }
  int64_t at = t->expires_at.load(std::memory_order_relaxed);
  if (now < time_) now = time_;
  int64_t delta = at - now;
  int level = 0;
  while (level < kLevels - 1 && delta >= (int64_t(1) << kShift[level + 1])) ++level;
  // A deadline already passed goes to the bucket visited next.
  int64_t ticks = (at < time_ ? time_ : at) >> kShift[level];
  link(bucket(level, ticks), t);
  ++size_;
}

void TimerWheel::deschedule(Entry* e) {
  Timed* t = e->timing();
  if (!t->wnext) return;
  unlink(t);
  --size_;
}

}  // namespace stratacache::l1
