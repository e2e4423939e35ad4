#include "l2/bench_util.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>

namespace stratacache::bench {

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double redis_benchmark_rps(const RedisBenchmarkRun& run) {
  std::string cmd = "redis-benchmark -h 127.0.0.1 -p " + std::to_string(run.port) + " -t " + run.test + " -c " +
                    std::to_string(run.clients) + " -P " + std::to_string(run.pipeline) + " -n " +
                    std::to_string(run.requests) + " -d " + std::to_string(run.value_size) + " --csv " +
                    run.extra_args + " 2>/dev/null";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return -1;
  std::string out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  ::pclose(p);
  // "test","rps",...  then  "GET","390624.97",...
  std::string row = "\n\"";
  for (auto& c : run.test) row += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  row += "\",\"";
  size_t at = out.find(row);
  if (at == std::string::npos) return -1;
  double rps = std::atof(out.c_str() + at + row.size());
  return rps > 0 ? rps : -1;
}

void calibrate(RedisBenchmarkRun& run, double seconds) {
  RedisBenchmarkRun probe = run;
  probe.requests = std::max(1000L, static_cast<long>(run.clients) * run.pipeline * 200);
  double rps = redis_benchmark_rps(probe);
  if (rps > 0) run.requests = std::max(probe.requests, static_cast<long>(rps * seconds));
}

std::string machine_note() {
  std::string load = "?";
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  if (in >> a >> b >> c) load = a + " " + b + " " + c;
  return std::to_string(std::thread::hardware_concurrency()) + " hardware threads, load average " + load +
         " (1/5/15 min)";
}

}  // namespace stratacache::bench
