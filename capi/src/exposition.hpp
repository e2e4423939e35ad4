// Metrics as text (docs/metrics.md): the Prometheus text exposition format (0.0.4) and
// JSON, both from one CacheMetrics snapshot and the counter table (counters.hpp).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "stratacache/metrics.hpp"

namespace stratacache_capi {

// The family of the latency histograms.
inline constexpr const char* kDurationFamily = "stratacache_operation_duration_seconds";

std::string prometheus_text(const stratacache::CacheMetrics& m);
nlohmann::json metrics_to_json(const stratacache::CacheMetrics& m);

}  // namespace stratacache_capi
