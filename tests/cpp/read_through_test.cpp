// Read-through (docs/read-through.md, core/src/read_through.hpp) against real
// redis-servers. Two Cache objects on one server stand for two processes (each has its
// own L1, connections and invalidation channel); tests that need a process to die use
// fork().
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "stratacache/cache.hpp"
#include "support/coherent.hpp"
#include "support/redis_server.hpp"
#include "support/open_cache.hpp"

namespace stratacache {
namespace {

using std::chrono::milliseconds;
using testing::RedisServer;
using testing::wait_until;

using testing::open_or_die;

using testing::raw;

// A loader that counts its calls, takes `delay`, and returns `value`.
struct CountingLoader {
  std::atomic<int> calls{0};
  milliseconds delay{0};
  std::string value = "loaded";
  Loader fn() {
    return [this](std::string_view) -> Result<LoadedValue> {
      calls.fetch_add(1);
      std::this_thread::sleep_for(delay);
      return LoadedValue{raw(value), -1};
    };
  }
};

Loader failing(std::atomic<int>* calls) {
  return [calls](std::string_view) -> Result<LoadedValue> {
    calls->fetch_add(1);
    return Status(StatusCode::kLoadFailed, "the database is down");
  };
}

// A loader that counts its calls and says the key does not exist.
Loader absent_loader(std::atomic<int>* calls) {
  return [calls](std::string_view) -> Result<LoadedValue> {
    calls->fetch_add(1);
    return not_found();
  };
}

std::string text(const Result<Loaded>& r) {
  if (r) return std::string(r->value.data());
  return r.code() == StatusCode::kNotFound ? "<not found>" : "<error " + r.status().to_string() + ">";
}

LoadOptions opts(int64_t ttl_ms, int64_t stale_ms = 0) {
  LoadOptions o;
  o.ttl_ms = ttl_ms;
  o.stale_ttl_ms = stale_ms;
  return o;
}

TEST(ReadThroughMem, LoadsOnceThenHits) {
  auto c = open_or_die("mem://");
  CountingLoader l;
  auto first = c->get_or_load("k", l.fn(), opts(60000));
  ASSERT_TRUE(first) << text(first);
  EXPECT_EQ(first->value.data(), "loaded");
  EXPECT_TRUE(first->loaded);
  auto second = c->get_or_load("k", l.fn(), opts(60000));
  ASSERT_TRUE(second);
  EXPECT_FALSE(second->loaded);
  EXPECT_EQ(l.calls.load(), 1);
  // A plain get sees the loaded value.
  auto plain = c->get("k");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->data, "loaded");
  EXPECT_EQ(c->stats().read_through.loads, 1u);
}

TEST(ReadThroughMem, ThreadsShareOneLoad) {
  auto c = open_or_die("mem://");
  CountingLoader l;
  l.delay = milliseconds(100);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 32; ++i) {
    threads.emplace_back([&] {
      auto r = c->get_or_load("cold", l.fn(), opts(60000));
      if (r && r->value.data() == "loaded") ok.fetch_add(1);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(l.calls.load(), 1);
  EXPECT_EQ(ok.load(), 32);
  EXPECT_GE(c->stats().read_through.lease_waits, 1u);
}

TEST(ReadThroughMem, ErrorsAreNotCachedAndWaitersGetThem) {
  auto c = open_or_die("mem://");
  std::atomic<int> calls{0};
  auto r = c->get_or_load("k", failing(&calls), opts(60000));
  EXPECT_EQ(r.code(), StatusCode::kLoadFailed);
  auto again = c->get_or_load("k", failing(&calls), opts(60000));
  EXPECT_EQ(again.code(), StatusCode::kLoadFailed);
  EXPECT_EQ(calls.load(), 2) << "a failure is never cached";
  EXPECT_EQ(c->stats().read_through.load_failures, 2u);
}

TEST(ReadThroughMem, NegativeEntries) {
  auto c = open_or_die("mem://");
  std::atomic<int> calls{0};
  Loader absent = absent_loader(&calls);
  LoadOptions o = opts(60000);
  o.negative_ttl_ms = 300;
  EXPECT_EQ(c->get_or_load("ghost", absent, o).code(), StatusCode::kNotFound);
  EXPECT_EQ(c->get_or_load("ghost", absent, o).code(), StatusCode::kNotFound);
  EXPECT_EQ(calls.load(), 1) << "remembered for negative_ttl";
  EXPECT_EQ(c->get("ghost").code(), StatusCode::kNotFound) << "a plain get: a miss";
  EXPECT_EQ(c->stats().read_through.negative_hits, 1u);
  ASSERT_TRUE(wait_until([&] {
    (void)c->get_or_load("ghost", absent, o);
    return calls.load() == 2;
  }, milliseconds(3000)));
  // Without negative_ttl nothing is remembered.
  o.negative_ttl_ms = 0;
  EXPECT_EQ(c->get_or_load("ghost2", absent, o).code(), StatusCode::kNotFound);
  EXPECT_EQ(c->get_or_load("ghost2", absent, o).code(), StatusCode::kNotFound);
  EXPECT_EQ(calls.load(), 4);
}

TEST(ReadThroughMem, StaleServedWhenTheReloadFails) {
  auto c = open_or_die("mem://");
  CountingLoader l;
  l.value = "v1";
  ASSERT_TRUE(c->get_or_load("k", l.fn(), opts(100, 60000)));
  std::this_thread::sleep_for(milliseconds(150));
  EXPECT_EQ(c->get("k").code(), StatusCode::kNotFound) << "past its fresh period, a plain get misses";
  std::atomic<int> failures{0};
  auto r = c->get_or_load("k", failing(&failures), opts(100, 60000));
  ASSERT_TRUE(r) << text(r);
  EXPECT_EQ(r->value.data(), "v1");
  EXPECT_TRUE(r->stale);
  EXPECT_EQ(failures.load(), 1);
  EXPECT_EQ(c->stats().read_through.stale_served, 1u);
  // The failure is not cached: the next call reloads.
  l.value = "v2";
  auto next = c->get_or_load("k", l.fn(), opts(100, 60000));
  ASSERT_TRUE(next);
  EXPECT_EQ(next->value.data(), "v2");
  EXPECT_FALSE(next->stale);
}

TEST(ReadThroughMem, LeaseForm) {
  auto c = open_or_die("mem://");
  Lookup first = c->acquire("k", opts(60000));
  ASSERT_TRUE(first.lease);
  EXPECT_EQ(first.value.code(), StatusCode::kNotFound);
  // A second caller waits for the lease, which another thread fills.
  auto waiter = std::async(std::launch::async, [&] { return c->acquire("k", opts(60000)); });
  std::this_thread::sleep_for(milliseconds(50));
  auto filled = first.lease->fill(raw("from lease"));
  ASSERT_TRUE(filled) << filled.status().to_string();
  Lookup second = waiter.get();
  EXPECT_FALSE(second.lease);
  ASSERT_TRUE(second.value) << text(second.value);
  EXPECT_EQ(second.value->value.data(), "from lease");
  // A filled lease cannot be filled again.
  EXPECT_EQ(first.lease->fill(raw("again")).code(), StatusCode::kInvalidArgument);
}

TEST(ReadThroughMem, DroppedLeaseLetsAWaiterLoad) {
  auto c = open_or_die("mem://");
  Lookup first = c->acquire("k", opts(60000));
  ASSERT_TRUE(first.lease);
  auto waiter = std::async(std::launch::async, [&] {
    LoadOptions o = opts(60000);
    return c->acquire("k", o);
  });
  std::this_thread::sleep_for(milliseconds(50));
  first.lease->abandon(Status(StatusCode::kAborted, "not cached"));
  Lookup second = waiter.get();
  EXPECT_TRUE(second.lease) << "kAborted: the waiter looks again and loads itself";
}

TEST(ReadThroughMem, HardTimeoutBoundsTheWait) {
  auto c = open_or_die("mem://");
  Lookup holder = c->acquire("k", opts(60000));
  ASSERT_TRUE(holder.lease);
  LoadOptions o = opts(60000);
  o.hard_timeout = milliseconds(100);
  auto t0 = std::chrono::steady_clock::now();
  Lookup waiter = c->acquire("k", o);
  auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(waiter.value.code(), StatusCode::kTimeout);
  EXPECT_FALSE(waiter.lease);
  EXPECT_GE(waited, milliseconds(90));
  EXPECT_LT(waited, milliseconds(1000));
}

TEST(ReadThroughMem, AsyncAcquireCompletesOnFill) {
  auto c = open_or_die("mem://");
  Lookup holder = c->acquire("k", opts(60000));
  ASSERT_TRUE(holder.lease);
  std::promise<Lookup> got;
  c->acquire_async("k", opts(60000), [&](Lookup l) { got.set_value(std::move(l)); });
  auto fut = got.get_future();
  EXPECT_EQ(fut.wait_for(milliseconds(50)), std::future_status::timeout) << "waits for the holder";
  ASSERT_TRUE(holder.lease->fill(raw("v")));
  ASSERT_EQ(fut.wait_for(milliseconds(2000)), std::future_status::ready);
  Lookup l = fut.get();
  ASSERT_TRUE(l.value);
  EXPECT_EQ(l.value->value.data(), "v");
}

TEST(ReadThroughMem, AsyncWaitEndsAtItsDeadline) {
  auto c = open_or_die("mem://");
  Lookup holder = c->acquire("k", opts(60000));
  std::promise<Lookup> got;
  LoadOptions o = opts(60000);
  o.hard_timeout = milliseconds(100);
  c->acquire_async("k", o, [&](Lookup l) { got.set_value(std::move(l)); });
  auto fut = got.get_future();
  ASSERT_EQ(fut.wait_for(milliseconds(2000)), std::future_status::ready);
  EXPECT_EQ(fut.get().value.code(), StatusCode::kTimeout);
}

TEST(ReadThroughMem, JitterShortensTtls) {
  auto c = open_or_die("mem://?ttl_jitter=0.5&l1_max_entries=10000");
  CallOptions call;
  call.ttl_ms = 100000;
  int64_t lo = INT64_MAX, hi = 0;
  for (int i = 0; i < 200; ++i) {
    std::string k = "j" + std::to_string(i);
    ASSERT_TRUE(c->set(k, raw("x"), call));
    auto t = c->ttl_ms(k);
    ASSERT_TRUE(t);
    lo = std::min(lo, *t);
    hi = std::max(hi, *t);
  }
  EXPECT_LE(hi, 100000);
  EXPECT_GE(lo, 50000 - 100);
  EXPECT_LT(lo, 60000) << "spread over the lower half";
  EXPECT_GT(hi, 90000);
}

// ---- With Redis ----

class ReadThroughRedis : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = RedisServer::start();
    ASSERT_TRUE(server_);
  }
  std::unique_ptr<Cache> open(const std::string& query = "") {
    std::string q = "prefix=rt:" + std::string(query.empty() ? "" : "&") + query;
    return open_or_die(server_->url("", 0, q));
  }
  std::unique_ptr<RedisServer> server_;
};

TEST_F(ReadThroughRedis, TwoProcessesShareOneLoad) {
  auto a = open();
  auto b = open();
  CountingLoader l;
  l.delay = milliseconds(300);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 16; ++i) {
    Cache* c = i % 2 ? a.get() : b.get();
    threads.emplace_back([&, c] {
      auto r = c->get_or_load("cold", l.fn(), opts(60000));
      if (r && r->value.data() == "loaded") ok.fetch_add(1);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(l.calls.load(), 1);
  EXPECT_EQ(ok.load(), 16);
  EXPECT_EQ(server_->cli({"EXISTS", "rt:cold"}), "1");
  EXPECT_EQ(server_->cli({"KEYS", "rt:cold~lease*"}), "") << "the lease is gone once filled";
}

TEST_F(ReadThroughRedis, WaiterWokenWithoutPolling) {
  // The waiting process hears of the fill through its invalidation channel.
  auto a = open();
  auto b = open();
  Lookup holder = a->acquire("k", opts(60000));
  ASSERT_TRUE(holder.lease);
  auto waiter = std::async(std::launch::async, [&] { return b->acquire("k", opts(60000)); });
  std::this_thread::sleep_for(milliseconds(300));
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(holder.lease->fill(raw("v")));
  Lookup w = waiter.get();
  auto woke = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(w.value) << text(w.value);
  EXPECT_EQ(w.value->value.data(), "v");
  EXPECT_FALSE(w.lease);
  EXPECT_LT(woke, milliseconds(200));
  EXPECT_EQ(b->stats().read_through.lease_waits, 1u);
}

TEST_F(ReadThroughRedis, WaiterWithoutChannelPolls) {
  auto a = open("l1_coherence=off");
  auto b = open("l1_coherence=off");
  Lookup holder = a->acquire("k", opts(60000));
  ASSERT_TRUE(holder.lease);
  auto waiter = std::async(std::launch::async, [&] { return b->acquire("k", opts(60000)); });
  std::this_thread::sleep_for(milliseconds(300));
  ASSERT_TRUE(holder.lease->fill(raw("v")));
  Lookup w = waiter.get();
  ASSERT_TRUE(w.value) << text(w.value);
  EXPECT_EQ(w.value->value.data(), "v");
}

TEST_F(ReadThroughRedis, DeadHolderIsTakenOver) {
  // A child process takes the lease and is killed (SIGKILL) before it fills it.
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "TSan cannot start threads in the child of a multi-threaded fork";
#endif
  std::string url = server_->url("", 0, "prefix=rt:");
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto c = Cache::open(url);
    LoadOptions o = opts(60000);
    o.lease_ttl = milliseconds(800);
    Lookup l = (*c)->acquire("k", o);
    char ok = l.lease ? '1' : '0';
    (void)!write(pipefd[1], &ok, 1);
    raise(SIGKILL);
  }
  char ok = 0;
  ASSERT_EQ(read(pipefd[0], &ok, 1), 1);
  ASSERT_EQ(ok, '1');
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  auto c = open();
  CountingLoader l;
  LoadOptions o = opts(60000);
  o.hard_timeout = milliseconds(3000);
  auto t0 = std::chrono::steady_clock::now();
  auto r = c->get_or_load("k", l.fn(), o);
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(r) << text(r);
  EXPECT_EQ(l.calls.load(), 1);
  EXPECT_LT(took, milliseconds(800 + 3000));
  EXPECT_EQ(c->stats().read_through.lease_takeovers, 1u);
}

TEST_F(ReadThroughRedis, LateFillLosesToNewerOne) {
  auto a = open();
  auto b = open();
  LoadOptions o = opts(60000);
  o.lease_ttl = milliseconds(200);
  Lookup old = a->acquire("k", o);
  ASSERT_TRUE(old.lease);
  std::this_thread::sleep_for(milliseconds(300));  // a's lease runs out
  Lookup fresh = b->acquire("k", o);
  ASSERT_TRUE(fresh.lease) << "taken over";
  ASSERT_TRUE(fresh.lease->fill(raw("new")));
  auto late = old.lease->fill(raw("old"));
  EXPECT_EQ(late.code(), StatusCode::kAborted);
  EXPECT_EQ(a->stats().read_through.fills_refused, 1u);
  auto seen = a->get("k");
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->data, "new");
  auto c = open();
  EXPECT_EQ(c->get("k")->data, "new");
}

TEST_F(ReadThroughRedis, NegativeEntryReachesOtherProcesses) {
  auto a = open();
  auto b = open();
  std::atomic<int> calls{0};
  Loader absent = absent_loader(&calls);
  LoadOptions o = opts(60000);
  o.negative_ttl_ms = 5000;
  EXPECT_EQ(a->get_or_load("ghost", absent, o).code(), StatusCode::kNotFound);
  EXPECT_EQ(b->get_or_load("ghost", absent, o).code(), StatusCode::kNotFound);
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(b->get("ghost").code(), StatusCode::kNotFound);
  auto pttl = std::stoll(server_->cli({"PTTL", "rt:ghost"}));
  EXPECT_GT(pttl, 0);
  EXPECT_LE(pttl, 5000);
}

TEST_F(ReadThroughRedis, StaleServedWhenRedisIsKilled) {
  auto c = open("socket_timeout=0.3&circuit_breaker_threshold=1");
  CountingLoader l;
  l.value = "v1";
  ASSERT_TRUE(c->get_or_load("k", l.fn(), opts(200, 60000)));
  std::this_thread::sleep_for(milliseconds(300));
  server_->kill9();
  // The coherence channel is lost: L1 keeps the value only as a fail-safe (stale) copy.
  ASSERT_TRUE(wait_until([&] { return !c->health().coherence_up; }));
  EXPECT_EQ(c->get("k").code() == StatusCode::kOk, false);
  LoadOptions o = opts(200, 60000);
  o.hard_timeout = milliseconds(500);
  auto t0 = std::chrono::steady_clock::now();
  auto r = c->get_or_load("k", l.fn(), o);
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(r) << text(r);
  EXPECT_EQ(r->value.data(), "v1");
  EXPECT_TRUE(r->stale);
  EXPECT_EQ(l.calls.load(), 1) << "Redis failing with a stale value in hand: serve it";
  EXPECT_LT(took, milliseconds(600));
}

TEST_F(ReadThroughRedis, StaleServedWhenRedisIsFrozen) {
  auto c = open("socket_timeout=0.3");
  CountingLoader l;
  l.value = "v1";
  ASSERT_TRUE(c->get_or_load("k", l.fn(), opts(200, 60000)));
  std::this_thread::sleep_for(milliseconds(300));
  server_->pause();
  LoadOptions o = opts(200, 60000);
  o.hard_timeout = milliseconds(400);
  auto t0 = std::chrono::steady_clock::now();
  auto r = c->get_or_load("k", l.fn(), o);
  auto took = std::chrono::steady_clock::now() - t0;
  server_->resume();
  ASSERT_TRUE(r) << text(r);
  EXPECT_EQ(r->value.data(), "v1");
  EXPECT_TRUE(r->stale);
  EXPECT_LT(took, milliseconds(900));
}

TEST_F(ReadThroughRedis, StaleSeenByAnotherProcessAfterLoaderFailure) {
  auto a = open();
  auto b = open();
  CountingLoader l;
  l.value = "v1";
  ASSERT_TRUE(a->get_or_load("k", l.fn(), opts(200, 60000)));
  std::this_thread::sleep_for(milliseconds(300));
  std::atomic<int> failures{0};
  auto r = b->get_or_load("k", failing(&failures), opts(200, 60000));
  ASSERT_TRUE(r) << text(r);
  EXPECT_TRUE(r->stale);
  EXPECT_EQ(r->value.data(), "v1");
  EXPECT_EQ(server_->cli({"KEYS", "rt:k~lease*"}), "") << "the failed load released its lease";
}

TEST_F(ReadThroughRedis, SoftTimeoutServesStaleWhileAnotherLoads) {
  auto a = open();
  auto b = open();
  CountingLoader l;
  l.value = "v1";
  ASSERT_TRUE(a->get_or_load("k", l.fn(), opts(200, 60000)));
  std::this_thread::sleep_for(milliseconds(300));
  Lookup loader = a->acquire("k", opts(200, 60000));
  ASSERT_TRUE(loader.lease);
  ASSERT_TRUE(loader.value);
  EXPECT_TRUE(loader.value->stale) << "the loader gets the stale value to fall back on";
  LoadOptions o = opts(200, 60000);
  o.soft_timeout = milliseconds(100);
  auto t0 = std::chrono::steady_clock::now();
  Lookup w = b->acquire("k", o);
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(w.value);
  EXPECT_TRUE(w.value->stale);
  EXPECT_FALSE(w.lease);
  EXPECT_GE(took, milliseconds(90));
  EXPECT_LT(took, milliseconds(1000));
  ASSERT_TRUE(loader.lease->fill(raw("v2")));
  l.value = "not loaded again";
  EXPECT_EQ(b->get_or_load("k", l.fn(), opts(200, 60000))->value.data(), "v2");
  b->flush_l1();
  EXPECT_EQ(b->get_or_load("k", l.fn(), opts(200, 60000))->value.data(), "v2");
}

TEST_F(ReadThroughRedis, JitterSpreadsRedisTtls) {
  auto c = open("ttl_jitter=0.5");
  CallOptions call;
  call.ttl_ms = 100000;
  int64_t lo = INT64_MAX, hi = 0;
  for (int i = 0; i < 100; ++i) {
    std::string k = "j" + std::to_string(i);
    ASSERT_TRUE(c->set(k, raw("x"), call));
    int64_t pttl = std::stoll(server_->cli({"PTTL", "rt:" + k}));
    lo = std::min(lo, pttl);
    hi = std::max(hi, pttl);
  }
  EXPECT_LE(hi, 100000);
  EXPECT_GE(lo, 50000 - 1000);
  EXPECT_LT(lo, 60000);
  EXPECT_GT(hi, 90000);
  // Read-through fills are jittered too (the fresh period; the stale one follows it).
  CountingLoader l;
  lo = INT64_MAX, hi = 0;
  for (int i = 0; i < 100; ++i) {
    std::string k = "r" + std::to_string(i);
    ASSERT_TRUE(c->get_or_load(k, l.fn(), opts(100000)));
    int64_t pttl = std::stoll(server_->cli({"PTTL", "rt:" + k}));
    lo = std::min(lo, pttl);
    hi = std::max(hi, pttl);
  }
  EXPECT_LT(lo, 60000);
  EXPECT_GT(hi, 90000);
}

// A caller waiting asynchronously for a load in its own process, while that process's
// leader waits for another process's lease: the wake that ends the leader's wait must
// not end the asynchronous caller's (it waits for the outcome, not for a change).
TEST_F(ReadThroughRedis, AsyncJoinerOfARemoteWaitGetsTheValue) {
  auto a = open();
  auto b = open();
  Lookup holder = a->acquire("k", opts(60000));
  ASSERT_TRUE(holder.lease);
  auto leader = std::async(std::launch::async, [&] { return b->acquire("k", opts(60000)); });
  ASSERT_TRUE(wait_until([&] { return b->stats().read_through.lease_waits >= 1; }));
  std::promise<Lookup> got;
  b->acquire_async("k", opts(60000), [&](Lookup l) { got.set_value(std::move(l)); });
  ASSERT_TRUE(wait_until([&] { return b->stats().read_through.lease_waits >= 2; }));
  (void)server_->cli({"SET", "rt:unrelated", "x"});
  ASSERT_TRUE(holder.lease->fill(raw("v")));
  Lookup l = got.get_future().get();
  ASSERT_TRUE(l.value) << text(l.value);
  EXPECT_EQ(l.value->value.data(), "v");
  Lookup lead = leader.get();
  ASSERT_TRUE(lead.value) << text(lead.value);
  EXPECT_EQ(lead.value->value.data(), "v");
}

// Fencing against changes: a write or delete of the key while it loads (here, or in
// another process through the invalidation channel) means the load may have read older
// data; its fill stores nothing and the next reader loads again.
TEST_F(ReadThroughRedis, ChangeDuringLoadRefusesTheFill) {
  auto a = open();
  auto b = open();
  Lookup mine = a->acquire("k", opts(60000));
  ASSERT_TRUE(mine.lease);
  ASSERT_TRUE(b->set("k", raw("written meanwhile")));
  ASSERT_TRUE(wait_until([&] { return a->stats().l1.invalidations >= 1; }));
  EXPECT_EQ(mine.lease->fill(raw("loaded before")).code(), StatusCode::kAborted);
  EXPECT_EQ(a->get("k")->data, "written meanwhile");
  EXPECT_EQ(b->get("k")->data, "written meanwhile");
  // In this process: a delete while loading.
  Lookup again = a->acquire("d", opts(60000));
  ASSERT_TRUE(again.lease);
  ASSERT_TRUE(a->del("d"));
  EXPECT_EQ(again.lease->fill(raw("old")).code(), StatusCode::kAborted);
  EXPECT_EQ(a->get("d").code(), StatusCode::kNotFound);
  EXPECT_EQ(server_->cli({"KEYS", "rt:d~lease*"}), "") << "the refused fill released its lease";
  // get_or_load still answers its own caller with what it loaded.
  Loader racing = [&](std::string_view) -> Result<LoadedValue> {
    (void)b->set("r", raw("newer"));
    std::this_thread::sleep_for(milliseconds(100));
    return LoadedValue{raw("older"), -1};
  };
  auto r = a->get_or_load("r", racing, opts(60000));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->value.data(), "older");
  EXPECT_EQ(b->get("r")->data, "newer");
}

