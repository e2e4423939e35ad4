// JSON serializer: round trips, number classification, escaping, limits, errors.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "stratacache/codec.hpp"

namespace stratacache {
namespace {

using namespace std::string_literals;

Value json_round_trip(const Value& v) {
  auto s = serialize(v, Format::kJson);
  EXPECT_TRUE(s.is_ok()) << s.status().to_string();
  if (!s.is_ok()) return Value();
  auto back = deserialize(*s, Format::kJson);
  EXPECT_TRUE(back.is_ok()) << back.status().to_string() << " for " << *s;
  return back.is_ok() ? *back : Value();
}

Value::Map profile() {
  Value::Map m;
  m.emplace_back("id", 42);
  m.emplace_back("name", "Zoë 😀 \"quoted\" \\ back\nline\ttab\x01\x1f");
  m.emplace_back("active", true);
  m.emplace_back("deleted", false);
  m.emplace_back("nothing", nullptr);
  m.emplace_back("score", 0.1);
  m.emplace_back("min", std::numeric_limits<int64_t>::min());
  m.emplace_back("max", std::numeric_limits<int64_t>::max());
  m.emplace_back("umax", std::numeric_limits<uint64_t>::max());
  m.emplace_back("empty_list", Value::Array{});
  m.emplace_back("empty_map", Value::Map{});
  m.emplace_back("empty_str", "");
  m.emplace_back("nested", Value::Array{Value::Array{1, 2, Value::Map{{"deep", Value::Array{}}}}, "x"});
  return m;
}

TEST(JsonCodec, RoundTripsEveryJsonType) {
  const Value v(profile());
  EXPECT_EQ(json_round_trip(v), v);
  EXPECT_EQ(json_round_trip(Value()), Value());
  EXPECT_EQ(json_round_trip(Value(true)), Value(true));
  EXPECT_EQ(json_round_trip(Value("")), Value(""));
  EXPECT_EQ(json_round_trip(Value(Value::Array{})), Value(Value::Array{}));
  EXPECT_EQ(json_round_trip(Value(Value::Map{})), Value(Value::Map{}));
  EXPECT_EQ(json_round_trip(Value(std::string("a\0b", 3))), Value(std::string("a\0b", 3)));
}

TEST(JsonCodec, MapKeepsInsertionOrderAndDuplicates) {
  auto v = deserialize(R"({"b":1,"a":2,"b":3})", Format::kJson);
  ASSERT_TRUE(v.is_ok()) << v.status().to_string();
  const auto& m = v->as_map();
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0].first, Value("b"));
  EXPECT_EQ(m[1].first, Value("a"));
  EXPECT_EQ(m[2].second, Value(3));
  EXPECT_EQ(*serialize(*v, Format::kJson), R"({"b":1,"a":2,"b":3})");
}

TEST(JsonCodec, IntegersAreClassifiedByRange) {
  struct Case { const char* text; Value::Type type; };
  const Case cases[] = {
      {"0", Value::Type::Int},
      {"-0", Value::Type::Int},
      {"9223372036854775807", Value::Type::Int},
      {"-9223372036854775808", Value::Type::Int},
      {"9223372036854775808", Value::Type::UInt},
      {"18446744073709551615", Value::Type::UInt},
      {"18446744073709551616", Value::Type::Double},
      {"-9223372036854775809", Value::Type::Double},
      {"1.0", Value::Type::Double},
      {"1e2", Value::Type::Double},
  };
  for (const auto& c : cases) {
    auto v = deserialize(c.text, Format::kJson);
    ASSERT_TRUE(v.is_ok()) << c.text;
    EXPECT_EQ(v->type(), c.type) << c.text;
  }
  EXPECT_EQ(deserialize("9223372036854775808", Format::kJson)->as_uint(), 9223372036854775808ull);
  EXPECT_EQ(deserialize("-9223372036854775808", Format::kJson)->as_int(), std::numeric_limits<int64_t>::min());
}

TEST(JsonCodec, DoublesRoundTripBitExactAndStayDoubles) {
  std::mt19937_64 rng(12345);
  std::vector<double> ds = {0.0, -0.0, 1.0, -1.0, 0.1, 1e300, -1e-300, 5e-324, 2.2250738585072014e-308,
                            1.7976931348623157e308, 123456789012345678.0, 1e22, 0.5};
  for (int i = 0; i < 2000; ++i) {
    uint64_t bits = rng();
    double d;
    std::memcpy(&d, &bits, sizeof d);
    if (std::isfinite(d)) ds.push_back(d);
  }
  for (double d : ds) {
    Value back = json_round_trip(Value(d));
    ASSERT_EQ(back.type(), Value::Type::Double) << d;
    const double got = back.as_double();
    EXPECT_EQ(std::memcmp(&d, &got, sizeof d), 0) << *serialize(Value(d), Format::kJson);
  }
  EXPECT_EQ(*serialize(Value(1.0), Format::kJson), "1.0");
  EXPECT_EQ(*serialize(Value(-0.0), Format::kJson), "-0.0");
}

