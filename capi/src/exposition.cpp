#include "exposition.hpp"

#include <cstdio>
#include <string_view>

#include "counters.hpp"

namespace stratacache_capi {

using namespace stratacache;

namespace {

// Prometheus `le` bounds: every second power of two of nanoseconds from 64 ns (64 ns,
// 256 ns, 1.024 µs, ... 2^36 ns ~ 68.7 s: 16 bounds). Each is a fine-bucket boundary,
// so the cumulative counts are exact and still merge by adding.
constexpr int kLeFirstExponent = 6;
constexpr int kLeStep = 2;

std::string number(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.12g", v);
  return buf;
}

void help_and_type(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void sample(std::string& out, std::string_view name, std::string_view labels, const std::string& value) {
  out.append(name);
  if (!labels.empty()) out.append("{").append(labels).append("}");
  out.append(" ").append(value).append("\n");
}

std::string op_labels(const OperationLatency& o) {
  return std::string("tier=\"") + metric_tier_name(o.tier) + "\",op=\"" + metric_op_name(o.op) + "\"";
}

}  // namespace

std::string prometheus_text(const CacheMetrics& m) {
  std::string out;
  out.reserve(8192);
  for (size_t f = 0; f < kFamilyCount; ++f) {
    const Family& family = *kFamilies[f];
    help_and_type(out, family.name, family.type == MetricType::kCounter ? "counter" : "gauge", family.help);
    for (size_t i = 0; i < kCounterCount; ++i) {
      const Counter& c = kCounters[i];
      if (c.family == &family) sample(out, family.name, c.labels, std::to_string(c.read(m.counters)));
    }
  }
  help_and_type(out, kDurationFamily, "histogram",
                "Operation latency by tier and operation (L1 reads sampled, each sample weighted by the sampling "
                "factor)");
  const std::string bucket = std::string(kDurationFamily) + "_bucket";
  for (const OperationLatency& o : m.operations) {
    const std::string labels = op_labels(o);
    const LatencyHistogram& h = o.latency;
    uint64_t cumulative = 0;
    size_t next = 0;
    for (int e = kLeFirstExponent; e <= LatencyHistogram::kMaxExponent; e += kLeStep) {
      const uint64_t le_ns = uint64_t{1} << e;
      for (; next < LatencyHistogram::kBuckets - 1 && LatencyHistogram::upper_bound_ns(next) <= le_ns; ++next) {
        cumulative += h.bucket(next);
      }
      sample(out, bucket, labels + ",le=\"" + number(static_cast<double>(le_ns) / 1e9) + "\"",
             std::to_string(cumulative));
    }
    sample(out, bucket, labels + ",le=\"+Inf\"", std::to_string(h.count()));
    sample(out, std::string(kDurationFamily) + "_sum", labels, number(static_cast<double>(h.sum_ns()) / 1e9));
    sample(out, std::string(kDurationFamily) + "_count", labels, std::to_string(h.count()));
  }
  return out;
}

nlohmann::json metrics_to_json(const CacheMetrics& m) {
  nlohmann::json ops = nlohmann::json::array();
  for (const OperationLatency& o : m.operations) {
    const LatencyHistogram& h = o.latency;
    nlohmann::json buckets = nlohmann::json::array();
    for (size_t i = 0; i < LatencyHistogram::kBuckets; ++i) {
      if (h.bucket(i) == 0) continue;
      nlohmann::json le = i == LatencyHistogram::kBuckets - 1
                              ? nlohmann::json(nullptr)
                              : nlohmann::json(static_cast<double>(LatencyHistogram::upper_bound_ns(i)) / 1e9);
      buckets.push_back(nlohmann::json::array({le, h.bucket(i)}));
    }
    ops.push_back({
        {"tier", metric_tier_name(o.tier)},
        {"op", metric_op_name(o.op)},
        {"count", h.count()},
        {"sum_seconds", static_cast<double>(h.sum_ns()) / 1e9},
        {"mean_seconds", h.mean_seconds()},
        {"p50_seconds", h.quantile_seconds(0.5)},
        {"p90_seconds", h.quantile_seconds(0.9)},
        {"p99_seconds", h.quantile_seconds(0.99)},
        {"p999_seconds", h.quantile_seconds(0.999)},
        {"buckets", std::move(buckets)},
    });
  }
  return {
      {"counters", stats_to_json(m.counters)},
      {"operations", std::move(ops)},
      {"l1_sample_every", m.l1_sample_every},
      {"histogram",
       {{"sub_buckets", LatencyHistogram::kSubBuckets},
        {"min_exponent", LatencyHistogram::kMinExponent},
        {"max_exponent", LatencyHistogram::kMaxExponent}}},
  };
}

}  // namespace stratacache_capi
