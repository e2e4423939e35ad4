// Many concurrent callers on the L2 tier: ops/s of T threads (default 64) sharing one
// tier, next to redis-benchmark with as many clients, on the same redis-server(s).
// Prints markdown tables of medians.
//
//   bench_l2_concurrent [--threads T] [--seconds S] [--repeats R] [--no-cluster]
//   (defaults 64 threads, 0.5 s per sample, 11 repeats: many short samples give a
//   steadier median than a few long ones on a machine with bursty neighbours)
//
// Starts its own servers on free loopback ports (the tests' fixtures): one standalone
// redis-server and, unless --no-cluster, a 3-master Redis Cluster without replicas.
//
// Table 1, standalone, GET and SET of a 64 B and a 1 KiB value, one key:
//   RedisTier, max_connections=M  T std::threads calling RedisTier::get_value (a plain
//                                 GET) or RedisTier::set on one shared tier, for S
//                                 seconds; M=10 is the default pool, M=T one connection
//                                 per caller
//   redis-benchmark -c T -P 1|16  -t get|set -d SIZE --csv, -n calibrated to last about
//                                 S seconds; -P 16 pipelines 16 requests per client
// Table 2, GET of the same sizes through the tier built from a URL (make_redis_tier:
// RemoteTier::get, i.e. GET+PTTL in one round trip), T threads over 64 keys spread
// over the slots: redis+cluster:// (3 masters, max_connections per node) vs redis://
// on the standalone server, plus redis-benchmark (--cluster) for reference.
//
// Each repeat samples every contender of a case once, in an order rotated per repeat,
// so load drift on a shared machine hits all alike; tables give the median and the
// range of the repeats.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "l2/bench_util.hpp"
#include "redis/redis_tier.hpp"
#include "remote_tier.hpp"
#include "stratacache/options.hpp"
#include "support/redis_server.hpp"

using namespace stratacache;
using Clock = std::chrono::steady_clock;
using testing::RedisCluster;
using testing::RedisServer;

namespace {

struct Settings {
  int threads = 64;
  double seconds = 0.5;
  int repeats = 11;
  bool cluster = true;
};

Deadline call_deadline() { return Deadline::after(std::chrono::milliseconds(5000)); }

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "bench_l2_concurrent: %s\n", what.c_str());
  std::exit(1);
}

std::string check(const Status& s) { return s.is_ok() ? "" : s.to_string(); }

std::string check_value(const Result<std::string>& r, size_t size) {
  if (!r.is_ok()) return r.status().to_string();
  return r->size() == size ? "" : "GET returned " + std::to_string(r->size()) + " bytes, not " + std::to_string(size);
}

std::string check_entry(const Result<RemoteEntry>& r, size_t size) {
  if (!r.is_ok()) return r.status().to_string();
  return r->value.size() == size ? ""
                                 : "GET returned " + std::to_string(r->value.size()) + " bytes, not " +
                                       std::to_string(size);
}

// Ops/s of the asynchronous API with `window` requests in flight, kept full from the
// completions (which run on the tier's I/O thread): no thread per caller.
double run_async_window(redis::RedisTier* tier, int window, double seconds, bool get, const std::string& key,
                        const std::string& value) {
  std::atomic<uint64_t> ops{0};
  std::atomic<bool> stop{false};
  std::atomic<int> live{window};
  std::mutex mu;
  std::condition_variable cv;
  std::string error;
  std::function<void()> submit;
  auto done = [&](const std::string& e) {
    if (!e.empty()) {
      std::lock_guard<std::mutex> lock(mu);
      if (error.empty()) error = e;
      stop = true;
    } else {
      ops.fetch_add(1, std::memory_order_relaxed);
    }
    if (stop.load(std::memory_order_relaxed)) {
      if (live.fetch_sub(1) == 1) {
        std::lock_guard<std::mutex> lock(mu);
        cv.notify_all();
      }
      return;
    }
    submit();
  };
  submit = [&] {
    if (get) {
      tier->get_async(key, call_deadline(), [&](Result<RemoteEntry> r) { done(check_entry(r, value.size())); });
    } else {
      tier->set_async(key, value, 0, call_deadline(), [&](Status s) { done(check(s)); });
    }
  };
  auto t0 = Clock::now();
  for (int i = 0; i < window; ++i) submit();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  uint64_t counted = ops.load();
  double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return live.load() == 0; });
  if (!error.empty()) fail(error);
  return counted / elapsed;
}

// One contender of a case: a name and a function that measures one sample (ops/s).
struct Contender {
  std::string name;
  std::function<double()> sample;
  std::vector<double> samples;
};

// Samples every contender `repeats` times, rotating the order per repeat.
void measure(std::vector<Contender>& contenders, int repeats) {
  for (int r = 0; r < repeats; ++r) {
    for (size_t i = 0; i < contenders.size(); ++i) {
      auto& c = contenders[(i + r) % contenders.size()];
      double v = c.sample();
      if (v <= 0) fail(c.name + " produced no result");
      c.samples.push_back(v);
    }
  }
}

