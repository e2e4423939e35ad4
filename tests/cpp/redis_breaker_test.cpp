// The L2 tier's circuit breaker against a real redis-server: SIGSTOP, kill -9 and
// restart, many threads on a stopped server, and what does not count as a failure.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "remote_tier.hpp"
#include "support/redis_server.hpp"

namespace stratacache {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using testing::RedisServer;

Deadline in_ms(int ms) { return Deadline::after(milliseconds(ms)); }

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

RedisOptions breaker_options(uint16_t port, uint32_t threshold, int cooldown_ms) {
  RedisOptions o;
  o.transport = RedisOptions::Transport::kTcp;
  o.host = "127.0.0.1";
  o.port = port;
  o.circuit_breaker_threshold = threshold;
  o.circuit_breaker_cooldown = milliseconds(cooldown_ms);
  return o;
}

bool is_breaker_refusal(const Status& s) {
  return s.code() == StatusCode::kUnavailable && s.message().find("circuit breaker open") != std::string::npos;
}

// Calls get() until it succeeds or `limit_ms` passes; the time it took, or -1.
double ms_until_get_succeeds(RemoteTier& tier, int limit_ms) {
  auto t0 = Clock::now();
  while (ms_since(t0) < limit_ms) {
    if (tier.get("k", in_ms(500)).is_ok()) return ms_since(t0);
    std::this_thread::sleep_for(milliseconds(5));
  }
  return -1;
}

TEST(RedisBreaker, PausedServerOpensAfterThresholdFailsFastThenProbeCloses) {
  auto server = RedisServer::start();
  auto tier = make_redis_tier(breaker_options(server->port(), 5, 1000));
  ASSERT_TRUE(tier->set("k", "v", 0, in_ms(2000)).is_ok());

  server->pause();
  for (int i = 0; i < 5; ++i) {  // each pays its whole deadline
    auto t = Clock::now();
    auto r = tier->get("k", in_ms(100));
    double took = ms_since(t);
    EXPECT_EQ(r.code(), StatusCode::kTimeout) << r.status().to_string();
    EXPECT_GE(took, 95.0);
    EXPECT_LT(took, 200.0);
  }
  auto opened = Clock::now();
  std::vector<double> took;
  Status refusal;
  for (int i = 0; i < 200; ++i) {
    auto t = Clock::now();
    auto r = tier->get("k", in_ms(100));
    took.push_back(ms_since(t));
    refusal = r.status();
    EXPECT_TRUE(is_breaker_refusal(refusal)) << refusal.to_string();
  }
  // Refusals cost microseconds; the worst case only has to stay far below the 100 ms
  // deadline (a loaded CI box or a sanitizer build can deschedule a thread for a while).
  std::sort(took.begin(), took.end());
  EXPECT_LT(took[took.size() / 2], 1.0) << "a refused call must not wait";
  EXPECT_LT(took.back(), 25.0) << "a refused call must not wait";
  EXPECT_NE(refusal.message().find("after 5 consecutive failures"), std::string::npos) << refusal.message();
  EXPECT_NE(refusal.message().find("timed out"), std::string::npos) << refusal.message();  // why
  EXPECT_NE(refusal.message().find("since 20"), std::string::npos) << refusal.message();   // when (UTC)
  L2Stats st = tier->stats();
  EXPECT_EQ(st.breaker_opens, 1u);
  EXPECT_EQ(st.breaker_rejections, 200u);
  EXPECT_EQ(st.timeouts, 5u);
  EXPECT_EQ(st.errors, 205u);

  server->resume();
  // Still open until the cooldown (750..1000 ms after opening) has passed.
  EXPECT_TRUE(is_breaker_refusal(tier->get("k", in_ms(100)).status()));
  double waited = ms_until_get_succeeds(*tier, 3000);
  ASSERT_GE(waited, 0) << "the breaker never closed";
  double since_open = ms_since(opened);
  EXPECT_GE(since_open, 700.0);
  EXPECT_LT(since_open, 1500.0);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(tier->get("k", in_ms(500))->value, "v");
  EXPECT_EQ(tier->stats().breaker_opens, 1u);
}

TEST(RedisBreaker, FailedProbeReopensWithALongerCooldown) {
  auto server = RedisServer::start();
  RedisOptions o = breaker_options(server->port(), 3, 200);
  o.circuit_breaker_cooldown_max = milliseconds(5000);
  auto tier = make_redis_tier(o);
  ASSERT_TRUE(tier->set("k", "v", 0, in_ms(2000)).is_ok());
  server->pause();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(tier->get("k", in_ms(50)).code(), StatusCode::kTimeout);
  EXPECT_TRUE(is_breaker_refusal(tier->get("k", in_ms(50)).status()));
  std::this_thread::sleep_for(milliseconds(250));
  // Half-open: this call is the probe, it reaches the paused server and times out.
  auto t = Clock::now();
  EXPECT_EQ(tier->get("k", in_ms(50)).code(), StatusCode::kTimeout);
  EXPECT_GE(ms_since(t), 45.0);
  // Re-opened with the cooldown doubled (400 ms, jittered down to no less than 300).
  Status refusal = tier->get("k", in_ms(50)).status();
  ASSERT_TRUE(is_breaker_refusal(refusal)) << refusal.to_string();
  size_t at = refusal.message().find("next probe in ");
  ASSERT_NE(at, std::string::npos) << refusal.message();
  int next_ms = std::stoi(refusal.message().substr(at + 14));
  EXPECT_GT(next_ms, 250) << refusal.message();
  EXPECT_LE(next_ms, 400) << refusal.message();
  EXPECT_EQ(tier->stats().breaker_opens, 1u);  // re-opening is not a new open
  EXPECT_EQ(tier->stats().breaker_half_opens, 1u);
  EXPECT_EQ(tier->stats().breaker_closes, 0u);
  server->resume();
  EXPECT_GE(ms_until_get_succeeds(*tier, 2000), 0);
  EXPECT_EQ(tier->stats().breaker_closes, 1u);
  EXPECT_GE(tier->stats().breaker_half_opens, 2u);
}

TEST(RedisBreaker, KillThenRestartFailsFastThenProbeCloses) {
  auto server = RedisServer::start();
  auto tier = make_redis_tier(breaker_options(server->port(), 5, 300));
  ASSERT_TRUE(tier->set("k", "v", 0, in_ms(2000)).is_ok());
  server->kill9();
  for (int i = 0; i < 5; ++i) {  // lost connection, then refused connects
    auto r = tier->get("k", in_ms(1000));
    EXPECT_EQ(r.code(), StatusCode::kUnavailable) << r.status().to_string();
    EXPECT_FALSE(is_breaker_refusal(r.status())) << r.status().to_string();
  }
  std::vector<double> took;
  for (int i = 0; i < 100; ++i) {
    auto t = Clock::now();
    auto r = tier->set("k", "w", 0, in_ms(1000));
    took.push_back(ms_since(t));
    EXPECT_TRUE(is_breaker_refusal(r)) << r.to_string();
  }
  std::sort(took.begin(), took.end());
  EXPECT_LT(took[took.size() / 2], 1.0);
  EXPECT_LT(took.back(), 25.0);
  L2Stats st = tier->stats();
  EXPECT_EQ(st.breaker_opens, 1u);
  EXPECT_EQ(st.breaker_closes, 0u);
  EXPECT_EQ(st.connection_errors, 5u);
  EXPECT_EQ(st.breaker_rejections, 100u);
  EXPECT_EQ(st.fast_failures, 0u);  // the pool's own backoff is off while the breaker is on
  EXPECT_GE(st.connect_failures, 4u);

  server->restart();
  auto t0 = Clock::now();
  Status last = unavailable("not tried");
  int refused = 0;
  while (ms_since(t0) < 2000 && !(last = tier->set("k", "again", 0, in_ms(500))).is_ok()) {
    refused += is_breaker_refusal(last) ? 1 : 0;
    std::this_thread::sleep_for(milliseconds(5));
  }
  ASSERT_TRUE(last.is_ok()) << last.to_string();
  EXPECT_LT(ms_since(t0), 300.0 + 200.0);  // at most the cooldown (300 ms) after the restart
  EXPECT_GT(refused, 0);                   // it did sit out the rest of the cooldown
  EXPECT_EQ(tier->get("k", in_ms(500))->value, "again");
  EXPECT_EQ(tier->stats().breaker_opens, 1u);
  EXPECT_EQ(tier->stats().breaker_closes, 1u);  // open -> (half-open ->) closed, each counted
  EXPECT_GE(tier->stats().breaker_half_opens, 1u);
}

TEST(RedisBreaker, ThresholdZeroDisablesIt) {
  auto server = RedisServer::start();
  auto tier = make_redis_tier(breaker_options(server->port(), 0, 1000));
  ASSERT_TRUE(tier->set("k", "v", 0, in_ms(2000)).is_ok());
  server->pause();
  for (int i = 0; i < 10; ++i) {
    auto t = Clock::now();
    EXPECT_EQ(tier->get("k", in_ms(50)).code(), StatusCode::kTimeout);
    EXPECT_GE(ms_since(t), 45.0);  // every call reaches the server
  }
  server->resume();
  EXPECT_EQ(tier->get("k", in_ms(1000))->value, "v");  // no cooldown to sit out
  L2Stats st = tier->stats();
  EXPECT_EQ(st.breaker_opens, 0u);
  EXPECT_EQ(st.breaker_rejections, 0u);
  EXPECT_EQ(st.timeouts, 10u);
}

TEST(RedisBreaker, MissesAndErrorRepliesDoNotOpenIt) {
  auto server = RedisServer::start();
  auto tier = make_redis_tier(breaker_options(server->port(), 2, 1000));
  ASSERT_TRUE(tier->set("text", "not a number", 0, in_ms(2000)).is_ok());
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(tier->get("missing", in_ms(1000)).code(), StatusCode::kNotFound);
    EXPECT_EQ(tier->incr_by("text", 1, 0, in_ms(1000)).code(), StatusCode::kWrongType);
  }
  EXPECT_TRUE(tier->set("k", "v", 0, in_ms(1000)).is_ok());
  L2Stats st = tier->stats();
  EXPECT_EQ(st.breaker_opens, 0u);
  EXPECT_EQ(st.server_errors, 10u);
  EXPECT_EQ(st.errors, 10u);
  EXPECT_EQ(st.misses, 10u);
}

