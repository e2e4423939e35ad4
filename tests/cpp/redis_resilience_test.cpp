// The L2 Redis tier when things go wrong: server down, killed, paused, connections
// killed, many threads, fork.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "remote_tier.hpp"
#include "support/fork_check.hpp"
#include "support/redis_server.hpp"

namespace stratacache {
namespace {

using Clock = std::chrono::steady_clock;
using testing::RedisServer;

Deadline soon(int ms = 2000) { return Deadline::after(std::chrono::milliseconds(ms)); }

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

RedisOptions tcp_options(uint16_t port) {
  RedisOptions o;
  o.transport = RedisOptions::Transport::kTcp;
  o.host = "127.0.0.1";
  o.port = port;
  return o;
}

// A loopback port nobody listens on (bound then released).
uint16_t unused_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST(RedisResilience, DownAtStartFailsFastAndCountsFastFailures) {
  RedisOptions o = tcp_options(unused_port());
  o.circuit_breaker_threshold = 0;  // the pool's own reconnect backoff (the breaker has its own tests)
  o.retry_backoff_min = std::chrono::milliseconds(1000);
  o.retry_backoff_max = std::chrono::milliseconds(2000);
  auto tier = make_redis_tier(o);  // never fails to construct
  auto t0 = Clock::now();
  auto r = tier->get("k", soon());
  EXPECT_EQ(r.code(), StatusCode::kUnavailable) << r.status().to_string();
  EXPECT_LT(ms_since(t0), 200.0);
  for (int i = 0; i < 10; ++i) {
    auto t = Clock::now();
    EXPECT_EQ(tier->set("k", "v", 0, soon()).code(), StatusCode::kUnavailable);
    EXPECT_LT(ms_since(t), 20.0);
  }
  L2Stats st = tier->stats();
  EXPECT_EQ(st.connect_failures, 1u);
  EXPECT_EQ(st.fast_failures, 10u);
  EXPECT_EQ(st.errors, 11u);
  auto h = tier->health(soon());
  EXPECT_FALSE(h.healthy);
  EXPECT_FALSE(h.error.empty());
}

TEST(RedisResilience, KillThenRestartFailsFastThenRecoversByItself) {
  auto server = RedisServer::start();
  RedisOptions o = tcp_options(server->port());
  o.retry_backoff_min = std::chrono::milliseconds(20);
  o.retry_backoff_max = std::chrono::milliseconds(200);
  auto tier = make_redis_tier(o);
  ASSERT_TRUE(tier->set("before", "1", 0, soon()).is_ok());

  server->kill9();
  EXPECT_EQ(tier->get("before", soon()).code(), StatusCode::kUnavailable);
  for (int i = 0; i < 20; ++i) {
    auto t = Clock::now();
    auto r = tier->get("before", soon());
    EXPECT_EQ(r.code(), StatusCode::kUnavailable);
    EXPECT_LT(ms_since(t), 50.0);
  }
  EXPECT_GT(tier->stats().breaker_rejections, 0u);  // the breaker opened (it replaces the pool's backoff)
  EXPECT_EQ(tier->stats().fast_failures, 0u);

  server->restart();
  auto t0 = Clock::now();
  Status last = unavailable("not tried");
  while (ms_since(t0) < 3000) {
    last = tier->set("after", "2", 0, soon());
    if (last.is_ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(last.is_ok()) << last.to_string();
  EXPECT_LT(ms_since(t0), 2000.0);
  EXPECT_EQ(tier->get("after", soon())->value, "2");
  EXPECT_EQ(tier->get("before", soon()).code(), StatusCode::kNotFound);  // a fresh server
}

TEST(RedisResilience, PausedServerEveryCallReturnsByDeadlineAndNoLateReplyLeaks) {
  auto server = RedisServer::start();
  RedisOptions o = tcp_options(server->port());
  o.max_connections = 1;  // one connection: a late reply on it would reach the next caller
  o.circuit_breaker_threshold = 0;  // every call must reach the paused server
  o.socket_timeout = std::chrono::milliseconds(150);
  auto tier = make_redis_tier(o);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(tier->set("p" + std::to_string(i), "value-" + std::to_string(i), 0, soon()).is_ok());
  }

  server->pause();
  double worst = 0;
  for (int i = 0; i < 3; ++i) {
    auto t = Clock::now();
    auto r = tier->get("p" + std::to_string(i), Deadline::after(o.socket_timeout));
    worst = std::max(worst, ms_since(t));
    EXPECT_EQ(r.code(), StatusCode::kTimeout) << r.status().to_string();
  }
  auto t = Clock::now();
  EXPECT_EQ(tier->set("p9", "late", 0, Deadline::after(o.socket_timeout)).code(), StatusCode::kTimeout);
  worst = std::max(worst, ms_since(t));
  // Several callers at once, one connection: the waiters time out too.
  std::vector<std::thread> threads;
  std::atomic<int> late{0}, not_timeout{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      auto t1 = Clock::now();
      auto r = tier->get("p" + std::to_string(i), Deadline::after(o.socket_timeout));
      if (ms_since(t1) > 150 + 50) ++late;
      if (r.code() != StatusCode::kTimeout) ++not_timeout;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(late.load(), 0);
  EXPECT_EQ(not_timeout.load(), 0);
  EXPECT_LT(worst, 150.0 + 50.0);
  server->resume();

  for (int round = 0; round < 3; ++round) {
    for (int i = 4; i >= 0; --i) {
      auto r = tier->get("p" + std::to_string(i), soon());
      ASSERT_TRUE(r.is_ok()) << r.status().to_string();
      EXPECT_EQ(r->value, "value-" + std::to_string(i));
    }
  }
  L2Stats st = tier->stats();
  EXPECT_GE(st.timeouts, 8u);
  EXPECT_GE(st.connections_discarded, 4u);
}

TEST(RedisResilience, ClientKillRecoversTransparently) {
  auto server = RedisServer::start();
  auto tier = make_redis_tier(tcp_options(server->port()));
  ASSERT_TRUE(tier->set("k", "v", 0, soon()).is_ok());
  EXPECT_EQ(server->cli({"CLIENT", "KILL", "TYPE", "normal"}), "1");
  // The pooled connection is dead; the read is retried once on a new one.
  auto r = tier->get("k", soon());
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->value, "v");
  L2Stats st = tier->stats();
  EXPECT_EQ(st.connections_opened, 2u);
  EXPECT_EQ(st.connections_discarded, 1u);
  EXPECT_EQ(st.errors, 0u);

  // incr_by is not idempotent: it is not retried, so the caller sees the loss once.
  EXPECT_EQ(server->cli({"CLIENT", "KILL", "TYPE", "normal"}), "1");
  auto v = tier->incr_by("n", 1, 0, soon());
  EXPECT_EQ(v.code(), StatusCode::kUnavailable);
  EXPECT_EQ(tier->incr_by("n", 1, 0, soon()).value(), 1);
}

TEST(RedisResilience, HealthCheckPingsLongIdleConnections) {
  auto server = RedisServer::start();
  RedisOptions o = tcp_options(server->port());
  o.health_check_interval = std::chrono::milliseconds(20);
  auto tier = make_redis_tier(o);
  ASSERT_TRUE(tier->set("k", "v", 0, soon()).is_ok());
  server->cli({"CLIENT", "KILL", "TYPE", "normal"});
  std::this_thread::sleep_for(std::chrono::milliseconds(40));
  auto incr = tier->incr_by("n", 1, 0, soon());  // not retried: only the PING saves it
  ASSERT_TRUE(incr.is_ok()) << incr.status().to_string();
  EXPECT_EQ(tier->stats().connections_discarded, 1u);
  EXPECT_EQ(tier->stats().connections_opened, 2u);
}

TEST(RedisResilience, SixteenThreadsMixedOpsOnPoolOfFour) {
  auto server = RedisServer::start();
  RedisOptions o = tcp_options(server->port());
  o.max_connections = 4;
  auto tier = make_redis_tier(o);
  constexpr int kThreads = 16, kOps = 2000, kKeys = 20;
  std::atomic<int> wrong{0};
  std::vector<std::string> first_error(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::map<std::string, std::string> model;
      int64_t counter = 0;
      auto key = [t](int k) { return "t" + std::to_string(t) + ":" + std::to_string(k); };
      auto fail = [&](const std::string& what) {
        if (wrong++ == 0 || first_error[t].empty()) first_error[t] = what;
      };
      for (int i = 0; i < kOps; ++i) {
        std::string k = key(i % kKeys);
        switch (i % 6) {
          case 0:
          case 3: {
            std::string v = k + "=" + std::to_string(i) + std::string(i % 300, 'x');
            if (!tier->set(k, v, i % 2 ? 60000 : 0, soon(5000)).is_ok()) fail("set");
            model[k] = v;
            break;
          }
          case 1: {
            auto r = tier->get(k, soon(5000));
            auto it = model.find(k);
            if (it == model.end() ? r.code() != StatusCode::kNotFound : (!r.is_ok() || r->value != it->second)) {
              fail("get " + k + ": " + r.status().to_string());
            }
            break;
          }
          case 2: {
            auto r = tier->incr_by("t" + std::to_string(t) + ":ctr", 2, 0, soon(5000));
            counter += 2;
            if (!r.is_ok() || *r != counter) fail("incr");
            break;
          }
          case 4: {
            auto r = tier->del({k}, soon(5000));
            if (!r.is_ok() || *r != (model.erase(k) ? 1 : 0)) fail("del");
            break;
          }
          case 5: {
            std::vector<std::string> keys = {key(i % kKeys), key((i + 7) % kKeys), key((i + 13) % kKeys)};
            auto rs = tier->mget(keys, soon(5000));
            for (size_t j = 0; j < keys.size(); ++j) {
              auto it = model.find(keys[j]);
              bool ok = it == model.end() ? rs[j].code() == StatusCode::kNotFound
                                          : rs[j].is_ok() && rs[j]->value == it->second;
              if (!ok) fail("mget");
            }
            break;
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  std::string errors;
  for (auto& e : first_error) if (!e.empty()) errors += e + "; ";
  EXPECT_EQ(wrong.load(), 0) << errors;
  L2Stats st = tier->stats();
  EXPECT_LE(st.connections_opened, 4u);
  EXPECT_EQ(st.errors, 0u);
  EXPECT_EQ(st.connections_discarded, 0u);
}

TEST(RedisResilience, ForkedChildUsesItsOwnConnectionAndParentKeepsWorking) {
  auto server = RedisServer::start();
  auto tier = make_redis_tier(tcp_options(server->port()));
  testing::expect_fork_keeps_parent_connection(tier);
}

}  // namespace
}  // namespace stratacache
