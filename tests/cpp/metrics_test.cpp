// Metrics: the histogram layout, the recording points (L1 sampled, every L2 operation),
// and the log events that hang off them.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "stratacache/cache.hpp"
#include "stratacache/log.hpp"
#include "stratacache/metrics.hpp"
#include "support/open_cache.hpp"
#include "support/redis_server.hpp"

namespace stratacache {
namespace {

using testing::open_or_die;
using testing::raw;
using testing::RedisServer;

const OperationLatency* find_op(const CacheMetrics& m, MetricTier tier, MetricOp op) {
  for (auto& o : m.operations) {
    if (o.tier == tier && o.op == op) return &o;
  }
  return nullptr;
}

TEST(LatencyHistogram, BucketBoundsAreContiguousAndEachDurationLandsInsideItsBucket) {
  uint64_t lower = 0;
  for (size_t i = 0; i + 1 < LatencyHistogram::kBuckets; ++i) {
    uint64_t upper = LatencyHistogram::upper_bound_ns(i);
    ASSERT_GT(upper, lower) << i;
    EXPECT_EQ(LatencyHistogram::bucket_of(lower), i) << lower;
    EXPECT_EQ(LatencyHistogram::bucket_of(upper - 1), i) << upper - 1;
    EXPECT_EQ(LatencyHistogram::bucket_of(upper), i + 1) << upper;
    // Log-linear: a bucket spans at most 1/4 of its lower bound (past bucket 0).
    if (i > 0) EXPECT_LE((upper - lower) * 4, lower) << i;
    lower = upper;
  }
  EXPECT_EQ(LatencyHistogram::kBuckets, 126u);
  EXPECT_EQ(LatencyHistogram::upper_bound_ns(0), 32u);
  EXPECT_EQ(lower, uint64_t{1} << 36);  // the overflow bucket starts at 2^36 ns
  EXPECT_EQ(LatencyHistogram::bucket_of(UINT64_MAX), LatencyHistogram::kBuckets - 1);
}

TEST(LatencyHistogram, QuantilesStayWithinABucketOfTheTruth) {
  LatencyHistogram h;
  for (uint64_t us = 1; us <= 1000; ++us) h.add(us * 1000);  // 1 µs .. 1 ms, uniform
  EXPECT_EQ(h.count(), 1000u);
  EXPECT_DOUBLE_EQ(h.mean_seconds(), 500.5e-6);
  for (double q : {0.5, 0.9, 0.99}) {
    double truth = q * 1000 * 1e-6;
    EXPECT_NEAR(h.quantile_seconds(q), truth, truth / 4) << q;
  }
  EXPECT_LE(h.quantile_seconds(0.5), h.quantile_seconds(0.9));
  EXPECT_EQ(LatencyHistogram().quantile_seconds(0.5), 0);
}

TEST(LatencyHistogram, MergingAddsCountsSoSplitsAndWholesAgree) {
  LatencyHistogram a, b, whole;
  for (uint64_t ns = 10; ns < 5'000'000; ns = ns * 3 + 7) {
    (ns % 2 ? a : b).add(ns, 3);
    whole.add(ns, 3);
  }
  a.merge(b);
  EXPECT_EQ(a.count(), whole.count());
  EXPECT_EQ(a.sum_ns(), whole.sum_ns());
  for (size_t i = 0; i < LatencyHistogram::kBuckets; ++i) EXPECT_EQ(a.bucket(i), whole.bucket(i)) << i;
  EXPECT_EQ(a.quantile_seconds(0.99), whole.quantile_seconds(0.99));
}

// L1 reads: every one counted, one in 64 per thread timed with weight 64. Fresh threads
// start their sampling count at 0, so 6400 reads each give exactly 100 samples each.
TEST(CacheMetrics, ConcurrentThreadsRecordEveryL1ReadAndTheirSamples) {
  auto cache = open_or_die("mem://");
  ASSERT_TRUE(cache);
  ASSERT_TRUE(cache->set("k", raw("v")));
  constexpr int kThreads = 4, kReads = 6400;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kReads; ++i) EXPECT_TRUE(cache->get("k"));
    });
  }
  for (auto& t : threads) t.join();
  CacheMetrics m = cache->metrics();
  EXPECT_EQ(m.counters.l1.hits, uint64_t{kThreads} * kReads);
  EXPECT_EQ(m.l1_sample_every, 64u);
  const OperationLatency* get = find_op(m, MetricTier::kL1, MetricOp::kGet);
  ASSERT_NE(get, nullptr);
  EXPECT_EQ(get->latency.count(), uint64_t{kThreads} * kReads);
  EXPECT_GT(get->latency.sum_ns(), 0u);
  EXPECT_EQ(find_op(m, MetricTier::kL2, MetricOp::kGet), nullptr);  // mem:// has no L2
}

