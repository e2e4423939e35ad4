// Writes the codec golden vectors: tests/golden/manifest.json + tests/golden/envelopes/*.bin.
// Run by hand when the envelope format changes (never in CI; vectors are committed):
//   ninja -C build-codec stratacache_golden_gen && build-codec/tests/stratacache_golden_gen tests/golden
// Nonces are random, so a rerun changes every encrypted vector's bytes; old vectors must
// keep decoding, so only regenerate for a new envelope version (and keep the old files).
// To add vectors, generate into a scratch directory and copy only the new ones over.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "stratacache/codec.hpp"

using namespace stratacache;
using nlohmann::ordered_json;

namespace {

constexpr uint32_t kTestKeyId = 7;
constexpr const char* kNs = "golden";

std::string test_key() {  // 00 01 02 ... 1f: a documented, public TEST key
  std::string k(32, '\0');
  for (int i = 0; i < 32; ++i) k[i] = static_cast<char>(i);
  return k;
}

std::string hex(const std::string& s) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += d[c >> 4];
    out += d[c & 15];
  }
  return out;
}

[[noreturn]] void die(const std::string& msg) {
  std::cerr << "generate_golden: " << msg << "\n";
  std::exit(1);
}

template <typename T>
T must(Result<T> r, const char* what) {
  if (!r.is_ok()) die(std::string(what) + ": " + r.status().to_string());
  return std::move(r).value();
}

Value record(int i) {
  Value::Map m;
  m.emplace_back("id", i);
  m.emplace_back("name", "user" + std::to_string(i) + " Zoë");
  m.emplace_back("email", "user" + std::to_string(i) + "@example.com");
  m.emplace_back("active", i % 2 == 0);
  m.emplace_back("score", 0.5 + i);
  m.emplace_back("big", 18446744073709551615ull);
  m.emplace_back("neg", -9223372036854775807ll - 1);
  m.emplace_back("tags", Value::Array{"a", "b\n\"c\"", nullptr});
  return Value(std::move(m));
}

Value small_value() { return record(1); }
Value large_value() {  // > 1024 bytes and compressible in every format
  Value::Array a;
  for (int i = 0; i < 30; ++i) a.push_back(record(i));
  return Value(std::move(a));
}

std::shared_ptr<KeyRing> ring(uint32_t id, const std::string& key) {
  auto r = std::make_shared<KeyRing>();
  if (!r->add_key(id, key).is_ok()) die("add_key");
  return r;
}

struct Writer {
  std::string dir;
  ordered_json vectors = ordered_json::array();

  ordered_json& add(const std::string& name, const std::string& env, const std::string& key,
                    const std::string& serializer, const std::string& compression, bool encrypted,
                    bool decoder_has_key) {
    const std::string file = "envelopes/" + name + ".bin";
    std::ofstream(dir + "/" + file, std::ios::binary).write(env.data(), static_cast<std::streamsize>(env.size()));
    ordered_json v;
    v["name"] = name;
    v["file"] = file;
    v["hex"] = hex(env);
    v["namespace"] = kNs;
    v["key"] = key;
    v["serializer"] = serializer;
    v["compression"] = compression;
    v["encrypted"] = encrypted;
    v["key_id"] = decoder_has_key ? ordered_json(kTestKeyId) : ordered_json(nullptr);
    v["key_hex"] = decoder_has_key ? ordered_json(hex(test_key())) : ordered_json(nullptr);
    vectors.push_back(std::move(v));
    return vectors.back();
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) die("usage: stratacache_golden_gen <tests/golden dir>");
  Writer w{argv[1]};
  std::filesystem::create_directories(w.dir + "/envelopes");
  const auto keys = ring(kTestKeyId, test_key());

  const Format formats[] = {Format::kRaw, Format::kJson, Format::kMsgPack};
  const Compression comps[] = {Compression::kNone, Compression::kLz4, Compression::kZlib};
  for (Format f : formats) {
    for (Compression comp : comps) {
      for (bool enc : {false, true}) {
        const bool large = comp != Compression::kNone;
        std::string payload;
        Value value;
        if (f == Format::kRaw) {
          payload = large ? std::string() : std::string("raw \x00\x01\xff bytes", 14);
          for (int i = 0; large && i < 150; ++i) payload += "raw line " + std::to_string(i % 7) + " \xff\x00\n";
          value = Value(Bytes{payload});
        } else {
          value = large ? large_value() : small_value();
          payload = must(serialize(value, f), "serialize");
        }
        CodecOptions o;
        o.compression = comp;
        o.compression_threshold = 1024;
        if (enc) o.keys = keys;
        const Codec codec(o);
        const std::string name = std::string(format_name(f)) + "_" + compression_name(comp) + (enc ? "_enc" : "");
        const std::string key = "item:" + name;
        const std::string env = must(codec.encode(Payload{f, payload}, kNs, key), "encode");
        if (static_cast<Compression>(env[4]) != comp) die(name + ": payload did not compress");
        ordered_json& v = w.add(name, env, key, format_name(f), compression_name(comp), enc, enc);
        v["expect"] = "ok";
        v["payload_hex"] = hex(payload);
        if (f == Format::kRaw) v["value_hex"] = hex(payload);
        else v["value_json"] = must(serialize(value, Format::kJson), "json");
      }
    }
  }

