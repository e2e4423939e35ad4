// Warming (Cache::warm) and the promotion threshold (l1_promote_after).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "stratacache/cache.hpp"
#include "support/redis_server.hpp"
#include "support/open_cache.hpp"

namespace stratacache {
namespace {

using testing::RedisCluster;
using testing::RedisServer;

using testing::open_or_die;

using testing::raw;

// A value another client wrote enters the reader's L1 at its third read, not before;
// from then on reads are L1 hits.
TEST(CachePromotion, ValueEntersL1AtTheNthRead) {
  auto server = RedisServer::start();
  auto reader = open_or_die(server->url("", 0, "l1_promote_after=3"));
  auto writer = open_or_die(server->url());
  ASSERT_TRUE(writer->set("k", raw("v")));
  for (int i = 1; i <= 2; ++i) {
    auto got = reader->get("k");
    ASSERT_TRUE(got) << got.status().to_string();
    EXPECT_EQ(got->data, "v");
    EXPECT_EQ(reader->stats().l1.entries, 0u) << "read " << i;
  }
  EXPECT_EQ(reader->stats().l1.promotions_deferred, 2u);
  ASSERT_TRUE(reader->get("k"));
  CacheStats s = reader->stats();
  EXPECT_EQ(s.l1.entries, 1u);
  EXPECT_EQ(s.l1.promotions, 1u);
  EXPECT_EQ(s.l2.hits, 3u);
  ASSERT_TRUE(reader->get("k"));
  EXPECT_EQ(reader->stats().l2.hits, 3u);  // an L1 hit now
  EXPECT_EQ(reader->stats().l1.hits, 1u);
}

// The count belongs to the value's lifetime: reads of a value that expired do not count
// toward its successor.
TEST(CachePromotion, CountEndsWithTheValuesLifetime) {
  auto server = RedisServer::start();
  auto reader = open_or_die(server->url("", 0, "l1_promote_after=3"));
  auto writer = open_or_die(server->url());
  CallOptions short_ttl;
  short_ttl.ttl_ms = 300;
  ASSERT_TRUE(writer->set("k", raw("old"), short_ttl));
  ASSERT_TRUE(reader->get("k"));
  ASSERT_TRUE(reader->get("k"));
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  EXPECT_FALSE(reader->get("k"));  // expired in Redis
  ASSERT_TRUE(writer->set("k", raw("new")));
  auto got = reader->get("k");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->data, "new");
  EXPECT_EQ(reader->stats().l1.entries, 0u);  // the first read of the new value
  EXPECT_EQ(reader->stats().l1.promotions, 0u);
}

// The reader's own writes are not reads from Redis: they enter L1 at once.
TEST(CachePromotion, OwnWritesEnterAtOnce) {
  auto server = RedisServer::start();
  auto c = open_or_die(server->url("", 0, "l1_promote_after=5"));
  ASSERT_TRUE(c->set("mine", raw("v")));
  ASSERT_TRUE(c->get("mine"));
  EXPECT_EQ(c->stats().l1.hits, 1u);
  EXPECT_EQ(c->stats().l2.hits, 0u);
  EXPECT_EQ(c->stats().l1.promotions_deferred, 0u);
}

TEST(CachePromotion, BadThresholdIsRefused) {
  auto c = Cache::open("mem://?l1_promote_after=three");
  ASSERT_FALSE(c);
  EXPECT_NE(c.status().message().find("l1_promote_after"), std::string::npos) << c.status().to_string();
}

std::vector<std::string> numbered(const std::string& prefix, int n) {
  std::vector<std::string> keys;
  for (int i = 0; i < n; ++i) keys.push_back(prefix + std::to_string(i));
  return keys;
}

void write_all(Cache& writer, const std::vector<std::string>& keys) {
  std::vector<std::pair<std::string, Payload>> items;
  for (const auto& k : keys) items.emplace_back(k, raw("v-" + k));
  ASSERT_TRUE(writer.mset(items));
}

// warm() reads in batches, puts every value found in L1 (past the promotion threshold)
// and says which keys exist nowhere; later reads are L1 hits.
TEST(CacheWarm, FillsL1FromRedisInBatches) {
  auto server = RedisServer::start();
  auto writer = open_or_die(server->url());
  auto c = open_or_die(server->url("", 0, "l1_promote_after=10"));
  auto keys = numbered("w:", 2500);  // three batches
  write_all(*writer, keys);
  std::vector<std::string> asked = keys;
  asked.push_back("w:absent1");
  asked.push_back("w:absent2");
  WarmResult r = c->warm(asked);
  EXPECT_TRUE(r.error) << r.error.to_string();
  EXPECT_EQ(r.found, 2500);
  EXPECT_TRUE(r.failed_keys.empty());
  EXPECT_EQ(r.missing_keys, (std::vector<std::string>{"w:absent1", "w:absent2"}));
  CacheStats s = c->stats();
  EXPECT_EQ(s.l1.entries, 2500u);
  EXPECT_EQ(s.l1.hits + s.l1.misses, 0u);  // no L1 probe counted
  for (const auto& k : keys) {
    auto got = c->get(k);
    ASSERT_TRUE(got) << k;
    EXPECT_EQ(got->data, "v-" + k);
  }
  EXPECT_EQ(c->stats().l1.hits, 2500u);
  EXPECT_EQ(c->stats().l2.hits, s.l2.hits);  // nothing more from Redis
}

// The asynchronous form completes once with the same counts.
TEST(CacheWarm, AsyncFormCompletesOnce) {
  auto server = RedisServer::start();
  auto c = open_or_die(server->url());
  auto keys = numbered("a:", 1500);
  write_all(*c, keys);
  c->flush_l1();
  std::promise<WarmResult> p;
  std::atomic<int> calls{0};
  c->warm_async(keys, CallOptions{}, [&](WarmResult r) {
    if (calls.fetch_add(1) == 0) p.set_value(std::move(r));
  });
  auto f = p.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  WarmResult r = f.get();
  EXPECT_EQ(r.found, 1500);
  EXPECT_EQ(c->stats().l1.entries, 1500u);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(calls.load(), 1);
}

// Keys on every master of a Cluster: all found, each master asked.
TEST(CacheWarm, AcrossClusterNodes) {
  auto cluster = RedisCluster::start(3, 0);
  ASSERT_TRUE(cluster);
  auto writer = open_or_die(cluster->url());
  auto c = open_or_die(cluster->url());
  auto keys = numbered("cw:", 3000);
  write_all(*writer, keys);
  WarmResult r = c->warm(keys);
  EXPECT_TRUE(r.error) << r.error.to_string();
  EXPECT_EQ(r.found, 3000);
  EXPECT_EQ(c->stats().l1.entries, 3000u);
  for (const auto& k : {"cw:1", "cw:2", "cw:3"}) {
    auto got = c->get(k);
    ASSERT_TRUE(got);
  }
  EXPECT_EQ(c->stats().l1.hits, 3u);
}

// With a loader, what Redis does not have is loaded (and written to Redis); the loader
// runs for those keys only; "does not exist" stays missing.
TEST(CacheWarm, LoaderFillsWhatIsMissing) {
  auto server = RedisServer::start();
  auto c = open_or_die(server->url());
  auto other = open_or_die(server->url());
  auto present = numbered("l:", 10);
  write_all(*c, present);
  c->flush_l1();
  std::vector<std::string> asked = present;
  for (const char* k : {"l:new1", "l:new2", "l:gone"}) asked.push_back(k);
  std::vector<std::string> loaded;
  WarmResult r = c->warm(asked, [&](std::string_view key) -> Result<LoadedValue> {
    loaded.emplace_back(key);
    if (key == "l:gone") return not_found();
    return LoadedValue{raw("loaded-" + std::string(key)), 60000};
  });
  EXPECT_TRUE(r.error) << r.error.to_string();
  EXPECT_EQ(r.found, 10);
  EXPECT_EQ(r.loaded, 2);
  EXPECT_EQ(r.missing_keys, (std::vector<std::string>{"l:gone"}));
  EXPECT_EQ(loaded, (std::vector<std::string>{"l:new1", "l:new2", "l:gone"}));
  auto got = other->get("l:new2");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->data, "loaded-l:new2");
}

