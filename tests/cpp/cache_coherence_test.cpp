// Coherent L1 (docs/coherence.md, core/src/coherence.hpp) against a real redis-server:
// two caches A and B on one server, each with its own connections, as two processes
// would be. A keeps copies in L1; whatever changes the key in Redis (B, another client,
// expiry, eviction, FLUSHDB) must reach A's L1, and any gap in coverage (a killed
// channel or data connection, a restart) must empty it.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <ostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "cache_test_hooks.hpp"
#include "stratacache/cache.hpp"
#include "support/coherent.hpp"
#include "support/redis_server.hpp"
#include "support/open_cache.hpp"

namespace stratacache {
namespace {

using testing::RedisServer;
using std::chrono::milliseconds;

const std::string kPrefix = "co:";

using testing::wait_until;

using testing::open_or_die;

// What a read returns, as one comparable string: the value, "<miss>" or the error.
std::string read(Cache& c, const std::string& key, const CallOptions& call = {}) {
  auto r = c.get(key, call);
  if (r) return r->data;
  return r.code() == StatusCode::kNotFound ? "<miss>" : "<error " + r.status().to_string() + ">";
}

bool in_l1(Cache& c, const std::string& key) {
  CallOptions l1_only;
  l1_only.skip_l2 = true;
  return c.get(key, l1_only).is_ok();
}

using testing::raw;

CallOptions ttl_ms(int64_t ms) {
  CallOptions c;
  c.ttl_ms = ms;  // 0: no expiry
  return c;
}

// The `name=value` field of one CLIENT LIST line ("" when absent).
std::string field(const std::string& line, const std::string& name) {
  size_t at = line.find(" " + name + "=");
  if (at == std::string::npos) {
    if (line.rfind(name + "=", 0) != 0) return "";
    at = 0;
  } else {
    at += 1;
  }
  at += name.size() + 1;
  size_t end = line.find(' ', at);
  return line.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

// IDs of the server's clients whose CLIENT LIST flags satisfy `pick`.
std::vector<std::string> client_ids(const RedisServer& server, const std::function<bool(const std::string&)>& pick) {
  std::vector<std::string> ids;
  std::string list = server.cli({"CLIENT", "LIST"});
  size_t pos = 0;
  while (pos < list.size()) {
    size_t end = list.find('\n', pos);
    if (end == std::string::npos) end = list.size();
    std::string line = list.substr(pos, end - pos);
    if (!line.empty() && pick(field(line, "flags"))) ids.push_back(field(line, "id"));
    pos = end + 1;
  }
  return ids;
}

// An invalidation channel is subscribed (flag P); a tracked data connection has
// tracking on (flag t) without being subscribed.
bool is_channel(const std::string& flags) { return flags.find('P') != std::string::npos; }
bool is_tracked_data(const std::string& flags) {
  return flags.find('t') != std::string::npos && !is_channel(flags);
}

// A and B on one server, same prefix, separate connections. A reads raw values written
// by redis-cli (foreign_values=raw); B is only a writer.
class CoherenceFixture : public ::testing::Test {
 protected:
  void SetUp() override { server = RedisServer::start(); }

  std::string url(const std::string& mode) const {
    return server->url("", 0, "prefix=" + kPrefix + "&foreign_values=raw&l1_coherence=" + mode);
  }
  void open(const std::string& mode_a, const std::string& mode_b) {
    a = open_or_die(url(mode_a));
    b = open_or_die(url(mode_b));
    ASSERT_TRUE(a && b);
  }
  // Opens A and B in `mode` and waits until A's channel is up (a first request starts it).
  void open_coherent(const std::string& mode, const std::string& mode_b = "") {
    ASSERT_NO_FATAL_FAILURE(open(mode, mode_b.empty() ? mode : mode_b));
    ASSERT_TRUE(wait_up(*a));
  }
  static bool wait_up(Cache& c) {
    (void)c.get("warm-up");
    return wait_until([&] {
      HealthInfo h = c.health();
      return h.coherence_up && h.coherence_channels > 0;
    });
  }

  std::string cli(const std::vector<std::string>& args) const { return server->cli(args); }
  L1Stats a_l1() const { return a->stats().l1; }

  // A reads `key` (expecting `value`) and then serves it from L1.
  ::testing::AssertionResult load(const std::string& key, const std::string& value) {
    if (std::string got = read(*a, key); got != value) return ::testing::AssertionFailure() << "read " << got;
    uint64_t hits = a_l1().hits;
    if (std::string got = read(*a, key); got != value) return ::testing::AssertionFailure() << "reread " << got;
    if (a_l1().hits <= hits) return ::testing::AssertionFailure() << "the second read was not an L1 hit";
    return ::testing::AssertionSuccess();
  }
  bool wait_invalidations_above(uint64_t before) {
    return wait_until([&] { return a_l1().invalidations > before; });
  }

  std::unique_ptr<RedisServer> server;
  std::unique_ptr<Cache> a, b;
};

// ---- Tracking: every way Redis changes a key A holds ----

using CoherenceTracking = CoherenceFixture;

TEST_F(CoherenceTracking, OwnWriteIsServedFromL1UntilAnotherWriterChangesIt) {
  ASSERT_NO_FATAL_FAILURE(open_coherent("tracking"));
  ASSERT_TRUE(a->set("k", raw("mine")));
  uint64_t hits = a_l1().hits;
  EXPECT_EQ(read(*a, "k"), "mine");
  EXPECT_GT(a_l1().hits, hits) << "A's own write must be served from L1";
  uint64_t before = a_l1().invalidations;
  ASSERT_TRUE(b->set("k", raw("theirs")));  // A's write re-tracked the key (SET + PTTL script)
  ASSERT_TRUE(wait_invalidations_above(before));
  EXPECT_EQ(read(*a, "k"), "theirs");
}

// The channel connects in the background from open on; the first synchronous calls wait
// for its first attempt, so open + set + get (and open + get + get) are L1 hits. (In
// broadcast mode a process's own write comes back as an invalidation: not checked there.)
TEST_F(CoherenceTracking, FirstCallsAfterOpenAreKeptInL1) {
  for (std::string mode : {"tracking", "broadcast"}) {
    auto writer = open_or_die(url(mode));
    ASSERT_TRUE(writer->set("own", raw("mine")));
    if (mode == "tracking") {
      EXPECT_TRUE(in_l1(*writer, "own")) << "the first write after open";
    }
    auto reader = open_or_die(url(mode));
    EXPECT_EQ(read(*reader, "own"), "mine");
    EXPECT_TRUE(in_l1(*reader, "own")) << mode << ": the first read after open";
    uint64_t before = reader->stats().l1.invalidations;
    ASSERT_TRUE(writer->set("own", raw("changed")));
    EXPECT_TRUE(wait_until([&] { return reader->stats().l1.invalidations > before; })) << mode;
    EXPECT_EQ(read(*reader, "own"), "changed") << mode;
  }
}

TEST_F(CoherenceTracking, WriteByAnotherCacheReachesL1) {
  ASSERT_NO_FATAL_FAILURE(open_coherent("tracking"));
  ASSERT_TRUE(b->set("k", raw("v1")));
  ASSERT_TRUE(load("k", "v1"));
  uint64_t before = a_l1().invalidations;
  ASSERT_TRUE(b->set("k", raw("v2")));
  EXPECT_TRUE(wait_until([&] { return read(*a, "k") == "v2"; }));
  EXPECT_GT(a_l1().invalidations, before);
}

TEST_F(CoherenceTracking, DeleteByAnotherCacheReachesL1) {
  ASSERT_NO_FATAL_FAILURE(open_coherent("tracking"));
  ASSERT_TRUE(b->set("k", raw("v1")));
  ASSERT_TRUE(load("k", "v1"));
  uint64_t before = a_l1().invalidations;
  ASSERT_EQ(*b->del("k"), 1);
  EXPECT_TRUE(wait_until([&] { return read(*a, "k") == "<miss>"; }));
  EXPECT_GT(a_l1().invalidations, before);
}

TEST_F(CoherenceTracking, ExpireAndPexpireByAnotherClientReachL1) {
  ASSERT_NO_FATAL_FAILURE(open_coherent("tracking"));
  ASSERT_TRUE(b->set("k", raw("v1"), ttl_ms(0)));
  for (const char* command : {"EXPIRE", "PEXPIRE"}) {
    ASSERT_TRUE(load("k", "v1")) << command;
    uint64_t before = a_l1().invalidations;
    ASSERT_EQ(cli({command, kPrefix + "k", "100000"}), "1");
    EXPECT_TRUE(wait_invalidations_above(before)) << command;
    EXPECT_FALSE(in_l1(*a, "k")) << command << ": the copy (without that TTL) must be dropped";
  }
}

// Redis tells trackers when it deletes an expired key by itself (active expiry): the
// invalidation arrives although nobody touched the key.
TEST_F(CoherenceTracking, ActiveExpiryReachesL1) {
  ASSERT_NO_FATAL_FAILURE(open_coherent("tracking"));
  ASSERT_TRUE(b->set("k", raw("v1"), ttl_ms(300)));
  ASSERT_TRUE(load("k", "v1"));
  uint64_t before = a_l1().invalidations;
  ASSERT_TRUE(wait_invalidations_above(before)) << "no invalidation for the expired key";
  EXPECT_EQ(cli({"EXISTS", kPrefix + "k"}), "0");
  EXPECT_EQ(read(*a, "k"), "<miss>");
}

TEST_F(CoherenceTracking, UnlinkByAnotherClientReachesL1) {
  ASSERT_NO_FATAL_FAILURE(open_coherent("tracking"));
  ASSERT_TRUE(b->set("k", raw("v1")));
  ASSERT_TRUE(load("k", "v1"));
  uint64_t before = a_l1().invalidations;
  ASSERT_EQ(cli({"UNLINK", kPrefix + "k"}), "1");
  EXPECT_TRUE(wait_invalidations_above(before));
  EXPECT_EQ(read(*a, "k"), "<miss>");
}

TEST_F(CoherenceTracking, FlushdbEmptiesL1) {
  ASSERT_NO_FATAL_FAILURE(open_coherent("tracking"));
  ASSERT_TRUE(b->set("k", raw("v1")));
  ASSERT_TRUE(load("k", "v1"));
  uint64_t before = a_l1().flushes_server;
  ASSERT_EQ(cli({"FLUSHDB"}), "OK");
  EXPECT_TRUE(wait_until([&] { return a_l1().flushes_server > before; }));
  EXPECT_EQ(read(*a, "k"), "<miss>");
}

TEST_F(CoherenceTracking, MaxmemoryEvictionReachesL1) {
  ASSERT_NO_FATAL_FAILURE(open_coherent("tracking", "off"));
  ASSERT_TRUE(b->set("k", raw("v1")));
  ASSERT_TRUE(load("k", "v1"));
  uint64_t before = a_l1().invalidations;
  // Room for a few of B's values above what the server uses now: B's writes evict k,
  // the least recently used key.
  std::string info = cli({"INFO", "memory"});
  uint64_t used = std::stoull(info.substr(info.find("used_memory:") + 12));
  ASSERT_EQ(cli({"CONFIG", "SET", "maxmemory-policy", "allkeys-lru"}), "OK");
  ASSERT_EQ(cli({"CONFIG", "SET", "maxmemory", std::to_string(used + 256 * 1024)}), "OK");
  std::mt19937 random(7);  // incompressible values: the codec would shrink repeated bytes
  std::string filler(16 * 1024, '\0');
  bool evicted = false;
  for (int i = 0; i < 1000 && !evicted; ++i) {
    for (char& c : filler) c = static_cast<char>(random());
    (void)b->set("fill:" + std::to_string(i), raw(filler));
    if (i % 4 == 3) evicted = cli({"EXISTS", kPrefix + "k"}) == "0";
  }
  ASSERT_TRUE(evicted) << "k was never evicted";
  EXPECT_TRUE(wait_invalidations_above(before));
  EXPECT_TRUE(wait_until([&] { return read(*a, "k") == "<miss>"; }));
}

// ---- Broadcast ----

using CoherenceBroadcast = CoherenceFixture;

TEST_F(CoherenceBroadcast, WriteAndDeleteByAnotherCacheReachL1) {
  ASSERT_NO_FATAL_FAILURE(open_coherent("broadcast"));
  EXPECT_EQ(a->health().coherence, "broadcast");
  uint64_t before = a_l1().invalidations;
  ASSERT_TRUE(b->set("k", raw("v1")));
  // Broadcast sends every write under the prefix, this one too: once it has arrived,
  // it cannot drop the copy loaded next.
  ASSERT_TRUE(wait_invalidations_above(before));
  ASSERT_TRUE(load("k", "v1"));
  before = a_l1().invalidations;
  ASSERT_TRUE(b->set("k", raw("v2")));
  EXPECT_TRUE(wait_until([&] { return read(*a, "k") == "v2"; }));
  EXPECT_GT(a_l1().invalidations, before);

  ASSERT_TRUE(load("k", "v2"));
  before = a_l1().invalidations;
  ASSERT_EQ(*b->del("k"), 1);
  EXPECT_TRUE(wait_until([&] { return read(*a, "k") == "<miss>"; }));
  EXPECT_GT(a_l1().invalidations, before);
}

TEST_F(CoherenceBroadcast, KeysOutsideThePrefixAreNotSent) {
  ASSERT_NO_FATAL_FAILURE(open_coherent("broadcast"));
  uint64_t before = a_l1().invalidations;
  for (int i = 0; i < 5; ++i) ASSERT_EQ(cli({"SET", "other:" + std::to_string(i), "x"}), "OK");
  // One key inside the prefix, written last: once it arrived, the others would have too
  // (one channel, in order).
  ASSERT_EQ(cli({"SET", kPrefix + "marker", "x"}), "OK");
  ASSERT_TRUE(wait_invalidations_above(before));
  EXPECT_EQ(a_l1().invalidations, before + 1) << "only co:marker may reach A";
}

// ---- Off ----

TEST(CoherenceOff, AnotherCachesWriteIsNotSeenUntilL1Ttl) {
  auto server = RedisServer::start();
  auto a = open_or_die(server->url("", 0, "prefix=" + kPrefix + "&l1_coherence=off"));
  auto b = open_or_die(server->url("", 0, "prefix=" + kPrefix + "&l1_coherence=off"));
  ASSERT_TRUE(b->set("k", raw("old")));
  EXPECT_EQ(read(*a, "k"), "old");
  ASSERT_TRUE(b->set("k", raw("new")));
  EXPECT_EQ(read(*a, "k"), "old") << "documented: without coherence L1 is stale up to l1_ttl";
  HealthInfo h = a->health();
  EXPECT_EQ(h.coherence, "off");
  EXPECT_EQ(h.coherence_channels, 0);
  EXPECT_EQ(a->stats().l1.invalidations, 0u);
  EXPECT_TRUE(client_ids(*server, is_channel).empty()) << "off opens no invalidation channel";
}

// A silent server (SIGSTOP): the channel's PING goes unanswered past socket_timeout, it
// counts as lost and L1 is emptied; once the server answers again, coverage comes back.
TEST(CoherenceSilence, UnansweredPingEmptiesL1AndCoverageComesBack) {
  auto server = RedisServer::start();
  auto a = open_or_die(server->url("", 0, "prefix=" + kPrefix + "&l1_coherence=tracking&socket_timeout=0.3"));
  ASSERT_TRUE(a->set("k", raw("v1")));
  ASSERT_TRUE(in_l1(*a, "k"));
  uint64_t before = a->stats().l1.flushes_channel;
  server->pause();
  bool lost = wait_until([&] { return a->stats().l1.flushes_channel > before; }, milliseconds(5000));
  bool emptied = !in_l1(*a, "k");
  server->resume();
  EXPECT_TRUE(lost) << "no PING timeout within 5 s (1 s of silence + socket_timeout 0.3 s)";
  EXPECT_TRUE(emptied);
  EXPECT_NE(a->health().coherence_error.find("PING"), std::string::npos) << a->health().coherence_error;
  ASSERT_TRUE(wait_until([&] { return a->health().coherence_up; }));
  ASSERT_TRUE(a->set("k", raw("v2")));
  EXPECT_TRUE(in_l1(*a, "k"));
}

// ---- Fork: the child's L1 copies were tracked for its parent ----

// A forked child empties the L1 it inherited before serving from it (counted as a fork
// flush), runs its own channel, and sees another writer's change; the parent keeps its
// coherence.
TEST_F(CoherenceTracking, ForkedChildDropsTheParentsCopiesAndRunsItsOwnChannel) {
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "TSan cannot start threads in the child of a multi-threaded fork";
#endif
  ASSERT_NO_FATAL_FAILURE(open_coherent("tracking"));
  ASSERT_TRUE(b->set("k", raw("v1")));
  ASSERT_TRUE(load("k", "v1"));
  pid_t pid = ::fork();
  if (pid == 0) {
    int code = 0;
    if (in_l1(*a, "k")) code |= 1;                        // the parent's copy is gone
    if (a->stats().l1.flushes_fork != 1) code |= 2;
    if (read(*a, "k") != "v1") code |= 4;                 // from Redis
    if (!wait_until([&] { return a->health().coherence_up; })) code |= 8;
    if (!wait_until([&] { return load("k", "v1"); })) code |= 16;  // kept in the child's L1 now
    uint64_t before = a->stats().l1.invalidations;
    if (!b->set("k", raw("child-saw-this"))) code |= 32;
    if (!wait_until([&] { return a->stats().l1.invalidations > before; })) code |= 64;
    if (read(*a, "k") != "child-saw-this") code |= 128;
    ::_exit(code);
  }
  ASSERT_GT(pid, 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "bits: see the child's checks";
  // The parent's channel saw the child's write too.
  EXPECT_TRUE(wait_until([&] { return read(*a, "k") == "child-saw-this"; }));
  EXPECT_EQ(a_l1().flushes_fork, 0u);
}

// ---- A server that cannot track (here: an ACL denying CLIENT) ----
// auto falls back to off (L1 as without coherence, up to l1_ttl); an explicit tracking
// keeps nothing read from Redis in L1 and says why in health().

TEST(CoherenceUnsupported, AutoFallsBackToOffAndExplicitTrackingKeepsNothing) {
  RedisServer::Config cfg;
  cfg.acl_lines = {"user default on nopass ~* &* +@all", "user app on >apppw ~* &* +@all -client"};
  auto server = RedisServer::start(cfg);
  auto writer = open_or_die(server->url("", 0, "prefix=u:&l1_coherence=off"));
  ASSERT_TRUE(writer->set("k", raw("v")));

  auto fallback = open_or_die(server->url("app:apppw", 0, "prefix=u:"));
  EXPECT_EQ(read(*fallback, "k"), "v");
  HealthInfo h = fallback->health();
  EXPECT_EQ(h.coherence, "off");
  EXPECT_TRUE(h.coherence_up);
  EXPECT_NE(h.coherence_error.find("NOPERM"), std::string::npos) << h.coherence_error;
  EXPECT_EQ(read(*fallback, "k"), "v");
  EXPECT_TRUE(in_l1(*fallback, "k")) << "off: L1 keeps what it reads";

  auto strict = open_or_die(server->url("app:apppw", 0, "prefix=u:&l1_coherence=tracking"));
  EXPECT_EQ(read(*strict, "k"), "v");
  EXPECT_FALSE(in_l1(*strict, "k")) << "nothing would tell this process when k changes";
  h = strict->health();
  EXPECT_EQ(h.coherence, "tracking");
  EXPECT_FALSE(h.coherence_up);
  EXPECT_NE(h.coherence_error.find("NOPERM"), std::string::npos) << h.coherence_error;
}

// ---- Gaps in coverage: L1 is emptied, nothing stale is served after a write ----
// B runs without coherence so that the only channel and tracked connections are A's.

class CoherenceGaps : public CoherenceFixture {
 protected:
  void SetUp() override {
    CoherenceFixture::SetUp();
    ASSERT_NO_FATAL_FAILURE(open_coherent("tracking", "off"));
    ASSERT_TRUE(b->set("k", raw("v1")));
    ASSERT_TRUE(load("k", "v1"));
  }
  void kill(const std::vector<std::string>& ids) {
    for (const auto& id : ids) EXPECT_EQ(cli({"CLIENT", "KILL", "ID", id}), "1") << id;
  }
  // After the gap: coverage comes back and L1 serves hits again.
  void expect_recovers() {
    EXPECT_TRUE(wait_up(*a)) << a->health().coherence_error;
    EXPECT_TRUE(wait_until([&] { return load("k", "v2"); }));
  }
};

TEST_F(CoherenceGaps, KilledChannelEmptiesL1BeforeTheNextWrite) {
  auto channel = client_ids(*server, is_channel);
  ASSERT_EQ(channel.size(), 1u);
  uint64_t flushes = a_l1().flushes_channel;
  kill(channel);
  ASSERT_TRUE(wait_until([&] { return a_l1().flushes_channel > flushes; }));
  ASSERT_TRUE(b->set("k", raw("v2")));
  EXPECT_EQ(read(*a, "k"), "v2") << "the first read after B's write";
  expect_recovers();
}

TEST_F(CoherenceGaps, KilledChannelThenAnImmediateWriteConverges) {
  auto channel = client_ids(*server, is_channel);
  ASSERT_EQ(channel.size(), 1u);
  kill(channel);
  ASSERT_TRUE(b->set("k", raw("v2")));  // may land before A noticed: only convergence holds
  EXPECT_TRUE(wait_until([&] { return read(*a, "k") == "v2"; }));
  expect_recovers();
}

TEST_F(CoherenceGaps, KilledDataConnectionsEmptyL1BeforeTheNextWrite) {
  auto data = client_ids(*server, is_tracked_data);
  ASSERT_FALSE(data.empty());
  uint64_t flushes = a_l1().flushes_connection;
  kill(data);
  ASSERT_TRUE(wait_until([&] { return a_l1().flushes_connection > flushes; }));
  ASSERT_TRUE(b->set("k", raw("v2")));
  EXPECT_EQ(read(*a, "k"), "v2") << "the first read after B's write";
  expect_recovers();
}

TEST_F(CoherenceGaps, RestartedServerNeverLeavesTheOldValue) {
  uint64_t flushes = a_l1().flushes_channel;
  server->kill9();
  server->restart();
  ASSERT_TRUE(wait_until([&] { return b->set("k", raw("v2")).is_ok(); }));
  std::string first = read(*a, "k");
  EXPECT_NE(first, "v1") << "the first read after B's write";
  EXPECT_TRUE(wait_until([&] { return read(*a, "k") == "v2"; }));
  EXPECT_GT(a_l1().flushes_channel, flushes);
  expect_recovers();
}

// ---- The back-fill race: an invalidation delivered while a read is in flight ----

enum class Point { kOnL2Reply, kBeforeBackfill, kAfterBackfill };

std::atomic<void (*)(std::string_view)>& slot(Point p) {
  switch (p) {
    case Point::kOnL2Reply: return test_hooks::on_l2_reply;
    case Point::kBeforeBackfill: return test_hooks::before_backfill;
    case Point::kAfterBackfill: return test_hooks::after_backfill;
  }
  return test_hooks::on_l2_reply;
}

// Runs `act` once, inside the next read of `key` at hook point `p` (B's and A's other
// reads pass through).
struct OnceHook {
  static inline std::string key;
  static inline std::function<void()> act;
  static inline std::atomic<void (*)(std::string_view)>* installed = nullptr;
  static void run(std::string_view k) {
    if (k != key) return;
    installed->store(nullptr);
    if (auto f = std::move(act)) f();
  }
  OnceHook(Point p, std::string k, std::function<void()> f) {
    key = std::move(k);
    act = std::move(f);
    installed = &slot(p);
    installed->store(&OnceHook::run);
  }
  ~OnceHook() {
    installed->store(nullptr);
    act = nullptr;
  }
};

struct RaceCase {
  const char* mode;
  Point point;
};

std::string name(const RaceCase& c) {
  const char* point = c.point == Point::kOnL2Reply        ? "OnL2Reply"
                      : c.point == Point::kBeforeBackfill ? "BeforeBackfill"
                                                          : "AfterBackfill";
  return std::string(c.mode) + "_" + point;
}
void PrintTo(const RaceCase& c, std::ostream* os) { *os << name(c); }

class CoherenceRace : public CoherenceFixture, public ::testing::WithParamInterface<RaceCase> {};

TEST_P(CoherenceRace, InvalidationDuringTheReadLeavesNoStaleCopy) {
  ASSERT_NO_FATAL_FAILURE(open_coherent(GetParam().mode));
  // k in Redis and tracked for A, but not in A's L1, and every invalidation of the setup
  // counted: broadcast sends both SETs, tracking only the one after A's read.
  const bool broadcast = std::string(GetParam().mode) == "broadcast";
  uint64_t expected = a_l1().invalidations + (broadcast ? 2 : 1);
  ASSERT_EQ(cli({"SET", kPrefix + "k", "v1"}), "OK");
  ASSERT_EQ(read(*a, "k"), "v1");
  ASSERT_EQ(cli({"SET", kPrefix + "k", "v1"}), "OK");
  ASSERT_TRUE(wait_until([&] { return a_l1().invalidations >= expected; }));
  ASSERT_EQ(a_l1().invalidations, expected);
  ASSERT_FALSE(in_l1(*a, "k"));

  std::atomic<bool> delivered{false};
  {
    OnceHook hook(GetParam().point, "k", [&] {
      uint64_t seen = a_l1().invalidations;
      EXPECT_EQ(cli({"SET", kPrefix + "k", "v2"}), "OK");
      delivered = wait_invalidations_above(seen);
    });
    EXPECT_EQ(read(*a, "k"), "v1") << "what Redis held when read";
  }
  ASSERT_TRUE(delivered) << "the invalidation did not arrive while the read was held";
  EXPECT_EQ(read(*a, "k"), "v2") << "the fetched v1 must not stay in L1";
}

INSTANTIATE_TEST_SUITE_P(
    Coherence, CoherenceRace,
    ::testing::Values(RaceCase{"tracking", Point::kOnL2Reply}, RaceCase{"tracking", Point::kBeforeBackfill},
                      RaceCase{"tracking", Point::kAfterBackfill}, RaceCase{"broadcast", Point::kOnL2Reply},
                      RaceCase{"broadcast", Point::kBeforeBackfill}, RaceCase{"broadcast", Point::kAfterBackfill}),
    [](const ::testing::TestParamInfo<RaceCase>& i) { return name(i.param); });

}  // namespace
}  // namespace stratacache
