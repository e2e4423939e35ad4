// The Cluster tier over TLS (rediss+cluster://) on a real TLS-only cluster: 3 masters +
// 3 replicas, client links, cluster bus and replication all over TLS with the test PKI
// (support/test_pki.hpp). Every operation on keys of every master, through the C++
// ClusterTier and through Cache::open, the asynchronous calls, MOVED after a slot
// migration, and verification failing closed within the deadline.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "redis/cluster_slots.hpp"
#include "redis/cluster_tier.hpp"
#include "remote_tier.hpp"
#include "stratacache/cache.hpp"
#include "stratacache/options.hpp"
#include "support/redis_server.hpp"
#include "support/test_pki.hpp"

namespace stratacache {
namespace {

using Clock = std::chrono::steady_clock;
using redis::ClusterTier;
using redis::key_slot;
using std::chrono::milliseconds;
using testing::migrate_slot;
using testing::RedisCluster;
using testing::RedisServer;
using testing::TestPki;

Deadline in_ms(int ms) { return Deadline::after(milliseconds(ms)); }

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

std::string ca_param(const std::string& file = TestPki::get().ca_cert) { return "ssl_ca_certs=" + file; }

uint16_t port_of(const std::string& address) {
  return static_cast<uint16_t>(std::stoi(address.substr(address.rfind(':') + 1)));
}

// The tier a URL configures (the URL parsing is part of what is tested).
std::unique_ptr<RemoteTier> tier_for(const std::string& url) {
  auto o = Options::from_url(url);
  EXPECT_TRUE(o.is_ok()) << url << ": " << o.status().to_string();
  return o ? make_redis_tier(o->redis) : nullptr;
}

ClusterTier& cluster_tier(RemoteTier& t) {
  auto* c = dynamic_cast<ClusterTier*>(&t);
  if (c == nullptr) throw std::runtime_error("not a ClusterTier");
  return *c;
}

// One asynchronous call's result (empty when it did not complete in time).
template <typename T, typename Submit>
std::optional<T> await(Submit submit, int ms = 5000) {
  auto p = std::make_shared<std::promise<T>>();
  std::future<T> f = p->get_future();
  submit([p](T r) { p->set_value(std::move(r)); });
  if (f.wait_for(milliseconds(ms)) != std::future_status::ready) return std::nullopt;
  return f.get();
}

// Keys of the form prefix + i until every master owns at least `per_master` of them.
std::vector<std::string> keys_on_every_master(RedisCluster& cluster, const std::string& prefix, size_t per_master) {
  std::vector<uint16_t> owners = cluster.slot_owner_ports();
  std::map<uint16_t, size_t> count;
  std::vector<std::string> keys;
  for (int i = 0; count.size() < 3 || std::any_of(count.begin(), count.end(), [&](auto& c) { return c.second < per_master; });
       ++i) {
    std::string k = prefix + std::to_string(i);
    ++count[owners[key_slot(k)]];
    keys.push_back(k);
  }
  return keys;
}

class RedisClusterTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { cluster_ = RedisCluster::start(RedisCluster::Config{3, 1, true}).release(); }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  void SetUp() override {
    tier_ = tier_for(cluster_->url(ca_param(), 2));  // two seeds: the rest is discovered
    ASSERT_NE(tier_, nullptr);
  }
  ClusterTier& ct() { return cluster_tier(*tier_); }

