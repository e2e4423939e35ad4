#include "support/fork_check.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>

namespace stratacache::testing {

void expect_fork_keeps_parent_connection(std::unique_ptr<RemoteTier>& tier) {
  auto soon = [] { return Deadline::after(std::chrono::milliseconds(3000)); };
  ASSERT_TRUE(tier->set("shared", "from-parent", 0, soon()).is_ok());
  ASSERT_EQ(tier->stats().connections_opened, 1u);

  pid_t pid = ::fork();
  if (pid == 0) {
    // Child: no gtest assertions here, only an exit code.
    int code = 0;
    auto r = tier->get("shared", soon());
    if (!r.is_ok() || r->value != "from-parent") code |= 1;
    if (!tier->set("child", "was-here", 0, soon()).is_ok()) code |= 2;
    if (tier->stats().connections_opened != 2) code |= 4;  // a fresh one, not the parent's
    tier.reset();  // closing the child's pool must not touch the parent's connection either
    ::_exit(code);
  }
  ASSERT_GT(pid, 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);

  // Anything the child sent on the parent's connection (a TLS close_notify, a command)
  // would have broken it or put it out of step.
  auto r = tier->get("child", soon());
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->value, "was-here");
  L2Stats st = tier->stats();
  EXPECT_EQ(st.connections_opened, 1u);
  EXPECT_EQ(st.connections_discarded, 0u);
  EXPECT_EQ(st.errors, 0u);
}

}  // namespace stratacache::testing
