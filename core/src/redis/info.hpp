// Reading Redis INFO text ("# Section" headers, "field:value" lines, CRLF), for health
// and server info (docs/operations.md).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "stratacache/stats.hpp"

namespace stratacache::redis {

// The value of `field` ("" when absent), from any section of `info`.
std::string_view info_field(std::string_view info, std::string_view field);
// A field's value as an integer (0 when empty or not a number).
int64_t info_number(std::string_view value);
// Fills `out` from a full INFO reply: version, role, clients, memory, stats and the
// key count of every db listed in "# Keyspace" ("db0:keys=N,expires=...").
void parse_server_info(std::string_view info, ServerNodeInfo* out);
// Bytes in Redis's used_memory_human form: "512B", "1.50K", "2.50M", "3.00G", ...
std::string human_bytes(int64_t bytes);

}  // namespace stratacache::redis
