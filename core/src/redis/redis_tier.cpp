#include "redis/redis_tier.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <utility>

#include "redis/cluster_slots.hpp"
#include "redis/cluster_tier.hpp"

namespace stratacache::redis {
namespace {

thread_local bool t_asking = false;

// An integer argument formatted on the stack.
class Num {
 public:
  explicit Num(int64_t v) { len_ = static_cast<size_t>(std::to_chars(buf_, buf_ + sizeof buf_, v).ptr - buf_); }
  std::string_view view() const { return std::string_view(buf_, len_); }

 private:
  char buf_[24];
  size_t len_;
};

// A command of an asynchronous request; with `asking` (Redis Cluster ASK redirect)
// preceded by ASKING, as Batch::command does for synchronous calls.
void append_routed(std::string& out, const std::string_view* args, size_t n, bool asking, Status* error) {
  if (asking) {
    static constexpr std::string_view kAsking[] = {"ASKING"};
    append_command(out, kAsking, 1, error);
  }
  append_command(out, args, n, error);
}

Status unexpected(const char* command) { return internal_error(std::string("unexpected reply type to ") + command); }

Status read_integer(Reply r, const char* command, int64_t* out) {
  if (r.is(ReplyType::kError)) return server_error(r.str());
  if (!r.is(ReplyType::kInteger)) return unexpected(command);
  *out = r.integer();
  return Status();
}

Status read_ok(Reply r, const char* command) {
  if (r.is(ReplyType::kError)) return server_error(r.str());
  if (!r.is(ReplyType::kStatus)) return unexpected(command);
  return Status();
}

// GET + PTTL replies of one key.
Status read_entry(Reply value, Reply ttl, RemoteEntry* entry, bool* hit) {
  *hit = false;
  if (value.is(ReplyType::kError)) return server_error(value.str());
  if (value.is(ReplyType::kNil)) return Status();
  if (!value.is(ReplyType::kString)) return unexpected("GET");
  int64_t ms = 0;
  if (Status s = read_integer(ttl, "PTTL", &ms); !s) return s;
  if (ms == -2) return Status();  // expired between GET and PTTL
  entry->value.assign(value.str().data(), value.str().size());
  entry->pttl_ms = ms < 0 ? -1 : ms;
  *hit = true;
  return Status();
}

Status check_ttl(int64_t ttl_ms) {
  if (ttl_ms < 0) return invalid_argument("ttl_ms must be >= 0 (0: no expiry)");
  return Status();
}

void queue_set(Batch& c, std::string_view key, std::string_view value, int64_t ttl_ms) {
  if (ttl_ms > 0) {
    Num ttl(ttl_ms);
    c.command({"SET", key, value, "PX", ttl.view()});
  } else {
    c.command({"SET", key, value});
  }
}

// "field:value" from an INFO section.
std::string_view info_field(std::string_view info, std::string_view field) {
  size_t pos = 0;
  while (pos < info.size()) {
    size_t end = info.find('\n', pos);
    if (end == std::string_view::npos) end = info.size();
    std::string_view line = info.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > field.size() && line.compare(0, field.size(), field) == 0 && line[field.size()] == ':') {
      return line.substr(field.size() + 1);
    }
    pos = end + 1;
  }
  return {};
}

int64_t to_int(std::string_view s) {
  int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

}  // namespace

AskingScope::AskingScope() : previous_(t_asking) { t_asking = true; }
AskingScope::~AskingScope() { t_asking = previous_; }

RedisTier::RedisTier(RedisOptions options, bool cluster_node)
    : cluster_node_(cluster_node),
      options_(std::move(options)),
      pool_(options_, counters_),
      pipes_(pool_, options_, counters_),
      breaker_(options_.circuit_breaker_threshold, options_.circuit_breaker_cooldown,
               options_.sentinels.empty() ? options_.circuit_breaker_cooldown_max : options_.circuit_breaker_cooldown) {
  if (!options_.sentinels.empty()) sentinel_ = std::make_unique<SentinelResolver>(options_);
}

RedisTier::~RedisTier() {
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
  s.breaker_rejections = breaker_.rejections();
  return s;
}

template <typename Fn>
Status RedisTier::run(Deadline deadline, bool idempotent, Fn&& fn) {
  if (sentinel_) follow_master(deadline);
  Status refusal;
  CircuitBreaker::Ticket ticket = breaker_.admit(&refusal);
  if (ticket == CircuitBreaker::Ticket::kRefused) return refusal;
  CircuitBreaker::Outcome outcome = CircuitBreaker::Outcome::kSuccess;
  Status s = attempt(deadline, idempotent, std::forward<Fn>(fn), &outcome);
  breaker_.settle(ticket, outcome, s);
  return s;
}

template <typename Fn>
Status RedisTier::attempt(Deadline deadline, bool idempotent, Fn&& fn, CircuitBreaker::Outcome* outcome) {
  using Outcome = CircuitBreaker::Outcome;
  // Each retry reason at most once per call: a dead pooled connection, a master that moved.
  bool retried_stale = false, retried_moved = false;
  for (;;) {
    uint64_t epoch = pool_.target_epoch();
    if (sentinel_ && epoch == 0) {
      Status error;
      refresh_master(deadline, 0, &error);
      epoch = pool_.target_epoch();
      if (epoch == 0) {
        *outcome = Outcome::kFailure;
        bump(error.code() == StatusCode::kTimeout ? counters_.timeouts : counters_.sentinel_failures);
        return error;
      }
    }
    AcquireFailure why = AcquireFailure::kNone;
    auto pick = pipes_.pick(deadline, &why);
    if (!pick) {
      Status s = pick.status();
      if (why == AcquireFailure::kConnect && sentinel_ && !retried_moved) {
        // The master may have moved (or died, and a replica was promoted).
        Status ignored;
        retried_moved = true;
        if (refresh_master(deadline, epoch, &ignored) && !deadline.expired()) continue;
      }
      *outcome = why == AcquireFailure::kWait ? Outcome::kNeutral : Outcome::kFailure;
      if (why == AcquireFailure::kWait) {
        bump(counters_.timeouts);
      } else if (why == AcquireFailure::kConnect || why == AcquireFailure::kOther) {
        count_kind(s);
      }
      return s;
    }
    Batch batch(pick->pipe);
    batch.set_asking(t_asking);
    Status s = fn(batch);
    batch.set_asking(false);
    bool lost = batch.lost();
    bool untouched = !batch.received_any();
    bool readonly = !s && is_server_error(s) && s.message().compare(0, 15, "redis: READONLY") == 0;
    bool loading = !s && is_server_error(s) && s.message().compare(0, 14, "redis: LOADING") == 0;
    const uint64_t pipe_epoch = pick->pipe->target_epoch();
    if (pick->pipe->broken()) pipes_.drop(pick->pipe.get());
    // After a restart every connection is dead: let the next calls open new ones.
    if (lost) pool_.discard_idle();
    bool retry = false;
    if (lost && idempotent && pick->reused && untouched && !retried_stale && !deadline.expired()) {
      retried_stale = true;
      retry = true;
    }
    if (sentinel_ && (lost || readonly || loading) && !retried_moved) {
      // The master was demoted (-READONLY), is not ready (-LOADING), or is gone.
      Status ignored;
      retried_moved = true;
      bool moved = refresh_master(deadline, pipe_epoch, &ignored);
      // -READONLY: the command did not run, so even a write that is not idempotent may go again.
      retry = retry || (moved && !deadline.expired() && (idempotent || readonly));
    }
    if (retry) continue;
    if (!s) {
      count_kind(s);
      if (lost || s.code() == StatusCode::kTimeout) *outcome = Outcome::kFailure;
    }
    return s;
  }
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
  } else if (seen_epoch == 0 || pool_.target() != master->to_string()) {
    pool_.retarget(master->host, master->port);
    if (seen_epoch != 0) bump(counters_.master_changes);
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

void RedisTier::count_failure(const Status& s) {
  if (s.code() != StatusCode::kNotFound) bump(counters_.errors);
}

Status RedisTier::failed(Status s) {
  count_failure(s);
  return s;
}

Result<RemoteEntry> RedisTier::get(std::string_view key, Deadline deadline) {
  RemoteEntry entry;
  bool hit = false;
  Status s = run(deadline, true, [&](Batch& c) {
    c.command({"GET", key});
    c.command({"PTTL", key});
    if (Status rt = c.roundtrip(deadline); !rt) return rt;
    return read_entry(c.reply(0), c.reply(1), &entry, &hit);
  });
  if (!s) return failed(std::move(s));
  if (!hit) {
    bump(counters_.misses);
    return not_found();
  }
  bump(counters_.hits);
  return Result<RemoteEntry>(std::move(entry));
}

Result<std::string> RedisTier::get_value(std::string_view key, Deadline deadline) {
  std::string value;
  bool hit = false;
  Status s = run(deadline, true, [&](Batch& c) {
    c.command({"GET", key});
    if (Status rt = c.roundtrip(deadline); !rt) return rt;
    Reply r = c.reply(0);
    if (r.is(ReplyType::kError)) return server_error(r.str());
    if (r.is(ReplyType::kNil)) return Status();
    if (!r.is(ReplyType::kString)) return unexpected("GET");
    value.assign(r.str().data(), r.str().size());
    hit = true;
    return Status();
  });
  if (!s) return failed(std::move(s));
  if (!hit) {
    bump(counters_.misses);
    return not_found();
  }
  bump(counters_.hits);
  return Result<std::string>(std::move(value));
}

std::vector<Result<RemoteEntry>> RedisTier::mget(const std::vector<std::string>& keys, Deadline deadline) {
  std::vector<Result<RemoteEntry>> out;
  if (keys.empty()) return out;
  std::vector<RemoteEntry> entries(keys.size());
  std::vector<Status> statuses(keys.size());
  std::vector<char> hits(keys.size(), 0);
  Status s = run(deadline, true, [&](Batch& c) {
    for (const std::string& k : keys) {
      c.command({"GET", k});
      c.command({"PTTL", k});
    }
    if (Status rt = c.roundtrip(deadline); !rt) return rt;
    for (size_t i = 0; i < keys.size(); ++i) {
      bool hit = false;
      statuses[i] = read_entry(c.reply(2 * i), c.reply(2 * i + 1), &entries[i], &hit);
      hits[i] = hit ? 1 : 0;
    }
    return Status();
  });
  out.reserve(keys.size());
  if (!s) {
    count_failure(s);
    for (size_t i = 0; i < keys.size(); ++i) out.emplace_back(s);
    return out;
  }
  uint64_t n_hits = 0, n_misses = 0;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!statuses[i].is_ok()) {
      count_kind(statuses[i]);
      out.emplace_back(failed(std::move(statuses[i])));
    } else if (hits[i]) {
      ++n_hits;
      out.emplace_back(std::move(entries[i]));
    } else {
      ++n_misses;
      out.emplace_back(not_found());
    }
  }
  bump(counters_.hits, n_hits);
  bump(counters_.misses, n_misses);
  return out;
}

