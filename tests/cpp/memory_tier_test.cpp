#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "memory/memory_tier.hpp"

namespace stratacache {
namespace {

PayloadPtr raw(std::string s) { return std::make_shared<const Payload>(Payload{Format::kRaw, std::move(s)}); }

struct MemoryTierTest : ::testing::Test {
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>();
  L1Options opts;
  MemoryTierTest() {
    opts.max_entries = 100;
    opts.max_bytes = 1 << 20;
  }
};

TEST_F(MemoryTierTest, GetSetEraseAndStats) {
  MemoryTier t(opts, clock);
  EXPECT_EQ(t.get("a"), nullptr);
  EXPECT_TRUE(t.set("a", raw("1"), 0));
  auto p = t.get("a");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->data, "1");
  EXPECT_TRUE(t.erase("a"));
  EXPECT_FALSE(t.erase("a"));
  auto s = t.stats();
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.entries, 0u);
  EXPECT_EQ(s.bytes, 0u);
}

TEST_F(MemoryTierTest, TtlExpiresAndIsNeverReturned) {
  MemoryTier t(opts, clock);
  t.set("k", raw("v"), 1000);
  clock->advance_ms(999);
  EXPECT_NE(t.get("k"), nullptr);
  EXPECT_EQ(*t.ttl_ms("k"), 1);
  clock->advance_ms(1);
  EXPECT_EQ(t.get("k"), nullptr);
  EXPECT_FALSE(t.ttl_ms("k").has_value());
  EXPECT_EQ(t.stats().expirations, 1u);
  t.set("forever", raw("v"), 0);
  clock->advance_ms(1'000'000'000);
  EXPECT_EQ(*t.ttl_ms("forever"), -1);
}

TEST_F(MemoryTierTest, EntryBoundEvictsLeastRecentlyUsed) {
  opts.max_entries = 3;
  MemoryTier t(opts, clock);
  t.set("a", raw("1"), 0);
  t.set("b", raw("2"), 0);
  t.set("c", raw("3"), 0);
  ASSERT_NE(t.get("a"), nullptr);  // a becomes most recent; b is now LRU
  t.set("d", raw("4"), 0);
  EXPECT_EQ(t.get("b"), nullptr);
  EXPECT_NE(t.get("a"), nullptr);
  EXPECT_NE(t.get("c"), nullptr);
  EXPECT_NE(t.get("d"), nullptr);
  EXPECT_EQ(t.stats().entries, 3u);
  EXPECT_EQ(t.stats().evictions, 1u);
}

TEST_F(MemoryTierTest, ByteBoundCountsKeyValueAndOverhead) {
  const size_t per_entry = 1 + 100 + MemoryTier::entry_overhead();
  opts.max_bytes = per_entry * 4;
  MemoryTier t(opts, clock);
  for (int i = 0; i < 10; ++i) t.set(std::string(1, static_cast<char>('a' + i)), raw(std::string(100, 'x')), 0);
  auto s = t.stats();
  EXPECT_EQ(s.entries, 4u);
  EXPECT_EQ(s.bytes, per_entry * 4);
  EXPECT_LE(s.bytes, opts.max_bytes);
  EXPECT_EQ(s.evictions, 6u);
}

TEST_F(MemoryTierTest, OversizedEntryIsNotAdmittedAndRemovesOldValue) {
  opts.max_bytes = 4096;
  MemoryTier t(opts, clock);
  EXPECT_TRUE(t.set("k", raw("small"), 0));
  EXPECT_FALSE(t.set("k", raw(std::string(8192, 'x')), 0));
  EXPECT_EQ(t.get("k"), nullptr);  // the old value must not survive a failed overwrite
}

TEST_F(MemoryTierTest, OverwriteUpdatesBytes) {
  MemoryTier t(opts, clock);
  t.set("k", raw(std::string(10, 'x')), 0);
  size_t before = t.stats().bytes;
  t.set("k", raw(std::string(110, 'x')), 0);
  EXPECT_EQ(t.stats().bytes, before + 100);
  EXPECT_EQ(t.stats().entries, 1u);
}

TEST_F(MemoryTierTest, EraseMatchingUsesGlob) {
  MemoryTier t(opts, clock);
  t.set("user:1", raw("a"), 0);
  t.set("user:2", raw("b"), 0);
  t.set("user:*", raw("literal star"), 0);
  t.set("users", raw("c"), 0);
  EXPECT_EQ(t.erase_matching("user:\\*"), 1u);
  EXPECT_EQ(t.erase_matching("user:*"), 2u);
  EXPECT_NE(t.get("users"), nullptr);
}

TEST_F(MemoryTierTest, IncrementIsAtomicAndKeepsTtl) {
  MemoryTier t(opts, clock);
  EXPECT_EQ(*t.increment("n", 1, 5000), 1);
  clock->advance_ms(1000);
  EXPECT_EQ(*t.increment("n", 5, 99999), 6);
  EXPECT_EQ(*t.ttl_ms("n"), 4000);  // the TTL set at creation is not extended
  t.set("s", raw("text"), 0);
  EXPECT_EQ(t.increment("s", 1, 0).code(), StatusCode::kWrongType);
  t.set("big", std::make_shared<const Payload>(Payload{Format::kJson, "9223372036854775807"}), 0);
  EXPECT_EQ(t.increment("big", 1, 0).code(), StatusCode::kInvalidArgument);

  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) threads.emplace_back([&] { for (int j = 0; j < 1000; ++j) (void)t.increment("c", 1, 0); });
  for (auto& th : threads) th.join();
  EXPECT_EQ(*t.increment("c", 0, 0), 8000);
}

TEST_F(MemoryTierTest, ConcurrentReadersNeverSeeTornValues) {
  opts.max_entries = 64;
  MemoryTier t(opts, clock);
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < 2; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; !stop; ++i) {
        std::string k = "k" + std::to_string(i % 128);
        t.set(k, raw(std::string(64, static_cast<char>('a' + (i + w) % 26))), 0);
        if (i % 7 == 0) t.erase(k);
      }
    });
  }
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200000; ++i) {
        auto p = t.get("k" + std::to_string(i % 128));
        if (p && (p->data.size() != 64 || p->data.find_first_not_of(p->data[0]) != std::string::npos)) ++bad;
      }
    });
  }
  threads[2].join();
  threads[3].join();
  stop = true;
  threads[0].join();
  threads[1].join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_LE(t.stats().entries, 64u);
}

}  // namespace
}  // namespace stratacache
