// Write-through and write-behind (docs/write-behind.md) on mem:// and on a real Redis.
// The "database" is an in-memory store with a log of the writer calls it received.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "stratacache/cache.hpp"
#include "stratacache/write_behind.hpp"
#include "support/redis_server.hpp"

namespace stratacache {
namespace {

using namespace std::chrono_literals;
using testing::RedisServer;

Payload raw(std::string s) { return Payload{Format::kRaw, std::move(s)}; }

// The user's store: a map, a log of every writer call, and failures on demand.
struct Store {
  std::mutex mu;
  std::map<std::string, std::string> rows;
  std::vector<std::pair<std::string, std::string>> calls;  // (key, value or "<del>") per call
  std::map<std::string, int> fail_next;                     // key -> calls to fail
  StatusCode fail_code = StatusCode::kUnavailable;
  Millis delay{0};
  std::atomic<int> in_writer_for_key{0};
  std::atomic<bool> overlap{false};

  Status write(const WriteOp& op) {
    if (delay.count()) std::this_thread::sleep_for(delay);
    std::lock_guard<std::mutex> lk(mu);
    std::string v = op.kind == WriteOp::Kind::kSet ? op.value.data : "<del>";
    calls.emplace_back(op.key, v);
    if (int& n = fail_next[op.key]; n > 0) {
      --n;
      return Status(fail_code, "store refused " + op.key);
    }
    if (op.kind == WriteOp::Kind::kSet) rows[op.key] = op.value.data;
    else rows.erase(op.key);
    return Status::ok();
  }
  Writer writer() {
    return [this](const WriteOp& op) { return write(op); };
  }
  // Waits until the writer has been called `n` times (the write is with the writer).
  bool wait_calls(size_t n) {
    for (int i = 0; i < 5000; ++i) {
      {
        std::lock_guard<std::mutex> lk(mu);
        if (calls.size() >= n) return true;
      }
      std::this_thread::sleep_for(1ms);
    }
    return false;
  }
  std::vector<std::string> values_written(const std::string& key) {
    std::lock_guard<std::mutex> lk(mu);
    std::vector<std::string> out;
    for (auto& [k, v] : calls) {
      if (k == key) out.push_back(v);
    }
    return out;
  }
};

WriteBehindOptions quick() {
  WriteBehindOptions o;
  o.backoff_initial = 5ms;
  o.backoff_max = 20ms;
  o.workers = 4;
  return o;
}

class CacheWriteBehind : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    std::string url = "mem://";
    if (GetParam()) {
      server_ = RedisServer::start();
      url = server_->url();
    }
    auto c = Cache::open(url);
    ASSERT_TRUE(c) << c.status().to_string();
    cache_ = std::move(c).value();
  }
  std::unique_ptr<WriteBehind> open(Writer w, WriteBehindOptions o) {
    auto wb = WriteBehind::open(*cache_, std::move(w), std::move(o));
    EXPECT_TRUE(wb) << wb.status().to_string();
    return std::move(wb).value();
  }
  std::unique_ptr<RedisServer> server_;
  std::unique_ptr<Cache> cache_;
};

