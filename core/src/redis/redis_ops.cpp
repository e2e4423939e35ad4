#include "redis/redis_ops.hpp"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <mutex>
#include <unordered_set>
#include <utility>

#include "redis/cluster_slots.hpp"
#include "redis/info.hpp"

namespace stratacache::redis {
namespace {

// An integer argument formatted on the stack.
class Num {
 public:
  explicit Num(int64_t v) { len_ = static_cast<size_t>(std::to_chars(buf_, buf_ + sizeof buf_, v).ptr - buf_); }
  std::string_view view() const { return std::string_view(buf_, len_); }

 private:
  char buf_[24];
  size_t len_;
};

// GET + PTTL replies of one key.
Status read_entry(Reply value, Reply ttl, RemoteEntry* entry, bool* hit) {
  *hit = false;
  if (value.is(ReplyType::kError)) return server_error(value.str());
  if (value.is(ReplyType::kNil)) return Status();
  if (!value.is(ReplyType::kString)) return unexpected_reply("GET");
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

// track: coherent L1 in tracking mode. A write removes the key from the server's
// tracking table, so the SET runs in a script that then reads the key (PTTL), which
// tracks it again for this connection with nothing in between (docs/coherence.md).
void queue_set(Request& r, std::string_view key, std::string_view value, int64_t ttl_ms, bool track) {
  if (track) {
    static constexpr std::string_view kScript =
        "local r; if ARGV[2] == '0' then r = redis.call('SET', KEYS[1], ARGV[1]) "
        "else r = redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end; "
        "redis.call('PTTL', KEYS[1]); return r";
    Num ttl(ttl_ms > 0 ? ttl_ms : 0);
    r.command({"EVAL", kScript, "1", key, value, ttl.view()});
    return;
  }
  if (ttl_ms > 0) {
    Num ttl(ttl_ms);
    r.command({"SET", key, value, "PX", ttl.view()});
  } else {
    r.command({"SET", key, value});
  }
}

// Runs one step per request until a step says it is finished, without recursion when
// requests complete inline (Call::wait, or a failure at once): a SCAN over millions of
// keys is thousands of round trips.
class Loop : public std::enable_shared_from_this<Loop> {
 public:
  // Builds the next request, or returns null when finished (then `finish` has been called).
  std::function<RequestPtr()> next;
  std::function<void(RedisOps&, RequestPtr)> send;

  void run(RedisOps& server) {
    for (;;) {
      RequestPtr req = next();
      if (!req) return;
      // 0: sending, 1: completed while sending (go on here), 2: returned first (the
      // completion goes on).
      auto state = std::make_shared<std::atomic<int>>(0);
      auto self = shared_from_this();
      auto done = std::move(req->done);
      req->done = [self, state, done = std::move(done), &server](Status s) {
        done(std::move(s));
        int expected = 0;
        if (!state->compare_exchange_strong(expected, 1)) self->run(server);
      };
      send(server, std::move(req));
      int expected = 0;
      if (state->compare_exchange_strong(expected, 2)) return;
    }
  }
};

// Joins the per-server results of delete_matching and health.
template <typename T>
struct Join {
  std::mutex mu;
  size_t pending = 0;
  T value{};
  std::function<void(T)> done;
  // Returns true for the last one.
  bool arrive() {
    std::lock_guard<std::mutex> lock(mu);
    return --pending == 0;
  }
};

}  // namespace

Status RedisOps::failed(Status s) {
  if (s.code() != StatusCode::kNotFound) bump(counters_.errors);
  return s;
}

RequestPtr RedisOps::request(std::string_view key, Call call) {
  auto req = std::make_shared<Request>(call.deadline, call.wait);
  req->slot = key_slot(key);
  return req;
}

void RedisOps::get(std::string_view key, Call call, Done<RemoteEntry> done) {
  struct State {
    RemoteEntry entry;
    bool hit = false;
  };
  auto st = std::make_shared<State>();
  RequestPtr req = request(key, call);
  req->command({"GET", key});
  req->command({"PTTL", key});
  req->on_reply = [st](const Replies& r) { return read_entry(r[0], r[1], &st->entry, &st->hit); };
  req->done = [this, st, done = std::move(done)](Status s) {
    if (!s) return done(failed(std::move(s)));
    if (!st->hit) {
      bump(counters_.misses);
      return done(not_found());
    }
    bump(counters_.hits);
    done(std::move(st->entry));
  };
  send(std::move(req));
}

Result<std::string> RedisOps::get_value(std::string_view key, Deadline deadline) {
  std::string value;
  bool hit = false;
  Status out;
  RequestPtr req = request(key, Call{deadline, true});
  req->command({"GET", key});
  req->on_reply = [&](const Replies& r) {
    if (r[0].is(ReplyType::kError)) return server_error(r[0].str());
    if (r[0].is(ReplyType::kNil)) return Status();
    if (!r[0].is(ReplyType::kString)) return unexpected_reply("GET");
    value.assign(r[0].str().data(), r[0].str().size());
    hit = true;
    return Status();
  };
  req->done = [&out](Status s) { out = std::move(s); };
  send(std::move(req));
  if (!out) return failed(std::move(out));
  if (!hit) return not_found();
  return value;
}

void RedisOps::mget(const std::vector<std::string>& keys, Call call, DoneEntries done) {
  if (keys.empty()) return done({});
  struct State {
    std::vector<RemoteEntry> entries;
    std::vector<char> hits;
  };
  auto st = std::make_shared<State>();
  st->entries.resize(keys.size());
  st->hits.assign(keys.size(), 0);
  auto k = std::make_shared<Keyed>(call, false);
  k->slots.reserve(keys.size());
  for (const std::string& key : keys) k->slots.push_back(key_slot(key));
  auto ks = std::make_shared<const std::vector<std::string>>(keys);
  k->build = [st, ks](Request& req, const std::vector<size_t>& items, std::vector<Status>* statuses) {
    for (size_t i : items) {
      req.command({"GET", (*ks)[i]});
      req.command({"PTTL", (*ks)[i]});
    }
    req.on_reply = [st, items, statuses](const Replies& r) {
      for (size_t n = 0; n < items.size(); ++n) {
        bool hit = false;
        (*statuses)[items[n]] = read_entry(r[2 * n], r[2 * n + 1], &st->entries[items[n]], &hit);
        st->hits[items[n]] = hit ? 1 : 0;
      }
      return Status();
    };
  };
  k->done = [this, st, done = std::move(done)](std::vector<Status> statuses) {
    std::vector<Result<RemoteEntry>> out;
    out.reserve(statuses.size());
    uint64_t n_hits = 0, n_misses = 0;
    bool counted = false;  // one failed operation, however many keys it failed
    for (size_t i = 0; i < statuses.size(); ++i) {
      if (!statuses[i]) {
        if (!counted) (void)failed(statuses[i]);
        counted = true;
        out.emplace_back(std::move(statuses[i]));
      } else if (st->hits[i]) {
        ++n_hits;
        out.emplace_back(std::move(st->entries[i]));
      } else {
        ++n_misses;
        out.emplace_back(not_found());
      }
    }
    bump(counters_.hits, n_hits);
    bump(counters_.misses, n_misses);
    done(std::move(out));
  };
  send_keyed(std::move(k));
}

void RedisOps::set(std::string_view key, std::string_view value, int64_t ttl_ms, Call call, DoneStatus done) {
  if (Status s = check_ttl(ttl_ms); !s) return done(failed(std::move(s)));
  RequestPtr req = request(key, call);
  queue_set(*req, key, value, ttl_ms, track_writes());
  req->on_reply = [](const Replies& r) { return read_ok(r[0], "SET"); };
  req->done = [this, done = std::move(done)](Status s) {
    if (!s) return done(failed(std::move(s)));
    bump(counters_.sets);
    done(Status());
  };
  send(std::move(req));
}

void RedisOps::mset(const std::vector<RemoteWrite>& writes, Call call, DoneStatus done) {
  if (writes.empty()) return done(Status());
  for (const RemoteWrite& w : writes) {
    if (Status s = check_ttl(w.ttl_ms); !s) return done(failed(std::move(s)));
  }
  auto k = std::make_shared<Keyed>(call, true);
  k->slots.reserve(writes.size());
  for (const RemoteWrite& w : writes) k->slots.push_back(key_slot(w.key));
  auto w = std::make_shared<const std::vector<RemoteWrite>>(writes);
  k->build = [w, track = track_writes()](Request& req, const std::vector<size_t>& items, std::vector<Status>* statuses) {
    for (size_t i : items) {
      queue_set(req, (*w)[i].key, (*w)[i].value, (*w)[i].ttl_ms, track);
      if (!(*w)[i].check_key.empty()) req.command({"EXISTS", (*w)[i].check_key});
    }
    req.on_reply = [w, items, statuses](const Replies& r) {
      size_t at = 0;
      for (size_t i : items) {
        (*statuses)[i] = read_ok(r[at++], "SET");
        const RemoteWrite& write = (*w)[i];
        if (write.check_key.empty()) continue;
        int64_t n = 0;
        if (Status s = read_integer(r[at++], "EXISTS", &n); !s) (*statuses)[i] = s;
        if (write.exists_out) *write.exists_out = n > 0 ? 1 : 0;
      }
      return Status();
    };
  };
  k->done = [this, n = writes.size(), done = std::move(done)](std::vector<Status> statuses) {
    for (Status& s : statuses) {
      if (!s) return done(failed(std::move(s)));
    }
    bump(counters_.sets, n);
    done(Status());
  };
  send_keyed(std::move(k));
}

void RedisOps::del(const std::vector<std::string>& keys, Call call, Done<int64_t> done) {
  if (keys.empty()) return done(int64_t{0});
  // Per group, at its first item: how many of the group's keys existed.
  auto counts = std::make_shared<std::vector<int64_t>>(keys.size(), 0);
  auto k = std::make_shared<Keyed>(call, true);
  k->slots.reserve(keys.size());
  for (const std::string& key : keys) k->slots.push_back(key_slot(key));
  auto ks = std::make_shared<const std::vector<std::string>>(keys);
  k->build = [ks, counts](Request& req, const std::vector<size_t>& items, std::vector<Status>* statuses) {
    std::vector<std::string_view> argv;
    argv.reserve(items.size() + 1);
    argv.emplace_back("DEL");
    for (size_t i : items) argv.emplace_back((*ks)[i]);
    req.command(argv.data(), argv.size());
    req.on_reply = [items, statuses, counts](const Replies& r) {
      int64_t n = 0;
      Status s = read_integer(r[0], "DEL", &n);
      for (size_t i : items) {
        (*statuses)[i] = s;
        (*counts)[i] = 0;
      }
      if (s) (*counts)[items[0]] = n;
      return Status();
    };
  };
  k->done = [this, counts, done = std::move(done)](std::vector<Status> statuses) {
    int64_t total = 0;
    for (size_t i = 0; i < statuses.size(); ++i) {
      if (!statuses[i]) return done(failed(std::move(statuses[i])));
      total += (*counts)[i];
    }
    bump(counters_.deletes, static_cast<uint64_t>(total));
    done(total);
  };
  send_keyed(std::move(k));
}

void RedisOps::exists(std::string_view key, Call call, Done<bool> done) {
  auto n = std::make_shared<int64_t>(0);
  RequestPtr req = request(key, call);
  req->command({"EXISTS", key});
  req->on_reply = [n](const Replies& r) { return read_integer(r[0], "EXISTS", n.get()); };
  req->done = [this, n, done = std::move(done)](Status s) {
    if (!s) return done(failed(std::move(s)));
    done(*n > 0);
  };
  send(std::move(req));
}

void RedisOps::pttl(std::string_view key, Call call, Done<int64_t> done) {
  auto ms = std::make_shared<int64_t>(0);
  RequestPtr req = request(key, call);
  req->command({"PTTL", key});
  req->on_reply = [ms](const Replies& r) { return read_integer(r[0], "PTTL", ms.get()); };
  req->done = [this, ms, done = std::move(done)](Status s) {
    if (!s) return done(failed(std::move(s)));
    if (*ms == -2) return done(not_found("key does not exist"));
    done(*ms < 0 ? int64_t{-1} : *ms);
  };
  send(std::move(req));
}

void RedisOps::incr_by(std::string_view key, int64_t amount, int64_t ttl_ms, Call call, Done<int64_t> done) {
  if (Status s = check_ttl(ttl_ms); !s) return done(failed(std::move(s)));
  auto value = std::make_shared<int64_t>(0);
  Num by(amount), ttl(ttl_ms);
  RequestPtr req = request(key, call);
  req->idempotent = false;
  // A new counter is created at 0 with its TTL (SET NX PX) in the same pipeline, so only
  // the increment that creates the key sets a TTL: an existing key, counter or not,
  // keeps its TTL or its lack of one. Works on every Redis version.
  size_t incr_at = 0;
  if (ttl_ms > 0) {
    req->command({"SET", key, "0", "NX", "PX", ttl.view()});
    incr_at = 1;
  }
  req->command({"INCRBY", key, by.view()});
  req->on_reply = [value, incr_at](const Replies& r) { return read_integer(r[incr_at], "INCRBY", value.get()); };
  req->done = [this, value, done = std::move(done)](Status s) {
    if (!s) return done(failed(std::move(s)));
    done(*value);
  };
  send(std::move(req));
}

void RedisOps::delete_if_value(std::string_view key, std::string_view expected, Call call, Done<bool> done) {
  // KEYS[1] is deleted only while it holds ARGV[1]; replies 1 when deleted, else 0.
  static constexpr std::string_view kScript =
      "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";
  auto deleted = std::make_shared<int64_t>(0);
  RequestPtr req = request(key, call);
  req->command({"EVAL", kScript, "1", key, expected});
  req->on_reply = [deleted](const Replies& r) { return read_integer(r[0], "EVAL", deleted.get()); };
  req->done = [this, deleted, done = std::move(done)](Status s) {
    if (!s) return done(failed(std::move(s)));
    bump(counters_.deletes, static_cast<uint64_t>(*deleted));
    done(*deleted == 1);
  };
  send(std::move(req));
}

void RedisOps::lease_try(std::string_view value_key, std::string_view lease_key, std::string_view token,
                         int64_t ttl_ms, bool if_absent, Call call, Done<LeaseTry> done) {
  // KEYS[1] value, KEYS[2] lease; ARGV[1] token, ARGV[2] ttl, ARGV[3] "1": only if the
  // value is absent. Replies -1: acquired; -2: the value exists; else the holder's PTTL.
  // The value and the lease are read either way (tracking: a change wakes this process).
  static constexpr std::string_view kScript =
      "if ARGV[3] == '1' and redis.call('EXISTS', KEYS[1]) == 1 then return -2 end "
      "if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return -1 end "
      "local t = redis.call('PTTL', KEYS[2]) if t < 0 then t = 0 end return t";
  auto reply = std::make_shared<int64_t>(0);
  Num ttl(ttl_ms > 0 ? ttl_ms : 1);
  RequestPtr req = request(value_key, call);
  req->idempotent = false;  // a second run would find its own lease taken
  req->command({"EVAL", kScript, "2", value_key, lease_key, token, ttl.view(), if_absent ? "1" : "0"});
  req->on_reply = [reply](const Replies& r) { return read_integer(r[0], "EVAL", reply.get()); };
  req->done = [this, reply, done = std::move(done)](Status s) {
    if (!s) return done(failed(std::move(s)));
    LeaseTry t;
    t.acquired = *reply == -1;
    t.value_arrived = *reply == -2;
    t.holder_pttl_ms = *reply >= 0 ? *reply : 0;
    done(t);
  };
  send(std::move(req));
}

void RedisOps::lease_fill(std::string_view value_key, std::string_view lease_key, std::string_view token,
                          std::string_view value, int64_t ttl_ms, Call call, Done<bool> done) {
  // KEYS[1] value, KEYS[2] lease; ARGV[1] token, ARGV[2] value, ARGV[3] ttl (0: none).
  // Replies 1: written (then PTTL reads the value back: see queue_set), 0: refused.
  static constexpr std::string_view kScript =
      "if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end redis.call('DEL', KEYS[2]) "
      "if ARGV[3] == '0' then redis.call('SET', KEYS[1], ARGV[2]) "
      "else redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end redis.call('PTTL', KEYS[1]) return 1";
  if (Status s = check_ttl(ttl_ms); !s) return done(failed(std::move(s)));
  auto written = std::make_shared<int64_t>(0);
  Num ttl(ttl_ms);
  RequestPtr req = request(value_key, call);
  req->idempotent = false;  // a second run would find the lease gone and say refused
  req->command({"EVAL", kScript, "2", value_key, lease_key, token, value, ttl.view()});
  req->on_reply = [written](const Replies& r) { return read_integer(r[0], "EVAL", written.get()); };
  req->done = [this, written, done = std::move(done)](Status s) {
    if (!s) return done(failed(std::move(s)));
    if (*written == 1) bump(counters_.sets);
    done(*written == 1);
  };
  send(std::move(req));
}

namespace {

Status read_script_value(Reply r, ScriptValue* out, int depth = 0) {
  if (depth > 16) return unexpected_reply("EVAL");
  switch (r.type()) {
    case ReplyType::kError:
      return server_error(r.str());
    case ReplyType::kNil:
      out->kind = ScriptValue::Kind::kNil;
      return Status();
    case ReplyType::kInteger:
      out->kind = ScriptValue::Kind::kInteger;
      out->integer = r.integer();
      return Status();
    case ReplyType::kString:
    case ReplyType::kStatus:
      out->kind = ScriptValue::Kind::kString;
      out->str.assign(r.str());
      return Status();
    case ReplyType::kArray:
      out->kind = ScriptValue::Kind::kArray;
      out->items.resize(r.size());
      size_t i = 0;
      for (Reply c = r.first(); c.valid() && i < out->items.size(); c = c.next(), ++i) {
        if (Status s = read_script_value(c, &out->items[i], depth + 1); !s) return s;
      }
      return Status();
  }
  return unexpected_reply("EVAL");
}

}  // namespace

void RedisOps::script(std::string_view lua, const std::vector<std::string>& keys,
                      const std::vector<std::string>& args, bool idempotent, Call call, Done<ScriptValue> done) {
  if (keys.empty()) return done(failed(invalid_argument("a script needs at least one key (it runs on that key's server)")));
  Num nkeys(static_cast<int64_t>(keys.size()));
  std::vector<std::string_view> argv;
  argv.reserve(3 + keys.size() + args.size());
  argv.push_back("EVAL");
  argv.push_back(lua);
  argv.push_back(nkeys.view());
  for (const std::string& k : keys) argv.push_back(k);
  for (const std::string& a : args) argv.push_back(a);
  auto reply = std::make_shared<ScriptValue>();
  RequestPtr req = request(keys[0], call);
  req->idempotent = idempotent;
  req->command(argv.data(), argv.size());
  req->on_reply = [reply](const Replies& r) { return read_script_value(r[0], reply.get()); };
  req->done = [this, reply, done = std::move(done)](Status s) {
    if (!s) return done(failed(std::move(s)));
    done(std::move(*reply));
  };
  send(std::move(req));
}

void RedisOps::delete_matching(std::string_view glob, Call call, Done<int64_t> done) {
  scan_matching(glob, true, call, std::move(done));
}

void RedisOps::count_matching(std::string_view glob, Call call, Done<int64_t> done) {
  scan_matching(glob, false, call, std::move(done));
}

void RedisOps::scan_matching(std::string_view glob, bool unlink, Call call, Done<int64_t> done) {
  auto servers_or = servers(call.deadline);
  if (!servers_or) return done(failed(servers_or.status()));
  Servers sv = std::move(servers_or).value();
  if (sv.nodes.empty()) return done(int64_t{0});
  struct Total {
    int64_t deleted = 0;
    Status failure;
  };
  auto join = std::make_shared<Join<Total>>();
  join->pending = sv.nodes.size();
  join->done = [this, unlink, done = std::move(done)](Total t) {
    if (!t.failure) return done(failed(std::move(t.failure)));
    if (unlink) bump(counters_.deletes, static_cast<uint64_t>(t.deleted));
    done(t.deleted);
  };
  const std::string pattern(glob);
  const std::string count = std::to_string(scan_count_);
  for (RedisOps* server : sv.nodes) {
    // Per server: SCAN, and UNLINK what the previous SCAN found with the next one (or,
    // counting, remember its keys).
    struct Scan {
      std::string cursor = "0";
      bool scanned_all = false;
      std::vector<std::string> batch;  // keys of the last SCAN, unlinked with the next one
      std::unordered_set<std::string> seen;  // counting: SCAN may return a key twice
      int64_t deleted = 0;  // unlinked, or (counting) distinct keys seen
      Status failure;
      bool finished = false;
    };
    auto sc = std::make_shared<Scan>();
    auto loop = std::make_shared<Loop>();
    auto finish = [join, sc]() {
      {
        std::lock_guard<std::mutex> lock(join->mu);
        join->value.deleted += sc->deleted;
        if (!sc->failure && join->value.failure) join->value.failure = sc->failure;
      }
      if (join->arrive()) join->done(std::move(join->value));
    };
    loop->send = [](RedisOps& s, RequestPtr r) { s.send(std::move(r)); };
    loop->next = [sc, call, pattern, count, unlink, cluster = sv.cluster, finish]() -> RequestPtr {
      if (sc->finished) return nullptr;
      if (!unlink) {
        for (std::string& k : sc->batch) sc->seen.insert(std::move(k));
        sc->deleted = static_cast<int64_t>(sc->seen.size());
        sc->batch.clear();
      }
      if (!sc->failure || (sc->scanned_all && sc->batch.empty())) {
        sc->finished = true;
        finish();
        return nullptr;
      }
      auto req = std::make_shared<Request>(call.deadline, call.wait);
      size_t unlinks = 0;
      if (!sc->batch.empty()) {
        // A cluster node refuses keys of several slots in one command: one UNLINK per slot.
        if (cluster) {
          std::sort(sc->batch.begin(), sc->batch.end(),
                    [](const std::string& a, const std::string& b) { return key_slot(a) < key_slot(b); });
        }
        std::vector<std::string_view> argv;
        for (size_t from = 0; from < sc->batch.size();) {
          size_t to = cluster ? from + 1 : sc->batch.size();
          while (to < sc->batch.size() && key_slot(sc->batch[to]) == key_slot(sc->batch[from])) ++to;
          argv.assign(1, "UNLINK");
          for (size_t k = from; k < to; ++k) argv.emplace_back(sc->batch[k]);
          req->command(argv.data(), argv.size());
          ++unlinks;
          from = to;
        }
      }
      bool scan = !sc->scanned_all;
      if (scan) req->command({"SCAN", sc->cursor, "MATCH", pattern, "COUNT", count});
      req->on_reply = [sc, unlinks, scan](const Replies& r) {
        size_t i = 0;
        int64_t unlinked = 0;
        for (size_t u = 0; u < unlinks; ++u) {
          int64_t n = 0;
          if (Status s = read_integer(r[i++], "UNLINK", &n); !s) return s;
          unlinked += n;
        }
        std::vector<std::string> found;
        std::string cursor = sc->cursor;
        if (scan) {
          Reply reply = r[i];
          if (reply.is(ReplyType::kError)) return server_error(reply.str());
          Reply next_cursor = reply.is(ReplyType::kArray) && reply.size() == 2 ? reply.first() : Reply();
          Reply keys = next_cursor.valid() ? next_cursor.next() : Reply();
          if (!next_cursor.is(ReplyType::kString) || !keys.is(ReplyType::kArray)) return unexpected_reply("SCAN");
          cursor.assign(next_cursor.str().data(), next_cursor.str().size());
          for (Reply k = keys.first(); k.valid(); k = k.next()) {
            if (!k.is(ReplyType::kString)) return unexpected_reply("SCAN");
            found.emplace_back(k.str());
          }
        }
        // Applied only once the whole reply was read (a retried attempt starts over).
        sc->deleted += unlinked;
        sc->batch = std::move(found);
        sc->cursor = std::move(cursor);
        sc->scanned_all = sc->scanned_all || (scan && sc->cursor == "0");
        return Status();
      };
      req->done = [sc](Status s) {
        if (!s) sc->failure = std::move(s);
      };
      return req;
    };
    loop->run(*server);
  }
}

void RedisOps::health(Call call, std::function<void(HealthInfo)> done) {
  auto servers_or = servers(call.deadline);
  if (!servers_or) {
    (void)failed(servers_or.status());
    HealthInfo h;
    h.error = servers_or.status().to_string();
    return done(std::move(h));
  }
  std::vector<RedisOps*> nodes = servers_or->nodes;
  std::vector<std::string> names = servers_or->names;
  if (nodes.empty()) {
    HealthInfo h;
    h.error = "the cluster names no master";
    return done(std::move(h));
  }
  struct Each {
    HealthInfo info;
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  };
  std::vector<std::shared_ptr<Each>> each;
  for (size_t i = 0; i < nodes.size(); ++i) each.push_back(std::make_shared<Each>());
  auto join = std::make_shared<Join<int>>();
  join->pending = nodes.size();
  // Several servers: healthy when every one is; latency the worst, clients and memory
  // summed, the first server's version, the shortest uptime.
  join->done = [this, each, done = std::move(done)](int) {
    HealthInfo out;
    out.healthy = true;
    for (const auto& e : each) {
      const HealthInfo& h = e->info;
      if (!h.healthy) {
        out.healthy = false;
        if (!out.error.empty()) out.error += "; ";
        out.error += h.error;
        continue;
      }
      out.latency_ms = std::max(out.latency_ms, h.latency_ms);
      if (out.version.empty()) out.version = h.version;
      out.used_memory = out.used_memory.empty() ? h.used_memory : human_bytes(out.used_memory_bytes + h.used_memory_bytes);
      out.used_memory_bytes += h.used_memory_bytes;
      out.connected_clients += h.connected_clients;
      out.uptime_seconds = out.uptime_seconds == 0 ? h.uptime_seconds : std::min(out.uptime_seconds, h.uptime_seconds);
    }
    if (!out.healthy) {
      bump(counters_.errors);
      out.latency_ms = 0;
      out.version.clear();
      out.used_memory.clear();
      out.used_memory_bytes = 0;
      out.connected_clients = out.uptime_seconds = 0;
    }
    done(std::move(out));
  };
  for (size_t n = 0; n < nodes.size(); ++n) {
    RedisOps* server = nodes[n];
    auto e = each[n];
    auto on_failure = [e, name = n < names.size() ? names[n] + ": " : std::string()](const Status& s) {
      e->info = HealthInfo{};
      e->info.error = name + s.to_string();
    };
    // PING (the latency), then INFO. An ACL without INFO still gives healthy = true.
    auto ping = std::make_shared<Request>(call.deadline, call.wait);
    ping->command({"PING"});
    ping->on_reply = [e](const Replies& r) {
      if (r[0].is(ReplyType::kError)) return server_error(r[0].str());
      if (!r[0].is(ReplyType::kStatus) || r[0].str() != "PONG") return internal_error("unexpected reply to PING");
      e->info.latency_ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - e->start).count();
      return Status();
    };
    ping->done = [e, join, call, server, on_failure](Status s) {
      if (!s) {
        on_failure(s);
        if (join->arrive()) join->done(0);
        return;
      }
      auto info = std::make_shared<Request>(call.deadline, call.wait);
      info->command({"INFO", "server"});
      info->command({"INFO", "clients"});
      info->command({"INFO", "memory"});
      info->on_reply = [e](const Replies& r) {
        for (size_t i = 0; i < 3; ++i) {
          if (r[i].is(ReplyType::kError)) {
            Status err = server_error(r[i].str());
            if (err.code() == StatusCode::kPermissionDenied) continue;
            return err;
          }
          if (!r[i].is(ReplyType::kString)) return unexpected_reply("INFO");
          std::string_view text = r[i].str();
          if (auto v = info_field(text, "redis_version"); !v.empty()) e->info.version = std::string(v);
          if (auto v = info_field(text, "uptime_in_seconds"); !v.empty()) e->info.uptime_seconds = info_number(v);
          if (auto v = info_field(text, "connected_clients"); !v.empty()) e->info.connected_clients = info_number(v);
          if (auto v = info_field(text, "used_memory_human"); !v.empty()) e->info.used_memory = std::string(v);
          if (auto v = info_field(text, "used_memory"); !v.empty()) e->info.used_memory_bytes = info_number(v);
        }
        e->info.healthy = true;
        return Status();
      };
      info->done = [e, join, on_failure](Status s2) {
        if (!s2) on_failure(s2);
        if (join->arrive()) join->done(0);
      };
      server->send(std::move(info));
    };
    server->send(std::move(ping));
  }
}

}  // namespace stratacache::redis
