#include "redis/redis_tier.hpp"

#include <numeric>
#include <utility>

#include "redis/cluster_tier.hpp"
#include "stratacache/log.hpp"

namespace stratacache::redis {
namespace {

bool starts_with(const Status& s, std::string_view prefix) {
  return !s && is_server_error(s) && s.message().compare(0, prefix.size(), prefix) == 0;
}

// How log events name this tier's server (docs/operations.md).
std::string server_label(const RedisOptions& o) {
  if (!o.sentinels.empty()) return "master '" + o.sentinel_master + "'";
  if (!o.unix_path.empty()) return o.unix_path;
  return o.host + ":" + std::to_string(o.port);
}

}  // namespace

struct RedisTier::Attempt {
  CircuitBreaker::Ticket ticket = CircuitBreaker::Ticket::kRefused;
  bool asking = false;
  // Each retry reason at most once per request: a dead connection, a master that moved.
  bool retried_stale = false, retried_moved = false;
};

RedisTier::RedisTier(RedisOptions options, bool cluster_node, std::shared_ptr<Coherence> coherence)
    : cluster_node_(cluster_node),
      options_(std::move(options)),
      pool_(options_, counters_),
      pipes_(pool_, options_, counters_),
      breaker_(options_.circuit_breaker_threshold, options_.circuit_breaker_cooldown,
               options_.sentinels.empty() ? options_.circuit_breaker_cooldown_max : options_.circuit_breaker_cooldown,
               server_label(options_)) {
  if (!options_.sentinels.empty()) sentinel_ = std::make_unique<SentinelResolver>(options_);
  scan_count_ = options_.scan_count == 0 ? 1000 : options_.scan_count;
  coherence_ = coherence;
  if (coherence && coherence->mode() != L1Coherence::kOff) {
    Tracker::Sentinel follow;
    if (sentinel_) {
      // L1 hits make no Redis call: the channel itself follows the watcher's news.
      follow.news = [this] { return sentinel_news_.load(std::memory_order_acquire); };
      follow.follow = [this](Deadline d) {
        Status ignored;
        if (pool_.target_epoch() == 0) refresh_master(d, 0, &ignored);  // no call resolved it yet
        else follow_master(d);
      };
    }
    tracker_ = std::make_unique<Tracker>(pool_, options_, std::move(coherence), /*enabled=*/!cluster_node,
                                         std::move(follow));
    pipes_.set_tracker(tracker_.get());
    // The channel connects in the background from now on; the first synchronous calls
    // wait for that first attempt (Coherence::await_start).
    tracker_->ensure_running();
  }
}

void RedisTier::close() {
  if (tracker_) tracker_->stop();
  pipes_.close();
}

RedisTier::~RedisTier() {
  if (tracker_) tracker_->stop();
  // Pending asynchronous requests complete first: their callbacks use the breaker and counters.
  pipes_.close();
  // A watcher inherited across fork() has no thread in this process: abandon it.
  if (watcher_ && watcher_generation_.load() != fork_generation() + 1) (void)watcher_.release();
  watcher_.reset();
}

void RedisTier::follow_master(Deadline deadline) {
  if (options_.sentinel_watch_interval.count() > 0 &&
      watcher_generation_.load(std::memory_order_acquire) != fork_generation() + 1) {
    std::lock_guard<std::mutex> lock(watcher_mu_);
    uint64_t generation = fork_generation() + 1;
    if (watcher_generation_.load(std::memory_order_relaxed) != generation) {
      if (watcher_) (void)watcher_.release();  // the parent's (see ~RedisTier)
      watcher_ = std::make_unique<SentinelWatcher>(options_, *sentinel_, sentinel_news_);
      watcher_generation_.store(generation, std::memory_order_release);
    }
  }
  uint64_t news = sentinel_news_.load(std::memory_order_acquire);
  uint64_t handled = news_handled_.load(std::memory_order_relaxed);
  uint64_t epoch = pool_.target_epoch();
  // One caller acts on the news; the others go on (to the old master, for a moment).
  if (news == handled || epoch == 0 || !news_handled_.compare_exchange_strong(handled, news)) return;
  Status ignored;
  refresh_master(deadline, epoch, &ignored);
}

L2Stats RedisTier::stats() const {
  L2Stats s = counters_.snapshot();
  s.breaker_opens = breaker_.opens();
  s.breakers_open = breaker_.is_open() ? 1 : 0;
  s.breaker_half_opens = breaker_.half_opens();
  s.breaker_closes = breaker_.closes();
  s.breaker_rejections = breaker_.rejections();
  return s;
}

void RedisTier::send(RequestPtr req, bool asking) {
  if (sentinel_) follow_master(req->deadline);
  auto a = std::make_shared<Attempt>();
  a->asking = asking;
  Status refusal;
  a->ticket = breaker_.admit(&refusal);
  if (a->ticket == CircuitBreaker::Ticket::kRefused) return req->done(std::move(refusal));
  attempt(std::move(req), std::move(a), false);
}

void RedisTier::send_keyed(std::shared_ptr<Keyed> k) {
  // One server holds every key: one request for all of them.
  auto statuses = std::make_shared<std::vector<Status>>(k->slots.size());
  std::vector<size_t> items(k->slots.size());
  std::iota(items.begin(), items.end(), size_t{0});
  auto req = std::make_shared<Request>(k->call.deadline, k->call.wait);
  req->idempotent = k->idempotent;
  k->build(*req, items, statuses.get());
  req->done = [k, statuses](Status s) {
    if (!s) std::fill(statuses->begin(), statuses->end(), s);
    k->done(std::move(*statuses));
  };
  send(std::move(req));
}

void RedisTier::finish(const RequestPtr& req, Attempt& a, Status s, CircuitBreaker::Outcome outcome) {
  breaker_.settle(a.ticket, outcome, s);
  req->done(std::move(s));
}

void RedisTier::attempt(RequestPtr req, std::shared_ptr<Attempt> a, bool in_completion) {
  using Outcome = CircuitBreaker::Outcome;
  if (!req->format_error()) return finish(req, *a, req->format_error(), Outcome::kNeutral);
  if (req->deadline.expired()) {
    bump(counters_.timeouts);
    return finish(req, *a, timeout_error("deadline passed before the request was sent"), Outcome::kFailure);
  }
  const bool may_block = !in_completion;
  if (tracker_) tracker_->ensure_running();
  uint64_t epoch = pool_.target_epoch();
  if (sentinel_ && epoch == 0) {
    Status error = unavailable("redis: no master known yet");
    if (may_block) refresh_master(req->deadline, 0, &error);
    if (pool_.target_epoch() == 0) {
      bump(error.code() == StatusCode::kTimeout ? counters_.timeouts : counters_.sentinel_failures);
      return finish(req, *a, std::move(error), Outcome::kFailure);
    }
    epoch = pool_.target_epoch();
  }
  AcquireFailure why = AcquireFailure::kNone;
  // An asynchronous request never waits for a connect while a pipe is open.
  auto pick = pipes_.pick(req->deadline, &why, /*may_grow=*/req->wait);
  if (!pick) {
    Status s = pick.status();
    if (why == AcquireFailure::kConnect && sentinel_ && !a->retried_moved && may_block) {
      // The master may have moved (or died, and a replica was promoted).
      Status ignored;
      a->retried_moved = true;
      if (refresh_master(req->deadline, epoch, &ignored) && !req->deadline.expired()) {
        return attempt(std::move(req), std::move(a), in_completion);
      }
    }
    if (why == AcquireFailure::kWait) {
      bump(counters_.timeouts);
    } else if (why == AcquireFailure::kConnect || why == AcquireFailure::kOther) {
      count_kind(s);
    }
    return finish(req, *a, std::move(s), why == AcquireFailure::kWait ? Outcome::kNeutral : Outcome::kFailure);
  }
  std::shared_ptr<Pipe> pipe = std::move(pick->pipe);
  bool reused = pick->reused;
  if (!req->wait) {
    if (Status io = pipes_.start_io(); !io) return finish(req, *a, std::move(io), Outcome::kNeutral);
  }
  auto preq = std::make_shared<PipeRequest>();
  preq->reset(req->commands() * (a->asking ? 2 : 1), req->deadline);
  std::string scratch;
  std::string_view wire = req->wire(a->asking, &scratch);
  if (req->wait) {
    pipe->call(preq, wire);
    return on_replies(std::move(req), std::move(a), *preq, pipe, reused, in_completion);
  }
  preq->on_done = [this, req, a, pipe, reused](PipeRequest& r) { on_replies(req, a, r, pipe, reused, true); };
  pipe->submit(std::move(preq), wire);
}

void RedisTier::on_replies(RequestPtr req, std::shared_ptr<Attempt> a, PipeRequest& r,
                           const std::shared_ptr<Pipe>& pipe, bool reused, bool in_completion) {
  using Outcome = CircuitBreaker::Outcome;
  Status s = r.status;
  if (s && a->asking) {
    // ASKING's own replies (+OK): an error there is the request's.
    for (size_t i = 0; i + 1 < r.replies.size(); i += 2) {
      if (r.replies[i].is(ReplyType::kError)) {
        s = server_error(r.replies[i].str());
        break;
      }
    }
  }
  if (s) s = req->on_reply(Replies(r.replies, a->asking));
  const bool lost = r.lost, untouched = !r.received, unsent = !r.sent;
  const bool readonly = starts_with(s, "redis: READONLY"), loading = starts_with(s, "redis: LOADING");
  const bool may_block = !in_completion && req->wait;
  const uint64_t pipe_epoch = pipe->target_epoch();
  if (pipe->broken()) pipes_.drop(pipe.get());
  // After a restart every connection is dead: let the next calls open new ones.
  if (lost) pool_.connection_lost(s);
  bool retry = false;
  if (lost && !a->retried_stale && !req->deadline.expired() &&
      (unsent || (req->idempotent && reused && untouched))) {
    a->retried_stale = true;
    retry = true;
  }
  if (sentinel_ && (lost || readonly || loading) && !a->retried_moved) {
    // The master was demoted (-READONLY), is not ready (-LOADING), or is gone.
    a->retried_moved = true;
    if (may_block) {
      Status ignored;
      bool moved = refresh_master(req->deadline, pipe_epoch, &ignored);
      // -READONLY: the command did not run, so even a write that is not idempotent may go again.
      retry = retry || (moved && !req->deadline.expired() && (req->idempotent || readonly));
    } else {
      sentinel_news_.fetch_add(1, std::memory_order_acq_rel);  // the next call asks the sentinels
    }
  }
  if (retry) return attempt(std::move(req), std::move(a), in_completion || !req->wait);
  Outcome outcome = Outcome::kSuccess;
  if (!s) {
    if (!is_redirect(s)) count_kind(s);
    if (lost || s.code() == StatusCode::kTimeout) outcome = Outcome::kFailure;
  }
  finish(req, *a, std::move(s), outcome);
}

bool RedisTier::refresh_master(Deadline deadline, uint64_t seen_epoch, Status* error) {
  {
    std::unique_lock<std::mutex> lock(resolve_mu_);
    while (resolving_) {
      if (resolved_.wait_until(lock, deadline.at()) == std::cv_status::timeout && resolving_) {
        *error = timeout_error("deadline passed while another caller was asking the sentinels");
        return false;
      }
    }
    if (pool_.target_epoch() != seen_epoch) return true;  // another caller just did it
    resolving_ = true;
  }
  auto master = sentinel_->resolve(deadline);
  bool moved = false;
  if (!master) {
    *error = master.status();
  } else if (std::string before = pool_.target(); seen_epoch == 0 || before != master->to_string()) {
    pool_.retarget(master->host, master->port);
    if (seen_epoch != 0) {
      bump(counters_.master_changes);
      if (log_enabled(LogLevel::kWarning)) {
        log_event(LogLevel::kWarning, "sentinel.failover",
                  "master '" + options_.sentinel_master + "' moved from " + before + " to " + master->to_string());
      }
    }
    breaker_.reset();
    moved = true;
  }
  {
    std::lock_guard<std::mutex> lock(resolve_mu_);
    resolving_ = false;
  }
  resolved_.notify_all();
  return moved;
}

void RedisTier::count_kind(const Status& s) {
  switch (s.code()) {
    case StatusCode::kTimeout: bump(counters_.timeouts); return;
    case StatusCode::kPermissionDenied: bump(counters_.auth_errors); return;
    default: break;
  }
  if (is_server_error(s)) bump(counters_.server_errors);
  else if (s.code() == StatusCode::kInternal || s.code() == StatusCode::kTooLarge) bump(counters_.protocol_errors);
  else if (s.code() == StatusCode::kUnavailable) bump(counters_.connection_errors);
}

}  // namespace stratacache::redis

namespace stratacache {

std::unique_ptr<RemoteTier> make_redis_tier(const RedisOptions& options, std::shared_ptr<Coherence> coherence) {
  // No transport means no L2: the null tier is exactly that.
  if (options.transport == RedisOptions::Transport::kNone) return make_null_remote_tier();
  if (!options.cluster_nodes.empty()) return std::make_unique<redis::ClusterTier>(options, std::move(coherence));
  return std::make_unique<redis::RedisTier>(options, false, std::move(coherence));
}

}  // namespace stratacache
