// libFuzzer target: Codec::decode (with and without a key ring) and deserialize of what
// it yields (and a re-encode of any entry metadata), plus the JSON and MessagePack
// parsers on the raw input. Any crash, sanitizer report, exception or broken round trip
// is a finding.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "stratacache/codec.hpp"

using namespace stratacache;

namespace {

std::shared_ptr<const KeyRing> test_ring() {
  auto ring = std::make_shared<KeyRing>();
  std::string key(32, '\0');
  for (int i = 0; i < 32; ++i) key[i] = static_cast<char>(i);  // the golden vectors' test key
  if (!ring->add_key(7, key).is_ok()) __builtin_trap();
  return ring;
}

const Codec& plain_codec() {
  static const Codec c{CodecOptions{}};
  return c;
}

const Codec& keyed_codec() {
  static const Codec c = [] {
    CodecOptions o;
    o.keys = test_ring();
    return Codec(o);
  }();
  return c;
}

// A value we parsed must serialize again, and (JSON) read back to the same value.
void check_value(const Value& v, Format f) {
  if (f == Format::kRaw) return;
  auto again = serialize(v, f);
  if (!again.is_ok()) __builtin_trap();
  auto back = deserialize(*again, f);
  if (!back.is_ok()) __builtin_trap();
  if (f == Format::kJson && !(*back == v)) __builtin_trap();  // msgpack may hold NaN
}

// Metadata we read must survive encoding again with the same codec.
void check_meta_round_trip(const Codec& codec, const Payload& payload, const EntryMeta& meta) {
  auto env = codec.encode(payload, "golden", "item:json_none_enc", &meta);
  if (!env.is_ok()) __builtin_trap();
  std::optional<EntryMeta> back_meta;
  auto back = codec.decode(*env, "golden", "item:json_none_enc", &back_meta);
  if (!back.is_ok() || !(*back == payload) || !(back_meta == meta)) __builtin_trap();
}

void parse(std::string_view data, Format f) {
  auto v = deserialize(data, f);
  if (v.is_ok()) check_value(*v, f);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  for (const Codec* codec : {&plain_codec(), &keyed_codec()}) {
    std::optional<EntryMeta> meta;
    auto payload = codec->decode(in, "golden", "item:json_none_enc", &meta);
    if (!payload.is_ok()) {
      if (meta) __builtin_trap();  // metadata only comes with a decoded value
      continue;
    }
    if (meta && meta->negative && !(*payload == Payload{Format::kRaw, ""})) __builtin_trap();
    if (meta) check_meta_round_trip(*codec, *payload, *meta);
    parse(payload->data, payload->format);
  }
  parse(in, Format::kJson);
  parse(in, Format::kMsgPack);
  return 0;
}
