#include "redis/cluster_tier.hpp"

#include <algorithm>
#include <unistd.h>

#include <charconv>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include "redis/reply.hpp"

namespace stratacache::redis {
namespace {

std::string address_of(std::string_view host, int64_t port) { return std::string(host) + ":" + std::to_string(port); }

// A connection-level failure (refused, lost, breaker open), as opposed to an error reply
// or a deadline: the node may be gone.
bool node_failed(const Status& s) { return s.code() == StatusCode::kUnavailable && !is_server_error(s); }

// -TRYAGAIN: a command on several keys of a slot being migrated, not all of them on the node.
bool try_again(const Status& s) { return is_server_error(s) && s.message().compare(0, 16, "redis: TRYAGAIN ") == 0; }

void add(L2Stats& to, const L2Stats& s) {
  to.hits += s.hits;
  to.misses += s.misses;
  to.sets += s.sets;
  to.deletes += s.deletes;
  to.errors += s.errors;
  to.timeouts += s.timeouts;
  to.connection_errors += s.connection_errors;
  to.auth_errors += s.auth_errors;
  to.server_errors += s.server_errors;
  to.protocol_errors += s.protocol_errors;
  to.fast_failures += s.fast_failures;
  to.breaker_rejections += s.breaker_rejections;
  to.sentinel_failures += s.sentinel_failures;
  to.breaker_opens += s.breaker_opens;
  to.connect_failures += s.connect_failures;
  to.connections_opened += s.connections_opened;
  to.connections_discarded += s.connections_discarded;
  to.master_changes += s.master_changes;
}

int64_t now_ns() { return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

}  // namespace

ClusterTier::ClusterTier(RedisOptions options) : options_(std::move(options)) {
  owner_.fill(-1);
  for (const SentinelAddress& a : options_.cluster_nodes) seeds_.push_back(address_of(a.host, a.port));
}

ClusterTier::~ClusterTier() {
  // Pending asynchronous requests complete with kUnavailable while their node tiers are
  // destroyed; a completion that would follow a redirect fails instead (closing_), and no
  // node tier is destroyed while a send to it is in progress (sending_).
  closing_.store(true);
  while (sending_.load() != 0) std::this_thread::yield();
  for (;;) {
    std::map<std::string, std::unique_ptr<RedisTier>> nodes;
    {
      std::lock_guard<std::mutex> lock(nodes_mu_);
      nodes.swap(nodes_);
    }
    if (nodes.empty()) break;
    nodes.clear();  // outside nodes_mu_: completions run here
  }
}

void ClusterTier::close() {
  std::lock_guard<std::mutex> lock(nodes_mu_);
  for (auto& [address, tier] : nodes_) tier->close();
}

RedisTier& ClusterTier::node(const std::string& address) {
  std::lock_guard<std::mutex> lock(nodes_mu_);
  auto it = nodes_.find(address);
  if (it != nodes_.end()) return *it->second;
  RedisOptions o = options_;
  o.cluster_nodes.clear();
  o.sentinels.clear();
  o.db = 0;
  size_t colon = address.rfind(':');
  o.host = address.substr(0, colon);
  uint16_t port = 0;
  std::from_chars(address.data() + colon + 1, address.data() + address.size(), port);
  o.port = port;
  auto tier = std::make_unique<RedisTier>(std::move(o), /*cluster_node=*/true);
  RedisTier& ref = *tier;
  nodes_.emplace(address, std::move(tier));
  return ref;
}

std::string ClusterTier::slot_owner(uint16_t slot) const {
  std::shared_lock<std::shared_mutex> lock(map_mu_);
  int16_t i = owner_[slot];
  return i < 0 ? std::string() : addresses_[static_cast<size_t>(i)];
}

std::vector<std::string> ClusterTier::masters() const {
  std::shared_lock<std::shared_mutex> lock(map_mu_);
  return masters_;
}

void ClusterTier::set_owner(uint16_t slot, const std::string& address) {
  std::unique_lock<std::shared_mutex> lock(map_mu_);
  auto it = std::find(addresses_.begin(), addresses_.end(), address);
  if (it == addresses_.end()) it = addresses_.insert(addresses_.end(), address);
  owner_[slot] = static_cast<int16_t>(it - addresses_.begin());
}

Status ClusterTier::ensure_map(Deadline deadline) {
  bool loaded;
  {
    std::shared_lock<std::shared_mutex> lock(map_mu_);
    loaded = loaded_;
  }
  if (!loaded) {
    // Wait for a load in flight, or do it.
    while (!try_begin_refresh()) {
      if (deadline.expired()) return timeout_error("deadline passed while the cluster slot map was being loaded");
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    Status error;
    bool done = false;
    {
      std::shared_lock<std::shared_mutex> map_lock(map_mu_);
      done = loaded_;  // loaded by the caller we waited for
    }
    if (!done) done = refresh_locked(deadline, &error);
    end_refresh();
    return done ? Status() : error;
  }
  int64_t last = last_refresh_ns_.load(std::memory_order_relaxed);
  if (stale_.load(std::memory_order_relaxed) ||
      now_ns() - last > std::chrono::duration_cast<std::chrono::nanoseconds>(kRefreshInterval).count()) {
    refresh(deadline);
  }
  return Status();
}

bool ClusterTier::refresh(Deadline deadline, Status* error) {
  int64_t last = last_refresh_ns_.load(std::memory_order_relaxed);
  if (last != 0 && now_ns() - last < std::chrono::duration_cast<std::chrono::nanoseconds>(kMinRefreshGap).count()) {
    return false;
  }
  if (!try_begin_refresh()) return false;  // one in flight: the caller goes on with the map it has
  Status ignored;
  bool done = refresh_locked(deadline, error != nullptr ? error : &ignored);
  end_refresh();
  return done;
}

bool ClusterTier::try_begin_refresh() {
  pid_t me = ::getpid();
  pid_t holder = refreshing_pid_.load(std::memory_order_acquire);
  // A holder of another pid is the parent's refresh, inherited by fork(): not running here.
  if (holder == me) return false;
  return refreshing_pid_.compare_exchange_strong(holder, me, std::memory_order_acq_rel);
}

void ClusterTier::end_refresh() { refreshing_pid_.store(0, std::memory_order_release); }

bool ClusterTier::refresh_locked(Deadline deadline, Status* error) {
  // Masters first, then the other known nodes, then the seeds.
  std::vector<std::string> candidates;
  {
    std::shared_lock<std::shared_mutex> lock(map_mu_);
    candidates = masters_;
    for (const std::string& a : addresses_) candidates.push_back(a);
  }
  for (const std::string& a : seeds_) candidates.push_back(a);
  std::vector<std::string> asked;
  *error = unavailable("no cluster node answered CLUSTER SLOTS");
  for (const std::string& address : candidates) {
    if (std::find(asked.begin(), asked.end(), address) != asked.end()) continue;
    asked.push_back(address);
    if (deadline.expired()) {
      *error = timeout_error("deadline passed while reading the cluster slot map");
      break;
    }
    std::string host = address.substr(0, address.rfind(':'));
    std::vector<std::pair<std::string, std::pair<uint16_t, uint16_t>>> ranges;  // owner, [first, last]
    std::vector<std::string> masters;
    Status s = node(address).call(deadline, true, [&](Batch& c) {
      ranges.clear();
      masters.clear();
      c.command({"CLUSTER", "SLOTS"});
      if (Status rt = c.roundtrip(deadline); !rt) return rt;
      Reply r = c.reply(0);
      if (r.is(ReplyType::kError)) return server_error(r.str());
      if (!r.is(ReplyType::kArray)) return internal_error("unexpected reply type to CLUSTER SLOTS");
      // [[first, last, [ip, port, id, ...], [replica ...] ...], ...]
      for (Reply range = r.first(); range.valid(); range = range.next()) {
        Reply first = range.is(ReplyType::kArray) ? range.first() : Reply();
        Reply last = first.valid() ? first.next() : Reply();
        Reply master = last.valid() ? last.next() : Reply();
        Reply ip = master.is(ReplyType::kArray) ? master.first() : Reply();
        Reply port = ip.valid() ? ip.next() : Reply();
        if (!first.is(ReplyType::kInteger) || !last.is(ReplyType::kInteger) || !ip.is(ReplyType::kString) ||
            !port.is(ReplyType::kInteger) || first.integer() < 0 || last.integer() >= kClusterSlots ||
            first.integer() > last.integer()) {
          return internal_error("malformed CLUSTER SLOTS reply");
        }
        // An empty IP means "the node you asked".
        std::string owner = address_of(ip.str().empty() ? std::string_view(host) : ip.str(), port.integer());
        ranges.push_back({owner, {static_cast<uint16_t>(first.integer()), static_cast<uint16_t>(last.integer())}});
        if (std::find(masters.begin(), masters.end(), owner) == masters.end()) masters.push_back(owner);
      }
      if (ranges.empty()) return unavailable("redis: CLUSTERDOWN the node serves no slot yet");
      return Status();
    });
    if (!s) {
      *error = s;
      continue;
    }
    {
      std::unique_lock<std::shared_mutex> lock(map_mu_);
      owner_.fill(-1);
      for (const auto& [owner, range] : ranges) {
        auto it = std::find(addresses_.begin(), addresses_.end(), owner);
        if (it == addresses_.end()) it = addresses_.insert(addresses_.end(), owner);
        auto index = static_cast<int16_t>(it - addresses_.begin());
        for (uint32_t slot = range.first; slot <= range.second; ++slot) owner_[slot] = index;
      }
      masters_ = std::move(masters);
      loaded_ = true;
    }
    stale_.store(false, std::memory_order_relaxed);
    last_refresh_ns_.store(now_ns(), std::memory_order_relaxed);
    refreshes_.fetch_add(1, std::memory_order_relaxed);
    *error = Status();
    return true;
  }
  // Failed: do not ask again before kMinRefreshGap (every caller would otherwise retry).
  last_refresh_ns_.store(now_ns(), std::memory_order_relaxed);
  return false;
}

bool ClusterTier::redirected(const Status& s, uint16_t* slot, Target* target) {
  // "redis: MOVED 3999 127.0.0.1:6381" / "redis: ASK 3999 127.0.0.1:6381"
  if (s.is_ok() || !is_server_error(s)) return false;
  std::string_view m = s.message();
  m.remove_prefix(7);
  bool moved = m.compare(0, 6, "MOVED ") == 0;
  bool ask = m.compare(0, 4, "ASK ") == 0;
  if (!moved && !ask) return false;
  m.remove_prefix(moved ? 6 : 4);
  size_t space = m.find(' ');
  if (space == std::string_view::npos) return false;
  unsigned n = 0;
  auto [end, ec] = std::from_chars(m.data(), m.data() + space, n);
  if (ec != std::errc() || end != m.data() + space || n >= kClusterSlots) return false;
  std::string_view address = m.substr(space + 1);
  if (address.empty() || address.find(':') == std::string_view::npos) return false;
  *slot = static_cast<uint16_t>(n);
  target->address = std::string(address);
  if (target->address[0] == ':') {  // unknown endpoint: the same host as the node that answered
    std::string host = target->address;  // keep the port; fall back to the seeds' host
    target->address = (seeds_.empty() ? std::string("127.0.0.1") : seeds_[0].substr(0, seeds_[0].rfind(':'))) + host;
  }
  target->asking = ask;
  redirect_failures_.fetch_add(1, std::memory_order_relaxed);
  if (moved) {
    moved_.fetch_add(1, std::memory_order_relaxed);
    set_owner(*slot, target->address);
    stale_.store(true, std::memory_order_relaxed);  // the next call refreshes the whole map
  } else {
    ask_.fetch_add(1, std::memory_order_relaxed);
  }
  return true;
}

template <typename Op>
Status ClusterTier::route(uint16_t slot, Deadline deadline, bool idempotent, Op&& op) {
  if (Status s = ensure_map(deadline); !s) return s;
  Target target{slot_owner(slot), false};
  for (int redirects = 0;; ++redirects) {
    if (target.address.empty()) return unavailable("redis: CLUSTERDOWN hash slot " + std::to_string(slot) + " is not served");
    Status s;
    if (target.asking) {
      AskingScope asking;
      s = op(node(target.address));
    } else {
      s = op(node(target.address));
    }
    uint16_t redirect_slot = 0;
    Target next;
    if (redirects < kMaxRedirects && !deadline.expired() && redirected(s, &redirect_slot, &next)) {
      target = std::move(next);
      continue;
    }
    if (node_failed(s) && refresh(deadline)) {
      std::string owner = slot_owner(slot);
      // The command did not reach the old owner, or it is idempotent: try the new one.
      if (idempotent && owner != target.address && redirects < kMaxRedirects && !deadline.expired()) {
        target = Target{owner, false};
        continue;
      }
    }
    return s;
  }
}

template <typename Batch>
void ClusterTier::scatter(const std::vector<uint16_t>& slots, Deadline deadline, bool per_slot,
                          std::vector<Status>& statuses, Batch&& batch) {
  if (Status s = ensure_map(deadline); !s) {
    std::fill(statuses.begin(), statuses.end(), s);
    return;
  }
  std::vector<Target> targets(slots.size());
  std::vector<size_t> pending(slots.size());
  std::vector<char> alone(slots.size(), 0);  // per_slot: served in a batch of its own (see split below)
  for (size_t i = 0; i < slots.size(); ++i) {
    pending[i] = i;
    targets[i] = Target{slot_owner(slots[i]), false};
  }
  for (int round = 0; !pending.empty(); ++round) {
    // Group by (node, asking[, alone, slot]).
    std::sort(pending.begin(), pending.end(), [&](size_t a, size_t b) {
      if (targets[a].address != targets[b].address) return targets[a].address < targets[b].address;
      if (targets[a].asking != targets[b].asking) return targets[a].asking < targets[b].asking;
      if (alone[a] != alone[b]) return alone[a] < alone[b];
      return per_slot ? slots[a] < slots[b] : a < b;
    });
    std::vector<size_t> again;
    bool refreshed = false;
    for (size_t from = 0; from < pending.size();) {
      size_t to = from + 1;
      const Target& t = targets[pending[from]];
      while (to < pending.size() && targets[pending[to]].address == t.address &&
             targets[pending[to]].asking == t.asking &&
             (!per_slot || (!alone[pending[from]] && !alone[pending[to]] && slots[pending[to]] == slots[pending[from]]))) {
        ++to;
      }
      std::vector<size_t> group(pending.begin() + static_cast<std::ptrdiff_t>(from),
                                pending.begin() + static_cast<std::ptrdiff_t>(to));
      from = to;
      if (t.address.empty()) {
        for (size_t i : group) statuses[i] = unavailable("redis: CLUSTERDOWN hash slot " + std::to_string(slots[i]) + " is not served");
        continue;
      }
      if (t.asking) {
        AskingScope asking;
        batch(node(t.address), group, statuses);
      } else {
        batch(node(t.address), group, statuses);
      }
      bool may_redirect = round < kMaxRedirects && !deadline.expired();
      std::string failed_node = t.address;
      for (size_t n = 0; n < group.size(); ++n) {
        size_t i = group[n];
        uint16_t slot = 0;
        Target next;
        // Per slot, one status covers the group: count its redirect once.
        bool redirect = may_redirect && (!per_slot || n == 0) && redirected(statuses[i], &slot, &next);
        if (per_slot && n == 0 && group.size() > 1 && ((redirect && next.asking) || (may_redirect && try_again(statuses[i])))) {
          // The slot is being migrated, and MIGRATE moves its keys a few at a time: part of
          // the group may be on the source, part on the target. A pipelined group (mset)
          // answered -ASK may have been served in part, and sending all of it to the target
          // would write the served keys there too (both nodes would hold them, and the
          // MIGRATE of those keys would fail with BUSYKEY). A multi-key command (DEL) is
          // refused with -TRYAGAIN, by the source and by the importing target alike, until
          // the slot is done. So the group's keys go again one by one to the same node: a
          // single key is never refused with TRYAGAIN, and its ASK is exact.
          if (!redirect) redirect_failures_.fetch_add(1, std::memory_order_relaxed);  // absorbed, not a failure
          for (size_t j : group) alone[j] = 1;
          again.insert(again.end(), group.begin(), group.end());
          break;
        }
        if (redirect) {
          if (per_slot) {
            for (size_t j : group) targets[j] = next;
            again.insert(again.end(), group.begin(), group.end());
            break;
          }
          targets[i] = std::move(next);
          again.push_back(i);
        } else if (may_redirect && node_failed(statuses[i]) && (refreshed || refresh(deadline))) {
          refreshed = true;
          std::string owner = slot_owner(slots[i]);
          if (owner != failed_node) {
            targets[i] = Target{owner, false};
            again.push_back(i);
          }
        }
      }
    }
    pending = std::move(again);
  }
}

Result<RemoteEntry> ClusterTier::get(std::string_view key, Deadline deadline) {
  Result<RemoteEntry> out = not_found();
  Status s = route(key_slot(key), deadline, true, [&](RedisTier& t) {
    out = t.get(key, deadline);
    return out.is_ok() || out.status().code() == StatusCode::kNotFound ? Status() : out.status();
  });
  if (!s) return s;
  return out;
}

std::vector<Result<RemoteEntry>> ClusterTier::mget(const std::vector<std::string>& keys, Deadline deadline) {
  std::vector<uint16_t> slots(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) slots[i] = key_slot(keys[i]);
  std::vector<Status> statuses(keys.size());
  std::vector<Result<RemoteEntry>> out(keys.size(), Result<RemoteEntry>(not_found()));
  scatter(slots, deadline, false, statuses, [&](RedisTier& t, const std::vector<size_t>& group, std::vector<Status>& st) {
    std::vector<std::string> sub;
    sub.reserve(group.size());
    for (size_t i : group) sub.push_back(keys[i]);
    auto results = t.mget(sub, deadline);
    for (size_t n = 0; n < group.size(); ++n) {
      bool miss = !results[n].is_ok() && results[n].status().code() == StatusCode::kNotFound;
      st[group[n]] = results[n].is_ok() || miss ? Status() : results[n].status();
      out[group[n]] = std::move(results[n]);
    }
  });
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!statuses[i]) out[i] = Result<RemoteEntry>(statuses[i]);
  }
  return out;
}

Status ClusterTier::set(std::string_view key, std::string_view value, int64_t ttl_ms, Deadline deadline) {
  return route(key_slot(key), deadline, true, [&](RedisTier& t) { return t.set(key, value, ttl_ms, deadline); });
}

Status ClusterTier::mset(const std::vector<RemoteWrite>& writes, Deadline deadline) {
  std::vector<uint16_t> slots(writes.size());
  for (size_t i = 0; i < writes.size(); ++i) slots[i] = key_slot(writes[i].key);
  std::vector<Status> statuses(writes.size());
  scatter(slots, deadline, true, statuses, [&](RedisTier& t, const std::vector<size_t>& group, std::vector<Status>& st) {
    std::vector<RemoteWrite> sub;
    sub.reserve(group.size());
    for (size_t i : group) sub.push_back(writes[i]);
    Status s = t.mset(sub, deadline);
    for (size_t i : group) st[i] = s;
  });
  for (Status& s : statuses) {
    if (!s) return s;
  }
  return Status();
}

Result<int64_t> ClusterTier::del(const std::vector<std::string>& keys, Deadline deadline) {
  std::vector<uint16_t> slots(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) slots[i] = key_slot(keys[i]);
  std::vector<Status> statuses(keys.size());
  std::vector<int64_t> deleted(keys.size(), 0);  // per slot group, at its first key
  scatter(slots, deadline, true, statuses, [&](RedisTier& t, const std::vector<size_t>& group, std::vector<Status>& st) {
    std::vector<std::string> sub;
    sub.reserve(group.size());
    for (size_t i : group) sub.push_back(keys[i]);
    auto n = t.del(sub, deadline);
    for (size_t i : group) {
      st[i] = n.status();
      deleted[i] = 0;
    }
    if (n) deleted[group[0]] = *n;
  });
  int64_t total = 0;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!statuses[i]) return statuses[i];
    total += deleted[i];
  }
  return total;
}

