// Operation metrics (docs/metrics.md): latency histograms per tier and operation, on
// top of the counters of stats.hpp (which stay the only cells for those events).
//
// Histograms are log-linear with fixed boundaries: bucket 0 holds everything under
// 32 ns, then each power of two of nanoseconds from 2^5 to 2^36 (about 68.7 s) is split
// into 4 equal sub-buckets, and the last bucket holds everything above. Fixed
// boundaries make histograms of threads, caches and processes merge by adding counts.
// Relative error of a percentile read from them: at most 1/8 (half a sub-bucket).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "stratacache/stats.hpp"

namespace stratacache {

class LatencyHistogram {
 public:
  static constexpr int kSubBuckets = 4;   // per power of two
  static constexpr int kMinExponent = 5;  // 32 ns: the upper bound of bucket 0
  static constexpr int kMaxExponent = 36; // 2^36 ns ~ 68.7 s: the lower bound of the last bucket
  static constexpr size_t kBuckets = 1 + (kMaxExponent - kMinExponent) * kSubBuckets + 1;

  // The bucket holding a duration of `ns` nanoseconds.
  static size_t bucket_of(uint64_t ns) noexcept;
  // Upper bound of bucket i in nanoseconds (exclusive; the last bucket: UINT64_MAX).
  static uint64_t upper_bound_ns(size_t i) noexcept;

  void add(uint64_t ns, uint64_t weight = 1) noexcept;
  void merge(const LatencyHistogram& other) noexcept;

  uint64_t count() const noexcept { return count_; }
  uint64_t sum_ns() const noexcept { return sum_ns_; }
  uint64_t bucket(size_t i) const noexcept { return counts_[i]; }
  // The q-quantile (0 < q <= 1) in seconds, interpolated inside its bucket; 0 when empty.
  double quantile_seconds(double q) const noexcept;
  double mean_seconds() const noexcept { return count_ == 0 ? 0 : static_cast<double>(sum_ns_) / count_ / 1e9; }

  // For recorders that keep their own cells (merging them into one histogram).
  void add_bucket(size_t i, uint64_t n) noexcept { counts_[i] += n, count_ += n; }
  void add_sum_ns(uint64_t ns) noexcept { sum_ns_ += ns; }

 private:
  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  uint64_t sum_ns_ = 0;
};

// The tiers and operations that are timed. L2: every operation the cache sends to
// Redis, by the tier method (a read-through lease, a tag script, a lock: "script",
// "lease_try", ...). L1: reads ("get"), sampled (see CacheMetrics::l1_sample_every).
enum class MetricTier : uint8_t { kL1, kL2 };
enum class MetricOp : uint8_t {
  kGet, kMget, kSet, kMset, kDelete, kExists, kTtl, kIncrement, kDeleteMatching,
  kDeleteIfValue, kLeaseTry, kLeaseFill, kScript, kHealth,
};
inline constexpr size_t kMetricOps = static_cast<size_t>(MetricOp::kHealth) + 1;
const char* metric_tier_name(MetricTier tier) noexcept;  // "l1", "l2"
const char* metric_op_name(MetricOp op) noexcept;        // "get", "mget", ..., "delete_matching", ...

struct OperationLatency {
  MetricTier tier;
  MetricOp op;
  LatencyHistogram latency;
};

struct CacheMetrics {
  CacheStats counters;  // the same cells as Cache::stats()
  // Every (tier, operation) timed at least once, L1 first, in MetricOp order.
  std::vector<OperationLatency> operations;
  // One L1 read in this many (per thread) is timed; each timed read is recorded with
  // this weight, so a histogram's count and sum estimate all reads. 0: metrics compiled
  // out (CMake STRATACACHE_METRICS=OFF): no histograms at all.
  uint32_t l1_sample_every = 0;
};

}  // namespace stratacache
