// Shared auto-pipelined connections and the asynchronous API, against a real redis-server.
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "remote_tier.hpp"
#include "stratacache/cache.hpp"
#include "support/coherent.hpp"
#include "support/redis_server.hpp"

namespace stratacache {
namespace {

using Clock = std::chrono::steady_clock;
using testing::RedisServer;

Deadline soon(int ms = 2000) { return Deadline::after(std::chrono::milliseconds(ms)); }

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

RedisOptions tcp_options(uint16_t port) {
  RedisOptions o;
  o.transport = RedisOptions::Transport::kTcp;
  o.host = "127.0.0.1";
  o.port = port;
  return o;
}

// Runs fn in a forked child; its return value is the child's exit status (-1: crashed).
template <typename Fn>
int run_in_child(Fn fn) {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(fn());
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Counts completions and remembers each result, for tests that submit many.
template <typename T>
struct Completions {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::optional<T>> results;
  std::vector<double> done_ms;
  std::vector<std::thread::id> threads;
  size_t count = 0;
  Clock::time_point start = Clock::now();

  explicit Completions(size_t n) : results(n), done_ms(n, -1), threads(n) {}
  std::function<void(T)> slot(size_t i) {
    return [this, i](T r) {
      std::lock_guard<std::mutex> lk(mu);
      EXPECT_FALSE(results[i].has_value()) << "completion " << i << " ran twice";
      results[i].emplace(std::move(r));
      done_ms[i] = ms_since(start);
      threads[i] = std::this_thread::get_id();
      ++count;
      cv.notify_all();
    };
  }
  bool wait_all(int ms = 5000) {
    std::unique_lock<std::mutex> lk(mu);
    return cv.wait_for(lk, std::chrono::milliseconds(ms), [&] { return count == results.size(); });
  }
};

TEST(RedisPipes, ManyThreadsShareAFewConnections) {
  auto server = RedisServer::start();
  RedisOptions o = tcp_options(server->port());
  o.max_connections = 64;  // the cap is not what keeps the count low
  auto tier = make_redis_tier(o);
  constexpr int kThreads = 64, kOps = 200;
  std::atomic<int> wrong{0}, failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kOps; ++i) {
        std::string key = "t" + std::to_string(t) + ":" + std::to_string(i % 10);
        std::string value = "v" + std::to_string(t) + "/" + std::to_string(i);
        if (!tier->set(key, value, 0, soon())) ++failed;
        auto r = tier->get(key, soon());
        if (!r) ++failed;
        else if (r->value != value) ++wrong;  // a reply matched to the wrong request
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(failed.load(), 0);
  L2Stats st = tier->stats();
  // One connection per caller would be 64; pipes grow only when each holds 8 requests
  // (64 / 8 + 1 at most in steady state; slack for a slow sanitizer build).
  EXPECT_LE(st.connections_opened, 16u)
      << "discarded " << st.connections_discarded << ", errors " << st.errors << ", timeouts " << st.timeouts
      << ", protocol " << st.protocol_errors << ", connection " << st.connection_errors;
  EXPECT_GE(st.connections_opened, 1u);
  EXPECT_EQ(st.sets, uint64_t{kThreads} * kOps);
}

TEST(RedisPipes, WaiterTakesOverWhenTheLeaderTimesOut) {
  auto server = RedisServer::start();
  RedisOptions o = tcp_options(server->port());
  o.max_connections = 1;  // both callers on one pipe
  o.circuit_breaker_threshold = 0;
  auto tier = make_redis_tier(o);
  ASSERT_TRUE(tier->set("k", "v", 0, soon()).is_ok());
  server->pause();
  std::thread leader([&] {  // leads, then gives up after 100 ms
    EXPECT_EQ(tier->get("k", soon(100)).code(), StatusCode::kTimeout);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  double took = 0;
  std::thread waiter([&] {  // queued behind it with a long deadline
    auto t0 = Clock::now();
    auto r = tier->get("k", soon(3000));
    took = ms_since(t0);
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  server->resume();
  leader.join();
  waiter.join();
  // The waiter took over reading when the leader left: answered right after the resume,
  // not at its own deadline.
  EXPECT_LT(took, 1500.0);
}

TEST(RedisPipes, DroppedPipeWithAReplyOutstandingIsNeverReused) {
  auto server = RedisServer::start();
  RedisOptions o = tcp_options(server->port());
  o.max_connections = 1;
  o.circuit_breaker_threshold = 0;
  o.health_check_interval = std::chrono::milliseconds(50);
  auto tier = make_redis_tier(o);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(tier->set("d" + std::to_string(i), "v" + std::to_string(i), 0, soon()).is_ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // idle: the next call PINGs first
  server->pause();
  EXPECT_EQ(tier->get("d0", soon(80)).code(), StatusCode::kTimeout);  // the PING (or the GET) timed out
  server->resume();
  // The dropped pipe's connection still had a reply coming: it must not be reused, or
  // every reply would be one behind its request.
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 5; ++i) {
      auto r = tier->get("d" + std::to_string(i), soon());
      ASSERT_TRUE(r.is_ok()) << r.status().to_string();
      EXPECT_EQ(r->value, "v" + std::to_string(i));
    }
  }
}

TEST(RedisAsync, TierGetSetDelComplete) {
  auto server = RedisServer::start();
  auto tier = make_redis_tier(tcp_options(server->port()));
  ASSERT_TRUE(tier->async_native());
  std::promise<Status> set_done;
  tier->set_async("a:1", "one", 60000, soon(), [&](Status s) { set_done.set_value(s); });
  ASSERT_TRUE(set_done.get_future().get().is_ok());
  std::promise<Result<RemoteEntry>> got;
  tier->get_async("a:1", soon(), [&](Result<RemoteEntry> r) { got.set_value(std::move(r)); });
  auto r = got.get_future().get();
  ASSERT_TRUE(r) << r.status().to_string();
  EXPECT_EQ(r->value, "one");
  EXPECT_GT(r->pttl_ms, 50000);
  std::promise<Result<int64_t>> deleted;
  tier->del_async({"a:1", "a:none"}, soon(), [&](Result<int64_t> n) { deleted.set_value(std::move(n)); });
  auto n = deleted.get_future().get();
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 1);
  std::promise<Result<RemoteEntry>> miss;
  tier->get_async("a:1", soon(), [&](Result<RemoteEntry> r2) { miss.set_value(std::move(r2)); });
  EXPECT_EQ(miss.get_future().get().code(), StatusCode::kNotFound);
  L2Stats st = tier->stats();
  EXPECT_EQ(st.hits, 1u);
  EXPECT_EQ(st.misses, 1u);
  EXPECT_EQ(st.sets, 1u);
}

TEST(RedisAsync, ThousandsInFlightFromOneThreadMatchTheirReplies) {
  auto server = RedisServer::start();
  auto tier = make_redis_tier(tcp_options(server->port()));
  constexpr size_t kKeys = 3000;
  {
    Completions<Status> sets(kKeys);
    for (size_t i = 0; i < kKeys; ++i) {
      tier->set_async("m:" + std::to_string(i), "value-" + std::to_string(i), 0, soon(5000), sets.slot(i));
    }
    ASSERT_TRUE(sets.wait_all());
    for (size_t i = 0; i < kKeys; ++i) ASSERT_TRUE(sets.results[i]->is_ok()) << sets.results[i]->to_string();
  }
  Completions<Result<RemoteEntry>> gets(kKeys);
  auto me = std::this_thread::get_id();
  for (size_t i = 0; i < kKeys; ++i) tier->get_async("m:" + std::to_string(i), soon(5000), gets.slot(i));
  ASSERT_TRUE(gets.wait_all());
  size_t on_io_thread = 0;
  for (size_t i = 0; i < kKeys; ++i) {
    ASSERT_TRUE(*gets.results[i]) << gets.results[i]->status().to_string();
    EXPECT_EQ((*gets.results[i])->value, "value-" + std::to_string(i));
    if (gets.threads[i] != me) ++on_io_thread;
  }
  EXPECT_EQ(on_io_thread, kKeys);  // nothing ran on the submitting thread
  // Submitted without waiting: they shared one connection (no caller was waiting to grow the set).
  EXPECT_LE(tier->stats().connections_opened, 2u);
}

TEST(RedisAsync, PausedServerTimesOutAtTheDeadlineAndLateRepliesAreDropped) {
  auto server = RedisServer::start();
  RedisOptions o = tcp_options(server->port());
  o.circuit_breaker_threshold = 0;
  auto tier = make_redis_tier(o);
  ASSERT_TRUE(tier->set("p", "before", 0, soon()).is_ok());
  server->pause();
  constexpr int kDeadlineMs = 150;
  Completions<Result<RemoteEntry>> gets(20);
  for (size_t i = 0; i < 20; ++i) tier->get_async("p", soon(kDeadlineMs), gets.slot(i));
  ASSERT_TRUE(gets.wait_all(2000));
  for (size_t i = 0; i < 20; ++i) {
    EXPECT_EQ(gets.results[i]->code(), StatusCode::kTimeout) << gets.results[i]->status().to_string();
    EXPECT_LT(gets.done_ms[i], kDeadlineMs + 50.0);
  }
  server->resume();
  // The 20 late replies arrive now and are dropped; the next answers are the right ones.
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(tier->set("q" + std::to_string(i), "after" + std::to_string(i), 0, soon()).is_ok());
    std::promise<Result<RemoteEntry>> got;
    tier->get_async("q" + std::to_string(i), soon(), [&](Result<RemoteEntry> r) { got.set_value(std::move(r)); });
    auto r = got.get_future().get();
    ASSERT_TRUE(r) << r.status().to_string();
    EXPECT_EQ(r->value, "after" + std::to_string(i));
  }
  EXPECT_GE(tier->stats().timeouts, 20u);
}

TEST(RedisAsync, DestroyingTheTierCompletesPendingRequests) {
  auto server = RedisServer::start();
  auto tier = make_redis_tier(tcp_options(server->port()));
  ASSERT_TRUE(tier->set("k", "v", 0, soon()).is_ok());
  server->pause();
  Completions<Result<RemoteEntry>> gets(10);
  for (size_t i = 0; i < 10; ++i) tier->get_async("k", soon(60000), gets.slot(i));
  auto t0 = Clock::now();
  tier.reset();
  EXPECT_LT(ms_since(t0), 1000.0);
  ASSERT_TRUE(gets.wait_all(100));
  for (auto& r : gets.results) EXPECT_EQ(r->code(), StatusCode::kUnavailable) << r->status().to_string();
  server->resume();
}

TEST(RedisAsync, ServerDownFailsInlineAndBreakerOpens) {
  auto server = RedisServer::start();
  uint16_t port = server->port();
  server.reset();  // nobody listens any more
  RedisOptions o = tcp_options(port);
  o.circuit_breaker_threshold = 2;
  auto tier = make_redis_tier(o);
  for (int i = 0; i < 4; ++i) {
    bool called = false;
    auto t0 = Clock::now();
    tier->get_async("k", soon(), [&](Result<RemoteEntry> r) {
      called = true;
      EXPECT_EQ(r.code(), StatusCode::kUnavailable) << r.status().to_string();
    });
    EXPECT_TRUE(called);  // no connection: completed before get_async returned
    EXPECT_LT(ms_since(t0), 500.0);
  }
  EXPECT_GT(tier->stats().breaker_rejections, 0u);
}

TEST(RedisAsync, SyncAndAsyncCallersMixOnSharedPipes) {
  auto server = RedisServer::start();
  RedisOptions o = tcp_options(server->port());
  auto tier = make_redis_tier(o);
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(tier->set("x" + std::to_string(i), std::to_string(i), 0, soon()).is_ok());
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 300; ++i) {
        int k = (i * 7 + t) % 50;
        auto r = tier->get("x" + std::to_string(k), soon());
        if (!r || r->value != std::to_string(k)) ++wrong;
      }
    });
  }
  Completions<Result<RemoteEntry>> gets(2000);
  for (size_t i = 0; i < 2000; ++i) tier->get_async("x" + std::to_string(i % 50), soon(5000), gets.slot(i));
  for (auto& th : threads) th.join();
  ASSERT_TRUE(gets.wait_all());
  for (size_t i = 0; i < 2000; ++i) {
    ASSERT_TRUE(*gets.results[i]) << gets.results[i]->status().to_string();
    EXPECT_EQ((*gets.results[i])->value, std::to_string(i % 50));
  }
  EXPECT_EQ(wrong.load(), 0);
}

