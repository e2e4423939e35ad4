// The L2 tier through Redis Sentinel: URL parsing, discovery, auth to sentinels and data
// nodes, manual and automatic failover (real master, replica and three sentinels).
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "remote_tier.hpp"
#include "stratacache/options.hpp"
#include "support/failover_writer.hpp"
#include "support/redis_server.hpp"

namespace stratacache {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using testing::RedisServer;
using testing::ms_until_master_moves;
using testing::SentinelSet;
using testing::WriterLoop;

Deadline in_ms(int ms) { return Deadline::after(milliseconds(ms)); }

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }
double ms_between(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); }

SentinelSet::Config sized(int replicas, int sentinels) {
  SentinelSet::Config c;
  c.replicas = replicas;
  c.sentinels = sentinels;
  return c;
}

std::unique_ptr<RemoteTier> tier_for(const std::string& url) {
  auto o = Options::from_url(url);
  EXPECT_TRUE(o.is_ok()) << o.status().to_string();
  return o ? make_redis_tier(o->redis) : nullptr;
}

TEST(RedisSentinelUrl, ParsesSentinelsMasterDbAndCredentials) {
  auto o = Options::from_url(
      "redis+sentinel://app:p%40ss@10.0.0.1:26380,sentinel-b,[::1]:26381/my%2Fmaster/3"
      "?sentinel_username=sen&sentinel_password=spw&sentinel_timeout=0.25&circuit_breaker_threshold=0"
      "&circuit_breaker_cooldown=0.5&circuit_breaker_cooldown_max=4");
  ASSERT_TRUE(o.is_ok()) << o.status().to_string();
  const RedisOptions& r = o->redis;
  EXPECT_EQ(r.transport, RedisOptions::Transport::kTcp);
  ASSERT_EQ(r.sentinels.size(), 3u);
  EXPECT_EQ(r.sentinels[0].host, "10.0.0.1");
  EXPECT_EQ(r.sentinels[0].port, 26380);
  EXPECT_EQ(r.sentinels[1].host, "sentinel-b");
  EXPECT_EQ(r.sentinels[1].port, 26379);  // the default sentinel port
  EXPECT_EQ(r.sentinels[2].host, "::1");
  EXPECT_EQ(r.sentinels[2].port, 26381);
  EXPECT_EQ(r.sentinel_master, "my/master");
  EXPECT_EQ(r.db, 3);
  EXPECT_EQ(r.username, "app");
  EXPECT_EQ(r.password, "p@ss");
  EXPECT_EQ(r.sentinel_username, "sen");
  EXPECT_EQ(r.sentinel_password, "spw");
  EXPECT_EQ(r.sentinel_timeout.count(), 250);
  EXPECT_EQ(r.circuit_breaker_threshold, 0u);
  EXPECT_EQ(r.circuit_breaker_cooldown.count(), 500);
  EXPECT_EQ(r.circuit_breaker_cooldown_max.count(), 4000);

  auto no_db = Options::from_url("redis+sentinel://h:1/m");
  ASSERT_TRUE(no_db.is_ok());
  EXPECT_EQ(no_db->redis.db, 0);
  EXPECT_EQ(no_db->redis.sentinel_master, "m");
}

TEST(RedisSentinelUrl, RejectsWhatCannotWork) {
  EXPECT_EQ(Options::from_url("redis+sentinel://h:1").code(), StatusCode::kInvalidArgument);       // no master
  EXPECT_EQ(Options::from_url("redis+sentinel://h:1/").code(), StatusCode::kInvalidArgument);      // no master
  EXPECT_EQ(Options::from_url("redis+sentinel:///m").code(), StatusCode::kInvalidArgument);        // no sentinel
  EXPECT_EQ(Options::from_url("redis+sentinel://h:1,,h2/m").code(), StatusCode::kInvalidArgument); // empty host
  EXPECT_EQ(Options::from_url("redis+sentinel://h:0/m").code(), StatusCode::kInvalidArgument);     // bad port
  EXPECT_EQ(Options::from_url("redis+sentinel://h/m/x").code(), StatusCode::kInvalidArgument);     // bad db
  auto dup = Options::from_url("redis+sentinel://h/m/1?db=2");
  EXPECT_EQ(dup.code(), StatusCode::kInvalidArgument);
  auto bad = Options::from_url("redis://h?circuit_breaker_threshold=-1");
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("circuit_breaker_threshold"), std::string::npos);
}

TEST(RedisSentinel, GetSetThroughTheDiscoveredMaster) {
  auto set = SentinelSet::start();
  auto tier = tier_for(set->url("", "", 2));
  ASSERT_TRUE(tier->set("k", "v", 0, in_ms(2000)).is_ok());
  auto r = tier->get("k", in_ms(2000));
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->value, "v");
  EXPECT_EQ(set->node(0).cli({"-n", "2", "GET", "k"}), "v");  // on the master, in db 2
  L2Stats st = tier->stats();
  EXPECT_EQ(st.errors, 0u);
  EXPECT_EQ(st.master_changes, 0u);
  EXPECT_EQ(st.connections_opened, 1u);
}

