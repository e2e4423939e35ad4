// Single-caller GET round trips: our L2 tier vs a raw hiredis blocking loop vs
// redis-benchmark, on one redis-server. Prints a markdown table of medians.
//
//   bench_l2 [--port P] [-n N] [--repeats R]
//   (or STRATACACHE_BENCH_REDIS_PORT=P; without a port a redis-server is started on a
//    free loopback port: $REDIS_SERVER_BIN or redis-server from PATH)
//
// Methods, all one caller, one connection, loopback:
//   tier get        RedisTier::get: GET + PTTL pipelined in one write (the contract)
//   tier get_value  RedisTier::get_value: a plain GET through the same pool/socket/reader
//   ... TLS         the same over rediss:// (only when the bench starts the server: it
//                   then also listens on a TLS port, with throwaway certificates)
//   hiredis         redisConnect + redisCommand("GET %b") in a loop (blocking socket)
//   redis-benchmark redis-benchmark -c 1 -n N -t get -d SIZE --csv (requests/s -> us/op),
//                   and with --tls against the TLS port
#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "l2/bench_util.hpp"
#include "redis/redis_tier.hpp"
#include "stratacache/cache.hpp"
#include "support/test_pki.hpp"

using namespace stratacache;
using Clock = std::chrono::steady_clock;
using bench::median;

namespace {

uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool port_accepts(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// Plain on `port`, TLS on `tls_port`.
pid_t start_server(uint16_t port, uint16_t tls_port, const stratacache::testing::TestPki& pki) {
  const char* bin = std::getenv("REDIS_SERVER_BIN");
  std::string exe = bin ? bin : "redis-server";
  std::string port_s = std::to_string(port), tls_port_s = std::to_string(tls_port);
  std::vector<const char*> argv = {exe.c_str(), "--port", port_s.c_str(), "--bind", "127.0.0.1", "--save", "",
                                   "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning",
                                   "--logfile", "/dev/null", "--tls-port", tls_port_s.c_str(),
                                   "--tls-cert-file", pki.server_cert.c_str(), "--tls-key-file",
                                   pki.server_key.c_str(), "--tls-ca-cert-file", pki.ca_cert.c_str(),
                                   "--tls-auth-clients", "no", nullptr};
  pid_t pid = ::fork();
  if (pid == 0) {
    ::execvp(argv[0], const_cast<char* const*>(argv.data()));
    ::_exit(127);
  }
  for (int i = 0; i < 500 && !(port_accepts(port) && port_accepts(tls_port)); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pid;
}

// Microseconds for `n` calls of op(); op returns false on a wrong answer.
double time_us(int n, const std::function<bool()>& op) {
  auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    if (!op()) {
      std::fprintf(stderr, "wrong answer\n");
      std::exit(1);
    }
  }
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
}

// `tls_ca`: connect with --tls, trusting that CA.
double redis_benchmark_us(uint16_t port, int n, size_t size, const std::string& tls_ca = "") {
  bench::RedisBenchmarkRun run;
  run.port = port;
  run.requests = n;
  run.value_size = size;
  if (!tls_ca.empty()) run.extra_args = "--tls --cacert '" + tls_ca + "'";
  double rps = bench::redis_benchmark_rps(run);
  return rps > 0 ? 1e6 / rps : -1;
}

}  // namespace

int main(int argc, char** argv) {
  int n = 20000, repeats = 5;
  uint16_t port = 0;
  if (const char* env = std::getenv("STRATACACHE_BENCH_REDIS_PORT")) port = static_cast<uint16_t>(std::atoi(env));
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--port") port = static_cast<uint16_t>(std::atoi(argv[i + 1]));
    else if (a == "-n") n = std::atoi(argv[i + 1]);
    else if (a == "--repeats") repeats = std::max(1, std::atoi(argv[i + 1]));
  }
  pid_t server = -1;
  uint16_t tls_port = 0;
  if (port == 0) {
    port = free_port();
    do tls_port = free_port(); while (tls_port == port);
    server = start_server(port, tls_port, testing::TestPki::get());
  }
  if (!port_accepts(port)) {
    std::fprintf(stderr, "no redis-server on port %u\n", port);
    return 1;
  }

