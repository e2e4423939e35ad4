// Tags and dependencies (docs/tags.md): what tag sets cost, and what the rejected
// design (tag versions checked at read time) would cost per read. Prints markdown
// tables; every row is the median of interleaved samples in this one process, against
// redis-servers it starts (standalone and a 3-master Cluster, loopback).
//
//   bench_tags [--samples N] [--ops K]   (defaults 7 samples of 2000 calls)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "cache_test_hooks.hpp"
#include "remote_tier.hpp"
#include "stratacache/cache.hpp"
#include "support/redis_server.hpp"

using namespace stratacache;
using Clock = std::chrono::steady_clock;

namespace {

int g_ops = 2000;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Microseconds per call of op(i), one sample.
double per_call_us(const std::function<void(int)>& op) {
  auto t0 = Clock::now();
  for (int i = 0; i < g_ops; ++i) op(i);
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / g_ops;
}

struct Row {
  std::string name;
  std::function<void(int)> op;
  std::vector<double> samples;
};

void run_table(const char* title, std::vector<Row> rows, int samples) {
  for (int s = 0; s < samples; ++s) {
    for (Row& r : rows) r.samples.push_back(per_call_us(r.op));  // interleaved
  }
  std::printf("\n### %s\n\n| operation | µs per call (median of %d) |\n|---|---:|\n", title, samples);
  for (Row& r : rows) std::printf("| %s | %.2f |\n", r.name.c_str(), median(r.samples));
}

void must(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "bench_tags: %s failed\n", what);
    std::exit(1);
  }
}

Payload raw(std::string s) { return Payload{Format::kRaw, std::move(s)}; }

void bench_deployment(const char* label, const std::string& url, int samples) {
  auto c = Cache::open(url + (url.find('?') == std::string::npos ? "?" : "&") + "prefix=bt:");
  must(c.is_ok(), "open");
  Cache& cache = **c;
  CallOptions tagged;
  tagged.tags = {"bench"};
  CallOptions plain;
  CallOptions l2_only;
  l2_only.skip_l1 = true;
  for (int i = 0; i < g_ops; ++i) {
    must(cache.set("u" + std::to_string(i), raw("value"), plain).is_ok(), "set");
    must(cache.set("t" + std::to_string(i), raw("value"), tagged).is_ok(), "set tagged");
  }
  std::vector<Row> reads = {
      {"L1 hit, untagged entry", [&](int i) { cache.get_ref("u" + std::to_string(i)); }, {}},
      {"L1 hit, tagged entry", [&](int i) { cache.get_ref("t" + std::to_string(i)); }, {}},
      {"L2 hit, untagged entry", [&](int i) { cache.get_ref("u" + std::to_string(i), l2_only); }, {}},
      {"L2 hit, tagged entry", [&](int i) { cache.get_ref("t" + std::to_string(i), l2_only); }, {}},
  };
  run_table((std::string(label) + ": reads (a tag costs a read nothing)").c_str(), std::move(reads), samples);

  auto no_check = [&](bool on) { test_hooks::skip_dependents_check.store(on, std::memory_order_relaxed); };
  std::vector<Row> writes = {
      {"set, untagged, without the dependents look (before)", [&](int i) {
         no_check(true);
         cache.set("w" + std::to_string(i), raw("value"), plain);
         no_check(false);
       }, {}},
      {"set, untagged (EXISTS of the dependents set pipelined)", [&](int i) { cache.set("w" + std::to_string(i), raw("value"), plain); }, {}},
      {"set, 1 tag", [&](int i) { cache.set("w" + std::to_string(i), raw("value"), tagged); }, {}},
  };
  run_table((std::string(label) + ": writes").c_str(), std::move(writes), samples);

  // Invalidation of 10k tagged entries.
  std::vector<double> inv;
  for (int s = 0; s < std::min(samples, 5); ++s) {
    CallOptions t10k;
    t10k.tags = {"ten-k"};
    std::vector<std::pair<std::string, Payload>> batch;
    for (int i = 0; i < 10000; ++i) {
      batch.emplace_back("i" + std::to_string(i), raw("value"));
      if (batch.size() == 500) {
        must(cache.mset(batch, t10k).is_ok(), "mset");
        batch.clear();
      }
    }
    auto t0 = Clock::now();
    auto n = cache.invalidate_tags({"ten-k"});
    inv.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    must(n.is_ok() && *n == 10000, "invalidate 10k");
  }
  std::printf("\n%s: invalidate_tags of a tag with 10,000 entries: %.1f ms (median of %zu)\n", label, median(inv),
              inv.size());
}

// The rejected design: every read also fetches the tag's version. Standalone: the
// version GET rides in the read's pipeline (mget of both); Cluster: the version key is
// in another slot, so another request (here: a second round trip).
void bench_versions(const char* label, const std::string& url, bool cluster, int samples) {
  auto o = Options::from_url(url);
  must(o.is_ok(), "options");
  auto l2 = make_redis_tier(o->redis);
  Deadline d = Deadline::after(Millis(2000));
  must(l2->set("value:{a}", "v", 0, d).is_ok(), "set");
  must(l2->set("tagver:{b}", "1", 0, d).is_ok(), "set");
  std::vector<std::string> both = {"value:{a}", "tagver:{b}"};
  std::vector<Row> rows = {
      {"L2 read of the value", [&](int) { l2->get("value:{a}", Deadline::after(Millis(2000))); }, {}},
  };
  if (!cluster) {
    rows.push_back({"L2 read + tag version in the same pipeline", [&](int) { l2->mget(both, Deadline::after(Millis(2000))); }, {}});
  } else {
    rows.push_back({"L2 read + tag version on another slot (2nd request)", [&](int) {
                      l2->get("value:{a}", Deadline::after(Millis(2000)));
                      l2->get("tagver:{b}", Deadline::after(Millis(2000)));
                    }, {}});
  }
  run_table((std::string(label) + ": the rejected design (tag versions checked per read)").c_str(), std::move(rows),
            samples);
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  int samples = 7;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--samples")) samples = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--ops")) g_ops = std::atoi(argv[i + 1]);
  }
  auto server = testing::RedisServer::start();
  bench_deployment("standalone", server->url(), samples);
  bench_versions("standalone", server->url(), false, samples);
  auto cluster = testing::RedisCluster::start(3, 0);
  bench_deployment("cluster (3 masters)", cluster->url(), samples);
  bench_versions("cluster (3 masters)", cluster->url(), true, samples);
  return 0;
}
