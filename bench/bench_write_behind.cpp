// Write-behind vs write-through with a slow store (docs/write-behind.md). Prints a
// markdown table; each row is the median of --repeats runs, all rows in this one
// process on the same cache (mem:// and a redis-server started here).
//
//   bench_write_behind [--writes N] [--store-ms MS] [--repeats R]
//   (defaults 2000 writes, a 1 ms store write, 5 repeats)
//
// The store is a sleep of --store-ms per writer call (a database round trip).
// Rows: write-through (the store, then the cache, on the caller's thread: the anchor);
// write-behind with 1, 4 and 16 workers on distinct keys (no coalescing); write-behind
// with 1 worker on a hot-key workload (the writes spread over 10 keys: coalescing).
// Columns: caller writes/s (how fast set() returns), store-complete writes/s (until
// flush() returned: the store holds everything), store calls, coalesced writes.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "stratacache/cache.hpp"
#include "stratacache/write_behind.hpp"
#include "support/redis_server.hpp"

using namespace stratacache;
using Steady = std::chrono::steady_clock;

namespace {

struct Settings {
  int writes = 2000;
  double store_ms = 1.0;
  int repeats = 5;
};

struct Sample {
  double caller_rate = 0, complete_rate = 0;
  uint64_t store_calls = 0, coalesced = 0;
};

double seconds_since(Steady::time_point t0) { return std::chrono::duration<double>(Steady::now() - t0).count(); }

Writer slow_store(const Settings& st, std::atomic<uint64_t>* calls) {
  auto d = std::chrono::microseconds(static_cast<int64_t>(st.store_ms * 1000));
  return [d, calls](const WriteOp&) {
    std::this_thread::sleep_for(d);
    calls->fetch_add(1, std::memory_order_relaxed);
    return Status::ok();
  };
}

std::string key_of(int i, int keys) { return "wb:" + std::to_string(keys ? i % keys : i); }

Sample write_through_run(Cache& cache, const Settings& st) {
  std::atomic<uint64_t> calls{0};
  Writer w = slow_store(st, &calls);
  Payload v{Format::kRaw, std::string(100, 'x')};
  auto t0 = Steady::now();
  for (int i = 0; i < st.writes; ++i) {
    if (!write_through(cache, key_of(i, 0), v, w, {})) std::fprintf(stderr, "write-through failed\n");
  }
  double s = seconds_since(t0);
  return {st.writes / s, st.writes / s, calls.load(), 0};
}

Sample write_behind_run(Cache& cache, const Settings& st, int workers, int keys) {
  std::atomic<uint64_t> calls{0};
  WriteBehindOptions o;
  o.workers = workers;
  o.max_pending = static_cast<size_t>(st.writes) + 1;
  auto wb = WriteBehind::open(cache, slow_store(st, &calls), o);
  if (!wb) {
    std::fprintf(stderr, "%s\n", wb.status().to_string().c_str());
    std::exit(1);
  }
  Payload v{Format::kRaw, std::string(100, 'x')};
  auto t0 = Steady::now();
  for (int i = 0; i < st.writes; ++i) {
    if (!(*wb)->write(key_of(i, keys), v, {})) std::fprintf(stderr, "write-behind refused a write\n");
  }
  double caller = seconds_since(t0);
  if (!(*wb)->flush(Millis(600000))) std::fprintf(stderr, "flush timed out\n");
  double complete = seconds_since(t0);
  auto stats = (*wb)->stats();
  (void)(*wb)->close(Millis(1000));
  return {st.writes / caller, st.writes / complete, calls.load(), stats.coalesced};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

template <typename Run>
Sample median_of(const Settings& st, Run run) {
  std::vector<double> caller, complete, calls, coalesced;
  for (int r = 0; r < st.repeats; ++r) {
    Sample s = run();
    caller.push_back(s.caller_rate);
    complete.push_back(s.complete_rate);
    calls.push_back(static_cast<double>(s.store_calls));
    coalesced.push_back(static_cast<double>(s.coalesced));
  }
  return {median(caller), median(complete), static_cast<uint64_t>(median(calls)),
          static_cast<uint64_t>(median(coalesced))};
}

void rows(const char* backend, Cache& cache, const Settings& st) {
  auto print = [&](const char* what, const Sample& s) {
    std::printf("| %s | %s | %.0f | %.0f | %llu | %llu |\n", backend, what, s.caller_rate, s.complete_rate,
                static_cast<unsigned long long>(s.store_calls), static_cast<unsigned long long>(s.coalesced));
    std::fflush(stdout);
  };
  print("write-through (anchor)", median_of(st, [&] { return write_through_run(cache, st); }));
  for (int workers : {1, 4, 16}) {
    std::string what = "write-behind, " + std::to_string(workers) + " worker" + (workers > 1 ? "s" : "") +
                       ", distinct keys";
    print(what.c_str(), median_of(st, [&] { return write_behind_run(cache, st, workers, 0); }));
  }
  print("write-behind, 1 worker, 10 hot keys", median_of(st, [&] { return write_behind_run(cache, st, 1, 10); }));
}

}  // namespace

int main(int argc, char** argv) {
  Settings st;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--writes")) st.writes = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--store-ms")) st.store_ms = std::atof(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--repeats")) st.repeats = std::atoi(argv[i + 1]);
  }
  std::printf("%d writes of 100 bytes, store write %.1f ms, median of %d runs\n\n", st.writes, st.store_ms,
              st.repeats);
  std::printf("| cache | pattern | caller writes/s | store-complete writes/s | store calls | coalesced |\n");
  std::printf("|---|---|---:|---:|---:|---:|\n");
  {
    auto mem = Cache::open("mem://?l1_max_entries=100000");
    if (!mem) return 1;
    rows("mem://", **mem, st);
  }
  auto server = testing::RedisServer::start();
  auto redis = Cache::open(server->url());
  if (!redis) {
    std::fprintf(stderr, "%s\n", redis.status().to_string().c_str());
    return 1;
  }
  rows("Redis", **redis, st);
  return 0;
}