TEST(RedisSentinel, AllSentinelsDownFailsFastWithAClearError) {
  auto set = SentinelSet::start(sized(0, 3));
  std::string url = set->url();
  for (size_t i = 0; i < 3; ++i) set->sentinel(i).kill9();
  auto tier = tier_for(url);
  auto t = Clock::now();
  auto r = tier->get("k", in_ms(5000));
  EXPECT_LT(ms_since(t), 100.0);
  EXPECT_EQ(r.code(), StatusCode::kUnavailable);
  std::string m = r.status().message();
  EXPECT_NE(m.find("no sentinel gave a usable master for 'mymaster'"), std::string::npos) << m;
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_NE(m.find("127.0.0.1:" + std::to_string(set->sentinel(i).port())), std::string::npos) << m;
  }
  EXPECT_EQ(tier->stats().sentinel_failures, 1u);
}

TEST(RedisSentinel, UnknownMasterNameIsAClearError) {
  auto set = SentinelSet::start(sized(0, 1));
  std::string url = set->url();
  url.replace(url.find("/mymaster/"), 10, "/other/");
  auto r = tier_for(url)->get("k", in_ms(2000));
  EXPECT_EQ(r.code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("does not know master 'other'"), std::string::npos) << r.status().message();
}

TEST(RedisSentinel, SentinelPasswordAndAclUserOnTheDataNodes) {
  SentinelSet::Config c;
  c.sentinel_password = "sentinel-secret";
  c.acl_lines = {"user default on nopass ~* &* +@all", "user app on >app-pw ~app:* +@all -@dangerous +role"};
  auto set = SentinelSet::start(c);
  auto tier = tier_for(set->url("app:app-pw", "sentinel_password=sentinel-secret"));
  ASSERT_TRUE(tier->set("app:k", "v", 0, in_ms(2000)).is_ok());
  EXPECT_EQ(tier->get("app:k", in_ms(2000))->value, "v");
  EXPECT_EQ(tier->set("other:k", "v", 0, in_ms(2000)).code(), StatusCode::kPermissionDenied);  // the ACL applies

  auto no_sentinel_auth = tier_for(set->url("app:app-pw"));
  auto r = no_sentinel_auth->get("app:k", in_ms(2000));
  EXPECT_EQ(r.code(), StatusCode::kPermissionDenied);  // every sentinel refused: a configuration error
  EXPECT_NE(r.status().message().find("NOAUTH"), std::string::npos) << r.status().message();

  auto wrong_node_auth = tier_for(set->url("app:wrong", "sentinel_password=sentinel-secret"));
  r = wrong_node_auth->get("app:k", in_ms(2000));
  EXPECT_NE(r.code(), StatusCode::kOk);
  EXPECT_NE(r.status().message().find("AUTH"), std::string::npos) << r.status().message();
}

TEST(RedisSentinel, SentinelUsernameAuthenticatesWithAcl) {
  auto set = SentinelSet::start(sized(0, 1));
  // Sentinel's own ACL: a user allowed to ask for the master, nothing else.
  ASSERT_EQ(set->sentinel(0).cli({"ACL", "SETUSER", "asker", "on", ">asker-pw", "+sentinel|get-master-addr-by-name", "+auth"}),
            "OK");
  ASSERT_EQ(set->sentinel(0).cli({"ACL", "SETUSER", "default", "off"}), "OK");
  auto tier = tier_for(set->url("", "sentinel_username=asker&sentinel_password=asker-pw"));
  ASSERT_TRUE(tier->set("k", "v", 0, in_ms(2000)).is_ok());
  EXPECT_EQ(tier->get("k", in_ms(2000))->value, "v");
}

