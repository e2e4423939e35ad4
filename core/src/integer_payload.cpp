#include "integer_payload.hpp"

#include <charconv>
#include <cstring>

namespace stratacache {

std::optional<int64_t> parse_ascii_integer(std::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  size_t digits_from = text[0] == '-' ? 1 : 0;
  if (digits_from == text.size()) return std::nullopt;
  for (size_t i = digits_from; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
  }
  // "-0" and leading zeros are not what INCRBY writes; reject so they stay opaque.
  if (text.size() - digits_from > 1 && text[digits_from] == '0') return std::nullopt;
  if (text == "-0") return std::nullopt;
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return v;
}

namespace {

template <typename T>
T read_be(const unsigned char* p) {
  T v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v = static_cast<T>((v << 8) | p[i]);
  return v;
}

std::optional<int64_t> msgpack_integer(std::string_view d) {
  if (d.empty()) return std::nullopt;
  auto* p = reinterpret_cast<const unsigned char*>(d.data());
  unsigned char tag = p[0];
  if (d.size() == 1 && tag <= 0x7f) return tag;
  if (d.size() == 1 && tag >= 0xe0) return static_cast<int8_t>(tag);
  auto body = [&](size_t n) { return d.size() == 1 + n; };
  switch (tag) {
    case 0xcc: if (body(1)) return p[1]; break;
    case 0xcd: if (body(2)) return read_be<uint16_t>(p + 1); break;
    case 0xce: if (body(4)) return read_be<uint32_t>(p + 1); break;
    case 0xcf: if (body(8)) {
        uint64_t u = read_be<uint64_t>(p + 1);
        if (u <= static_cast<uint64_t>(INT64_MAX)) return static_cast<int64_t>(u);
      }
      break;
    case 0xd0: if (body(1)) return static_cast<int8_t>(p[1]); break;
    case 0xd1: if (body(2)) return static_cast<int16_t>(read_be<uint16_t>(p + 1)); break;
    case 0xd2: if (body(4)) return static_cast<int32_t>(read_be<uint32_t>(p + 1)); break;
    case 0xd3: if (body(8)) return static_cast<int64_t>(read_be<uint64_t>(p + 1)); break;
    default: break;
  }
  return std::nullopt;
}

}  // namespace

std::optional<int64_t> payload_integer(const Payload& payload) {
  switch (payload.format) {
    case Format::kJson: return parse_ascii_integer(payload.data);
    case Format::kMsgPack: return msgpack_integer(payload.data);
    case Format::kRaw: return std::nullopt;
  }
  return std::nullopt;
}

Payload integer_payload(int64_t value) { return Payload{Format::kJson, std::to_string(value)}; }

}  // namespace stratacache
