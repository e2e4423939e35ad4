#include "tags.hpp"

#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <unordered_set>

#include "cache_impl.hpp"
#include "companion_key.hpp"
#include "read_through.hpp"
#include "redis/cluster_slots.hpp"

namespace stratacache {
namespace {

// KEYS[1] a set; ARGV[1] now (members at or below it are expired); ARGV[2..] score,
// member pairs. The set then expires with its latest member (never: persistent).
constexpr std::string_view kAdd =
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1]) "
    "for i = 2, #ARGV, 2 do redis.call('ZADD', KEYS[1], ARGV[i], ARGV[i + 1]) end "
    "local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES') "
    "if #top == 0 then return 0 end "
    "local s = tonumber(top[2]) "
    "if s >= 9000000000000000 then redis.call('PERSIST', KEYS[1]) "
    "else redis.call('PEXPIREAT', KEYS[1], string.format('%.0f', s)) end "
    "return 1";

// KEYS[1] a set; ARGV[1] batch size; ARGV[2..] score, member pairs processed: removed
// while their score is still the one read. Replies the next batch (member, score, ...).
constexpr std::string_view kRead =
    "for i = 2, #ARGV, 2 do "
    "if redis.call('ZSCORE', KEYS[1], ARGV[i + 1]) == ARGV[i] then redis.call('ZREM', KEYS[1], ARGV[i + 1]) end "
    "end "
    "return redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1, 'WITHSCORES')";

// KEYS: member, member's dependents set, ... Deletes the members; replies {deleted,
// {dependents sets that exist}}.
constexpr std::string_view kDelete =
    "local n = 0 local deps = {} "
    "for i = 1, #KEYS, 2 do "
    "n = n + redis.call('DEL', KEYS[i]) "
    "if redis.call('EXISTS', KEYS[i + 1]) == 1 then deps[#deps + 1] = KEYS[i + 1] end "
    "end "
    "return {n, deps}";

// KEYS: dependents sets. Replies those that exist.
constexpr std::string_view kExisting =
    "local out = {} for i = 1, #KEYS do "
    "if redis.call('EXISTS', KEYS[i]) == 1 then out[#out + 1] = KEYS[i] end end return out";

// Scores are wall-clock times (Redis compares them with other processes' clocks).
int64_t epoch_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t expiry_score(int64_t now, int64_t ttl_ms) {
  return ttl_ms <= 0 ? Tags::kNever : now + ttl_ms + Tags::kSlackMs;
}

}  // namespace

std::string Tags::tag_set(std::string_view tag) const {
  std::string k(c_.options.prefix);
  k.append("~tag:").append(tag);
  return k;
}

std::string Tags::deps_set(std::string_view full_key) { return companion_key(full_key, "~deps"); }

// ---- Adding memberships ----

void Tags::add(const std::vector<Member>& members, const std::vector<std::string>& tags,
               const std::vector<std::string>& parents, bool remote, Call call, std::function<void(Status)> done) {
  int64_t now = epoch_ms();
  if (!remote) {
    for (const std::string& t : tags) add_local("t" + t, members, now);
    for (const std::string& p : parents) add_local("d" + p, members, now);
    return done(Status());
  }
  std::vector<std::string> sets;
  for (const std::string& t : tags) sets.push_back(tag_set(t));
  for (const std::string& p : parents) sets.push_back(deps_set(c_.full_key(p)));
  if (sets.empty()) return done(Status());
  std::vector<std::string> args;
  args.reserve(1 + 2 * members.size());
  args.push_back(std::to_string(now));
  for (const Member& m : members) {
    args.push_back(std::to_string(expiry_score(now, m.ttl_ms)));
    args.push_back(c_.full_key(m.key));
  }
  struct Pending {
    std::mutex mu;
    size_t left;
    Status first;
    std::function<void(Status)> done;
  };
  auto p = std::make_shared<Pending>();
  p->left = sets.size();
  p->done = std::move(done);
  for (const std::string& set : sets) {
    c_.l2->script(kAdd, {set}, args, true, call, [p](Result<ScriptValue> r) {
      std::function<void(Status)> done;
      Status first;
      {
        std::lock_guard<std::mutex> lock(p->mu);
        if (!r && p->first.is_ok()) p->first = r.status();
        if (--p->left > 0) return;
        done = std::move(p->done);
        first = p->first;
      }
      done(std::move(first));
    });
  }
}

void Tags::add_local(const std::string& id, const std::vector<Member>& members, int64_t now) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& set = local_[id];
  for (const Member& m : members) {
    auto [it, added] = set.insert_or_assign(m.key, expiry_score(now, m.ttl_ms));
    if (added) local_members_.fetch_add(1, std::memory_order_relaxed);
  }
  if (local_members_.load(std::memory_order_relaxed) < std::max<size_t>(1024, 2 * local_live_)) return;
  // Amortised sweep: members that expired or left L1 go, and sets left empty.
  for (auto s = local_.begin(); s != local_.end();) {
    for (auto m = s->second.begin(); m != s->second.end();) {
      if (m->second <= now || !c_.l1.contains(m->first)) {
        m = s->second.erase(m);
        local_members_.fetch_sub(1, std::memory_order_relaxed);
      } else {
        ++m;
      }
    }
    s = s->second.empty() ? local_.erase(s) : std::next(s);
  }
  local_live_ = local_members_.load(std::memory_order_relaxed);
}

