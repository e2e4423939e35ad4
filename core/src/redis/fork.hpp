// The process's fork generation: incremented in every child process (a pthread_atfork
// handler registered by the first ConnectionPool), so that objects can tell, with one
// relaxed load, that they were inherited across fork(). Inline: it is read on L1 hits.
#pragma once

#include <atomic>
#include <cstdint>

namespace stratacache::redis {

namespace detail {
inline std::atomic<uint64_t> g_fork_generation{0};
}  // namespace detail

inline uint64_t fork_generation() { return detail::g_fork_generation.load(std::memory_order_relaxed); }

}  // namespace stratacache::redis
