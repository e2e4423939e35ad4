// The one table of counters (counters.cpp). Each row is one cell of CacheStats: it
// drives stratacache_stat, stratacache_stat_info, stratacache_stats_json, the
// Prometheus exposition (exposition.cpp) and (checked by the C test) the README's
// lists of counters and of metric families.
#pragma once

#include <cstddef>
#include <cstdint>

#include <nlohmann/json.hpp>

#include "stratacache/stats.hpp"

namespace stratacache_capi {
using namespace stratacache;

enum class MetricType : uint8_t { kCounter, kGauge };

// A Prometheus metric family: name, type and HELP text.
struct Family {
  const char* name;
  MetricType type;
  const char* help;
};

struct Counter {
  const char* name;  // "l1.hits": group.field, or a plain name
  uint64_t (*read)(const CacheStats&);
  const char* description;
  // Its Prometheus sample: the family and the labels ("tier=\"l1\",op=\"get\""); a
  // NULL family: not exposed (its value is the sum of samples that are).
  const Family* family;
  const char* labels;
};

// Append only: a binding may have kept an index from stratacache_stat_info, so a new
// counter goes last (stats_json nests by name, so its l1 counters still land under "l1").
extern const Counter kCounters[];
extern const size_t kCounterCount;
// Every family a counter row belongs to, in exposition order.
extern const Family* const kFamilies[];
extern const size_t kFamilyCount;

// {"l1": {...}, "l2": {...}, "decode_errors": n}: a dotted name nests under its group.
nlohmann::json stats_to_json(const CacheStats& s);

}  // namespace stratacache_capi