Result<bool> ClusterTier::exists(std::string_view key, Deadline deadline) {
  bool found = false;
  Status s = route(key_slot(key), deadline, true, [&](RedisTier& t) {
    auto r = t.exists(key, deadline);
    if (r) found = *r;
    return r.status();
  });
  if (!s) return s;
  return found;
}

Result<int64_t> ClusterTier::pttl(std::string_view key, Deadline deadline) {
  Result<int64_t> out = not_found();
  Status s = route(key_slot(key), deadline, true, [&](RedisTier& t) {
    out = t.pttl(key, deadline);
    return out.is_ok() || out.status().code() == StatusCode::kNotFound ? Status() : out.status();
  });
  if (!s) return s;
  return out;
}

Result<int64_t> ClusterTier::incr_by(std::string_view key, int64_t amount, int64_t ttl_ms, Deadline deadline) {
  int64_t value = 0;
  // Not idempotent: redirects (the command did not run) are followed, connection errors are not retried.
  Status s = route(key_slot(key), deadline, false, [&](RedisTier& t) {
    auto r = t.incr_by(key, amount, ttl_ms, deadline);
    if (r) value = *r;
    return r.status();
  });
  if (!s) return s;
  return value;
}

// ---- Asynchronous calls ----

struct ClusterTier::AsyncRoute {
  AsyncRoute(uint16_t s, Deadline d) : slot(s), deadline(d) {}
  uint16_t slot;
  Deadline deadline;
  Target target;
  int redirects = 0;
  // Submits the request to `tier` (with ASKING first when `asking`); `reply` gets its
  // outcome (a miss is a success).
  std::function<void(RedisTier& tier, bool asking, std::function<void(Status)> reply)> send;
  std::function<void(Status)> finish;  // once, with the final outcome
  // Multi-key DEL: the slot is being migrated (ASK, TRYAGAIN); serve the keys one by one
  // on `target` (see scatter). Replaces finish. Null for single-key requests.
  std::function<void(const Target& target, int redirects)> split;
};

