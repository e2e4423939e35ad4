// The L2 Redis tier against a real redis-server: operations, transports, AUTH/ACL,
// health, limits, and the null tier.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "remote_tier.hpp"
#include "support/redis_server.hpp"

namespace stratacache {
namespace {

using testing::RedisServer;

Deadline soon(int ms = 2000) { return Deadline::after(std::chrono::milliseconds(ms)); }

RedisOptions tcp_options(const RedisServer& server) {
  RedisOptions o;
  o.transport = RedisOptions::Transport::kTcp;
  o.host = "127.0.0.1";
  o.port = server.port();
  return o;
}

std::string all_bytes() {
  std::string s;
  for (int i = 0; i < 256; ++i) s.push_back(static_cast<char>(i));
  return s + "\r\n$3\r\n*1\r\n";
}

// One server for the operation tests; each test starts from an empty database.
class RedisTierTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = RedisServer::start(); }
  static void TearDownTestSuite() { server_.reset(); }
  void SetUp() override {
    ASSERT_EQ(server_->cli({"FLUSHALL"}), "OK");
    tier_ = make_redis_tier(tcp_options(*server_));
  }
  static std::unique_ptr<RedisServer> server_;
  std::unique_ptr<RemoteTier> tier_;
};
std::unique_ptr<RedisServer> RedisTierTest::server_;

TEST_F(RedisTierTest, SetGetWithoutAndWithTtl) {
  ASSERT_TRUE(tier_->enabled());
  ASSERT_TRUE(tier_->set("plain", "v1", 0, soon()).is_ok());
  auto r = tier_->get("plain", soon());
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->value, "v1");
  EXPECT_EQ(r->pttl_ms, -1);

  ASSERT_TRUE(tier_->set("ttl", "v2", 60000, soon()).is_ok());
  r = tier_->get("ttl", soon());
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->value, "v2");
  EXPECT_GT(r->pttl_ms, 55000);
  EXPECT_LE(r->pttl_ms, 60000);
  EXPECT_EQ(server_->cli({"GET", "ttl"}), "v2");

  EXPECT_EQ(tier_->set("neg", "v", -5, soon()).code(), StatusCode::kInvalidArgument);
  L2Stats st = tier_->stats();
  EXPECT_EQ(st.sets, 2u);
  EXPECT_EQ(st.hits, 2u);
  EXPECT_EQ(st.connections_opened, 1u);  // one caller, one pooled connection
}

TEST_F(RedisTierTest, MissIsNotFound) {
  auto r = tier_->get("missing", soon());
  EXPECT_EQ(r.code(), StatusCode::kNotFound);
  EXPECT_EQ(tier_->stats().misses, 1u);
  EXPECT_EQ(tier_->stats().errors, 0u);
}

TEST_F(RedisTierTest, BinarySafeKeysAndValues) {
  const std::string key = std::string("k\r\n\0*?[]{}\x01\xff end", 17);
  const std::string value = all_bytes();
  ASSERT_TRUE(tier_->set(key, value, 0, soon()).is_ok());
  auto r = tier_->get(key, soon());
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->value, value);
  // The key is stored as exactly those bytes: its glob-looking neighbours do not exist.
  EXPECT_EQ(tier_->exists(std::string("k\r\n", 3), soon()).value(), false);
  EXPECT_EQ(tier_->exists(key, soon()).value(), true);
  // Empty value and empty key are values too.
  ASSERT_TRUE(tier_->set("", "", 0, soon()).is_ok());
  auto e = tier_->get("", soon());
  ASSERT_TRUE(e.is_ok());
  EXPECT_EQ(e->value, "");
  EXPECT_EQ(tier_->del({key, ""}, soon()).value(), 2);
}

