// Integers get special treatment on the value path: stored in Redis as plain ASCII
// (so INCRBY works on them and other clients read them), and incremented in L1.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "stratacache/codec.hpp"

namespace stratacache {

// Strict ASCII integer: optional '-', 1..19 digits, no leading '+' or spaces, fits int64.
std::optional<int64_t> parse_ascii_integer(std::string_view text);

// The integer a payload holds: JSON integer text, a MessagePack integer (exactly one
// object), or nullopt.
std::optional<int64_t> payload_integer(const Payload& payload);

// The canonical payload of a counter: JSON text.
Payload integer_payload(int64_t value);

}  // namespace stratacache