Status RedisTier::set(std::string_view key, std::string_view value, int64_t ttl_ms, Deadline deadline) {
  if (Status s = check_ttl(ttl_ms); !s) return failed(std::move(s));
  Status s = run(deadline, true, [&](Batch& c) {
    queue_set(c, key, value, ttl_ms);
    if (Status rt = c.roundtrip(deadline); !rt) return rt;
    return read_ok(c.reply(0), "SET");
  });
  if (!s) return failed(std::move(s));
  bump(counters_.sets);
  return s;
}

Status RedisTier::mset(const std::vector<RemoteWrite>& writes, Deadline deadline) {
  if (writes.empty()) return Status();
  for (const RemoteWrite& w : writes) {
    if (Status s = check_ttl(w.ttl_ms); !s) return failed(std::move(s));
  }
  Status s = run(deadline, true, [&](Batch& c) {
    for (const RemoteWrite& w : writes) queue_set(c, w.key, w.value, w.ttl_ms);
    if (Status rt = c.roundtrip(deadline); !rt) return rt;
    for (size_t i = 0; i < writes.size(); ++i) {
      if (Status r = read_ok(c.reply(i), "SET"); !r) return r;
    }
    return Status();
  });
  if (!s) return failed(std::move(s));
  bump(counters_.sets, writes.size());
  return s;
}

