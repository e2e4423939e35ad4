// Helpers for failover tests: a writer loop that records how every call ended, and a
// wait for the sentinels to name a new master.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "remote_tier.hpp"
#include "support/redis_server.hpp"

namespace stratacache::testing {

// Writes "w:<i>" = i in a loop (every 5 ms, each call with a kDeadlineMs deadline) on
// its own thread until stopped, recording the slowest call, the successes and failures
// and when they happened. Read the fields under `mu` (or after stop_and_join()).
struct WriterLoop {
  using Clock = std::chrono::steady_clock;
  static constexpr int kDeadlineMs = 500;

  explicit WriterLoop(RemoteTier& tier);
  ~WriterLoop() { stop_and_join(); }
  WriterLoop(const WriterLoop&) = delete;
  WriterLoop& operator=(const WriterLoop&) = delete;
  void stop_and_join();

  RemoteTier& tier;
  std::atomic<bool> stop{false};
  std::mutex mu;
  double worst_ms = 0;
  int ok = 0, failed = 0, last_key = -1;
  std::string first_error;
  Clock::time_point last_ok{}, last_failure{};

 private:
  void run();
  std::thread thread_;
};

// Polls until the sentinels name a master other than `old_port`; the time that took in
// ms, or -1 after `limit_ms`.
double ms_until_master_moves(SentinelSet& set, uint16_t old_port, int limit_ms);

}  // namespace stratacache::testing
