// Read-through hit path (docs/read-through.md): what get_or_load costs over a plain get
// when the value is in L1 and fresh (the bound: within 10 %). Prints a markdown
// table; every row is the median of interleaved samples measured in this one process.
//
//   bench_read_through [--seconds S] [--repeats R] [--keys K]
//   (defaults 0.5 s per sample, 9 repeats, 10000 keys)
//
// mem:// (no Redis: the hit path does not touch it). Rows: get_ref (the baseline),
// get_or_load (callback form), acquire (lease form), get_or_load with early_refresh = 1
// on entries with a stale period (the XFetch draw on every hit).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "stratacache/cache.hpp"

using namespace stratacache;
using Clock = std::chrono::steady_clock;

namespace {

struct Settings {
  double seconds = 0.5;
  int repeats = 9;
  size_t keys = 10000;
};

// Calls per second of `op(i)` over `seconds`.
double rate(double seconds, size_t keys, const std::function<bool(size_t)>& op) {
  size_t n = 0, bad = 0;
  auto until = Clock::now() + std::chrono::duration<double>(seconds);
  auto t0 = Clock::now();
  while (Clock::now() < until) {
    for (int j = 0; j < 1024; ++j, ++n) bad += op(n % keys) ? 0 : 1;
  }
  double s = std::chrono::duration<double>(Clock::now() - t0).count();
  if (bad) std::fprintf(stderr, "warning: %zu calls missed\n", bad);
  return static_cast<double>(n) / s;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  Settings st;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--seconds")) st.seconds = std::atof(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--repeats")) st.repeats = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--keys")) st.keys = std::strtoull(argv[i + 1], nullptr, 10);
  }
  auto opened = Cache::open("mem://?l1_max_entries=1000000");
  if (!opened) {
    std::fprintf(stderr, "%s\n", opened.status().to_string().c_str());
    return 1;
  }
  Cache& c = **opened;
  std::vector<std::string> plain, loaded, staled;
  Loader never = [](std::string_view) -> Result<LoadedValue> { return Status(StatusCode::kInternal, "not a hit"); };
  LoadOptions fresh;
  fresh.ttl_ms = 3600 * 1000;
  LoadOptions early = fresh;
  early.stale_ttl_ms = 60000;
  early.early_refresh = 1.0;
  Loader value = [](std::string_view) -> Result<LoadedValue> { return LoadedValue{Payload{Format::kRaw, "value-0123456789"}, -1}; };
  for (size_t i = 0; i < st.keys; ++i) {
    plain.push_back("p" + std::to_string(i));
    loaded.push_back("l" + std::to_string(i));
    staled.push_back("s" + std::to_string(i));
    (void)c.set(plain.back(), Payload{Format::kRaw, "value-0123456789"});
    (void)c.get_or_load(loaded.back(), value, fresh);
    (void)c.get_or_load(staled.back(), value, early);
  }
  struct Row {
    const char* name;
    std::function<bool(size_t)> op;
    std::vector<double> rates;
  };
  std::vector<Row> rows = {
      {"get_ref (baseline)", [&](size_t i) { return c.get_ref(plain[i]).is_ok(); }, {}},
      {"get_or_load", [&](size_t i) { return c.get_or_load(loaded[i], never, fresh).is_ok(); }, {}},
      {"acquire (lease form)", [&](size_t i) { return c.acquire(loaded[i], fresh).value.is_ok(); }, {}},
      {"get_or_load, stale_ttl + early_refresh=1", [&](size_t i) { return c.get_or_load(staled[i], never, early).is_ok(); }, {}},
  };
  for (int r = 0; r < st.repeats; ++r) {
    for (auto& row : rows) row.rates.push_back(rate(st.seconds, st.keys, row.op));
  }
  double base = median(rows[0].rates);
  std::printf("| L1 hit, 1 thread, %zu keys | ns/call | time vs get_ref |\n|---|---:|---:|\n", st.keys);
  for (auto& row : rows) {
    double m = median(row.rates);
    std::printf("| %s | %.1f | %.3fx |\n", row.name, 1e9 / m, base / m);
  }
  auto s = c.stats().read_through;
  std::printf("\n(loads %llu: one per key at set-up, none while measuring if the hit path holds)\n",
              static_cast<unsigned long long>(s.loads));
  return 0;
}
