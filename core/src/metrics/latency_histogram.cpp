#include <algorithm>
#include <limits>

#include "stratacache/metrics.hpp"

namespace stratacache {

size_t LatencyHistogram::bucket_of(uint64_t ns) noexcept {
  if (ns < (uint64_t{1} << kMinExponent)) return 0;
  if (ns >= (uint64_t{1} << kMaxExponent)) return kBuckets - 1;
  int exponent = 63 - __builtin_clzll(ns);
  size_t sub = static_cast<size_t>(ns >> (exponent - 2)) & (kSubBuckets - 1);
  return 1 + static_cast<size_t>(exponent - kMinExponent) * kSubBuckets + sub;
}

uint64_t LatencyHistogram::upper_bound_ns(size_t i) noexcept {
  if (i == 0) return uint64_t{1} << kMinExponent;
  if (i >= kBuckets - 1) return std::numeric_limits<uint64_t>::max();
  int exponent = kMinExponent + static_cast<int>((i - 1) / kSubBuckets);
  uint64_t sub = (i - 1) % kSubBuckets;
  return (uint64_t{1} << exponent) + (sub + 1) * (uint64_t{1} << (exponent - 2));
}

void LatencyHistogram::add(uint64_t ns, uint64_t weight) noexcept {
  counts_[bucket_of(ns)] += weight;
  count_ += weight;
  sum_ns_ += ns * weight;
}

void LatencyHistogram::merge(const LatencyHistogram& other) noexcept {
  for (size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ns_ += other.sum_ns_;
}

double LatencyHistogram::quantile_seconds(double q) const noexcept {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  // The rank of the wanted sample (1-based), then linear interpolation in its bucket.
  double rank = std::max(1.0, q * static_cast<double>(count_));
  uint64_t below = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    if (counts_[i] == 0) continue;
    if (static_cast<double>(below + counts_[i]) >= rank) {
      double lower = i == 0 ? 0 : static_cast<double>(upper_bound_ns(i - 1));
      // The overflow bucket has no upper bound: report its lower bound.
      if (i == kBuckets - 1) return lower / 1e9;
      double upper = static_cast<double>(upper_bound_ns(i));
      double within = (rank - static_cast<double>(below)) / static_cast<double>(counts_[i]);
      return (lower + (upper - lower) * within) / 1e9;
    }
    below += counts_[i];
  }
  return static_cast<double>(upper_bound_ns(kBuckets - 2)) / 1e9;
}

namespace {
constexpr const char* kOpNames[kMetricOps] = {
    "get", "mget", "set", "mset", "delete", "exists", "ttl", "increment", "delete_matching",
    "delete_if_value", "lease_try", "lease_fill", "script", "health",
};
}  // namespace

const char* metric_tier_name(MetricTier tier) noexcept { return tier == MetricTier::kL1 ? "l1" : "l2"; }

const char* metric_op_name(MetricOp op) noexcept {
  size_t i = static_cast<size_t>(op);
  return i < kMetricOps ? kOpNames[i] : "unknown";
}

}  // namespace stratacache
