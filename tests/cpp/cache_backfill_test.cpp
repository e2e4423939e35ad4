// The L1 back-fill guard: a read back-fills what it fetched from L2 unless the same key
// was written meanwhile; writes of other keys and the read's own back-fills never stop it.
#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include "cache_test_hooks.hpp"
#include "memory/memory_tier.hpp"
#include "stratacache/cache.hpp"
#include "support/coherent.hpp"
#include "support/redis_server.hpp"

namespace stratacache {
namespace {

using testing::RedisServer;

// Every key "k<n>" in shard 0, guard slot n % 64: collisions chosen by the test.
uint32_t one_shard_hash(std::string_view key) {
  uint32_t n = 0;
  for (char c : key) {
    if (c >= '0' && c <= '9') n = n * 10 + static_cast<uint32_t>(c - '0');
  }
  return n & 63;
}

L1Options one_shard() {
  L1Options o;
  o.key_hash = one_shard_hash;
  return o;
}

bool holds(MemoryTier& l1, std::string_view key, std::string_view value) {
  ValueRef r = l1.get(key);
  return r && r.data() == value;
}

TEST(BackfillGuard, WriteOfAnotherKeyInTheShardDoesNotStopABackfill) {
  MemoryTier l1(one_shard());
  uint64_t token = l1.write_epoch("k1");
  ASSERT_TRUE(l1.set("k2", Format::kRaw, "other", 0));
  l1.erase("k3");
  (void)l1.increment("k4", 1, 0);
  l1.set_if_epoch("k1", Format::kRaw, "fetched", 0, token);
  EXPECT_TRUE(holds(l1, "k1", "fetched"));
}

TEST(BackfillGuard, BackfillsOfOneShardDoNotStopEachOther) {
  MemoryTier l1(one_shard());
  std::vector<uint64_t> tokens;
  for (int i = 0; i < 10; ++i) tokens.push_back(l1.write_epoch("k" + std::to_string(i)));
  for (int i = 0; i < 10; ++i) l1.set_if_epoch("k" + std::to_string(i), Format::kRaw, "v", 0, tokens[i]);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(holds(l1, "k" + std::to_string(i), "v")) << i;
}

TEST(BackfillGuard, WriteEraseIncrementOrClearOfTheKeyStopsTheBackfill) {
  MemoryTier l1(one_shard());
  uint64_t token = l1.write_epoch("k1");
  ASSERT_TRUE(l1.set("k1", Format::kRaw, "new", 0));
  l1.set_if_epoch("k1", Format::kRaw, "stale", 0, token);
  EXPECT_TRUE(holds(l1, "k1", "new"));

  token = l1.write_epoch("k1");
  l1.erase("k1");
  l1.set_if_epoch("k1", Format::kRaw, "stale", 0, token);
  EXPECT_FALSE(l1.get("k1"));

  token = l1.write_epoch("k1");
  ASSERT_TRUE(l1.increment("k1", 5, 0));
  l1.set_if_epoch("k1", Format::kRaw, "stale", 0, token);
  EXPECT_TRUE(holds(l1, "k1", "5"));

  token = l1.write_epoch("k1");
  l1.clear();
  l1.set_if_epoch("k1", Format::kRaw, "stale", 0, token);
  EXPECT_FALSE(l1.get("k1"));

  // A key sharing the guard slot (65 % 64 == 1) stops it too: conservative.
  token = l1.write_epoch("k1");
  ASSERT_TRUE(l1.set("k65", Format::kRaw, "x", 0));
  l1.set_if_epoch("k1", Format::kRaw, "stale", 0, token);
  EXPECT_FALSE(l1.get("k1"));
}

// Open, with coherent L1 up: every read below is expected to back-fill.
std::unique_ptr<Cache> open_or_die(Options o) {
  auto c = Cache::open(std::move(o));
  EXPECT_TRUE(c) << c.status().to_string();
  EXPECT_TRUE(testing::wait_coherent(**c));
  return std::move(c).value();
}

Options options_for(const RedisServer& server, bool single_shard) {
  auto o = Options::from_url(server.url());
  EXPECT_TRUE(o) << o.status().to_string();
  if (single_shard) o->l1.key_hash = one_shard_hash;
  return std::move(o).value();
}

CallOptions l1_only() {
  CallOptions c;
  c.skip_l2 = true;
  return c;
}

TEST(CacheBackfill, MgetBackfillsEveryKeyItFetched) {
  auto server = RedisServer::start();
  auto writer = open_or_die(options_for(*server, false));
  auto reader = open_or_die(options_for(*server, false));
  std::vector<std::string> keys;
  for (int i = 0; i < 40; ++i) {
    keys.push_back("key:" + std::to_string(i));
    ASSERT_TRUE(writer->set(keys.back(), Payload{Format::kRaw, "v" + std::to_string(i)}));
  }
  auto got = reader->mget(keys);
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(got[i]) << i;
  int in_l1 = 0;
  for (int i = 0; i < 40; ++i) {
    auto r = reader->get(keys[i], l1_only());
    if (r && r->data == "v" + std::to_string(i)) ++in_l1;
  }
  EXPECT_EQ(in_l1, 40);
  EXPECT_EQ(reader->stats().l1.entries, 40u);
}

// Runs `act` inside the next back-fill of the cache (then unhooks itself).
struct BackfillHook {
  static inline std::function<void(std::string_view)> act;
  static void run(std::string_view key) {
    auto f = std::move(act);
    test_hooks::before_backfill.store(nullptr);
    if (f) f(key);
  }
  explicit BackfillHook(std::function<void(std::string_view)> f) {
    act = std::move(f);
    test_hooks::before_backfill.store(&BackfillHook::run);
  }
  ~BackfillHook() {
    test_hooks::before_backfill.store(nullptr);
    act = nullptr;
  }
};

enum class ReadPath { kGet, kGetAsync, kMget };

Result<Payload> read(Cache& c, const std::string& key, ReadPath path) {
  switch (path) {
    case ReadPath::kGet:
      return c.get(key);
    case ReadPath::kGetAsync: {
      std::promise<Result<ValueRef>> p;
      c.get_async(key, {}, [&](Result<ValueRef> r) { p.set_value(std::move(r)); });
      auto r = p.get_future().get();
      if (!r) return r.status();
      return r->to_payload();
    }
    case ReadPath::kMget:
      return c.mget({key})[0];
  }
  return internal_error("unreachable");
}

class CacheBackfillRace : public ::testing::TestWithParam<ReadPath> {};

TEST_P(CacheBackfillRace, WriteOfAnotherKeyDuringTheFetchDoesNotStopTheBackfill) {
  auto server = RedisServer::start();
  auto c = open_or_die(options_for(*server, true));
  ASSERT_TRUE(c->set("k1", Payload{Format::kRaw, "from-l2"}));
  c->flush_l1();
  // L1-only writes: allowed on the I/O thread where get_async's completion runs.
  BackfillHook hook([&](std::string_view) { ASSERT_TRUE(c->set("k2", Payload{Format::kRaw, "x"}, l1_only())); });
  EXPECT_EQ(read(*c, "k1", GetParam())->data, "from-l2");
  auto l1 = c->get("k1", l1_only());
  ASSERT_TRUE(l1) << "a write of k2 (same shard) must not stop k1's back-fill";
  EXPECT_EQ(l1->data, "from-l2");
}

TEST_P(CacheBackfillRace, WriteOfTheSameKeyDuringTheFetchStopsTheBackfill) {
  auto server = RedisServer::start();
  auto c = open_or_die(options_for(*server, true));
  ASSERT_TRUE(c->set("k1", Payload{Format::kRaw, "old"}));
  c->flush_l1();
  BackfillHook hook([&](std::string_view key) {
    ASSERT_TRUE(c->set(std::string(key), Payload{Format::kRaw, "new"}, l1_only()));
  });
  EXPECT_EQ(read(*c, "k1", GetParam())->data, "old");  // what L2 held when read
  auto l1 = c->get("k1", l1_only());
  ASSERT_TRUE(l1);
  EXPECT_EQ(l1->data, "new") << "the stale fetched value must not replace the newer write";
}

INSTANTIATE_TEST_SUITE_P(Paths, CacheBackfillRace,
                         ::testing::Values(ReadPath::kGet, ReadPath::kGetAsync, ReadPath::kMget),
                         [](const ::testing::TestParamInfo<ReadPath>& i) {
                           return std::string(i.param == ReadPath::kGet        ? "Get"
                                              : i.param == ReadPath::kGetAsync ? "GetAsync"
                                                                               : "Mget");
                         });

}  // namespace
}  // namespace stratacache