void ClusterTier::send_async(std::shared_ptr<AsyncRoute> r) {
  sending_.fetch_add(1);
  if (closing_.load()) {
    sending_.fetch_sub(1);
    return r->finish(unavailable("redis: the cluster tier is being destroyed"));
  }
  if (r->target.address.empty()) {
    sending_.fetch_sub(1);
    return r->finish(unavailable("redis: CLUSTERDOWN hash slot " + std::to_string(r->slot) + " is not served"));
  }
  // After a redirect this runs on the completing node's I/O thread: when the target has
  // no pipe yet, its PipeSet::pick connects synchronously here (bounded by the deadline).
  // Redirects are rare, so a node's connect is not worth a thread of its own.
  RedisTier& tier = node(r->target.address);
  bool asking = r->target.asking;
  auto send = r->send;  // r moves into the completion
  send(tier, asking, [this, r = std::move(r)](Status s) mutable { on_async_reply(std::move(r), std::move(s)); });
  sending_.fetch_sub(1);
}

void ClusterTier::on_async_reply(std::shared_ptr<AsyncRoute> r, Status s) {
  // The same decisions as route() and scatter(), but nothing here may block: no map
  // refresh (a connection error marks the map stale and fails the call; the next call
  // refreshes), no retry after a connection error.
  bool may_redirect = r->redirects < kMaxRedirects && !r->deadline.expired() && !closing_.load();
  uint16_t slot = 0;
  Target next;
  bool redirect = may_redirect && redirected(s, &slot, &next);
  if (r->split && ((redirect && next.asking) || (may_redirect && try_again(s)))) {
    if (!redirect) redirect_failures_.fetch_add(1, std::memory_order_relaxed);  // absorbed, not a failure
    r->split(r->target, r->redirects + 1);
    return;
  }
  if (redirect) {
    ++r->redirects;
    r->target = std::move(next);
    return send_async(std::move(r));
  }
  if (node_failed(s)) stale_.store(true, std::memory_order_relaxed);
  r->finish(std::move(s));
}