TEST_F(RedisTierTest, MsetMgetMixedHits) {
  std::vector<RemoteWrite> writes = {{"a", "va", 0}, {"b", "vb", 30000}, {"c", std::string(5000, 'c'), 0}};
  ASSERT_TRUE(tier_->mset(writes, soon()).is_ok());
  auto res = tier_->mget({"a", "nope", "b", "c"}, soon());
  ASSERT_EQ(res.size(), 4u);
  ASSERT_TRUE(res[0].is_ok());
  EXPECT_EQ(res[0]->value, "va");
  EXPECT_EQ(res[0]->pttl_ms, -1);
  EXPECT_EQ(res[1].code(), StatusCode::kNotFound);
  ASSERT_TRUE(res[2].is_ok());
  EXPECT_EQ(res[2]->value, "vb");
  EXPECT_GT(res[2]->pttl_ms, 25000);
  ASSERT_TRUE(res[3].is_ok());
  EXPECT_EQ(res[3]->value, std::string(5000, 'c'));
  EXPECT_TRUE(tier_->mget({}, soon()).empty());
  L2Stats st = tier_->stats();
  EXPECT_EQ(st.hits, 3u);
  EXPECT_EQ(st.misses, 1u);
  EXPECT_EQ(st.sets, 3u);
}

TEST_F(RedisTierTest, MgetOnWrongTypeKeyFailsOnlyThatKey) {
  server_->cli({"RPUSH", "list", "x"});
  ASSERT_TRUE(tier_->set("s", "v", 0, soon()).is_ok());
  auto res = tier_->mget({"list", "s"}, soon());
  ASSERT_EQ(res.size(), 2u);
  EXPECT_EQ(res[0].code(), StatusCode::kWrongType);
  EXPECT_NE(res[0].status().message().find("WRONGTYPE"), std::string::npos);
  ASSERT_TRUE(res[1].is_ok());
  EXPECT_EQ(res[1]->value, "v");
  EXPECT_EQ(tier_->get("list", soon()).code(), StatusCode::kWrongType);
}

TEST_F(RedisTierTest, DelCountsExistingKeys) {
  ASSERT_TRUE(tier_->mset({{"d1", "1", 0}, {"d2", "2", 0}}, soon()).is_ok());
  auto n = tier_->del({"d1", "d2", "d3"}, soon());
  ASSERT_TRUE(n.is_ok());
  EXPECT_EQ(*n, 2);
  EXPECT_EQ(tier_->del({"d1"}, soon()).value(), 0);
  EXPECT_EQ(tier_->del({}, soon()).value(), 0);
  EXPECT_EQ(tier_->stats().deletes, 2u);
}

TEST_F(RedisTierTest, ExistsAndPttl) {
  EXPECT_EQ(tier_->exists("x", soon()).value(), false);
  EXPECT_EQ(tier_->pttl("x", soon()).code(), StatusCode::kNotFound);
  ASSERT_TRUE(tier_->set("x", "1", 0, soon()).is_ok());
  EXPECT_EQ(tier_->exists("x", soon()).value(), true);
  EXPECT_EQ(tier_->pttl("x", soon()).value(), -1);
  ASSERT_TRUE(tier_->set("y", "1", 5000, soon()).is_ok());
  auto ms = tier_->pttl("y", soon());
  ASSERT_TRUE(ms.is_ok());
  EXPECT_GT(*ms, 4000);
  EXPECT_LE(*ms, 5000);
}

TEST_F(RedisTierTest, IncrByCreatesThenIncrementsAndSetsTtlOnce) {
  auto v = tier_->incr_by("ctr", 5, 10000, soon());
  ASSERT_TRUE(v.is_ok()) << v.status().to_string();
  EXPECT_EQ(*v, 5);
  ASSERT_TRUE(tier_->set("marker", "", 0, soon()).is_ok());
  // A later increment with a longer TTL must not extend the first one.
  v = tier_->incr_by("ctr", -2, 60000, soon());
  ASSERT_TRUE(v.is_ok());
  EXPECT_EQ(*v, 3);
  auto ms = tier_->pttl("ctr", soon());
  ASSERT_TRUE(ms.is_ok());
  EXPECT_GT(*ms, 0);
  EXPECT_LE(*ms, 10000);
  // Without a TTL the counter never expires.
  EXPECT_EQ(tier_->incr_by("forever", 1, 0, soon()).value(), 1);
  EXPECT_EQ(tier_->pttl("forever", soon()).value(), -1);
  EXPECT_EQ(server_->cli({"GET", "ctr"}), "3");
}