  RedisOptions o;
  o.transport = RedisOptions::Transport::kTcp;
  o.host = "127.0.0.1";
  o.port = port;
  redis::RedisTier tier(o);
  std::unique_ptr<redis::RedisTier> tls_tier;
  if (tls_port != 0) {
    RedisOptions t = o;
    t.port = tls_port;
    t.tls.enabled = true;
    t.tls.ca_certs = testing::TestPki::get().ca_cert;
    tls_tier = std::make_unique<redis::RedisTier>(t);
  }
  auto deadline = [] { return Deadline::after(std::chrono::milliseconds(1000)); };

  // The whole core path: facade, L1 skipped, L2 GET+PTTL, envelope decode.
  auto cache = std::move(Cache::open("redis://127.0.0.1:" + std::to_string(port) + "/0?prefix=cache:").value());
  CallOptions l2_only;
  l2_only.skip_l1 = true;

  redisContext* hc = redisConnect("127.0.0.1", port);
  if (!hc || hc->err) {
    std::fprintf(stderr, "redisConnect failed\n");
    return 1;
  }

  std::printf("GET round trips, 1 caller, loopback, N=%d per run, median of %d runs (us/op); %s at start\n\n", n,
              repeats, bench::machine_note().c_str());
  std::printf("| value | method | median us/op | min us/op | vs hiredis |\n|---|---|---|---|---|\n");
  for (size_t size : {size_t{64}, size_t{1024}}) {
    const std::string key = "bench:" + std::to_string(size);
    const std::string value(size, 'v');
    if (!tier.set(key, value, 0, deadline()).is_ok() || !tier.set("key:__rand_int__", value, 0, deadline()).is_ok()) {
      std::fprintf(stderr, "SET failed\n");
      return 1;
    }
    if (!cache->set(key, Payload{Format::kRaw, value}).is_ok()) {
      std::fprintf(stderr, "Cache::set failed\n");
      return 1;
    }
    std::map<std::string, std::function<bool()>> ops = {
        {"Cache::get, L1 skipped (GET+PTTL+decode)", [&] {
           auto r = cache->get_shared(key, l2_only);
           return r.is_ok() && (*r)->data.size() == size;
         }},
        {"tier get (GET+PTTL)", [&] {
           auto r = tier.get(key, deadline());
           return r.is_ok() && r->value.size() == size;
         }},
        {"tier get_value (GET)", [&] {
           auto r = tier.get_value(key, deadline());
           return r.is_ok() && r->size() == size;
         }},
        {"hiredis redisCommand", [&] {
           auto* r = static_cast<redisReply*>(redisCommand(hc, "GET %b", key.data(), key.size()));
           bool ok = r && r->type == REDIS_REPLY_STRING && r->len == size;
           freeReplyObject(r);
           return ok;
         }},
    };
    if (tls_tier) {
      ops["tier get_value (GET), TLS"] = [&] {
        auto r = tls_tier->get_value(key, deadline());
        return r.is_ok() && r->size() == size;
      };
    }
    std::map<std::string, std::vector<double>> samples;
    for (auto& [name, op] : ops) time_us(2000, op);  // warm up
    constexpr int kChunk = 500;
    for (int r = 0; r < repeats; ++r) {
      // One run = N calls per method, interleaved in chunks of 500 so that load drift
      // on a shared machine hits every method alike.
      std::map<std::string, double> total_us;
      for (int done = 0; done < n; done += kChunk) {
        for (auto& [name, op] : ops) total_us[name] += time_us(std::min(kChunk, n - done), op);
      }
      for (auto& [name, us] : total_us) samples[name].push_back(us / n);
      samples["redis-benchmark -c 1"].push_back(redis_benchmark_us(port, n, size));
      if (tls_tier) {
        samples["redis-benchmark -c 1, TLS"].push_back(
            redis_benchmark_us(tls_port, n, size, testing::TestPki::get().ca_cert));
      }
    }
    double base = median(samples["hiredis redisCommand"]);
    for (const char* name : {"Cache::get, L1 skipped (GET+PTTL+decode)", "tier get (GET+PTTL)", "tier get_value (GET)",
                             "tier get_value (GET), TLS", "hiredis redisCommand", "redis-benchmark -c 1",
                             "redis-benchmark -c 1, TLS"}) {
      auto& s = samples[name];
      if (s.empty()) continue;
      std::printf("| %zu B | %s | %.2f | %.2f | %.3f |\n", size, name, median(s), *std::min_element(s.begin(), s.end()),
                  median(s) / base);
    }
  }
  redisFree(hc);
  if (server > 0) {
    ::kill(server, SIGTERM);
    ::waitpid(server, nullptr, 0);
  }
  return 0;
}
