// MessagePack serializer: round trips, exact wire forms, hostile headers, limits.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "stratacache/codec.hpp"

namespace stratacache {
namespace {

using namespace std::string_literals;

Value mp_round_trip(const Value& v) {
  auto s = serialize(v, Format::kMsgPack);
  EXPECT_TRUE(s.is_ok()) << s.status().to_string();
  if (!s.is_ok()) return Value();
  auto back = deserialize(*s, Format::kMsgPack);
  EXPECT_TRUE(back.is_ok()) << back.status().to_string();
  return back.is_ok() ? *back : Value();
}

TEST(MsgPackCodec, RoundTripsEveryType) {
  Value::Map m;
  m.emplace_back("null", nullptr);
  m.emplace_back("t", true);
  m.emplace_back("f", false);
  m.emplace_back("zero", 0);
  m.emplace_back("neg", -1);
  m.emplace_back("min", std::numeric_limits<int64_t>::min());
  m.emplace_back("max", std::numeric_limits<int64_t>::max());
  m.emplace_back("umax", std::numeric_limits<uint64_t>::max());
  m.emplace_back("u63", 9223372036854775808ull);
  m.emplace_back("dbl", 3.141592653589793);
  m.emplace_back("negzero", -0.0);
  m.emplace_back("unicode", "Zoë 😀 ☃ 日本語");
  m.emplace_back("nul", std::string("a\0b", 3));
  m.emplace_back("bytes", Bytes{std::string("\0\xff\x80", 3)});
  m.emplace_back("empty_bytes", Bytes{});
  m.emplace_back("ext", Ext{-5, "payload"});
  m.emplace_back("ext_empty", Ext{127, ""});
  m.emplace_back("list", Value::Array{1, "two", 3.5, Value::Array{}, Value::Map{}});
  m.emplace_back(42, "int key");
  m.emplace_back(Value::Array{1, 2}, "array key");
  m.emplace_back(nullptr, Value::Map{{"deep", Value::Array{Value::Array{Value::Array{}}}}});
  m.emplace_back(std::string(70000, 'x'), Value(Bytes{std::string(70000, 'y')}));
  const Value v(m);
  EXPECT_EQ(mp_round_trip(v), v);
  for (const Value& scalar : {Value(), Value(1), Value(""), Value(Value::Array{}), Value(Value::Map{})}) {
    EXPECT_EQ(mp_round_trip(scalar), scalar);
  }
  Value::Array big(70000, Value(7));
  EXPECT_EQ(mp_round_trip(Value(big)), Value(big));
}

TEST(MsgPackCodec, UsesCompactWireForms) {
  EXPECT_EQ(*serialize(Value(1), Format::kMsgPack), "\x01");
  EXPECT_EQ(*serialize(Value(-1), Format::kMsgPack), "\xff");
  EXPECT_EQ(*serialize(Value(300), Format::kMsgPack), "\xcd\x01\x2c");
  EXPECT_EQ(*serialize(Value("a"), Format::kMsgPack), "\xa1" "a");
  EXPECT_EQ(*serialize(Value(std::numeric_limits<uint64_t>::max()), Format::kMsgPack),
            "\xcf\xff\xff\xff\xff\xff\xff\xff\xff");
  EXPECT_EQ(*serialize(Value(Bytes{"ab"}), Format::kMsgPack), "\xc4\x02" "ab");
  EXPECT_EQ(*serialize(Value(Ext{1, "abcd"}), Format::kMsgPack), "\xd6\x01" "abcd");
  EXPECT_EQ(*serialize(Value(1.5), Format::kMsgPack), "\xcb\x3f\xf8\0\0\0\0\0\0"s);
  // Integral doubles stay float64 (msgpack-c's pack_double would turn them into ints).
  EXPECT_EQ(*serialize(Value(1.0), Format::kMsgPack), "\xcb\x3f\xf0\0\0\0\0\0\0"s);
  EXPECT_EQ(*serialize(Value(-0.0), Format::kMsgPack), "\xcb\x80\0\0\0\0\0\0\0"s);
  for (double d : {0.0, -0.0, 1.0, -7.0, 18446744073709551616.0, -9223372036854775808.0, 1e300}) {
    Value back = mp_round_trip(Value(d));
    ASSERT_EQ(back.type(), Value::Type::Double) << d;
    EXPECT_EQ(back.as_double(), d);
    EXPECT_EQ(std::signbit(back.as_double()), std::signbit(d));
  }
  EXPECT_EQ(*serialize(Value(Value::Map{{"a", nullptr}}), Format::kMsgPack), "\x81\xa1" "a\xc0");
}

TEST(MsgPackCodec, DecodesForeignForms) {
  // float32 1.5, positive int stored as int8, uint8 stored small, str8.
  EXPECT_EQ(*deserialize("\xca\x3f\xc0\0\0"s, Format::kMsgPack), Value(1.5));
  EXPECT_EQ(*deserialize("\xd0\x05", Format::kMsgPack), Value(5));
  EXPECT_EQ(*deserialize("\xcc\x05", Format::kMsgPack), Value(5));
  EXPECT_EQ(*deserialize("\xd9\x01x", Format::kMsgPack), Value("x"));
  EXPECT_EQ(deserialize("\xcf\x80\0\0\0\0\0\0\0"s, Format::kMsgPack)->type(), Value::Type::UInt);
  EXPECT_EQ(deserialize("\xcf\0\0\0\0\0\0\0\x01"s, Format::kMsgPack)->type(), Value::Type::Int);
}

TEST(MsgPackCodec, HostileHeadersAreRejectedBeforeAllocating) {
  // array32 / map32 / str32 / bin32 claiming 2^32-1 elements or bytes in 5 bytes of input.
  // Under ASan an attempt to allocate 2^32 * sizeof(object) would abort the test.
  const std::string hostile[] = {"\xdd\xff\xff\xff\xff", "\xdf\xff\xff\xff\xff", "\xdb\xff\xff\xff\xff",
                                 "\xc6\xff\xff\xff\xff", "\xc9\xff\xff\xff\xff\x01"};
  DecodeLimits unlimited;
  unlimited.max_container_size = std::numeric_limits<size_t>::max();
  for (const auto& h : hostile) {
    for (const DecodeLimits& lim : {DecodeLimits{}, unlimited}) {
      const auto t0 = std::chrono::steady_clock::now();
      auto r = deserialize(h, Format::kMsgPack, lim);
      EXPECT_EQ(r.code(), StatusCode::kDataLoss) << r.status().to_string();
      EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(100));
    }
  }
  // A 2^32-1 array header followed by 1 MiB of data is still refused, by the configured cap.
  std::string big = "\xdd\xff\xff\xff\xff" + std::string(1 << 21, '\x01');
  auto r = deserialize(big, Format::kMsgPack);
  EXPECT_EQ(r.code(), StatusCode::kTooLarge);
  EXPECT_NE(r.status().message().find("max_container_size"), std::string::npos);
}

TEST(MsgPackCodec, ContainerLimitIsExact) {
  DecodeLimits lim;
  lim.max_container_size = 3;
  EXPECT_TRUE(deserialize("\x93\x01\x02\x03", Format::kMsgPack, lim).is_ok());
  EXPECT_EQ(deserialize("\x94\x01\x02\x03\x04", Format::kMsgPack, lim).code(), StatusCode::kTooLarge);
  EXPECT_TRUE(deserialize("\x83\x01\x01\x02\x02\x03\x03", Format::kMsgPack, lim).is_ok());
  EXPECT_EQ(deserialize("\x84\x01\x01\x02\x02\x03\x03\x04\x04", Format::kMsgPack, lim).code(),
            StatusCode::kTooLarge);
}

TEST(MsgPackCodec, DepthLimitIsExactAndDeepInputIsSafe) {
  DecodeLimits lim;
  lim.max_depth = 3;
  EXPECT_TRUE(deserialize("\x91\x91\x91\x01", Format::kMsgPack, lim).is_ok());
  EXPECT_EQ(deserialize("\x91\x91\x91\x91\x01", Format::kMsgPack, lim).code(), StatusCode::kTooLarge);
  EXPECT_EQ(deserialize("\x91\x81\x01\x81\x01\x91\x01", Format::kMsgPack, lim).code(), StatusCode::kTooLarge);
  const std::string deep = std::string(100000, '\x91') + "\x01";
  auto r = deserialize(deep, Format::kMsgPack);
  EXPECT_EQ(r.code(), StatusCode::kTooLarge);
  EXPECT_NE(r.status().message().find("max_depth"), std::string::npos);
}

TEST(MsgPackCodec, MalformedInputIsDataLoss) {
  const std::string bad[] = {""s, "\xc1"s, "\x01\x02"s, "\x92\x01"s, "\xa5" "abc"s, "\xcb\0\0"s, "\x81\x01"s,
                             "\xd9"s, "\xc0\xc0"s};
  for (const auto& b : bad) {
    auto r = deserialize(b, Format::kMsgPack);
    ASSERT_FALSE(r.is_ok());
    EXPECT_EQ(r.code(), StatusCode::kDataLoss) << r.status().to_string();
  }
  auto r = deserialize("\x01\x02", Format::kMsgPack);
  EXPECT_NE(r.status().message().find("trailing"), std::string::npos);
}

TEST(MsgPackCodec, EveryTruncationFails) {
  Value::Map m;
  m.emplace_back("k", Value::Array{1, 300, 70000, -5, 1.5, "str", Bytes{"b"}, Ext{2, "e"}, nullptr, true});
  m.emplace_back(std::numeric_limits<int64_t>::min(), std::numeric_limits<uint64_t>::max());
  const std::string full = *serialize(Value(m), Format::kMsgPack);
  for (size_t len = 0; len < full.size(); ++len) {
    auto r = deserialize(std::string_view(full).substr(0, len), Format::kMsgPack);
    EXPECT_EQ(r.code(), StatusCode::kDataLoss) << "prefix " << len;
  }
  EXPECT_TRUE(deserialize(full, Format::kMsgPack).is_ok());
}

TEST(MsgPackCodec, SizeLimitAppliesToInput) {
  DecodeLimits lim;
  lim.max_value_bytes = 3;
  EXPECT_TRUE(deserialize("\xa2" "ab", Format::kMsgPack, lim).is_ok());
  EXPECT_EQ(deserialize("\xa3" "abc", Format::kMsgPack, lim).code(), StatusCode::kTooLarge);
}

}  // namespace
}  // namespace stratacache
