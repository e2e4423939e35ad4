// Every Cache operation through its synchronous and its asynchronous form, on one
// redis-server: the request path is one, so the asynchronous form should cost no more
// per call and, with many calls in flight from one thread, be pipelined.
//
//   bench_l2_ops [--seconds S] [--repeats R] [--inflight N]
//   (defaults 0.3 s per sample, 7 repeats, 64 in flight)
//
// Columns, ops/s (median of the repeats, L1 skipped so that every call reaches Redis):
//   sync 1 thread     one thread calling the operation in a loop (one round trip each)
//   async 1 in flight one thread, submit, wait for the completion, repeat: the cost of
//                     the asynchronous path for a lone caller (vs sync: same round trip)
//   async N in flight one thread keeping N calls in flight: auto-pipelining
// Each repeat samples every contender of an operation once, in a rotated order.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "l2/bench_util.hpp"
#include "stratacache/cache.hpp"
#include "support/redis_server.hpp"

using namespace stratacache;
using Clock = std::chrono::steady_clock;

namespace {

struct Settings {
  double seconds = 0.3;
  int repeats = 7;
  int inflight = 64;
};

// Submits op(done) keeping `inflight` calls outstanding for `seconds`; returns ops/s.
double run_async(const std::function<void(std::function<void()>)>& op, int inflight, double seconds) {
  std::mutex mu;
  std::condition_variable cv;
  int outstanding = 0;
  long completed = 0;
  auto start = Clock::now();
  auto stop = start + std::chrono::duration<double>(seconds);
  std::unique_lock<std::mutex> lock(mu);
  while (Clock::now() < stop) {
    while (outstanding >= inflight) cv.wait(lock);
    ++outstanding;
    lock.unlock();
    op([&] {
      std::lock_guard<std::mutex> g(mu);
      --outstanding;
      ++completed;
      cv.notify_one();
    });
    lock.lock();
  }
  while (outstanding > 0) cv.wait(lock);
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  return static_cast<double>(completed) / elapsed;
}

double run_sync(const std::function<void()>& op, double seconds) {
  long n = 0;
  auto start = Clock::now();
  auto stop = start + std::chrono::duration<double>(seconds);
  while (Clock::now() < stop) {
    for (int i = 0; i < 16; ++i) op();
    n += 16;
  }
  return static_cast<double>(n) / std::chrono::duration<double>(Clock::now() - start).count();
}

struct Op {
  std::string name;
  std::function<void()> sync;
  std::function<void(std::function<void()>)> async;
};

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--seconds") s.seconds = std::atof(argv[i + 1]);
    else if (a == "--repeats") s.repeats = std::atoi(argv[i + 1]);
    else if (a == "--inflight") s.inflight = std::atoi(argv[i + 1]);
  }
  auto server = testing::RedisServer::start();
  auto opened = Cache::open(server->url());
  if (!opened) {
    std::fprintf(stderr, "open: %s\n", opened.status().to_string().c_str());
    return 1;
  }
  Cache& c = **opened;
  CallOptions call;
  call.skip_l1 = true;
  const Payload value{Format::kRaw, std::string(64, 'v')};
  std::vector<std::string> ten;
  std::vector<std::pair<std::string, Payload>> ten_items;
  for (int i = 0; i < 10; ++i) {
    ten.push_back("m:" + std::to_string(i));
    ten_items.emplace_back(ten.back(), value);
  }
  for (int i = 0; i < 100; ++i) (void)c.set("fill:" + std::to_string(i), value, call);  // for clear_pattern's SCAN
  (void)c.set("k", value, call);
  (void)c.mset(ten_items, call);

  auto check = [](bool ok, const char* what) {
    if (!ok) {
      std::fprintf(stderr, "%s failed\n", what);
      std::exit(1);
    }
  };
  std::vector<Op> ops = {
      {"get (64 B)", [&] { check(c.get_ref("k", call).is_ok(), "get"); },
       [&](std::function<void()> d) { c.get_async("k", call, [d](Result<ValueRef>) { d(); }); }},
      {"set (64 B)", [&] { check(c.set("k", value, call).is_ok(), "set"); },
       [&](std::function<void()> d) { c.set_async("k", value, call, [d](Status) { d(); }); }},
      {"delete (1 key, missing)", [&] { check(c.del("gone", call).is_ok(), "del"); },
       [&](std::function<void()> d) { c.del_async({"gone"}, call, [d](Result<int64_t>) { d(); }); }},
      {"exists", [&] { check(c.exists("k", call).is_ok(), "exists"); },
       [&](std::function<void()> d) { c.exists_async("k", call, [d](Result<bool>) { d(); }); }},
      {"ttl", [&] { check(c.ttl_ms("k", call).is_ok(), "ttl"); },
       [&](std::function<void()> d) { c.ttl_ms_async("k", call, [d](Result<int64_t>) { d(); }); }},
      {"increment", [&] { check(c.increment("n", 1, call).is_ok(), "increment"); },
       [&](std::function<void()> d) { c.increment_async("n", 1, call, [d](Result<int64_t>) { d(); }); }},
      {"mget (10 keys)", [&] { check(c.mget(ten, call)[0].is_ok(), "mget"); },
       [&](std::function<void()> d) { c.mget_async(ten, call, [d](std::vector<Result<Payload>>) { d(); }); }},
      {"mset (10 keys)", [&] { check(c.mset(ten_items, call).is_ok(), "mset"); },
       [&](std::function<void()> d) { c.mset_async(ten_items, call, [d](Status) { d(); }); }},
      {"clear_pattern (SCAN of 112 keys)", [&] { check(c.clear_pattern("none:*", call).is_ok(), "clear_pattern"); },
       [&](std::function<void()> d) { c.clear_pattern_async("none:*", call, [d](Result<int64_t>) { d(); }); }},
      {"health (PING + INFO)", [&] { check(c.health(call).healthy, "health"); },
       [&](std::function<void()> d) { c.health_async(call, [d](HealthInfo) { d(); }); }},
  };

  std::printf("%s\n\n", bench::machine_note().c_str());
  std::printf("| operation | sync, 1 thread | async, 1 in flight | async, %d in flight | async %d / sync |\n",
              s.inflight, s.inflight);
  std::printf("|---|---:|---:|---:|---:|\n");
  for (const Op& op : ops) {
    std::vector<double> sync, async1, asyncn;
    for (int r = 0; r < s.repeats; ++r) {
      for (int k = 0; k < 3; ++k) {
        switch ((k + r) % 3) {
          case 0: sync.push_back(run_sync(op.sync, s.seconds)); break;
          case 1: async1.push_back(run_async(op.async, 1, s.seconds)); break;
          default: asyncn.push_back(run_async(op.async, s.inflight, s.seconds)); break;
        }
      }
    }
    double ms = bench::median(sync), m1 = bench::median(async1), mn = bench::median(asyncn);
    std::printf("| %s | %.0f | %.0f | %.0f | %.1fx |\n", op.name.c_str(), ms, m1, mn, mn / ms);
    std::fflush(stdout);
  }
  return 0;
}
