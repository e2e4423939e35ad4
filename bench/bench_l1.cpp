// L1 hit latency: the tier itself, through the C++ facade, and a mutex-guarded
// std::unordered_map as the baseline, 1 and 2 threads. Medians of repeated runs.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "memory/memory_tier.hpp"
#include "stratacache/cache.hpp"

using namespace stratacache;
using WallClock = std::chrono::steady_clock;

namespace {

constexpr int kKeys = 10000;
constexpr int kOps = 2'000'000;
constexpr int kRepeats = 7;

std::vector<std::string> make_keys() {
  std::vector<std::string> keys;
  for (int i = 0; i < kKeys; ++i) keys.push_back("user:profile:" + std::to_string(i));
  return keys;
}

template <typename F>
double ns_per_op(int threads, F&& op) {
  std::vector<double> runs;
  for (int r = 0; r < kRepeats; ++r) {
    std::vector<std::thread> ts;
    auto start = WallClock::now();
    for (int t = 0; t < threads; ++t) {
      ts.emplace_back([&, t] {
        unsigned x = 12345u + static_cast<unsigned>(t) * 7919u;
        for (int i = 0; i < kOps / threads; ++i) {
          x = x * 1103515245u + 12345u;
          op((x >> 8) % kKeys);
        }
      });
    }
    for (auto& th : ts) th.join();
    double ns = std::chrono::duration<double, std::nano>(WallClock::now() - start).count();
    runs.push_back(ns / kOps);  // wall time per op across all threads
  }
  std::sort(runs.begin(), runs.end());
  return runs[runs.size() / 2];
}

}  // namespace

int main() {
  auto keys = make_keys();
  auto value = std::make_shared<const Payload>(Payload{Format::kMsgPack, std::string(200, 'v')});

  std::mutex mu;
  std::unordered_map<std::string, std::shared_ptr<const Payload>> baseline;
  for (auto& k : keys) baseline[k] = value;

  L1Options l1;
  l1.max_entries = kKeys * 2;
  MemoryTier tier(l1);
  for (auto& k : keys) tier.set(k, value, 0);

  auto cache = std::move(Cache::open("mem://?l1_max_entries=100000").value());
  for (auto& k : keys) (void)cache->set(k, *value);

  std::printf("| L1 get hit (%d keys, 200 B values, uniform) | 1 thread ns/op | 2 threads ns/op (wall) |\n", kKeys);
  std::printf("|---|---:|---:|\n");
  auto row = [&](const char* name, auto&& op) {
    double one = ns_per_op(1, op), two = ns_per_op(2, op);
    std::printf("| %s | %.1f | %.1f |\n", name, one, two);
  };
  volatile size_t sink = 0;
  row("baseline: std::mutex + unordered_map<string, shared_ptr>", [&](int i) {
    std::lock_guard<std::mutex> lock(mu);
    sink = sink + baseline.find(keys[i])->second->data.size();
  });
  row("MemoryTier::get (sharded LRU v0)", [&](int i) { sink = sink + tier.get(keys[i])->data.size(); });
  row("Cache::get_shared (facade, mem://)", [&](int i) { sink = sink + (*cache->get_shared(keys[i]))->data.size(); });
  row("Cache::get (facade, copies the value)", [&](int i) { sink = sink + cache->get(keys[i])->data.size(); });
  return sink == 42 ? 1 : 0;
}
