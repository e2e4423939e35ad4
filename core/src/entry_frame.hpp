// Internal: how L1 holds an entry that carries read-through metadata (docs/read-through.md).
//
// Such an entry's L1 format is its value's format with kFramedBit set, and its bytes are
// a fixed header followed by the value's bytes. Reads hand out the value only (a
// ValueRef into the same entry, no copy); nothing outside the facade sees a frame.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "stratacache/codec.hpp"
#include "stratacache/value_ref.hpp"

namespace stratacache::frame {

constexpr uint8_t kFramedBit = 0x40;

struct Header {
  int64_t fresh_until_ms = 0;  // steady clock (now_ms()); after it the entry is stale
  uint64_t generation = 0;     // the facade's L1 generation when stored; another one: stale only
  uint32_t load_ms = 0;        // how long the load took (early refresh)
  uint32_t flags = 0;          // kNegative, kHasStale
};
constexpr uint32_t kNegative = 1;  // an absent marker: the key does not exist
constexpr uint32_t kHasStale = 2;  // the entry has a stale period (a fail-safe value)
constexpr size_t kSize = sizeof(Header);
static_assert(kSize == 24);

inline int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

inline bool framed(Format f) { return (static_cast<uint8_t>(f) & kFramedBit) != 0; }
inline Format framed_format(Format f) { return static_cast<Format>(static_cast<uint8_t>(f) | kFramedBit); }
inline Format inner_format(Format f) { return static_cast<Format>(static_cast<uint8_t>(f) & ~kFramedBit); }

inline std::string make(const Header& h, std::string_view value) {
  std::string out(kSize + value.size(), '\0');
  std::memcpy(out.data(), &h, kSize);
  if (!value.empty()) std::memcpy(out.data() + kSize, value.data(), value.size());
  return out;
}

// The header of a framed entry's bytes (size >= kSize).
inline Header header(std::string_view framed_bytes) {
  Header h;
  std::memcpy(&h, framed_bytes.data(), kSize);
  return h;
}

// The value of a framed entry, sharing it.
inline ValueRef value(const ValueRef& entry) { return entry.sub(kSize, inner_format(entry.format())); }

}  // namespace stratacache::frame