// Named "Cache/CacheWriteBehind.*/Mem|Redis": selected by scripts/test.sh's Cache* rule (TSan).
INSTANTIATE_TEST_SUITE_P(Cache, CacheWriteBehind, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Redis" : "Mem"; });

TEST_P(CacheWriteBehind, CachesAtOnceAndWritesTheStoreLater) {
  Store store;
  store.delay = 20ms;
  auto wb = open(store.writer(), quick());
  ASSERT_TRUE(wb->write("user:1", raw("alice"), {}));
  auto cached = cache_->get("user:1");
  ASSERT_TRUE(cached);
  EXPECT_EQ(cached->data, "alice") << "the cache holds the value before the store does";
  ASSERT_TRUE(wb->flush(5s));
  EXPECT_EQ(store.rows["user:1"], "alice");
  ASSERT_TRUE(wb->remove("user:1", {}));
  EXPECT_EQ(cache_->get("user:1").code(), StatusCode::kNotFound);
  ASSERT_TRUE(wb->flush(5s));
  EXPECT_EQ(store.rows.count("user:1"), 0u);
  auto s = wb->stats();
  EXPECT_EQ(s.written, 2u);
  EXPECT_EQ(s.pending, 0u);
  EXPECT_EQ(cache_->stats().write_behind.written, 2u) << "the cache's stats sum its write-behinds";
}

TEST_P(CacheWriteBehind, FailingWriterIsRetriedInOrderAndNothingIsLostOnClose) {
  Store store;
  store.fail_next["k"] = 3;
  auto o = quick();
  o.max_retries = 5;
  auto wb = open(store.writer(), o);
  ASSERT_TRUE(wb->write("k", raw("v1"), {}));
  ASSERT_TRUE(store.wait_calls(1));
  // v2 waits behind v1's retries; v3 replaces it while it waits (coalesced).
  ASSERT_TRUE(wb->write("k", raw("v2"), {}));
  ASSERT_TRUE(wb->write("k", raw("v3"), {}));
  ASSERT_TRUE(wb->write("other", raw("o1"), {}));
  ASSERT_TRUE(wb->close(5s));
  auto calls = store.values_written("k");
  ASSERT_GE(calls.size(), 5u);
  EXPECT_EQ(std::vector<std::string>(calls.begin(), calls.begin() + 4),
            (std::vector<std::string>{"v1", "v1", "v1", "v1"}))
      << "v1 is retried before any later write of its key";
  EXPECT_EQ(calls.back(), "v3");
  EXPECT_EQ(store.rows["k"], "v3");
  EXPECT_EQ(store.rows["other"], "o1");
  auto s = wb->stats();
  EXPECT_EQ(s.retries, 3u);
  EXPECT_EQ(s.failed, 0u);
  EXPECT_EQ(s.pending, 0u);
  EXPECT_EQ(s.abandoned, 0u);
  EXPECT_GE(s.coalesced, 1u);
  EXPECT_EQ(s.written + s.coalesced, 4u) << "every write was written or replaced by a newer one";
}

TEST_P(CacheWriteBehind, AWriteThatKeepsFailingIsCountedAndHandedToOnFailure) {
  Store store;
  store.fail_next["k"] = 100;
  auto o = quick();
  o.max_retries = 2;
  std::mutex mu;
  std::vector<std::pair<std::string, Status>> failures;
  o.on_failure = [&](const WriteOp& op, const Status& st) {
    std::lock_guard<std::mutex> lk(mu);
    failures.emplace_back(op.value.data, st);
  };
  auto wb = open(store.writer(), o);
  ASSERT_TRUE(wb->write("k", raw("v1"), {}));
  ASSERT_TRUE(wb->flush(5s));
  EXPECT_EQ(store.values_written("k").size(), 3u) << "1 call + max_retries";
  auto s = wb->stats();
  EXPECT_EQ(s.failed, 1u);
  EXPECT_EQ(s.retries, 2u);
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0].first, "v1");
  EXPECT_EQ(failures[0].second.code(), StatusCode::kUnavailable);
  EXPECT_NE(wb->last_error().find("store refused k"), std::string::npos) << wb->last_error();
}

TEST_P(CacheWriteBehind, FinalWriterErrorsAreNotRetried) {
  Store store;
  store.fail_next["k"] = 100;
  store.fail_code = StatusCode::kInvalidArgument;
  auto wb = open(store.writer(), quick());
  ASSERT_TRUE(wb->write("k", raw("bad"), {}));
  ASSERT_TRUE(wb->flush(5s));
  EXPECT_EQ(store.values_written("k").size(), 1u);
  EXPECT_EQ(wb->stats().failed, 1u);
  EXPECT_EQ(wb->stats().retries, 0u);
}

