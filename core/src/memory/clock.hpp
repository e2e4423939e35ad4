// Time source for L1 expiry; tests inject a manual clock.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

namespace stratacache {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t now_ms() const = 0;  // monotonic milliseconds
};

class SteadyClock final : public Clock {
 public:
  int64_t now_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch()).count();
  }
};

// For unit tests only: time moves when the test says so.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_ms = 1'000'000) : now_(start_ms) {}
  int64_t now_ms() const override { return now_.load(std::memory_order_relaxed); }
  void advance_ms(int64_t d) { now_.fetch_add(d, std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace stratacache
