// Redis Sentinel over TLS (rediss+sentinel://): TLS to the sentinels and to the data
// nodes with the same ssl_* parameters, against a real TLS-only set (master, replica and
// three sentinels, `port 0` + `tls-port`, replication and the sentinels' links over TLS).
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "remote_tier.hpp"
#include "stratacache/cache.hpp"
#include "stratacache/options.hpp"
#include "support/failover_writer.hpp"
#include "support/redis_server.hpp"
#include "support/test_pki.hpp"

namespace stratacache {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using testing::ms_until_master_moves;
using testing::SentinelSet;
using testing::TestPki;
using testing::WriterLoop;

Deadline in_ms(int ms) { return Deadline::after(milliseconds(ms)); }

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }
double ms_between(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); }

bool contains(const std::string& haystack, const std::string& needle) { return haystack.find(needle) != std::string::npos; }

std::string ca_param(const std::string& file = TestPki::get().ca_cert) { return "ssl_ca_certs=" + file; }

std::unique_ptr<RemoteTier> tier_for(const std::string& url) {
  auto o = Options::from_url(url);
  EXPECT_TRUE(o.is_ok()) << url << ": " << o.status().to_string();
  return o ? make_redis_tier(o->redis) : nullptr;
}

std::unique_ptr<SentinelSet> start_tls_set(int replicas = 1, int sentinels = 3) {
  SentinelSet::Config c;
  c.replicas = replicas;
  c.sentinels = sentinels;
  c.tls = true;
  return SentinelSet::start(c);
}