TEST(JsonCodec, EscapesEveryControlCharacterAndKeepsUtf8) {
  std::string all;
  for (int c = 1; c < 0x80; ++c) all.push_back(static_cast<char>(c));
  all += "é€😀";
  auto s = serialize(Value(all), Format::kJson);
  ASSERT_TRUE(s.is_ok());
  for (unsigned char c : *s) EXPECT_GE(c, 0x20) << "raw control byte in JSON output";
  EXPECT_NE(s->find("\\u0001"), std::string::npos);
  EXPECT_NE(s->find("\\n"), std::string::npos);
  EXPECT_NE(s->find("é€😀"), std::string::npos);  // UTF-8 as is, not \u escapes
  // nlohmann as an independent oracle.
  EXPECT_EQ(nlohmann::json::parse(*s).get<std::string>(), all);
  EXPECT_EQ(*serialize(Value("\"\\\b\f\n\r\t\x7f"), Format::kJson), "\"\\\"\\\\\\b\\f\\n\\r\\t\x7f\"");
}

TEST(JsonCodec, RejectsInvalidUtf8WhenEncoding) {
  const std::string bad[] = {"\xff", "a\xc0\xaf", "\xed\xa0\x80", "\xe2\x82", "\xf4\x90\x80\x80", "\x80",
                             "ok\xf0\x9f\x98"};
  for (const auto& s : bad) {
    auto r = serialize(Value(s), Format::kJson);
    ASSERT_FALSE(r.is_ok()) << s;
    EXPECT_EQ(r.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("UTF-8"), std::string::npos) << r.status().message();
  }
  Value::Map m;
  m.emplace_back("\xfe", 1);
  EXPECT_EQ(serialize(Value(m), Format::kJson).code(), StatusCode::kInvalidArgument);
}

TEST(JsonCodec, RejectsUnencodableValuesNamingTheProblem) {
  struct Case { Value v; const char* needle; };
  Value::Map int_key;
  int_key.emplace_back(1, "x");
  const Case cases[] = {
      {Value(std::nan("")), "non-finite"},
      {Value(std::numeric_limits<double>::infinity()), "non-finite"},
      {Value(Bytes{"abc"}), "bytes"},
      {Value(Ext{3, "x"}), "16 bytes"},
      {Value(Ext{9, "x"}), "ext type 9"},
      {Value(int_key), "keys must be strings"},
      {Value(Value::Array{1, Value::Array{Value(Bytes{"x"})}}), "bytes"},
  };
  for (const auto& c : cases) {
    auto r = serialize(c.v, Format::kJson);
    ASSERT_FALSE(r.is_ok());
    EXPECT_EQ(r.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.needle), std::string::npos) << r.status().message();
  }
}

TEST(JsonCodec, SharedExtTypesBecomeStrings) {
  const std::string uuid("\x12\x34\x56\x78\x9a\xbc\xde\xf0\x01\x23\x45\x67\x89\xab\xcd\xef", 16);
  Value v = Value::Array{Value(Ext{ext_type::kDateTime, "2026-11-25T12:00:00+00:00"}),
                         Value(Ext{ext_type::kDate, "2026-11-25"}), Value(Ext{ext_type::kUuid, uuid}),
                         Value(Ext{ext_type::kDecimal, "12.50"})};
  auto r = serialize(v, Format::kJson);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(*r, R"(["2026-11-25T12:00:00+00:00","2026-11-25","12345678-9abc-def0-0123-456789abcdef","12.50"])");
}

TEST(JsonCodec, MalformedInputIsDataLoss) {
  const std::string bad[] = {"", " ", "[1,2", "{\"a\":}", "{} x", "[1]]", "nul", "01", "\"\xff\"", "1e400",
                             "{\"a\" 1}", "[1,]", "'x'", "\"unterminated", "/* c */ 1", "\"\x01\""};
  for (const auto& s : bad) {
    auto r = deserialize(s, Format::kJson);
    ASSERT_FALSE(r.is_ok()) << s;
    EXPECT_EQ(r.code(), StatusCode::kDataLoss) << s;
  }
  EXPECT_TRUE(deserialize(" [1] \n", Format::kJson).is_ok());
}

