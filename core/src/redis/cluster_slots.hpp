// Redis Cluster key -> hash slot (the Cluster spec: CRC16-XMODEM of the key, or of the
// first non-empty {hash tag} in it, modulo 16384).
#pragma once

#include <cstdint>
#include <string_view>

namespace stratacache::redis {

constexpr uint16_t kClusterSlots = 16384;

// CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0, no reflection.
uint16_t crc16_xmodem(std::string_view data);
// The hash slot of `key`: only the part between the first '{' and the next '}' is
// hashed when that part is non-empty.
uint16_t key_slot(std::string_view key);

}  // namespace stratacache::redis
