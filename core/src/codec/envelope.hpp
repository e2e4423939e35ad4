// Internal: the envelope wire format (docs/envelope.md) and the counter rule.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "codec/cipher.hpp"
#include "stratacache/codec.hpp"

namespace stratacache::codec {

constexpr unsigned char kMagic0 = 0xFE;  // never valid UTF-8, never a digit or '-'
constexpr unsigned char kMagic1 = 0x53;  // 'S'
constexpr uint8_t kEnvelopeVersion = 1;
constexpr uint8_t kFlagEncrypted = 0x01;
constexpr uint8_t kFlagEntryMeta = 0x02;  // the entry metadata block follows the flags
constexpr uint8_t kKnownFlags = kFlagEncrypted | kFlagEntryMeta;
constexpr uint8_t kMetaNegative = 0x01;  // the metadata block's own flags byte
constexpr uint8_t kKnownMetaFlags = kMetaNegative;
// Byte offsets of the fixed part. The variable part starts at kOffVariable: the entry
// metadata block when flagged, then the original length.
constexpr size_t kOffVersion = 2, kOffFormat = 3, kOffCompression = 4, kOffFlags = 5, kOffVariable = 6;
constexpr size_t kMaxVarintSize = 10;
constexpr size_t kMaxMetaSize = 1 + kMaxVarintSize + 5;  // meta flags, stale_ms, load_ms (u32)
constexpr size_t kMaxHeaderSize = kOffVariable + kMaxMetaSize + kMaxVarintSize + 4 + kNonceSize;

struct EnvelopeHeader {
  uint8_t version = 0;
  Format format = Format::kRaw;
  Compression compression = Compression::kNone;
  bool encrypted = false;
  std::optional<EntryMeta> meta;    // when the entry-metadata flag is set
  uint64_t original_length = 0;
  uint32_t key_id = 0;              // encrypted only
  const unsigned char* nonce = nullptr;  // encrypted only; points into the envelope
  size_t header_size = 0;           // bytes before the body
};

// Parses and validates the header; every length is checked against the input first.
// No magic bytes -> kWrongType (not an envelope); unknown version / serializer /
// compression / flag bits (envelope or metadata) -> kUnsupported; truncated or
// malformed (a negative marker with a body included) -> kDataLoss.
Result<EnvelopeHeader> parse_envelope_header(std::string_view envelope);

// Appends LEB128 (7 bits per byte, low first) of v; returns bytes written.
size_t put_varint(unsigned char* out, uint64_t v);

}  // namespace stratacache::codec