  static RedisCluster* cluster_;
  std::unique_ptr<RemoteTier> tier_;
};
RedisCluster* RedisClusterTlsTest::cluster_ = nullptr;

TEST_F(RedisClusterTlsTest, FixtureIsTlsOnlyWithBusAndReplicationOverTls) {
  EXPECT_EQ(cluster_->url().rfind("rediss+cluster://127.0.0.1:", 0), 0u);
  for (size_t i = 0; i < cluster_->node_count(); ++i) {
    RedisServer& n = cluster_->node(i);
    EXPECT_EQ(n.cli({"CONFIG", "GET", "port"}), "port\n0");
    EXPECT_EQ(n.cli({"CONFIG", "GET", "tls-cluster"}), "tls-cluster\nyes");
    EXPECT_EQ(n.cli({"CONFIG", "GET", "tls-replication"}), "tls-replication\nyes");
  }
  ASSERT_TRUE(tier_->set("fixture:k", "v", 0, in_ms(3000)));
  EXPECT_EQ(ct().masters().size(), 3u);
}

TEST_F(RedisClusterTlsTest, ClusterTierOpsOnEveryMasterOverTls) {
  std::vector<std::string> keys = keys_on_every_master(*cluster_, "tls:single:", 5);
  std::set<std::string> owners;
  for (size_t i = 0; i < keys.size(); ++i) {
    const std::string& k = keys[i];
    ASSERT_TRUE(tier_->set(k, "v" + std::to_string(i), i % 2 ? 60000 : 0, in_ms(2000))) << k;
    owners.insert(ct().slot_owner(key_slot(k)));
    // It really is on the owner, read back over TLS by redis-cli.
    RedisServer* owner = cluster_->node_on(port_of(ct().slot_owner(key_slot(k))));
    ASSERT_NE(owner, nullptr);
    EXPECT_EQ(owner->cli({"GET", k}), "v" + std::to_string(i));
  }
  EXPECT_EQ(owners.size(), 3u);
  for (size_t i = 0; i < keys.size(); ++i) {
    const std::string& k = keys[i];
    auto e = tier_->get(k, in_ms(2000));
    ASSERT_TRUE(e) << k << ": " << e.status().to_string();
    EXPECT_EQ(e->value, "v" + std::to_string(i));
    auto ttl = tier_->pttl(k, in_ms(2000));
    ASSERT_TRUE(ttl) << ttl.status().to_string();
    if (i % 2) {
      EXPECT_GT(*ttl, 50000);
    } else {
      EXPECT_EQ(*ttl, -1);
    }
    auto ex = tier_->exists(k, in_ms(2000));
    ASSERT_TRUE(ex);
    EXPECT_TRUE(*ex);
    auto n = tier_->incr_by(k + ":ctr", static_cast<int64_t>(i) + 1, 60000, in_ms(2000));
    ASSERT_TRUE(n) << n.status().to_string();
    EXPECT_EQ(*n, static_cast<int64_t>(i) + 1);
  }
  // mset / mget across every master, in input order.
  std::vector<RemoteWrite> writes;
  std::vector<std::string> read;
  for (size_t i = 0; i < keys.size(); ++i) {
    writes.push_back({keys[i] + ":m", "m" + std::to_string(i), 0});
    read.push_back(keys[i] + ":m");
    read.push_back(keys[i] + ":absent");
  }
  ASSERT_TRUE(tier_->mset(writes, in_ms(3000)));
  auto got = tier_->mget(read, in_ms(3000));
  ASSERT_EQ(got.size(), read.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    ASSERT_TRUE(got[2 * i]) << read[2 * i] << ": " << got[2 * i].status().to_string();
    EXPECT_EQ(got[2 * i]->value, "m" + std::to_string(i));
    EXPECT_EQ(got[2 * i + 1].code(), StatusCode::kNotFound);
  }
  // del of keys on every master counts what existed.
  auto d = tier_->del(keys, in_ms(3000));
  ASSERT_TRUE(d) << d.status().to_string();
  EXPECT_EQ(*d, static_cast<int64_t>(keys.size()));
  for (const std::string& k : keys) EXPECT_EQ(tier_->get(k, in_ms(2000)).code(), StatusCode::kNotFound) << k;
  // SCAN-based pattern delete on every master.
  auto n = tier_->delete_matching("tls:single:*", in_ms(5000));
  ASSERT_TRUE(n) << n.status().to_string();
  EXPECT_EQ(*n, static_cast<int64_t>(2 * keys.size()));  // the counters and the :m keys
  for (size_t i = 0; i < cluster_->node_count(); ++i) {
    EXPECT_EQ(cluster_->node(i).cli({"SCAN", "0", "MATCH", "tls:single:*", "COUNT", "1000"}), "0") << i;
  }
  auto h = tier_->health(in_ms(2000));
  EXPECT_TRUE(h.healthy) << h.error;
  EXPECT_EQ(tier_->stats().errors, 0u);
}

TEST_F(RedisClusterTlsTest, CacheOpenRedissClusterUrlRunsEveryOperation) {
  auto c = Cache::open(cluster_->url(ca_param() + "&l1_max_entries=0", 1));  // no L1: every call reaches Redis
  ASSERT_TRUE(c) << c.status().to_string();
  Cache& cache = **c;
  std::vector<std::string> keys = keys_on_every_master(*cluster_, "tls:cache:", 3);
  for (size_t i = 0; i < keys.size(); ++i) {
    CallOptions call;
    call.ttl_ms = i % 2 ? 60000 : 0;
    ASSERT_TRUE(cache.set(keys[i], Payload{Format::kRaw, "p" + std::to_string(i)}, call)) << keys[i];
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    auto v = cache.get(keys[i]);
    ASSERT_TRUE(v) << keys[i] << ": " << v.status().to_string();
    EXPECT_EQ(v->data, "p" + std::to_string(i));
    auto ex = cache.exists(keys[i]);
    ASSERT_TRUE(ex) << ex.status().to_string();
    EXPECT_TRUE(*ex);
    auto ttl = cache.ttl_ms(keys[i]);
    ASSERT_TRUE(ttl) << ttl.status().to_string();
    if (i % 2) {
      EXPECT_GT(*ttl, 50000);
    } else {
      EXPECT_EQ(*ttl, -1);
    }
    auto n = cache.increment(keys[i] + ":n", 3);
    ASSERT_TRUE(n) << n.status().to_string();
    EXPECT_EQ(*n, 3);
  }
  std::vector<std::pair<std::string, Payload>> items;
  std::vector<std::string> many;
  for (size_t i = 0; i < keys.size(); ++i) {
    items.push_back({keys[i] + ":m", Payload{Format::kRaw, "m" + std::to_string(i)}});
    many.push_back(keys[i] + ":m");
  }
  ASSERT_TRUE(cache.mset(items));
  many.push_back("tls:cache:absent");
  auto got = cache.mget(many);
  ASSERT_EQ(got.size(), many.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    ASSERT_TRUE(got[i]) << many[i] << ": " << got[i].status().to_string();
    EXPECT_EQ(got[i]->data, "m" + std::to_string(i));
  }
  EXPECT_EQ(got.back().code(), StatusCode::kNotFound);
  auto d = cache.del(keys);
  ASSERT_TRUE(d) << d.status().to_string();
  EXPECT_EQ(*d, static_cast<int64_t>(keys.size()));
  EXPECT_EQ(cache.get(keys[0]).code(), StatusCode::kNotFound);
  auto cleared = cache.clear_pattern("tls:cache:*");
  ASSERT_TRUE(cleared) << cleared.status().to_string();
  EXPECT_EQ(*cleared, static_cast<int64_t>(2 * keys.size()));  // the counters and the :m keys
  auto gone = cache.exists(keys[0] + ":m");
  ASSERT_TRUE(gone) << gone.status().to_string();
  EXPECT_FALSE(*gone);
  EXPECT_TRUE(cache.health().healthy);
  EXPECT_EQ(cache.stats().l2.errors, 0u);
}

TEST_F(RedisClusterTlsTest, AsyncGetSetDelOnEveryMasterOverTls) {
  ASSERT_TRUE(tier_->async_native());
  std::vector<std::string> keys = keys_on_every_master(*cluster_, "tls:async:", 5);
  for (size_t i = 0; i < keys.size(); ++i) {
    auto put = await<Status>([&](auto cb) { tier_->set_async(keys[i], "a" + std::to_string(i), 60000, in_ms(3000), cb); });
    ASSERT_TRUE(put) << keys[i] << ": no completion";
    ASSERT_TRUE(*put) << keys[i] << ": " << put->to_string();
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    auto e = await<Result<RemoteEntry>>([&](auto cb) { tier_->get_async(keys[i], in_ms(3000), cb); });
    ASSERT_TRUE(e) << keys[i] << ": no completion";
    ASSERT_TRUE(*e) << keys[i] << ": " << e->status().to_string();
    EXPECT_EQ((*e)->value, "a" + std::to_string(i));
    EXPECT_GT((*e)->pttl_ms, 50000);
  }
  auto d = await<Result<int64_t>>([&](auto cb) { tier_->del_async(keys, in_ms(3000), cb); });
  ASSERT_TRUE(d && *d) << (d ? d->status().to_string() : "no completion");
  EXPECT_EQ(**d, static_cast<int64_t>(keys.size()));
  auto miss = await<Result<RemoteEntry>>([&](auto cb) { tier_->get_async(keys[0], in_ms(3000), cb); });
  ASSERT_TRUE(miss);
  EXPECT_EQ(miss->code(), StatusCode::kNotFound);

  // The same through the Cache facade.
  auto c = Cache::open(cluster_->url(ca_param() + "&l1_max_entries=0", 2));
  ASSERT_TRUE(c) << c.status().to_string();
  Cache& cache = **c;
  EXPECT_TRUE(cache.l2_async_native());
  for (size_t i = 0; i < keys.size(); ++i) {
    auto put = await<Status>([&](auto cb) { cache.set_async(keys[i], Payload{Format::kRaw, "c" + std::to_string(i)}, {}, cb); });
    ASSERT_TRUE(put && *put) << keys[i] << ": " << (put ? put->to_string() : "no completion");
    auto v = await<Result<ValueRef>>([&](auto cb) { cache.get_async(keys[i], {}, cb); });
    ASSERT_TRUE(v && *v) << keys[i] << ": " << (v ? v->status().to_string() : "no completion");
    EXPECT_EQ((*v)->data(), "c" + std::to_string(i));
  }
  auto cd = await<Result<int64_t>>([&](auto cb) { cache.del_async(keys, {}, cb); });
  ASSERT_TRUE(cd && *cd) << (cd ? cd->status().to_string() : "no completion");
  EXPECT_EQ(**cd, static_cast<int64_t>(keys.size()));
  EXPECT_EQ(tier_->stats().errors, 0u);
}

TEST_F(RedisClusterTlsTest, MovedAfterSlotMigrationIsFollowedOverTls) {
  const std::string key = "tls:moved:{tm1}", akey = "tls:moved:{tm2}";
  ASSERT_TRUE(tier_->set(key, "before", 0, in_ms(2000)));
  ASSERT_TRUE(tier_->set(akey, "abefore", 0, in_ms(2000)));
  // MIGRATE between the nodes runs over TLS too (--tls-cluster).
  uint16_t old_owner = port_of(ct().slot_owner(key_slot(key)));
  uint16_t dst = migrate_slot(*cluster_, key_slot(key), {key}, true);
  ASSERT_NE(dst, 0);
  ASSERT_NE(old_owner, dst);
  uint64_t moved = ct().moved_redirects();
  auto e = tier_->get(key, in_ms(2000));
  ASSERT_TRUE(e) << e.status().to_string();
  EXPECT_EQ(e->value, "before");
  EXPECT_EQ(ct().moved_redirects(), moved + 1);
  EXPECT_EQ(port_of(ct().slot_owner(key_slot(key))), dst);
  ASSERT_TRUE(tier_->set(key, "after", 0, in_ms(2000)));
  EXPECT_EQ(cluster_->node_on(dst)->cli({"GET", key}), "after");
  EXPECT_EQ(ct().moved_redirects(), moved + 1);  // straight to the new owner

  // The asynchronous path follows MOVED from its completion.
  uint16_t adst = migrate_slot(*cluster_, key_slot(akey), {akey}, true);
  ASSERT_NE(adst, 0);
  moved = ct().moved_redirects();
  auto ae = await<Result<RemoteEntry>>([&](auto cb) { tier_->get_async(akey, in_ms(2000), cb); });
  ASSERT_TRUE(ae && *ae) << (ae ? ae->status().to_string() : "no completion");
  EXPECT_EQ((*ae)->value, "abefore");
  EXPECT_EQ(ct().moved_redirects(), moved + 1);
  EXPECT_EQ(port_of(ct().slot_owner(key_slot(akey))), adst);
  EXPECT_EQ(tier_->stats().errors, 0u);
}

TEST_F(RedisClusterTlsTest, WrongCaFailsClosedWithTheVerifyResultWithinTheDeadline) {
  auto tier = tier_for(cluster_->url(ca_param(TestPki::get().other_ca_cert), 2));
  ASSERT_NE(tier, nullptr);
  auto t = Clock::now();
  auto r = tier->get("k", in_ms(1500));
  double took = ms_since(t);
  EXPECT_LT(took, 1600.0);
  EXPECT_EQ(r.code(), StatusCode::kPermissionDenied) << r.status().to_string();
  EXPECT_NE(r.status().message().find("certificate verify failed"), std::string::npos) << r.status().to_string();
  // The asynchronous path fails the same way, by its deadline.
  t = Clock::now();
  auto a = await<Status>([&](auto cb) { tier->set_async("k", "v", 0, in_ms(1500), cb); }, 3000);
  ASSERT_TRUE(a) << "no completion";
  EXPECT_LT(ms_since(t), 1600.0);
  EXPECT_NE(a->code(), StatusCode::kOk);
  EXPECT_NE(a->message().find("certificate verify failed"), std::string::npos) << a->to_string();
  // Nothing was written.
  EXPECT_EQ(cluster_->node_on(cluster_->slot_owner_port(key_slot("k")))->cli({"EXISTS", "k"}), "0");

  // A plain redis+cluster:// URL against the TLS-only cluster is unavailable, by the deadline.
  std::string plain = cluster_->url("", 2);
  plain.replace(0, std::string("rediss").size(), "redis");
  auto p = tier_for(plain);
  t = Clock::now();
  EXPECT_NE(p->get("k", in_ms(1500)).code(), StatusCode::kOk);
  EXPECT_LT(ms_since(t), 1600.0);
}

}  // namespace
}  // namespace stratacache
