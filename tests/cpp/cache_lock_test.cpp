// Distributed locks (docs/locks.md, core/src/lock.hpp) in process (mem://) and against
// real redis-servers. Several Cache objects on one server stand for several processes
// (each has its own connections and invalidation channel).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
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
using Clock = std::chrono::steady_clock;
using LockPtr = std::unique_ptr<DistributedLock>;

using testing::open_or_die;

LockOptions lock_opts(int64_t ttl_ms, int64_t wait_ms = 0) {
  LockOptions o;
  o.ttl = milliseconds(ttl_ms);
  o.wait = milliseconds(wait_ms);
  return o;
}

int64_t ms_since(Clock::time_point t0) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - t0).count();
}

// Read-modify-write of a counter in the cache, under the lock, from `threads` threads
// spread over `caches`: no update may be lost. The counter is read from Redis
// (skip_l1): coherent L1 is asynchronous (docs/locks.md, "What to protect").
void count_under_lock(const std::vector<Cache*>& caches, int threads, int rounds, const std::string& name) {
  std::atomic<int> failures{0};
  std::vector<std::thread> ts;
  CallOptions direct;
  direct.skip_l1 = caches[0]->options().redis.transport != RedisOptions::Transport::kNone;  // mem:: has only L1
  for (int t = 0; t < threads; ++t) {
    Cache* c = caches[t % caches.size()];
    ts.emplace_back([&, c] {
      for (int i = 0; i < rounds; ++i) {
        auto l = c->lock(name, lock_opts(10000, 20000));
        if (!l) {
          failures.fetch_add(1);
          ADD_FAILURE() << l.status().to_string();
          continue;
        }
        auto v = c->get(name + ":count", direct);
        int n = v ? std::stoi(v->data) : 0;
        std::this_thread::yield();
        if (!c->set(name + ":count", Payload{Format::kRaw, std::to_string(n + 1)}, direct).is_ok()) failures.fetch_add(1);
        if (!(*l)->release().is_ok()) failures.fetch_add(1);
      }
    });
  }
  for (auto& t : ts) t.join();
  auto v = caches[0]->get(name + ":count", direct);
  ASSERT_TRUE(v) << v.status().to_string();
  EXPECT_EQ(std::stoi(v->data), threads * rounds);
  EXPECT_EQ(failures.load(), 0);
}

// ---- mem:// ----

TEST(CacheLockMem, AcquireReleaseAndFenceIncreases) {
  auto c = open_or_die("mem://");
  auto a = c->lock("job", lock_opts(10000));
  ASSERT_TRUE(a) << a.status().to_string();
  EXPECT_EQ((*a)->name(), "job");
  auto busy = c->lock("job", lock_opts(10000));
  EXPECT_EQ(busy.code(), StatusCode::kTimeout);
  uint64_t first = (*a)->fence();
  EXPECT_TRUE((*a)->release().is_ok());
  EXPECT_EQ((*a)->release().code(), StatusCode::kInvalidArgument) << "released twice";
  auto b = c->lock("job", lock_opts(10000));
  ASSERT_TRUE(b);
  EXPECT_GT((*b)->fence(), first);
  auto other = c->lock("other", lock_opts(10000));
  EXPECT_TRUE(other) << "names are independent";
  auto s = c->stats().lock;
  EXPECT_EQ(s.acquired, 3u);
  EXPECT_EQ(s.contended, 1u);
  EXPECT_EQ(s.timeouts, 1u);
}

TEST(CacheLockMem, BadArgumentsAreRefused) {
  auto c = open_or_die("mem://");
  EXPECT_EQ(c->lock("x", lock_opts(0)).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c->lock("x", lock_opts(1000, -1)).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c->lock(std::string(5000, 'k'), lock_opts(1000)).code(), StatusCode::kInvalidArgument);
  auto l = c->lock("x", lock_opts(1000));
  ASSERT_TRUE(l);
  EXPECT_EQ((*l)->extend(milliseconds(0)).code(), StatusCode::kInvalidArgument);
}

TEST(CacheLockMem, WaiterWokenByRelease) {
  auto c = open_or_die("mem://");
  auto a = c->lock("job", lock_opts(60000));
  ASSERT_TRUE(a);
  Clock::time_point released;
  auto waiter = std::async(std::launch::async, [&] { return c->lock("job", lock_opts(60000, 10000)); });
  std::this_thread::sleep_for(milliseconds(200));
  released = Clock::now();
  ASSERT_TRUE((*a)->release().is_ok());
  auto b = waiter.get();
  ASSERT_TRUE(b) << b.status().to_string();
  EXPECT_LT(ms_since(released), 50);
}