TEST_P(CacheWriteBehind, AFullQueueRefusesWritesWithoutCachingThem) {
  Store store;
  std::mutex gate;
  gate.lock();  // the writer blocks until the test opens the gate
  auto o = quick();
  o.workers = 1;
  o.max_pending = 3;
  auto wb = open(
      [&](const WriteOp& op) {
        std::lock_guard<std::mutex> lk(gate);
        return store.write(op);
      },
      o);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(wb->write("k" + std::to_string(i), raw("v"), {}));
  for (int i = 0; i < 1000; ++i) {
    Status st = wb->write("x" + std::to_string(i), raw("v"), {});
    ASSERT_EQ(st.code(), StatusCode::kUnavailable);
    ASSERT_NE(st.message().find("write-behind queue full"), std::string::npos) << st.to_string();
  }
  EXPECT_EQ(cache_->get("x0").code(), StatusCode::kNotFound) << "a refused write is not cached";
  // A write of a key that already waits replaces it: no new slot needed.
  EXPECT_TRUE(wb->write("k2", raw("v2"), {}));
  auto s = wb->stats();
  EXPECT_EQ(s.pending, 3u) << "the queue never grows past max_pending";
  EXPECT_EQ(s.rejected, 1000u);
  gate.unlock();
  ASSERT_TRUE(wb->flush(5s));
  EXPECT_EQ(store.rows["k2"], "v2");
  EXPECT_EQ(wb->stats().pending, 0u);
}

TEST_P(CacheWriteBehind, FlushTimesOutAndCloseReportsWhatItAbandoned) {
  Store store;
  store.fail_next["k"] = 1000;
  auto o = quick();
  o.max_retries = 1000;
  std::atomic<int> aborted{0};
  o.on_failure = [&](const WriteOp&, const Status& st) {
    if (st.code() == StatusCode::kAborted) aborted.fetch_add(1);
  };
  auto wb = open(store.writer(), o);
  store.fail_next["k2"] = 1000;
  ASSERT_TRUE(wb->write("k", raw("v"), {}));
  ASSERT_TRUE(wb->write("k2", raw("w"), {}));
  EXPECT_EQ(wb->flush(50ms).code(), StatusCode::kTimeout);
  Status closed = wb->close(50ms);
  EXPECT_EQ(closed.code(), StatusCode::kTimeout);
  EXPECT_NE(closed.message().find("2 writes"), std::string::npos) << closed.to_string();
  EXPECT_EQ(wb->stats().abandoned, 2u);
  EXPECT_EQ(wb->stats().pending, 0u);
  EXPECT_EQ(aborted.load(), 2);
  EXPECT_EQ(cache_->get("k2")->data, "w") << "the cache still holds the abandoned values";
  EXPECT_EQ(wb->write("k", raw("x"), {}).code(), StatusCode::kUnavailable) << "closed";
  EXPECT_TRUE(wb->close(1s)) << "a second close is a no-op";
}