Result<int64_t> RedisTier::del(const std::vector<std::string>& keys, Deadline deadline) {
  if (keys.empty()) return int64_t{0};
  std::vector<std::string_view> argv;
  argv.reserve(keys.size() + 1);
  argv.emplace_back("DEL");
  for (const std::string& k : keys) argv.emplace_back(k);
  int64_t deleted = 0;
  Status s = run(deadline, true, [&](Batch& c) {
    c.command(argv.data(), argv.size());
    if (Status rt = c.roundtrip(deadline); !rt) return rt;
    return read_integer(c.reply(0), "DEL", &deleted);
  });
  if (!s) return failed(std::move(s));
  bump(counters_.deletes, static_cast<uint64_t>(deleted));
  return deleted;
}

Result<bool> RedisTier::exists(std::string_view key, Deadline deadline) {
  int64_t n = 0;
  Status s = run(deadline, true, [&](Batch& c) {
    c.command({"EXISTS", key});
    if (Status rt = c.roundtrip(deadline); !rt) return rt;
    return read_integer(c.reply(0), "EXISTS", &n);
  });
  if (!s) return failed(std::move(s));
  return n > 0;
}

Result<int64_t> RedisTier::pttl(std::string_view key, Deadline deadline) {
  int64_t ms = 0;
  Status s = run(deadline, true, [&](Batch& c) {
    c.command({"PTTL", key});
    if (Status rt = c.roundtrip(deadline); !rt) return rt;
    return read_integer(c.reply(0), "PTTL", &ms);
  });
  if (!s) return failed(std::move(s));
  if (ms == -2) return not_found("key does not exist");
  return ms < 0 ? int64_t{-1} : ms;
}

