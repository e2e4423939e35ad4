#include <gtest/gtest.h>

#include <climits>

#include "deadline.hpp"

namespace stratacache {
namespace {

TEST(Deadline, FarAwayDeadlineDoesNotOverflow) {
  Deadline never(Deadline::Clock::time_point::max());
  EXPECT_FALSE(never.expired());
  EXPECT_EQ(never.remaining_ms(), INT_MAX);
}

TEST(Deadline, RemainingIsRoundedUpAndNeverNegative) {
  auto d = Deadline::after(std::chrono::milliseconds(50));
  EXPECT_GE(d.remaining_ms(), 1);
  EXPECT_LE(d.remaining_ms(), 51);
  Deadline past(Deadline::Clock::now() - std::chrono::seconds(1));
  EXPECT_TRUE(past.expired());
  EXPECT_EQ(past.remaining_ms(), 0);
}

}  // namespace
}  // namespace stratacache
