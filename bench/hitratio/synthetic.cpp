#include "hitratio/synthetic.hpp"

#include <algorithm>
#include <cmath>
#include <random>

namespace stratacache::bench {
namespace {

// splitmix64's finaliser: a bijection, so distinct ranks stay distinct keys.
uint64_t scramble(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Inverse-CDF sampling over a precomputed cumulative distribution (binary search).
class ZipfSampler {
 public:
  ZipfSampler(double s, size_t keys) : cdf_(keys) {
    double sum = 0;
    for (size_t r = 0; r < keys; ++r) cdf_[r] = sum += 1.0 / std::pow(static_cast<double>(r + 1), s);
    for (double& c : cdf_) c /= sum;
    cdf_.back() = 1.0;
  }
  // Rank in [0, keys): 0 is the most popular.
  size_t operator()(std::mt19937_64& rng) const {
    // 53 random bits -> uniform in [0, 1); spelled out so every standard library agrees.
    double u = static_cast<double>(rng() >> 11) * 0x1.0p-53;
    return static_cast<size_t>(std::upper_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin());
  }

 private:
  std::vector<double> cdf_;
};

}  // namespace

std::vector<uint64_t> zipf_trace(double s, size_t keys, size_t requests, uint64_t seed) {
  ZipfSampler zipf(s, keys);
  std::mt19937_64 rng(seed);
  std::vector<uint64_t> out(requests);
  for (uint64_t& k : out) k = scramble(zipf(rng));
  return out;
}

std::vector<uint64_t> scan_mix_trace(double s, size_t hot_keys, size_t hot_run, size_t scan_length,
                                     size_t requests, uint64_t seed) {
  ZipfSampler zipf(s, hot_keys);
  std::mt19937_64 rng(seed);
  std::vector<uint64_t> out;
  out.reserve(requests);
  uint64_t next_scan_key = hot_keys;  // ranks >= hot_keys are scan keys, each used once
  while (out.size() < requests) {
    for (size_t i = 0; i < hot_run && out.size() < requests; ++i) out.push_back(scramble(zipf(rng)));
    for (size_t i = 0; i < scan_length && out.size() < requests; ++i) out.push_back(scramble(next_scan_key++));
  }
  return out;
}

}  // namespace stratacache::bench
