#include "companion_key.hpp"

#include <openssl/rand.h>

#include <array>
#include <cstdint>
#include <random>

#include "redis/cluster_slots.hpp"

namespace stratacache {
namespace {

// For every hash slot, a short tag whose slot it is ("{tag}" moves a key there).
const std::array<std::string, 16384>& slot_tags() {
  static const std::array<std::string, 16384> tags = [] {
    std::array<std::string, 16384> t;
    size_t filled = 0;
    for (uint64_t i = 0; filled < t.size(); ++i) {
      std::string s = std::to_string(i);
      uint16_t slot = redis::crc16_xmodem(s) & 16383;
      if (t[slot].empty()) {
        t[slot] = std::move(s);
        ++filled;
      }
    }
    return t;
  }();
  return tags;
}

}  // namespace

std::string companion_key(std::string_view full, std::string_view mark) {
  std::string k(full);
  k.append(mark).push_back('{');
  k.append(slot_tags()[redis::key_slot(full)]).push_back('}');
  return k;
}

std::string random_token() {
  unsigned char raw[16];
  if (RAND_bytes(raw, sizeof raw) != 1) {
    thread_local std::mt19937_64 rng(std::random_device{}());
    for (auto& b : raw) b = static_cast<unsigned char>(rng());
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(32);
  for (unsigned char b : raw) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

}  // namespace stratacache
