// Coherent L1 across topology changes (docs/coherence.md): two caches on the same
// prefix, A (the reader, whose L1 is under test) and B (the writer). A holds a key in
// L1, the topology changes (Sentinel failover, Cluster slot migration, kill -9 of a
// Cluster master), B writes the key, and A must return B's value: at once when A's L1
// was emptied by the change and A has not read the key since, and within seconds in any
// case. L1 entries live 120 s here, so only coherence can make A see a new value.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "redis/cluster_slots.hpp"
#include "stratacache/cache.hpp"
#include "support/coherent.hpp"
#include "support/failover_writer.hpp"
#include "support/redis_server.hpp"

namespace stratacache {
namespace {

using redis::key_slot;
using std::chrono::milliseconds;
using testing::ms_until_master_moves;
using testing::RedisCluster;
using testing::RedisServer;
using testing::SentinelSet;

const std::string kPrefix = "cotopo:";
// tracking, not auto: a fallback to off must fail the test, not pass it vacuously.
const std::string kQuery = "prefix=" + kPrefix + "&l1_coherence=tracking&l1_ttl=120";

// Polls `done` until it holds or `ms` have passed.
template <class Pred>
bool eventually(Pred done, int ms) {
  return testing::wait_until(done, milliseconds(ms));
}

std::unique_ptr<Cache> open_cache(const std::string& url) {
  auto c = Cache::open(url);
  EXPECT_TRUE(c) << url << ": " << c.status().to_string();
  return c ? std::move(c).value() : nullptr;
}

Payload raw(const std::string& s) { return Payload{Format::kRaw, s}; }

bool reads(Cache& cache, const std::string& key, const std::string& value, const CallOptions& call = {}) {
  auto r = cache.get(key, call);
  return r && r->data == value;
}

bool in_l1(Cache& cache, const std::string& key, const std::string& value) {
  CallOptions l1_only;
  l1_only.skip_l2 = true;
  return reads(cache, key, value, l1_only);
}

// Flushes that mean "the channel followed the change" (not a data connection closing).
uint64_t channel_flushes(const Cache& cache) {
  L1Stats s = cache.stats().l1;
  return s.flushes_channel + s.flushes_topology;
}

// For failure messages: the reader's coherence counters and health.
std::string describe(Cache& cache) {
  L1Stats s = cache.stats().l1;
  HealthInfo h = cache.health();
  return "l1 hits " + std::to_string(s.hits) + ", invalidations " + std::to_string(s.invalidations) + ", flushes " +
         std::to_string(s.coherence_flushes) + " (channel " + std::to_string(s.flushes_channel) + ", connection " +
         std::to_string(s.flushes_connection) + ", topology " + std::to_string(s.flushes_topology) + ", server " +
         std::to_string(s.flushes_server) + "); coherence " + h.coherence + (h.coherence_up ? " up" : " down") +
         ", channels " + std::to_string(h.coherence_channels) + ", error '" + h.coherence_error + "'";
}

// Reads `key` until L1 holds `value` (the reads before every channel is up do not
// back-fill), then checks that a plain read is an L1 hit.
::testing::AssertionResult read_into_l1(Cache& cache, const std::string& key, const std::string& value) {
  bool held = eventually(
      [&] { return cache.health().coherence_up && reads(cache, key, value) && in_l1(cache, key, value); }, 5000);
  if (!held) return ::testing::AssertionFailure() << key << "=" << value << " never got into L1: " << describe(cache);
  uint64_t hits = cache.stats().l1.hits;
  if (!reads(cache, key, value)) return ::testing::AssertionFailure() << key << " no longer reads " << value;
  if (cache.stats().l1.hits <= hits) return ::testing::AssertionFailure() << key << ": no L1 hit: " << describe(cache);
  return ::testing::AssertionSuccess();
}

// The first read that reached an answer (a value or a miss, not an L2 failure).
Result<Payload> first_answer(Cache& cache, const std::string& key, int ms) {
  Result<Payload> r = cache.get(key);
  eventually(
      [&] {
        r = cache.get(key);
        return r || (r.code() != StatusCode::kUnavailable && r.code() != StatusCode::kTimeout);
      },
      ms);
  return r;
}

// ---- Sentinel ----

TEST(CoherenceTopologySentinel, FailoverThenAWriteOnTheNewMasterReachesL1) {
  auto set = SentinelSet::start();
  ASSERT_TRUE(set->wait_until_ready());
  uint16_t old_port = set->master_port();
  auto a = open_cache(set->url("", kQuery));
  auto b = open_cache(set->url("", kQuery));
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(b->set("k", raw("v1")));
  ASSERT_TRUE(read_into_l1(*a, "k", "v1"));
  uint64_t flushes = channel_flushes(*a);

  ASSERT_EQ(set->sentinel(0).cli({"SENTINEL", "FAILOVER", "mymaster"}), "OK");
  ASSERT_GE(ms_until_master_moves(*set, old_port, 10000), 0) << "no failover";
  RedisServer* new_master = set->node_on(set->master_port());
  ASSERT_NE(new_master, nullptr);
  // A's channel follows the new master, emptying A's L1.
  ASSERT_TRUE(eventually([&] { return channel_flushes(*a) > flushes; }, 5000)) << describe(*a);
  // B's writes land on the new master (the old one stays writable for ~10 s after
  // SENTINEL FAILOVER: B's watcher is what moves them); a fresh probe key per attempt.
  int probe = 0;
  ASSERT_TRUE(eventually(
      [&] {
        std::string key = "probe:" + std::to_string(++probe);
        return b->set(key, raw("p")).is_ok() && new_master->cli({"EXISTS", kPrefix + key}) == "1";
      },
      5000))
      << "B's writes never reached the new master";
  // A's data connections follow the new master by A's own watcher, which may lag
  // behind B's: until they do, A's reads still reach the old master (which holds v1).
  ASSERT_TRUE(eventually(
      [&] {
        std::string key = "probe:" + std::to_string(++probe);
        return a->set(key, raw("p")).is_ok() && new_master->cli({"EXISTS", kPrefix + key}) == "1";
      },
      5000))
      << "A's requests never reached the new master";
  ASSERT_TRUE(b->set("k", raw("v2")));

  // A's L1 was emptied and A has not read k since: its first read is B's value.
  auto first = a->get("k");
  EXPECT_TRUE(first && first->data == "v2")
      << (first ? "read " + first->data : first.status().to_string()) << "; " << describe(*a);
  EXPECT_TRUE(eventually([&] { return reads(*a, "k", "v2"); }, 10000)) << describe(*a);

  // Coherence comes back up on the new master, and its invalidations reach A.
  ASSERT_TRUE(read_into_l1(*a, "k", "v2"));
  EXPECT_EQ(a->health().coherence_channels, 1);
  uint64_t invalidations = a->stats().l1.invalidations;
  ASSERT_TRUE(b->set("k", raw("v3")));
  EXPECT_TRUE(eventually([&] { return reads(*a, "k", "v3"); }, 5000)) << describe(*a);
  EXPECT_GT(a->stats().l1.invalidations, invalidations) << describe(*a);
}

// ---- Cluster ----

// Node indexes of the masters.
std::vector<size_t> master_nodes(RedisCluster& cluster) {
  std::vector<size_t> masters;
  for (size_t i = 0; i < cluster.node_count(); ++i) {
    if (cluster.node(i).running() && cluster.node(i).cli({"ROLE"}).rfind("master", 0) == 0) masters.push_back(i);
  }
  return masters;
}

// A key "<stem><n>" whose Redis name (prefix included) hashes to a slot `owners` gives to `port`.
std::string key_on(const std::vector<uint16_t>& owners, uint16_t port, const std::string& stem) {
  for (int n = 0;; ++n) {
    std::string key = stem + std::to_string(n);
    if (owners.at(key_slot(kPrefix + key)) == port) return key;
  }
}

// A key "<stem><n>" whose Redis name hashes to `slot` (one name in ~16384 does).
std::string key_in_slot(uint16_t slot, const std::string& stem) {
  for (int n = 0;; ++n) {
    std::string key = stem + std::to_string(n);
    if (key_slot(kPrefix + key) == slot) return key;
  }
}

// 3 masters, no replicas: nothing here fails over.
class CoherenceTopologyCluster : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { cluster_ = RedisCluster::start(3, 0).release(); }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  static RedisCluster* cluster_;
};
RedisCluster* CoherenceTopologyCluster::cluster_ = nullptr;

TEST_F(CoherenceTopologyCluster, InvalidationsFromEveryMasterReachL1) {
  auto a = open_cache(cluster_->url(kQuery));
  auto b = open_cache(cluster_->url(kQuery));
  ASSERT_TRUE(a && b);
  std::vector<uint16_t> owners = cluster_->slot_owner_ports();
  std::vector<std::string> keys;
  for (size_t m : master_nodes(*cluster_)) keys.push_back(key_on(owners, cluster_->node(m).port(), "every:"));
  ASSERT_EQ(keys.size(), 3u);
  for (const auto& k : keys) ASSERT_TRUE(b->set(k, raw("old")));
  for (const auto& k : keys) ASSERT_TRUE(read_into_l1(*a, k, "old"));
  HealthInfo h = a->health();
  EXPECT_EQ(h.coherence, "tracking");
  EXPECT_TRUE(h.coherence_up);
  EXPECT_EQ(h.coherence_channels, 3);

  L1Stats before = a->stats().l1;
  for (const auto& k : keys) ASSERT_TRUE(b->set(k, raw("new")));
  // Each key leaves A's L1 by its own master's invalidation, not by a flush.
  for (const auto& k : keys) EXPECT_TRUE(eventually([&] { return !in_l1(*a, k, "old"); }, 5000)) << k << ": " << describe(*a);
  for (const auto& k : keys) EXPECT_TRUE(reads(*a, k, "new")) << k;
  L1Stats after = a->stats().l1;
  EXPECT_GE(after.invalidations, before.invalidations + 3) << describe(*a);
  EXPECT_EQ(after.coherence_flushes, before.coherence_flushes) << describe(*a);
}

TEST_F(CoherenceTopologyCluster, SlotMigrationThenAWriteReachesL1) {
  std::vector<size_t> masters = master_nodes(*cluster_);
  ASSERT_EQ(masters.size(), 3u);
  size_t from = masters[0], to = masters[1];
  // redis-cli --cluster reshard moves the source's lowest slots first: take a key there.
  std::vector<uint16_t> owners = cluster_->slot_owner_ports();
  uint16_t slot = 0;
  while (slot < redis::kClusterSlots && owners[slot] != cluster_->node(from).port()) ++slot;
  ASSERT_LT(slot, redis::kClusterSlots);
  std::string key = key_in_slot(slot, "mig:");
  auto a = open_cache(cluster_->url(kQuery));
  auto b = open_cache(cluster_->url(kQuery));
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(b->set(key, raw("v1")));
  ASSERT_TRUE(read_into_l1(*a, key, "v1"));

  std::string out;
  ASSERT_TRUE(cluster_->reshard(from, to, 1, 30, &out)) << out.substr(out.size() > 2000 ? out.size() - 2000 : 0);
  ASSERT_EQ(cluster_->slot_owner_port(slot, to), cluster_->node(to).port()) << "slot " << slot << " did not move";
  uint64_t moved = b->stats().l2.moved_redirects;
  ASSERT_TRUE(b->set(key, raw("v2")));
  EXPECT_GT(b->stats().l2.moved_redirects, moved);  // B learnt the move from the write itself
  EXPECT_TRUE(eventually([&] { return reads(*a, key, "v2"); }, 5000)) << describe(*a);
}

// kill -9 of a master with a replica: A's channel to it is lost (L1 emptied), the replica
// is promoted (cluster-node-timeout 2 s), B writes there, and A's first answer is B's value.
TEST(CoherenceTopologyClusterFailover, KillMasterThenAWriteOnThePromotedReplicaReachesL1) {
  auto cluster = RedisCluster::start(3, 1);
  auto a = open_cache(cluster->url(kQuery));
  auto b = open_cache(cluster->url(kQuery));
  ASSERT_TRUE(a && b);
  const std::string key = "fo:k";
  uint16_t victim = cluster->slot_owner_port(key_slot(kPrefix + key));
  ASSERT_NE(victim, 0);
  ASSERT_TRUE(b->set(key, raw("v1")));
  ASSERT_TRUE(read_into_l1(*a, key, "v1"));
  // Replication is asynchronous: make sure the replica to be promoted holds v1.
  ASSERT_EQ(cluster->node_on(victim)->cli({"WAIT", "1", "2000"}), "1");
  uint64_t flushes = channel_flushes(*a);

  cluster->node_on(victim)->kill9();
  ASSERT_TRUE(eventually([&] { return channel_flushes(*a) > flushes; }, 5000)) << describe(*a);
  ASSERT_TRUE(cluster->wait_until_ok(20)) << "the replica was not promoted";
  ASSERT_TRUE(eventually([&] { return b->set(key, raw("v2")).is_ok(); }, 15000)) << "B's writes did not resume";

  // A has not read the key since its L1 was emptied: its first answer is B's value.
  auto first = first_answer(*a, key, 15000);
  ASSERT_TRUE(first) << first.status().to_string() << "; " << describe(*a);
  EXPECT_EQ(first->data, "v2") << describe(*a);
  // Coherence comes back up on the three masters there are now.
  EXPECT_TRUE(eventually(
      [&] {
        HealthInfo h = a->health();
        return h.coherence_up && h.coherence_channels == 3;
      },
      10000))
      << describe(*a);
}

}  // namespace
}  // namespace stratacache
