// Coherent L1 (l1_coherence=tracking|broadcast|off): how long after another client's write
// a reader's L1 still serves the old value, what coherence costs an L1 hit and a write, and
// what it costs Redis. Prints markdown tables of one run.
//
//   bench_coherence [--writes N] [--row-seconds W] [--readers T] [--seconds S] [--repeats R] [--keys K]
//   (defaults 1000 writes but at most 60 s of writing per staleness row, 64 readers, 1 s
//   per sample, 5 repeats, 100000 keys)
//
// Starts its own redis-servers on free loopback ports (the tests' fixture). The reader A
// and the writer B are two Cache objects in this one process, not two processes: each
// has its own connections and, with coherence on, its own invalidation channel, so Redis
// sees two unrelated clients.
//
// Table 1, staleness, per mode, idle and loaded. For each of N writes: A's L1 holds
// version i-1 of one key (checked with an L1-only read: skip_l2); B sets version i; from
// the moment B's set returns, a thread of A reads the key in a loop until it gets version i.
//   stale  how long after B's set returned a read of A could still start and get version
//          i-1: the latest such start over every thread reading the key (0 when the first
//          read after the set already got version i)
//   fresh  when that loop first got version i (includes the L2 round trip of the read
//          whose L1 copy had just been invalidated)
//   late   reads that started after `fresh` and still got an older version (must be 0)
// idle: only the looping thread reads; loaded: T more threads read through A, three reads
// in four of 1000 other keys, one in four of the written key. A row stops after W seconds
// of writing even when fewer than N writes were done (the table says how many): under
// load one write can take seconds to reach A's L1.
// Table 2, L1 hit throughput: get_ref of 10000 keys all in L1, 1 and 2 threads, per mode,
// median of R interleaved samples of S seconds.
// Table 3, what Redis pays: the tracking table and used_memory after A read K keys into
// its L1 (one fresh server per mode), and the SET throughput of one caller per mode
// (tracking writes through a script, SET then PTTL, so the writer's copy stays tracked).
#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "l2/bench_util.hpp"
#include "stratacache/cache.hpp"
#include "support/redis_server.hpp"

using namespace stratacache;
using Clock = std::chrono::steady_clock;
using testing::RedisServer;

namespace {

struct Settings {
  int writes = 1000;
  double row_seconds = 60;
  int readers = 64;
  double seconds = 1.0;
  int repeats = 5;
  size_t keys = 100000;
};

const std::vector<std::string> kModes = {"tracking", "broadcast", "off"};

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "bench_coherence: %s\n", what.c_str());
  std::exit(1);
}

void must(const Status& s, const std::string& what) {
  if (!s.is_ok()) fail(what + ": " + s.to_string());
}

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

Payload raw(std::string data) { return Payload{Format::kRaw, std::move(data)}; }

std::vector<std::string> key_names(const std::string& stem, size_t n) {
  std::vector<std::string> keys;
  keys.reserve(n);
  for (size_t i = 0; i < n; ++i) keys.push_back(stem + std::to_string(i));
  return keys;
}

