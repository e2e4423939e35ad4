// Synthetic traces with fixed seeds, so every run and every policy sees the same requests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace stratacache::bench {

// `requests` draws from a Zipf distribution with exponent `s` over `keys` keys
// (P(rank r) proportional to 1 / r^s). Ranks are scrambled into 64-bit keys so the
// popular keys are not neighbours.
std::vector<uint64_t> zipf_trace(double s, size_t keys, size_t requests, uint64_t seed);

// A Zipf hot set interrupted by scans: blocks of `hot_run` Zipf(s) requests over
// `hot_keys` keys, each followed by a sequential scan of `scan_length` keys that appear
// nowhere else in the trace; `requests` in all.
std::vector<uint64_t> scan_mix_trace(double s, size_t hot_keys, size_t hot_run, size_t scan_length,
                                     size_t requests, uint64_t seed);

}  // namespace stratacache::bench