TEST(CacheLockMem, ExpiredLockIsTakenAndTheOldOwnerRefused) {
  auto c = open_or_die("mem://");
  auto a = c->lock("job", lock_opts(200));
  ASSERT_TRUE(a);
  auto t0 = Clock::now();
  auto b = c->lock("job", lock_opts(60000, 5000));
  ASSERT_TRUE(b) << b.status().to_string();
  EXPECT_GE(ms_since(t0), 150);
  EXPECT_LT(ms_since(t0), 1000) << "woken at the holder's expiry, not at the end of the wait";
  EXPECT_GT((*b)->fence(), (*a)->fence());
  EXPECT_EQ((*a)->extend(milliseconds(1000)).code(), StatusCode::kAborted);
  EXPECT_EQ((*a)->release().code(), StatusCode::kAborted);
  EXPECT_TRUE((*b)->extend(milliseconds(60000)).is_ok()) << "the new owner still holds it";
  EXPECT_EQ(c->stats().lock.lost, 2u);
}

TEST(CacheLockMem, ThreadsExcludeEachOther) {
  auto c = open_or_die("mem://");
  count_under_lock({c.get()}, 8, 50, "ctr");
}

TEST(CacheLockMem, AsyncAcquireCompletesOnRelease) {
  auto c = open_or_die("mem://");
  auto a = c->lock("job", lock_opts(60000));
  ASSERT_TRUE(a);
  std::promise<Result<LockPtr>> got;
  c->lock_async("job", lock_opts(60000, 5000), [&](Result<LockPtr> r) { got.set_value(std::move(r)); });
  auto f = got.get_future();
  EXPECT_EQ(f.wait_for(milliseconds(100)), std::future_status::timeout) << "still held";
  ASSERT_TRUE((*a)->release().is_ok());
  ASSERT_EQ(f.wait_for(milliseconds(2000)), std::future_status::ready);
  auto b = f.get();
  ASSERT_TRUE(b) << b.status().to_string();
  std::promise<Status> rel;
  (*b)->release_async([&](Status s) { rel.set_value(std::move(s)); });
  EXPECT_TRUE(rel.get_future().get().is_ok());
}

TEST(CacheLockMem, AsyncWaitEndsAtItsDeadline) {
  auto c = open_or_die("mem://");
  auto a = c->lock("job", lock_opts(60000));
  ASSERT_TRUE(a);
  std::promise<Result<LockPtr>> got;
  auto t0 = Clock::now();
  c->lock_async("job", lock_opts(60000, 200), [&](Result<LockPtr> r) { got.set_value(std::move(r)); });
  auto r = got.get_future().get();
  EXPECT_EQ(r.code(), StatusCode::kTimeout);
  EXPECT_GE(ms_since(t0), 180);
  EXPECT_LT(ms_since(t0), 1000);
}

TEST(CacheLockMem, DroppedLockIsReleased) {
  auto c = open_or_die("mem://");
  {
    auto a = c->lock("job", lock_opts(60000));
    ASSERT_TRUE(a);
  }
  EXPECT_TRUE(c->lock("job", lock_opts(60000)));
}

// ---- Redis ----

class CacheLockRedis : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = RedisServer::start();
    ASSERT_TRUE(server_);
  }
  std::unique_ptr<Cache> open(const std::string& query = "") {
    std::string q = "prefix=lk:" + std::string(query.empty() ? "" : "&") + query;
    return open_or_die(server_->url("", 0, q));
  }
  std::unique_ptr<RedisServer> server_;
};

TEST_F(CacheLockRedis, HandlesExcludeEachOther) {
  std::vector<std::unique_ptr<Cache>> caches;
  std::vector<Cache*> raw;
  for (int i = 0; i < 4; ++i) {
    caches.push_back(open());
    raw.push_back(caches.back().get());
  }
  count_under_lock(raw, 16, 15, "ctr");
  EXPECT_EQ(server_->cli({"EXISTS", "lk:~lock:ctr"}), "0") << "released";
}

TEST_F(CacheLockRedis, KeysInRedis) {
  auto c = open();
  auto l = c->lock("job", lock_opts(30000));
  ASSERT_TRUE(l) << l.status().to_string();
  std::string token = server_->cli({"GET", "lk:~lock:job"});
  EXPECT_EQ(token.size(), 32u);
  int64_t pttl = std::stoll(server_->cli({"PTTL", "lk:~lock:job"}));
  EXPECT_GT(pttl, 29000);
  EXPECT_LE(pttl, 30000);
  EXPECT_EQ(server_->cli({"KEYS", "lk:~lock:job~fence*"}).empty(), false) << "the fence counter exists";
  ASSERT_TRUE((*l)->extend(milliseconds(90000)).is_ok());
  EXPECT_GT(std::stoll(server_->cli({"PTTL", "lk:~lock:job"})), 60000);
  ASSERT_TRUE((*l)->release().is_ok());
  EXPECT_EQ(server_->cli({"EXISTS", "lk:~lock:job"}), "0");
}