TEST(CacheMetrics, EveryRedisOperationIsTimedByItsTierOperation) {
  auto server = RedisServer::start();
  auto cache = open_or_die(server->url("", 0, "prefix=mt:"));
  ASSERT_TRUE(cache);
  CallOptions l2_only;
  l2_only.skip_l1 = true;
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(cache->set("k" + std::to_string(i), raw("0123456789")));
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(cache->get("k" + std::to_string(i), l2_only));
  EXPECT_FALSE(cache->get("absent", l2_only));
  ASSERT_TRUE(cache->del("k0"));
  ASSERT_TRUE(cache->exists("k1", l2_only));
  ASSERT_TRUE(cache->increment("n", 2));
  CacheMetrics m = cache->metrics();
  auto count = [&](MetricOp op) {
    const OperationLatency* o = find_op(m, MetricTier::kL2, op);
    return o ? o->latency.count() : 0;
  };
  EXPECT_EQ(count(MetricOp::kSet), 10u);
  EXPECT_EQ(count(MetricOp::kGet), 11u);
  EXPECT_EQ(count(MetricOp::kDelete), 1u);
  EXPECT_EQ(count(MetricOp::kExists), 1u);
  EXPECT_EQ(count(MetricOp::kIncrement), 1u);
  EXPECT_EQ(m.counters.l2.hits, 10u);
  // Envelopes hold the 10 value bytes plus a header: both directions counted.
  EXPECT_GT(m.counters.l2.bytes_written, 10u * 10);
  EXPECT_GT(m.counters.l2.bytes_read, 10u * 10);
  EXPECT_EQ(cache->stats().l2.bytes_read, m.counters.l2.bytes_read);
  const OperationLatency* get = find_op(m, MetricTier::kL2, MetricOp::kGet);
  ASSERT_NE(get, nullptr);
  EXPECT_GT(get->latency.quantile_seconds(0.5), 0);
}

// A log handler that keeps (level, event, message) for the test; removed at the end.
class CapturedLog {
 public:
  explicit CapturedLog(LogLevel level) {
    set_log_handler(level, [this](LogLevel l, std::string_view event, std::string_view message) {
      std::lock_guard<std::mutex> lock(mu_);
      events_.push_back({l, std::string(event), std::string(message)});
    });
  }
  ~CapturedLog() { set_log_handler(LogLevel::kOff, nullptr); }
  struct Event {
    LogLevel level;
    std::string event, message;
  };
  std::vector<Event> take(std::string_view event) {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Event> out;
    for (auto& e : events_) {
      if (e.event == event) out.push_back(e);
    }
    return out;
  }

 private:
  std::mutex mu_;
  std::vector<Event> events_;
};

TEST(CacheMetrics, DebugLoggingReportsEveryOperationWithItsPrintableKey) {
  auto cache = open_or_die("mem://");
  ASSERT_TRUE(cache);
  ASSERT_TRUE(cache->set(std::string("a\nb", 3), raw("v")));
  CapturedLog log(LogLevel::kDebug);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(cache->get(std::string("a\nb", 3)));
  auto ops = log.take("op");
  ASSERT_EQ(ops.size(), 3u);
  for (auto& e : ops) {
    EXPECT_EQ(e.level, LogLevel::kDebug);
    EXPECT_EQ(e.message.rfind("l1 get key=\"a\\x0ab\" seconds=", 0), 0u) << e.message;
  }
  EXPECT_TRUE(log.take("op.slow").empty());
}

TEST(CacheMetrics, AnOperationOverTheThresholdIsLoggedAsSlow) {
  auto server = RedisServer::start();
  auto cache = open_or_die(server->url("", 0, "slow_op_threshold=0.1&socket_timeout=5"));
  ASSERT_TRUE(cache);
  ASSERT_TRUE(cache->set("k", raw("v")));
  CapturedLog log(LogLevel::kWarning);
  // The server sleeps 0.5 s; a read sent meanwhile waits for it.
  std::thread sleeper([&] { server->cli({"DEBUG", "SLEEP", "0.5"}); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CallOptions l2_only;
  l2_only.skip_l1 = true;
  EXPECT_TRUE(cache->get("k", l2_only));
  sleeper.join();
  auto slow = log.take("op.slow");
  ASSERT_EQ(slow.size(), 1u);
  EXPECT_EQ(slow[0].level, LogLevel::kWarning);
  EXPECT_EQ(slow[0].message.rfind("l2 get key=\"k\" seconds=", 0), 0u) << slow[0].message;
  EXPECT_NE(slow[0].message.find("slow_op_threshold=0.100"), std::string::npos) << slow[0].message;
  EXPECT_TRUE(log.take("op").empty());  // debug events stay unformatted at warning level
}

TEST(CacheMetrics, SlowOpThresholdIsAnOptionInSeconds) {
  auto o = Options::from_url("mem://?slow_op_threshold=0.25");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->slow_op_threshold, Millis(250));
  EXPECT_FALSE(Options::from_url("mem://?slow_op_threshold=soon"));
  EXPECT_EQ(Options().slow_op_threshold, Millis(100));
}

}  // namespace
}  // namespace stratacache