// A lease given back just before its cache closes still reaches Redis: the next process
// loads at once instead of after lease_ttl.
TEST_F(ReadThroughRedis, LeaseGivenBackAtCloseReachesRedis) {
  LoadOptions o = opts(60000);
  o.lease_ttl = milliseconds(20000);
  for (int i = 0; i < 5; ++i) {
    std::string key = "closing" + std::to_string(i);
    {
      auto a = open();
      Lookup l = a->acquire(key, o);
      ASSERT_TRUE(l.lease);
      l.lease.reset();  // abandoned: the release is sent without waiting
    }                   // and the cache closes right away
    auto b = open();
    auto t0 = std::chrono::steady_clock::now();
    Lookup next = b->acquire(key, o);
    EXPECT_TRUE(next.lease) << key;
    EXPECT_LT(std::chrono::steady_clock::now() - t0, milliseconds(2000));
  }
}

// A change seen while waiting for another process's lease (here the key expiring) does
// not fence the load this caller makes after it takes the lease over.
TEST_F(ReadThroughRedis, ChangeBeforeTheLoadDoesNotRefuseIt) {
  auto a = open();
  auto b = open();
  CountingLoader l;
  l.value = "v1";
  ASSERT_TRUE(a->get_or_load("e", l.fn(), opts(100, 300)));
  ASSERT_TRUE(b->get_or_load("e", l.fn(), opts(100, 300)));  // b reads (and tracks) it too
  std::this_thread::sleep_for(milliseconds(150));                // stale now
  LoadOptions o = opts(100, 300);
  o.lease_ttl = milliseconds(800);
  o.hard_timeout = milliseconds(3000);
  Lookup holder = a->acquire("e", o);  // a takes the lease and never fills it
  ASSERT_TRUE(holder.lease);
  l.value = "v2";
  auto r = b->get_or_load("e", l.fn(), o);  // waits; "e" expires meanwhile; takes over
  ASSERT_TRUE(r) << text(r);
  EXPECT_EQ(r->value.data(), "v2");
  EXPECT_TRUE(r->loaded);
  EXPECT_EQ(b->stats().read_through.fills_refused, 0u);
  EXPECT_EQ(server_->cli({"GET", "rt:e"}).find("v2") != std::string::npos, true) << "stored";
  holder.lease->abandon(Status(StatusCode::kLoadFailed, "gave up"));
}

