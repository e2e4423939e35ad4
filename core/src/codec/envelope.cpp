// The envelope: header, optional compression, optional AES-256-GCM. Layout in
// docs/envelope.md. Nothing here throws to the caller: every failure is a Status.
#include "codec/envelope.hpp"

#include <charconv>
#include <cstring>
#include <memory>
#include <new>
#include <string>

#include <openssl/rand.h>

#include "codec/compress.hpp"
#include "integer_payload.hpp"

namespace stratacache::codec {

// A well-formed value this process cannot read (newer format, key it lacks): a miss,
// but not garbage, so the facade leaves it in Redis for processes that can read it.
Status unsupported_value(std::string msg) { return Status(StatusCode::kUnsupported, std::move(msg)); }


size_t put_varint(unsigned char* out, uint64_t v) {
  size_t n = 0;
  while (v >= 0x80) {
    out[n++] = static_cast<unsigned char>(v | 0x80);
    v >>= 7;
  }
  out[n++] = static_cast<unsigned char>(v);
  return n;
}

namespace {

// A minimal unsigned LEB128 of at most 10 bytes that fits uint64, at p[pos] (advanced
// past it). `what` names the field in the error.
Status read_varint(const unsigned char* p, size_t n, size_t& pos, uint64_t& out, const char* what) {
  const size_t start = pos;
  uint64_t v = 0;
  for (unsigned shift = 0;; shift += 7) {
    if (pos >= n) return data_loss(std::string("truncated envelope header (") + what + ")");
    if (pos - start >= kMaxVarintSize) return data_loss(std::string("envelope ") + what + " field too long");
    const unsigned char b = p[pos++];
    const uint64_t bits = b & 0x7Fu;
    if (shift == 63 && bits > 1) return data_loss(std::string("envelope ") + what + " overflows 64 bits");
    v |= bits << shift;
    if ((b & 0x80u) == 0) {
      if (b == 0 && shift != 0) return data_loss(std::string("non-minimal envelope ") + what + " encoding");
      break;
    }
  }
  out = v;
  return Status::ok();
}

// The entry metadata block (docs/envelope.md, "Entry metadata") at p[pos].
Result<EntryMeta> read_entry_meta(const unsigned char* p, size_t n, size_t& pos) {
  if (pos >= n) return data_loss("truncated envelope header (entry metadata)");
  const uint8_t mflags = p[pos++];
  if ((mflags & ~kKnownMetaFlags) != 0) {
    return unsupported_value("unknown entry metadata flags " + std::to_string(mflags));
  }
  EntryMeta m;
  m.negative = (mflags & kMetaNegative) != 0;
  Status st = read_varint(p, n, pos, m.stale_ms, "stale_ms");
  if (!st.is_ok()) return st;
  uint64_t load_ms = 0;
  st = read_varint(p, n, pos, load_ms, "load_ms");
  if (!st.is_ok()) return st;
  if (load_ms > UINT32_MAX) return data_loss("envelope load_ms " + std::to_string(load_ms) + " exceeds 32 bits");
  m.load_ms = static_cast<uint32_t>(load_ms);
  return m;
}

size_t put_entry_meta(unsigned char* out, const EntryMeta& m) {
  out[0] = m.negative ? kMetaNegative : 0;
  size_t n = 1 + put_varint(out + 1, m.stale_ms);
  return n + put_varint(out + n, m.load_ms);
}

}  // namespace

Result<EnvelopeHeader> parse_envelope_header(std::string_view env) {
  const auto* p = reinterpret_cast<const unsigned char*>(env.data());
  const size_t n = env.size();
  if (n < 2 || p[0] != kMagic0 || p[1] != kMagic1) {
    return Status(StatusCode::kWrongType, "not a stratacache envelope (no magic bytes)");
  }
  if (n < kOffVariable) return data_loss("truncated envelope header");
  EnvelopeHeader h;
  h.version = p[kOffVersion];
  if (h.version != kEnvelopeVersion) {
    return unsupported_value("unsupported envelope version " + std::to_string(h.version));
  }
  if (p[kOffFormat] > static_cast<uint8_t>(Format::kMsgPack)) {
    return unsupported_value("unknown serializer id " + std::to_string(p[kOffFormat]));
  }
  h.format = static_cast<Format>(p[kOffFormat]);
  if (p[kOffCompression] > static_cast<uint8_t>(Compression::kZlib)) {
    return unsupported_value("unknown compression id " + std::to_string(p[kOffCompression]));
  }
  h.compression = static_cast<Compression>(p[kOffCompression]);
  const uint8_t flags = p[kOffFlags];
  if ((flags & ~kKnownFlags) != 0) return unsupported_value("unknown envelope flags " + std::to_string(flags));
  h.encrypted = (flags & kFlagEncrypted) != 0;

  size_t pos = kOffVariable;
  if ((flags & kFlagEntryMeta) != 0) {
    Result<EntryMeta> m = read_entry_meta(p, n, pos);
    if (!m.is_ok()) return m.status();
    h.meta = *m;
  }
  Status st = read_varint(p, n, pos, h.original_length, "length");
  if (!st.is_ok()) return st;
  if (h.meta && h.meta->negative &&
      (h.format != Format::kRaw || h.compression != Compression::kNone || h.original_length != 0)) {
    return data_loss("a negative marker must have an empty raw, uncompressed body");
  }

  if (h.encrypted) {
    if (n - pos < 4 + kNonceSize) return data_loss("truncated envelope header (key id / nonce)");
    h.key_id = static_cast<uint32_t>(p[pos]) | static_cast<uint32_t>(p[pos + 1]) << 8 |
               static_cast<uint32_t>(p[pos + 2]) << 16 | static_cast<uint32_t>(p[pos + 3]) << 24;
    h.nonce = p + pos + 4;
    pos += 4 + kNonceSize;
  }
  h.header_size = pos;
  return h;
}

}  // namespace stratacache::codec

