// The facade against real redis-server processes: tiers working together, failures.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "stratacache/cache.hpp"
#include "support/coherent.hpp"
#include "support/redis_server.hpp"
#include "support/open_cache.hpp"

namespace stratacache {
namespace {

using testing::RedisServer;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

using testing::open_or_die;

Payload raw(std::string s) { return Payload{Format::kRaw, std::move(s)}; }

long elapsed_ms(Clock::time_point since) {
  return static_cast<long>(std::chrono::duration_cast<milliseconds>(Clock::now() - since).count());
}

TEST(CacheRedis, ReadThroughBackfillsL1AndPrefixesKeys) {
  auto server = RedisServer::start();
  auto writer = open_or_die(server->url("", 0, "prefix=app:"));
  auto reader = open_or_die(server->url("", 0, "prefix=app:"));
  ASSERT_TRUE(testing::wait_coherent(*reader));  // reads are kept in L1 once it is
  Value v = Value::Map{{"name", "Alice"}, {"n", 1}};
  ASSERT_TRUE(writer->set_value("user:1", v));
  EXPECT_EQ(server->cli({"EXISTS", "app:user:1"}), "1");
  EXPECT_EQ(*reader->get_value("user:1"), v);  // from L2
  EXPECT_EQ(reader->stats().l2.hits, 1u);
  EXPECT_EQ(*reader->get_value("user:1"), v);  // from L1 now
  EXPECT_EQ(reader->stats().l2.hits, 1u);
  EXPECT_EQ(reader->stats().l1.hits, 1u);
}

TEST(CacheRedis, L1CopyNeverOutlivesL2Ttl) {
  auto server = RedisServer::start();
  auto writer = open_or_die(server->url());
  auto reader = open_or_die(server->url("", 0, "l1_ttl=60"));
  CallOptions short_ttl;
  short_ttl.ttl_ms = 700;
  ASSERT_TRUE(writer->set("k", raw("v"), short_ttl));
  ASSERT_TRUE(reader->get("k"));  // back-filled into L1 with <= 700 ms
  std::this_thread::sleep_for(milliseconds(900));
  EXPECT_EQ(reader->get("k").code(), StatusCode::kNotFound);
}

TEST(CacheRedis, L1TtlCapsStalenessAcrossProcesses) {
  auto server = RedisServer::start();
  // l1_coherence=off: the documented TTL-bounded staleness (docs/coherence.md).
  auto a = open_or_die(server->url("", 0, "l1_ttl=0.3&l1_coherence=off"));
  auto b = open_or_die(server->url());
  ASSERT_TRUE(b->set("k", raw("v1")));
  EXPECT_EQ(a->get("k")->data, "v1");
  ASSERT_TRUE(b->set("k", raw("v2")));
  EXPECT_EQ(a->get("k")->data, "v1");  // documented: L1 may be stale up to l1_ttl
  std::this_thread::sleep_for(milliseconds(400));
  EXPECT_EQ(a->get("k")->data, "v2");
}

TEST(CacheRedis, ForeignValueInRedisIsAMissCountedAndKept) {
  auto server = RedisServer::start();
  auto c = open_or_die(server->url("", 0, "prefix=p:"));
  server->cli({"SET", "p:bad", "this is not an envelope"});
  EXPECT_EQ(c->get("bad").code(), StatusCode::kNotFound);
  EXPECT_EQ(c->stats().decode_errors, 1u);
  EXPECT_EQ(server->cli({"GET", "p:bad"}), "this is not an envelope") << "a read never destroys others' data";
  // A plain integer written by another client is a counter, not garbage.
  server->cli({"SET", "p:count", "17"});
  EXPECT_EQ(*c->get_value("count"), Value(17));
  EXPECT_EQ(*c->increment("count", 3), 20);
}

TEST(CacheRedis, BinarySafeKeysAndClearPatternWithGlobPrefix) {
  auto server = RedisServer::start();
  auto weird = open_or_die(server->url("", 0, "prefix=p%5B1%5D:"));  // prefix "p[1]:"
  auto plain = open_or_die(server->url("", 0, "prefix=p1:"));
  const std::string keys[] = {std::string("nul\0key", 7), "cr\rlf\n", "*?[]{}"};
  for (auto& k : keys) ASSERT_TRUE(weird->set(k, raw("w:" + k)));
  for (auto& k : keys) ASSERT_TRUE(plain->set(k, raw("p:" + k)));
  weird->flush_l1();
  for (auto& k : keys) EXPECT_EQ(weird->get(k)->data, "w:" + k);
  EXPECT_EQ(*weird->clear_pattern("*"), 3);
  plain->flush_l1();
  for (auto& k : keys) EXPECT_EQ(plain->get(k)->data, "p:" + k) << "the other prefix must be untouched";
}

TEST(CacheRedis, InspectReadsTheEnvelopeHeaderAndCountMatchingDeletesNothing) {
  auto server = RedisServer::start();
  auto c = open_or_die(server->url("", 0, "prefix=app:&compression=zlib"));
  CallOptions ttl;
  ttl.ttl_ms = 60000;
  ASSERT_TRUE(c->set("big", Payload{Format::kJson, "\"" + std::string(5000, 'a') + "\""}, ttl));
  ASSERT_TRUE(c->increment("n", 5));
  ASSERT_TRUE(server->cli({"SET", "app:other", "plain text"}) == "OK");
  auto big = c->inspect("big");
  ASSERT_TRUE(big) << big.status().to_string();
  EXPECT_STREQ(big->tier, "l2");
  EXPECT_STREQ(big->kind, "envelope");
  EXPECT_EQ(big->format, Format::kJson);
  EXPECT_EQ(big->compression, Compression::kZlib);
  EXPECT_EQ(big->payload_bytes, 5002u);
  EXPECT_LT(big->stored_bytes, 200u);
  EXPECT_GT(big->ttl_ms, 50000);
  EXPECT_LE(big->ttl_ms, 60000);
  EXPECT_FALSE(big->meta.has_value());
  EXPECT_STREQ(c->inspect("n")->kind, "counter");
  EXPECT_STREQ(c->inspect("other")->kind, "foreign");
  EXPECT_EQ(c->inspect("nothing").code(), StatusCode::kNotFound);
  // Inspecting counts no L1 hit or miss.
  EXPECT_EQ(c->stats().l1.hits + c->stats().l1.misses, 0u);
  EXPECT_EQ(*c->count_matching("*"), 3);  // under this prefix only
  EXPECT_EQ(server->cli({"DBSIZE"}), "3");
}

TEST(CacheRedis, IncrementIsAtomicAcrossHandlesAndSetsTtlOnce) {
  auto server = RedisServer::start();
  auto a = open_or_die(server->url());
  auto b = open_or_die(server->url());
  CallOptions ttl;
  ttl.ttl_ms = 60000;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      Cache& c = t % 2 ? *a : *b;
      for (int i = 0; i < 250; ++i) ASSERT_TRUE(c.increment("views", 1, ttl));
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(*a->get_value("views"), Value(1000));
  int64_t left = *a->ttl_ms("views");
  EXPECT_GT(left, 50000);
  EXPECT_LE(left, 60000);
  ASSERT_TRUE(a->set_value("n", Value(41)));
  EXPECT_EQ(*b->increment("n"), 42);  // integers are stored INCRBY-compatible
  ASSERT_TRUE(a->set_value("s", Value("x")));
  EXPECT_EQ(b->increment("s").code(), StatusCode::kWrongType);
}

TEST(CacheRedis, WritesThatSkipL1StillInvalidateIt) {
  auto server = RedisServer::start();
  auto c = open_or_die(server->url());
  CallOptions skip_l1;
  skip_l1.skip_l1 = true;
  ASSERT_TRUE(c->set("k", raw("a")));
  ASSERT_TRUE(c->set("k", raw("b"), skip_l1));
  EXPECT_EQ(c->get("k")->data, "b");
  EXPECT_EQ(*c->del("k", skip_l1), 1);
  EXPECT_EQ(c->get("k").code(), StatusCode::kNotFound);
}

TEST(CacheRedis, ValuesThisProcessCannotReadAreLeftForOthers) {
  auto server = RedisServer::start();
  auto opts = Options::from_url(server->url());
  ASSERT_TRUE(opts);
  auto ring = std::make_shared<KeyRing>();
  ASSERT_TRUE(ring->add_key(3, std::string(32, 'k')));
  opts->codec.keys = ring;
  auto with_key = std::move(Cache::open(*opts).value());
  auto without_key = open_or_die(server->url());
  ASSERT_TRUE(with_key->set("secret", raw("v")));
  EXPECT_EQ(without_key->get("secret").code(), StatusCode::kNotFound);
  EXPECT_EQ(without_key->stats().decode_errors, 1u);
  EXPECT_EQ(server->cli({"EXISTS", "secret"}), "1") << "a key this process lacks is not garbage";
  with_key->flush_l1();
  EXPECT_EQ(with_key->get("secret")->data, "v");
}

TEST(CacheRedis, IncrementNeverGivesAnExistingKeyATtl) {
  auto server = RedisServer::start();
  auto c = open_or_die(server->url());
  CallOptions persistent;
  persistent.ttl_ms = 0;
  ASSERT_TRUE(c->set_value("n", Value(5), persistent));
  EXPECT_EQ(*c->increment("n"), 6);  // default_ttl applies only to a new counter
  EXPECT_EQ(*c->ttl_ms("n"), -1);
  EXPECT_EQ(*c->increment("fresh"), 1);
  EXPECT_GT(*c->ttl_ms("fresh"), 0);
}

TEST(CacheRedis, MgetMsetDeleteExistsTtl) {
  auto server = RedisServer::start();
  auto c = open_or_die(server->url());
  CallOptions no_ttl;
  no_ttl.ttl_ms = 0;
  ASSERT_TRUE(c->mset({{"a", raw("1")}, {"b", raw("2")}}, no_ttl));
  c->flush_l1();
  auto r = c->mget({"a", "x", "b"});
  EXPECT_EQ(r[0]->data, "1");
  EXPECT_EQ(r[1].code(), StatusCode::kNotFound);
  EXPECT_EQ(r[2]->data, "2");
  EXPECT_EQ(*c->ttl_ms("a"), -1);
  EXPECT_EQ(c->ttl_ms("x").code(), StatusCode::kNotFound);
  EXPECT_TRUE(*c->exists("a"));
  EXPECT_EQ(*c->del({"a", "b", "x"}), 2);
  EXPECT_FALSE(*c->exists("a"));
  EXPECT_EQ(c->get("a").code(), StatusCode::kNotFound);  // L1 copy removed too
}

TEST(CacheRedis, KillAndRestartDegradesToL1AndRecovers) {
  auto server = RedisServer::start();
  // l1_coherence=off: L1 keeps its copies through the outage. (With coherence on, losing
  // the invalidation channel empties L1: cache_coherence_test.cpp.)
  auto c = open_or_die(server->url("", 0, "socket_timeout=0.5&socket_connect_timeout=0.2&l1_coherence=off"));
  ASSERT_TRUE(c->set("warm", raw("hot")));
  server->kill9();
  EXPECT_EQ(c->get("warm")->data, "hot");  // L1 keeps serving
  for (int i = 0; i < 20; ++i) {
    auto start = Clock::now();
    auto r = c->get("cold");
    EXPECT_TRUE(r.code() == StatusCode::kUnavailable || r.code() == StatusCode::kTimeout) << r.status().to_string();
    EXPECT_LT(elapsed_ms(start), 600);
  }
  EXPECT_GT(c->stats().l2.errors, 0u);
  server->restart();
  auto deadline = Clock::now() + std::chrono::seconds(5);
  Status st;
  do {
    st = c->set("after", raw("ok"));
    if (st) break;
    std::this_thread::sleep_for(milliseconds(50));
  } while (Clock::now() < deadline);
  ASSERT_TRUE(st) << "no reconnect within 5 s: " << st.to_string();
  EXPECT_EQ(server->cli({"EXISTS", "after"}), "1");
}

TEST(CacheRedis, StalledServerNeverBlocksPastTheDeadline) {
  auto server = RedisServer::start();
  auto c = open_or_die(server->url("", 0, "socket_timeout=0.3"));
  ASSERT_TRUE(c->set("k1", raw("v1")));
  ASSERT_TRUE(c->set("k2", raw("v2")));
  c->flush_l1();
  server->pause();
  for (int i = 0; i < 3; ++i) {
    auto start = Clock::now();
    auto r = c->get(i % 2 ? "k1" : "k2");
    EXPECT_FALSE(r);
    EXPECT_LT(elapsed_ms(start), 300 + 50 + 50) << "deadline 300 ms + 50 ms slack (+50 ms scheduling on a 2-core box)";
  }
  server->resume();
  auto deadline = Clock::now() + std::chrono::seconds(5);
  Result<Payload> r1 = not_found(), r2 = not_found();
  do {
    r1 = c->get("k1");
    r2 = c->get("k2");
    if (r1 && r2) break;
    std::this_thread::sleep_for(milliseconds(20));
  } while (Clock::now() < deadline);
  ASSERT_TRUE(r1 && r2);
  EXPECT_EQ(r1->data, "v1");  // no late reply answered the wrong request
  EXPECT_EQ(r2->data, "v2");
}

TEST(CacheRedis, WrongPasswordIsPermissionDeniedAndUnhealthy) {
  RedisServer::Config cfg;
  cfg.password = "right";
  auto server = RedisServer::start(cfg);
  auto bad = open_or_die(server->url(":wrong"));
  auto st = bad->set("k", raw("v"));
  EXPECT_EQ(st.code(), StatusCode::kPermissionDenied) << st.to_string();
  EXPECT_FALSE(bad->health().healthy);
  EXPECT_FALSE(bad->health().error.empty());
  auto good = open_or_die(server->url(":right"));
  EXPECT_TRUE(good->set("k", raw("v")));
}

TEST(CacheRedis, HealthReportsServerFields) {
  auto server = RedisServer::start();
  auto c = open_or_die(server->url());
  HealthInfo h = c->health();
  EXPECT_TRUE(h.healthy) << h.error;
  EXPECT_GT(h.latency_ms, 0.0);
  EXPECT_EQ(h.version.rfind("7.", 0), 0u) << h.version;
  EXPECT_FALSE(h.used_memory.empty());
  EXPECT_GE(h.connected_clients, 1);
  EXPECT_GE(h.uptime_seconds, 0);
}

TEST(CacheRedis, AclUserLimitedToPrefix) {
  RedisServer::Config cfg;
  cfg.acl_lines = {"user default on nopass ~* &* +@all", "user app on >apppw ~app:* +@all -@dangerous"};
  auto server = RedisServer::start(cfg);
  auto c = open_or_die(server->url("app:apppw", 0, "prefix=app:"));
  ASSERT_TRUE(c->set("k", raw("v")));
  c->flush_l1();
  EXPECT_EQ(c->get("k")->data, "v");
  EXPECT_EQ(*c->increment("n"), 1);
  EXPECT_EQ(*c->clear_pattern("*"), 2);
  auto outside = open_or_die(server->url("app:apppw", 0, "prefix=other:"));
  EXPECT_EQ(outside->set("k", raw("v")).code(), StatusCode::kPermissionDenied);
}

TEST(CacheRedis, UnixSocket) {
  RedisServer::Config cfg;
  cfg.unix_socket = true;
  auto server = RedisServer::start(cfg);
  auto c = open_or_die("unix://" + server->unix_path() + "?db=1");
  ASSERT_TRUE(c->set("k", raw("v")));
  EXPECT_EQ(server->cli({"-n", "1", "EXISTS", "k"}), "1");
}

}  // namespace
}  // namespace stratacache