TEST(RedissSentinelUrl, EnablesTlsForSentinelsAndDataNodes) {
  const std::string ca = TestPki::get().ca_cert;
  auto o = Options::from_url("rediss+sentinel://app:pw@10.0.0.1:26380,s2/mymaster/2?" + ca_param(ca) +
                             "&sentinel_password=spw");
  ASSERT_TRUE(o.is_ok()) << o.status().to_string();
  const RedisOptions& r = o->redis;
  EXPECT_TRUE(r.tls.enabled);
  EXPECT_EQ(r.tls.ca_certs, ca);
  ASSERT_EQ(r.sentinels.size(), 2u);
  EXPECT_EQ(r.sentinels[1].port, 26379);
  EXPECT_EQ(r.sentinel_master, "mymaster");
  EXPECT_EQ(r.db, 2);
  EXPECT_EQ(r.username, "app");
  EXPECT_EQ(r.sentinel_password, "spw");
  auto plain = Options::from_url("redis+sentinel://h/m");
  ASSERT_TRUE(plain.is_ok());
  EXPECT_FALSE(plain->redis.tls.enabled);
  // ssl_* parameters need TLS; a rediss+sentinel URL still needs a master name.
  auto no_tls = Options::from_url("redis+sentinel://h/m?" + ca_param(ca));
  EXPECT_EQ(no_tls.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(contains(no_tls.status().message(), "needs TLS")) << no_tls.status().message();
  auto no_master = Options::from_url("rediss+sentinel://h:1/");
  EXPECT_EQ(no_master.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(contains(no_master.status().message(), "rediss+sentinel://")) << no_master.status().message();
}

TEST(RedisSentinelTls, ReadsAndWritesThroughTheMasterOverTls) {
  auto set = start_tls_set();
  EXPECT_EQ(set->url().rfind("rediss+sentinel://127.0.0.1:", 0), 0u);
  auto c = Cache::open(set->url("", ca_param() + "&l1_max_entries=0", 2));
  ASSERT_TRUE(c) << c.status().to_string();
  Cache& cache = **c;
  ASSERT_TRUE(cache.set("k", Payload{Format::kRaw, "v"}));
  auto v = cache.get("k");
  ASSERT_TRUE(v) << v.status().to_string();
  EXPECT_EQ(v->data, "v");
  auto n = cache.increment("n", 7);
  ASSERT_TRUE(n) << n.status().to_string();
  EXPECT_EQ(*n, 7);
  EXPECT_EQ(set->node(0).cli({"-n", "2", "GET", "n"}), "7");  // on the master, in db 2, read over TLS
  auto ex = cache.exists("k");
  ASSERT_TRUE(ex && *ex);
  auto got = cache.mget({"k", "absent"});
  ASSERT_TRUE(got[0]) << got[0].status().to_string();
  EXPECT_EQ(got[1].code(), StatusCode::kNotFound);
  auto d = cache.del("k");
  ASSERT_TRUE(d) << d.status().to_string();
  EXPECT_EQ(*d, 1);
  EXPECT_EQ(cache.get("k").code(), StatusCode::kNotFound);
  auto a = std::make_shared<std::promise<Result<ValueRef>>>();
  auto f = a->get_future();
  cache.get_async("n", {}, [a](Result<ValueRef> r) { a->set_value(std::move(r)); });
  ASSERT_EQ(f.wait_for(milliseconds(3000)), std::future_status::ready);
  EXPECT_EQ(f.get().code(), StatusCode::kOk);
  L2Stats st = cache.stats().l2;
  EXPECT_EQ(st.errors, 0u);
  EXPECT_EQ(st.sentinel_failures, 0u);
  EXPECT_EQ(st.master_changes, 0u);
}

TEST(RedisSentinelTls, ManualFailoverIsFollowedOverTls) {
  auto set = start_tls_set();
  ASSERT_TRUE(set->wait_until_ready());
  uint16_t old_port = set->master_port();
  ASSERT_EQ(old_port, set->node(0).port());
  auto tier = tier_for(set->url("", ca_param()));
  ASSERT_NE(tier, nullptr);
  WriterLoop writer(*tier);
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(set->sentinel(0).cli({"SENTINEL", "FAILOVER", "mymaster"}), "OK");
  auto failover_at = Clock::now();
  ASSERT_GE(ms_until_master_moves(*set, old_port, 10000), 0) << "no failover";
  std::this_thread::sleep_for(milliseconds(2000));
  writer.stop_and_join();

  std::lock_guard<std::mutex> lock(writer.mu);
  EXPECT_LT(writer.worst_ms, WriterLoop::kDeadlineMs + 100.0);  // no call hung past its deadline
  EXPECT_GT(writer.ok, 100);
  ASSERT_GT(writer.last_ok, failover_at);
  if (writer.failed > 0) {
    EXPECT_LT(ms_between(failover_at, writer.last_failure), 5000.0) << writer.first_error;
  }
  EXPECT_GT(ms_between(writer.last_failure, writer.last_ok), 1000.0);
  ASSERT_EQ(set->master_port(), set->node(1).port());
  EXPECT_EQ(set->node(1).cli({"GET", "w:" + std::to_string(writer.last_key)}), std::to_string(writer.last_key));
  L2Stats st = tier->stats();
  EXPECT_EQ(st.master_changes, 1u);
  EXPECT_GT(st.connections_discarded, 0u);
}

TEST(RedisSentinelTls, PlainSentinelsBehindARedissUrlFailCleanlyWithinTheSentinelTimeout) {
  SentinelSet::Config plain;  // plain TCP only
  plain.replicas = 0;
  auto set = SentinelSet::start(plain);
  std::string url = set->url("", ca_param() + "&sentinel_timeout=0.3");
  url.replace(0, std::string("redis").size(), "rediss");
  ASSERT_EQ(url.rfind("rediss+sentinel://", 0), 0u);
  auto tier = tier_for(url);
  auto t = Clock::now();
  auto r = tier->get("k", in_ms(5000));
  double took = ms_since(t);
  EXPECT_LT(took, 3 * 300.0 + 200.0);  // at most one sentinel_timeout per sentinel
  EXPECT_EQ(r.code(), StatusCode::kUnavailable) << r.status().to_string();
  std::string m = r.status().message();
  EXPECT_TRUE(contains(m, "no sentinel gave a usable master for 'mymaster'")) << m;
  for (size_t i = 0; i < 3; ++i) EXPECT_TRUE(contains(m, "127.0.0.1:" + std::to_string(set->sentinel(i).port()))) << m;
  // The data node was never written to.
  EXPECT_EQ(set->node(0).cli({"DBSIZE"}), "0");
  EXPECT_EQ(tier->stats().sentinel_failures, 1u);
}

// As on rediss:// and rediss+cluster://: a certificate failing verification is
// kPermissionDenied (EAUTH), a configuration to fix, not an outage to ride out.
TEST(RedisSentinelTls, WrongCaFailsClosedAsPermissionDeniedNamingTheVerifyResult) {
  auto set = start_tls_set(0, 2);
  auto tier = tier_for(set->url("", ca_param(TestPki::get().other_ca_cert)));
  auto t = Clock::now();
  auto r = tier->set("k", "v", 0, in_ms(3000));
  EXPECT_LT(ms_since(t), 3000.0);
  EXPECT_EQ(r.code(), StatusCode::kPermissionDenied) << r.to_string();
  EXPECT_TRUE(contains(r.message(), "certificate verify failed")) << r.to_string();
  for (size_t i = 0; i < 2; ++i) EXPECT_TRUE(contains(r.message(), std::to_string(set->sentinel(i).port()))) << r.to_string();
  EXPECT_EQ(set->node(0).cli({"DBSIZE"}), "0");
  // One sentinel down, the other refusing verification: an outage after all.
  set->sentinel(0).kill9();
  auto down = tier_for(set->url("", ca_param(TestPki::get().other_ca_cert)))->get("k", in_ms(3000));
  EXPECT_EQ(down.code(), StatusCode::kUnavailable) << down.status().to_string();
}

TEST(RedisSentinelTls, UnloadableCaFileFailsEveryCallNamingTheFile) {
  auto set = start_tls_set(0, 1);
  std::string bad = TestPki::get().dir + "/not-a-certificate.pem";
  std::ofstream(bad) << "not a certificate\n";
  auto tier = tier_for(set->url("", ca_param(bad)));
  for (int i = 0; i < 2; ++i) {
    auto r = tier->get("k", in_ms(2000));
    EXPECT_EQ(r.code(), StatusCode::kInvalidArgument) << r.status().to_string();
    EXPECT_TRUE(contains(r.status().message(), bad)) << r.status().to_string();
  }
}

}  // namespace
}  // namespace stratacache
