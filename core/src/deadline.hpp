// A point in time an operation must finish by (steady clock).
#pragma once

#include <chrono>

namespace stratacache {

class Deadline {
 public:
  using Clock = std::chrono::steady_clock;
  explicit Deadline(Clock::time_point at) : at_(at) {}
  static Deadline after(std::chrono::milliseconds d) { return Deadline(Clock::now() + d); }
  Clock::time_point at() const { return at_; }
  bool expired() const { return Clock::now() >= at_; }
  // Remaining time in whole milliseconds, rounded up, never negative.
  int remaining_ms() const {
    auto left = std::chrono::duration_cast<std::chrono::microseconds>(at_ - Clock::now()).count();
    return left <= 0 ? 0 : static_cast<int>((left + 999) / 1000);
  }

 private:
  Clock::time_point at_;
};

}  // namespace stratacache
