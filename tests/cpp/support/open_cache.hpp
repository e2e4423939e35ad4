// Opening caches in tests: a failure to open is a test failure (with the reason).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "stratacache/cache.hpp"

namespace stratacache::testing {

inline std::unique_ptr<Cache> open_or_die(const std::string& url) {
  auto c = Cache::open(url);
  EXPECT_TRUE(c) << url << ": " << c.status().to_string();
  return c ? std::move(c).value() : nullptr;
}

inline Payload raw(std::string s) { return Payload{Format::kRaw, std::move(s)}; }

}  // namespace stratacache::testing
