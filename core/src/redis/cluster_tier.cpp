#include "redis/cluster_tier.hpp"

#include "stratacache/log.hpp"

#include <algorithm>
#include <unistd.h>

#include <charconv>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include "redis/reply.hpp"
#include "stratacache/log.hpp"

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
  to.breakers_open += s.breakers_open;
  to.breaker_half_opens += s.breaker_half_opens;
  to.breaker_closes += s.breaker_closes;
  to.connect_failures += s.connect_failures;
  to.connections_opened += s.connections_opened;
  to.connections_discarded += s.connections_discarded;
  to.master_changes += s.master_changes;
}

int64_t now_ns() { return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

}  // namespace

ClusterTier::ClusterTier(RedisOptions options, std::shared_ptr<Coherence> coherence) : options_(std::move(options)) {
  coherence_ = std::move(coherence);
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
  auto tier = std::make_unique<RedisTier>(std::move(o), /*cluster_node=*/true, coherence_);
  RedisTier& ref = *tier;
  // Only the masters the cache reads from run an invalidation channel.
  if (std::find(known_masters_.begin(), known_masters_.end(), address) != known_masters_.end()) ref.set_tracking(true);
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
    std::vector<std::string> masters, replicas;
    auto req = std::make_shared<Request>(deadline, true);
    req->command({"CLUSTER", "SLOTS"});
    req->on_reply = [&](const Replies& replies) {
      ranges.clear();
      masters.clear();
      replicas.clear();
      Reply r = replies[0];
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
        // The replicas only serve server_info (no reads go to them).
        for (Reply replica = master.next(); replica.valid(); replica = replica.next()) {
          if (!replica.is(ReplyType::kArray)) continue;
          Reply rip = replica.first();
          Reply rport = rip.valid() ? rip.next() : Reply();
          if (!rport.valid() || !rip.is(ReplyType::kString) || !rport.is(ReplyType::kInteger)) continue;
          std::string r = address_of(rip.str().empty() ? std::string_view(host) : rip.str(), rport.integer());
          if (std::find(replicas.begin(), replicas.end(), r) == replicas.end()) replicas.push_back(r);
        }
      }
      if (ranges.empty()) return unavailable("redis: CLUSTERDOWN the node serves no slot yet");
      return Status();
    };
    Status s;
    req->done = [&s](Status result) { s = std::move(result); };
    node(address).send(std::move(req));
    if (!s) {
      *error = s;
      continue;
    }
    bool moved = false;
    size_t slots_moved = 0;
    {
      std::unique_lock<std::shared_mutex> lock(map_mu_);
      auto before = owner_;
      owner_.fill(-1);
      for (const auto& [owner, range] : ranges) {
        auto it = std::find(addresses_.begin(), addresses_.end(), owner);
        if (it == addresses_.end()) it = addresses_.insert(addresses_.end(), owner);
        auto index = static_cast<int16_t>(it - addresses_.begin());
        for (uint32_t slot = range.first; slot <= range.second; ++slot) owner_[slot] = index;
      }
      moved = loaded_ && before != owner_;
      if (moved) {
        for (size_t slot = 0; slot < owner_.size(); ++slot) slots_moved += before[slot] != owner_[slot];
      }
      masters_ = masters;
      replicas_ = replicas;
      loaded_ = true;
    }
    if (moved && log_enabled(LogLevel::kInfo)) {
      log_event(LogLevel::kInfo, "cluster.slots_moved",
                "slot map refresh: " + std::to_string(slots_moved) + " slots served by another node than before");
    }
    if (coherence_) follow_masters(masters, moved);
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

void ClusterTier::follow_masters(const std::vector<std::string>& masters, bool moved) {
  std::lock_guard<std::mutex> lock(nodes_mu_);
  known_masters_ = masters;
  for (auto& [address, tier] : nodes_) {
    tier->set_tracking(std::find(masters.begin(), masters.end(), address) != masters.end());
  }
  // Keys whose slot moved were tracked by their old owner: forget every L1 copy (the
  // migration's delete on the old owner usually said so already).
  if (moved) coherence_->flush(Coherence::Flush::kTopology);
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
  if (moved) {
    moved_.fetch_add(1, std::memory_order_relaxed);
    set_owner(*slot, target->address);
    stale_.store(true, std::memory_order_relaxed);  // the next call refreshes the whole map
  } else {
    ask_.fetch_add(1, std::memory_order_relaxed);
  }
  return true;
}


// ---- Single-slot requests ----

struct ClusterTier::Routed {
  RequestPtr req;
  DoneStatus done;  // the request's own completion
  Target target;
  int redirects = 0;
};

void ClusterTier::send(RequestPtr req) {
  if (Status s = ensure_map(req->deadline); !s) return req->done(std::move(s));
  if (req->slot == Request::kNoSlot) return req->done(internal_error("cluster request without a key slot"));
  auto r = std::make_shared<Routed>();
  r->target = Target{slot_owner(req->slot), false};
  r->done = std::move(req->done);
  r->req = std::move(req);
  route(std::move(r));
}

