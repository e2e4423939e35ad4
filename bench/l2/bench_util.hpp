// Helpers shared by the L2 benchmarks (bench_l2, bench_l2_concurrent, bench_coherence):
// medians, percentiles, timed runs of many callers and redis-benchmark runs, so every
// table measures its reference the same way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace stratacache::bench {

double median(std::vector<double> v);
// Nearest-rank quantile, q in [0, 1] (0.99 of 1000 samples: the 990th smallest).
double percentile(std::vector<double> v, double q);

// Ops/s of `threads` callers, each calling op(thread index) in a loop for `seconds`.
// op returns an empty string on success, else what went wrong; the run then stops and
// throws std::runtime_error (a number measured with failing calls would mean nothing).
double run_callers(int threads, double seconds, const std::function<std::string(int)>& op);

// One redis-benchmark invocation: `-t test -c clients -P pipeline -n requests -d value_size`.
struct RedisBenchmarkRun {
  uint16_t port = 0;
  std::string test = "get";  // get | set
  int clients = 1;
  int pipeline = 1;
  long requests = 100000;
  size_t value_size = 64;
  std::string extra_args;  // e.g. "--tls --cacert ca.pem", "--cluster"
};

// Requests per second that redis-benchmark (from PATH) reports with --csv; -1 when it
// could not run or printed no result.
double redis_benchmark_rps(const RedisBenchmarkRun& run);

// Sets run.requests so that one run of it takes about `seconds` (measured with one
// short run first): the tiers' duration-based samples and redis-benchmark's
// request-count-based ones then cover similar stretches of a noisy machine.
void calibrate(RedisBenchmarkRun& run, double seconds);

// "N hardware threads, load average a b c (1/5/15 min)": printed with the tables, since
// numbers from a shared machine mean little without it.
std::string machine_note();

}  // namespace stratacache::bench
