#include <gtest/gtest.h>

#include "glob.hpp"
#include "integer_payload.hpp"
#include "stratacache/options.hpp"

namespace stratacache {
namespace {

TEST(Glob, MatchesLikeRedis) {
  EXPECT_TRUE(glob_match("user:*", "user:1"));
  EXPECT_TRUE(glob_match("user:*", "user:"));
  EXPECT_FALSE(glob_match("user:*", "users"));
  EXPECT_TRUE(glob_match("h?llo", "hello"));
  EXPECT_FALSE(glob_match("h?llo", "hllo"));
  EXPECT_TRUE(glob_match("h[ae]llo", "hallo"));
  EXPECT_FALSE(glob_match("h[ae]llo", "hillo"));
  EXPECT_TRUE(glob_match("h[^e]llo", "hallo"));
  EXPECT_FALSE(glob_match("h[^e]llo", "hello"));
  EXPECT_TRUE(glob_match("h[a-c]llo", "hbllo"));
  EXPECT_TRUE(glob_match("a\\*b", "a*b"));
  EXPECT_FALSE(glob_match("a\\*b", "axb"));
  EXPECT_TRUE(glob_match("*:*:end", "a:b:c:end"));
  EXPECT_TRUE(glob_match("*", std::string("bin\0ary", 7)));
}

TEST(Glob, ClassEdgeCasesFollowRedis) {
  // An unterminated class runs to the end of the pattern (Redis stringmatchlen).
  EXPECT_TRUE(glob_match("user[1", "user1"));
  EXPECT_FALSE(glob_match("user[1", "user["));
  // ']' can end a range: [a-] is the range ']'..'a'.
  EXPECT_TRUE(glob_match("[a-]", "_"));
  EXPECT_FALSE(glob_match("[a-]", "-"));
  EXPECT_TRUE(glob_match("[z-a]", "m"));  // reversed ranges are swapped
  EXPECT_TRUE(glob_match("[\\]]", "]"));
  EXPECT_TRUE(glob_match("x\\", "x\\"));  // a trailing backslash is literal
}

// One backtrack point (the last '*') keeps a many-star pattern linear in the text: about
// two steps per byte. A matcher that backtracks into every '*' needs on the order of
// |text|^stars steps (millions already at 16 bytes), so the small case fails first.
TEST(Glob, HostilePatternStaysFast) {
  const std::string pattern = "a*a*a*a*a*a*a*a*a*a*b";
  for (size_t n : {16, 64, 5000, 50000}) {
    std::string text(n, 'a');
    EXPECT_FALSE(glob_match(pattern, text));
    ASSERT_LE(glob_match_steps(pattern, text), 3 * (pattern.size() + n)) << "text of " << n << " bytes";
  }
  // The bound of the header for the worst case of one backtrack point: every retry
  // re-reads the literal tail.
  const std::string tail = "*" + std::string(20, 'a') + "b";
  std::string text(1000, 'a');
  EXPECT_FALSE(glob_match(tail, text));
  EXPECT_LE(glob_match_steps(tail, text), (tail.size() + 1) * (text.size() + 1));
  EXPECT_TRUE(glob_match("a*a*a*a*a*a*a*a*a*a*b", std::string(5000, 'a') + "b"));
}

TEST(Glob, EscapeMakesTextLiteral) {
  std::string key = "we*ird?[x]\\";
  EXPECT_TRUE(glob_match(glob_escape(key), key));
  EXPECT_FALSE(glob_match(glob_escape(key), "weXird?[x]\\"));
  EXPECT_TRUE(glob_match(glob_escape("p[1]:") + "*", "p[1]:anything"));
  EXPECT_FALSE(glob_match(glob_escape("p[1]:") + "*", "p1:anything"));
}

TEST(IntegerPayload, ParsesOnlyCanonicalIntegers) {
  EXPECT_EQ(parse_ascii_integer("42"), 42);
  EXPECT_EQ(parse_ascii_integer("-9223372036854775808"), INT64_MIN);
  EXPECT_FALSE(parse_ascii_integer("9223372036854775808"));
  EXPECT_FALSE(parse_ascii_integer("042"));
  EXPECT_FALSE(parse_ascii_integer("+1"));
  EXPECT_FALSE(parse_ascii_integer(" 1"));
  EXPECT_FALSE(parse_ascii_integer("-"));
  EXPECT_FALSE(parse_ascii_integer(""));
  EXPECT_EQ(payload_integer({Format::kMsgPack, "\x05"}), 5);
  EXPECT_EQ(payload_integer({Format::kMsgPack, "\xff"}), -1);
  EXPECT_EQ(payload_integer({Format::kMsgPack, std::string("\xd1\xff\x38", 3)}), -200);
  EXPECT_FALSE(payload_integer({Format::kMsgPack, "\xcd\x01"}));  // truncated
  EXPECT_FALSE(payload_integer({Format::kRaw, "5"}));
}

TEST(Options, ParsesRedisUrl) {
  auto o = Options::from_url("redis://app:s%40cret@cache.local:6380/3?socket_timeout=1.5&max_connections=4"
                             "&prefix=svc:&serializer=json&compression=zlib&compression_threshold=2k"
                             "&l1_max_entries=500&l1_max_bytes=64MB&l1_ttl=10&default_ttl=0"
                             "&socket_connect_timeout=0.25&health_check_interval=30&l1_policy=lru");
  ASSERT_TRUE(o) << o.status().to_string();
  EXPECT_EQ(o->redis.transport, RedisOptions::Transport::kTcp);
  EXPECT_EQ(o->redis.username, "app");
  EXPECT_EQ(o->redis.password, "s@cret");
  EXPECT_EQ(o->redis.host, "cache.local");
  EXPECT_EQ(o->redis.port, 6380);
  EXPECT_EQ(o->redis.db, 3);
  EXPECT_EQ(o->redis.socket_timeout.count(), 1500);
  EXPECT_EQ(o->redis.socket_connect_timeout.count(), 250);
  EXPECT_EQ(o->redis.health_check_interval.count(), 30000);
  EXPECT_EQ(o->redis.max_connections, 4u);
  EXPECT_EQ(o->prefix, "svc:");
  EXPECT_EQ(o->serializer, Format::kJson);
  EXPECT_EQ(o->codec.compression, Compression::kZlib);
  EXPECT_EQ(o->codec.compression_threshold, 2048u);
  EXPECT_EQ(o->l1.max_entries, 500u);
  EXPECT_EQ(o->l1.max_bytes, 64u << 20);
  EXPECT_EQ(o->l1.ttl.count(), 10000);
  EXPECT_EQ(o->default_ttl.count(), 0);
}

TEST(Options, PasswordOnlyDefaultsAndIpv6) {
  auto o = Options::from_url("redis://:pw@[::1]:7000");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->redis.username, "");
  EXPECT_EQ(o->redis.password, "pw");
  EXPECT_EQ(o->redis.host, "::1");
  EXPECT_EQ(o->redis.port, 7000);
  EXPECT_EQ(o->redis.db, 0);
  auto d = Options::from_url("redis://localhost");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->redis.port, 6379);
  EXPECT_EQ(d->serializer, Format::kMsgPack);
  EXPECT_EQ(d->default_ttl.count(), 300000);
}

