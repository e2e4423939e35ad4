// Writes: mset validates and finishes every item exactly as set does (one mechanism).
#include <gtest/gtest.h>

#include "stratacache/cache.hpp"
#include "support/redis_server.hpp"
#include "support/open_cache.hpp"

namespace stratacache {
namespace {

using testing::RedisServer;

using testing::open_or_die;

Payload raw(std::string s) { return Payload{Format::kRaw, std::move(s)}; }

TEST(CacheMset, RefusesWhatSetRefusesWithTheSameStatus) {
  auto c = open_or_die("mem://?max_value_bytes=10&max_key_length=8");
  CallOptions forever;
  forever.ttl_ms = int64_t{20} * 365 * 24 * 3600 * 1000;
  CallOptions neither;
  neither.skip_l1 = neither.skip_l2 = true;
  struct Case {
    std::string key;
    Payload value;
    CallOptions call;
  } cases[] = {{"k", raw(std::string(11, 'x')), {}},
               {"longer-than-8", raw("v"), {}},
               {"k", raw("v"), forever},
               {"k", raw("v"), neither}};
  for (auto& t : cases) {
    Status one = c->set(t.key, t.value, t.call);
    ASSERT_FALSE(one);
    Status many = c->mset({{"ok", raw("v")}, {t.key, t.value}}, t.call);
    EXPECT_EQ(many.code(), one.code()) << one.to_string();
    EXPECT_EQ(many.message(), one.message());
    EXPECT_FALSE(c->get("ok", {})) << "nothing is written when an item is refused";
  }
}

TEST(CacheMset, ValueTooBigForL1RemovesTheOldCopyLikeSet) {
  // mem://: L1 only, so a value L1 cannot admit is refused, and the older value must not
  // stay visible (set's rule: a refused write never leaves an older copy behind).
  auto c = open_or_die("mem://?l1_max_bytes=600");
  ASSERT_TRUE(c->set("a", raw("old-a")));
  ASSERT_TRUE(c->mset({{"b", raw("old-b")}}));
  Status s = c->mset({{"b", raw(std::string(1000, 'x'))}});
  EXPECT_EQ(s.code(), StatusCode::kTooLarge);
  EXPECT_EQ(s.message(), c->set("a", raw(std::string(1000, 'x'))).message());
  EXPECT_EQ(c->get("a").code(), StatusCode::kNotFound);
  EXPECT_EQ(c->get("b").code(), StatusCode::kNotFound) << "mset left the old copy of b in L1";
}

TEST(CacheMset, SkipL1StillInvalidatesL1OnRedis) {
  auto server = RedisServer::start();
  auto c = open_or_die(server->url());
  ASSERT_TRUE(c->mset({{"a", raw("1")}, {"b", raw("2")}}));
  CallOptions skip_l1;
  skip_l1.skip_l1 = true;
  ASSERT_TRUE(c->mset({{"a", raw("3")}, {"b", raw("4")}}, skip_l1));
  EXPECT_EQ(c->get("a")->data, "3");
  EXPECT_EQ(c->get("b")->data, "4");
  EXPECT_EQ(server->cli({"GET", "a"}).empty(), false);
}

}  // namespace
}  // namespace stratacache
