// Operations (docs/operations.md): server info and health's memory figures against real
// redis-servers, INFO parsing, and the log events each happening once at its level.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "redis/info.hpp"
#include "stratacache/cache.hpp"
#include "stratacache/log.hpp"
#include "support/open_cache.hpp"
#include "support/redis_server.hpp"

namespace stratacache {
namespace {

using testing::open_or_die;
using testing::raw;
using testing::RedisServer;

int64_t keys_in(const ServerNodeInfo& n, const std::string& db) {
  for (const auto& [name, count] : n.keys) {
    if (name == db) return count;
  }
  return -1;
}

TEST(ServerInfoParse, ReadsEverySectionAndTheKeyspace) {
  const std::string info =
      "# Server\r\nredis_version:7.0.15\r\nuptime_in_seconds:12\r\n\r\n"
      "# Clients\r\nconnected_clients:3\r\n\r\n"
      "# Memory\r\nused_memory:1100512\r\nused_memory_human:1.05M\r\nused_memory_rss:9000\r\n\r\n"
      "# Stats\r\nkeyspace_hits:120\r\nkeyspace_misses:7\r\nevicted_keys:4\r\nexpired_keys:2\r\n\r\n"
      "# Replication\r\nrole:master\r\nconnected_slaves:0\r\n\r\n"
      "# Keyspace\r\ndb0:keys=42,expires=1,avg_ttl=0\r\ndb3:keys=5,expires=0,avg_ttl=0\r\n";
  ServerNodeInfo n;
  redis::parse_server_info(info, &n);
  EXPECT_EQ(n.version, "7.0.15");
  EXPECT_EQ(n.role, "master");
  EXPECT_EQ(n.connected_clients, 3);
  EXPECT_EQ(n.used_memory_bytes, 1100512);  // not used_memory_rss, whose name starts the same
  EXPECT_EQ(n.used_memory_human, "1.05M");
  EXPECT_EQ(n.keyspace_hits, 120);
  EXPECT_EQ(n.keyspace_misses, 7);
  EXPECT_EQ(n.evicted_keys, 4);
  EXPECT_EQ(n.expired_keys, 2);
  ASSERT_EQ(n.keys.size(), 2u);
  EXPECT_EQ(keys_in(n, "db0"), 42);
  EXPECT_EQ(keys_in(n, "db3"), 5);
}

TEST(ServerInfoParse, HumanBytesAsRedisWritesThem) {
  EXPECT_EQ(redis::human_bytes(0), "0B");
  EXPECT_EQ(redis::human_bytes(1023), "1023B");
  EXPECT_EQ(redis::human_bytes(1536), "1.50K");
  EXPECT_EQ(redis::human_bytes(int64_t{5} * 1024 * 1024 / 2), "2.50M");
  EXPECT_EQ(redis::human_bytes(int64_t{3} << 30), "3.00G");
}

TEST(ServerInfo, StandaloneServerWithItsKeysAndStats) {
  auto server = RedisServer::start();
  auto c = open_or_die(server->url("", 0, "l1_max_entries=0"));  // every read reaches Redis
  ASSERT_TRUE(c);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(c->set("info:" + std::to_string(i), raw("v")));
  ASSERT_TRUE(c->get("info:0"));
  EXPECT_EQ(c->get("info:absent").status().code(), StatusCode::kNotFound);

  auto r = c->server_info();
  ASSERT_TRUE(r) << r.status().to_string();
  ASSERT_EQ(r->nodes.size(), 1u);
  const ServerNodeInfo& n = r->nodes[0];
  EXPECT_EQ(n.address, "127.0.0.1:" + std::to_string(server->port()));
  EXPECT_EQ(n.error, "");
  EXPECT_EQ(n.role, "master");
  EXPECT_FALSE(n.version.empty());
  EXPECT_NE(server->cli({"INFO", "server"}).find("redis_version:" + n.version), std::string::npos) << n.version;
  EXPECT_GE(n.connected_clients, 1);
  EXPECT_GT(n.used_memory_bytes, 0);
  EXPECT_FALSE(n.used_memory_human.empty());
  EXPECT_GE(n.keyspace_hits, 1);
  EXPECT_GE(n.keyspace_misses, 1);
  EXPECT_EQ(keys_in(n, "db0"), 5);
  EXPECT_EQ(r->total.used_memory_bytes, n.used_memory_bytes);
  EXPECT_EQ(keys_in(r->total, "db0"), 5);
  EXPECT_EQ(r->total.used_memory_human, redis::human_bytes(n.used_memory_bytes));
}

TEST(ServerInfo, AsyncFormGivesTheSameNode) {
  auto server = RedisServer::start();
  auto c = open_or_die(server->url());
  ASSERT_TRUE(c);
  std::promise<Result<ServerInfo>> got;
  c->server_info_async({}, [&got](Result<ServerInfo> r) { got.set_value(std::move(r)); });
  auto r = got.get_future().get();
  ASSERT_TRUE(r) << r.status().to_string();
  ASSERT_EQ(r->nodes.size(), 1u);
  EXPECT_EQ(r->nodes[0].role, "master");
}

TEST(ServerInfo, MemoryOnlyCacheHasNoServer) {
  auto c = open_or_die("mem://");
  ASSERT_TRUE(c);
  auto r = c->server_info();
  EXPECT_EQ(r.status().code(), StatusCode::kUnsupported);
}

TEST(ServerInfo, UnreachableServerFailsTheCall) {
  auto server = RedisServer::start();
  auto c = open_or_die(server->url("", 0, "socket_timeout=0.3"));
  ASSERT_TRUE(c);
  server->kill9();
  auto r = c->server_info();
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().to_string();
}

TEST(Health, UsedMemoryAsHumanTextAndBytes) {
  auto server = RedisServer::start();
  auto c = open_or_die(server->url());
  ASSERT_TRUE(c);
  HealthInfo h = c->health();
  ASSERT_TRUE(h.healthy) << h.error;
  EXPECT_GT(h.used_memory_bytes, 0);
  EXPECT_FALSE(h.used_memory.empty());
  EXPECT_NE(h.used_memory.find_first_of("BKMG"), std::string::npos) << h.used_memory;
  // The same server reports the same magnitude both ways (within what one call allocates).
  auto info = c->server_info();
  ASSERT_TRUE(info);
  EXPECT_NEAR(static_cast<double>(h.used_memory_bytes), static_cast<double>(info->total.used_memory_bytes),
              0.5 * static_cast<double>(h.used_memory_bytes));
}

}  // namespace
}  // namespace stratacache
