// Values in Redis that this cache did not write (redis-cli, another client library,
// another application during a migration) are never destroyed by a read; envelopes
// that are truncated or fail authentication are removed, and only while unchanged.
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "remote_tier.hpp"
#include "stratacache/cache.hpp"
#include "support/redis_server.hpp"
#include "support/open_cache.hpp"

namespace stratacache {
namespace {

using testing::RedisServer;

using testing::open_or_die;

Result<Payload> get_async(Cache& c, const std::string& key) {
  std::promise<Result<ValueRef>> p;
  c.get_async(key, {}, [&](Result<ValueRef> r) { p.set_value(std::move(r)); });
  auto r = p.get_future().get();
  if (!r) return r.status();
  return r->to_payload();
}

TEST(CacheForeign, ForeignValueIsACountedMissAndStays) {
  auto server = RedisServer::start();
  auto c = open_or_die(server->url("", 0, "prefix=p:"));
  server->cli({"SET", "p:a", "written by redis-cli"});
  server->cli({"SET", "p:b", "{\"json\": \"from another app\"}"});
  server->cli({"SET", "p:c", ""});
  EXPECT_EQ(c->get("a").code(), StatusCode::kNotFound);
  EXPECT_EQ(get_async(*c, "b").code(), StatusCode::kNotFound);
  auto many = c->mget({"a", "b", "c"});
  for (auto& r : many) EXPECT_EQ(r.code(), StatusCode::kNotFound);
  EXPECT_EQ(c->stats().decode_errors, 5u);
  EXPECT_EQ(server->cli({"GET", "p:a"}), "written by redis-cli");
  EXPECT_EQ(server->cli({"GET", "p:b"}), "{\"json\": \"from another app\"}");
  EXPECT_EQ(server->cli({"EXISTS", "p:c"}), "1");
  EXPECT_EQ(c->stats().l1.entries, 0u) << "a miss is not back-filled";
  // Ours and readable: a plain integer (INCRBY-compatible counters).
  server->cli({"SET", "p:n", "17"});
  EXPECT_EQ(*c->get_value("n"), Value(17));
}

TEST(CacheForeign, RawModeReturnsForeignBytesAsRaw) {
  auto server = RedisServer::start();
  auto c = open_or_die(server->url("", 0, "foreign_values=raw"));
  server->cli({"SET", "a", "hello"});
  server->cli({"SET", "n", "42"});
  auto a = c->get("a");
  ASSERT_TRUE(a) << a.status().to_string();
  EXPECT_EQ(*a, (Payload{Format::kRaw, "hello"}));
  EXPECT_EQ(get_async(*c, "a")->data, "hello");
  auto many = c->mget({"a", "n"});
  ASSERT_TRUE(many[0]);
  EXPECT_EQ(*many[0], (Payload{Format::kRaw, "hello"}));
  EXPECT_EQ(*many[1], (Payload{Format::kJson, "42"})) << "integers stay ours";
  EXPECT_EQ(*c->get_value("a"), Value(Bytes{"hello"}));
  EXPECT_EQ(c->stats().decode_errors, 0u);
  EXPECT_EQ(server->cli({"GET", "a"}), "hello");
  EXPECT_EQ(Cache::open(server->url("", 0, "foreign_values=delete")).code(), StatusCode::kInvalidArgument);
}

// Direct access to what the cache stores, to damage an envelope.
std::unique_ptr<RemoteTier> tier_for(const RedisServer& server) {
  auto o = Options::from_url(server.url());
  EXPECT_TRUE(o);
  return make_redis_tier(o->redis);
}

Deadline soon() { return Deadline::after_saturating(Millis(2000)); }

TEST(CacheForeign, TruncatedOrTamperedEnvelopeIsDeleted) {
  auto server = RedisServer::start();
  auto c = open_or_die(server->url());
  auto l2 = tier_for(*server);
  ASSERT_TRUE(c->set("t", Payload{Format::kRaw, "a value of ours"}));
  ASSERT_TRUE(c->set("u", Payload{Format::kRaw, "another value"}));
  c->flush_l1();
  std::string env = l2->get("t", soon())->value;
  ASSERT_TRUE(l2->set("t", env.substr(0, env.size() - 3), 0, soon()));
  std::string other = l2->get("u", soon())->value;
  other.push_back('!');  // one byte more than the header says
  ASSERT_TRUE(l2->set("u", other, 0, soon()));
  EXPECT_EQ(c->get("t").code(), StatusCode::kNotFound);
  EXPECT_EQ(get_async(*c, "u").code(), StatusCode::kNotFound);
  EXPECT_EQ(c->stats().decode_errors, 2u);
  for (int i = 0; i < 100 && server->cli({"EXISTS", "u"}) != "0"; ++i) std::this_thread::sleep_for(Millis(10));
  EXPECT_EQ(server->cli({"EXISTS", "t"}), "0");
  EXPECT_EQ(server->cli({"EXISTS", "u"}), "0");
}

TEST(CacheForeign, TamperedEncryptedEnvelopeIsDeleted) {
  auto server = RedisServer::start();
  auto opts = Options::from_url(server->url());
  ASSERT_TRUE(opts);
  auto ring = std::make_shared<KeyRing>();
  ASSERT_TRUE(ring->add_key(1, std::string(32, 'k')));
  opts->codec.keys = ring;
  auto c = std::move(Cache::open(*opts).value());
  auto l2 = tier_for(*server);
  ASSERT_TRUE(c->set("s", Payload{Format::kRaw, "secret"}));
  c->flush_l1();
  std::string env = l2->get("s", soon())->value;
  env.back() ^= 1;  // the tag
  ASSERT_TRUE(l2->set("s", env, 0, soon()));
  EXPECT_EQ(c->mget({"s"})[0].code(), StatusCode::kNotFound);
  EXPECT_EQ(c->stats().decode_errors, 1u);
  EXPECT_EQ(server->cli({"EXISTS", "s"}), "0");
}

Result<bool> delete_if_value_async(RemoteTier& l2, const std::string& key, const std::string& expected) {
  std::promise<Result<bool>> p;
  l2.delete_if_value_async(key, expected, soon(), [&](Result<bool> r) { p.set_value(std::move(r)); });
  return p.get_future().get();
}

TEST(CacheForeign, CompareAndDeleteSparesAValueWrittenSinceTheRead) {
  auto server = RedisServer::start();
  auto l2 = tier_for(*server);
  const std::string damaged("\xFE\x53\x01\x00\x00\x00\x09" "\0short", 12);
  ASSERT_TRUE(l2->set("k", damaged, 0, soon()));
  // The read saw `damaged`; another writer stores a fresh value before the delete.
  ASSERT_TRUE(l2->set("k", "fresh", 0, soon()));
  EXPECT_FALSE(*l2->delete_if_value("k", damaged, soon()));
  EXPECT_FALSE(*delete_if_value_async(*l2, "k", damaged));
  EXPECT_EQ(server->cli({"GET", "k"}), "fresh");
  // Unchanged: deleted (binary-safe comparison), once.
  ASSERT_TRUE(l2->set("k", damaged, 0, soon()));
  EXPECT_TRUE(*l2->delete_if_value("k", damaged, soon()));
  EXPECT_FALSE(*l2->delete_if_value("k", damaged, soon()));
  ASSERT_TRUE(l2->set("k", damaged, 0, soon()));
  EXPECT_TRUE(*delete_if_value_async(*l2, "k", damaged));
  EXPECT_EQ(server->cli({"EXISTS", "k"}), "0");
  EXPECT_EQ(l2->stats().deletes, 2u);
  EXPECT_FALSE(*make_null_remote_tier()->delete_if_value("k", damaged, soon()));
}

TEST(CacheForeign, ClusterCompareAndDeleteAndForeignValues) {
  auto cluster = testing::RedisCluster::start(3, 0);
  auto o = Options::from_url(cluster->url());
  ASSERT_TRUE(o) << o.status().to_string();
  auto l2 = make_redis_tier(o->redis);
  auto c = std::move(Cache::open(*o).value());
  const std::string keys[] = {"a", "b", "c", "user:1", "user:2", "{x}y"};  // several slots
  for (const std::string& k : keys) {
    ASSERT_TRUE(l2->set(k, "old", 0, soon()));
    ASSERT_TRUE(l2->set(k, "new", 0, soon()));
    EXPECT_FALSE(*l2->delete_if_value(k, "old", soon())) << k;
    EXPECT_FALSE(*delete_if_value_async(*l2, k, "old")) << k;
    EXPECT_TRUE(*delete_if_value_async(*l2, k, "new")) << k;
    EXPECT_FALSE(l2->get(k, soon())) << k;
    // A foreign value stays through get and get_async; a truncated envelope goes.
    ASSERT_TRUE(l2->set(k, "foreign", 0, soon()));
    EXPECT_EQ(c->get(k).code(), StatusCode::kNotFound);
    std::promise<Result<ValueRef>> p;
    c->get_async(k, {}, [&](Result<ValueRef> r) { p.set_value(std::move(r)); });
    EXPECT_EQ(p.get_future().get().code(), StatusCode::kNotFound);
    EXPECT_EQ(l2->get(k, soon())->value, "foreign") << k;
    ASSERT_TRUE(c->set(k, Payload{Format::kRaw, "ours"}));
    c->flush_l1();
    std::string env = l2->get(k, soon())->value;
    ASSERT_TRUE(l2->set(k, env.substr(0, env.size() - 1), 0, soon()));
    EXPECT_EQ(get_async(*c, k).code(), StatusCode::kNotFound);
    for (int i = 0; i < 100 && l2->get(k, soon()); ++i) std::this_thread::sleep_for(Millis(10));
    EXPECT_FALSE(l2->get(k, soon())) << k << ": the truncated envelope is deleted";
  }
}

}  // namespace
}  // namespace stratacache