void ClusterTier::get_async(std::string_view key, Deadline deadline, std::function<void(Result<RemoteEntry>)> done) {
  // Before the first load, the map is read here, synchronously (once per tier); a stale
  // map is refreshed here too (see "Asynchronous calls").
  if (Status s = ensure_map(deadline); !s) return done(std::move(s));
  auto out = std::make_shared<Result<RemoteEntry>>(not_found());
  uint16_t slot = key_slot(key);
  auto r = std::make_shared<AsyncRoute>(slot, deadline);
  r->target = Target{slot_owner(slot), false};
  r->send = [key = std::string(key), deadline, out](RedisTier& t, bool asking, std::function<void(Status)> reply) {
    t.get_async(key, deadline, asking, [out, reply = std::move(reply)](Result<RemoteEntry> e) {
      Status s = e.is_ok() || e.status().code() == StatusCode::kNotFound ? Status() : e.status();
      *out = std::move(e);
      reply(std::move(s));
    });
  };
  r->finish = [out, done = std::move(done)](Status s) {
    if (!s) return done(std::move(s));
    done(std::move(*out));
  };
  send_async(std::move(r));
}

void ClusterTier::set_async(std::string_view key, std::string_view value, int64_t ttl_ms, Deadline deadline,
                            std::function<void(Status)> done) {
  if (Status s = ensure_map(deadline); !s) return done(std::move(s));
  uint16_t slot = key_slot(key);
  auto r = std::make_shared<AsyncRoute>(slot, deadline);
  r->target = Target{slot_owner(slot), false};
  r->send = [key = std::string(key), value = std::string(value), ttl_ms, deadline](
                RedisTier& t, bool asking, std::function<void(Status)> reply) {
    t.set_async(key, value, ttl_ms, deadline, asking, std::move(reply));
  };
  r->finish = std::move(done);
  send_async(std::move(r));
}