TEST_F(RedisTierTest, IncrByOnNonIntegerIsWrongType) {
  ASSERT_TRUE(tier_->set("text", "abc", 0, soon()).is_ok());
  auto v = tier_->incr_by("text", 1, 0, soon());
  EXPECT_EQ(v.code(), StatusCode::kWrongType) << v.status().to_string();
  server_->cli({"HSET", "hash", "f", "1"});
  EXPECT_EQ(tier_->incr_by("hash", 1, 0, soon()).code(), StatusCode::kWrongType);
  EXPECT_EQ(tier_->get("text", soon())->value, "abc");
  EXPECT_EQ(tier_->stats().errors, 2u);
}

TEST_F(RedisTierTest, DeleteMatchingDeletesOnlyMatches) {
  std::vector<RemoteWrite> writes;
  for (int i = 0; i < 5000; ++i) writes.push_back({"dm:n:" + std::to_string(i), "v", 0});
  for (int i = 0; i < 50; ++i) writes.push_back({"keep:" + std::to_string(i), "v", 0});
  writes.push_back({"sp:a*b", "v", 0});
  writes.push_back({"sp:aXb", "v", 0});
  ASSERT_TRUE(tier_->mset(writes, soon(10000)).is_ok());
  // Counting first (several SCAN pages, each key once) deletes nothing.
  auto counted = tier_->count_matching("dm:n:*", soon(10000));
  ASSERT_TRUE(counted.is_ok()) << counted.status().to_string();
  EXPECT_EQ(*counted, 5000);
  EXPECT_EQ(tier_->count_matching("sp:a\\*b", soon()).value(), 1);
  EXPECT_EQ(server_->cli({"DBSIZE"}), "5052");
  auto n = tier_->delete_matching("dm:n:*", soon(10000));
  ASSERT_TRUE(n.is_ok()) << n.status().to_string();
  EXPECT_EQ(*n, 5000);
  EXPECT_EQ(server_->cli({"DBSIZE"}), "52");
  // A glob-special character in a key, escaped: only that key goes.
  n = tier_->delete_matching("sp:a\\*b", soon());
  ASSERT_TRUE(n.is_ok());
  EXPECT_EQ(*n, 1);
  EXPECT_TRUE(tier_->exists("sp:aXb", soon()).value());
  EXPECT_FALSE(tier_->exists("sp:a*b", soon()).value());
  EXPECT_EQ(tier_->delete_matching("nothing:*", soon()).value(), 0);
  EXPECT_EQ(server_->cli({"DBSIZE"}), "51");
}

TEST_F(RedisTierTest, HealthReportsServerFields) {
  auto h = tier_->health(soon());
  EXPECT_TRUE(h.healthy) << h.error;
  EXPECT_EQ(h.version.substr(0, 2), "7.");
  EXPECT_FALSE(h.used_memory.empty());
  EXPECT_GE(h.connected_clients, 1);
  EXPECT_GE(h.uptime_seconds, 0);
  EXPECT_GT(h.latency_ms, 0.0);
  EXPECT_LT(h.latency_ms, 1000.0);
  EXPECT_TRUE(h.error.empty());
}

TEST_F(RedisTierTest, SelectsTheConfiguredDb) {
  RedisOptions o = tcp_options(*server_);
  o.db = 3;
  auto tier = make_redis_tier(o);
  ASSERT_TRUE(tier->set("in3", "yes", 0, soon()).is_ok());
  EXPECT_EQ(server_->cli({"-n", "3", "GET", "in3"}), "yes");
  EXPECT_EQ(server_->cli({"EXISTS", "in3"}), "0");  // not in db 0
  o.db = 99;
  auto bad = make_redis_tier(o);
  EXPECT_EQ(bad->get("k", soon()).code(), StatusCode::kInvalidArgument);
}

