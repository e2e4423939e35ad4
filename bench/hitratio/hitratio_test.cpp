// Tests of the hit-ratio benchmark's parts: trace decoding and caching, Bélády's OPT
// against an exhaustive search, the synthetic traces and the L1 adapter.
#include <gtest/gtest.h>

#include <endian.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "hitratio/belady.hpp"
#include "hitratio/l1_sim.hpp"
#include "hitratio/synthetic.hpp"
#include "hitratio/trace.hpp"

namespace stratacache::bench {
namespace {

namespace fs = std::filesystem;

struct TraceDir : ::testing::Test {
  fs::path dir = fs::temp_directory_path() / ("hitratio_test_" + std::to_string(::getpid()));
  TraceDir() { fs::create_directories(dir / "src"); }
  ~TraceDir() override { fs::remove_all(dir); }

  // Writes `bytes` to src/NAME.raw and compresses it to src/NAME with `compress`.
  void write(const std::string& name, const std::string& bytes, const std::string& compress) {
    fs::path raw = dir / "src" / (name + ".raw");
    FILE* f = std::fopen(raw.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
    std::string cmd = compress + " < '" + raw.string() + "' > '" + (dir / "src" / name).string() + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    fs::remove(raw);
  }
  std::string cache() const { return (dir / "cache").string(); }
};

std::string be(uint64_t v, int width) {
  std::string out;
  for (int b = width - 1; b >= 0; --b) out += static_cast<char>((v >> (8 * b)) & 0xff);
  return out;
}

TEST_F(TraceDir, DecodesEveryFormatAndCachesTheKeys) {
  write("arc-T.lis.zst", "10 3 0 0\n7 1 0 0\r\n\n", "zstd -q -c");
  write("lirs-t.trace.gz", "5\n*\n\n6\n5\n", "gzip -c");
  write("cache2k-t.trace.xz", be(1, 4) + be(0xffffffff, 4) + be(0x7fffffff, 4), "xz -c");
  write("corda-t.trace.gz", be(0x0102030405060708ULL, 8) + be(3, 8), "gzip -c");
  write("scarab-t.trace.xz", be(~0ULL, 8), "xz -c");
  write("unrelated.txt", "x", "cat");

  std::vector<TraceFile> traces = find_traces((dir / "src").string());
  std::map<std::string, std::vector<uint64_t>> want = {
      {"arc-T", {10, 11, 12, 7}},
      {"cache2k-t", {1, static_cast<uint64_t>(-1), 0x7fffffff}},
      {"corda-t", {0x0102030405060708ULL, 3}},
      {"lirs-t", {5, 6, 5}},
      {"scarab-t", {~0ULL}},
  };
  ASSERT_EQ(traces.size(), want.size());
  for (const TraceFile& t : traces) {
    SCOPED_TRACE(t.name);
    ASSERT_TRUE(want.count(t.name));
    Result<std::vector<uint64_t>> keys = load_trace(t, cache());
    ASSERT_TRUE(keys) << keys.status().to_string();
    EXPECT_EQ(*keys, want[t.name]);
    // The cache holds the same keys as little-endian uint64s, and is what a second load reads.
    Result<std::vector<uint64_t>> cached = read_u64(cached_path(cache(), t.name));
    ASSERT_TRUE(cached);
    EXPECT_EQ(*cached, want[t.name]);
    EXPECT_EQ(fs::file_size(cached_path(cache(), t.name)), 8 * want[t.name].size());
  }
  FILE* f = std::fopen(cached_path(cache(), "lirs-t").c_str(), "rb");
  uint64_t first = 0;
  ASSERT_EQ(std::fread(&first, 8, 1, f), 1u);
  std::fclose(f);
  EXPECT_EQ(le64toh(first), 5u);
}

TEST_F(TraceDir, ReportsCorruptTraces) {
  write("lirs-bad.trace.gz", "5\nfive\n", "gzip -c");
  write("corda-short.trace.gz", be(1, 8) + "abc", "gzip -c");
  write("arc-notzstd.lis.zst", "1 1 0 0\n", "cat");
  for (const TraceFile& t : find_traces((dir / "src").string())) {
    SCOPED_TRACE(t.name);
    EXPECT_EQ(load_trace(t, cache()).code(), StatusCode::kDataLoss);
  }
}

// The most hits any policy can get that may decline to insert and evict any key:
// exhaustive search over the resident sets (keys < 8).
uint64_t exhaustive_opt(const std::vector<uint64_t>& keys, size_t capacity) {
  std::map<unsigned, uint64_t> best = {{0u, 0}};  // resident set -> hits so far
  for (uint64_t k : keys) {
    std::map<unsigned, uint64_t> next;
    auto offer = [&](unsigned set, uint64_t hits) {
      auto [it, fresh] = next.emplace(set, hits);
      if (!fresh && it->second < hits) it->second = hits;
    };
    for (auto [set, hits] : best) {
      unsigned bit = 1u << k;
      if (set & bit) {
        offer(set, hits + 1);
        continue;
      }
      offer(set, hits);  // decline
      if (static_cast<size_t>(__builtin_popcount(set)) < capacity) offer(set | bit, hits);
      for (unsigned victim = 0; victim < 8; ++victim) {
        if (set & (1u << victim)) offer((set & ~(1u << victim)) | bit, hits);
      }
    }
    best = std::move(next);
  }
  uint64_t most = 0;
  for (auto [set, hits] : best) most = std::max(most, hits);
  return most;
}

TEST(Belady, MatchesExhaustiveSearchOnRandomTraces) {
  std::mt19937_64 rng(1);
  for (int round = 0; round < 200; ++round) {
    std::vector<uint64_t> keys(5 + rng() % 40);
    unsigned alphabet = 2 + rng() % 7;
    for (uint64_t& k : keys) k = rng() % alphabet;
    BeladyTrace opt(keys);
    for (size_t capacity = 1; capacity <= 5; ++capacity) {
      ASSERT_EQ(opt.hits(capacity), exhaustive_opt(keys, capacity)) << "round " << round << " capacity " << capacity;
    }
  }
}

TEST(Belady, LoopAndCounts) {
  std::vector<uint64_t> loop;
  for (int pass = 0; pass < 10; ++pass) {
    for (uint64_t k = 0; k < 100; ++k) loop.push_back(k * 1000003);
  }
  BeladyTrace opt(loop);
  EXPECT_EQ(opt.requests(), 1000u);
  EXPECT_EQ(opt.unique_keys(), 100u);
  EXPECT_EQ(opt.hits(100), 900u);  // every non-first request
  EXPECT_EQ(opt.hits(1000), 900u);
  EXPECT_EQ(opt.hits(0), 0u);
  // On a loop longer than the cache, OPT keeps capacity-1 keys resident and loses one
  // more at each pass: far above LRU's zero.
  EXPECT_GT(opt.hits(50), 400u);
  EXPECT_LT(opt.hits(50), 500u);
}

TEST(Synthetic, ZipfIsDeterministicAndSkewed) {
  std::vector<uint64_t> a = zipf_trace(1.0, 1000, 200000, 42);
  EXPECT_EQ(a, zipf_trace(1.0, 1000, 200000, 42));
  EXPECT_NE(a, zipf_trace(1.0, 1000, 200000, 43));
  std::map<uint64_t, size_t> counts;
  for (uint64_t k : a) ++counts[k];
  EXPECT_LE(counts.size(), 1000u);
  size_t top = 0;
  for (auto [k, c] : counts) top = std::max(top, c);
  double harmonic = 0;
  for (int r = 1; r <= 1000; ++r) harmonic += 1.0 / r;
  // P(rank 0) = 1 / H(1000) = 13.4%; 200k draws put it within a fraction of a point.
  EXPECT_NEAR(static_cast<double>(top) / a.size(), 1.0 / harmonic, 0.005);
}

TEST(Synthetic, ScanKeysAreNeverRepeated) {
  std::vector<uint64_t> t = scan_mix_trace(1.0, 100, 30, 20, 1000, 7);
  ASSERT_EQ(t.size(), 1000u);
  std::map<uint64_t, int> counts;
  for (uint64_t k : t) ++counts[k];
  // Blocks of 50 requests: 30 Zipf draws over 100 hot keys, then 20 scan keys.
  int hot_repeats = 0;
  for (size_t i = 0; i < t.size(); ++i) {
    if (i % 50 >= 30) EXPECT_EQ(counts[t[i]], 1) << "scan key at " << i;
    else hot_repeats += counts[t[i]] > 1 ? 1 : 0;
  }
  EXPECT_GT(hot_repeats, 500);
}

TEST(L1Sim, HitsWhatFitsAndMissesALongLoop) {
  L1Sim sim(100, /*lru=*/true);
  for (uint64_t k = 0; k < 50; ++k) EXPECT_FALSE(sim.access(k));
  for (uint64_t k = 0; k < 50; ++k) EXPECT_TRUE(sim.access(k));

  L1Sim small(10, /*lru=*/true);
  int hits = 0;
  for (int pass = 0; pass < 5; ++pass) {
    for (uint64_t k = 0; k < 1000; ++k) hits += small.access(k) ? 1 : 0;
  }
  EXPECT_EQ(hits, 0);  // LRU on a loop longer than the cache
}

}  // namespace
}  // namespace stratacache::bench
