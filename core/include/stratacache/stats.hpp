// Counters and health reports.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace stratacache {

struct L1Stats {
  uint64_t hits = 0, misses = 0, evictions = 0, expirations = 0;
  uint64_t rejections = 0;          // new entries the admission filter turned away (W-TinyLFU)
  uint64_t entries = 0, bytes = 0;  // current size; bytes = exact memory charged (see below)
  uint64_t payload_bytes = 0;       // key + value bytes of the current entries
  uint64_t max_entries = 0, max_bytes = 0;
  uint64_t window_max_entries = 0;  // W-TinyLFU window size chosen by the hill climber
  uint64_t sketch_bytes = 0;        // frequency sketch (not charged to entries)
  // Coherence (docs/coherence.md): keys Redis told us changed, and the times L1 was
  // emptied because coherence could not be guaranteed, in total and by reason.
  uint64_t invalidations = 0;
  uint64_t coherence_flushes = 0;
  uint64_t flushes_channel = 0;     // the invalidation channel was lost or timed out (or came back while
                                    // L1 held writes Redis had refused during the outage)
  uint64_t flushes_connection = 0;  // a tracked data connection closed
  uint64_t flushes_topology = 0;    // a new Sentinel master, Cluster slots moved or a master failed
  uint64_t flushes_server = 0;      // FLUSHDB / FLUSHALL on the server
  uint64_t flushes_fork = 0;        // a forked child dropped the copies tracked for its parent
  // Promotion threshold (l1_promote_after): Redis reads kept out of L1 below it, and
  // those that reached it (entered L1).
  uint64_t promotions_deferred = 0;
  uint64_t promotions = 0;
  // bytes = for each entry, the allocator chunk that holds its header, key and value
  // (glibc rounding and chunk header included) plus its hash-bucket slot.
};

// `errors` counts every failed operation; each failed operation also counts in exactly
// one of the kinds below it (an operation refused before it reached the server, such as
// a bad TTL, counts in `errors` only).
struct L2Stats {
  uint64_t hits = 0, misses = 0, sets = 0, deletes = 0;
  uint64_t errors = 0;             // every failed operation
  uint64_t timeouts = 0;           // kind: passed its deadline (server silent, pool busy)
  uint64_t connection_errors = 0;  // kind: connect refused / connection lost
  uint64_t auth_errors = 0;        // kind: AUTH refused, NOAUTH, NOPERM
  uint64_t server_errors = 0;      // kind: other error replies (WRONGTYPE, OOM, READONLY, LOADING, ...)
  uint64_t protocol_errors = 0;    // kind: malformed, over-limit or unexpected replies
  uint64_t fast_failures = 0;      // kind: refused at once by the pool's reconnect backoff (breaker off)
  uint64_t breaker_rejections = 0; // kind: refused at once by the open circuit breaker
  uint64_t sentinel_failures = 0;  // kind: no sentinel named a usable master
  uint64_t breaker_opens = 0;      // times the circuit breaker opened (closed -> open)
  uint64_t connect_failures = 0;   // connect attempts that failed (handshake included)
  uint64_t connections_opened = 0;
  uint64_t connections_discarded = 0;  // closed after an error, a timeout or a failover
  uint64_t master_changes = 0;     // Sentinel: the pool moved to a new master
  uint64_t moved_redirects = 0;    // Cluster: -MOVED replies followed (not failures)
  uint64_t ask_redirects = 0;      // Cluster: -ASK replies followed (not failures)
  // Value bytes (envelopes, as stored) sent to and received from Redis by the cache's
  // operations; 0 when metrics are compiled out (docs/metrics.md).
  uint64_t bytes_read = 0;
  uint64_t bytes_written = 0;
  // Circuit breakers open now (not yet closed by a successful probe): 0 or 1, on a
  // Cluster one breaker per node.
  uint64_t breakers_open = 0;
  uint64_t breaker_half_opens = 0;  // open -> half-open: a probe call let through
  uint64_t breaker_closes = 0;      // open -> closed: a probe succeeded, or the deployment changed
};

