// A small per-thread number (0, 1, 2, ... in the order threads first ask) for picking a
// stripe of striped counters: threads spread over the stripes and each keeps its own.
#pragma once

#include <atomic>
#include <cstdint>

namespace stratacache {

inline uint32_t thread_probe() {
  static std::atomic<uint32_t> next{0};
  thread_local uint32_t id = next.fetch_add(1, std::memory_order_relaxed);
  return id;
}

}  // namespace stratacache
