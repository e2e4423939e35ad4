// L1 throughput and memory (issue 4, measurements 2 and 3).
//
// Throughput: 100% read, 75/25 read/write and 100% write on Zipf(1.0)-distributed keys
// (scrambled so hot keys spread over shards), the cache pre-filled with every key, at
// 1, 2, ... threads. Contenders, all returning a reference-counted value so the work
// per hit is comparable:
//   - stratacache MemoryTier, W-TinyLFU and LRU
//   - Cache::get_ref through the facade (mem://), reads only
//   - a std::mutex-protected LRU map (std::list + unordered_map): the common baseline
//   - a sharded hash map with no eviction (64 x shared_mutex + unordered_map): the
//     ceiling any bounded cache with a policy can hope to approach
// Medians of repeated runs; throughput = total ops / wall time.
//
// Memory: bytes per entry beyond key and value for 1M entries (16 B keys, 100 B
// values), measured as the growth of glibc's allocated bytes (mallinfo2: heap + mmap), so it
// includes allocator headers/rounding, hash buckets and the frequency sketch.
//
// Usage: bench_l1 [--threads=1,2,4] [--seconds=0.5] [--repeats=5] [--memory-only]
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <random>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "memory/memory_tier.hpp"
#include "stratacache/cache.hpp"

using namespace stratacache;
using WallClock = std::chrono::steady_clock;

namespace {

constexpr size_t kKeys = 1 << 16;      // key space (all present)
constexpr size_t kCapacity = 1 << 17;  // room for all of them
constexpr size_t kTrace = 1 << 20;     // per-thread precomputed key indexes
using Value = std::shared_ptr<const std::string>;

struct MutexLru {
  std::mutex mu;
  std::list<std::pair<std::string, Value>> lru;  // front = most recent
  std::unordered_map<std::string, std::list<std::pair<std::string, Value>>::iterator> map;
  size_t cap;
  explicit MutexLru(size_t c) : cap(c) {}
  Value get(const std::string& k) {
    std::lock_guard<std::mutex> l(mu);
    auto it = map.find(k);
    if (it == map.end()) return nullptr;
    lru.splice(lru.begin(), lru, it->second);
    return it->second->second;
  }
  void set(const std::string& k, Value v) {
    std::lock_guard<std::mutex> l(mu);
    auto it = map.find(k);
    if (it != map.end()) {
      it->second->second = std::move(v);
      lru.splice(lru.begin(), lru, it->second);
      return;
    }
    lru.emplace_front(k, std::move(v));
    map.emplace(k, lru.begin());
    if (map.size() > cap) {
      map.erase(lru.back().first);
      lru.pop_back();
    }
  }
};

struct ShardedMap {
  struct alignas(64) Shard {
    std::shared_mutex mu;
    std::unordered_map<std::string, Value> map;
  };
  std::vector<Shard> shards = std::vector<Shard>(64);
  Shard& shard(const std::string& k) { return shards[std::hash<std::string>{}(k) >> 58]; }
  Value get(const std::string& k) {
    Shard& s = shard(k);
    std::shared_lock<std::shared_mutex> l(s.mu);
    auto it = s.map.find(k);
    return it == s.map.end() ? nullptr : it->second;
  }
  void set(const std::string& k, Value v) {
    Shard& s = shard(k);
    std::unique_lock<std::shared_mutex> l(s.mu);
    s.map[k] = std::move(v);
  }
};

std::vector<std::string> make_keys(size_t n) {
  std::vector<std::string> keys;
  keys.reserve(n);
  char buf[32];
  for (size_t i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof buf, "k%015zu", i);
    keys.emplace_back(buf);
  }
  return keys;
}

// Zipf(s) ranks over n keys by inverse CDF, scrambled so rank != key order.
std::vector<uint32_t> zipf_trace(size_t n, double s, size_t len, uint64_t seed) {
  std::vector<double> cdf(n);
  double sum = 0;
  for (size_t i = 0; i < n; ++i) cdf[i] = (sum += 1.0 / std::pow(static_cast<double>(i + 1), s));
  std::vector<uint32_t> perm(n);
  for (size_t i = 0; i < n; ++i) perm[i] = static_cast<uint32_t>(i);
  std::mt19937_64 rng(42);
  std::shuffle(perm.begin(), perm.end(), rng);
  std::mt19937_64 r(seed);
  std::uniform_real_distribution<double> u(0, sum);
  std::vector<uint32_t> out(len);
  for (auto& x : out) x = perm[static_cast<size_t>(std::lower_bound(cdf.begin(), cdf.end(), u(r)) - cdf.begin())];
  return out;
}