Result<int64_t> RedisTier::incr_by(std::string_view key, int64_t amount, int64_t ttl_ms, Deadline deadline) {
  if (Status s = check_ttl(ttl_ms); !s) return failed(std::move(s));
  int64_t value = 0;
  Num by(amount), ttl(ttl_ms);
  // Not idempotent: never retried.
  Status s = run(deadline, false, [&](Batch& c) {
    // A new counter is created at 0 with its TTL (SET NX PX) in the same pipeline, so
    // only the increment that creates the key sets a TTL: an existing key, counter or
    // not, keeps its TTL or its lack of one. Works on every Redis version.
    size_t incr_at = 0;
    if (ttl_ms > 0) {
      c.command({"SET", key, "0", "NX", "PX", ttl.view()});
      incr_at = 1;
    }
    c.command({"INCRBY", key, by.view()});
    if (Status rt = c.roundtrip(deadline); !rt) return rt;
    return read_integer(c.reply(incr_at), "INCRBY", &value);
  });
  if (!s) return failed(std::move(s));
  return value;
}

Result<int64_t> RedisTier::delete_matching(std::string_view glob, Deadline deadline) {
  int64_t deleted = 0;
  Num count(static_cast<int64_t>(options_.scan_count == 0 ? 1000 : options_.scan_count));
  Status s = run(deadline, true, [&](Batch& c) {
    deleted = 0;
    std::string cursor = "0";
    bool scanned_all = false;
    std::vector<std::string> batch;  // keys of the last SCAN, unlinked with the next one
    std::vector<std::string_view> argv;
    while (!scanned_all || !batch.empty()) {
      bool unlink = !batch.empty();
      size_t unlinks = 0;
      if (unlink) {
        // A cluster node refuses keys of several slots in one command: one UNLINK per slot.
        if (cluster_node_) {
          std::sort(batch.begin(), batch.end(),
                    [](const std::string& a, const std::string& b) { return key_slot(a) < key_slot(b); });
        }
        for (size_t from = 0; from < batch.size();) {
          size_t to = cluster_node_ ? from + 1 : batch.size();
          while (to < batch.size() && key_slot(batch[to]) == key_slot(batch[from])) ++to;
          argv.assign(1, "UNLINK");
          for (size_t k = from; k < to; ++k) argv.emplace_back(batch[k]);
          c.command(argv.data(), argv.size());
          ++unlinks;
          from = to;
        }
      }
      bool scan = !scanned_all;
      if (scan) c.command({"SCAN", cursor, "MATCH", glob, "COUNT", count.view()});
      if (Status rt = c.roundtrip(deadline); !rt) return rt;
      size_t i = 0;
      for (size_t u = 0; u < unlinks; ++u) {
        int64_t n = 0;
        if (Status r = read_integer(c.reply(i++), "UNLINK", &n); !r) return r;
        deleted += n;
      }
      batch.clear();
      if (scan) {
        Reply r = c.reply(i);
        if (r.is(ReplyType::kError)) return server_error(r.str());
        Reply next_cursor = r.is(ReplyType::kArray) && r.size() == 2 ? r.first() : Reply();
        Reply keys = next_cursor.valid() ? next_cursor.next() : Reply();
        if (!next_cursor.is(ReplyType::kString) || !keys.is(ReplyType::kArray)) return unexpected("SCAN");
        cursor.assign(next_cursor.str().data(), next_cursor.str().size());
        for (Reply k = keys.first(); k.valid(); k = k.next()) {
          if (!k.is(ReplyType::kString)) return unexpected("SCAN");
          batch.emplace_back(k.str());
        }
        scanned_all = cursor == "0";
      }
    }
    return Status();
  });
  if (!s) return failed(std::move(s));
  bump(counters_.deletes, static_cast<uint64_t>(deleted));
  return deleted;
}

