// The value path: serializer -> compressor -> cipher -> envelope, and back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "stratacache/status.hpp"
#include "stratacache/value.hpp"

namespace stratacache {

// Wire ids: stored in envelopes and exposed in the C ABI. Never renumber.
enum class Format : uint8_t { kRaw = 0, kJson = 1, kMsgPack = 2 };
enum class Compression : uint8_t { kNone = 0, kLz4 = 1, kZlib = 2 };

const char* format_name(Format f) noexcept;
const char* compression_name(Compression c) noexcept;

// MessagePack ext type ids with a meaning shared by every binding (docs/envelope.md).
// JSON output writes them as strings so a value stays readable from any language.
namespace ext_type {
constexpr int8_t kDateTime = 1;  // ISO-8601 text, e.g. "2026-11-25T12:00:00+00:00"
constexpr int8_t kDate = 2;      // ISO-8601 text, "2026-11-25"
constexpr int8_t kUuid = 3;      // 16 bytes, big-endian (RFC 4122 byte order)
constexpr int8_t kDecimal = 4;   // decimal text, e.g. "12.50"
}  // namespace ext_type

// A serialized value as the caller sees it: bytes plus the format they are in.
struct Payload {
  Format format = Format::kRaw;
  std::string data;
  bool operator==(const Payload& o) const { return format == o.format && data == o.data; }
};

// Read-through metadata an envelope may carry (docs/envelope.md, "Entry metadata").
struct EntryMeta {
  bool negative = false;   // an absent marker: the loader said the key does not exist (empty body)
  uint64_t stale_ms = 0;   // the last stale_ms of the Redis TTL are the stale period: fresh while PTTL > stale_ms
  uint32_t load_ms = 0;    // how long the load took, for early refresh
  bool operator==(const EntryMeta& o) const { return negative == o.negative && stale_ms == o.stale_ms && load_ms == o.load_ms; }
};

// Limits checked while decoding, before any allocation they bound.
struct DecodeLimits {
  size_t max_value_bytes = 64u << 20;  // serialized (uncompressed) length
  size_t max_depth = 64;               // nesting of arrays/maps
  size_t max_container_size = 1u << 20;  // elements of one array / pairs of one map
};

// Serialize a Value. Raw accepts only String or Bytes. JSON rejects Bytes, Ext,
// non-string map keys and non-finite doubles (kInvalidArgument naming the problem).
Result<std::string> serialize(const Value& value, Format format);
// Parse a serialized Value; malformed input or exceeded limits -> kDataLoss / kTooLarge.
// Raw yields Bytes.
Result<Value> deserialize(std::string_view data, Format format, const DecodeLimits& limits = {});

// AES-256-GCM key ring: one primary key encrypts; every key decrypts. Key bytes are
// wiped (OPENSSL_cleanse) when the ring is destroyed. Thread-safe after setup.
class KeyRing {
 public:
  static constexpr size_t kKeySize = 32;
  KeyRing();
  ~KeyRing();
  KeyRing(const KeyRing&) = delete;
  KeyRing& operator=(const KeyRing&) = delete;

  // key must be 32 bytes; id must be unique. The first key added, or one added with
  // primary=true, becomes the primary.
  Status add_key(uint32_t id, std::string_view key, bool primary = false);
  bool empty() const;
  uint32_t primary_id() const;  // requires !empty()

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

struct CodecOptions {
  Compression compression = Compression::kLz4;
  size_t compression_threshold = 1024;  // compress only payloads larger than this
  int zlib_level = 6;
  DecodeLimits limits;
  std::shared_ptr<const KeyRing> keys;  // null or empty: no encryption
};


// Stateless apart from options; safe to share between threads.
class Codec {
 public:
  explicit Codec(CodecOptions options = {});
  ~Codec();

  // Wrap a payload into an envelope bound to (ns, key): the header and the
  // length-prefixed namespace + key are authenticated when encryption is on.
  // meta (may be null, borrowed for the call): stored in the header, so authenticated
  // too; with meta the result is always an envelope. A negative marker (meta->negative)
  // must have an empty raw payload, else kInvalidArgument.
  Result<std::string> encode(const Payload& payload, std::string_view ns, std::string_view key,
                             const EntryMeta* meta = nullptr) const;

  // Unwrap an envelope. Never crashes or throws. The outcomes (docs/envelope.md):
  // - A plain ASCII integer (as written by INCRBY) decodes to a JSON payload holding it.
  // - Not an envelope at all: the value does not start with the two magic bytes
  //   (FE 53), the empty value included -> kWrongType (someone else's data).
  // - An envelope that is truncated, malformed, tampered or bound to another key, and
  //   a plaintext envelope when a key ring is configured -> kDataLoss.
  // - A well-formed envelope this process cannot read (unknown version, serializer,
  //   compression or flags; a key id it lacks; encrypted but no key ring) ->
  //   kUnsupported. Over-limit -> kTooLarge.
  // - A negative marker decodes to Payload{kRaw, ""} with meta->negative set.
  // meta (may be null): set to the envelope's metadata when it carries some, else reset
  // (std::nullopt), failures and counters included.
  Result<Payload> decode(std::string_view envelope, std::string_view ns, std::string_view key,
                         std::optional<EntryMeta>* meta = nullptr) const;

  const CodecOptions& options() const { return options_; }

 private:
  CodecOptions options_;
};

}  // namespace stratacache