// Redis down: every key counts as failed with the reason; nothing throws.
TEST(CacheWarm, RedisDownIsReportedNotThrown) {
  auto server = RedisServer::start();
  std::string url = server->url("", 0, "socket_connect_timeout=0.2&socket_timeout=0.2");
  server.reset();
  auto c = open_or_die(url);
  WarmResult r = c->warm(numbered("d:", 5));
  EXPECT_EQ(r.found, 0);
  EXPECT_EQ(r.failed_keys, numbered("d:", 5));
  EXPECT_FALSE(r.error);
  EXPECT_TRUE(r.error.code() == StatusCode::kUnavailable || r.error.code() == StatusCode::kTimeout)
      << r.error.to_string();
}

// mem://: nothing to warm from; the loader form loads into L1.
TEST(CacheWarm, MemoryOnly) {
  auto c = open_or_die("mem://");
  WarmResult r = c->warm(numbered("m:", 3));
  EXPECT_EQ(r.found, 0);
  EXPECT_EQ(r.missing_keys.size(), 3u);
  r = c->warm(numbered("m:", 3), [](std::string_view key) -> Result<LoadedValue> {
    return LoadedValue{raw(std::string(key)), -1};
  });
  EXPECT_EQ(r.loaded, 3);
  EXPECT_EQ(c->stats().l1.entries, 3u);
}

}  // namespace
}  // namespace stratacache
