// Envelope: compression policy, encryption, tamper/truncation resistance, limits, counters.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "codec/envelope.hpp"
#include "stratacache/codec.hpp"

namespace stratacache {
namespace {

using namespace std::string_literals;

std::string key_bytes(unsigned char seed) {
  std::string k(KeyRing::kKeySize, '\0');
  for (size_t i = 0; i < k.size(); ++i) k[i] = static_cast<char>(seed + i * 7);
  return k;
}

std::shared_ptr<KeyRing> ring(std::initializer_list<std::pair<uint32_t, unsigned char>> keys,
                              uint32_t primary = 0) {
  auto r = std::make_shared<KeyRing>();
  for (const auto& [id, seed] : keys) {
    EXPECT_TRUE(r->add_key(id, key_bytes(seed), id == primary).is_ok());
  }
  return r;
}

Codec make_codec(Compression c, std::shared_ptr<KeyRing> keys = nullptr, size_t threshold = 1024) {
  CodecOptions o;
  o.compression = c;
  o.compression_threshold = threshold;
  o.keys = std::move(keys);
  return Codec(o);
}

std::string compressible(size_t n) {
  std::string s;
  while (s.size() < n) s += R"({"user":"alice","visits":12345,"tags":["a","b"]},)";
  s.resize(n);
  return s;
}

std::string random_bytes(size_t n, uint64_t seed = 1) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

Compression stored_compression(const std::string& env) {
  auto h = codec::parse_envelope_header(env);
  EXPECT_TRUE(h.is_ok());
  return h.is_ok() ? h->compression : Compression::kNone;
}

TEST(EnvelopeTest, PlainRoundTripAndHeaderLayout) {
  const Codec c = make_codec(Compression::kNone);
  for (Format f : {Format::kRaw, Format::kJson, Format::kMsgPack}) {
    const Payload p{f, "hello"};
    auto env = c.encode(p, "ns", "k");
    ASSERT_TRUE(env.is_ok());
    EXPECT_EQ(*env, "\xFE\x53\x01"s + static_cast<char>(f) + "\x00\x00\x05hello"s);
    auto back = c.decode(*env, "ns", "k");
    ASSERT_TRUE(back.is_ok()) << back.status().to_string();
    EXPECT_EQ(*back, p);
  }
  auto empty = c.encode(Payload{Format::kRaw, ""}, "ns", "k");
  EXPECT_EQ(empty->size(), 7u);
  EXPECT_EQ(*c.decode(*empty, "ns", "k"), (Payload{Format::kRaw, ""}));
}

TEST(EnvelopeTest, EncryptedRoundTripAndHeaderLayout) {
  const Codec c = make_codec(Compression::kNone, ring({{7, 1}}));
  const Payload p{Format::kJson, R"({"a":1})"};
  auto env = c.encode(p, "ns", "k");
  ASSERT_TRUE(env.is_ok());
  EXPECT_EQ(env->size(), 7 + 4 + 12 + p.data.size() + 16);
  EXPECT_EQ(static_cast<uint8_t>((*env)[5]), codec::kFlagEncrypted);
  EXPECT_EQ(env->substr(7, 4), "\x07\x00\x00\x00"s);
  EXPECT_EQ(env->find(p.data), std::string::npos) << "plaintext visible in ciphertext";
  auto again = c.encode(p, "ns", "k");
  EXPECT_NE(env->substr(11, 12), again->substr(11, 12)) << "nonce reused";
  EXPECT_EQ(*c.decode(*env, "ns", "k"), p);
  EXPECT_EQ(*c.decode(*again, "ns", "k"), p);
}

TEST(CodecCompression, ThresholdAndShrinkPolicy) {
  for (Compression comp : {Compression::kLz4, Compression::kZlib}) {
    SCOPED_TRACE(compression_name(comp));
    const Codec c = make_codec(comp, nullptr, 1024);
    // At the threshold: stored as is, even though it would shrink.
    auto at = c.encode(Payload{Format::kJson, compressible(1024)}, "n", "k");
    EXPECT_EQ(stored_compression(*at), Compression::kNone);
    EXPECT_GT(at->size(), 1024u);
    // Above it and compressible: compressed, and much smaller.
    const std::string big = compressible(1025);
    auto above = c.encode(Payload{Format::kJson, big}, "n", "k");
    EXPECT_EQ(stored_compression(*above), comp);
    EXPECT_LT(above->size(), 600u);
    EXPECT_EQ(c.decode(*above, "n", "k")->data, big);
    // Incompressible: stored uncompressed, costing only the header.
    const std::string noise = random_bytes(64 * 1024);
    auto rnd = c.encode(Payload{Format::kRaw, noise}, "n", "k");
    EXPECT_EQ(stored_compression(*rnd), Compression::kNone);
    EXPECT_LE(rnd->size(), noise.size() + 10);
    EXPECT_EQ(c.decode(*rnd, "n", "k")->data, noise);
    // Encrypted + compressed.
    const Codec ce = make_codec(comp, ring({{1, 9}}));
    auto enc = ce.encode(Payload{Format::kRaw, big}, "n", "k");
    EXPECT_EQ(stored_compression(*enc), comp);
    EXPECT_EQ(ce.decode(*enc, "n", "k")->data, big);
  }
  const Codec none = make_codec(Compression::kNone);
  EXPECT_EQ(stored_compression(*none.encode(Payload{Format::kRaw, compressible(100000)}, "n", "k")),
            Compression::kNone);
}

TEST(CodecCompression, MaximalRatiosStayPlausible) {
  // Long runs reach each method's worst-case expansion ratio; they must still decode.
  const std::string zeros(8 << 20, '\0');
  for (Compression comp : {Compression::kLz4, Compression::kZlib}) {
    for (int level : {1, 9}) {
      CodecOptions o;
      o.compression = comp;
      o.zlib_level = level;
      const Codec c(o);
      auto env = c.encode(Payload{Format::kRaw, zeros}, "n", "k");
      ASSERT_TRUE(env.is_ok());
      EXPECT_EQ(stored_compression(*env), comp);
      auto back = c.decode(*env, "n", "k");
      ASSERT_TRUE(back.is_ok()) << back.status().to_string();
      EXPECT_EQ(back->data.size(), zeros.size());
      EXPECT_EQ(back->data, zeros);
    }
  }
}

TEST(CodecCompression, LengthMismatchAndTrailingDataAreDataLoss) {
  for (Compression comp : {Compression::kLz4, Compression::kZlib}) {
    const Codec c = make_codec(comp);
    const std::string big = compressible(5000);
    std::string env = *c.encode(Payload{Format::kRaw, big}, "n", "k");
    ASSERT_EQ(env.substr(6, 2), "\x88\x27"s);  // varint(5000)
    for (uint64_t claimed : {4999u, 5001u, 6000u}) {
      std::string bad = env;
      unsigned char v[10];
      const size_t vl = codec::put_varint(v, claimed);
      ASSERT_EQ(vl, 2u);
      bad.replace(6, 2, reinterpret_cast<const char*>(v), vl);
      auto r = c.decode(bad, "n", "k");
      EXPECT_EQ(r.code(), StatusCode::kDataLoss) << compression_name(comp) << " " << claimed;
    }
    auto r = c.decode(env + "X", "n", "k");
    EXPECT_EQ(r.code(), StatusCode::kDataLoss);
  }
}

TEST(EnvelopeTest, EveryTruncationFails) {
  for (bool encrypted : {false, true}) {
    for (Compression comp : {Compression::kNone, Compression::kLz4, Compression::kZlib}) {
      const Codec c = make_codec(comp, encrypted ? ring({{3, 4}}) : nullptr);
      const std::string env = *c.encode(Payload{Format::kMsgPack, compressible(2000)}, "ns", "key");
      for (size_t len = 0; len < env.size(); ++len) {
        auto r = c.decode(std::string_view(env).substr(0, len), "ns", "key");
        ASSERT_FALSE(r.is_ok()) << "prefix " << len;
        // Without both magic bytes it is not an envelope at all (docs/envelope.md).
        StatusCode want = len < 2 ? StatusCode::kWrongType : StatusCode::kDataLoss;
        EXPECT_EQ(r.code(), want) << "prefix " << len << ": " << r.status().to_string();
      }
      EXPECT_TRUE(c.decode(env, "ns", "key").is_ok());
    }
  }
}

TEST(EnvelopeTest, EverySingleBitFlipOfAnEncryptedEnvelopeFails) {
  for (Compression comp : {Compression::kNone, Compression::kLz4}) {
    const Codec c = make_codec(comp, ring({{7, 1}}));
    const std::string env = *c.encode(Payload{Format::kJson, compressible(comp == Compression::kNone ? 64 : 1500)},
                                      "ns", "key");
    for (size_t bit = 0; bit < env.size() * 8; ++bit) {
      std::string bad = env;
      bad[bit / 8] = static_cast<char>(bad[bit / 8] ^ (1 << (bit % 8)));
      auto r = c.decode(bad, "ns", "key");
      ASSERT_FALSE(r.is_ok()) << "bit " << bit;
      // A flip in the magic makes it "not an envelope" (kWrongType); in the header's ids
      // "written by something this process can't read" (kUnsupported); anywhere else it
      // fails authentication or a length check.
      if (bit < 16) {
        EXPECT_EQ(r.code(), StatusCode::kWrongType) << "bit " << bit;
        continue;
      }
      EXPECT_TRUE(r.code() == StatusCode::kDataLoss || r.code() == StatusCode::kTooLarge ||
                  r.code() == StatusCode::kUnsupported)
          << "bit " << bit << ": " << r.status().to_string();
    }
  }
}

TEST(EnvelopeTest, ValueIsBoundToNamespaceAndKey) {
  const Codec c = make_codec(Compression::kNone, ring({{7, 1}}));
  const std::string env = *c.encode(Payload{Format::kRaw, "secret"}, "ab", "c");
  EXPECT_TRUE(c.decode(env, "ab", "c").is_ok());
  EXPECT_EQ(c.decode(env, "other", "c").code(), StatusCode::kDataLoss);   // wrong namespace
  EXPECT_EQ(c.decode(env, "ab", "d").code(), StatusCode::kDataLoss);      // copied to another key
  EXPECT_EQ(c.decode(env, "a", "bc").code(), StatusCode::kDataLoss);      // same concatenation
  EXPECT_EQ(c.decode(env, "abc", "").code(), StatusCode::kDataLoss);
  auto r = c.decode(env, "ab", "c ");
  EXPECT_NE(r.status().message().find("authentication failed"), std::string::npos);
}

TEST(EnvelopeTest, KeyRotationAndKeyErrors) {
  const Codec old_codec = make_codec(Compression::kNone, ring({{1, 10}}));
  const std::string old_env = *old_codec.encode(Payload{Format::kRaw, "v1"}, "n", "k");
  // Key 2 is primary now; key 1 is decrypt-only.
  auto rotated = ring({{1, 10}, {2, 20}}, 2);
  EXPECT_EQ(rotated->primary_id(), 2u);
  const Codec new_codec = make_codec(Compression::kNone, rotated);
  EXPECT_EQ(new_codec.decode(old_env, "n", "k")->data, "v1");
  const std::string new_env = *new_codec.encode(Payload{Format::kRaw, "v2"}, "n", "k");
  EXPECT_EQ(new_env.substr(7, 4), "\x02\x00\x00\x00"s);
  // The old ring does not know key 2.
  auto r = old_codec.decode(new_env, "n", "k");
  EXPECT_EQ(r.code(), StatusCode::kUnsupported);
  EXPECT_NE(r.status().message().find("unknown key id 2"), std::string::npos);
  // Same id, different key bytes.
  const Codec wrong = make_codec(Compression::kNone, ring({{1, 99}}));
  EXPECT_EQ(wrong.decode(old_env, "n", "k").code(), StatusCode::kDataLoss);
  // No ring at all.
  auto nr = make_codec(Compression::kNone).decode(old_env, "n", "k");
  EXPECT_EQ(nr.code(), StatusCode::kUnsupported);
  EXPECT_NE(nr.status().message().find("no key ring"), std::string::npos);
}

TEST(EnvelopeTest, UnencryptedEnvelopeIsRejectedWhenKeysAreConfigured) {
  const std::string plain = *make_codec(Compression::kNone).encode(Payload{Format::kJson, "1.5"}, "n", "k");
  auto r = make_codec(Compression::kNone, ring({{1, 1}})).decode(plain, "n", "k");
  EXPECT_EQ(r.code(), StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find("unencrypted"), std::string::npos);
  // An empty ring means no encryption.
  auto empty_ring = std::make_shared<KeyRing>();
  EXPECT_TRUE(make_codec(Compression::kNone, empty_ring).decode(plain, "n", "k").is_ok());
}

TEST(EnvelopeTest, UnknownIdsAndFlagsAreUnsupportedAndNoMagicIsNotAnEnvelope) {
  const std::string env = *make_codec(Compression::kNone).encode(Payload{Format::kJson, "1"}, "n", "k");
  const Codec c = make_codec(Compression::kNone);
  struct Case { size_t offset; char value; const char* needle; StatusCode code; };
  const Case cases[] = {{2, 2, "version", StatusCode::kUnsupported}, {2, 0, "version", StatusCode::kUnsupported},
                        {3, 3, "serializer", StatusCode::kUnsupported}, {4, 3, "compression", StatusCode::kUnsupported},
                        {5, 4, "flags", StatusCode::kUnsupported}, {0, 'x', "magic", StatusCode::kWrongType},
                        {1, 'x', "magic", StatusCode::kWrongType}};
  for (const auto& cs : cases) {
    std::string bad = env;
    bad[cs.offset] = cs.value;
    auto r = c.decode(bad, "n", "k");
    EXPECT_EQ(r.code(), cs.code) << cs.needle;
    EXPECT_NE(r.status().message().find(cs.needle), std::string::npos) << r.status().message();
  }
  // Non-minimal and overlong length varints.
  EXPECT_EQ(c.decode("\xFE\x53\x01\x01\x00\x00\x81\x00" "1"s, "n", "k").code(), StatusCode::kDataLoss);
  auto overlong = c.decode("\xFE\x53\x01\x01\x00\x00"s + std::string(11, '\xff') + "\x01"s, "n", "k");
  EXPECT_EQ(overlong.code(), StatusCode::kDataLoss) << overlong.status().to_string();
}

TEST(EnvelopeTest, HugeOriginalLengthIsTooLargeBeforeAllocation) {
  const Codec c = make_codec(Compression::kLz4);
  unsigned char v[10];
  for (uint64_t claimed : {uint64_t{1} << 62, ~uint64_t{0}, uint64_t{(64u << 20) + 1}}) {
    std::string env = "\xFE\x53\x01\x00\x01\x00"s;
    env.append(reinterpret_cast<const char*>(v), codec::put_varint(v, claimed));
    env += "tiny";
    // Under ASan an allocation of 2^62 bytes would abort the process.
    auto r = c.decode(env, "n", "k");
    EXPECT_EQ(r.code(), StatusCode::kTooLarge) << claimed;
  }
  // Within the limit but more than 4 LZ4 bytes can produce: refused before allocating.
  std::string env = "\xFE\x53\x01\x00\x01\x00"s;
  env.append(reinterpret_cast<const char*>(v), codec::put_varint(v, 60u << 20));
  env += "tiny";
  EXPECT_EQ(c.decode(env, "n", "k").code(), StatusCode::kDataLoss);
  // The limit applies to encoding too, so we never write what we cannot read.
  CodecOptions o;
  o.limits.max_value_bytes = 10;
  const Codec small(o);
  EXPECT_EQ(small.encode(Payload{Format::kRaw, std::string(11, 'x')}, "n", "k").code(), StatusCode::kTooLarge);
  const std::string ok10 = *small.encode(Payload{Format::kRaw, std::string(10, 'x')}, "n", "k");
  EXPECT_TRUE(small.decode(ok10, "n", "k").is_ok());
  o.limits.max_value_bytes = 9;
  EXPECT_EQ(Codec(o).decode(ok10, "n", "k").code(), StatusCode::kTooLarge);
}

// ---- Entry metadata (docs/envelope.md, "Entry metadata") ----

std::optional<EntryMeta> meta_of(const Codec& c, std::string_view env, std::string_view ns = "ns",
                                 std::string_view key = "k") {
  std::optional<EntryMeta> m = EntryMeta{true, 1, 1};  // decode must overwrite it
  auto r = c.decode(env, ns, key, &m);
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  return m;
}

TEST(EnvelopeMeta, HeaderLayoutAndEnvelopesWithoutMetaAreUnchanged) {
  const Codec c = make_codec(Compression::kNone);
  const EntryMeta meta{false, 30000, 120};
  auto env = c.encode(Payload{Format::kJson, "hello"}, "ns", "k", &meta);
  ASSERT_TRUE(env.is_ok());
  // flags 0x02, meta flags 0, stale_ms 30000 = b0 ea 01, load_ms 120 = 78, then the length.
  EXPECT_EQ(*env, "\xFE\x53\x01\x01\x00\x02\x00\xb0\xea\x01\x78\x05hello"s);
  // Without meta (null or omitted) the bytes are those of an envelope from before metadata.
  EXPECT_EQ(*c.encode(Payload{Format::kJson, "hello"}, "ns", "k", nullptr), "\xFE\x53\x01\x01\x00\x00\x05hello"s);
  EXPECT_EQ(meta_of(c, "\xFE\x53\x01\x01\x00\x00\x05hello"s), std::nullopt);
  EXPECT_EQ(meta_of(c, *env), meta);
}

TEST(EnvelopeMeta, RoundTripPlainCompressedAndEncrypted) {
  const EntryMeta metas[] = {{false, 0, 0}, {false, 30000, 250}, {false, ~uint64_t{0}, UINT32_MAX}};
  for (bool encrypted : {false, true}) {
    for (Compression comp : {Compression::kNone, Compression::kLz4, Compression::kZlib}) {
      const Codec c = make_codec(comp, encrypted ? ring({{7, 1}}) : nullptr);
      const Payload p{Format::kMsgPack, compressible(comp == Compression::kNone ? 100 : 3000)};
      for (const EntryMeta& meta : metas) {
        SCOPED_TRACE(std::string(compression_name(comp)) + (encrypted ? " encrypted " : " ") +
                     std::to_string(meta.stale_ms));
        const std::string env = *c.encode(p, "ns", "k", &meta);
        EXPECT_EQ(stored_compression(env), comp);
        auto h = codec::parse_envelope_header(env);
        ASSERT_TRUE(h.is_ok());
        EXPECT_EQ(h->encrypted, encrypted);
        std::optional<EntryMeta> got;
        auto back = c.decode(env, "ns", "k", &got);
        ASSERT_TRUE(back.is_ok()) << back.status().to_string();
        EXPECT_EQ(*back, p);
        EXPECT_EQ(got, meta);
        // A caller that does not ask for the metadata still gets the value.
        auto plain = c.decode(env, "ns", "k");
        ASSERT_TRUE(plain.is_ok()) << plain.status().to_string();
        EXPECT_EQ(*plain, p);
      }
    }
  }
}

TEST(EnvelopeMeta, NegativeMarkerIsAnEmptyRawEnvelope) {
  const EntryMeta negative{true, 5000, 7};
  for (bool encrypted : {false, true}) {
    const Codec c = make_codec(Compression::kLz4, encrypted ? ring({{7, 1}}) : nullptr, 0);
    const std::string env = *c.encode(Payload{Format::kRaw, ""}, "ns", "k", &negative);
    if (!encrypted) {
      EXPECT_EQ(env, "\xFE\x53\x01\x00\x00\x02\x01\x88\x27\x07\x00"s);
    }
    std::optional<EntryMeta> got;
    auto back = c.decode(env, "ns", "k", &got);
    ASSERT_TRUE(back.is_ok()) << back.status().to_string();
    EXPECT_EQ(*back, (Payload{Format::kRaw, ""}));
    EXPECT_EQ(got, negative);
    // A negative marker carries no value.
    EXPECT_EQ(c.encode(Payload{Format::kRaw, "x"}, "ns", "k", &negative).code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(c.encode(Payload{Format::kJson, ""}, "ns", "k", &negative).code(), StatusCode::kInvalidArgument);
  }
  // A header that says "negative" over a body, or another serializer, is malformed.
  const Codec c = make_codec(Compression::kNone);
  EXPECT_EQ(c.decode("\xFE\x53\x01\x00\x00\x02\x01\x00\x00\x01x"s, "ns", "k").code(), StatusCode::kDataLoss);
  EXPECT_EQ(c.decode("\xFE\x53\x01\x01\x00\x02\x01\x00\x00\x00"s, "ns", "k").code(), StatusCode::kDataLoss);
  EXPECT_EQ(c.decode("\xFE\x53\x01\x00\x01\x02\x01\x00\x00\x00"s, "ns", "k").code(), StatusCode::kDataLoss);
}

TEST(EnvelopeMeta, TamperedMetadataFailsAuthenticationWhenEncrypted) {
  const Codec c = make_codec(Compression::kNone, ring({{7, 1}}));
  const EntryMeta negative{true, 300, 5};
  const std::string marker = *c.encode(Payload{Format::kRaw, ""}, "ns", "k", &negative);
  const EntryMeta fresh{false, 300, 5};
  const std::string value = *c.encode(Payload{Format::kRaw, ""}, "ns", "k", &fresh);
  // Offsets 6..8: meta flags, stale_ms (ac 02), load_ms (05).
  ASSERT_EQ(marker.substr(6, 4), "\x01\xac\x02\x05"s);
  struct Case { const std::string* env; size_t offset; char value; };
  const Case cases[] = {{&marker, 6, 0x00},     // a negative marker turned into an empty value
                        {&value, 6, 0x01},      // an empty value turned into a negative marker
                        {&marker, 7, '\xad'},   // a longer stale period
                        {&marker, 9, 0x06}};    // another load time
  for (const Case& cs : cases) {
    std::string bad = *cs.env;
    bad[cs.offset] = cs.value;
    std::optional<EntryMeta> got = negative;
    auto r = c.decode(bad, "ns", "k", &got);
    EXPECT_EQ(r.code(), StatusCode::kDataLoss) << cs.offset;
    EXPECT_NE(r.status().message().find("authentication failed"), std::string::npos) << r.status().message();
    EXPECT_EQ(got, std::nullopt);  // no metadata from an envelope that failed
  }
}

TEST(EnvelopeMeta, UnknownMetaFlagsAreUnsupported) {
  const Codec c = make_codec(Compression::kNone);
  const EntryMeta meta{false, 1, 2};
  const std::string env = *c.encode(Payload{Format::kJson, "1"}, "n", "k", &meta);
  for (int bit = 1; bit < 8; ++bit) {
    std::string bad = env;
    bad[6] = static_cast<char>(1 << bit);
    auto r = c.decode(bad, "n", "k");
    EXPECT_EQ(r.code(), StatusCode::kUnsupported) << bit;
    EXPECT_NE(r.status().message().find("entry metadata flags"), std::string::npos) << r.status().message();
  }
}

TEST(EnvelopeMeta, MalformedOrTruncatedBlockIsDataLoss) {
  const Codec c = make_codec(Compression::kNone);
  const std::string head = "\xFE\x53\x01\x01\x00\x02"s;
  struct Case { std::string block; const char* needle; };
  const Case cases[] = {
      {"\x00\x81\x00\x00"s, "non-minimal envelope stale_ms"},
      {"\x00\x00\x80\x00"s, "non-minimal envelope load_ms"},
      {"\x00"s + std::string(9, '\x80') + "\x81\x00"s, "stale_ms field too long"},
      {"\x00"s + std::string(9, '\xff') + "\x7f"s, "stale_ms overflows 64 bits"},
      {"\x00\x00\x80\x80\x80\x80\x10"s, "load_ms 4294967296 exceeds 32 bits"},
      {"\x00\x00\x01"s, "truncated envelope header (length)"},
      {"\x00\x01"s, "truncated envelope header (load_ms)"},
      {""s, "truncated envelope header (entry metadata)"},
  };
  for (const Case& cs : cases) {
    auto r = c.decode(head + cs.block, "n", "k");
    EXPECT_EQ(r.code(), StatusCode::kDataLoss) << cs.needle;
    EXPECT_NE(r.status().message().find(cs.needle), std::string::npos) << r.status().message();
  }
  // UINT32_MAX fits: what is missing is the length after it.
  EXPECT_NE(c.decode(head + "\x00\x00\xff\xff\xff\xff\x0f"s, "n", "k").status().message().find("(length)"),
            std::string::npos);
  // Every prefix of an envelope with metadata, encrypted or not, is truncated.
  for (bool encrypted : {false, true}) {
    const Codec k = make_codec(Compression::kNone, encrypted ? ring({{3, 4}}) : nullptr);
    const EntryMeta meta{false, 1u << 20, 1u << 15};
    const std::string env = *k.encode(Payload{Format::kJson, "[1,2]"}, "ns", "key", &meta);
    for (size_t len = 2; len < env.size(); ++len) {
      auto r = k.decode(std::string_view(env).substr(0, len), "ns", "key");
      EXPECT_EQ(r.code(), StatusCode::kDataLoss) << "prefix " << len << ": " << r.status().to_string();
    }
  }
}

TEST(EnvelopeMeta, MetaIsResetForCountersAndFailures) {
  const Codec c = make_codec(Compression::kNone);
  std::optional<EntryMeta> got = EntryMeta{true, 1, 1};
  EXPECT_TRUE(c.decode("42", "n", "k", &got).is_ok());
  EXPECT_EQ(got, std::nullopt);
  got = EntryMeta{true, 1, 1};
  EXPECT_EQ(c.decode("text", "n", "k", &got).code(), StatusCode::kWrongType);
  EXPECT_EQ(got, std::nullopt);
  // Plaintext with metadata is still plaintext: refused when a key ring is configured.
  const EntryMeta meta{false, 10, 1};
  const std::string plain = *c.encode(Payload{Format::kJson, "1"}, "n", "k", &meta);
  got = meta;
  EXPECT_EQ(make_codec(Compression::kNone, ring({{1, 1}})).decode(plain, "n", "k", &got).code(),
            StatusCode::kDataLoss);
  EXPECT_EQ(got, std::nullopt);
}

TEST(CodecCounter, PlainIntegersDecodeAsJsonNumbers) {
  for (const Codec& c : {make_codec(Compression::kLz4), make_codec(Compression::kLz4, ring({{1, 1}}))}) {
    const std::pair<const char*, const char*> cases[] = {
        {"0", "0"}, {"42", "42"}, {"-42", "-42"}, {"9223372036854775807", "9223372036854775807"},
        {"-9223372036854775808", "-9223372036854775808"}, };
    for (const auto& [in, out] : cases) {
      auto r = c.decode(in, "n", "k");
      ASSERT_TRUE(r.is_ok()) << in << ": " << r.status().to_string();
      EXPECT_EQ(*r, (Payload{Format::kJson, out}));
    }
    EXPECT_EQ(*deserialize(c.decode("-17", "n", "k")->data, Format::kJson), Value(-17));
    for (const char* not_counter : {"", "-", "+1", "1 ", " 1", "1.0", "9223372036854775808",
                                    "-9223372036854775809", "12345678901234567890", "1e3", "0x10", "007", "-0"}) {
      EXPECT_EQ(c.decode(not_counter, "n", "k").code(), StatusCode::kWrongType) << not_counter;
    }
  }
}

TEST(CodecKeyRing, AddKeyValidation) {
  KeyRing r;
  EXPECT_TRUE(r.empty());
  EXPECT_EQ(r.add_key(1, "short").code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(r.empty());
  EXPECT_TRUE(r.add_key(5, key_bytes(1)).is_ok());
  EXPECT_EQ(r.primary_id(), 5u);
  EXPECT_TRUE(r.add_key(6, key_bytes(2)).is_ok());
  EXPECT_EQ(r.primary_id(), 5u);  // first key stays primary
  EXPECT_EQ(r.add_key(6, key_bytes(3)).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(r.add_key(7, key_bytes(4), true).is_ok());
  EXPECT_EQ(r.primary_id(), 7u);
  EXPECT_FALSE(r.empty());
}

TEST(CodecEncode, InvalidOptionsAndFormats) {
  const Codec c = make_codec(Compression::kNone);
  EXPECT_EQ(c.encode(Payload{static_cast<Format>(3), "x"}, "n", "k").code(), StatusCode::kInvalidArgument);
  CodecOptions o;
  o.compression = Compression::kZlib;
  o.zlib_level = 42;
  EXPECT_EQ(Codec(o).encode(Payload{Format::kRaw, compressible(5000)}, "n", "k").code(),
            StatusCode::kInvalidArgument);
  o.compression = static_cast<Compression>(9);
  EXPECT_EQ(Codec(o).encode(Payload{Format::kRaw, "x"}, "n", "k").code(), StatusCode::kInvalidArgument);
}

TEST(CodecThreads, SharedCodecIsThreadSafe) {
  const Codec c = make_codec(Compression::kLz4, ring({{1, 1}, {2, 2}}, 2));
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        const std::string key = "k" + std::to_string(t) + ":" + std::to_string(i);
        const Payload p{Format::kRaw, compressible(static_cast<size_t>(100 + i * 13))};
        auto env = c.encode(p, "ns", key);
        auto back = env.is_ok() ? c.decode(*env, "ns", key) : Result<Payload>(env.status());
        if (!back.is_ok() || !(*back == p)) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(CodecEndToEnd, ValueThroughEveryPipeline) {
  Value::Map m;
  m.emplace_back("name", "Zoë");
  m.emplace_back("tags", Value::Array{"a", "b", std::string(3000, 'z')});
  m.emplace_back("n", std::numeric_limits<int64_t>::min());
  const Value v(m);
  for (Format f : {Format::kJson, Format::kMsgPack}) {
    for (Compression comp : {Compression::kNone, Compression::kLz4, Compression::kZlib}) {
      for (bool enc : {false, true}) {
        const Codec c = make_codec(comp, enc ? ring({{9, 3}}) : nullptr);
        auto env = c.encode(Payload{f, *serialize(v, f)}, "ns", "key");
        ASSERT_TRUE(env.is_ok());
        EXPECT_EQ(stored_compression(*env), comp);
        auto p = c.decode(*env, "ns", "key");
        ASSERT_TRUE(p.is_ok());
        EXPECT_EQ(p->format, f);
        EXPECT_EQ(*deserialize(p->data, p->format), v);
      }
    }
  }
}

}  // namespace
}  // namespace stratacache