TEST_F(CacheLockRedis, WaiterWokenPromptlyByRelease) {
  auto a = open();
  auto b = open();
  ASSERT_TRUE(testing::wait_coherent(*b));
  auto held = a->lock("job", lock_opts(60000));
  ASSERT_TRUE(held);
  std::atomic<int64_t> released_at{0};
  auto waiter = std::async(std::launch::async, [&] {
    auto r = b->lock("job", lock_opts(60000, 10000));
    return std::make_pair(std::move(r), Clock::now());
  });
  std::this_thread::sleep_for(milliseconds(500));  // the waiter sleeps (its backoff would be at 200 ms)
  auto t0 = Clock::now();
  ASSERT_TRUE((*held)->release().is_ok());
  auto [r, woke] = waiter.get();
  ASSERT_TRUE(r) << r.status().to_string();
  auto took = std::chrono::duration_cast<milliseconds>(woke - t0).count();
  EXPECT_LT(took, 60) << "woken by the invalidation, well under the 200 ms poll cap";
  EXPECT_EQ(b->stats().lock.contended, 1u);
  EXPECT_GT((*r)->fence(), (*held)->fence());
}

TEST_F(CacheLockRedis, ExpiredHolderIsSucceededAfterItsTtl) {
  auto a = open();
  auto b = open();
  auto held = a->lock("job", lock_opts(400));
  ASSERT_TRUE(held);
  auto t0 = Clock::now();
  auto r = b->lock("job", lock_opts(60000, 5000));
  ASSERT_TRUE(r) << r.status().to_string();
  EXPECT_GE(ms_since(t0), 300);
  EXPECT_LT(ms_since(t0), 1200) << "woken at the holder's expiry";
  EXPECT_GT((*r)->fence(), (*held)->fence());
}

TEST_F(CacheLockRedis, NonOwnerReleaseAndExtendAreRefused) {
  auto a = open();
  auto b = open();
  auto old = a->lock("job", lock_opts(100));
  ASSERT_TRUE(old);
  std::this_thread::sleep_for(milliseconds(200));
  auto now = b->lock("job", lock_opts(60000));
  ASSERT_TRUE(now);
  std::string token = server_->cli({"GET", "lk:~lock:job"});
  Status ext = (*old)->extend(milliseconds(60000));
  EXPECT_EQ(ext.code(), StatusCode::kAborted) << ext.to_string();
  Status rel = (*old)->release();
  EXPECT_EQ(rel.code(), StatusCode::kAborted) << rel.to_string();
  EXPECT_EQ(server_->cli({"GET", "lk:~lock:job"}), token) << "the owner's lock is untouched";
  EXPECT_EQ(a->stats().lock.lost, 2u);
  EXPECT_TRUE((*now)->release().is_ok());
}

TEST_F(CacheLockRedis, FencingTokensStrictlyIncrease) {
  auto a = open();
  auto b = open();
  uint64_t last = 0;
  std::vector<std::unique_ptr<DistributedLock>> left;  // never released: they expire by themselves
  for (int i = 0; i < 20; ++i) {
    Cache* c = i % 2 ? a.get() : b.get();
    auto l = c->lock("job", lock_opts(i % 3 == 0 ? 50 : 60000, 5000));
    ASSERT_TRUE(l) << l.status().to_string();
    EXPECT_GT((*l)->fence(), last);
    last = (*l)->fence();
    if (i % 3 != 0) ASSERT_TRUE((*l)->release().is_ok());
    else left.push_back(std::move(*l));
  }
}

TEST_F(CacheLockRedis, TryOnceTimesOutAtOnce) {
  auto a = open();
  auto b = open();
  auto held = a->lock("job", lock_opts(60000));
  ASSERT_TRUE(held);
  auto t0 = Clock::now();
  auto r = b->lock("job", lock_opts(60000));
  EXPECT_EQ(r.code(), StatusCode::kTimeout);
  EXPECT_LT(ms_since(t0), 100);
  auto w = b->lock("job", lock_opts(60000, 300));
  EXPECT_EQ(w.code(), StatusCode::kTimeout);
  EXPECT_EQ(b->stats().lock.timeouts, 2u);
}

