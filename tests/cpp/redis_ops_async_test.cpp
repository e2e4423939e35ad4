// Every L2 operation, waiting and asynchronous, on every deployment (standalone,
// Sentinel, Cluster): one request path, so one set of expectations.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "redis/cluster_slots.hpp"
#include "remote_tier.hpp"
#include "stratacache/cache.hpp"
#include "stratacache/options.hpp"
#include "support/coherent.hpp"
#include "support/redis_server.hpp"

namespace stratacache {
namespace {

using testing::RedisCluster;
using testing::RedisServer;
using testing::SentinelSet;

Deadline soon(int ms = 3000) { return Deadline::after(std::chrono::milliseconds(ms)); }

// The result of an asynchronous call, and the thread its completion ran on.
template <typename T>
struct Outcome {
  T value;
  std::thread::id thread;
};

template <typename T, typename Submit>
Outcome<T> await(Submit&& submit) {
  auto p = std::make_shared<std::promise<Outcome<T>>>();
  auto f = p->get_future();
  submit([p](T v) { p->set_value(Outcome<T>{std::move(v), std::this_thread::get_id()}); });
  EXPECT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  return f.get();
}

// Keys spread over the slots of every cluster master ({a}, {b}, {c} hash to different masters).
const std::vector<std::string> kKeys = {"ops:{a}1", "ops:{b}2", "ops:{c}3", "ops:{a}4", "ops:{b}5"};

// Runs every operation asynchronously, checks each result, and checks that operations
// that need a round trip complete on another thread than the submitter's.
void every_operation_async(RemoteTier& tier) {
  const auto me = std::this_thread::get_id();
  std::vector<RemoteWrite> writes;
  for (const std::string& k : kKeys) writes.push_back(RemoteWrite{k, "v-" + k, 60000});

  auto mset = await<Status>([&](auto done) { tier.mset(writes, Call{soon(), false}, done); });
  ASSERT_TRUE(mset.value) << mset.value.to_string();
  EXPECT_NE(mset.thread, me);

  auto set = await<Status>([&](auto done) { tier.set("ops:{a}single", "one", 0, Call{soon(), false}, done); });
  ASSERT_TRUE(set.value) << set.value.to_string();
  EXPECT_NE(set.thread, me);

  auto get = await<Result<RemoteEntry>>([&](auto done) { tier.get("ops:{b}2", Call{soon(), false}, done); });
  ASSERT_TRUE(get.value) << get.value.status().to_string();
  EXPECT_EQ(get.value->value, "v-ops:{b}2");
  EXPECT_GT(get.value->pttl_ms, 50000);
  EXPECT_NE(get.thread, me);

  auto miss = await<Result<RemoteEntry>>([&](auto done) { tier.get("ops:{c}none", Call{soon(), false}, done); });
  EXPECT_EQ(miss.value.code(), StatusCode::kNotFound);

  std::vector<std::string> some = {"ops:{a}1", "ops:{c}none", "ops:{c}3", "ops:{b}5"};
  auto mget = await<std::vector<Result<RemoteEntry>>>([&](auto done) { tier.mget(some, Call{soon(), false}, done); });
  ASSERT_EQ(mget.value.size(), 4u);
  EXPECT_EQ(mget.value[0]->value, "v-ops:{a}1");
  EXPECT_EQ(mget.value[1].code(), StatusCode::kNotFound);
  EXPECT_EQ(mget.value[2]->value, "v-ops:{c}3");
  EXPECT_EQ(mget.value[3]->value, "v-ops:{b}5");
  EXPECT_NE(mget.thread, me);

  auto exists = await<Result<bool>>([&](auto done) { tier.exists("ops:{a}4", Call{soon(), false}, done); });
  ASSERT_TRUE(exists.value);
  EXPECT_TRUE(*exists.value);
  auto absent = await<Result<bool>>([&](auto done) { tier.exists("ops:{a}none", Call{soon(), false}, done); });
  ASSERT_TRUE(absent.value);
  EXPECT_FALSE(*absent.value);

  auto ttl = await<Result<int64_t>>([&](auto done) { tier.pttl("ops:{a}4", Call{soon(), false}, done); });
  ASSERT_TRUE(ttl.value);
  EXPECT_GT(*ttl.value, 50000);
  auto forever = await<Result<int64_t>>([&](auto done) { tier.pttl("ops:{a}single", Call{soon(), false}, done); });
  EXPECT_EQ(forever.value.value(), -1);
  auto no_ttl = await<Result<int64_t>>([&](auto done) { tier.pttl("ops:{a}none", Call{soon(), false}, done); });
  EXPECT_EQ(no_ttl.value.code(), StatusCode::kNotFound);

  auto incr = await<Result<int64_t>>([&](auto done) { tier.incr_by("ops:{b}ctr", 5, 30000, Call{soon(), false}, done); });
  EXPECT_EQ(incr.value.value(), 5);
  incr = await<Result<int64_t>>([&](auto done) { tier.incr_by("ops:{b}ctr", -2, 0, Call{soon(), false}, done); });
  EXPECT_EQ(incr.value.value(), 3);
  auto wrong = await<Result<int64_t>>([&](auto done) { tier.incr_by("ops:{b}2", 1, 0, Call{soon(), false}, done); });
  EXPECT_EQ(wrong.value.code(), StatusCode::kWrongType);
  EXPECT_NE(wrong.value.status().message().find("not an integer"), std::string::npos) << wrong.value.status().to_string();

  std::vector<std::string> gone = {"ops:{a}1", "ops:{b}2", "ops:{c}none"};
  auto del = await<Result<int64_t>>([&](auto done) { tier.del(gone, Call{soon(), false}, done); });
  EXPECT_EQ(del.value.value(), 2);
  EXPECT_NE(del.thread, me);

  auto matching = await<Result<int64_t>>([&](auto done) { tier.delete_matching("ops:*", Call{soon(10000), false}, done); });
  EXPECT_EQ(matching.value.value(), 5);  // {c}3 {a}4 {b}5 {a}single {b}ctr
  auto after = tier.mget(kKeys, soon());
  for (const auto& r : after) EXPECT_EQ(r.code(), StatusCode::kNotFound);

  auto health = await<HealthInfo>([&](auto done) { tier.health(Call{soon(), false}, done); });
  EXPECT_TRUE(health.value.healthy) << health.value.error;
  EXPECT_EQ(health.value.version.substr(0, 2), "7.");
  EXPECT_NE(health.thread, me);

  L2Stats st = tier.stats();
  EXPECT_GE(st.hits, 4u);
  EXPECT_GE(st.misses, 2u);
  EXPECT_EQ(st.sets, 6u);
  EXPECT_EQ(st.deletes, 7u);
  EXPECT_EQ(st.errors, 1u);  // the WRONGTYPE increment
}

// A script's reply comes back as a tree: nil, integers, strings, arrays; an error reply
// is a failure with Redis's message.
void every_script_reply(RemoteTier& tier) {
  std::vector<std::string> keys = {"sc:{a}1", "sc:{a}2"};
  const std::string binary("x\0y", 3);
  auto r = tier.script("redis.call('SET', KEYS[1], ARGV[1]) redis.call('SET', KEYS[2], ARGV[2]) "
                       "return {redis.call('GET', KEYS[1]), redis.call('INCRBY', KEYS[2], 5), false, {ARGV[1]}, "
                       "redis.status_reply('FINE')}",
                       keys, {binary, "37"}, false, soon());
  ASSERT_TRUE(r) << r.status().to_string();
  ASSERT_EQ(r->kind, ScriptValue::Kind::kArray);
  ASSERT_EQ(r->items.size(), 5u);
  EXPECT_EQ(r->items[0].str, binary);
  EXPECT_EQ(r->items[1].integer, 42);
  EXPECT_EQ(r->items[2].kind, ScriptValue::Kind::kNil);
  ASSERT_EQ(r->items[3].items.size(), 1u);
  EXPECT_EQ(r->items[3].items[0].str, binary);
  EXPECT_EQ(r->items[4].str, "FINE");
  auto failed = tier.script("return redis.error_reply('NOPE it failed')", keys, {}, true, soon());
  ASSERT_FALSE(failed);
  EXPECT_NE(failed.status().message().find("NOPE it failed"), std::string::npos) << failed.status().to_string();
  auto no_key = tier.script("return 1", {}, {}, true, soon());
  EXPECT_EQ(no_key.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(tier.del(keys, soon()).value(), 2);
}

// The same through the waiting forms: the same results, on the caller's thread.
void every_operation_waiting(RemoteTier& tier) {
  std::vector<RemoteWrite> writes;
  for (const std::string& k : kKeys) writes.push_back(RemoteWrite{k, "w-" + k, 0});
  ASSERT_TRUE(tier.mset(writes, soon()));
  auto got = tier.mget(kKeys, soon());
  for (size_t i = 0; i < kKeys.size(); ++i) EXPECT_EQ(got[i]->value, "w-" + kKeys[i]);
  EXPECT_EQ(tier.incr_by("ops:{c}n", 2, 0, soon()).value(), 2);
  EXPECT_EQ(tier.del(kKeys, soon()).value(), 5);
  EXPECT_EQ(tier.delete_matching("ops:*", soon(10000)).value(), 1);
  EXPECT_TRUE(tier.health(soon()).healthy);
  every_script_reply(tier);
}


// The Cache facade: every operation asynchronous, each with the result of its waiting form.
void every_cache_operation_async(Cache& c) {
  ASSERT_TRUE(testing::wait_coherent(c));  // so that the reads below are kept in L1
  const auto me = std::this_thread::get_id();
  CallOptions call;
  auto set = await<Status>([&](auto done) { c.set_async("co:{a}1", Payload{Format::kRaw, "one"}, call, done); });
  ASSERT_TRUE(set.value) << set.value.to_string();
  std::vector<std::pair<std::string, Payload>> items = {{"co:{b}2", Payload{Format::kRaw, "two"}},
                                                        {"co:{c}3", Payload{Format::kRaw, "three"}}};
  auto mset = await<Status>([&](auto done) { c.mset_async(items, call, done); });
  ASSERT_TRUE(mset.value) << mset.value.to_string();
  EXPECT_NE(mset.thread, me);
  c.flush_l1();  // the reads below go to Redis
  auto get = await<Result<ValueRef>>([&](auto done) { c.get_async("co:{b}2", call, done); });
  ASSERT_TRUE(get.value);
  EXPECT_EQ(get.value->data(), "two");
  EXPECT_NE(get.thread, me);
  std::vector<std::string> keys = {"co:{a}1", "co:{a}none", "co:{c}3"};
  // A back-fill is rightly skipped when coherence lapsed during the read (L1 flushed, e.g.
  // a tracked connection closed on a slow sanitizer run): then read again, up to 3 times.
  Outcome<std::vector<Result<Payload>>> mget;
  uint64_t lapses = 0;
  for (int attempt = 0; attempt < 3; ++attempt) {
    c.flush_l1();
    uint64_t before = c.stats().l1.coherence_flushes;
    mget = await<std::vector<Result<Payload>>>([&](auto done) { c.mget_async(keys, call, done); });
    if (c.stats().l1.coherence_flushes == before) break;
    ++lapses;
  }
  ASSERT_LT(lapses, 3u) << "coherence lapsed during every read";
  ASSERT_EQ(mget.value.size(), 3u);
  EXPECT_EQ(mget.value[0]->data, "one");
  EXPECT_EQ(mget.value[1].code(), StatusCode::kNotFound);
  EXPECT_EQ(mget.value[2]->data, "three");
  EXPECT_NE(mget.thread, me);
  EXPECT_EQ(c.stats().l1.entries, 2u);  // back-filled from the asynchronous mget
  CallOptions no_l1;
  no_l1.skip_l1 = true;
  auto exists = await<Result<bool>>([&](auto done) { c.exists_async("co:{c}3", no_l1, done); });
  EXPECT_TRUE(exists.value.value());
  EXPECT_NE(exists.thread, me);
  CallOptions with_ttl;
  with_ttl.ttl_ms = 40000;
  auto incr = await<Result<int64_t>>([&](auto done) { c.increment_async("co:{a}n", 7, with_ttl, done); });
  EXPECT_EQ(incr.value.value(), 7);
  EXPECT_NE(incr.thread, me);
  auto ttl = await<Result<int64_t>>([&](auto done) { c.ttl_ms_async("co:{a}n", call, done); });
  EXPECT_GT(ttl.value.value(), 30000);
  auto wrong = await<Result<int64_t>>([&](auto done) { c.increment_async("co:{a}1", 1, call, done); });
  EXPECT_EQ(wrong.value.code(), StatusCode::kWrongType);
  auto del = await<Result<int64_t>>([&](auto done) { c.del_async({"co:{a}1", "co:{b}2"}, call, done); });
  EXPECT_EQ(del.value.value(), 2);
  auto cleared = await<Result<int64_t>>([&](auto done) { c.clear_pattern_async("co:*", call, done); });
  EXPECT_EQ(cleared.value.value(), 2);  // {c}3 and {a}n
  EXPECT_EQ(c.stats().l1.entries, 0u);
  auto health = await<HealthInfo>([&](auto done) { c.health_async(call, done); });
  EXPECT_TRUE(health.value.healthy) << health.value.error;
  EXPECT_NE(health.thread, me);
}

TEST(RedisOpsAsync, StandaloneEveryOperation) {
  auto server = RedisServer::start();
  auto o = Options::from_url(server->url());
  ASSERT_TRUE(o);
  auto tier = make_redis_tier(o->redis);
  ASSERT_TRUE(tier->async_native());
  every_operation_async(*tier);
  every_operation_waiting(*tier);
  auto cache = Cache::open(server->url());
  ASSERT_TRUE(cache);
  every_cache_operation_async(**cache);
}

TEST(RedisOpsAsync, SentinelEveryOperation) {
  auto set = SentinelSet::start();
  auto o = Options::from_url(set->url());
  ASSERT_TRUE(o);
  auto tier = make_redis_tier(o->redis);
  every_operation_async(*tier);
  every_operation_waiting(*tier);
  auto cache = Cache::open(set->url());
  ASSERT_TRUE(cache);
  every_cache_operation_async(**cache);
}

TEST(RedisOpsAsync, ClusterEveryOperationOnEveryMaster) {
  auto cluster = RedisCluster::start(3, 0);
  ASSERT_TRUE(cluster);
  auto o = Options::from_url(cluster->url());
  ASSERT_TRUE(o);
  auto tier = make_redis_tier(o->redis);
  // The keys of kKeys live on three different masters.
  std::set<uint16_t> owners;
  for (const char* k : {"ops:{a}1", "ops:{b}2", "ops:{c}3"}) owners.insert(cluster->slot_owner_port(redis::key_slot(k)));
  EXPECT_EQ(owners.size(), 3u);
  every_operation_async(*tier);
  every_operation_waiting(*tier);
  // Keys of two slots in one script: Redis refuses it (CROSSSLOT), nothing runs.
  auto cross = tier->script("return redis.call('SET', KEYS[2], '1')", {"sc:{a}1", "sc:{b}2"}, {}, false, soon());
  EXPECT_FALSE(cross);
  EXPECT_FALSE(tier->exists("sc:{b}2", soon()).value());
  auto cache = Cache::open(cluster->url());
  ASSERT_TRUE(cache);
  every_cache_operation_async(**cache);
}

// The dead-connection retry is the same for asynchronous requests: a SET submitted right
// after Redis closed every client connection is sent again on a new one, not lost.
TEST(RedisOpsAsync, AsyncWriteAfterClientKillIsRetriedNotLost) {
  auto server = RedisServer::start();
  auto o = Options::from_url(server->url());
  ASSERT_TRUE(o);
  auto tier = make_redis_tier(o->redis);
  auto warm = await<Status>([&](auto done) { tier->set("k", "before", 0, Call{soon(), false}, done); });
  ASSERT_TRUE(warm.value);
  for (int round = 0; round < 3; ++round) {
    server->cli({"CLIENT", "KILL", "TYPE", "normal"});
    std::string value = "after-" + std::to_string(round);
    auto set = await<Status>([&](auto done) { tier->set("k", value, 0, Call{soon(), false}, done); });
    EXPECT_TRUE(set.value) << "round " << round << ": " << set.value.to_string();
    EXPECT_EQ(server->cli({"GET", "k"}), value);
  }
  // The same for a read, through the Cache facade.
  auto cache = Cache::open(server->url());
  ASSERT_TRUE(cache);
  ASSERT_TRUE((*cache)->set("c", Payload{Format::kRaw, "x"}));
  server->cli({"CLIENT", "KILL", "TYPE", "normal"});
  CallOptions skip_l1;
  skip_l1.skip_l1 = true;
  auto got = await<Result<ValueRef>>([&](auto done) { (*cache)->get_async("c", skip_l1, done); });
  ASSERT_TRUE(got.value) << got.value.status().to_string();
  EXPECT_EQ(got.value->data(), "x");
}

// Not idempotent: an increment whose connection died after it was written is not sent
// again (it may have run); the caller sees the loss, and the next call works.
TEST(RedisOpsAsync, AsyncIncrementOnADeadConnectionIsNotRepeated) {
  auto server = RedisServer::start();
  auto o = Options::from_url(server->url());
  ASSERT_TRUE(o);
  auto tier = make_redis_tier(o->redis);
  auto warm = await<Result<int64_t>>([&](auto done) { tier->incr_by("n", 1, 0, Call{soon(), false}, done); });
  ASSERT_EQ(warm.value.value(), 1);
  server->cli({"CLIENT", "KILL", "TYPE", "normal"});
  auto lost = await<Result<int64_t>>([&](auto done) { tier->incr_by("n", 1, 0, Call{soon(), false}, done); });
  EXPECT_EQ(lost.value.code(), StatusCode::kUnavailable) << lost.value.status().to_string();
  EXPECT_EQ(server->cli({"GET", "n"}), "1");
  auto next = await<Result<int64_t>>([&](auto done) { tier->incr_by("n", 1, 0, Call{soon(), false}, done); });
  EXPECT_EQ(next.value.value(), 2);
}

}  // namespace
}  // namespace stratacache