TEST_P(CacheWriteBehind, ConcurrentWritersKeepPerKeyOrderAndCacheAgreesWithStore) {
  Store store;
  auto o = quick();
  o.max_pending = 100000;
  std::atomic<int> busy{0};
  std::atomic<bool> overlapped{false};
  std::mutex key_mu;
  std::map<std::string, int> in_writer;
  auto wb = open(
      [&](const WriteOp& op) {
        {
          std::lock_guard<std::mutex> lk(key_mu);
          if (in_writer[op.key]++ > 0) overlapped = true;
        }
        busy.fetch_add(1);
        Status st = store.write(op);
        std::lock_guard<std::mutex> lk(key_mu);
        --in_writer[op.key];
        return st;
      },
      o);
  constexpr int kThreads = 8, kWrites = 400, kKeys = 10;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kWrites; ++i) {
        std::string key = "k" + std::to_string(i % kKeys);
        // Each thread's own values of a key increase: t * 1e6 + i.
        ASSERT_TRUE(wb->write(key, raw(std::to_string(t * 1000000 + i)), {}));
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(wb->close(10s));
  EXPECT_FALSE(overlapped.load()) << "a key was with the writer twice at once";
  for (int k = 0; k < kKeys; ++k) {
    std::string key = "k" + std::to_string(k);
    // Per thread, the store saw that thread's values of the key in increasing order.
    std::map<int, int> last;
    for (auto& v : store.values_written(key)) {
      int n = std::stoi(v);
      int t = n / 1000000;
      if (last.count(t)) {
        EXPECT_GT(n, last[t]) << key;
      }
      last[t] = n;
    }
    EXPECT_EQ(cache_->get(key)->data, store.rows[key]) << "cache and store end on the same value";
  }
  auto s = wb->stats();
  EXPECT_EQ(s.written + s.coalesced, uint64_t{kThreads} * kWrites);
}

TEST_P(CacheWriteBehind, AsyncWriterIsAckedFromAnotherThread) {
  Store store;
  std::mutex mu;
  std::vector<std::thread> ackers;
  auto o = quick();
  auto wb = WriteBehind::open(
      *cache_,
      AsyncWriter([&](const WriteOp& op, WriteAck ack) {
        std::lock_guard<std::mutex> lk(mu);
        ackers.emplace_back([&store, op, ack = std::move(ack)] { ack(store.write(op)); });
      }),
      o);
  ASSERT_TRUE(wb);
  store.fail_next["a"] = 2;
  ASSERT_TRUE((*wb)->write("a", raw("1"), {}));
  ASSERT_TRUE((*wb)->write("b", raw("2"), {}));
  ASSERT_TRUE((*wb)->flush(5s));
  EXPECT_EQ(store.rows["a"], "1");
  EXPECT_EQ(store.rows["b"], "2");
  EXPECT_EQ((*wb)->stats().retries, 2u);
  ASSERT_TRUE((*wb)->close(1s));
  std::lock_guard<std::mutex> lk(mu);
  for (auto& t : ackers) t.join();
}

TEST_P(CacheWriteBehind, WriteThroughCachesOnlyWhatTheStoreAccepted) {
  Store store;
  ASSERT_TRUE(write_through(*cache_, "k", raw("v1"), store.writer(), {}));
  EXPECT_EQ(store.rows["k"], "v1");
  EXPECT_EQ(cache_->get("k")->data, "v1");
  store.fail_next["k"] = 1;
  Status st = write_through(*cache_, "k", raw("v2"), store.writer(), {});
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_EQ(store.rows["k"], "v1");
  EXPECT_EQ(cache_->get("k").code(), StatusCode::kNotFound)
      << "a failed writer leaves no cached copy (it may have reached the store)";
  ASSERT_TRUE(cache_->set("k", raw("v1")));
  ASSERT_TRUE(delete_through(*cache_, "k", store.writer(), {}));
  EXPECT_EQ(store.rows.count("k"), 0u);
  EXPECT_EQ(cache_->get("k").code(), StatusCode::kNotFound);
}

TEST(CacheWriteBehindOptions, BadOptionsAreRefused) {
  auto c = Cache::open("mem://");
  ASSERT_TRUE(c);
  Writer w = [](const WriteOp&) { return Status::ok(); };
  WriteBehindOptions o;
  o.max_pending = 0;
  EXPECT_EQ(WriteBehind::open(**c, w, o).code(), StatusCode::kInvalidArgument);
  o = {};
  o.workers = 0;
  EXPECT_EQ(WriteBehind::open(**c, w, o).code(), StatusCode::kInvalidArgument);
  o = {};
  o.backoff_jitter = 2;
  EXPECT_EQ(WriteBehind::open(**c, w, o).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(WriteBehind::open(**c, Writer{}, {}).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace stratacache
