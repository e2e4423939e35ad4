#include "metrics/recorder.hpp"

#include <cstdio>
#include <string>

#include "thread_probe.hpp"

namespace stratacache {

namespace {

size_t slot_of(MetricTier tier, MetricOp op) {
  return tier == MetricTier::kL1 ? 0 : 1 + static_cast<size_t>(op);
}

// A key as log text: printable ASCII as is, other bytes as \xNN, at most 64 bytes of it.
std::string printable_key(std::string_view key) {
  constexpr size_t kMax = 64;
  std::string out;
  out.reserve(std::min(key.size(), kMax) + 8);
  for (size_t i = 0; i < key.size() && i < kMax; ++i) {
    unsigned char c = static_cast<unsigned char>(key[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out.append(buf);
    }
  }
  if (key.size() > kMax) out.append("...");
  return out;
}

}  // namespace

MetricsRecorder::MetricsRecorder(Millis slow_threshold)
    : slow_ns_(slow_threshold.count() > 0 ? static_cast<uint64_t>(slow_threshold.count()) * 1000000 : 0),
      stripes_(kEnabled ? std::make_unique<Stripe[]>(kStripes) : nullptr) {}

MetricsRecorder::Stripe& MetricsRecorder::stripe() const noexcept { return stripes_[thread_probe() % kStripes]; }

void MetricsRecorder::finished(MetricTier tier, MetricOp op, std::string_view key, uint64_t ns,
                               uint64_t weight) noexcept {
  if (!stripes_) return;
  if (weight > 0) {
    Stripe& s = stripe();
    size_t slot = slot_of(tier, op);
    s.counts[slot][LatencyHistogram::bucket_of(ns)].fetch_add(weight, std::memory_order_relaxed);
    s.sum_ns[slot].fetch_add(ns * weight, std::memory_order_relaxed);
  }
  const bool slow = slow_ns_ != 0 && ns >= slow_ns_;
  if (log_enabled(slow ? LogLevel::kWarning : LogLevel::kDebug)) {
    try {
      log(tier, op, key, ns);
    } catch (...) {  // a log line that cannot be built is dropped, never the operation
    }
  }
}

void MetricsRecorder::log(MetricTier tier, MetricOp op, std::string_view key, uint64_t ns) const {
  char duration[32];
  std::snprintf(duration, sizeof duration, "%.6f", static_cast<double>(ns) / 1e9);
  std::string text = std::string(metric_tier_name(tier)) + " " + metric_op_name(op) + " key=\"" +
                     printable_key(key) + "\" seconds=" + duration;
  if (slow_ns_ != 0 && ns >= slow_ns_) {
    char threshold[32];
    std::snprintf(threshold, sizeof threshold, "%.3f", static_cast<double>(slow_ns_) / 1e9);
    log_event(LogLevel::kWarning, "op.slow", text + " slow_op_threshold=" + threshold);
  }
  if (log_enabled(LogLevel::kDebug)) log_event(LogLevel::kDebug, "op", text);
}

void MetricsRecorder::add_bytes_read(uint64_t n) noexcept {
  if (stripes_) stripe().bytes_read.fetch_add(n, std::memory_order_relaxed);
}

void MetricsRecorder::add_bytes_written(uint64_t n) noexcept {
  if (stripes_) stripe().bytes_written.fetch_add(n, std::memory_order_relaxed);
}

uint64_t MetricsRecorder::bytes_read() const noexcept {
  uint64_t n = 0;
  for (size_t i = 0; stripes_ && i < kStripes; ++i) n += stripes_[i].bytes_read.load(std::memory_order_relaxed);
  return n;
}

uint64_t MetricsRecorder::bytes_written() const noexcept {
  uint64_t n = 0;
  for (size_t i = 0; stripes_ && i < kStripes; ++i) n += stripes_[i].bytes_written.load(std::memory_order_relaxed);
  return n;
}

void MetricsRecorder::snapshot(std::vector<OperationLatency>* out) const {
  if (!stripes_) return;
  for (size_t slot = 0; slot < kSlots; ++slot) {
    OperationLatency o{slot == 0 ? MetricTier::kL1 : MetricTier::kL2,
                       slot == 0 ? MetricOp::kGet : static_cast<MetricOp>(slot - 1), {}};
    for (size_t i = 0; i < kStripes; ++i) {
      const Stripe& s = stripes_[i];
      for (size_t b = 0; b < LatencyHistogram::kBuckets; ++b) {
        o.latency.add_bucket(b, s.counts[slot][b].load(std::memory_order_relaxed));
      }
      o.latency.add_sum_ns(s.sum_ns[slot].load(std::memory_order_relaxed));
    }
    if (o.latency.count() > 0) out->push_back(std::move(o));
  }
}

}  // namespace stratacache