TEST_F(RedisTierTest, ReplyOverMaxReplyBytesIsTooLargeAndConnectionReplaced) {
  RedisOptions o = tcp_options(*server_);
  o.max_reply_bytes = 64 * 1024;
  auto tier = make_redis_tier(o);
  ASSERT_TRUE(tier->set("big", std::string(1 << 20, 'b'), 0, soon()).is_ok());
  ASSERT_TRUE(tier->set("small", "s", 0, soon()).is_ok());
  auto r = tier->get("big", soon());
  EXPECT_EQ(r.code(), StatusCode::kTooLarge) << r.status().to_string();
  auto s = tier->get("small", soon());
  ASSERT_TRUE(s.is_ok()) << s.status().to_string();
  EXPECT_EQ(s->value, "s");
  EXPECT_EQ(tier->stats().connections_discarded, 1u);
  EXPECT_EQ(tier->stats().connections_opened, 2u);

  o.max_reply_elements = 10;
  o.max_reply_bytes = 80u << 20;
  auto few = make_redis_tier(o);
  for (int i = 0; i < 20; ++i) server_->cli({"SET", "e:" + std::to_string(i), "1"});
  // SCAN replies carry up to COUNT keys in one array.
  auto n = few->delete_matching("e:*", soon());
  EXPECT_EQ(n.code(), StatusCode::kTooLarge) << n.status().to_string();
}

TEST_F(RedisTierTest, ExpiredDeadlineSendsNothingAndKeepsTheConnection) {
  ASSERT_TRUE(tier_->set("k", "v", 0, soon()).is_ok());
  auto r = tier_->get("k", Deadline::after(std::chrono::milliseconds(0)));
  EXPECT_EQ(r.code(), StatusCode::kTimeout);
  // A far-away deadline (no practical limit) works too.
  auto far = tier_->get("k", Deadline(Deadline::Clock::time_point::max()));
  ASSERT_TRUE(far.is_ok()) << far.status().to_string();
  EXPECT_EQ(far->value, "v");
  L2Stats st = tier_->stats();
  EXPECT_EQ(st.connections_opened, 1u);
  EXPECT_EQ(st.connections_discarded, 0u);
  EXPECT_EQ(st.timeouts, 1u);
}

