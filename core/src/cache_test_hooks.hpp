// Internal: points where a test can act inside a cache call, to make a race
// deterministic instead of timed. Null (the default) costs one relaxed load.
#pragma once

#include <atomic>
#include <string_view>

namespace stratacache::test_hooks {

// Called with the (unprefixed) key between the L2 reply of a read (get, get_async,
// mget) and its L1 back-fill, on the thread that handles the reply.
extern std::atomic<void (*)(std::string_view key)> before_backfill;
// The same read, as its completion begins (before the reply is decoded), and right
// after the back-fill (whether it stored the value or not).
extern std::atomic<void (*)(std::string_view key)> on_l2_reply;
extern std::atomic<void (*)(std::string_view key)> after_backfill;
// Benchmarks: writes skip the pipelined look for dependents (docs/tags.md), to measure it.
extern std::atomic<bool> skip_dependents_check;

}  // namespace stratacache::test_hooks