TEST(JsonCodec, DeepNestingIsRejectedWithoutRecursion) {
  const std::string deep(100000, '[');
  const auto t0 = std::chrono::steady_clock::now();
  auto r = deserialize(deep + std::string(100000, ']'), Format::kJson);
  EXPECT_EQ(r.code(), StatusCode::kTooLarge);
  EXPECT_NE(r.status().message().find("max_depth"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
  // Even with the depth limit off, the parser is iterative: no stack overflow.
  DecodeLimits no_depth;
  no_depth.max_depth = 1u << 30;
  EXPECT_EQ(deserialize(deep, Format::kJson, no_depth).code(), StatusCode::kDataLoss);
}

TEST(JsonCodec, DepthLimitIsExact) {
  DecodeLimits lim;
  lim.max_depth = 3;
  EXPECT_TRUE(deserialize("[[{\"a\":1}]]", Format::kJson, lim).is_ok());
  EXPECT_EQ(deserialize("[[[[1]]]]", Format::kJson, lim).code(), StatusCode::kTooLarge);
  EXPECT_EQ(deserialize("[{\"a\":{\"b\":[]}}]", Format::kJson, lim).code(), StatusCode::kTooLarge);
  lim.max_depth = 0;
  EXPECT_TRUE(deserialize("1", Format::kJson, lim).is_ok());
  EXPECT_EQ(deserialize("[]", Format::kJson, lim).code(), StatusCode::kTooLarge);
}

TEST(JsonCodec, ContainerAndSizeLimits) {
  DecodeLimits lim;
  lim.max_container_size = 3;
  EXPECT_TRUE(deserialize("[1,2,3]", Format::kJson, lim).is_ok());
  EXPECT_EQ(deserialize("[1,2,3,4]", Format::kJson, lim).code(), StatusCode::kTooLarge);
  EXPECT_TRUE(deserialize(R"({"a":1,"b":2,"c":3})", Format::kJson, lim).is_ok());
  auto r = deserialize(R"({"a":1,"b":2,"c":3,"d":4})", Format::kJson, lim);
  EXPECT_EQ(r.code(), StatusCode::kTooLarge);
  EXPECT_NE(r.status().message().find("max_container_size"), std::string::npos);
  lim = DecodeLimits{};
  lim.max_value_bytes = 5;
  EXPECT_TRUE(deserialize("[1,2]", Format::kJson, lim).is_ok());
  EXPECT_EQ(deserialize("[1,22]", Format::kJson, lim).code(), StatusCode::kTooLarge);
}

TEST(CodecRaw, AcceptsOnlyStringsAndBytes) {
  EXPECT_EQ(*serialize(Value("abc"), Format::kRaw), "abc");
  EXPECT_EQ(*serialize(Value(Bytes{std::string("\0\xff", 2)}), Format::kRaw), std::string("\0\xff", 2));
  auto r = serialize(Value(5), Format::kRaw);
  EXPECT_EQ(r.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("raw"), std::string::npos);
  EXPECT_EQ(serialize(Value(Value::Array{}), Format::kRaw).code(), StatusCode::kInvalidArgument);
  auto back = deserialize(std::string("\0\x01", 2), Format::kRaw);
  ASSERT_TRUE(back.is_ok());
  EXPECT_EQ(*back, Value(Bytes{std::string("\0\x01", 2)}));
  EXPECT_EQ(serialize(Value(1), static_cast<Format>(9)).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(deserialize("1", static_cast<Format>(9)).code(), StatusCode::kDataLoss);
}

TEST(CodecNames, FormatAndCompressionNames) {
  EXPECT_STREQ(format_name(Format::kRaw), "raw");
  EXPECT_STREQ(format_name(Format::kJson), "json");
  EXPECT_STREQ(format_name(Format::kMsgPack), "msgpack");
  EXPECT_STREQ(format_name(static_cast<Format>(7)), "unknown");
  EXPECT_STREQ(compression_name(Compression::kNone), "none");
  EXPECT_STREQ(compression_name(Compression::kLz4), "lz4");
  EXPECT_STREQ(compression_name(Compression::kZlib), "zlib");
  EXPECT_STREQ(compression_name(static_cast<Compression>(7)), "unknown");
}

}  // namespace
}  // namespace stratacache