TEST_F(RedisTierTest, LargeValueRoundTrips) {
  std::string big(8 << 20, 'x');
  for (size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<char>('a' + (i / 4096) % 26);
  ASSERT_TRUE(tier_->set("large", big, 0, soon(5000)).is_ok());
  auto r = tier_->get("large", soon(5000));
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_TRUE(r->value == big);
}

TEST(RedisTransport, UnixSocket) {
  RedisServer::Config cfg;
  cfg.unix_socket = true;
  auto server = RedisServer::start(cfg);
  RedisOptions o;
  o.transport = RedisOptions::Transport::kUnix;
  o.unix_path = server->unix_path();
  auto tier = make_redis_tier(o);
  Status st = tier->set("u", "via unix", 0, soon());
  ASSERT_TRUE(st.is_ok()) << st.to_string();
  EXPECT_EQ(server->cli({"GET", "u"}), "via unix");
  EXPECT_EQ(tier->get("u", soon())->value, "via unix");
  o.unix_path = server->unix_path() + ".missing";
  auto missing = make_redis_tier(o);
  EXPECT_EQ(missing->get("u", soon()).code(), StatusCode::kUnavailable);
}

TEST(RedisAuth, PasswordAuth) {
  RedisServer::Config cfg;
  cfg.password = "s3cret pass";
  auto server = RedisServer::start(cfg);
  RedisOptions o = tcp_options(*server);
  o.password = "s3cret pass";
  auto tier = make_redis_tier(o);
  ASSERT_TRUE(tier->set("k", "v", 0, soon()).is_ok());
  EXPECT_EQ(tier->get("k", soon())->value, "v");

  o.password = "wrong";
  auto wrong = make_redis_tier(o);
  auto r = wrong->get("k", soon());
  EXPECT_EQ(r.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(r.status().message().find("WRONGPASS"), std::string::npos) << r.status().message();
  // Still a permission problem on the next call (while backing off), not "unavailable".
  EXPECT_EQ(wrong->get("k", soon()).code(), StatusCode::kPermissionDenied);

  o.password.clear();
  auto none = make_redis_tier(o);
  r = none->get("k", soon());
  EXPECT_EQ(r.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(r.status().message().find("NOAUTH"), std::string::npos) << r.status().message();
  auto h = none->health(soon());
  EXPECT_FALSE(h.healthy);
  EXPECT_NE(h.error.find("NOAUTH"), std::string::npos) << h.error;
}

TEST(RedisAuth, AclUserLimitedToItsKeys) {
  RedisServer::Config cfg;
  cfg.acl_lines = {"user default on nopass ~* &* +@all", "user app on >apppw ~app:* +@all -@dangerous"};
  auto server = RedisServer::start(cfg);
  RedisOptions o = tcp_options(*server);
  o.username = "app";
  o.password = "apppw";
  auto tier = make_redis_tier(o);
  ASSERT_TRUE(tier->set("app:1", "mine", 0, soon()).is_ok());
  EXPECT_EQ(tier->get("app:1", soon())->value, "mine");
  EXPECT_EQ(tier->incr_by("app:ctr", 2, 1000, soon()).value(), 2);
  auto denied = tier->get("other:1", soon());
  EXPECT_EQ(denied.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(denied.status().message().find("NOPERM"), std::string::npos) << denied.status().message();
  EXPECT_EQ(tier->set("other:1", "x", 0, soon()).code(), StatusCode::kPermissionDenied);
  // The denial is a reply, not a broken connection: the same connection goes on.
  EXPECT_EQ(tier->get("app:1", soon())->value, "mine");
  EXPECT_EQ(tier->stats().connections_opened, 1u);
  // INFO is @dangerous: PING still proves the server healthy, INFO fields stay empty.
  auto h = tier->health(soon());
  EXPECT_TRUE(h.healthy) << h.error;
  EXPECT_TRUE(h.version.empty());

  o.password = "nope";
  auto wrong = make_redis_tier(o);
  auto r = wrong->get("app:1", soon());
  EXPECT_EQ(r.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(r.status().message().find("AUTH"), std::string::npos);
}

TEST(RedisNullTier, MissesAndNoOps) {
  auto tier = make_null_remote_tier();
  EXPECT_FALSE(tier->enabled());
  EXPECT_EQ(tier->get("k", soon()).code(), StatusCode::kNotFound);
  auto m = tier->mget({"a", "b"}, soon());
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[1].code(), StatusCode::kNotFound);
  EXPECT_TRUE(tier->set("k", "v", 0, soon()).is_ok());
  EXPECT_TRUE(tier->mset({{"k", "v", 0}}, soon()).is_ok());
  EXPECT_EQ(tier->get("k", soon()).code(), StatusCode::kNotFound);
  EXPECT_EQ(tier->del({"k"}, soon()).value(), 0);
  EXPECT_FALSE(tier->exists("k", soon()).value());
  EXPECT_EQ(tier->pttl("k", soon()).code(), StatusCode::kNotFound);
  EXPECT_EQ(tier->incr_by("k", 1, 0, soon()).code(), StatusCode::kUnsupported);
  EXPECT_EQ(tier->delete_matching("*", soon()).value(), 0);
  auto h = tier->health(soon());
  EXPECT_TRUE(h.healthy);
  EXPECT_TRUE(h.version.empty());
  EXPECT_EQ(tier->stats().errors, 0u);
  RedisOptions none;  // transport kNone
  EXPECT_FALSE(make_redis_tier(none)->enabled());
}

}  // namespace
}  // namespace stratacache
