// Configuration: one URL form for every language, or this struct filled by hand.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "stratacache/codec.hpp"
#include "stratacache/status.hpp"

namespace stratacache {

using Millis = std::chrono::milliseconds;

// kWTinyLfu: adaptive W-TinyLFU (Caffeine's policy), the default. kLru: plain LRU.
enum class L1Policy : uint8_t { kLru = 0, kWTinyLfu = 1 };

// How L1 copies learn that Redis changed (docs/coherence.md). URL: l1_coherence=.
// kTracking: Redis tracks the keys this process read or wrote (CLIENT TRACKING) and
//   sends an invalidation when any client changes one. kBroadcast: Redis sends every
//   change under the cache's prefix (BCAST; no per-key table on the server). kOff: L1
//   copies live until l1_ttl, whatever happens in Redis. kAuto (the default): kTracking,
//   or kOff when the server cannot track (Redis < 6, an ACL denying CLIENT or SUBSCRIBE).
enum class L1Coherence : uint8_t { kAuto = 0, kTracking = 1, kBroadcast = 2, kOff = 3 };

// TLS to Redis (rediss://). Parameter names and meanings follow redis-py.
struct RedisTlsOptions {
  // ssl_cert_reqs. As in redis-py (Python's ssl module), a client treats kOptional like
  // kRequired; kNone skips every check of the server's certificate, hostname included.
  enum class CertReqs : uint8_t { kRequired, kOptional, kNone };
  bool enabled = false;           // rediss://
  std::string ca_certs;           // ssl_ca_certs: PEM CA file (empty: the system's default CAs)
  std::string certfile;           // ssl_certfile: client certificate chain, PEM (empty: none)
  std::string keyfile;            // ssl_keyfile: its private key, PEM (empty: in certfile)
  CertReqs cert_reqs = CertReqs::kRequired;
  bool check_hostname = true;     // ssl_check_hostname: the certificate must name the host
};

// One sentinel of a Sentinel deployment.
struct SentinelAddress {
  std::string host;
  uint16_t port = 26379;
};

struct RedisOptions {
  enum class Transport : uint8_t { kNone, kTcp, kUnix };
  Transport transport = Transport::kNone;  // kNone: no L2 (mem://)
  std::string host = "127.0.0.1";
  uint16_t port = 6379;
  std::string unix_path;
  std::string username;  // empty: legacy AUTH <password>
  std::string password;  // empty: no AUTH
  int db = 0;
  Millis socket_timeout{5000};          // default per-operation deadline
  Millis socket_connect_timeout{2000};  // TCP/unix connect + handshake
  size_t max_connections = 10;          // pool size
  Millis health_check_interval{0};      // PING a connection idle longer than this (0: off)
  Millis retry_backoff_min{50};         // reconnect backoff after a failed connect
  Millis retry_backoff_max{2000};
  size_t max_reply_bytes = 80u << 20;   // one reply (guards against hostile headers)
  size_t max_reply_elements = 1u << 20; // elements in one array reply
  size_t scan_count = 1000;             // COUNT hint for SCAN in clear_pattern
  RedisTlsOptions tls;                  // kTcp only

  // Circuit breaker (see core/src/redis/redis_tier.hpp): opens after this many
  // consecutive failed operations (connection errors, timeouts; 0: no breaker, the
  // pool's reconnect backoff above applies instead).
  uint32_t circuit_breaker_threshold = 5;
  Millis circuit_breaker_cooldown{1000};       // first open period; doubles on each failed probe
  Millis circuit_breaker_cooldown_max{10000};  // cap of that growth

  // Sentinel (redis+sentinel://): non-empty `sentinels` means the master named
  // `sentinel_master` is discovered through them; host/port above are then unused.
  // username/password/db apply to the data nodes, sentinel_username/password to the
  // sentinels; tls (rediss+sentinel://) applies to the sentinels and the data nodes alike.
  std::vector<SentinelAddress> sentinels;
  std::string sentinel_master;
  std::string sentinel_username;
  std::string sentinel_password;
  Millis sentinel_timeout{500};  // connect + query, per sentinel asked
  Millis sentinel_watch_interval{250};  // background check for a new master (0: none)