// The per-slot DELs of one del_async: the last to finish completes the call.
struct ClusterTier::DelJoin {
  std::mutex mu;
  size_t pending = 0;
  int64_t total = 0;
  Status first_failure;
  std::function<void(Result<int64_t>)> done;

  void finish_one(Status s, int64_t deleted) {
    std::unique_lock<std::mutex> lock(mu);
    if (!s && first_failure) first_failure = std::move(s);
    if (s) total += deleted;
    if (--pending != 0) return;
    lock.unlock();
    if (!first_failure) return done(std::move(first_failure));
    done(total);
  }
};

void ClusterTier::del_async(const std::vector<std::string>& keys, Deadline deadline,
                            std::function<void(Result<int64_t>)> done) {
  if (keys.empty()) return done(int64_t{0});
  if (Status s = ensure_map(deadline); !s) return done(std::move(s));
  std::map<uint16_t, std::vector<std::string>> groups;  // one DEL per slot, as del() does
  for (const std::string& k : keys) groups[key_slot(k)].push_back(k);
  auto join = std::make_shared<DelJoin>();
  join->pending = groups.size();
  join->done = std::move(done);
  for (auto& [slot, sub] : groups) {
    Target owner{slot_owner(slot), false};
    del_group_async(join, slot, std::move(sub), deadline, std::move(owner), 0);
  }
}

