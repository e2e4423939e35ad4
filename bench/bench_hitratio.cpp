// Hit ratios of stratacache's L1 policies on real and synthetic traces, next to
// Caffeine (the reference W-TinyLFU, replayed by bench/caffeine in a child JVM) and
// Bélády's offline optimum. One markdown table on stdout; progress on stderr.
// See docs/hitratio.md for the traces, the sizes and what each column means.
//
//   bench_hitratio [--traces-dir=DIR] [--cache-dir=DIR] [--caffeine-jar=JAR] [--java=BIN]
//                  [--caffeine-runs=N] [--trace=NAME[,NAME...]] [--sizes=N[,N...]] [--list]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "hitratio/belady.hpp"
#include "hitratio/l1_sim.hpp"
#include "hitratio/synthetic.hpp"
#include "hitratio/trace.hpp"

using namespace stratacache;
using namespace stratacache::bench;
using WallClock = std::chrono::steady_clock;

namespace {

struct Args {
  std::string traces_dir = "/work/shared/traces";
  std::string cache_dir = "build-bench/traces";
  std::string caffeine_jar;
  std::string java = "java";
  int caffeine_runs = 0;          // Caffeine's column is the mean of this many replays; 0: auto
  std::vector<std::string> only;  // name prefixes; empty: every trace
  std::vector<size_t> sizes;      // empty: the per-trace defaults
  bool list = false;
};

struct Workload {
  std::string name;
  std::function<Result<std::vector<uint64_t>>()> load;
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    if (comma > start) out.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

const char* env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

bool parse_args(int argc, char** argv, Args& a) {
  a.traces_dir = env_or("STRATACACHE_TRACES", a.traces_dir.c_str());
  a.caffeine_jar = env_or("CAFFEINE_REPLAY_JAR", "");
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](const char* flag) -> const char* {
      size_t n = std::string(flag).size();
      return arg.compare(0, n, flag) == 0 ? argv[i] + n : nullptr;
    };
    if (const char* v = value("--traces-dir=")) a.traces_dir = v;
    else if (const char* v = value("--cache-dir=")) a.cache_dir = v;
    else if (const char* v = value("--caffeine-jar=")) a.caffeine_jar = v;
    else if (const char* v = value("--java=")) a.java = v;
    else if (const char* v = value("--caffeine-runs=")) a.caffeine_runs = std::max(1, std::atoi(v));
    else if (const char* v = value("--trace=")) a.only = split(v);
    else if (const char* v = value("--sizes=")) {
      for (const std::string& s : split(v)) a.sizes.push_back(std::stoul(s));
    } else if (arg == "--list") a.list = true;
    else {
      std::fprintf(stderr, "unknown argument %s (see the comment at the top of bench_hitratio.cpp)\n", argv[i]);
      return false;
    }
  }
  return true;
}

bool selected(const Args& a, const std::string& name) {
  if (a.only.empty()) return true;
  for (const std::string& p : a.only) {
    if (name.compare(0, p.size(), p) == 0) return true;
  }
  return false;
}

// Rounds to two significant digits, so relative sizes read well.
size_t round2(double x) {
  double scale = 1;
  while (x >= 100 * scale) scale *= 10;
  return static_cast<size_t>(std::max(10.0, std::round(x / scale) * scale));
}

// Published comparisons' sizes where there are some; else fractions of the key count.
std::vector<size_t> default_sizes(const std::string& name, size_t unique) {
  auto starts = [&](const char* p) { return name.rfind(p, 0) == 0; };
  if (name == "arc-OLTP") return {250, 500, 1000, 2000};
  if (starts("arc-P") || starts("arc-S")) return {10000, 50000, 100000};
  if (starts("lirs-")) return {100, 250, 500, 1000};
  if (starts("zipf-")) return {1000, 10000, 50000};
  if (starts("scan-mix")) return {1000, 5000, 10000};
  return {round2(unique * 0.005), round2(unique * 0.02), round2(unique * 0.1)};
}

std::vector<Workload> workloads(const Args& a) {
  std::vector<Workload> out;
  for (const TraceFile& t : find_traces(a.traces_dir)) {
    out.push_back({t.name, [t, dir = a.cache_dir] { return load_trace(t, dir); }});
  }
  for (double s : {0.8, 1.0, 1.2}) {
    char name[32];
    std::snprintf(name, sizeof name, "zipf-%.1f", s);
    out.push_back({name, [s] { return Result<std::vector<uint64_t>>(zipf_trace(s, 250000, 2000000, 42)); }});
  }
  // A third of the requests are one-off scan keys, in 20k-key runs: longer than every
  // cache size used, so an LRU loses its hot set on each scan.
  out.push_back({"scan-mix", [] {
                   return Result<std::vector<uint64_t>>(scan_mix_trace(1.0, 100000, 40000, 20000, 2400000, 7));
                 }});
  return out;
}

