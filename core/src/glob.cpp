#include "glob.hpp"

#include <utility>

namespace stratacache {
namespace {

// Matches one character class starting at pattern[p] == '[', exactly as Redis's
// stringmatchlen does: '\\x' is a literal, "a-z" a range (ends compared as signed char,
// swapped when reversed; ']' may end a range), and an unterminated class simply runs
// to the end of the pattern. On return p points past the class.
bool match_class(std::string_view pattern, size_t& p, char c) {
  size_t i = p + 1;
  bool negate = false;
  if (i < pattern.size() && pattern[i] == '^') { negate = true; ++i; }
  bool matched = false;
  while (i < pattern.size()) {
    char pc = pattern[i];
    if (pc == '\\' && i + 1 < pattern.size()) {
      if (pattern[i + 1] == c) matched = true;
      i += 2;
    } else if (pc == ']') {
      ++i;
      break;
    } else if (i + 2 < pattern.size() && pattern[i + 1] == '-') {
      signed char lo = static_cast<signed char>(pc), hi = static_cast<signed char>(pattern[i + 2]);
      if (lo > hi) std::swap(lo, hi);
      signed char sc = static_cast<signed char>(c);
      if (sc >= lo && sc <= hi) matched = true;
      i += 3;
    } else {
      if (pc == c) matched = true;
      ++i;
    }
  }
  p = i;
  return negate ? !matched : matched;
}

// The matcher; Steps counts its work for glob_match_steps and compiles to nothing
// for glob_match.
struct NoSteps {
  void operator++() {}
};
struct CountSteps {
  uint64_t n = 0;
  void operator++() { ++n; }
};

template <class Steps>
bool match(std::string_view pattern, std::string_view text, Steps& steps) {
  size_t p = 0, t = 0;
  size_t star_p = std::string_view::npos, star_t = 0;
  while (t < text.size()) {
    ++steps;
    if (p < pattern.size()) {
      char pc = pattern[p];
      if (pc == '*') {
        while (p < pattern.size() && pattern[p] == '*') ++p;
        if (p == pattern.size()) return true;
        star_p = p;
        star_t = t;
        continue;
      }
      char c = text[t];
      if (pc == '?') { ++p; ++t; continue; }
      if (pc == '[') {
        size_t np = p;
        if (match_class(pattern, np, c)) { p = np; ++t; continue; }
      } else if (pc == '\\' && p + 1 < pattern.size()) {
        if (pattern[p + 1] == c) { p += 2; ++t; continue; }
      } else if (pc == c) {
        ++p; ++t; continue;
      }
    }
    if (star_p == std::string_view::npos) return false;
    p = star_p;
    t = ++star_t;
  }
  while (p < pattern.size() && pattern[p] == '*') {
    ++steps;
    ++p;
  }
  return p == pattern.size();
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view text) {
  NoSteps steps;
  return match(pattern, text, steps);
}

uint64_t glob_match_steps(std::string_view pattern, std::string_view text) {
  CountSteps steps;
  match(pattern, text, steps);
  return steps.n;
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