TEST(RedisBreaker, EveryFailedOperationCountsInOneKind) {
  RedisServer::Config config;
  config.password = "secret";
  auto server = RedisServer::start(config);
  RedisOptions o = breaker_options(server->port(), 3, 60000);
  o.password = "wrong";
  auto denied = make_redis_tier(o);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(denied->get("k", in_ms(1000)).code(), StatusCode::kPermissionDenied);
  L2Stats d = denied->stats();
  EXPECT_EQ(d.auth_errors, 3u);
  EXPECT_EQ(d.breaker_rejections, 2u);  // refusals keep saying kPermissionDenied
  EXPECT_EQ(d.errors, 5u);

  o.password = "secret";
  auto tier = make_redis_tier(o);
  ASSERT_TRUE(tier->set("text", "x", 0, in_ms(1000)).is_ok());
  EXPECT_EQ(tier->incr_by("text", 1, 0, in_ms(1000)).code(), StatusCode::kWrongType);  // server error
  EXPECT_EQ(tier->set("k", "v", -1, in_ms(1000)).code(), StatusCode::kInvalidArgument);  // never sent
  server->pause();
  EXPECT_EQ(tier->get("k", in_ms(50)).code(), StatusCode::kTimeout);
  server->kill9();
  EXPECT_EQ(tier->get("k", in_ms(500)).code(), StatusCode::kUnavailable);  // lost
  EXPECT_EQ(tier->get("k", in_ms(500)).code(), StatusCode::kUnavailable);  // refused: opens
  EXPECT_TRUE(is_breaker_refusal(tier->get("k", in_ms(500)).status()));
  L2Stats st = tier->stats();
  EXPECT_EQ(st.server_errors, 1u);
  EXPECT_EQ(st.timeouts, 1u);
  EXPECT_EQ(st.connection_errors, 2u);
  EXPECT_EQ(st.breaker_rejections, 1u);
  uint64_t kinds = st.timeouts + st.connection_errors + st.auth_errors + st.server_errors + st.protocol_errors +
                   st.fast_failures + st.breaker_rejections + st.sentinel_failures;
  EXPECT_EQ(st.errors, kinds + 1);  // + the invalid TTL, refused before reaching the server
}

