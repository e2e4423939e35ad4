// Redis-compatible glob matching (*, ?, [abc], [^a], [a-z], \x), binary-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace stratacache {

// Linear-time in practice: one backtrack point for the last '*', so hostile patterns
// like "a*a*a*a*b" cannot go exponential. At most (|pattern| + 1) * (|text| + 1) steps.
bool glob_match(std::string_view pattern, std::string_view text);

// The steps glob_match takes on these arguments (pattern elements compared with a text
// byte, retries after a '*' and trailing '*'s included), counted by the same code: lets
// a test bound the matcher's work instead of timing it.
uint64_t glob_match_steps(std::string_view pattern, std::string_view text);

// Escape glob metacharacters so `text` matches itself literally (for key prefixes).
std::string glob_escape(std::string_view text);

}  // namespace stratacache
