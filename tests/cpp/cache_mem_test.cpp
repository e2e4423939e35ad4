// The facade on the embedded default (mem://): L1 only.
#include <gtest/gtest.h>

#include "stratacache/cache.hpp"
#include "support/open_cache.hpp"

namespace stratacache {
namespace {

using testing::open_or_die;

TEST(CacheMem, ValueRoundTripWithConfiguredSerializer) {
  for (const char* url : {"mem://", "mem://?serializer=json"}) {
    auto c = open_or_die(url);
    Value user = Value::Map{{"name", "Alice"}, {"role", "admin"}, {"age", 42}, {"tags", Value::Array{"a", "b"}}};
    ASSERT_TRUE(c->set_value("user:123", user));
    auto got = c->get_value("user:123");
    ASSERT_TRUE(got) << got.status().to_string();
    EXPECT_EQ(*got, user);
    EXPECT_EQ(c->get("user:123")->format, c->options().serializer);
  }
}

TEST(CacheMem, MissDeleteExistsTtl) {
  auto c = open_or_die("mem://?default_ttl=600");
  EXPECT_EQ(c->get("nope").code(), StatusCode::kNotFound);
  ASSERT_TRUE(c->set("a", Payload{Format::kRaw, "1"}));
  CallOptions no_ttl;
  no_ttl.ttl_ms = 0;
  ASSERT_TRUE(c->set("b", Payload{Format::kRaw, "2"}, no_ttl));
  EXPECT_TRUE(*c->exists("a"));
  EXPECT_FALSE(*c->exists("zzz"));
  int64_t ttl = *c->ttl_ms("a");
  EXPECT_GT(ttl, 599000);
  EXPECT_LE(ttl, 600000);
  EXPECT_EQ(*c->ttl_ms("b"), -1);
  EXPECT_EQ(c->ttl_ms("zzz").code(), StatusCode::kNotFound);
  EXPECT_EQ(*c->del({"a", "b", "zzz"}), 2);
  EXPECT_EQ(c->get("a").code(), StatusCode::kNotFound);
}

TEST(CacheMem, BinarySafeKeys) {
  auto c = open_or_die("mem://");
  const std::string keys[] = {std::string("nul\0key", 7), "cr\rlf\n", "*?[]{}", "", "\xff\xfe"};
  for (size_t i = 0; i < std::size(keys); ++i) ASSERT_TRUE(c->set(keys[i], Payload{Format::kRaw, std::to_string(i)}));
  for (size_t i = 0; i < std::size(keys); ++i) EXPECT_EQ(c->get(keys[i])->data, std::to_string(i));
  EXPECT_EQ(*c->clear_pattern("\\*\\?*"), 1);
  EXPECT_EQ(c->get("*?[]{}").code(), StatusCode::kNotFound);
  EXPECT_TRUE(c->get("cr\rlf\n"));
}

TEST(CacheMem, KeyLengthLimitIsAClearError) {
  auto c = open_or_die("mem://?max_key_length=8");
  auto st = c->set("123456789", Payload{Format::kRaw, "x"});
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("max_key_length"), std::string::npos);
  EXPECT_TRUE(c->set("12345678", Payload{Format::kRaw, "x"}));
  EXPECT_EQ(c->get("123456789").code(), StatusCode::kInvalidArgument);
}

TEST(CacheMem, IncrementCreatesAtZeroAndWorksOnStoredIntegers) {
  auto c = open_or_die("mem://");
  EXPECT_EQ(*c->increment("views"), 1);
  EXPECT_EQ(*c->increment("views", 5), 6);
  EXPECT_EQ(*c->get_value("views"), Value(6));
  ASSERT_TRUE(c->set_value("n", Value(41)));  // a msgpack integer
  EXPECT_EQ(*c->increment("n"), 42);
  ASSERT_TRUE(c->set_value("s", Value("text")));
  EXPECT_EQ(c->increment("s").code(), StatusCode::kWrongType);
}

TEST(CacheMem, InspectAndCountMatchingReadL1) {
  auto c = open_or_die("mem://");
  ASSERT_TRUE(c->set("a:1", Payload{Format::kMsgPack, std::string("\x2a", 1)}));
  ASSERT_TRUE(c->set("a:2", Payload{Format::kRaw, "xy"}));
  ASSERT_TRUE(c->set("b:1", Payload{Format::kRaw, "z"}));
  auto e = c->inspect("a:1");
  ASSERT_TRUE(e);
  EXPECT_STREQ(e->tier, "l1");
  EXPECT_STREQ(e->kind, "payload");
  EXPECT_TRUE(e->in_l1);
  EXPECT_EQ(e->format, Format::kMsgPack);
  EXPECT_EQ(e->payload_bytes, 1u);
  EXPECT_EQ(c->inspect("a:3").code(), StatusCode::kNotFound);
  EXPECT_EQ(c->stats().l1.hits + c->stats().l1.misses, 0u);
  EXPECT_EQ(*c->count_matching("a:*"), 2);
  EXPECT_EQ(*c->count_matching("?:1"), 2);
  EXPECT_EQ(*c->count_matching("zz*"), 0);
  EXPECT_TRUE(c->get("a:2"));  // nothing deleted
}

TEST(CacheMem, MgetMsetAndClearPattern) {
  auto c = open_or_die("mem://");
  ASSERT_TRUE(c->mset({{"server:1", {Format::kRaw, "a"}}, {"server:2", {Format::kRaw, "b"}}, {"other", {Format::kRaw, "c"}}}));
  auto r = c->mget({"server:1", "missing", "other"});
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0]->data, "a");
  EXPECT_EQ(r[1].code(), StatusCode::kNotFound);
  EXPECT_EQ(r[2]->data, "c");
  EXPECT_EQ(*c->clear_pattern("server:*"), 2);
  EXPECT_FALSE(c->get("server:2"));
  EXPECT_TRUE(c->get("other"));
}