// Eight threads on a stopped server: only the calls before the breaker opened (and the
// probes) wait; the rest fail at once; after SIGCONT everyone recovers. Run under TSan too.
TEST(RedisBreaker, EightThreadsHammerAStoppedServer) {
  auto server = RedisServer::start();
  RedisOptions o = breaker_options(server->port(), 5, 200);
  o.circuit_breaker_cooldown_max = milliseconds(400);
  auto tier = make_redis_tier(o);
  ASSERT_TRUE(tier->set("k", "v", 0, in_ms(2000)).is_ok());
  server->pause();
  constexpr int kThreads = 8;
  constexpr int kDeadlineMs = 50;
#if defined(__SANITIZE_THREAD__)
  constexpr int kSlackMs = 1000;  // TSan on a loaded 2-core machine: scheduling, not waiting
#else
  constexpr int kSlackMs = 250;
#endif
  std::atomic<uint64_t> calls{0}, slow{0}, succeeded{0}, late{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      while (!stop.load()) {
        auto t0 = Clock::now();
        auto r = tier->get("k", in_ms(kDeadlineMs));
        double took = ms_since(t0);
        ++calls;
        if (r.is_ok()) ++succeeded;
        if (took > 10) ++slow;
        if (took > kDeadlineMs + kSlackMs) ++late;
      }
    });
  }
  std::this_thread::sleep_for(milliseconds(1500));
  stop = true;
  for (auto& th : threads) th.join();
  EXPECT_EQ(succeeded.load(), 0u);
  EXPECT_EQ(late.load(), 0u);
  L2Stats st = tier->stats();
  EXPECT_GE(st.breaker_opens, 1u);
  EXPECT_GT(st.breaker_rejections, 10 * slow.load()) << "calls " << calls << ", slow " << slow;
  EXPECT_EQ(st.errors, calls.load());

  server->resume();
  stop = false;
  std::atomic<int> recovered{0};
  threads.clear();
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      if (ms_until_get_succeeds(*tier, 3000) >= 0) ++recovered;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(recovered.load(), kThreads);
}

}  // namespace
}  // namespace stratacache