TEST(Options, UnixAndMem) {
  auto u = Options::from_url("unix:///var/run/redis/redis.sock?db=2&password=x");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->redis.transport, RedisOptions::Transport::kUnix);
  EXPECT_EQ(u->redis.unix_path, "/var/run/redis/redis.sock");
  EXPECT_EQ(u->redis.db, 2);
  EXPECT_EQ(u->redis.password, "x");
  auto m = Options::from_url("mem://?l1_max_entries=10");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->redis.transport, RedisOptions::Transport::kNone);
  EXPECT_EQ(m->l1.max_entries, 10u);
}

TEST(Options, ErrorsNameTheParameter) {
  struct Case { const char* url; const char* must_mention; };
  const Case cases[] = {
      {"redis://h?socket_timeout=abc", "socket_timeout"},
      {"redis://h?socket_timeout=-1", "socket_timeout"},
      {"redis://h?max_connections=0", "max_connections"},
      {"redis://h?serializer=yaml", "serializer"},
      {"redis://h?compression=brotli", "compression"},
      {"redis://h?l1_max_bytes=12XB", "l1_max_bytes"},
      {"redis://h?bogus=1", "bogus"},
      {"redis://h?prefix=a&prefix=b", "prefix"},
      {"redis://h?prefix", "prefix"},
      {"redis://h:99999", "port"},
      {"redis://h/notadb", "database"},
      {"ftp://h", "scheme"},
      {"localhost:6379", "mem://"},
      {"unix://", "path"},
  };
  for (const auto& c : cases) {
    auto o = Options::from_url(c.url);
    ASSERT_FALSE(o) << c.url;
    EXPECT_EQ(o.code(), StatusCode::kInvalidArgument) << c.url;
    EXPECT_NE(o.status().message().find(c.must_mention), std::string::npos) << c.url << ": " << o.status().message();
  }
  EXPECT_EQ(Options::from_url("redis+cluster://h/3").code(), StatusCode::kInvalidArgument);  // Cluster has only db 0
  EXPECT_EQ(Options::from_url("redis+cluster://").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Options::from_url("redis+sentinel://h").code(), StatusCode::kInvalidArgument);  // no master name
  // The same setting twice in different places is a conflict, not a silent override.
  EXPECT_EQ(Options::from_url("redis://h/1?db=2").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Options::from_url("redis://:a@h?password=b").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Options::from_url("redis://h?socket_timeout=%201").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Options::from_url("redis://h?socket_timeout=0x10").code(), StatusCode::kInvalidArgument);
  Options o;
  EXPECT_TRUE(o.set("socket_timeout", "2"));
  EXPECT_EQ(o.redis.socket_timeout.count(), 2000);
  EXPECT_EQ(o.set("nope", "1").code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace stratacache
