// Named shared caches of the C ABI (stratacache_open_shared) under concurrency: opens
// and closes of one name race from many threads, handles are closed on threads other
// than the one that opened them, and the cache lives exactly as long as its handles.
// (Suite name has "Thread": it runs under TSan, scripts/test.sh.)
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "stratacache.h"

namespace {

bool has_key(stratacache_cache* c, const std::string& key) {
  void* v = nullptr;
  size_t n = 0;
  int rc = stratacache_get(&v, &n, nullptr, c, key.data(), key.size(), nullptr);
  stratacache_free(v);
  return rc == STRATACACHE_OK;
}

TEST(SharedCacheThreads, RacingOpensAndClosesShareOneCache) {
  stratacache_cache* holder = nullptr;
  ASSERT_EQ(stratacache_open_shared(&holder, "threads", "mem://"), STRATACACHE_OK);
  constexpr int kThreads = 4, kRounds = 100;
  std::atomic<int> failures{0};
  std::vector<std::vector<stratacache_cache*>> opened(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        stratacache_cache* h = nullptr;
        if (stratacache_open_shared(&h, "threads", "mem://") != STRATACACHE_OK) {
          failures++;
          continue;
        }
        std::string key = "k" + std::to_string(t) + "-" + std::to_string(i);
        if (stratacache_set(h, key.data(), key.size(), "v", 1, STRATACACHE_FORMAT_RAW, 0, nullptr) != STRATACACHE_OK) {
          failures++;
        }
        // Every other handle is left for another thread to close.
        if (i % 2) stratacache_close(h);
        else opened[t].push_back(h);
      }
    });
  }
  for (auto& th : threads) th.join();
  threads.clear();
  EXPECT_EQ(failures.load(), 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (stratacache_cache* h : opened[(t + 1) % kThreads]) stratacache_close(h);
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kRounds; ++i) {
      EXPECT_TRUE(has_key(holder, "k" + std::to_string(t) + "-" + std::to_string(i))) << t << " " << i;
    }
  }
  stratacache_close(holder);
  // The last handle took the cache: the name opens afresh (even with another URL).
  stratacache_cache* fresh = nullptr;
  ASSERT_EQ(stratacache_open_shared(&fresh, "threads", "mem://?max_key_length=64"), STRATACACHE_OK);
  EXPECT_FALSE(has_key(fresh, "k0-0"));
  stratacache_close(fresh);
}

TEST(SharedCacheThreads, DifferentUrlsRacingForOneNameYieldOneCache) {
  constexpr int kThreads = 4;
  std::vector<stratacache_cache*> handles(kThreads, nullptr);
  std::vector<int> codes(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::string url = t % 2 ? "mem://" : "mem://?max_key_length=64";
      codes[t] = stratacache_open_shared(&handles[t], "race", url.c_str());
    });
  }
  for (auto& th : threads) th.join();
  // Whichever URL opened first won; every open of the other URL is EINVAL.
  int won = -1;
  for (int t = 0; t < kThreads; ++t) {
    if (codes[t] == STRATACACHE_OK) won = t % 2;
  }
  ASSERT_NE(won, -1);
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(codes[t], t % 2 == won ? STRATACACHE_OK : STRATACACHE_EINVAL) << t;
    stratacache_close(handles[t]);
  }
}

}  // namespace
