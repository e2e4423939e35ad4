// A point in time an operation must finish by (steady clock).
#pragma once

#include <chrono>
#include <climits>

namespace stratacache {

class Deadline {
 public:
  using Clock = std::chrono::steady_clock;
  explicit Deadline(Clock::time_point at) : at_(at) {}
  static Deadline after(std::chrono::milliseconds d) { return Deadline(Clock::now() + d); }
  // The same, but a huge duration means "far away" instead of overflowing.
  static Deadline after_saturating(std::chrono::milliseconds d) {
    auto now = Clock::now();
    auto room = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::time_point::max() - now);
    return d >= room ? Deadline(Clock::time_point::max()) : Deadline(now + d);
  }
  Clock::time_point at() const { return at_; }
  bool expired() const { return Clock::now() >= at_; }
  // Remaining time in whole milliseconds, rounded up, never negative, clamped to what
  // poll() takes (so a far-away deadline such as time_point::max() does not overflow).
  int remaining_ms() const {
    auto now = Clock::now();
    if (at_ <= now) return 0;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(at_ - now).count() + 1;
    return left > INT_MAX ? INT_MAX : static_cast<int>(left);
  }

 private:
  Clock::time_point at_;
};

}  // namespace stratacache
