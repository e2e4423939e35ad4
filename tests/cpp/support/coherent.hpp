// Waiting for a cache's coherent L1 (docs/coherence.md): values read from Redis are kept
// in L1 only while its invalidation channels are up. Synchronous calls wait for the
// first attempt by themselves; asynchronous ones, a Cluster's first calls and calls
// after a reconnect do not, so tests that expect their values in L1 wait for it.
#pragma once

#include <chrono>
#include <thread>

#include "stratacache/cache.hpp"

namespace stratacache::testing {

// Polls `pred` every 2 ms until it holds or `timeout` passes: asynchronous effects (an
// invalidation, a lost channel) are waited for, never slept for.
template <typename Pred>
bool wait_until(Pred pred, std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
  auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

// True when every channel is up (or coherence is off) within `limit`.
inline bool wait_coherent(Cache& c, std::chrono::milliseconds limit = std::chrono::milliseconds(5000)) {
  return wait_until([&] { return c.health().coherence_up; }, limit);
}

}  // namespace stratacache::testing
