#include "glob.hpp"

namespace stratacache {
namespace {

// Matches one character class starting at pattern[p] == '['. On return p points past
// the closing ']' (or at the end for an unterminated class, which then matches '[').
bool match_class(std::string_view pattern, size_t& p, unsigned char c) {
  size_t i = p + 1;
  bool negate = false;
  if (i < pattern.size() && pattern[i] == '^') { negate = true; ++i; }
  bool matched = false;
  bool closed = false;
  while (i < pattern.size()) {
    unsigned char pc = static_cast<unsigned char>(pattern[i]);
    if (pc == ']') { closed = true; ++i; break; }
    if (pc == '\\' && i + 1 < pattern.size()) {
      ++i;
      if (static_cast<unsigned char>(pattern[i]) == c) matched = true;
      ++i;
    } else if (i + 2 < pattern.size() && pattern[i + 1] == '-' && pattern[i + 2] != ']') {
      unsigned char lo = pc, hi = static_cast<unsigned char>(pattern[i + 2]);
      if (lo > hi) std::swap(lo, hi);
      if (c >= lo && c <= hi) matched = true;
      i += 3;
    } else {
      if (pc == c) matched = true;
      ++i;
    }
  }
  p = i;
  if (!closed) return c == '[';  // unterminated: treat '[' literally (best effort)
  return negate ? !matched : matched;
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view text) {
  size_t p = 0, t = 0;
  size_t star_p = std::string_view::npos, star_t = 0;
  while (t < text.size()) {
    if (p < pattern.size()) {
      char pc = pattern[p];
      if (pc == '*') {
        while (p < pattern.size() && pattern[p] == '*') ++p;
        if (p == pattern.size()) return true;
        star_p = p;
        star_t = t;
        continue;
      }
      unsigned char c = static_cast<unsigned char>(text[t]);
      if (pc == '?') { ++p; ++t; continue; }
      if (pc == '[') {
        size_t np = p;
        if (match_class(pattern, np, c)) { p = np; ++t; continue; }
      } else if (pc == '\\' && p + 1 < pattern.size()) {
        if (static_cast<unsigned char>(pattern[p + 1]) == c) { p += 2; ++t; continue; }
      } else if (static_cast<unsigned char>(pc) == c) {
        ++p; ++t; continue;
      }
    }
    if (star_p == std::string_view::npos) return false;
    p = star_p;
    t = ++star_t;
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::string glob_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

}  // namespace stratacache