struct Config {
  std::vector<int> threads{1, 2};
  double seconds = 0.4;
  int repeats = 5;
  bool memory_only = false;
};

// Runs `op(thread, i)` on `threads` threads for about cfg.seconds, once; returns Mops/s.
template <class Op>
double mops_once(const Config& cfg, int threads, Op&& op) {
  std::vector<double> runs;
  for (int r = 0; r < 1; ++r) {
    std::atomic<bool> go{false}, stop{false};
    std::atomic<uint64_t> total{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t) {
      ts.emplace_back([&, t] {
        while (!go.load(std::memory_order_acquire)) {
        }
        uint64_t n = 0;
        size_t i = static_cast<size_t>(t) * 7919;
        while (!stop.load(std::memory_order_relaxed)) {
          for (int k = 0; k < 256; ++k) op(t, i++);
          n += 256;
        }
        total.fetch_add(n);
      });
    }
    auto start = WallClock::now();
    go.store(true, std::memory_order_release);
    std::this_thread::sleep_for(std::chrono::duration<double>(cfg.seconds));
    stop.store(true);
    for (auto& th : ts) th.join();
    double secs = std::chrono::duration<double>(WallClock::now() - start).count();
    runs.push_back(static_cast<double>(total.load()) / secs / 1e6);
  }
  return runs[0];
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void throughput(const Config& cfg) {
  auto keys = make_keys(kKeys);
  std::vector<std::vector<uint32_t>> traces;
  int max_threads = *std::max_element(cfg.threads.begin(), cfg.threads.end());
  for (int t = 0; t < max_threads; ++t) traces.push_back(zipf_trace(kKeys, 1.0, kTrace, 100 + t));
  std::string bytes(100, 'v');
  Value shared = std::make_shared<const std::string>(bytes);

  L1Options o;
  o.max_entries = kCapacity;
  o.max_bytes = size_t(1) << 34;
  MemoryTier tlfu(o);
  o.policy = L1Policy::kLru;
  MemoryTier lru(o);
  MutexLru mlru(kCapacity);
  ShardedMap ceiling;
  auto cache = std::move(Cache::open("mem://?l1_max_entries=131072&default_ttl=0").value());
  for (auto& k : keys) {
    tlfu.set(k, Format::kRaw, bytes, 0);
    lru.set(k, Format::kRaw, bytes, 0);
    mlru.set(k, shared);
    ceiling.set(k, shared);
    (void)cache->set(k, Payload{Format::kRaw, bytes});
  }

  struct Mix {
    const char* name;
    int write_percent;
  };
  const Mix mixes[] = {{"100% read", 0}, {"75% read / 25% write", 25}, {"100% write", 100}};
  std::atomic<size_t> sink{0};
  auto is_write = [](size_t i, int pct) { return pct == 100 || (pct > 0 && (i * 2654435761u >> 7) % 100 < static_cast<size_t>(pct)); };

  std::printf("\nL1 throughput, Mops/s (Zipf 1.0 over %zu keys, 100 B values, median of %d x %.1f s)\n\n", kKeys,
              cfg.repeats, cfg.seconds);
  std::printf("| workload | threads | W-TinyLFU | LRU (ours) | Cache::get_ref | mutex LRU | no-eviction sharded map | W-TinyLFU / ceiling | W-TinyLFU / mutex LRU |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const Mix& mix : mixes) {
    for (int threads : cfg.threads) {
      int pct = mix.write_percent;
      using Op = std::function<void(int, size_t)>;
      auto tier_op = [&](MemoryTier& t) -> Op {
        return [&t, &keys, &traces, &bytes, &sink, pct, is_write](int th, size_t i) {
          const std::string& k = keys[traces[th][i & (kTrace - 1)]];
          if (is_write(i, pct)) t.set(k, Format::kRaw, bytes, 0);
          else sink.fetch_add(t.get(k).size(), std::memory_order_relaxed);
        };
      };
      std::vector<Op> ops = {
          tier_op(tlfu), tier_op(lru),
          [&](int th, size_t i) {
            sink.fetch_add(cache->get_ref(keys[traces[th][i & (kTrace - 1)]])->size(), std::memory_order_relaxed);
          },
          [&, pct](int th, size_t i) {
            const std::string& k = keys[traces[th][i & (kTrace - 1)]];
            if (is_write(i, pct)) mlru.set(k, shared);
            else sink.fetch_add(mlru.get(k)->size(), std::memory_order_relaxed);
          },
          [&, pct](int th, size_t i) {
            const std::string& k = keys[traces[th][i & (kTrace - 1)]];
            if (is_write(i, pct)) ceiling.set(k, shared);
            else sink.fetch_add(ceiling.get(k)->size(), std::memory_order_relaxed);
          }};
      // Repeats interleave the contenders so that drift on the machine hits all alike.
      std::vector<std::vector<double>> runs(ops.size());
      for (int r = 0; r < cfg.repeats; ++r) {
        for (size_t c = 0; c < ops.size(); ++c) {
          if (c == 2 && pct != 0) continue;  // the facade row is reads only
          runs[c].push_back(mops_once(cfg, threads, ops[c]));
        }
      }
      double a = median(runs[0]), b = median(runs[1]), c = pct == 0 ? median(runs[2]) : 0;
      double d = median(runs[3]), e = median(runs[4]);
      char cbuf[32] = "-";
      if (pct == 0) std::snprintf(cbuf, sizeof cbuf, "%.2f", c);
      std::printf("| %s | %d | %.2f | %.2f | %s | %.2f | %.2f | %.0f%% | %.1fx |\n", mix.name, threads, a, b, cbuf, d, e,
                  100 * a / e, a / d);
      std::fflush(stdout);
    }
  }
  if (sink.load() == 42) std::printf(" ");
}

// Bytes allocated from glibc: small chunks in the heap plus large (mmap'ed) blocks.
size_t heap_in_use() {
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

void memory() {
  constexpr size_t n = 1'000'000;
  auto keys = make_keys(n);  // 16-byte keys
  std::string value(100, 'v');
  const double payload = 16.0 + 100.0;
  std::printf("\nL1 memory: bytes per entry beyond key and value (1M entries, 16 B keys, 100 B values; glibc heap growth)\n\n");
  std::printf("| structure | bytes/entry overhead | of which: frequency sketch |\n|---|---:|---:|\n");
  auto tier_row = [&](const char* name, L1Policy policy, int64_t ttl_ms) {
    L1Options o;
    o.max_entries = n;
    o.max_bytes = size_t(1) << 36;
    o.policy = policy;
    size_t before = heap_in_use();
    {
      MemoryTier t(o);
      for (auto& k : keys) t.set(k, Format::kRaw, value, ttl_ms);
      t.cleanup();
      size_t grown = heap_in_use() - before;
      auto s = t.stats();
      std::printf("| %s | %.1f | %.1f |\n", name, static_cast<double>(grown) / n - payload,
                  static_cast<double>(s.sketch_bytes) / n);
      std::printf("|   (its own accounting: stats().bytes) | %.1f | |\n",
                  static_cast<double>(s.bytes - s.payload_bytes) / static_cast<double>(s.entries));
    }
  };
  tier_row("stratacache W-TinyLFU, no TTL", L1Policy::kWTinyLfu, 0);
  tier_row("stratacache W-TinyLFU, with TTL (timer wheel)", L1Policy::kWTinyLfu, 3'600'000);
  tier_row("stratacache LRU, no TTL", L1Policy::kLru, 0);
  {
    size_t before = heap_in_use();
    MutexLru m(n);
    for (auto& k : keys) m.set(k, std::make_shared<const std::string>(value));
    std::printf("| mutex LRU map (std::list + unordered_map + shared_ptr<string>) | %.1f | |\n",
                static_cast<double>(heap_in_use() - before) / n - payload);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--threads=", 0) == 0) {
      cfg.threads.clear();
      std::string list = a.substr(10);
      size_t pos = 0;
      while (pos < list.size()) {
        size_t comma = list.find(',', pos);
        cfg.threads.push_back(std::stoi(list.substr(pos, comma - pos)));
        pos = comma == std::string::npos ? list.size() : comma + 1;
      }
    } else if (a.rfind("--seconds=", 0) == 0) {
      cfg.seconds = std::stod(a.substr(10));
    } else if (a.rfind("--repeats=", 0) == 0) {
      cfg.repeats = std::stoi(a.substr(10));
    } else if (a == "--memory-only") {
      cfg.memory_only = true;
    } else {
      std::fprintf(stderr, "usage: %s [--threads=1,2] [--seconds=0.4] [--repeats=5] [--memory-only]\n", argv[0]);
      return 2;
    }
  }
  std::printf("bench_l1: %u hardware threads\n", std::thread::hardware_concurrency());
  if (!cfg.memory_only) throughput(cfg);
  memory();
  return 0;
}