void print_rows(const std::string& case_name, const std::vector<Contender>& contenders, const std::string& base) {
  double base_median = 0;
  for (auto& c : contenders) {
    if (c.name == base) base_median = bench::median(c.samples);
  }
  for (auto& c : contenders) {
    auto [lo, hi] = std::minmax_element(c.samples.begin(), c.samples.end());
    std::printf("| %s | %s | %.0f | %.0f–%.0f | %.2f |\n", case_name.c_str(), c.name.c_str(), bench::median(c.samples),
                *lo, *hi, base_median > 0 ? bench::median(c.samples) / base_median : 0.0);
  }
  std::fflush(stdout);
}

bench::RedisBenchmarkRun calibrated(uint16_t port, const std::string& test, int clients, int pipeline, size_t size,
                                    double seconds, const std::string& extra = "") {
  bench::RedisBenchmarkRun run;
  run.port = port;
  run.test = test;
  run.clients = clients;
  run.pipeline = pipeline;
  run.value_size = size;
  run.extra_args = extra;
  bench::calibrate(run, seconds);
  return run;
}

Contender redis_benchmark(const std::string& name, const bench::RedisBenchmarkRun& run) {
  return {name, [run] { return bench::redis_benchmark_rps(run); }, {}};
}

std::string pool_name(size_t max_connections) {
  return "RedisTier, max_connections=" + std::to_string(max_connections);
}

void standalone_table(const Settings& cfg, const RedisServer& server) {
  RedisOptions o;
  o.transport = RedisOptions::Transport::kTcp;
  o.host = "127.0.0.1";
  o.port = server.port();
  const size_t default_pool = o.max_connections;
  std::vector<std::unique_ptr<redis::RedisTier>> tiers;
  tiers.push_back(std::make_unique<redis::RedisTier>(o));
  o.max_connections = static_cast<size_t>(cfg.threads);
  tiers.push_back(std::make_unique<redis::RedisTier>(o));
  const std::string t = std::to_string(cfg.threads);

  std::printf("### %d callers, one standalone redis-server, one key\n\n", cfg.threads);
  std::printf("%d std::threads on one shared RedisTier (get_value: a plain GET; set: SET) for %.1f s per sample vs "
              "redis-benchmark with %d clients (-n calibrated to about %.1f s); median of %d interleaved repeats.\n\n",
              cfg.threads, cfg.seconds, cfg.threads, cfg.seconds, cfg.repeats);
  std::printf("| case | method | median ops/s | range | vs redis-benchmark -P 16 |\n|---|---|---:|---:|---:|\n");
  for (size_t size : {size_t{64}, size_t{1024}}) {
    const std::string key = "bench:concurrent:" + std::to_string(size);
    const std::string value(size, 'v');
    for (auto& tier : tiers) {
      if (auto s = tier->set(key, value, 0, call_deadline()); !s.is_ok()) fail("SET: " + s.to_string());
    }
    // redis-benchmark's GET reads key:__rand_int__ (literally, without -r): give it a value of the size.
    if (auto s = tiers[0]->set("key:__rand_int__", value, 0, call_deadline()); !s.is_ok()) fail(s.to_string());
    for (const std::string test : {"get", "set"}) {
      std::vector<Contender> contenders;
      for (size_t i = 0; i < tiers.size(); ++i) {
        redis::RedisTier* tier = tiers[i].get();
        std::function<std::string(int)> op;
        if (test == "get") {
          op = [tier, &key, size](int) { return check_value(tier->get_value(key, call_deadline()), size); };
        } else {
          op = [tier, &key, &value](int) { return check(tier->set(key, value, 0, call_deadline())); };
        }
        contenders.push_back(
            {pool_name(i == 0 ? default_pool : o.max_connections), [&cfg, op] { return bench::run_callers(cfg.threads, cfg.seconds, op); }, {}});
      }
      {
        redis::RedisTier* tier = tiers[0].get();
        bool get = test == "get";
        contenders.push_back({"RedisTier async (" + std::string(get ? "get_async: GET+PTTL" : "set_async") + "), " + t +
                                  " in flight from 1 thread",
                              [&cfg, tier, get, &key, &value] {
                                return run_async_window(tier, cfg.threads, cfg.seconds, get, key, value);
                              },
                              {}});
      }
      for (int pipeline : {1, 16}) {
        contenders.push_back(redis_benchmark("redis-benchmark -c " + t + " -P " + std::to_string(pipeline),
                                             calibrated(server.port(), test, cfg.threads, pipeline, size, cfg.seconds)));
      }
      measure(contenders, cfg.repeats);
      std::string upper = test == "get" ? "GET" : "SET";
      print_rows(upper + " " + std::to_string(size) + " B", contenders, "redis-benchmark -c " + t + " -P 16");
    }
  }
  std::printf("\n");
}

std::unique_ptr<RemoteTier> tier_for(const std::string& url) {
  auto o = Options::from_url(url);
  if (!o.is_ok()) fail(url + ": " + o.status().to_string());
  return make_redis_tier(o->redis);
}

