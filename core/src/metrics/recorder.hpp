// The cells behind Cache::metrics(): latency histograms per (tier, operation) and the
// L2 byte counters, striped by thread (thread_probe.hpp) so that threads recording at
// the same time rarely write the same cache line. Recording is relaxed atomic adds;
// a snapshot sums the stripes (a snapshot taken while others record may be a few
// operations behind, never torn per cell).
//
// The one timing point of an operation is OpTimer (L1 reads, in the facade) or the
// timed L2 tier (timed_remote_tier.cpp, every Redis operation): it records the
// duration, and the same measurement feeds the log hook (stratacache/log.hpp): "op" at
// debug level for every timed operation, "op.slow" at warning level for one that took
// longer than Options::slow_op_threshold.
//
// CMake STRATACACHE_METRICS=OFF compiles recording out: OpTimer does nothing and the
// L2 tier is not wrapped (the bench compares both builds).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>

#include "stratacache/log.hpp"
#include "stratacache/metrics.hpp"
#include "stratacache/options.hpp"

#ifndef STRATACACHE_METRICS
#define STRATACACHE_METRICS 1
#endif

namespace stratacache {

class MetricsRecorder {
 public:
  // One L1 read in this many per thread is timed (a power of two).
  static constexpr uint32_t kL1SampleEvery = 64;
  static constexpr bool kEnabled = STRATACACHE_METRICS != 0;

  explicit MetricsRecorder(Millis slow_threshold);
  MetricsRecorder(const MetricsRecorder&) = delete;
  MetricsRecorder& operator=(const MetricsRecorder&) = delete;

  static uint64_t now_ns() noexcept {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch())
                                     .count());
  }

  // Records an operation that took `ns` with `weight` (the sampling factor) and logs it
  // (op, slow op) when a handler wants it.
  void finished(MetricTier tier, MetricOp op, std::string_view key, uint64_t ns, uint64_t weight) noexcept;
  void add_bytes_read(uint64_t n) noexcept;
  void add_bytes_written(uint64_t n) noexcept;

  uint64_t bytes_read() const noexcept;
  uint64_t bytes_written() const noexcept;
  // Appends every histogram that has recorded something.
  void snapshot(std::vector<OperationLatency>* out) const;

 private:
  // Histogram slots: L1 get, then the L2 operations in MetricOp order.
  static constexpr size_t kSlots = 1 + kMetricOps;
  static constexpr size_t kStripes = 4;
  struct alignas(64) Stripe {
    std::atomic<uint64_t> counts[kSlots][LatencyHistogram::kBuckets];
    std::atomic<uint64_t> sum_ns[kSlots];
    std::atomic<uint64_t> bytes_read;
    std::atomic<uint64_t> bytes_written;
  };
  Stripe& stripe() const noexcept;
  void log(MetricTier tier, MetricOp op, std::string_view key, uint64_t ns) const;

  const uint64_t slow_ns_;  // 0: no slow-op events
  std::unique_ptr<Stripe[]> stripes_;
};

// Times the L1 part of one read: one read in kL1SampleEvery per thread, or every read
// while debug logging is on (the "op" event needs its duration; only the sampled ones
// enter the histogram). Compiled out with STRATACACHE_METRICS=OFF.
class OpTimer {
 public:
  OpTimer() noexcept {
    if constexpr (MetricsRecorder::kEnabled) {
      thread_local uint32_t countdown = 0;
      sampled_ = (++countdown & (MetricsRecorder::kL1SampleEvery - 1)) == 0;
      if (sampled_ || log_enabled(LogLevel::kDebug)) start_ = MetricsRecorder::now_ns();
    }
  }
  void done(MetricsRecorder& recorder, MetricOp op, std::string_view key) noexcept {
    if constexpr (MetricsRecorder::kEnabled) {
      if (start_ == 0) return;
      recorder.finished(MetricTier::kL1, op, key, MetricsRecorder::now_ns() - start_,
                        sampled_ ? MetricsRecorder::kL1SampleEvery : 0);
    }
  }

 private:
  uint64_t start_ = 0;
  bool sampled_ = false;
};

class RemoteTier;
// Wraps an L2 tier so that every operation is timed (and its value bytes counted) at
// the one completion path; the recorder must outlive the tier.
std::unique_ptr<RemoteTier> make_timed_remote_tier(std::unique_ptr<RemoteTier> inner, MetricsRecorder& recorder);

}  // namespace stratacache