void ClusterTier::del_group_async(std::shared_ptr<DelJoin> join, uint16_t slot, std::vector<std::string> keys,
                                  Deadline deadline, Target target, int redirects) {
  auto r = std::make_shared<AsyncRoute>(slot, deadline);
  r->target = std::move(target);
  r->redirects = redirects;
  auto deleted = std::make_shared<int64_t>(0);
  r->finish = [join, deleted](Status s) { join->finish_one(std::move(s), *deleted); };
  if (keys.size() > 1) {
    r->split = [this, join, slot, keys, deadline](const Target& at, int redirects_so_far) {
      {
        std::lock_guard<std::mutex> lock(join->mu);
        join->pending += keys.size() - 1;  // this group's share goes to its keys
      }
      for (const std::string& k : keys) del_group_async(join, slot, {k}, deadline, at, redirects_so_far);
    };
  }
  r->send = [keys = std::move(keys), deadline, deleted](RedisTier& t, bool asking, std::function<void(Status)> reply) {
    t.del_async(keys, deadline, asking, [deleted, reply = std::move(reply)](Result<int64_t> n) {
      if (n) *deleted = *n;
      reply(n.status());
    });
  };
  send_async(std::move(r));
}

Result<int64_t> ClusterTier::delete_matching(std::string_view glob, Deadline deadline) {
  if (Status s = ensure_map(deadline); !s) return s;
  int64_t deleted = 0;
  for (const std::string& m : masters()) {
    auto n = node(m).delete_matching(glob, deadline);
    if (!n) {
      if (node_failed(n.status())) refresh(deadline);
      return n.status();
    }
    deleted += *n;
  }
  return deleted;
}