void RedisTier::submit_async(Deadline deadline, std::string bytes, size_t expected,
                             std::function<Status(const PipeRequest&)> parse, std::function<void(Status)> done,
                             bool asking) {
  using Outcome = CircuitBreaker::Outcome;
  if (sentinel_) follow_master(deadline);
  Status refusal;
  CircuitBreaker::Ticket ticket = breaker_.admit(&refusal);
  if (ticket == CircuitBreaker::Ticket::kRefused) {
    count_failure(refusal);
    done(std::move(refusal));
    return;
  }
  if (sentinel_ && pool_.target_epoch() == 0) {
    Status error;
    refresh_master(deadline, 0, &error);
    if (pool_.target_epoch() == 0) {
      bump(error.code() == StatusCode::kTimeout ? counters_.timeouts : counters_.sentinel_failures);
      breaker_.settle(ticket, Outcome::kFailure, error);
      count_failure(error);
      done(std::move(error));
      return;
    }
  }
  AcquireFailure why = AcquireFailure::kNone;
  auto pick = pipes_.pick(deadline, &why, /*may_grow=*/false);
  if (!pick) {
    Status s = pick.status();
    if (why == AcquireFailure::kWait) bump(counters_.timeouts);
    else count_kind(s);
    breaker_.settle(ticket, why == AcquireFailure::kWait ? Outcome::kNeutral : Outcome::kFailure, s);
    count_failure(s);
    done(std::move(s));
    return;
  }
  if (Status io = pipes_.start_io(); !io) {
    breaker_.settle(ticket, Outcome::kNeutral, io);
    count_failure(io);
    done(std::move(io));
    return;
  }
  auto req = std::make_shared<PipeRequest>();
  req->reset(asking ? 2 * expected : expected, deadline);
  req->on_done = [this, ticket, asking, parse = std::move(parse), done = std::move(done)](PipeRequest& r) {
    Status s = r.status;
    if (s && asking) {
      // Drop ASKING's replies (+OK) so that parse sees the commands' own.
      size_t n = 0;
      for (size_t i = 0; i + 1 < r.replies.size(); i += 2) {
        if (s && r.replies[i].is(ReplyType::kError)) s = server_error(r.replies[i].str());
        r.replies[n++] = r.replies[i + 1];
      }
      r.replies.resize(n);
    }
    if (s) s = parse(r);
    Outcome outcome = Outcome::kSuccess;
    if (!s) {
      count_kind(s);
      count_failure(s);
      bool readonly = is_server_error(s) && s.message().compare(0, 15, "redis: READONLY") == 0;
      if (r.lost || s.code() == StatusCode::kTimeout) outcome = Outcome::kFailure;
      // Sentinel: the next call asks the sentinels (this thread must not block).
      if (sentinel_ && (r.lost || readonly)) sentinel_news_.fetch_add(1, std::memory_order_acq_rel);
    }
    breaker_.settle(ticket, outcome, s);
    done(std::move(s));
  };
  pick->pipe->submit(std::move(req), bytes);
}