TEST(RedisAsync, CacheFacadeBackfillsL1AndHitsCompleteInline) {
  auto server = RedisServer::start();
  auto cache = Cache::open("redis://127.0.0.1:" + std::to_string(server->port()));
  ASSERT_TRUE(cache) << cache.status().to_string();
  Cache& c = **cache;
  ASSERT_TRUE(testing::wait_coherent(c));  // asynchronous calls do not wait for it
  EXPECT_TRUE(c.l2_async_native());
  std::promise<Status> set_done;
  c.set_async("user:1", Payload{Format::kRaw, "alice"}, {}, [&](Status s) { set_done.set_value(s); });
  ASSERT_TRUE(set_done.get_future().get().is_ok());
  c.flush_l1();
  std::promise<Result<ValueRef>> got;
  c.get_async("user:1", {}, [&](Result<ValueRef> r) { got.set_value(std::move(r)); });
  auto r = got.get_future().get();
  ASSERT_TRUE(r) << r.status().to_string();
  EXPECT_EQ(r->data(), "alice");
  EXPECT_EQ(c.stats().l2.hits, 1u);
  // Now in L1: completes inline on this thread.
  bool inline_hit = false;
  c.get_async("user:1", {}, [&](Result<ValueRef> r2) {
    inline_hit = r2.is_ok() && r2->data() == "alice";
  });
  EXPECT_TRUE(inline_hit);
  std::promise<Result<int64_t>> deleted;
  c.del_async({"user:1"}, {}, [&](Result<int64_t> n) { deleted.set_value(std::move(n)); });
  auto n = deleted.get_future().get();
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 1);
  bool missed = false;
  std::promise<void> miss_done;
  c.get_async("user:1", {}, [&](Result<ValueRef> r3) {
    missed = r3.code() == StatusCode::kNotFound;
    miss_done.set_value();
  });
  miss_done.get_future().get();
  EXPECT_TRUE(missed);
  // Invalid arguments complete inline with the error.
  Status too_long;
  c.get_async(std::string(1 << 20, 'k'), {}, [&](Result<ValueRef> r4) { too_long = r4.status(); });
  EXPECT_EQ(too_long.code(), StatusCode::kInvalidArgument);
}