namespace stratacache {

using namespace codec;

Codec::Codec(CodecOptions options) : options_(std::move(options)) {}
Codec::~Codec() = default;

namespace {

const KeyRing::Impl* active_ring(const CodecOptions& o) {
  return (o.keys && !o.keys->empty()) ? &o.keys->impl() : nullptr;
}

}  // namespace

Result<std::string> Codec::encode(const Payload& payload, std::string_view ns, std::string_view key,
                                  const EntryMeta* meta) const {
  try {
    if (static_cast<uint8_t>(payload.format) > static_cast<uint8_t>(Format::kMsgPack)) {
      return invalid_argument("unknown serializer id " + std::to_string(static_cast<int>(payload.format)));
    }
    if (meta != nullptr && meta->negative && (payload.format != Format::kRaw || !payload.data.empty())) {
      return invalid_argument("a negative marker carries no value: its payload must be raw and empty");
    }
    const std::string& src = payload.data;
    const size_t n = src.size();
    if (n > options_.limits.max_value_bytes) {
      return too_large("payload of " + std::to_string(n) + " bytes exceeds max_value_bytes " +
                       std::to_string(options_.limits.max_value_bytes));
    }
    const KeyRing::Impl* ring = active_ring(options_);
    if (ring != nullptr && (ns.size() > UINT32_MAX || key.size() > UINT32_MAX)) {
      return invalid_argument("namespace or key longer than 2^32-1 bytes");
    }

    // Compress into scratch first: only a result that shrinks is kept.
    Compression comp = options_.compression;
    std::unique_ptr<char[]> scratch;
    size_t body_len = n;
    if (comp != Compression::kNone) {
      if (static_cast<uint8_t>(comp) > static_cast<uint8_t>(Compression::kZlib)) {
        return invalid_argument("unknown compression id " + std::to_string(static_cast<int>(comp)));
      }
      if (comp == Compression::kZlib && (options_.zlib_level < -1 || options_.zlib_level > 9)) {
        return invalid_argument("zlib_level must be -1..9, got " + std::to_string(options_.zlib_level));
      }
      const size_t bound = n > options_.compression_threshold ? compress_bound(comp, n) : 0;
      size_t clen = 0;
      if (bound != 0) {
        scratch.reset(new char[bound]);
        clen = compress_into(comp, src, scratch.get(), bound, options_.zlib_level);
      }
      if (clen != 0 && clen < n) {
        body_len = clen;
      } else {
        comp = Compression::kNone;
        scratch.reset();
      }
    }
    const char* body_src = comp == Compression::kNone ? src.data() : scratch.get();

    unsigned char hdr[kMaxHeaderSize];
    hdr[0] = kMagic0;
    hdr[1] = kMagic1;
    hdr[kOffVersion] = kEnvelopeVersion;
    hdr[kOffFormat] = static_cast<unsigned char>(payload.format);
    hdr[kOffCompression] = static_cast<unsigned char>(comp);
    hdr[kOffFlags] = static_cast<unsigned char>((ring != nullptr ? kFlagEncrypted : 0) |
                                                (meta != nullptr ? kFlagEntryMeta : 0));
    size_t h = kOffVariable;
    if (meta != nullptr) h += put_entry_meta(hdr + h, *meta);
    h += put_varint(hdr + h, n);
    const KeyRing::Impl::Key* k = nullptr;
    if (ring != nullptr) {
      k = ring->primary;
      for (int i = 0; i < 4; ++i) hdr[h + i] = static_cast<unsigned char>(k->id >> (8 * i));
      if (RAND_bytes(hdr + h + 4, static_cast<int>(kNonceSize)) != 1) {
        return internal_error("RAND_bytes failed to produce a nonce");
      }
      h += 4 + kNonceSize;
    }

    std::string out;
    out.resize(h + body_len + (ring != nullptr ? kTagSize : 0));
    char* o = out.data();
    std::memcpy(o, hdr, h);
    if (ring == nullptr) {
      std::memcpy(o + h, body_src, body_len);
      return out;
    }
    const AadParts aad{std::string_view(o, h), ns, key};
    Status st = aes_gcm_seal(*ring, k->bytes, hdr + h - kNonceSize, aad, body_src, body_len, o + h,
                             reinterpret_cast<unsigned char*>(o + h + body_len));
    if (!st.is_ok()) return st;
    return out;
  } catch (const std::bad_alloc&) {
    return too_large("out of memory while encoding");
  } catch (const std::exception& e) {
    return internal_error(std::string("encode: ") + e.what());
  } catch (...) {
    return internal_error("encode: unknown exception");
  }
}

namespace {

// The envelope after its header: limits, key ring policy, authentication, decompression.
Result<Payload> open_envelope(const CodecOptions& options, std::string_view env, const EnvelopeHeader& hd,
                              std::string_view ns, std::string_view key) {
  const DecodeLimits& limits = options.limits;
  if (hd.original_length > limits.max_value_bytes) {
    return too_large("stored value of " + std::to_string(hd.original_length) +
                     " bytes exceeds max_value_bytes " + std::to_string(limits.max_value_bytes));
  }
  const auto original = static_cast<size_t>(hd.original_length);
  const KeyRing::Impl* ring = active_ring(options);
  if (ring != nullptr && !hd.encrypted) {
    return data_loss("unencrypted value rejected: a key ring is configured");
  }
  if (ring == nullptr && hd.encrypted) return unsupported_value("encrypted value but no key ring is configured");

  std::string_view body = env.substr(hd.header_size);
  const unsigned char* tag = nullptr;
  if (hd.encrypted) {
    if (body.size() < kTagSize) return data_loss("truncated envelope (tag)");
    tag = reinterpret_cast<const unsigned char*>(body.data() + body.size() - kTagSize);
    body.remove_suffix(kTagSize);
  }
  if (hd.compression == Compression::kNone) {
    if (body.size() != original) {
      return data_loss("envelope body is " + std::to_string(body.size()) + " bytes, header says " +
                       std::to_string(original));
    }
  } else if (!plausible_expansion(hd.compression, body.size(), original)) {
    return data_loss("implausible original length " + std::to_string(original) + " for " +
                     std::to_string(body.size()) + " compressed bytes");
  }

  Payload out;
  out.format = hd.format;
  std::unique_ptr<char[]> plain_buf;  // decrypted, still compressed
  std::string_view plain = body;
  if (hd.encrypted) {
    const KeyRing::Impl::Key* k = ring->find(hd.key_id);
    if (k == nullptr) return unsupported_value("unknown key id " + std::to_string(hd.key_id));
    char* dst;
    if (hd.compression == Compression::kNone) {
      out.data.resize(body.size());
      dst = out.data.data();
    } else {
      plain_buf.reset(new char[body.size() > 0 ? body.size() : 1]);
      dst = plain_buf.get();
    }
    const AadParts aad{env.substr(0, hd.header_size), ns, key};
    Status st = aes_gcm_open(*ring, k->bytes, hd.nonce, aad, body.data(), body.size(), dst, tag);
    if (!st.is_ok()) return st;
    if (hd.compression == Compression::kNone) return out;
    plain = std::string_view(dst, body.size());
  } else if (hd.compression == Compression::kNone) {
    out.data.assign(body.data(), body.size());
    return out;
  }

  out.data.resize(original);
  Status st = decompress_into(hd.compression, plain, out.data.data(), original);
  if (!st.is_ok()) return st;
  return out;
}

}  // namespace

Result<Payload> Codec::decode(std::string_view env, std::string_view ns, std::string_view key,
                              std::optional<EntryMeta>* meta) const {
  if (meta != nullptr) meta->reset();
  try {
    // INCRBY writes bare ASCII integers, never encrypted: read them as JSON numbers.
    // Only the canonical form Redis itself accepts for INCRBY ("007" and "-0" are not).
    if (parse_ascii_integer(env)) return Payload{Format::kJson, std::string(env)};

    Result<EnvelopeHeader> parsed = parse_envelope_header(env);
    if (!parsed.is_ok()) return parsed.status();
    Result<Payload> out = open_envelope(options_, env, *parsed, ns, key);
    if (out.is_ok() && meta != nullptr) *meta = parsed->meta;
    return out;
  } catch (const std::bad_alloc&) {
    return too_large("out of memory while decoding");
  } catch (const std::exception& e) {
    return data_loss(std::string("decode: ") + e.what());
  } catch (...) {
    return data_loss("decode: unknown exception");
  }
}

}  // namespace stratacache