void RedisTier::get_async(std::string_view key, Deadline deadline, std::function<void(Result<RemoteEntry>)> done) {
  get_async(key, deadline, false, std::move(done));
}

void RedisTier::get_async(std::string_view key, Deadline deadline, bool asking,
                          std::function<void(Result<RemoteEntry>)> done) {
  std::string bytes;
  Status format_error;
  const std::string_view get[] = {"GET", key}, pttl[] = {"PTTL", key};
  append_routed(bytes, get, 2, asking, &format_error);
  append_routed(bytes, pttl, 2, asking, &format_error);
  if (!format_error) return done(failed(std::move(format_error)));
  struct State {
    RemoteEntry entry;
    bool hit = false;
  };
  auto st = std::make_shared<State>();
  submit_async(
      deadline, std::move(bytes), 2,
      [st](const PipeRequest& r) { return read_entry(r.replies[0], r.replies[1], &st->entry, &st->hit); },
      [this, st, done = std::move(done)](Status s) {
        if (!s) return done(std::move(s));
        if (!st->hit) {
          bump(counters_.misses);
          return done(not_found());
        }
        bump(counters_.hits);
        done(std::move(st->entry));
      },
      asking);
}

void RedisTier::set_async(std::string_view key, std::string_view value, int64_t ttl_ms, Deadline deadline,
                          std::function<void(Status)> done) {
  set_async(key, value, ttl_ms, deadline, false, std::move(done));
}

void RedisTier::set_async(std::string_view key, std::string_view value, int64_t ttl_ms, Deadline deadline, bool asking,
                          std::function<void(Status)> done) {
  if (Status s = check_ttl(ttl_ms); !s) return done(failed(std::move(s)));
  std::string bytes;
  Status format_error;
  Num ttl(ttl_ms);
  const std::string_view with_ttl[] = {"SET", key, value, "PX", ttl.view()};
  append_routed(bytes, with_ttl, ttl_ms > 0 ? 5 : 3, asking, &format_error);
  if (!format_error) return done(failed(std::move(format_error)));
  submit_async(
      deadline, std::move(bytes), 1, [](const PipeRequest& r) { return read_ok(r.replies[0], "SET"); },
      [this, done = std::move(done)](Status s) {
        if (s) bump(counters_.sets);
        done(std::move(s));
      },
      asking);
}

void RedisTier::del_async(const std::vector<std::string>& keys, Deadline deadline,
                          std::function<void(Result<int64_t>)> done) {
  del_async(keys, deadline, false, std::move(done));
}

void RedisTier::del_async(const std::vector<std::string>& keys, Deadline deadline, bool asking,
                          std::function<void(Result<int64_t>)> done) {
  if (keys.empty()) return done(int64_t{0});
  std::vector<std::string_view> argv;
  argv.reserve(keys.size() + 1);
  argv.emplace_back("DEL");
  for (const std::string& k : keys) argv.emplace_back(k);
  std::string bytes;
  Status format_error;
  append_routed(bytes, argv.data(), argv.size(), asking, &format_error);
  if (!format_error) return done(failed(std::move(format_error)));
  auto deleted = std::make_shared<int64_t>(0);
  submit_async(
      deadline, std::move(bytes), 1, [deleted](const PipeRequest& r) { return read_integer(r.replies[0], "DEL", deleted.get()); },
      [this, deleted, done = std::move(done)](Status s) {
        if (!s) return done(std::move(s));
        bump(counters_.deletes, static_cast<uint64_t>(*deleted));
        done(*deleted);
      },
      asking);
}

