#include "l2/bench_util.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cctype>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace stratacache::bench {

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[std::min(v.size(), std::max<size_t>(rank, 1)) - 1];
}

double run_callers(int threads, double seconds, const std::function<std::string(int)>& op) {
  struct alignas(64) Count {
    uint64_t ops = 0;
  };
  std::vector<Count> counts(threads);
  std::mutex mu;
  std::condition_variable cv;
  int ready = 0;
  bool go = false;
  std::atomic<bool> stop{false};
  std::string error;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      {
        std::unique_lock<std::mutex> lock(mu);
        ++ready;
        cv.notify_all();
        cv.wait(lock, [&] { return go; });
      }
      uint64_t n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        std::string e = op(t);
        if (!e.empty()) {
          std::lock_guard<std::mutex> lock(mu);
          if (error.empty()) error = e;
          stop = true;
          break;
        }
        ++n;
      }
      counts[t].ops = n;
    });
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return ready == threads; });
    go = true;
  }
  cv.notify_all();
  auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& th : pool) th.join();
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!error.empty()) throw std::runtime_error(error);
  uint64_t total = 0;
  for (auto& c : counts) total += c.ops;
  return total / elapsed;
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