std::vector<std::string> Tags::take_local(const std::string& id) {
  std::vector<std::string> keys;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = local_.find(id);
  if (it == local_.end()) return keys;
  keys.reserve(it->second.size());
  for (auto& [k, expiry] : it->second) keys.push_back(k);
  local_members_.fetch_sub(it->second.size(), std::memory_order_relaxed);
  local_.erase(it);
  return keys;
}

bool Tags::has_local() const { return local_members_.load(std::memory_order_relaxed) > 0; }

// ---- Invalidation ----

struct Tags::Job : std::enable_shared_from_this<Job> {
  Tags& t;
  Call call;
  bool remote;
  bool is_tag_invalidation;
  std::function<void(Result<int64_t>)> done;

  std::mutex mu;
  std::deque<std::pair<std::string, bool>> queue;         // Redis sets to drain (true: a dependents set)
  std::unordered_set<std::string> sets_seen;              // cycle safety
  std::unordered_map<std::string, std::string> visited;   // full key -> score it was deleted at ("": a root)
  int64_t removed = 0;
  int64_t dependents = 0;
  bool failed = false;

  Job(Tags& tags, Call c, bool r, bool tag_inv, std::function<void(Result<int64_t>)> d)
      : t(tags), call(c), remote(r), is_tag_invalidation(tag_inv), done(std::move(d)) {}

  Cache::Impl& c() { return t.c_; }

  void queue_set(std::string set, bool deps) {
    if (sets_seen.insert(set).second) queue.emplace_back(std::move(set), deps);
  }

  // This process's copies (L1 and the in-process index's dependents), before and after
  // the L2 delete (see Cache::Impl::del).
  void drop_local(const std::string& key, bool count) {
    bool erased = c().l1.erase(key);
    c().rt->key_changed(key);
    if (count && erased) ++removed;
    if (!t.has_local()) return;
    for (std::string& d : t.take_local("d" + key)) {
      std::string full = c().full_key(d);
      if (!visited.emplace(full, "").second) continue;
      ++dependents;
      drop_local(d, true);
    }
  }
  void drop_local_set(const std::string& id, bool deps) {
    for (std::string& k : t.take_local(id)) {
      if (!visited.emplace(c().full_key(k), "").second) continue;
      if (deps) ++dependents;
      drop_local(k, true);
    }
  }

  void finish(Status s) {
    if (failed) return;
    failed = true;
    if (!s) return done(std::move(s));
    if (is_tag_invalidation) t.invalidations_.fetch_add(1, std::memory_order_relaxed);
    t.removed_.fetch_add(static_cast<uint64_t>(removed), std::memory_order_relaxed);
    t.dependents_.fetch_add(static_cast<uint64_t>(dependents), std::memory_order_relaxed);
    done(removed);
  }

  void next() {
    std::pair<std::string, bool> set;
    {
      std::lock_guard<std::mutex> lock(mu);
      if (queue.empty()) return finish(Status());
      set = std::move(queue.front());
      queue.pop_front();
    }
    read(std::move(set.first), set.second, {});
  }

  void read(std::string set, bool deps, std::vector<std::string> processed) {
    processed.insert(processed.begin(), std::to_string(kBatch));
    auto self = shared_from_this();
    c().l2->script(kRead, {set}, processed, true, call, [self, set, deps](Result<ScriptValue> r) {
      if (!r) return self->finish(r.status());
      if (r->kind != ScriptValue::Kind::kArray) return self->finish(internal_error("unexpected reply reading a tag set"));
      if (r->items.empty()) return self->next();
      std::vector<std::string> pairs;  // score, member (what kRead removes next time)
      std::vector<std::string> todo;
      {
        std::lock_guard<std::mutex> lock(self->mu);
        for (size_t i = 0; i + 1 < r->items.size(); i += 2) {
          std::string& member = r->items[i].str;
          std::string& score = r->items[i + 1].str;
          auto [it, fresh] = self->visited.emplace(member, score);
          if (!fresh && (it->second.empty() || it->second == score)) {
            pairs.push_back(score);
            pairs.push_back(member);
            continue;  // removed already in this invalidation (a cycle, or a second tag)
          }
          it->second = score;
          if (deps) ++self->dependents;
          todo.push_back(member);
          pairs.push_back(score);
          pairs.push_back(member);
        }
        if (self->visited.size() > kMaxEntries) {
          return self->finish(Status(StatusCode::kAborted, "invalidation stopped after " + std::to_string(kMaxEntries) +
                                                               " entries (Tags::kMaxEntries); call it again"));
        }
        for (const std::string& m : todo) {
          if (auto k = self->key_of(m)) self->drop_local(std::string(*k), false);
        }
      }
      self->remove(std::move(todo), [self, set, deps, pairs = std::move(pairs)](Status s) mutable {
        if (!s) return self->finish(std::move(s));
        self->read(set, deps, std::move(pairs));
      });
    });
  }