void ClusterTier::route(std::shared_ptr<Routed> r) {
  sending_.fetch_add(1);
  if (closing_.load()) {
    sending_.fetch_sub(1);
    return r->done(unavailable("redis: the cluster tier is being destroyed"));
  }
  if (r->target.address.empty()) {
    sending_.fetch_sub(1);
    return r->done(unavailable("redis: CLUSTERDOWN hash slot " + std::to_string(r->req->slot) + " is not served"));
  }
  // After a redirect of an asynchronous request this runs on the completing node's I/O
  // thread: when the target has no pipe yet, it connects here (bounded by the deadline).
  // Redirects are rare, so a node's connect is not worth a thread of its own.
  RedisTier& tier = node(r->target.address);
  bool asking = r->target.asking;
  RequestPtr req = r->req;
  req->done = [this, r](Status s) mutable { on_routed(std::move(r), std::move(s)); };
  tier.send(std::move(req), asking);
  sending_.fetch_sub(1);  // after the send: the destructor must not destroy `tier` under it
}

void ClusterTier::on_routed(std::shared_ptr<Routed> r, Status s) {
  const Request& req = *r->req;
  bool may_redirect = r->redirects < kMaxRedirects && !req.deadline.expired() && !closing_.load();
  uint16_t slot = 0;
  Target next;
  if (may_redirect && redirected(s, &slot, &next)) {
    ++r->redirects;
    r->target = std::move(next);
    return route(std::move(r));
  }
  if (node_failed(s)) {
    if (req.wait && may_redirect && refresh(req.deadline)) {
      // The node may be gone and its slot served by another (a promoted replica).
      std::string owner = slot_owner(req.slot);
      if (req.idempotent && owner != r->target.address) {
        ++r->redirects;
        r->target = Target{owner, false};
        return route(std::move(r));
      }
    } else {
      stale_.store(true, std::memory_order_relaxed);  // the next call re-reads the map
    }
  }
  r->done(std::move(s));
}

// ---- Multi-key requests ----

struct ClusterTier::Scatter {
  std::shared_ptr<Keyed> k;
  std::vector<Status> statuses;
  std::vector<Target> targets;
  std::vector<char> alone;     // per_slot: served in a group of its own (see the top)
  std::vector<size_t> pending; // the items of the next round
  int round = 0;
  std::mutex mu;
  size_t groups_left = 0;
  std::vector<size_t> again;
  bool refreshed = false;
};

void ClusterTier::send_keyed(std::shared_ptr<Keyed> k) {
  const size_t n = k->slots.size();
  if (Status s = ensure_map(k->call.deadline); !s) return k->done(std::vector<Status>(n, s));
  auto sc = std::make_shared<Scatter>();
  sc->statuses.resize(n);
  sc->targets.resize(n);
  sc->alone.assign(n, 0);
  sc->pending.resize(n);
  for (size_t i = 0; i < n; ++i) {
    sc->pending[i] = i;
    sc->targets[i] = Target{slot_owner(k->slots[i]), false};
  }
  sc->k = std::move(k);
  scatter_round(std::move(sc));
}

void ClusterTier::scatter_round(std::shared_ptr<Scatter> sc) {
  Keyed& k = *sc->k;
  if (sc->pending.empty()) return k.done(std::move(sc->statuses));
  std::vector<size_t> pending = std::move(sc->pending);
  sc->pending.clear();
  // Group by (node, asking[, alone, slot]).
  std::sort(pending.begin(), pending.end(), [&](size_t a, size_t b) {
    const Target &ta = sc->targets[a], &tb = sc->targets[b];
    if (ta.address != tb.address) return ta.address < tb.address;
    if (ta.asking != tb.asking) return ta.asking < tb.asking;
    if (sc->alone[a] != sc->alone[b]) return sc->alone[a] < sc->alone[b];
    return k.per_slot ? k.slots[a] < k.slots[b] : a < b;
  });
  std::vector<std::vector<size_t>> groups;
  for (size_t from = 0; from < pending.size();) {
    size_t to = from + 1;
    const Target& t = sc->targets[pending[from]];
    while (to < pending.size() && sc->targets[pending[to]].address == t.address &&
           sc->targets[pending[to]].asking == t.asking &&
           (!k.per_slot || (!sc->alone[pending[from]] && !sc->alone[pending[to]] &&
                            k.slots[pending[to]] == k.slots[pending[from]]))) {
      ++to;
    }
    groups.emplace_back(pending.begin() + static_cast<std::ptrdiff_t>(from),
                        pending.begin() + static_cast<std::ptrdiff_t>(to));
    from = to;
  }
  {
    std::lock_guard<std::mutex> lock(sc->mu);
    sc->groups_left = groups.size();
    sc->again.clear();
    sc->refreshed = false;
  }
  // Every group in flight at once; the last to complete starts the next round.
  for (std::vector<size_t>& group : groups) {
    Target target = sc->targets[group[0]];
    sending_.fetch_add(1);  // before closing_ is read: see route()
    bool closing = closing_.load();
    if (target.address.empty() || closing) {
      sending_.fetch_sub(1);
      Status s = closing ? unavailable("redis: the cluster tier is being destroyed")
                         : unavailable("redis: CLUSTERDOWN hash slot " + std::to_string(k.slots[group[0]]) +
                                       " is not served");
      for (size_t i : group) sc->statuses[i] = s;
      on_group(sc, group, target);
      continue;
    }
    auto req = std::make_shared<Request>(k.call.deadline, k.call.wait);
    req->idempotent = k.idempotent;
    req->slot = k.slots[group[0]];
    k.build(*req, group, &sc->statuses);
    req->done = [this, sc, group, target](Status s) {
      if (!s) {
        for (size_t i : group) sc->statuses[i] = s;
      }
      on_group(sc, group, target);
    };
    node(target.address).send(std::move(req), target.asking);
    sending_.fetch_sub(1);
  }
}

