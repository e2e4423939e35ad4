// The cost of recording metrics (issue 14): L1 hit ns/op and L2 GET µs through the Cache
// facade, in whichever build this binary belongs to (STRATACACHE_METRICS ON or OFF).
// scripts/bench_metrics.sh builds both, runs them interleaved and prints the table.
//
// - L1 hit: Cache::get_ref of 64 keys in turn on mem:// (one thread), ns per call, the
//   median of --repeats runs of --l1-ops calls each.
// - L2 GET: Cache::get with skip_l1 against a redis-server on a free loopback port
//   started here (one caller, one round trip per call), µs per call, the median of
//   --repeats runs of --l2-ops calls each.
//
// Output: one line per measurement, "l1_hit_ns <median>" and "l2_get_us <median>", then
// the runs ("l1_hit_ns_runs a b c ...").
//
// Usage: bench_metrics [--repeats=7] [--l1-ops=2000000] [--l2-ops=4000]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "l2/bench_util.hpp"
#include "stratacache/cache.hpp"
#include "support/redis_server.hpp"

using namespace stratacache;
using WallClock = std::chrono::steady_clock;

namespace {

int arg_int(int argc, char** argv, const char* name, int fallback) {
  size_t n = std::strlen(name);
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], name, n) == 0 && argv[i][n] == '=') return std::atoi(argv[i] + n + 1);
  }
  return fallback;
}

std::string key(int i) { return "bench:" + std::to_string(i); }

template <typename Op>
double ns_per_op(int ops, Op&& op) {
  auto start = WallClock::now();
  for (int i = 0; i < ops; ++i) op(i);
  return std::chrono::duration<double, std::nano>(WallClock::now() - start).count() / ops;
}

void report(const char* name, const std::vector<double>& runs) {
  std::printf("%s %.3f\n%s_runs", name, bench::median(runs), name);
  for (double r : runs) std::printf(" %.3f", r);
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
  const int repeats = arg_int(argc, argv, "--repeats", 7);
  const int l1_ops = arg_int(argc, argv, "--l1-ops", 2000000);
  const int l2_ops = arg_int(argc, argv, "--l2-ops", 4000);
  Payload value{Format::kRaw, std::string(100, 'v')};

  auto mem = Cache::open("mem://");
  if (!mem) return std::fprintf(stderr, "mem://: %s\n", mem.status().to_string().c_str()), 1;
  std::vector<std::string> keys;
  for (int i = 0; i < 64; ++i) {
    keys.push_back(key(i));
    if (!(*mem)->set(keys.back(), value)) return 1;
  }
  std::vector<double> l1;
  for (int r = 0; r < repeats; ++r) {
    size_t found = 0;
    l1.push_back(ns_per_op(l1_ops, [&](int i) { found += (*mem)->get_ref(keys[i & 63]) ? 1 : 0; }));
    if (found != static_cast<size_t>(l1_ops)) return std::fprintf(stderr, "L1 reads missed\n"), 1;
  }
  report("l1_hit_ns", l1);

  auto server = testing::RedisServer::start();
  auto redis = Cache::open(server->url("", 0, "l1_coherence=off"));
  if (!redis) return std::fprintf(stderr, "redis: %s\n", redis.status().to_string().c_str()), 1;
  for (auto& k : keys) {
    if (!(*redis)->set(k, value)) return std::fprintf(stderr, "redis set failed\n"), 1;
  }
  CallOptions l2_only;
  l2_only.skip_l1 = true;
  for (int i = 0; i < 500; ++i) (void)(*redis)->get(keys[i & 63], l2_only);  // warm the connection
  std::vector<double> l2;
  for (int r = 0; r < repeats; ++r) {
    size_t found = 0;
    l2.push_back(ns_per_op(l2_ops, [&](int i) { found += (*redis)->get(keys[i & 63], l2_only) ? 1 : 0; }) / 1000);
    if (found != static_cast<size_t>(l2_ops)) return std::fprintf(stderr, "L2 reads failed\n"), 1;
  }
  report("l2_get_us", l2);
  return 0;
}