// The Caffeine replay, running in a child JVM while this process simulates.
class CaffeineRun {
 public:
  // Without --caffeine-runs: 3 replays of traces under 2M requests, where Caffeine's
  // random admissions move the ratio by up to a point, and 1 of the long ones.
  CaffeineRun(const Args& a, const std::string& trace_path, size_t requests, const std::vector<size_t>& sizes) {
    if (a.caffeine_jar.empty()) return;
    int runs = a.caffeine_runs > 0 ? a.caffeine_runs : requests < 2000000 ? 3 : 1;
    std::string list;
    for (size_t s : sizes) list += (list.empty() ? "" : ",") + std::to_string(s);
    std::string cmd = a.java + " -XX:+UseSerialGC -jar '" + a.caffeine_jar + "' '" + trace_path + "' " + list + " " +
                      std::to_string(runs);
    pipe_ = popen(cmd.c_str(), "r");
    if (pipe_ == nullptr) std::fprintf(stderr, "cannot run %s\n", cmd.c_str());
  }
  ~CaffeineRun() {
    if (pipe_ != nullptr) pclose(pipe_);
  }
  // size -> hit ratio (0..1); empty when there is no jar or the child failed.
  std::map<size_t, double> wait() {
    std::map<size_t, double> ratios;
    if (pipe_ == nullptr) return ratios;
    char line[256];
    while (std::fgets(line, sizeof line, pipe_) != nullptr) {
      unsigned long long size, requests, hits;
      double ratio;
      if (std::sscanf(line, "%llu,%llu,%llu,%lf", &size, &requests, &hits, &ratio) == 4) ratios[size] = ratio;
    }
    int rc = pclose(pipe_);
    pipe_ = nullptr;
    if (rc != 0) {
      std::fprintf(stderr, "caffeine replay failed (status %d)\n", rc);
      ratios.clear();
    }
    return ratios;
  }

 private:
  FILE* pipe_ = nullptr;
};

double l1_hit_ratio(const std::vector<uint64_t>& keys, size_t capacity, bool lru, bool java_hash = false) {
  L1Sim sim(capacity, lru, java_hash);
  uint64_t hits = 0;
  for (uint64_t k : keys) hits += sim.access(k) ? 1 : 0;
  return keys.empty() ? 0.0 : static_cast<double>(hits) / keys.size();
}

double seconds_since(WallClock::time_point start) {
  return std::chrono::duration<double>(WallClock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!parse_args(argc, argv, args)) return 2;
  std::vector<Workload> all = workloads(args);
  if (args.list) {
    for (const Workload& w : all) std::printf("%s\n", w.name.c_str());
    return 0;
  }

  if (std::none_of(all.begin(), all.end(), [&](const Workload& w) { return selected(args, w.name); })) {
    std::fprintf(stderr, "no trace matches --trace (see --list)\n");
    return 2;
  }
  const char* tlfu = L1Sim::kWTinyLfuAvailable ? "W-TinyLFU %" : "W-TinyLFU* %";
  std::printf("| trace | requests | unique keys | size | %s | LRU %% | Caffeine %% | OPT %% | W-TinyLFU - Caffeine (pts) "
              "| W-TinyLFU - LRU (pts) | W-TinyLFU, Caffeine's key hash %% | that - Caffeine (pts) |\n", tlfu);
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  std::fflush(stdout);

  auto start = WallClock::now();
  int failures = 0;
  for (const Workload& w : all) {
    if (!selected(args, w.name)) continue;
    auto trace_start = WallClock::now();
    Result<std::vector<uint64_t>> keys = w.load();
    if (!keys) {
      std::fprintf(stderr, "%s: %s\n", w.name.c_str(), keys.status().to_string().c_str());
      ++failures;
      continue;
    }
    std::string path = cached_path(args.cache_dir, w.name);
    if (w.name.rfind("zipf-", 0) == 0 || w.name == "scan-mix") {
      if (Status st = write_u64(path, *keys); !st) std::fprintf(stderr, "%s\n", st.to_string().c_str());
    }
    BeladyTrace opt(*keys);
    std::vector<size_t> sizes = args.sizes.empty() ? default_sizes(w.name, opt.unique_keys()) : args.sizes;
    CaffeineRun caffeine(args, path, keys->size(), sizes);

    struct Row { size_t size; double tlfu, lru, opt, tlfu_java; };
    std::vector<Row> rows;
    for (size_t size : sizes) {
      rows.push_back({size, l1_hit_ratio(*keys, size, false), l1_hit_ratio(*keys, size, true),
                      keys->empty() ? 0.0 : static_cast<double>(opt.hits(size)) / keys->size(),
                      l1_hit_ratio(*keys, size, false, true)});
    }
    std::map<size_t, double> caf = caffeine.wait();
    for (const Row& r : rows) {
      char caf_cell[32] = "-", delta_cell[32] = "-", java_delta_cell[32] = "-";
      if (auto it = caf.find(r.size); it != caf.end()) {
        std::snprintf(caf_cell, sizeof caf_cell, "%.2f", 100 * it->second);
        std::snprintf(delta_cell, sizeof delta_cell, "%+.2f", 100 * (r.tlfu - it->second));
        std::snprintf(java_delta_cell, sizeof java_delta_cell, "%+.2f", 100 * (r.tlfu_java - it->second));
      }
      std::printf("| %s | %zu | %zu | %zu | %.2f | %.2f | %s | %.2f | %s | %+.2f | %.2f | %s |\n", w.name.c_str(),
                  keys->size(), opt.unique_keys(), r.size, 100 * r.tlfu, 100 * r.lru, caf_cell, 100 * r.opt, delta_cell,
                  100 * (r.tlfu - r.lru), 100 * r.tlfu_java, java_delta_cell);
    }
    std::fflush(stdout);
    std::fprintf(stderr, "%s: %.1f s\n", w.name.c_str(), seconds_since(trace_start));
  }
  if (!L1Sim::kWTinyLfuAvailable) std::printf("\n\\* L1 v0 is LRU only: this column is LRU until W-TinyLFU lands.\n");
  std::printf("\nTotal: %.0f s\n", seconds_since(start));
  return failures == 0 ? 0 : 1;
}