void ClusterTier::on_group(const std::shared_ptr<Scatter>& sc, const std::vector<size_t>& group,
                           const Target& target) {
  Keyed& k = *sc->k;
  const bool may_redirect = sc->round < kMaxRedirects && !k.call.deadline.expired() && !closing_.load();
  std::vector<size_t> again;
  bool node_down = false;
  if (k.per_slot) {
    // One status covers a slot's group, its first failure: a slot moves, or is migrated,
    // as a whole, and a pipeline (mset) may be answered in part before an -ASK.
    const Status* first = nullptr;
    for (size_t i : group) {
      if (!sc->statuses[i]) {
        first = &sc->statuses[i];
        break;
      }
    }
    uint16_t slot = 0;
    Target next;
    bool redirect = first != nullptr && may_redirect && redirected(*first, &slot, &next);
    if (first != nullptr && group.size() > 1 && ((redirect && next.asking) || (may_redirect && try_again(*first)))) {
      // The slot is being migrated: its keys go again one by one to the same node.
      for (size_t j : group) sc->alone[j] = 1;
      again = group;
    } else if (redirect) {
      for (size_t j : group) sc->targets[j] = next;
      again = group;
    } else if (first != nullptr && may_redirect && node_failed(*first)) {
      node_down = true;
    }
  } else {
    for (size_t i : group) {
      uint16_t slot = 0;
      Target next;
      if (may_redirect && redirected(sc->statuses[i], &slot, &next)) {
        sc->targets[i] = std::move(next);
        again.push_back(i);
      } else if (may_redirect && node_failed(sc->statuses[i])) {
        node_down = true;
      }
    }
  }
  if (node_down) {
    // A waiting caller re-reads the map now (once per round) and sends the failed items
    // of an idempotent request to their new owners; an asynchronous one leaves it to the
    // next call.
    bool refreshed = false;
    if (k.call.wait) {
      std::unique_lock<std::mutex> lock(sc->mu);
      refreshed = sc->refreshed;
      if (!refreshed) {
        lock.unlock();
        refreshed = refresh(k.call.deadline);
        lock.lock();
        sc->refreshed = sc->refreshed || refreshed;
      }
    } else {
      stale_.store(true, std::memory_order_relaxed);
    }
    if (refreshed && k.idempotent) {
      for (size_t i : group) {
        if (!node_failed(sc->statuses[i])) continue;
        std::string owner = slot_owner(k.slots[i]);
        if (owner != target.address) {
          sc->targets[i] = Target{owner, false};
          again.push_back(i);
        }
      }
    }
  }
  std::unique_lock<std::mutex> lock(sc->mu);
  sc->again.insert(sc->again.end(), again.begin(), again.end());
  if (--sc->groups_left != 0) return;
  sc->pending = std::move(sc->again);
  sc->again.clear();
  ++sc->round;
  lock.unlock();
  scatter_round(sc);
}

Result<RedisOps::Servers> ClusterTier::servers(Deadline deadline) {
  if (Status s = ensure_map(deadline); !s) return s;
  Servers out;
  out.cluster = true;
  for (const std::string& m : masters()) {
    out.nodes.push_back(&node(m));
    out.names.push_back(m);
  }
  return out;
}

Result<RedisOps::Servers> ClusterTier::info_servers(Deadline deadline) {
  auto out = servers(deadline);
  if (!out) return out;
  std::vector<std::string> replicas;
  {
    std::shared_lock<std::shared_mutex> lock(map_mu_);
    replicas = replicas_;
  }
  for (const std::string& r : replicas) {
    out->nodes.push_back(&node(r));
    out->names.push_back(r);
  }
  return out;
}

L2Stats ClusterTier::stats() const {
  L2Stats total = counters_.snapshot();
  {
    std::lock_guard<std::mutex> lock(nodes_mu_);
    for (const auto& [address, tier] : nodes_) add(total, tier->stats());
  }
  total.moved_redirects = moved_.load(std::memory_order_relaxed);
  total.ask_redirects = ask_.load(std::memory_order_relaxed);
  return total;
}


}  // namespace stratacache::redis