// The watcher thread does not cross fork(): the child starts its own on its first call
// and stops it cleanly; the parent's keeps working and stops promptly on destruction.
TEST(RedisSentinel, ForkedChildStartsItsOwnWatcherAndEveryoneStopsCleanly) {
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "TSan cannot start threads in the child of a multi-threaded fork";
#endif
  auto set = SentinelSet::start(sized(0, 1));
  auto tier = tier_for(set->url("", "sentinel_watch_interval=0.05"));
  ASSERT_TRUE(tier->set("k", "parent", 0, in_ms(2000)).is_ok());  // starts the watcher
  pid_t pid = ::fork();
  if (pid == 0) {
    int code = 0;
    auto r = tier->get("k", in_ms(2000));
    if (!r.is_ok() || r->value != "parent") code |= 1;
    if (!tier->set("k2", "child", 0, in_ms(2000)).is_ok()) code |= 2;
    std::this_thread::sleep_for(milliseconds(200));  // the child's watcher polls a few times
    auto t = Clock::now();
    tier.reset();
    if (ms_since(t) > 600) code |= 4;
    ::_exit(code);
  }
  ASSERT_GT(pid, 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  auto k2 = tier->get("k2", in_ms(2000));
  ASSERT_TRUE(k2.is_ok()) << k2.status().to_string();
  EXPECT_EQ(k2->value, "child");
  auto t = Clock::now();
  tier.reset();
  EXPECT_LT(ms_since(t), 600.0);
}

// A writer loop through a failover (support/failover_writer.hpp): every call returns by
// its deadline, and writes resume on the new master within a few seconds (after SENTINEL
// FAILOVER the old master stays writable for ~10 s: the watcher is what moves the writes
// in time).
TEST(RedisSentinel, ManualFailoverWhileWritingResumesWithinSeconds) {
  auto set = SentinelSet::start();
  ASSERT_TRUE(set->wait_until_ready());
  uint16_t old_port = set->master_port();
  ASSERT_EQ(old_port, set->node(0).port());
  auto tier = tier_for(set->url());
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
  if (writer.failed > 0) {  // any failures ended within a few seconds of the failover
    EXPECT_LT(ms_between(failover_at, writer.last_failure), 5000.0) << writer.first_error;
  }
  EXPECT_GT(ms_between(writer.last_failure, writer.last_ok), 1000.0);
  // The last write is on the new master, which is node(1).
  uint16_t new_port = set->master_port();
  ASSERT_EQ(new_port, set->node(1).port());
  EXPECT_EQ(set->node(1).cli({"GET", "w:" + std::to_string(writer.last_key)}), std::to_string(writer.last_key));
  L2Stats st = tier->stats();
  EXPECT_EQ(st.master_changes, 1u);
  EXPECT_GT(st.connections_discarded, 0u);  // connections to the old master were closed
}

// kill -9 of the master: the sentinels promote the replica after down-after-milliseconds
// (1 s); meanwhile the breaker opens, and it must not keep the new master waiting.
TEST(RedisSentinel, KillMasterWritesResumeAfterAutomaticFailoverSlow) {
  auto set = SentinelSet::start();
  ASSERT_TRUE(set->wait_until_ready());
  uint16_t old_port = set->master_port();
  auto tier = tier_for(set->url("", "circuit_breaker_threshold=3&circuit_breaker_cooldown=0.5&circuit_breaker_cooldown_max=30"));
  WriterLoop writer(*tier);
  std::this_thread::sleep_for(milliseconds(300));
  set->node(0).kill9();
  auto killed_at = Clock::now();
  double moved_ms = ms_until_master_moves(*set, old_port, 15000);
  ASSERT_GE(moved_ms, 0) << "no automatic failover";
  auto moved_at = Clock::now();
  std::this_thread::sleep_for(milliseconds(2000));
  writer.stop_and_join();

  std::lock_guard<std::mutex> lock(writer.mu);
  EXPECT_LT(writer.worst_ms, WriterLoop::kDeadlineMs + 100.0);
  ASSERT_GT(writer.failed, 0);
  ASSERT_GT(writer.last_ok, moved_at) << writer.first_error;
  // Writes resumed within a cooldown (0.5 s) of the sentinels naming the new master,
  // although the breaker had opened many times against the dead one.
  EXPECT_LT(ms_between(moved_at, writer.last_failure), 1000.0);
  EXPECT_LT(ms_between(killed_at, writer.last_failure), 10000.0);
  L2Stats st = tier->stats();
  EXPECT_GE(st.breaker_opens, 1u);
  EXPECT_EQ(st.master_changes, 1u);
  EXPECT_EQ(set->node(1).cli({"GET", "w:" + std::to_string(writer.last_key)}), std::to_string(writer.last_key));
}

// Without the watcher, the tier learns of a manual failover only when the old master is
// demoted (Sentinel reconfigures it ~10 s later) and answers -READONLY.
TEST(RedisSentinel, ReadonlyFromADemotedMasterMovesToTheNewOneSlow) {
  auto set = SentinelSet::start();
  ASSERT_TRUE(set->wait_until_ready());
  // The health check PINGs the pooled connection (Sentinel CLIENT KILLs it on demotion)
  // and opens a new one to the old master, which answers -READONLY.
  auto tier = tier_for(set->url("", "health_check_interval=0.01&sentinel_watch_interval=0"));
  ASSERT_TRUE(tier->set("k", "1", 0, in_ms(2000)).is_ok());
  uint16_t old_port = set->master_port();
  ASSERT_EQ(set->sentinel(0).cli({"SENTINEL", "FAILOVER", "mymaster"}), "OK");
  ASSERT_GE(ms_until_master_moves(*set, old_port, 10000), 0);
  // Wait until the old master is a replica (it answers READONLY to writes).
  auto t0 = Clock::now();
  while (ms_since(t0) < 15000 && set->node(0).cli({"ROLE"}).rfind("slave", 0) != 0) {
    std::this_thread::sleep_for(milliseconds(50));
  }
  ASSERT_EQ(set->node(0).cli({"ROLE"}).rfind("slave", 0), 0u);
  // incr_by is not idempotent, yet it is retried on the new master: READONLY means it did not run.
  auto v = tier->incr_by("n", 5, 0, in_ms(2000));
  ASSERT_TRUE(v.is_ok()) << v.status().to_string();
  EXPECT_EQ(*v, 5);
  EXPECT_EQ(set->node(1).cli({"GET", "n"}), "5");
  L2Stats st = tier->stats();
  EXPECT_EQ(st.master_changes, 1u);
  EXPECT_EQ(st.errors, 0u);
}

}  // namespace
}  // namespace stratacache