void cluster_table(const Settings& cfg, const RedisServer& server) {
  auto cluster = RedisCluster::start(3, 0);
  const std::string t = std::to_string(cfg.threads);
  const size_t pools[] = {RedisOptions{}.max_connections, static_cast<size_t>(cfg.threads)};
  struct Target {
    std::string name;
    std::unique_ptr<RemoteTier> tier;
  };
  std::vector<Target> targets;
  for (size_t pool : pools) {
    std::string q = "max_connections=" + std::to_string(pool);
    targets.push_back({"cluster tier, max_connections=" + std::to_string(pool) + " per node", tier_for(cluster->url(q))});
    targets.push_back({"standalone tier, max_connections=" + std::to_string(pool), tier_for(server.url("", 0, q))});
  }
  constexpr int kKeys = 64;

  std::printf("### %d callers, 3-master Redis Cluster vs standalone\n\n", cfg.threads);
  std::printf("%d std::threads on one shared tier made from a redis+cluster:// or redis:// URL, RemoteTier::get "
              "(GET+PTTL in one round trip), thread i reading key i of %d (spread over the slots), %.1f s per sample; "
              "redis-benchmark -t get with %d clients for reference (--cluster: clients spread over the masters); "
              "median of %d interleaved repeats. All servers share this machine's cores.\n\n",
              cfg.threads, kKeys, cfg.seconds, cfg.threads, cfg.repeats);
  std::printf("| case | method | median ops/s | range | vs standalone, same pool |\n|---|---|---:|---:|---:|\n");
  for (size_t size : {size_t{64}, size_t{1024}}) {
    const std::string value(size, 'v');
    std::vector<std::string> keys;
    for (int k = 0; k < kKeys; ++k) keys.push_back("bench:cluster:" + std::to_string(size) + ":" + std::to_string(k));
    for (auto& target : targets) {
      for (auto& key : keys) {
        if (auto s = target.tier->set(key, value, 0, call_deadline()); !s.is_ok()) fail(target.name + ": " + s.to_string());
      }
    }
    // redis-benchmark's GET reads the keys its SET writes: write them at this size.
    for (auto& [port, extra] : {std::pair<uint16_t, std::string>{cluster->node(0).port(), "--cluster"},
                                std::pair<uint16_t, std::string>{server.port(), ""}}) {
      bench::RedisBenchmarkRun fill;
      fill.port = port;
      fill.test = "set";
      fill.requests = 1000;
      fill.value_size = size;
      fill.extra_args = extra;
      if (bench::redis_benchmark_rps(fill) <= 0) fail("redis-benchmark -t set " + extra + " failed");
    }
    std::vector<Contender> contenders;
    for (auto& target : targets) {
      RemoteTier* tier = target.tier.get();
      auto op = [tier, &keys, size](int thread) {
        return check_entry(tier->get(keys[thread % kKeys], call_deadline()), size);
      };
      contenders.push_back({target.name, [&cfg, op] { return bench::run_callers(cfg.threads, cfg.seconds, op); }, {}});
    }
    for (int pipeline : {1, 16}) {
      std::string p = " -P " + std::to_string(pipeline);
      contenders.push_back(redis_benchmark("redis-benchmark --cluster -c " + t + p,
                                           calibrated(cluster->node(0).port(), "get", cfg.threads, pipeline, size,
                                                      cfg.seconds, "--cluster")));
      contenders.push_back(redis_benchmark("redis-benchmark -c " + t + p,
                                           calibrated(server.port(), "get", cfg.threads, pipeline, size, cfg.seconds)));
    }
    measure(contenders, cfg.repeats);
    // Ratio: each cluster row against the standalone row after it (same pool / same -P).
    std::vector<Contender> pair(2);
    for (size_t i = 0; i + 1 < contenders.size(); i += 2) {
      pair[0] = contenders[i];
      pair[1] = contenders[i + 1];
      print_rows("GET " + std::to_string(size) + " B", pair, pair[1].name);
    }
  }
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
  Settings cfg;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    bool has_value = i + 1 < argc;
    if (a == "--threads" && has_value) cfg.threads = std::max(1, std::atoi(argv[++i]));
    else if (a == "--seconds" && has_value) cfg.seconds = std::max(0.1, std::atof(argv[++i]));
    else if (a == "--repeats" && has_value) cfg.repeats = std::max(1, std::atoi(argv[++i]));
    else if (a == "--no-cluster") cfg.cluster = false;
    else fail("usage: bench_l2_concurrent [--threads T] [--seconds S] [--repeats R] [--no-cluster]");
  }
  std::printf("Machine at start: %s.\n\n", bench::machine_note().c_str());
  try {
    auto server = RedisServer::start();
    standalone_table(cfg, *server);
    if (cfg.cluster) cluster_table(cfg, *server);
  } catch (const std::exception& e) {
    fail(e.what());
  }
  std::printf("Machine at end: %s.\n", bench::machine_note().c_str());
  return 0;
}