  // Redis Cluster (redis+cluster://): non-empty `cluster_nodes` are the seed nodes the
  // slot map is first read from (host/port above are then unused; db must be 0).
  std::vector<SentinelAddress> cluster_nodes;
};

struct L1Options {
  size_t max_entries = 100000;
  size_t max_bytes = 256u << 20;
  L1Policy policy = L1Policy::kWTinyLfu;
  // Cap on the L1 lifetime of an entry when an L2 exists (0: the entry's own TTL). With
  // coherence on it is a safety net; with l1_coherence=off, the staleness bound.
  Millis ttl{60000};
  L1Coherence coherence = L1Coherence::kAuto;
  // Shorten each L1 lifetime by a random 0..jitter fraction (0..1) so entries written
  // together do not all expire (and reload) together. Never lengthens a TTL.
  double ttl_jitter = 0;
  // Sliding expiry: an entry not read for this long expires (0: off). Reads extend
  // it, never past the entry's own TTL.
  Millis idle_ttl{0};
  // TinyLFU doorkeeper in front of the frequency sketch.
  bool doorkeeper = false;
  // Promotion threshold: a value read from Redis enters L1 only at its N-th read
  // within its lifetime (0 or 1: at once). Writes, own loads and warm() enter at once.
  uint32_t promote_after = 0;
  // Replaces the 32-bit key hash used by the map and the frequency sketch (must be
  // deterministic and well spread). Not a URL parameter: for benchmarks that replay a
  // trace with another implementation's hash (see bench/bench_hitratio.cpp).
  uint32_t (*key_hash)(std::string_view key) = nullptr;
};

// What a read does with a value in Redis that is not a stratacache envelope (written by
// another client or application; docs/envelope.md). Either way the value stays.
enum class ForeignValues : uint8_t {
  kMiss,  // a miss, counted in stats().decode_errors
  kRaw,   // returned as it is, Format::kRaw
};

struct Options {
  RedisOptions redis;
  L1Options l1;
  CodecOptions codec;
  Format serializer = Format::kMsgPack;  // used by set(Value)
  std::string prefix;                    // prepended to every Redis key
  Millis default_ttl{300000};            // per-call ttl < 0 means this; 0 means no expiry
  // Shorten each written TTL (both tiers) by a random 0..ttl_jitter fraction (0..1), so
  // entries written together do not expire (and reload) together. URL: ttl_jitter=.
  double ttl_jitter = 0;
  size_t max_key_length = 4096;
  ForeignValues foreign_values = ForeignValues::kMiss;  // URL: foreign_values=miss|raw
  // An operation that takes longer is logged as "op.slow" (warning) through the log hook
  // (docs/metrics.md). URL: slow_op_threshold= seconds; 0: never.
  Millis slow_op_threshold{100};

  // Parse `mem://`, `redis://[user:pass@]host:port/db?...`, `rediss://...` (the same
  // over TLS; ssl_ca_certs, ssl_certfile, ssl_keyfile, ssl_cert_reqs=required|optional|none,
  // ssl_check_hostname=true|false), `unix:///path?db=0`,
  // `redis+sentinel://[user:pass@]s1:p1,s2:p2,.../mastername[/db]?...` (sentinel ports
  // default to 26379; user:pass authenticate to the data nodes, the query parameters
  // sentinel_username / sentinel_password to the sentinels).
  // Unknown parameters and bad values are kInvalidArgument naming the parameter; so are
  // ssl_* parameters without rediss:// and certificate files that cannot be read.
  static Result<Options> from_url(std::string_view url);
  // Set one parameter by its URL name (same names, units and errors as the URL).
  Status set(std::string_view name, std::string_view value);
};

}  // namespace stratacache