TEST_F(ReadThroughRedis, LoadTimeIsStoredWithTheEntry) {
  auto a = open();
  CountingLoader l;
  l.delay = milliseconds(120);
  ASSERT_TRUE(a->get_or_load("k", l.fn(), opts(60000, 1000)));
  auto pttl = std::stoll(server_->cli({"PTTL", "rt:k"}));
  EXPECT_GT(pttl, 60000) << "the Redis TTL covers the stale period";
  EXPECT_LE(pttl, 61000);
}

// On a Cluster the lease lives in its key's hash slot (a chosen hash tag), so the lease
// and fill scripts, which name both keys, run on every master without CROSSSLOT.
TEST(ReadThroughCluster, OneLoadPerKeyOnEveryMaster) {
  auto cluster = testing::RedisCluster::start(3, 0);
  ASSERT_TRUE(cluster);
  auto a = open_or_die(cluster->url("prefix=rt:"));
  auto b = open_or_die(cluster->url("prefix=rt:"));
  std::vector<std::string> keys;
  for (int i = 0; i < 24; ++i) keys.push_back("key" + std::to_string(i));
  keys.push_back("{tagged}.one");  // a key with its own hash tag
  std::atomic<int> loads{0}, ok{0};
  Loader load = [&](std::string_view k) -> Result<LoadedValue> {
    loads.fetch_add(1);
    std::this_thread::sleep_for(milliseconds(50));
    return LoadedValue{raw("v:" + std::string(k)), -1};
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    Cache* c = t % 2 ? a.get() : b.get();
    threads.emplace_back([&, c] {
      for (auto& k : keys) {
        auto r = c->get_or_load(k, load, opts(60000));
        if (r && r->value.data() == "v:" + k) ok.fetch_add(1);
        else ADD_FAILURE() << k << ": " << text(r);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(loads.load(), static_cast<int>(keys.size()));
  EXPECT_EQ(ok.load(), static_cast<int>(8 * keys.size()));
  EXPECT_EQ(a->stats().l2.errors + b->stats().l2.errors, 0u);
}

// Early refresh (XFetch): one hot key, TTL 1 s, a 50 ms loader, 16 threads for 30 s.
// Refreshes are handed to a caller as a lease with refresh() true, which hands it to a
// worker thread (the host's "background") and returns the current value at once.
TEST_F(ReadThroughRedis, EarlyRefreshKeepsAHotKeyFresh) {
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "30 s of 16 threads, a timing test: the sanitizers run the shorter read-through tests";
#endif
  auto c = open();
  std::atomic<int> loads{0};
  auto load = [&] {
    loads.fetch_add(1);
    std::this_thread::sleep_for(milliseconds(50));
    return raw("v" + std::to_string(loads.load()));
  };
  LoadOptions o = opts(1000);
  o.early_refresh = 1.0;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::unique_ptr<Lease>> refreshes;
  std::atomic<bool> stop{false};
  std::thread worker([&] {
    for (;;) {
      std::unique_ptr<Lease> lease;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return stop || !refreshes.empty(); });
        if (refreshes.empty()) return;
        lease = std::move(refreshes.front());
        refreshes.pop_front();
      }
      (void)lease->fill(load());
    }
  });
  // The first load.
  Lookup first = c->acquire("hot", o);
  ASSERT_TRUE(first.lease);
  ASSERT_TRUE(first.lease->fill(load()));
  std::atomic<int> waited{0}, calls{0};
  std::atomic<int64_t> worst_us{0};
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&] {
      while (std::chrono::steady_clock::now() < until) {
        auto t0 = std::chrono::steady_clock::now();
        Lookup l = c->acquire("hot", o);
        auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count();
        calls.fetch_add(1);
        int64_t prev = worst_us.load();
        while (us > prev && !worst_us.compare_exchange_weak(prev, us)) {
        }
        if (!l.value) waited.fetch_add(1);  // had nothing to serve: waited for or ran a load
        if (l.lease) {
          if (!l.lease->refresh()) waited.fetch_add(1);
          std::lock_guard<std::mutex> lock(mu);
          refreshes.push_back(std::move(l.lease));
          cv.notify_one();
        }
        std::this_thread::sleep_for(milliseconds(1));
      }
    });
  }
  for (auto& t : threads) t.join();
  {
    std::lock_guard<std::mutex> lock(mu);
    stop = true;
  }
  cv.notify_all();
  worker.join();
  auto st = c->stats().read_through;
  std::printf("early refresh: %d calls, %d loads in 30 s (TTL 1 s), %llu early refreshes, worst call %lld us\n",
              calls.load(), loads.load(), static_cast<unsigned long long>(st.early_refreshes),
              static_cast<long long>(worst_us.load()));
  EXPECT_EQ(waited.load(), 0) << "after the first load nobody waits for a load";
  EXPECT_EQ(st.lease_waits, 0u);
  EXPECT_GE(loads.load(), 25);   // about once per TTL (30 s / 1 s), early
  EXPECT_LE(loads.load(), 60);
}

}  // namespace
}  // namespace stratacache
