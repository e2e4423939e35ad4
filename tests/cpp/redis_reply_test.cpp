// The reply reader as the invalidation channel uses it (redis/tracker.cpp): a stream of
// push messages read in arbitrary pieces, the arena recycled between messages only.

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "redis/reply.hpp"

namespace stratacache::redis {
namespace {

std::string message(const std::vector<std::string>& keys) {
  std::string m = "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*" + std::to_string(keys.size()) + "\r\n";
  for (const auto& k : keys) m += "$" + std::to_string(k.size()) + "\r\n" + k + "\r\n";
  return m;
}

// Feeds `stream` in pieces of `step` bytes, recycling the arena the way the channel does,
// and returns the keys of every message read.
std::vector<std::string> read_keys(std::string_view stream, size_t step) {
  ReplyReader reader(ReplyLimits{});
  std::vector<std::string> keys;
  for (size_t at = 0; at < stream.size(); at += step) {
    EXPECT_TRUE(reader.feed(stream.data() + at, std::min(step, stream.size() - at)));
    for (;;) {
      Reply r;
      EXPECT_TRUE(reader.next(&r));
      if (!r.valid()) break;
      Reply payload = r.first().next().next();
      for (Reply k = payload.first(); k.valid(); k = k.next()) keys.emplace_back(k.str());
    }
    if (!reader.mid_reply()) reader.clear();
  }
  EXPECT_FALSE(reader.mid_reply());
  return keys;
}

TEST(RedisReplyReader, MessagesSplitAnywhereKeepEveryKey) {
  std::string stream = message({"app:a", "app:b"}) + message({"app:c"}) + message({"app:d", "app:e", "app:f"});
  const std::vector<std::string> want = {"app:a", "app:b", "app:c", "app:d", "app:e", "app:f"};
  for (size_t step = 1; step <= stream.size(); ++step) {
    EXPECT_EQ(read_keys(stream, step), want) << "pieces of " << step << " bytes";
  }
}

TEST(RedisReplyReader, MidReplyOnlyWhileAReplyIsHalfBuilt) {
  ReplyReader reader(ReplyLimits{});
  std::string m = message({"k"});
  Reply r;
  EXPECT_FALSE(reader.mid_reply());
  ASSERT_TRUE(reader.feed(m.data(), 10));  // the array header and part of the first item
  ASSERT_TRUE(reader.next(&r));
  EXPECT_FALSE(r.valid());
  EXPECT_TRUE(reader.mid_reply());
  ASSERT_TRUE(reader.feed(m.data() + 10, m.size() - 10));
  ASSERT_TRUE(reader.next(&r));
  ASSERT_TRUE(r.valid());
  EXPECT_FALSE(reader.mid_reply());
}

}  // namespace
}  // namespace stratacache::redis
