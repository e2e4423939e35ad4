// A circuit breaker in front of one Redis deployment, shared by every thread of a tier.
//
// Closed: every operation runs. `threshold` consecutive failures (the caller decides
// what counts: connection errors and timeouts, never misses or error replies) open it.
// Open: admit() refuses at once, without touching the network or a lock on the fast
// path, until the cooldown has passed. Then the breaker is half-open: exactly one
// caller gets a probe ticket, the others are still refused. The probe's success closes
// the breaker; its failure re-opens it with the cooldown doubled (up to cooldown_max,
// jittered over its last quarter so that many clients do not probe in step).
// reset() closes it at once: the tier calls it when the deployment changed under it
// (Sentinel named a new master), so a healthy new master is never kept waiting.
//
// threshold 0: admit() always says yes and nothing is recorded.
//
// Each transition is logged once (docs/operations.md): breaker.open (WARNING, also a
// re-open after a failed probe), breaker.half_open (INFO, the probe ticket given) and
// breaker.closed (INFO, the probe succeeded or reset() closed an open breaker), the
// message starting with `label` (the server). Logged after mu_ is released.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <random>
#include <string>

#include "stratacache/status.hpp"

namespace stratacache::redis {

class CircuitBreaker {
 public:
  using Clock = std::chrono::steady_clock;

  CircuitBreaker(uint32_t threshold, std::chrono::milliseconds cooldown, std::chrono::milliseconds cooldown_max,
                 std::string label = {});

  enum class Ticket : uint8_t { kRefused, kNormal, kProbe };
  // kRefused: fill *refusal (kUnavailable, or kPermissionDenied when an AUTH refusal
  // opened the breaker) with why and since when.
  Ticket admit(Status* refusal);

  enum class Outcome : uint8_t {
    kSuccess,  // the server answered (a miss and an error reply included)
    kFailure,  // connection error, timeout, refused connect / AUTH
    kNeutral,  // says nothing about the server (the caller's own pool wait timed out)
  };
  // Every admitted ticket must be settled exactly once.
  void settle(Ticket ticket, Outcome outcome, const Status& failure);

  // Closes the breaker (and forgets the failures so far).
  void reset();

  bool enabled() const { return threshold_ > 0; }
  bool is_open() const { return open_.load(std::memory_order_acquire); }
  uint64_t opens() const { return opens_.load(std::memory_order_relaxed); }
  uint64_t half_opens() const { return half_opens_.load(std::memory_order_relaxed); }
  uint64_t closes() const { return closes_.load(std::memory_order_relaxed); }
  uint64_t rejections() const { return rejections_.load(std::memory_order_relaxed); }

 private:
  // Returns the breaker.open message.
  std::string open_locked(const Status& why);
  Status refusal_locked(Clock::time_point now) const;

  const uint32_t threshold_;
  const std::string label_;
  const std::chrono::milliseconds cooldown_, cooldown_max_;

  std::atomic<bool> open_{false};             // fast path of admit()
  std::atomic<uint32_t> consecutive_{0};      // failures since the last success (closed)
  std::atomic<uint64_t> opens_{0}, half_opens_{0}, closes_{0}, rejections_{0};

  std::mutex mu_;
  bool probing_ = false;
  unsigned reopen_count_ = 0;                 // failed probes since the breaker first opened
  Clock::time_point opened_at_{}, retry_at_{};
  std::chrono::system_clock::time_point opened_wall_{};
  Status why_;
  std::minstd_rand rng_;
};

}  // namespace stratacache::redis