TEST(RedisAsync, ForkedChildUsesItsOwnPipesAndIoThread) {
  auto server = RedisServer::start();
  auto tier = make_redis_tier(tcp_options(server->port()));
  std::promise<Status> warm;
  tier->set_async("f", "parent", 0, soon(), [&](Status s) { warm.set_value(s); });  // starts the I/O thread
  ASSERT_TRUE(warm.get_future().get().is_ok());
  int child_status = run_in_child([&] {
    std::promise<Result<RemoteEntry>> got;
    tier->get_async("f", soon(), [&](Result<RemoteEntry> r) { got.set_value(std::move(r)); });
    auto fut = got.get_future();
    if (fut.wait_for(std::chrono::seconds(3)) != std::future_status::ready) return 2;
    auto r = fut.get();
    return r && r->value == "parent" ? 0 : 3;
  });
  EXPECT_EQ(child_status, 0);
  // The parent's pipe was not disturbed.
  std::promise<Result<RemoteEntry>> got;
  tier->get_async("f", soon(), [&](Result<RemoteEntry> r) { got.set_value(std::move(r)); });
  auto r = got.get_future().get();
  ASSERT_TRUE(r) << r.status().to_string();
  EXPECT_EQ(r->value, "parent");
}

}  // namespace
}  // namespace stratacache