TEST_F(CacheLockRedis, WithoutChannelTheWaiterPolls) {
  auto a = open("l1_coherence=off");
  auto b = open("l1_coherence=off");
  auto held = a->lock("job", lock_opts(60000));
  ASSERT_TRUE(held);
  auto waiter = std::async(std::launch::async, [&] {
    auto r = b->lock("job", lock_opts(60000, 10000));
    return std::make_pair(std::move(r), Clock::now());
  });
  std::this_thread::sleep_for(milliseconds(1000));
  auto t0 = Clock::now();
  ASSERT_TRUE((*held)->release().is_ok());
  auto [r, woke] = waiter.get();
  ASSERT_TRUE(r) << r.status().to_string();
  auto took = std::chrono::duration_cast<milliseconds>(woke - t0).count();
  EXPECT_LE(took, 260) << "the backoff is capped at 200 ms";
}

TEST_F(CacheLockRedis, BroadcastModeWakesToo) {
  auto a = open("l1_coherence=broadcast");
  auto b = open("l1_coherence=broadcast");
  ASSERT_TRUE(testing::wait_coherent(*b));
  auto held = a->lock("job", lock_opts(60000));
  ASSERT_TRUE(held);
  auto waiter = std::async(std::launch::async, [&] {
    auto r = b->lock("job", lock_opts(60000, 10000));
    return std::make_pair(std::move(r), Clock::now());
  });
  std::this_thread::sleep_for(milliseconds(500));
  auto t0 = Clock::now();
  ASSERT_TRUE((*held)->release().is_ok());
  auto [r, woke] = waiter.get();
  ASSERT_TRUE(r) << r.status().to_string();
  EXPECT_LT(std::chrono::duration_cast<milliseconds>(woke - t0).count(), 60);
}

TEST_F(CacheLockRedis, AsyncWaiterWokenByRelease) {
  auto a = open();
  auto b = open();
  ASSERT_TRUE(testing::wait_coherent(*b));
  auto held = a->lock("job", lock_opts(60000));
  ASSERT_TRUE(held);
  std::promise<std::pair<Result<LockPtr>, Clock::time_point>> got;
  b->lock_async("job", lock_opts(60000, 10000),
                [&](Result<LockPtr> r) { got.set_value({std::move(r), Clock::now()}); });
  auto f = got.get_future();
  EXPECT_EQ(f.wait_for(milliseconds(300)), std::future_status::timeout);
  auto t0 = Clock::now();
  ASSERT_TRUE((*held)->release().is_ok());
  auto [r, woke] = f.get();
  ASSERT_TRUE(r) << r.status().to_string();
  EXPECT_LT(std::chrono::duration_cast<milliseconds>(woke - t0).count(), 60);
}

TEST_F(CacheLockRedis, RedisDownIsUnavailableNotALocalLock) {
  auto a = open("socket_timeout=0.3");
  server_->kill9();
  auto r = a->lock("job", lock_opts(60000));
  EXPECT_FALSE(r);
  EXPECT_TRUE(r.code() == StatusCode::kUnavailable || r.code() == StatusCode::kTimeout) << r.status().to_string();
}

// On a Cluster the fence counter lives in its lock's slot (companion_key), so the script
// never spans slots; locks spread over every master.
TEST(CacheLockCluster, LocksOnEveryMaster) {
  auto cluster = testing::RedisCluster::start(3, 0);
  ASSERT_TRUE(cluster);
  auto a = open_or_die(cluster->url("prefix=lk:"));
  auto b = open_or_die(cluster->url("prefix=lk:"));
  for (int i = 0; i < 12; ++i) {
    std::string name = "job" + std::to_string(i);
    auto l = (i % 2 ? a : b)->lock(name, lock_opts(60000));
    ASSERT_TRUE(l) << name << ": " << l.status().to_string();
    EXPECT_EQ((i % 2 ? b : a)->lock(name, lock_opts(60000)).code(), StatusCode::kTimeout);
    ASSERT_TRUE((*l)->extend(milliseconds(30000)).is_ok());
    ASSERT_TRUE((*l)->release().is_ok());
  }
  auto tagged = a->lock("{tag}.job", lock_opts(60000));
  ASSERT_TRUE(tagged) << tagged.status().to_string();
  count_under_lock({a.get(), b.get()}, 8, 10, "{ctr}");
  EXPECT_EQ(a->stats().l2.errors + b->stats().l2.errors, 0u);
}

}  // namespace
}  // namespace stratacache