  // Entry metadata (docs/envelope.md, "Entry metadata"): a value carrying it, plain and
  // compressed + encrypted, and a negative marker (no value: the key does not exist).
  struct MetaCase { const char* name; Format format; Compression comp; bool enc; EntryMeta meta; };
  const MetaCase meta_cases[] = {{"json_none_meta", Format::kJson, Compression::kNone, false, {false, 30000, 120}},
                                 {"json_lz4_enc_meta", Format::kJson, Compression::kLz4, true, {false, 600000, 4321}},
                                 {"negative_marker", Format::kRaw, Compression::kNone, false, {true, 5000, 7}}};
  for (const MetaCase& mc : meta_cases) {
    const bool negative = mc.meta.negative;
    const Value value = negative ? Value(Bytes{}) : mc.comp != Compression::kNone ? large_value() : small_value();
    const std::string payload = negative ? std::string() : must(serialize(value, mc.format), "serialize");
    CodecOptions o;
    o.compression = mc.comp;
    if (mc.enc) o.keys = keys;
    const std::string key = std::string("item:") + mc.name;
    const std::string env = must(Codec(o).encode(Payload{mc.format, payload}, kNs, key, &mc.meta), "encode");
    if (static_cast<Compression>(env[4]) != mc.comp) die(std::string(mc.name) + ": payload did not compress");
    ordered_json& v = w.add(mc.name, env, key, format_name(mc.format), compression_name(mc.comp), mc.enc, mc.enc);
    v["expect"] = "ok";
    v["payload_hex"] = hex(payload);
    if (mc.format == Format::kRaw) v["value_hex"] = hex(payload);
    else v["value_json"] = must(serialize(value, Format::kJson), "json");
    v["negative"] = negative;
    v["stale_ms"] = mc.meta.stale_ms;
    v["load_ms"] = mc.meta.load_ms;
  }

  // Counters: INCRBY's plain ASCII integers, with and without keys configured.
  for (bool with_key : {false, true}) {
    const std::string text = with_key ? "-9223372036854775808" : "12345";
    ordered_json& v = w.add(with_key ? "counter_keyed" : "counter", text, "hits", "json", "none", false, with_key);
    v["expect"] = "ok";
    v["payload_hex"] = hex(text);
    v["value_json"] = text;
  }

  // Must-fail vectors.
  CodecOptions eo;
  eo.keys = keys;
  const Codec enc_codec(eo);
  const std::string key = "item:bad";
  const std::string good = must(enc_codec.encode(Payload{Format::kJson, R"({"a":[1,2,3]})"}, kNs, key), "encode");
  auto fail = [&](const std::string& name, const std::string& env, bool encrypted, bool decoder_key,
                  const char* error, const char* compression = "none") {
    ordered_json& v = w.add(name, env, key, "json", compression, encrypted, decoder_key);
    v["expect"] = "error";
    v["error"] = error;
  };
  fail("fail_truncated", good.substr(0, good.size() - 5), true, true, "data_loss");
  std::string flipped = good;
  flipped[flipped.size() - 20] ^= 0x04;  // a ciphertext bit
  fail("fail_flipped_bit", flipped, true, true, "data_loss");
  std::string wrong_key = test_key();
  wrong_key[0] ^= 1;
  CodecOptions wo;
  wo.keys = ring(kTestKeyId, wrong_key);
  fail("fail_wrong_key", must(Codec(wo).encode(Payload{Format::kJson, "[1]"}, kNs, key), "encode"), true, true,
       "data_loss");
  CodecOptions uo;
  uo.keys = ring(9, test_key());
  fail("fail_unknown_key_id", must(Codec(uo).encode(Payload{Format::kJson, "[1]"}, kNs, key), "encode"), true,
       true, "unsupported");
  CodecOptions po;
  const std::string plain = must(Codec(po).encode(Payload{Format::kJson, "[1]"}, kNs, key), "encode");
  std::string bad_version = plain;
  bad_version[2] = 2;
  fail("fail_unknown_version", bad_version, false, false, "unsupported");
  fail("fail_plaintext_with_keys", plain, false, true, "data_loss");
  // Header claims 2^40 original bytes: over the default max_value_bytes (64 MiB).
  fail("fail_too_large", std::string("\xFE\x53\x01\x01\x01\x00\x80\x80\x80\x80\x80\x20tiny", 16), false, false,
       "too_large", "lz4");

  ordered_json manifest;
  manifest["description"] =
      "stratacache codec golden vectors; see docs/envelope.md. Decode 'hex' (same bytes as 'file') with "
      "Codec::decode(namespace, key) using default DecodeLimits and a key ring holding {key_id: key_hex} "
      "(no key ring when key_id is null). expect=ok: the payload must equal payload_hex in 'serializer' "
      "format and deserialize to value_json (JSON text) or value_hex (raw bytes); a vector with entry "
      "metadata lists it in negative, stale_ms and load_ms (a negative marker: the key does not exist, a "
      "cache read is a miss). expect=error: decode must fail with 'error' (data_loss | too_large | "
      "unsupported).";
  manifest["envelope_version"] = 1;
  manifest["test_key_id"] = kTestKeyId;
  manifest["test_key_hex"] = hex(test_key());
  manifest["vectors"] = std::move(w.vectors);
  std::ofstream(w.dir + "/manifest.json") << manifest.dump(1) << "\n";
  std::cout << "wrote " << manifest["vectors"].size() << " vectors to " << w.dir << "\n";
  return 0;
}