TEST(CacheMem, SkippingTheOnlyTierIsUnsupportedNotASilentSuccess) {
  auto c = open_or_die("mem://");
  CallOptions skip;
  skip.skip_l1 = true;
  EXPECT_EQ(c->set("k", Payload{Format::kRaw, "v"}, skip).code(), StatusCode::kUnsupported);
  EXPECT_EQ(c->increment("n", 1, skip).code(), StatusCode::kUnsupported);
  EXPECT_EQ(c->get("k").code(), StatusCode::kNotFound);
}

TEST(CacheMem, ValueThatCannotFitInL1IsTooLargeNotSilentlyDropped) {
  auto c = open_or_die("mem://?l1_max_bytes=64k");
  ASSERT_TRUE(c->set("k", Payload{Format::kRaw, "old"}));
  auto st = c->set("k", Payload{Format::kRaw, std::string(100 * 1024, 'x')});
  EXPECT_EQ(st.code(), StatusCode::kTooLarge) << st.to_string();
  EXPECT_EQ(c->get("k").code(), StatusCode::kNotFound);  // the old value is gone too
  auto tiny = open_or_die("mem://?l1_max_entries=0");
  EXPECT_EQ(tiny->increment("n").code(), StatusCode::kTooLarge);
}

TEST(CacheMem, ExtremeTtlAndTimeoutAreHandled) {
  auto c = open_or_die("mem://");
  CallOptions forever_ish;
  forever_ish.ttl_ms = INT64_MAX;
  EXPECT_EQ(c->set("k", Payload{Format::kRaw, "v"}, forever_ish).code(), StatusCode::kInvalidArgument);
  CallOptions year;
  year.ttl_ms = 365LL * 24 * 3600 * 1000;
  year.timeout = Millis(INT64_MAX);
  ASSERT_TRUE(c->set("k", Payload{Format::kRaw, "v"}, year));
  EXPECT_EQ(c->get("k", year)->data, "v");
}

TEST(CacheMem, StatsFlushAndHealth) {
  auto c = open_or_die("mem://?l1_max_entries=2&l1_policy=lru");
  for (const char* k : {"a", "b", "c"}) ASSERT_TRUE(c->set(k, Payload{Format::kRaw, "v"}));
  (void)c->get("c");
  (void)c->get("a");
  auto s = c->stats();
  EXPECT_EQ(s.l1.entries, 2u);
  EXPECT_EQ(s.l1.evictions, 1u);
  EXPECT_EQ(s.l1.hits, 1u);
  EXPECT_EQ(s.l1.misses, 1u);
  c->flush_l1();
  EXPECT_EQ(c->stats().l1.entries, 0u);
  EXPECT_TRUE(c->health().healthy);
}

TEST(CacheMem, UnencodableValueIsInvalidArgument) {
  auto c = open_or_die("mem://?serializer=json");
  auto st = c->set_value("k", Value(Bytes{"\x01"}));
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(st.message().empty());
}

}  // namespace
}  // namespace stratacache