// A cache on `server` with l1_coherence=mode, returned once every invalidation channel is
// up: until then reads do not back-fill L1, and nothing measured would be an L1 hit.
std::unique_ptr<Cache> open_cache(const RedisServer& server, const std::string& mode, const std::string& query) {
  auto opened = Cache::open(server.url("", 0, "l1_coherence=" + mode + "&" + query));
  if (!opened) fail("open: " + opened.status().to_string());
  std::unique_ptr<Cache> cache = std::move(opened).value();
  auto deadline = Clock::now() + std::chrono::seconds(5);
  for (;;) {
    HealthInfo h = cache->health();
    if (h.coherence != mode) fail("asked for l1_coherence=" + mode + ", got " + h.coherence + ": " + h.coherence_error);
    if (h.coherence_up) return cache;
    if (Clock::now() > deadline) fail(mode + ": invalidation channel not up after 5 s: " + h.coherence_error);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

constexpr size_t kBatch = 1000;

void write_keys(Cache& c, const std::vector<std::string>& keys, const Payload& value) {
  for (size_t i = 0; i < keys.size(); i += kBatch) {
    std::vector<std::pair<std::string, Payload>> items;
    for (size_t j = i; j < std::min(keys.size(), i + kBatch); ++j) items.emplace_back(keys[j], value);
    must(c.mset(items), "mset");
  }
}

// Reads every key (mget in batches), which back-fills L1.
void load_l1(Cache& c, const std::vector<std::string>& keys) {
  for (size_t i = 0; i < keys.size(); i += kBatch) {
    std::vector<std::string> batch(keys.begin() + i, keys.begin() + std::min(keys.size(), i + kBatch));
    for (auto& r : c.mget(batch)) {
      if (!r) fail("mget: " + r.status().to_string());
    }
  }
}

// ---- Table 1: staleness ----

// What the writer publishes about the write in progress to the threads reading its key.
// The writer zeroes set_done and fresh before it moves `version` on, so a reader that
// saw `version` before loading them sees this write's values or 0.
struct WriteState {
  std::atomic<int64_t> version{0};     // the version being written
  std::atomic<int64_t> set_done{0};    // when B's set of it returned (ns); 0 while in flight
  std::atomic<int64_t> fresh{0};       // when the writer's loop first read it (ns); 0 before
  std::atomic<int64_t> last_stale{0};  // latest start of a read begun after set_done that got an older version
  std::atomic<uint64_t> late{0};
};

int64_t version_of(const ValueRef& v) {
  int64_t n = -1;
  std::from_chars(v.data().data(), v.data().data() + v.size(), n);
  return n;
}

// One read of the written key through A, judged against the write in progress.
// Returns the version read.
int64_t observe(Cache& a, const std::string& key, WriteState& w) {
  int64_t current = w.version.load();
  int64_t done = w.set_done.load();
  int64_t fresh = w.fresh.load();
  bool same_write = w.version.load() == current;
  int64_t start = now_ns();
  auto r = a.get_ref(key);
  if (!r) fail("A get: " + r.status().to_string());
  int64_t v = version_of(*r);
  if (same_write && done != 0 && v < current) {
    int64_t seen = w.last_stale.load();
    while (seen < start && !w.last_stale.compare_exchange_weak(seen, start)) {
    }
    if (fresh != 0) w.late.fetch_add(1);
  }
  return v;
}

// Returns once A's L1 itself holds `version` of key (an L1-only read gets it).
void hold_in_l1(Cache& a, const std::string& key, int64_t version) {
  CallOptions l1_only;
  l1_only.skip_l2 = true;
  // Generous: under load the back-fill can wait seconds for its L1 shard's lock.
  auto deadline = Clock::now() + std::chrono::seconds(60);
  for (;;) {
    auto r = a.get_ref(key, l1_only);
    if (r && version_of(*r) == version) return;
    if (Clock::now() > deadline) fail("A's L1 did not take version " + std::to_string(version) + " within 60 s");
    (void)a.get_ref(key);  // back-fills L1
  }
}

struct Staleness {
  std::vector<double> stale_us, fresh_us;
  uint64_t late = 0;
};

Staleness measure_staleness(const RedisServer& server, const std::string& mode, int readers, int writes,
                            double budget_seconds) {
  const std::string query = "prefix=coh:" + mode + ":&default_ttl=0&l1_ttl=0";
  auto a = open_cache(server, mode, query);
  auto b = open_cache(server, mode, query);
  const std::string key = "k";
  const auto others = key_names("other:", 1000);
  write_keys(*b, others, raw("other"));
  must(b->set(key, raw("0")), "B set");
  load_l1(*a, others);

  WriteState w;
  std::atomic<bool> stop{false};
  std::vector<std::thread> pool;
  for (int t = 0; t < readers; ++t) {
    pool.emplace_back([&, t] {
      for (size_t n = t, other = t * 16; !stop.load(std::memory_order_relaxed); ++n) {
        if (n % 4 == 0) {
          observe(*a, key, w);
        } else if (auto r = a->get_ref(others[other++ % others.size()]); !r) {
          fail("A get: " + r.status().to_string());
        }
      }
    });
  }
  Staleness out;
  int64_t done = 0;
  // Taken once the next write's L1 check has run, so reads in flight at `fresh` have landed.
  auto record_stale = [&] { out.stale_us.push_back(std::max<int64_t>(0, w.last_stale.load() - done) / 1e3); };
  const auto budget_end = Clock::now() + std::chrono::duration<double>(budget_seconds);
  int i = 1;
  for (; i <= writes && Clock::now() < budget_end; ++i) {
    hold_in_l1(*a, key, i - 1);
    if (i > 1) record_stale();
    w.set_done = 0;
    w.fresh = 0;
    w.last_stale = 0;
    w.version = i;
    must(b->set(key, raw(std::to_string(i))), "B set");
    done = now_ns();
    w.set_done = done;
    while (observe(*a, key, w) < i) {
    }
    int64_t fresh = now_ns();
    w.fresh = fresh;
    out.fresh_us.push_back((fresh - done) / 1e3);
  }
  hold_in_l1(*a, key, i - 1);
  stop = true;
  for (auto& th : pool) th.join();
  record_stale();
  out.late = w.late.load();
  return out;
}

void staleness_table(const Settings& cfg, const RedisServer& server) {
  std::printf("### Staleness: B writes, A's L1 held the old value\n\n");
  std::printf("A (reader) and B (writer) are separate Cache objects in one process, each with its own connections "
              "and invalidation channel. Up to %d writes per row (at most %.0f s of writing); times from the moment B's set returned, in us. "
              "stale: latest start of a read of A that still got the old value; fresh: when A's looping reader "
              "first got the new one (one L2 round trip included); late: reads started after that which still got "
              "an old value. loaded: %d more threads reading through A (1 read in 4 of the written key), on this "
              "machine's %u hardware threads.\n\n",
              cfg.writes, cfg.row_seconds, cfg.readers, std::thread::hardware_concurrency());
  std::printf("| l1_coherence | load | writes | stale p50 | stale p99 | stale max | fresh p50 | fresh p99 | fresh max | late |\n");
  std::printf("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const std::string& mode : {kModes[0], kModes[1]}) {
    for (int readers : {0, cfg.readers}) {
      Staleness s = measure_staleness(server, mode, readers, cfg.writes, cfg.row_seconds);
      std::string load = readers == 0 ? "idle" : std::to_string(readers) + " readers";
      std::printf("| %s | %s | %zu | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %llu |\n", mode.c_str(), load.c_str(),
                  s.fresh_us.size(), bench::percentile(s.stale_us, 0.5), bench::percentile(s.stale_us, 0.99),
                  bench::percentile(s.stale_us, 1), bench::percentile(s.fresh_us, 0.5),
                  bench::percentile(s.fresh_us, 0.99), bench::percentile(s.fresh_us, 1),
                  static_cast<unsigned long long>(s.late));
      std::fflush(stdout);
    }
  }
  std::printf("\nl1_coherence=off is not in this table: its L1 copy lives until l1_ttl, whatever B writes.\n\n");
}

// ---- Table 2 and the write cost: one cache per mode, samples interleaved ----

struct ModeCache {
  std::string mode;
  std::unique_ptr<Cache> cache;
  std::vector<double> samples;
  uint64_t l1_misses = 0;
};

std::vector<ModeCache> mode_caches(const RedisServer& server, const std::string& stem) {
  std::vector<ModeCache> out;
  for (const auto& mode : kModes) {
    out.push_back({mode, open_cache(server, mode, "prefix=" + stem + ":" + mode + ":&default_ttl=0&l1_ttl=0"), {}, 0});
  }
  return out;
}

// Samples each mode `repeats` times, rotating the order per repeat so load drift on a
// shared machine hits all alike; `before` runs ahead of every sample, untimed.
void measure(std::vector<ModeCache>& caches, int repeats, const std::function<void(ModeCache&)>& before,
             const std::function<double(ModeCache&)>& sample) {
  for (int r = 0; r < repeats; ++r) {
    for (size_t i = 0; i < caches.size(); ++i) {
      ModeCache& m = caches[(i + r) % caches.size()];
      before(m);
      uint64_t misses = m.cache->stats().l1.misses;
      m.samples.push_back(sample(m));
      m.l1_misses += m.cache->stats().l1.misses - misses;
    }
  }
}

void print_rows(const std::string& label, const std::vector<ModeCache>& caches, bool with_misses) {
  double off = bench::median(caches.back().samples);
  for (const auto& m : caches) {
    auto [lo, hi] = std::minmax_element(m.samples.begin(), m.samples.end());
    double med = bench::median(m.samples);
    std::printf("| %s | %s | %.0f | %.0f–%.0f | %.1f %% |", label.c_str(), m.mode.c_str(), med, *lo, *hi,
                100 * med / off);
    if (with_misses) std::printf(" %llu |", static_cast<unsigned long long>(m.l1_misses));
    std::printf("\n");
  }
  std::fflush(stdout);
}

void hit_table(const Settings& cfg, const RedisServer& server) {
  const auto keys = key_names("h:", 10000);
  auto caches = mode_caches(server, "hit");
  for (auto& m : caches) write_keys(*m.cache, keys, raw(std::string(64, 'v')));
  std::printf("### L1 hit throughput\n\n");
  std::printf("get_ref of %zu keys of 64 B, all in L1 (read again through mget before each sample), by 1 and 2 "
              "threads for %.1f s per sample; median of %d interleaved repeats. L1 misses: reads during the samples "
              "that were not L1 hits (0 unless coverage was lost and L1 emptied).\n\n",
              keys.size(), cfg.seconds, cfg.repeats);
  std::printf("| threads | l1_coherence | median reads/s | range | vs off | L1 misses |\n|---|---|---:|---:|---:|---:|\n");
  for (int threads : {1, 2}) {
    for (auto& m : caches) {
      m.samples.clear();
      m.l1_misses = 0;
    }
    struct alignas(64) Position {
      size_t next = 0;
    };
    std::vector<Position> pos(threads);
    auto before = [&](ModeCache& m) { load_l1(*m.cache, keys); };
    auto sample = [&](ModeCache& m) {
      for (int t = 0; t < threads; ++t) pos[t].next = t * keys.size() / threads;
      Cache* c = m.cache.get();
      return bench::run_callers(threads, cfg.seconds, [&, c](int t) -> std::string {
        size_t& i = pos[t].next;
        auto r = c->get_ref(keys[i]);
        i = i + 1 == keys.size() ? 0 : i + 1;
        return r ? std::string() : r.status().to_string();
      });
    };
    measure(caches, cfg.repeats, before, sample);
    print_rows(std::to_string(threads), caches, true);
  }
  std::printf("\n");
}

void write_table(const Settings& cfg, const RedisServer& server) {
  auto caches = mode_caches(server, "set");
  const Payload value = raw(std::string(64, 'v'));
  std::printf("### Write cost\n\n");
  std::printf("One thread calling Cache::set of one 64 B key (no TTL) for %.1f s per sample; median of %d interleaved "
              "repeats. tracking writes with a script (SET then PTTL, so the key stays tracked for the writer's own "
              "L1 copy), broadcast and off with a plain SET.\n\n",
              cfg.seconds, cfg.repeats);
  std::printf("| caller | l1_coherence | median sets/s | range | vs off |\n|---|---|---:|---:|---:|\n");
  measure(caches, cfg.repeats, [](ModeCache&) {}, [&](ModeCache& m) {
    Cache* c = m.cache.get();
    return bench::run_callers(1, cfg.seconds, [&, c](int) -> std::string {
      Status s = c->set("w", value);
      return s.is_ok() ? std::string() : s.to_string();
    });
  });
  print_rows("1 thread", caches, false);
  std::printf("\n");
}

// ---- Table 3: what the server keeps ----

// One field of INFO (all default sections), as text; "" when absent.
std::string info_field(const std::string& info, const std::string& name) {
  size_t at = info.find("\n" + name + ":");
  if (at == std::string::npos) return "";
  at += name.size() + 2;
  size_t end = info.find_first_of("\r\n", at);
  return info.substr(at, end - at);
}

struct ServerCost {
  std::string mode;
  int64_t memory_delta = 0;
  std::string keys, items, prefixes;
  uint64_t l1_entries = 0;
};

// A fresh server holding K keys; used_memory before and after A (l1_coherence=mode) read
// them all into its L1, and the tracking table then.
ServerCost server_cost(const Settings& cfg, const std::string& mode) {
  auto server = RedisServer::start();
  const auto keys = key_names("m:", cfg.keys);
  const std::string query = "prefix=mem:&default_ttl=0&l1_ttl=0&l1_max_entries=" + std::to_string(2 * cfg.keys);
  {
    CallOptions l2_only;
    l2_only.skip_l1 = true;
    auto opened = Cache::open(server->url("", 0, "l1_coherence=off&" + query));
    if (!opened) fail("open: " + opened.status().to_string());
    for (size_t i = 0; i < keys.size(); i += kBatch) {
      std::vector<std::pair<std::string, Payload>> items;
      for (size_t j = i; j < std::min(keys.size(), i + kBatch); ++j) items.emplace_back(keys[j], raw(std::string(32, 'v')));
      must((*opened)->mset(items, l2_only), "mset");
    }
  }
  auto a = open_cache(*server, mode, query);
  int64_t before = std::atoll(info_field(server->cli({"INFO"}), "used_memory").c_str());
  load_l1(*a, keys);
  std::string info = server->cli({"INFO"});
  ServerCost out;
  out.mode = mode;
  out.memory_delta = std::atoll(info_field(info, "used_memory").c_str()) - before;
  out.keys = info_field(info, "tracking_total_keys");
  out.items = info_field(info, "tracking_total_items");
  out.prefixes = info_field(info, "tracking_total_prefixes");
  out.l1_entries = a->stats().l1.entries;
  return out;
}

void server_table(const Settings& cfg) {
  std::vector<ServerCost> rows;
  for (const std::string& mode : {kModes[2], kModes[0], kModes[1]}) rows.push_back(server_cost(cfg, mode));
  std::printf("### What Redis keeps\n\n");
  std::printf("One fresh redis-server per mode holding %zu keys (32 B values); A reads them all (mget of %zu) into "
              "its L1 (l1_max_entries=%zu). INFO after the reads; used_memory delta: after minus before the reads.\n\n",
              cfg.keys, kBatch, 2 * cfg.keys);
  std::printf("| l1_coherence | A's L1 entries | tracking_total_keys | tracking_total_items | tracking_total_prefixes "
              "| used_memory delta | minus off | per key read |\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
  int64_t off = rows.front().memory_delta;
  for (const auto& r : rows) {
    std::printf("| %s | %llu | %s | %s | %s | %.2f MiB | %.2f MiB | %.0f B |\n", r.mode.c_str(),
                static_cast<unsigned long long>(r.l1_entries), r.keys.c_str(), r.items.c_str(), r.prefixes.c_str(),
                r.memory_delta / 1048576.0, (r.memory_delta - off) / 1048576.0,
                static_cast<double>(r.memory_delta - off) / static_cast<double>(cfg.keys));
  }
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
  Settings cfg;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    bool has_value = i + 1 < argc;
    if (a == "--writes" && has_value) cfg.writes = std::max(1, std::atoi(argv[++i]));
    else if (a == "--row-seconds" && has_value) cfg.row_seconds = std::max(1.0, std::atof(argv[++i]));
    else if (a == "--readers" && has_value) cfg.readers = std::max(1, std::atoi(argv[++i]));
    else if (a == "--seconds" && has_value) cfg.seconds = std::max(0.1, std::atof(argv[++i]));
    else if (a == "--repeats" && has_value) cfg.repeats = std::max(1, std::atoi(argv[++i]));
    else if (a == "--keys" && has_value) cfg.keys = static_cast<size_t>(std::max(1000, std::atoi(argv[++i])));
    else fail("usage: bench_coherence [--writes N] [--row-seconds W] [--readers T] [--seconds S] [--repeats R] [--keys K]");
  }
  std::printf("Machine at start: %s.\n\n", bench::machine_note().c_str());
  try {
    auto server = RedisServer::start();
    staleness_table(cfg, *server);
    hit_table(cfg, *server);
    write_table(cfg, *server);
    server_table(cfg);
  } catch (const std::exception& e) {
    fail(e.what());
  }
  std::printf("Machine at end: %s.\n", bench::machine_note().c_str());
  return 0;
}
