// Counters and health reports.
#pragma once

#include <cstdint>
#include <string>

namespace stratacache {

struct L1Stats {
  uint64_t hits = 0, misses = 0, evictions = 0, expirations = 0;
  uint64_t rejections = 0;          // new entries the admission filter turned away (W-TinyLFU)
  uint64_t entries = 0, bytes = 0;  // current size; bytes = exact memory charged (see below)
  uint64_t payload_bytes = 0;       // key + value bytes of the current entries
  uint64_t max_entries = 0, max_bytes = 0;
  uint64_t window_max_entries = 0;  // W-TinyLFU window size chosen by the hill climber
  uint64_t sketch_bytes = 0;        // frequency sketch (not charged to entries)
  // bytes = for each entry, the allocator chunk that holds its header, key and value
  // (glibc rounding and chunk header included) plus its hash-bucket slot.
};

struct L2Stats {
  uint64_t hits = 0, misses = 0, sets = 0, deletes = 0;
  uint64_t errors = 0;          // every failed operation
  uint64_t timeouts = 0;        // operations that passed their deadline
  uint64_t connect_failures = 0;
  uint64_t connections_opened = 0;
  uint64_t connections_discarded = 0;  // closed after an error or a timeout
  uint64_t fast_failures = 0;   // rejected at once while backing off after failures
};

struct CacheStats {
  L1Stats l1;
  L2Stats l2;
  uint64_t decode_errors = 0;   // corrupt / tampered / unknown values met on read
};

struct HealthInfo {
  bool healthy = false;
  double latency_ms = 0;        // PING round trip
  std::string version;          // INFO redis_version ("" for mem://)
  std::string used_memory;      // INFO used_memory_human
  int64_t connected_clients = 0;
  int64_t uptime_seconds = 0;
  std::string error;            // why not healthy
};

}  // namespace stratacache