Status RedisTier::call(Deadline deadline, bool idempotent, const std::function<Status(Batch&)>& fn) {
  Status s = run(deadline, idempotent, fn);
  if (!s) count_failure(s);
  return s;
}

Result<HealthInfo> RedisTier::health(Deadline deadline) {
  HealthInfo info;
  Status s = run(deadline, true, [&](Batch& c) {
    info = HealthInfo{};
    auto start = std::chrono::steady_clock::now();
    if (Status p = c.ping(deadline); !p) return p;
    info.latency_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    c.command({"INFO", "server"});
    c.command({"INFO", "clients"});
    c.command({"INFO", "memory"});
    if (Status rt = c.roundtrip(deadline); !rt) return rt;
    for (size_t i = 0; i < 3; ++i) {
      Reply r = c.reply(i);
      if (r.is(ReplyType::kError)) {
        Status e = server_error(r.str());
        if (e.code() == StatusCode::kPermissionDenied) continue;  // ACL without INFO: PING is enough
        return e;
      }
      if (!r.is(ReplyType::kString)) return unexpected("INFO");
      std::string_view text = r.str();
      if (auto v = info_field(text, "redis_version"); !v.empty()) info.version = std::string(v);
      if (auto v = info_field(text, "uptime_in_seconds"); !v.empty()) info.uptime_seconds = to_int(v);
      if (auto v = info_field(text, "connected_clients"); !v.empty()) info.connected_clients = to_int(v);
      if (auto v = info_field(text, "used_memory_human"); !v.empty()) info.used_memory = std::string(v);
    }
    info.healthy = true;
    return Status();
  });
  if (!s) {
    count_failure(s);
    info = HealthInfo{};
    info.error = s.to_string();
  }
  return info;
}

// ---- compare-and-delete (RemoteTier::delete_if_value) ----
namespace {
// KEYS[1] is deleted only while it holds ARGV[1]; replies 1 when deleted, else 0.
constexpr std::string_view kDeleteIfValueScript =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";
}  // namespace

Result<bool> RedisTier::delete_if_value(std::string_view key, std::string_view expected, Deadline deadline) {
  int64_t deleted = 0;
  // Idempotent: a repeat deletes nothing more.
  Status s = run(deadline, true, [&](Batch& c) {
    c.command({"EVAL", kDeleteIfValueScript, "1", key, expected});
    if (Status rt = c.roundtrip(deadline); !rt) return rt;
    return read_integer(c.reply(0), "EVAL", &deleted);
  });
  if (!s) return failed(std::move(s));
  bump(counters_.deletes, static_cast<uint64_t>(deleted));
  return deleted == 1;
}

void RedisTier::delete_if_value_async(std::string_view key, std::string_view expected, Deadline deadline, bool asking,
                                      std::function<void(Result<bool>)> done) {
  const std::string_view argv[] = {"EVAL", kDeleteIfValueScript, "1", key, expected};
  std::string bytes;
  Status format_error;
  append_routed(bytes, argv, 5, asking, &format_error);
  if (!format_error) return done(failed(std::move(format_error)));
  auto deleted = std::make_shared<int64_t>(0);
  submit_async(
      deadline, std::move(bytes), 1,
      [deleted](const PipeRequest& r) { return read_integer(r.replies[0], "EVAL", deleted.get()); },
      [this, deleted, done = std::move(done)](Status s) {
        if (!s) return done(std::move(s));
        bump(counters_.deletes, static_cast<uint64_t>(*deleted));
        done(*deleted == 1);
      },
      asking);
}
// ---- end compare-and-delete ----

}  // namespace stratacache::redis

namespace stratacache {

std::unique_ptr<RemoteTier> make_redis_tier(const RedisOptions& options) {
  // No transport means no L2: the null tier is exactly that.
  if (options.transport == RedisOptions::Transport::kNone) return make_null_remote_tier();
  if (!options.cluster_nodes.empty()) return std::make_unique<redis::ClusterTier>(options);
  return std::make_unique<redis::RedisTier>(options);
}


}  // namespace stratacache