  std::optional<std::string_view> key_of(std::string_view full) {
    const std::string& prefix = c().options.prefix;
    if (full.substr(0, prefix.size()) != prefix) return std::nullopt;
    return full.substr(prefix.size());
  }

  // Deletes members from Redis (one script per slot and kDeleteChunk members), queueing
  // the dependents sets that exist. probe: only looks for the dependents sets of
  // `members` (keys deleted by the caller).
  void remove(std::vector<std::string> members, std::function<void(Status)> then, bool probe = false) {
    if (members.empty()) return then(Status());
    // On a Cluster one script per slot (it refuses a script over several slots, and an
    // attempt would count as a failed operation); at most kDeleteChunk members each:
    // small requests, sent together (a large request costs more than its share).
    const bool cluster = !c().options.redis.cluster_nodes.empty();
    std::map<std::pair<uint16_t, size_t>, std::vector<std::string>> groups;
    std::map<uint16_t, size_t> per_slot;
    for (const std::string& m : members) {
      uint16_t slot = cluster ? redis::key_slot(m) : 0;
      auto& g = groups[{slot, per_slot[slot]++ / kDeleteChunk}];
      if (!probe) g.push_back(m);
      g.push_back(deps_set(m));
    }
    struct Pending {
      size_t left;
      Status first;
    };
    auto p = std::make_shared<Pending>();
    p->left = groups.size();
    auto self = shared_from_this();
    auto members_p = std::make_shared<std::vector<std::string>>(std::move(members));
    for (auto& [group, keys] : groups) {
      c().l2->script(probe ? kExisting : kDelete, keys, {}, true, call, [self, p, members_p, then, probe](Result<ScriptValue> r) {
        bool last;
        {
          std::lock_guard<std::mutex> lock(self->mu);
          if (!r) {
            if (p->first.is_ok()) p->first = r.status();
          } else if (probe && r->kind == ScriptValue::Kind::kArray) {
            for (auto& d : r->items) self->queue_set(std::move(d.str), true);
          } else if (r->kind == ScriptValue::Kind::kArray && r->items.size() == 2) {
            self->removed += r->items[0].integer;
            for (auto& d : r->items[1].items) self->queue_set(std::move(d.str), true);
          }
          last = --p->left == 0;
          if (last) {
            for (const std::string& m : *members_p) {
              if (auto k = self->key_of(m)) self->c().l1.erase(*k);  // no back-fill of what L2 just lost
            }
          }
        }
        if (!last) return;
        then(p->first);
      });
    }
  }
};

void Tags::start(std::shared_ptr<Job> job) { job->next(); }

void Tags::invalidate_tags(const std::vector<std::string>& tags, bool remote, Call call,
                           std::function<void(Result<int64_t>)> done) {
  auto job = std::make_shared<Job>(*this, call, remote, true, std::move(done));
  {
    std::lock_guard<std::mutex> lock(job->mu);
    if (has_local()) {
      for (const std::string& tag : tags) job->drop_local_set("t" + tag, false);
    }
    if (remote) {
      for (const std::string& tag : tags) job->queue_set(tag_set(tag), false);
    }
  }
  start(std::move(job));
}

void Tags::invalidate_dependents(const std::vector<std::string>& keys, const std::vector<std::string>& remote_keys,
                                 Call call, std::function<void(Result<int64_t>)> done) {
  if (remote_keys.empty() && !has_local()) return done(int64_t{0});
  auto job = std::make_shared<Job>(*this, call, !remote_keys.empty(), false, std::move(done));
  {
    std::lock_guard<std::mutex> lock(job->mu);
    for (const std::string& k : keys) job->visited.emplace(c_.full_key(k), "");  // the changed keys stay
    if (has_local()) {
      for (const std::string& k : keys) job->drop_local_set("d" + k, true);
    }
    for (const std::string& k : remote_keys) job->queue_set(deps_set(c_.full_key(k)), true);
  }
  start(std::move(job));
}

void Tags::deleted(const std::vector<std::string>& keys, Call call, std::function<void(Result<int64_t>)> done) {
  auto job = std::make_shared<Job>(*this, call, true, false, std::move(done));
  std::vector<std::string> full;
  {
    std::lock_guard<std::mutex> lock(job->mu);
    for (const std::string& k : keys) {
      full.push_back(c_.full_key(k));
      job->visited.emplace(full.back(), "");
    }
    if (has_local()) {
      for (const std::string& k : keys) job->drop_local_set("d" + k, true);
    }
  }
  job->remove(std::move(full), [job](Status s) {
    if (!s) return job->finish(std::move(s));
    job->next();
  }, true);
}

TagStats Tags::stats() const {
  TagStats s;
  s.invalidations = invalidations_.load(std::memory_order_relaxed);
  s.entries_removed = removed_.load(std::memory_order_relaxed);
  s.dependents_invalidated = dependents_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace stratacache
