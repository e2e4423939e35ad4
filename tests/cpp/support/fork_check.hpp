// Fork safety of an L2 tier, checked the same way for every transport.
#pragma once

#include <memory>

#include "remote_tier.hpp"

namespace stratacache::testing {

// `tier` has opened exactly one (pooled) connection. A forked child must open its own
// (the inherited one closed without a byte sent), and afterwards the parent's pooled
// connection must still work: no new connection, no error. Reports through gtest.
void expect_fork_keeps_parent_connection(std::unique_ptr<RemoteTier>& tier);

}  // namespace stratacache::testing
