#include "counters.hpp"

#include <string>
#include <string_view>

namespace stratacache_capi {

namespace {
// Prometheus families (docs/metrics.md): snake_case, base units, counters end in
// _total; the tier and other dimensions are labels.
constexpr Family kRequests{"stratacache_requests_total", MetricType::kCounter, "Reads by tier and result (L1 and Redis lookups of get, get_many, read-through)"};
constexpr Family kEvictions{"stratacache_evictions_total", MetricType::kCounter, "Entries evicted to respect the L1 bounds"};
constexpr Family kExpirations{"stratacache_expirations_total", MetricType::kCounter, "Entries removed at their TTL"};
constexpr Family kAdmissionRejections{"stratacache_admission_rejections_total", MetricType::kCounter, "New entries the W-TinyLFU admission filter turned away"};
constexpr Family kEntries{"stratacache_entries", MetricType::kGauge, "Entries now in the tier"};
constexpr Family kMemoryBytes{"stratacache_memory_bytes", MetricType::kGauge, "Memory charged to the entries now (allocator chunks + bucket slots)"};
constexpr Family kPayloadBytes{"stratacache_payload_bytes", MetricType::kGauge, "Key + value bytes of the entries now"};
constexpr Family kMaxEntries{"stratacache_max_entries", MetricType::kGauge, "Bound on entries"};
constexpr Family kMaxMemoryBytes{"stratacache_max_memory_bytes", MetricType::kGauge, "Bound on memory_bytes"};
constexpr Family kWindowMaxEntries{"stratacache_window_max_entries", MetricType::kGauge, "W-TinyLFU window size chosen by the hill climber"};
constexpr Family kSketchBytes{"stratacache_sketch_bytes", MetricType::kGauge, "Frequency sketch memory (not charged to entries)"};
constexpr Family kSets{"stratacache_sets_total", MetricType::kCounter, "Values written to Redis"};
constexpr Family kDeletes{"stratacache_deletes_total", MetricType::kCounter, "Keys deleted from Redis"};
constexpr Family kFailedOperations{"stratacache_failed_operations_total", MetricType::kCounter, "Failed Redis operations (each also counts in stratacache_errors_total by kind, unless refused before reaching the server)"};
constexpr Family kErrors{"stratacache_errors_total", MetricType::kCounter, "Failed Redis operations by kind"};
constexpr Family kBreakerTransitions{"stratacache_breaker_transitions_total", MetricType::kCounter, "Circuit breaker transitions by the state entered"};
constexpr Family kBreakersOpen{"stratacache_breakers_open", MetricType::kGauge, "Circuit breakers open now (0 or 1; a Cluster has one per node)"};
constexpr Family kConnectFailures{"stratacache_connect_failures_total", MetricType::kCounter, "Connect attempts that failed (handshake included)"};
constexpr Family kConnectionsOpened{"stratacache_connections_opened_total", MetricType::kCounter, "Connections opened"};
constexpr Family kConnectionsDiscarded{"stratacache_connections_discarded_total", MetricType::kCounter, "Connections closed after an error, a timeout or a failover"};
constexpr Family kMasterChanges{"stratacache_master_changes_total", MetricType::kCounter, "Sentinel: the pool moved to a new master"};
constexpr Family kRedirects{"stratacache_redirects_total", MetricType::kCounter, "Cluster redirects followed (not failures) by kind"};
constexpr Family kDecodeErrors{"stratacache_decode_errors_total", MetricType::kCounter, "Corrupt, tampered or unreadable values met on read (each a miss)"};
constexpr Family kInvalidations{"stratacache_invalidations_total", MetricType::kCounter, "Coherence: keys Redis reported changed (their L1 copies dropped)"};
constexpr Family kCoherenceFlushes{"stratacache_coherence_flushes_total", MetricType::kCounter, "Coherence: times L1 was emptied because coverage was lost, by reason"};
constexpr Family kReadThroughLoads{"stratacache_read_through_loads_total", MetricType::kCounter, "Read-through: leases handed to a caller to load (the loader ran)"};
constexpr Family kReadThroughLoadFailures{"stratacache_read_through_load_failures_total", MetricType::kCounter, "Read-through: leases abandoned (the loader failed or its caller gave up)"};
constexpr Family kReadThroughStaleServed{"stratacache_read_through_stale_served_total", MetricType::kCounter, "Read-through: stale values returned because a reload failed, timed out or Redis failed"};
constexpr Family kReadThroughLeaseWaits{"stratacache_read_through_lease_waits_total", MetricType::kCounter, "Read-through: calls that waited for another caller's load"};
constexpr Family kReadThroughLeaseTakeovers{"stratacache_read_through_lease_takeovers_total", MetricType::kCounter, "Read-through: leases taken after another process's lease expired unfilled"};
constexpr Family kReadThroughEarlyRefreshes{"stratacache_read_through_early_refreshes_total", MetricType::kCounter, "Read-through: early refreshes handed to a caller"};
constexpr Family kReadThroughNegativeHits{"stratacache_read_through_negative_hits_total", MetricType::kCounter, "Read-through: \"does not exist\" answered from a negative entry"};
constexpr Family kReadThroughFillsRefused{"stratacache_read_through_fills_refused_total", MetricType::kCounter, "Read-through: fills that stored nothing (lease expired or taken over, or the key changed)"};
constexpr Family kPromotions{"stratacache_promotions_total", MetricType::kCounter, "Redis reads that entered L1 (promoted) or were kept out below l1_promote_after (deferred)"};
constexpr Family kWriteBehindPending{"stratacache_write_behind_pending", MetricType::kGauge, "Write-behind: writes queued now"};
constexpr Family kWriteBehindWritten{"stratacache_write_behind_written_total", MetricType::kCounter, "Write-behind: writes the writer made"};
constexpr Family kWriteBehindFailed{"stratacache_write_behind_failed_total", MetricType::kCounter, "Write-behind: writes dropped after the writer failed max_retries + 1 times or finally"};
constexpr Family kWriteBehindRetries{"stratacache_write_behind_retries_total", MetricType::kCounter, "Write-behind: writer calls repeated after a failure"};
constexpr Family kWriteBehindCoalesced{"stratacache_write_behind_coalesced_total", MetricType::kCounter, "Write-behind: queued writes replaced by a newer write of their key"};
constexpr Family kWriteBehindRejected{"stratacache_write_behind_rejected_total", MetricType::kCounter, "Write-behind: writes refused because the queue was full"};
constexpr Family kWriteBehindAbandoned{"stratacache_write_behind_abandoned_total", MetricType::kCounter, "Write-behind: writes still queued when close's deadline passed"};
constexpr Family kTagInvalidations{"stratacache_tag_invalidations_total", MetricType::kCounter, "Tags: invalidate_tags calls that completed"};
constexpr Family kTagEntriesRemoved{"stratacache_tag_entries_removed_total", MetricType::kCounter, "Tags: entries removed by tag and dependency invalidations (dependents included)"};
constexpr Family kTagDependentsInvalidated{"stratacache_tag_dependents_invalidated_total", MetricType::kCounter, "Tags: entries removed because a key they depend on changed"};
constexpr Family kLockAcquired{"stratacache_lock_acquired_total", MetricType::kCounter, "Locks acquired"};
constexpr Family kLockContended{"stratacache_lock_contended_total", MetricType::kCounter, "Lock acquire calls that found the lock held by another owner"};
constexpr Family kLockTimeouts{"stratacache_lock_timeouts_total", MetricType::kCounter, "Lock acquire calls that ended without the lock"};
constexpr Family kLockLost{"stratacache_lock_lost_total", MetricType::kCounter, "Lock extends and releases refused because the caller no longer held the lock"};
constexpr Family kCodecBytes{"stratacache_codec_bytes_total", MetricType::kCounter, "Values encoded for Redis: payload bytes before compression and encryption, encoded bytes of their envelopes"};
constexpr Family kBytes{"stratacache_bytes_total", MetricType::kCounter, "Value bytes (envelopes as stored) sent to and received from Redis"};
}  // namespace

#define STRATACACHE_L1(field, text, ...) {"l1." #field, [](const CacheStats& s) { return s.l1.field; }, text, __VA_ARGS__}
#define STRATACACHE_L2(field, text, ...) {"l2." #field, [](const CacheStats& s) { return s.l2.field; }, text, __VA_ARGS__}
#define STRATACACHE_RT(field, text, ...) \
  {"read_through." #field, [](const CacheStats& s) { return s.read_through.field; }, text, __VA_ARGS__}
#define STRATACACHE_WB(field, text, ...) \
  {"write_behind." #field, [](const CacheStats& s) { return s.write_behind.field; }, text, __VA_ARGS__}
#define STRATACACHE_LOCK(field, text, ...) \
  {"lock." #field, [](const CacheStats& s) { return s.lock.field; }, text, __VA_ARGS__}
const Counter kCounters[] = {
    STRATACACHE_L1(hits, "L1 reads that found the key", &kRequests, "tier=\"l1\",op=\"get\",result=\"hit\""),
    STRATACACHE_L1(misses, "L1 reads that did not", &kRequests, "tier=\"l1\",op=\"get\",result=\"miss\""),
    STRATACACHE_L1(evictions, "entries evicted to respect the bounds", &kEvictions, "tier=\"l1\""),
    STRATACACHE_L1(expirations, "entries removed at their TTL", &kExpirations, "tier=\"l1\""),
    STRATACACHE_L1(rejections, "new entries the W-TinyLFU admission filter turned away", &kAdmissionRejections, "tier=\"l1\""),
    STRATACACHE_L1(entries, "entries now in L1", &kEntries, "tier=\"l1\""),
    STRATACACHE_L1(bytes, "memory charged to the entries now (allocator chunks + bucket slots)", &kMemoryBytes, "tier=\"l1\""),
    STRATACACHE_L1(payload_bytes, "key + value bytes of the entries now", &kPayloadBytes, "tier=\"l1\""),
    STRATACACHE_L1(max_entries, "bound on entries", &kMaxEntries, "tier=\"l1\""),
    STRATACACHE_L1(max_bytes, "bound on bytes", &kMaxMemoryBytes, "tier=\"l1\""),
    STRATACACHE_L1(window_max_entries, "W-TinyLFU window size chosen by the hill climber", &kWindowMaxEntries, "tier=\"l1\""),
    STRATACACHE_L1(sketch_bytes, "frequency sketch memory (not charged to entries)", &kSketchBytes, "tier=\"l1\""),
    STRATACACHE_L2(hits, "Redis reads that found the key", &kRequests, "tier=\"l2\",op=\"get\",result=\"hit\""),
    STRATACACHE_L2(misses, "Redis reads that did not", &kRequests, "tier=\"l2\",op=\"get\",result=\"miss\""),
    STRATACACHE_L2(sets, "values written to Redis", &kSets, "tier=\"l2\""),
    STRATACACHE_L2(deletes, "keys deleted from Redis", &kDeletes, "tier=\"l2\""),
    STRATACACHE_L2(errors, "every failed Redis operation (each also counts in one kind below)", &kFailedOperations, "tier=\"l2\""),
    STRATACACHE_L2(timeouts, "kind: passed its deadline (server silent, pool busy)", &kErrors, "tier=\"l2\",kind=\"timeout\""),
    STRATACACHE_L2(connection_errors, "kind: connect refused or connection lost", &kErrors, "tier=\"l2\",kind=\"connection\""),
    STRATACACHE_L2(auth_errors, "kind: AUTH refused, NOAUTH, NOPERM", &kErrors, "tier=\"l2\",kind=\"auth\""),
    STRATACACHE_L2(server_errors, "kind: other error replies (WRONGTYPE, OOM, READONLY, LOADING, ...)", &kErrors, "tier=\"l2\",kind=\"server\""),
    STRATACACHE_L2(protocol_errors, "kind: malformed, over-limit or unexpected replies", &kErrors, "tier=\"l2\",kind=\"protocol\""),
    STRATACACHE_L2(fast_failures, "kind: refused at once by the pool's reconnect backoff (breaker off)", &kErrors, "tier=\"l2\",kind=\"fast_failure\""),
    STRATACACHE_L2(breaker_rejections, "kind: refused at once by the open circuit breaker", &kErrors, "tier=\"l2\",kind=\"breaker_open\""),
    STRATACACHE_L2(sentinel_failures, "kind: no sentinel named a usable master", &kErrors, "tier=\"l2\",kind=\"sentinel\""),
    STRATACACHE_L2(breaker_opens, "times the circuit breaker opened", &kBreakerTransitions, "tier=\"l2\",state=\"open\""),
    STRATACACHE_L2(connect_failures, "connect attempts that failed (handshake included)", &kConnectFailures, "tier=\"l2\""),
    STRATACACHE_L2(connections_opened, "connections opened", &kConnectionsOpened, "tier=\"l2\""),
    STRATACACHE_L2(connections_discarded, "connections closed after an error, a timeout or a failover", &kConnectionsDiscarded, "tier=\"l2\""),
    STRATACACHE_L2(master_changes, "Sentinel: the pool moved to a new master", &kMasterChanges, "tier=\"l2\""),
    STRATACACHE_L2(moved_redirects, "Cluster: -MOVED replies followed (not failures)", &kRedirects, "tier=\"l2\",kind=\"moved\""),
    STRATACACHE_L2(ask_redirects, "Cluster: -ASK replies followed (not failures)", &kRedirects, "tier=\"l2\",kind=\"ask\""),
    {"decode_errors", [](const CacheStats& s) { return s.decode_errors; },
     "corrupt, tampered or unreadable values met on read (each a miss)", &kDecodeErrors, ""},
    STRATACACHE_L1(invalidations, "coherence: keys Redis reported changed (their L1 copies dropped)", &kInvalidations, "tier=\"l1\""),
    STRATACACHE_L1(coherence_flushes, "coherence: times L1 was emptied because coverage was lost (the reasons below)", nullptr, nullptr),
    STRATACACHE_L1(flushes_channel, "reason: an invalidation channel was lost, timed out or (re)connected", &kCoherenceFlushes, "tier=\"l1\",reason=\"channel\""),
    STRATACACHE_L1(flushes_connection, "reason: a tracked data connection closed", &kCoherenceFlushes, "tier=\"l1\",reason=\"connection\""),
    STRATACACHE_L1(flushes_topology, "reason: a new Sentinel master, Cluster slots moved or a master failed", &kCoherenceFlushes, "tier=\"l1\",reason=\"topology\""),
    STRATACACHE_L1(flushes_server, "reason: FLUSHDB / FLUSHALL on the server", &kCoherenceFlushes, "tier=\"l1\",reason=\"server\""),
    STRATACACHE_L1(flushes_fork, "reason: a forked child dropped the copies tracked for its parent", &kCoherenceFlushes, "tier=\"l1\",reason=\"fork\""),
    STRATACACHE_RT(loads, "read-through: leases handed to a caller to load (the loader ran)", &kReadThroughLoads, ""),
    STRATACACHE_RT(load_failures, "read-through: leases abandoned (the loader failed or its caller gave up)", &kReadThroughLoadFailures, ""),
    STRATACACHE_RT(stale_served, "read-through: stale values returned because a reload failed, timed out or Redis failed", &kReadThroughStaleServed, ""),
    STRATACACHE_RT(lease_waits, "read-through: calls that waited for another caller's load (this process or another)", &kReadThroughLeaseWaits, ""),
    STRATACACHE_RT(lease_takeovers, "read-through: leases taken after another process's lease expired unfilled", &kReadThroughLeaseTakeovers, ""),
    STRATACACHE_RT(early_refreshes, "read-through: early refreshes handed to a caller", &kReadThroughEarlyRefreshes, ""),
    STRATACACHE_RT(negative_hits, "read-through: \"does not exist\" answered from a negative entry", &kReadThroughNegativeHits, ""),
    STRATACACHE_RT(fills_refused, "read-through: fills that stored nothing (the lease had expired or been taken over, or the key changed while it loaded)", &kReadThroughFillsRefused, ""),
    STRATACACHE_L1(promotions_deferred, "Redis reads kept out of L1 below the promotion threshold (l1_promote_after)", &kPromotions, "tier=\"l1\",result=\"deferred\""),
    STRATACACHE_L1(promotions, "Redis reads that reached the promotion threshold and entered L1", &kPromotions, "tier=\"l1\",result=\"promoted\""),
    STRATACACHE_WB(pending, "write-behind: writes queued now (waiting, being written or waiting to retry)", &kWriteBehindPending, ""),
    STRATACACHE_WB(written, "write-behind: writes the writer made", &kWriteBehindWritten, ""),
    STRATACACHE_WB(failed, "write-behind: writes dropped after the writer failed max_retries + 1 times or finally", &kWriteBehindFailed, ""),
    STRATACACHE_WB(retries, "write-behind: writer calls repeated after a failure", &kWriteBehindRetries, ""),
    STRATACACHE_WB(coalesced, "write-behind: queued writes replaced by a newer write of their key before the writer saw them", &kWriteBehindCoalesced, ""),
    STRATACACHE_WB(rejected, "write-behind: writes refused because the queue was full (nothing cached or queued)", &kWriteBehindRejected, ""),
    STRATACACHE_WB(abandoned, "write-behind: writes still queued when close's deadline passed (given to the failure callback)", &kWriteBehindAbandoned, ""),
    {"tags.invalidations", [](const CacheStats& s) { return s.tags.invalidations; }, "tags: invalidate_tags calls that completed", &kTagInvalidations, ""},
    {"tags.entries_removed", [](const CacheStats& s) { return s.tags.entries_removed; },
     "tags: entries removed by tag and dependency invalidations (dependents included)", &kTagEntriesRemoved, ""},
    {"tags.dependents_invalidated", [](const CacheStats& s) { return s.tags.dependents_invalidated; },
     "tags: entries removed because a key they depend on was written, deleted or invalidated", &kTagDependentsInvalidated, ""},
    STRATACACHE_LOCK(acquired, "locks: locks acquired", &kLockAcquired, ""),
    STRATACACHE_LOCK(contended, "locks: acquire calls that found the lock held by another owner", &kLockContended, ""),
    STRATACACHE_LOCK(timeouts, "locks: acquire calls that ended without the lock (still held when their wait ran out)", &kLockTimeouts, ""),
    STRATACACHE_LOCK(lost, "locks: extends and releases refused because the caller no longer held the lock", &kLockLost, ""),
    STRATACACHE_L2(bytes_read, "value bytes (envelopes as stored) received from Redis", &kBytes, "tier=\"l2\",direction=\"read\""),
    STRATACACHE_L2(bytes_written, "value bytes (envelopes as stored) sent to Redis", &kBytes, "tier=\"l2\",direction=\"written\""),
    STRATACACHE_L2(breakers_open, "circuit breakers open now (a Cluster has one per node)", &kBreakersOpen, "tier=\"l2\""),
    {"codec.payload_bytes", [](const CacheStats& s) { return s.codec.payload_bytes; },
     "codec: bytes of the values encoded for Redis, before compression and encryption", &kCodecBytes, "stage=\"payload\""},
    {"codec.encoded_bytes", [](const CacheStats& s) { return s.codec.encoded_bytes; },
     "codec: bytes of the envelopes made of them (compression ratio = payload_bytes / encoded_bytes)", &kCodecBytes,
     "stage=\"encoded\""},
    STRATACACHE_L2(breaker_half_opens, "times the circuit breaker let a probe call through (open -> half-open)",
                   &kBreakerTransitions, "tier=\"l2\",state=\"half_open\""),
    STRATACACHE_L2(breaker_closes, "times the circuit breaker closed (a probe succeeded, or the deployment changed)",
                   &kBreakerTransitions, "tier=\"l2\",state=\"closed\""),
};
#undef STRATACACHE_WB
#undef STRATACACHE_LOCK
#undef STRATACACHE_RT
#undef STRATACACHE_L1
#undef STRATACACHE_L2
const size_t kCounterCount = sizeof kCounters / sizeof kCounters[0];

const Family* const kFamilies[] = {&kRequests, &kEvictions, &kExpirations, &kAdmissionRejections, &kEntries, &kMemoryBytes, &kPayloadBytes, &kMaxEntries, &kMaxMemoryBytes, &kWindowMaxEntries, &kSketchBytes, &kSets, &kDeletes, &kFailedOperations, &kErrors, &kBreakerTransitions, &kBreakersOpen, &kConnectFailures, &kConnectionsOpened, &kConnectionsDiscarded, &kMasterChanges, &kRedirects, &kDecodeErrors, &kInvalidations, &kCoherenceFlushes, &kReadThroughLoads, &kReadThroughLoadFailures, &kReadThroughStaleServed, &kReadThroughLeaseWaits, &kReadThroughLeaseTakeovers, &kReadThroughEarlyRefreshes, &kReadThroughNegativeHits, &kReadThroughFillsRefused, &kPromotions, &kWriteBehindPending, &kWriteBehindWritten, &kWriteBehindFailed, &kWriteBehindRetries, &kWriteBehindCoalesced, &kWriteBehindRejected, &kWriteBehindAbandoned, &kTagInvalidations, &kTagEntriesRemoved, &kTagDependentsInvalidated, &kLockAcquired, &kLockContended, &kLockTimeouts, &kLockLost, &kBytes, &kCodecBytes};
const size_t kFamilyCount = sizeof kFamilies / sizeof kFamilies[0];

nlohmann::json stats_to_json(const CacheStats& s) {
  nlohmann::json j = nlohmann::json::object();
  for (size_t i = 0; i < kCounterCount; ++i) {
    const Counter& c = kCounters[i];
    std::string_view name = c.name;
    size_t dot = name.find('.');
    if (dot == std::string_view::npos) j[std::string(name)] = c.read(s);
    else j[std::string(name.substr(0, dot))][std::string(name.substr(dot + 1))] = c.read(s);
  }
  return j;
}

}  // namespace stratacache_capi
