// Tags and dependencies (docs/tags.md): sets of entries that are invalidated together.
//
// A set is a tag ("~tag:" + tag under the cache prefix) or a key's dependents (the
// key's companion "~deps", in its hash slot). In Redis a set is a ZSET: members are
// full keys, scores their expiry (ms since the epoch, plus a slack for clock skew;
// kNever for no expiry). Each write into a set prunes its expired members and sets the
// set's own expiry to its latest member's, so no set outlives its entries. Memberships
// reach Redis before the value (an invalidation that starts after the write returned
// finds the entry). Reads never look at sets: invalidation pays, O(members).
//
// Writes that do not reach Redis (mem://, skip_l2) keep their memberships in an
// in-process index, bounded by an amortised sweep: whenever the index holds twice the
// members it kept after the last sweep (and over 1024), members that expired or left
// L1 go, and empty sets with them.
//
// Invalidation drains sets: read a batch (ZRANGE), delete the members (DEL, and each
// member's own dependents set is queued when it exists), remove the processed members
// (only while their score is still the one read: a member written again meanwhile
// stays), until the set is empty (Redis then drops it). A visited map makes cascades
// cycle-safe; kMaxEntries bounds one invalidation.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "remote_tier.hpp"
#include "stratacache/cache.hpp"
#include "stratacache/stats.hpp"

namespace stratacache {

class Tags {
 public:
  static constexpr int64_t kNever = 9'000'000'000'000'000;  // score of a member that never expires
  static constexpr int64_t kSlackMs = 1000;                    // added to expiries (clock skew)
  static constexpr size_t kBatch = 200;                        // members read per round trip (small requests)
  static constexpr size_t kDeleteChunk = 50;                   // members per delete script
  static constexpr size_t kMaxEntries = 1'000'000;             // entries one invalidation may remove

  explicit Tags(Cache::Impl& cache) : c_(cache) {}

  // The Redis set names (full keys).
  std::string tag_set(std::string_view tag) const;
  static std::string deps_set(std::string_view full_key);

  struct Member {
    std::string key;  // unprefixed
    int64_t ttl_ms;   // 0: no expiry
  };
  // Records `members` under `tags` and as dependents of `parents` (unprefixed keys):
  // in Redis when `remote`, else in the in-process index. Then `done` (the first error).
  void add(const std::vector<Member>& members, const std::vector<std::string>& tags,
           const std::vector<std::string>& parents, bool remote, Call call, std::function<void(Status)> done);

  // Removes every entry of `tags`, their dependents transitively. done: entries removed.
  void invalidate_tags(const std::vector<std::string>& tags, bool remote, Call call,
                       std::function<void(Result<int64_t>)> done);
  // `keys` (unprefixed) changed: removes their dependents, transitively (the keys
  // themselves stay): those in the in-process index, and in Redis those of
  // `remote_keys` (keys whose dependents set exists, or may). Completes inline, with
  // no allocation, when there is nothing to look at.
  void invalidate_dependents(const std::vector<std::string>& keys, const std::vector<std::string>& remote_keys,
                             Call call, std::function<void(Result<int64_t>)> done);

  // `keys` (unprefixed) were deleted from Redis: looks for their dependents sets (one
  // round trip per slot) and removes those dependents, transitively.
  void deleted(const std::vector<std::string>& keys, Call call, std::function<void(Result<int64_t>)> done);
  bool has_local() const;

  TagStats stats() const;

 private:
  struct Job;
  friend struct Job;
  void start(std::shared_ptr<Job> job);
  // In-process index: set id ("t" + tag, "d" + key) -> member key -> expiry (ms).
  void add_local(const std::string& id, const std::vector<Member>& members, int64_t now);
  std::vector<std::string> take_local(const std::string& id);

  Cache::Impl& c_;
  std::mutex mu_;
  std::unordered_map<std::string, std::unordered_map<std::string, int64_t>> local_;
  std::atomic<size_t> local_members_{0};
  size_t local_live_ = 0;  // members left by the last sweep
  std::atomic<uint64_t> invalidations_{0}, removed_{0}, dependents_{0};
};

}  // namespace stratacache
