// Internal: write-behind counters. Each WriteBehind counts in its own and in its
// cache's (CacheStats::write_behind sums the write-behinds of a cache), through one
// helper so the two never disagree.
#pragma once

#include <atomic>
#include <cstdint>

#include "stratacache/stats.hpp"

namespace stratacache {

struct WriteBehindCounters {
  std::atomic<uint64_t> pending{0}, written{0}, failed{0}, retries{0}, coalesced{0}, rejected{0}, abandoned{0};

  WriteBehindStats snapshot() const {
    auto r = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
    return {r(pending), r(written), r(failed), r(retries), r(coalesced), r(rejected), r(abandoned)};
  }
};

// The member of WriteBehindCounters that an event changes.
using WriteBehindCounter = std::atomic<uint64_t> WriteBehindCounters::*;

}  // namespace stratacache