// Read-through (docs/read-through.md), counted per cache handle (all its callers).
struct ReadThroughStats {
  uint64_t loads = 0;            // leases handed to a caller to load (the loader ran)
  uint64_t load_failures = 0;    // leases abandoned (the loader failed or its caller gave up)
  uint64_t stale_served = 0;     // stale values returned because a reload failed, timed out or Redis failed
  uint64_t lease_waits = 0;      // calls that waited for another caller's load (this process or another)
  uint64_t lease_takeovers = 0;  // leases taken after another process's lease expired unfilled
  uint64_t early_refreshes = 0;  // early refreshes handed to a caller
  uint64_t negative_hits = 0;    // "does not exist" answered from a negative entry
  uint64_t fills_refused = 0;    // fills that stored nothing: the lease expired or was taken over, or the key changed
};

// Write-behind (docs/write-behind.md): one WriteBehind's counters, or in CacheStats the
// sum over the write-behinds opened on the cache.
struct WriteBehindStats {
  uint64_t pending = 0;     // writes queued now (waiting, being written or waiting to retry)
  uint64_t written = 0;     // writes the writer made
  uint64_t failed = 0;      // writes dropped after the writer failed max_retries + 1 times or finally
  uint64_t retries = 0;     // writer calls repeated after a failure
  uint64_t coalesced = 0;   // queued writes replaced by a newer write of their key before the writer saw them
  uint64_t rejected = 0;    // writes refused because the queue was full (nothing cached or queued)
  uint64_t abandoned = 0;   // writes still queued when close's deadline passed (handed to on_failure)
};

// Tags and dependencies (docs/tags.md).
struct TagStats {
  uint64_t invalidations = 0;           // invalidate_tags calls that completed
  uint64_t entries_removed = 0;         // entries they removed (dependents included)
  uint64_t dependents_invalidated = 0;  // entries removed because a key they depend on changed
};

// Distributed locks (docs/locks.md), counted per cache handle.
struct LockStats {
  uint64_t acquired = 0;   // locks acquired
  uint64_t contended = 0;  // acquire calls that found the lock held by another owner (and waited, if allowed)
  uint64_t timeouts = 0;   // acquire calls that ended without the lock: still held when their wait ran out
  uint64_t lost = 0;       // extends and releases refused: the caller no longer owned the lock (it had expired)
};

// Values encoded for L2 (envelopes; docs/metrics.md): the compression ratio is
// payload_bytes / encoded_bytes. 0 when metrics are compiled out.
struct CodecStats {
  uint64_t payload_bytes = 0;  // serialized values before compression and encryption
  uint64_t encoded_bytes = 0;  // the envelopes made of them (header, compression, encryption)
};

struct CacheStats {
  L1Stats l1;
  L2Stats l2;
  ReadThroughStats read_through;
  WriteBehindStats write_behind;
  TagStats tags;
  LockStats lock;
  CodecStats codec;
  uint64_t decode_errors = 0;   // corrupt / tampered / unknown values met on read
};

struct HealthInfo {
  bool healthy = false;
  double latency_ms = 0;        // PING round trip
  std::string version;          // INFO redis_version ("" for mem://)
  std::string used_memory;      // INFO used_memory_human (several servers: the sum, in that form)
  int64_t used_memory_bytes = 0;  // INFO used_memory (several servers: the sum)
  int64_t connected_clients = 0;
  int64_t uptime_seconds = 0;
  std::string error;            // why not healthy
  // L1 coherence: the mode in effect ("tracking", "broadcast", "off"), whether every
  // invalidation channel is up (always true when off), how many, and the last error.
  std::string coherence = "off";
  bool coherence_up = true;
  int64_t coherence_channels = 0;
  std::string coherence_error;
};

// Server INFO of one Redis node (docs/operations.md, "Server info"). Numbers are 0 and
// strings "" where the node did not report them (an ACL that refuses some sections).
struct ServerNodeInfo {
  std::string address;            // "host:port"
  std::string role;               // "master" / "slave" (INFO replication)
  std::string version;            // redis_version
  std::string error;              // why the node did not answer ("" when it did)
  int64_t connected_clients = 0;
  int64_t used_memory_bytes = 0;
  std::string used_memory_human;
  int64_t keyspace_hits = 0, keyspace_misses = 0;
  int64_t evicted_keys = 0, expired_keys = 0;
  std::vector<std::pair<std::string, int64_t>> keys;  // ("db0", count), as INFO keyspace lists them
};

// Every node's INFO and their sum. `total` holds the summed numbers (and keys per db);
// its strings are empty but used_memory_human, the sum in Redis's human form.
struct ServerInfo {
  std::vector<ServerNodeInfo> nodes;
  ServerNodeInfo total;
};

}  // namespace stratacache