Result<HealthInfo> ClusterTier::health(Deadline deadline) {
  HealthInfo out;
  if (Status s = ensure_map(deadline); !s) {
    out.error = s.to_string();
    return out;
  }
  out.healthy = true;
  std::vector<std::string> ms = masters();
  for (const std::string& m : ms) {
    auto h = node(m).health(deadline);
    if (!h || !h->healthy) {
      out.healthy = false;
      if (!out.error.empty()) out.error += "; ";
      out.error += m + ": " + (h ? h->error : h.status().to_string());
      continue;
    }
    out.latency_ms = std::max(out.latency_ms, h->latency_ms);
    if (out.version.empty()) out.version = h->version;
    if (out.used_memory.empty()) out.used_memory = h->used_memory;  // the first master's
    out.connected_clients += h->connected_clients;
    out.uptime_seconds = out.uptime_seconds == 0 ? h->uptime_seconds : std::min(out.uptime_seconds, h->uptime_seconds);
  }
  if (ms.empty()) {
    out.healthy = false;
    out.error = "the cluster names no master";
  }
  return out;
}

L2Stats ClusterTier::stats() const {
  L2Stats total;
  {
    std::lock_guard<std::mutex> lock(nodes_mu_);
    for (const auto& [address, tier] : nodes_) add(total, tier->stats());
  }
  // Redirect replies are routing, not failures.
  uint64_t redirects = redirect_failures_.load(std::memory_order_relaxed);
  total.errors -= std::min(total.errors, redirects);
  total.server_errors -= std::min(total.server_errors, redirects);
  total.moved_redirects = moved_.load(std::memory_order_relaxed);
  total.ask_redirects = ask_.load(std::memory_order_relaxed);
  return total;
}

