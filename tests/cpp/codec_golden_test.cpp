// Golden envelopes (tests/golden/manifest.json): every vector decodes to exactly the
// recorded payload and value, or fails with exactly the recorded error.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "codec/envelope.hpp"
#include "stratacache/codec.hpp"

namespace stratacache {
namespace {

std::string unhex(const std::string& h) {
  std::string out;
  for (size_t i = 0; i + 1 < h.size(); i += 2) out += static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16));
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

nlohmann::json manifest() {
  std::ifstream f(std::string(STRATACACHE_GOLDEN_DIR) + "/manifest.json");
  return nlohmann::json::parse(f);
}

StatusCode code_named(const std::string& name) {
  if (name == "data_loss") return StatusCode::kDataLoss;
  if (name == "too_large") return StatusCode::kTooLarge;
  if (name == "unsupported") return StatusCode::kUnsupported;
  ADD_FAILURE() << "unknown error name " << name;
  return StatusCode::kOk;
}

Format format_named(const std::string& name) {
  for (Format f : {Format::kRaw, Format::kJson, Format::kMsgPack}) {
    if (name == format_name(f)) return f;
  }
  ADD_FAILURE() << "unknown serializer " << name;
  return Format::kRaw;
}

TEST(GoldenVectors, ManifestCoversTheMatrix) {
  const auto m = manifest();
  EXPECT_EQ(m["envelope_version"], 1);
  EXPECT_EQ(m["test_key_id"], 7);
  int ok = 0, errors = 0, compressed = 0, encrypted = 0, with_meta = 0, negative = 0;
  for (const auto& v : m["vectors"]) {
    if (v.contains("stale_ms")) {  // entry metadata, beside the matrix
      ++with_meta;
      negative += v["negative"] == true;
      continue;
    }
    (v["expect"] == "ok" ? ok : errors)++;
    if (v["expect"] == "ok" && v["compression"] != "none") ++compressed;
    if (v["expect"] == "ok" && v["encrypted"] == true) ++encrypted;
  }
  EXPECT_EQ(ok, 18 + 2);  // 3 serializers x 3 compressions x 2 + 2 counters
  EXPECT_GE(errors, 6);
  EXPECT_EQ(compressed, 12);
  EXPECT_EQ(encrypted, 9);
  EXPECT_GE(with_meta, 3);  // plain, compressed + encrypted, a negative marker
  EXPECT_GE(negative, 1);
}

// The entry metadata a vector lists (negative, stale_ms, load_ms), none when it lists none.
std::optional<EntryMeta> expected_meta(const nlohmann::json& v) {
  if (!v.contains("stale_ms")) return std::nullopt;
  return EntryMeta{v["negative"].get<bool>(), v["stale_ms"].get<uint64_t>(), v["load_ms"].get<uint32_t>()};
}

TEST(GoldenVectors, EveryVectorDecodesExactly) {
  const auto m = manifest();
  size_t checked = 0;
  for (const auto& v : m["vectors"]) {
    const std::string name = v["name"];
    SCOPED_TRACE(name);
    const std::string env = unhex(v["hex"]);
    EXPECT_EQ(read_file(std::string(STRATACACHE_GOLDEN_DIR) + "/" + v["file"].get<std::string>()), env);
    CodecOptions o;
    if (!v["key_id"].is_null()) {
      auto ring = std::make_shared<KeyRing>();
      ASSERT_TRUE(ring->add_key(v["key_id"].get<uint32_t>(), unhex(v["key_hex"])).is_ok());
      o.keys = ring;
    }
    const Codec codec(o);
    std::optional<EntryMeta> meta;
    auto r = codec.decode(env, v["namespace"].get<std::string>(), v["key"].get<std::string>(), &meta);
    ++checked;
    if (v["expect"] == "error") {
      ASSERT_FALSE(r.is_ok());
      EXPECT_EQ(r.code(), code_named(v["error"]));
      continue;
    }
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    EXPECT_EQ(meta, expected_meta(v));
    const Format f = format_named(v["serializer"]);
    EXPECT_EQ(r->format, f);
    EXPECT_EQ(r->data, unhex(v["payload_hex"]));
    if (name.rfind("counter", 0) != 0) {
      auto h = codec::parse_envelope_header(env);
      ASSERT_TRUE(h.is_ok());
      EXPECT_STREQ(compression_name(h->compression), v["compression"].get<std::string>().c_str());
      EXPECT_EQ(h->encrypted, v["encrypted"].get<bool>());
      if (h->compression != Compression::kNone) {
        EXPECT_GT(h->original_length, 1024u);
      }
    }
    auto value = deserialize(r->data, f);
    ASSERT_TRUE(value.is_ok()) << value.status().to_string();
    if (f == Format::kRaw) {
      EXPECT_EQ(*value, Value(Bytes{unhex(v["value_hex"])}));
    } else {
      auto expected = deserialize(v["value_json"].get<std::string>(), Format::kJson);
      ASSERT_TRUE(expected.is_ok());
      EXPECT_EQ(*value, *expected);
    }
    // Wrong key / namespace must not decode an encrypted vector.
    if (v["encrypted"] == true) {
      EXPECT_EQ(codec.decode(env, "golden", "other").code(), StatusCode::kDataLoss);
    }
  }
  EXPECT_GE(checked, 29u);
}

}  // namespace
}  // namespace stratacache
