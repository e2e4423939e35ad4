// Redis-compatible glob matching (*, ?, [abc], [^a], [a-z], \x), binary-safe.
#pragma once

#include <string>
#include <string_view>

namespace stratacache {

// Linear-time in practice: one backtrack point for the last '*', so hostile patterns
// like "a*a*a*a*b" cannot go exponential.
bool glob_match(std::string_view pattern, std::string_view text);

// Escape glob metacharacters so `text` matches itself literally (for key prefixes).
std::string glob_escape(std::string_view text);

}  // namespace stratacache