// ---- compare-and-delete (RemoteTier::delete_if_value) ----
Result<bool> ClusterTier::delete_if_value(std::string_view key, std::string_view expected, Deadline deadline) {
  bool deleted = false;
  Status s = route(key_slot(key), deadline, true, [&](RedisTier& t) {
    auto r = t.delete_if_value(key, expected, deadline);
    if (r) deleted = *r;
    return r.status();
  });
  if (!s) return s;
  return deleted;
}

void ClusterTier::delete_if_value_async(std::string_view key, std::string_view expected, Deadline deadline,
                                        std::function<void(Result<bool>)> done) {
  // Called from another request's completion: nothing here may block, so the slot map
  // is not (re)loaded; without an owner the call fails and the value stays.
  uint16_t slot = key_slot(key);
  auto r = std::make_shared<AsyncRoute>(slot, deadline);
  r->target = Target{slot_owner(slot), false};
  auto deleted = std::make_shared<bool>(false);
  r->send = [key = std::string(key), expected = std::string(expected), deadline, deleted](
                RedisTier& t, bool asking, std::function<void(Status)> reply) {
    t.delete_if_value_async(key, expected, deadline, asking, [deleted, reply = std::move(reply)](Result<bool> d) {
      if (d) *deleted = *d;
      reply(d.status());
    });
  };
  r->finish = [deleted, done = std::move(done)](Status s) {
    if (!s) return done(std::move(s));
    done(*deleted);
  };
  send_async(std::move(r));
}
// ---- end compare-and-delete ----

}  // namespace stratacache::redis
