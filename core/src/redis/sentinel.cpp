#include "redis/sentinel.hpp"

#include <charconv>
#include <memory>

#include "redis/connection.hpp"
#include "redis/tls.hpp"

namespace stratacache::redis {
namespace {

Deadline earlier(Deadline a, Deadline b) { return a.at() < b.at() ? a : b; }

}  // namespace

RedisOptions options_for(const RedisOptions& options, const Endpoint& at) {
  RedisOptions o = options;
  o.host = at.host;
  o.port = at.port;
  return o;
}

SentinelResolver::SentinelResolver(const RedisOptions& options) : options_(options) {
  for (const SentinelAddress& s : options.sentinels) {
    RedisOptions o;
    o.transport = RedisOptions::Transport::kTcp;
    o.host = s.host;
    o.port = s.port;
    o.username = options.sentinel_username;
    o.password = options.sentinel_password;
    o.socket_connect_timeout = options.sentinel_timeout;
    o.max_reply_bytes = 1u << 20;
    o.max_reply_elements = 1024;
    o.tls = options.tls;
    sentinels_.push_back(std::move(o));
  }
  if (options.tls.enabled) {
    auto tls = TlsContext::create(options.tls);
    if (tls) tls_ = std::move(tls).value();
    else tls_error_ = tls.status();
  }
}

SentinelResolver::~SentinelResolver() = default;

Result<std::unique_ptr<Connection>> SentinelResolver::connect(size_t i, Deadline deadline) const {
  if (!tls_error_.is_ok()) return tls_error_;
  auto c = std::make_unique<Connection>(sentinels_.at(i), 0, tls_.get());
  if (Status s = c->open(deadline); !s) return s;
  return c;
}

Result<Endpoint> SentinelResolver::ask(size_t i, Deadline deadline) const {
  auto c = connect(i, deadline);
  if (!c) return c.status();
  return query(**c, deadline);
}

Result<Endpoint> SentinelResolver::query(Connection& c, Deadline deadline) const {
  c.command({"SENTINEL", "get-master-addr-by-name", options_.sentinel_master});
  if (Status s = c.roundtrip(deadline); !s) return s;
  Reply r = c.reply(0);
  if (r.is(ReplyType::kError)) return server_error(r.str());
  if (r.is(ReplyType::kNil)) return unavailable("does not know master '" + options_.sentinel_master + "'");
  Reply host = r.is(ReplyType::kArray) && r.size() == 2 ? r.first() : Reply();
  Reply port = host.valid() ? host.next() : Reply();
  uint16_t p = 0;
  if (!host.is(ReplyType::kString) || !port.is(ReplyType::kString) ||
      std::from_chars(port.str().data(), port.str().data() + port.str().size(), p).ec != std::errc() || p == 0) {
    return internal_error("unexpected reply to SENTINEL get-master-addr-by-name");
  }
  return Endpoint{std::string(host.str()), p};
}

Status SentinelResolver::verify_master(const Endpoint& at, Deadline deadline) const {
  RedisOptions o = options_for(options_, at);
  o.socket_connect_timeout = std::min(o.socket_connect_timeout, options_.sentinel_timeout);
  Connection c(o, 0, tls_.get());
  if (Status s = c.open(deadline); !s) return s;
  c.command({"ROLE"});
  if (Status s = c.roundtrip(deadline); !s) return s;
  Reply r = c.reply(0);
  if (r.is(ReplyType::kError)) return server_error(r.str());
  Reply role = r.is(ReplyType::kArray) ? r.first() : Reply();
  if (!role.is(ReplyType::kString)) return internal_error("unexpected reply to ROLE");
  if (role.str() != "master") return unavailable("reports role '" + std::string(role.str()) + "', not master");
  return Status();
}

Result<Endpoint> SentinelResolver::resolve(Deadline deadline) {
  if (!tls_error_.is_ok()) return tls_error_;
  const size_t n = sentinels_.size();
  const size_t first = preferred_.load(std::memory_order_relaxed) % n;
  std::string why;
  bool all_denied = true;  // every failure a refusal: TLS verification, client certificate, AUTH
  for (size_t k = 0; k < n; ++k) {
    if (deadline.expired()) {
      return timeout_error("deadline passed while asking the sentinels for '" + options_.sentinel_master + "'" + why);
    }
    size_t i = (first + k) % n;
    const RedisOptions& s = sentinels_[i];
    Deadline bounded = earlier(deadline, Deadline::after(options_.sentinel_timeout));
    why += "; sentinel " + s.host + ":" + std::to_string(s.port) + ": ";
    auto master = ask(i, bounded);
    if (!master) {
      why += master.status().message();
      all_denied = all_denied && master.code() == StatusCode::kPermissionDenied;
      continue;
    }
    Status role = verify_master(*master, earlier(deadline, Deadline::after(options_.sentinel_timeout)));
    if (!role) {
      why += "names " + master->to_string() + ", which " + role.message();
      all_denied = all_denied && role.code() == StatusCode::kPermissionDenied;
      continue;
    }
    preferred_.store(i, std::memory_order_relaxed);
    return master;
  }
  std::string message = "no sentinel gave a usable master for '" + options_.sentinel_master + "'" + why;
  // Refused everywhere (a certificate failing verification, missing or wrong sentinel
  // credentials) is a configuration to fix, not an outage: the same code as a refusal
  // on a standalone or cluster URL (redis/tls.hpp).
  if (all_denied) return Status(StatusCode::kPermissionDenied, std::move(message));
  return unavailable(std::move(message));
}

SentinelWatcher::SentinelWatcher(const RedisOptions& options, const SentinelResolver& resolver,
                                 std::atomic<uint64_t>& news)
    : options_(options), resolver_(resolver), news_(news) {
  thread_ = std::thread([this] { loop(); });
}

SentinelWatcher::~SentinelWatcher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void SentinelWatcher::loop() {
  const size_t n = resolver_.sentinels().size();
  size_t at = resolver_.preferred();
  std::unique_ptr<Connection> conn;
  Endpoint last;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    lock.unlock();
    Deadline deadline = Deadline::after(options_.sentinel_timeout);
    if (!conn || conn->broken()) {
      auto opened = resolver_.connect(at % n, deadline);
      conn = opened ? std::move(opened).value() : nullptr;
    }
    Result<Endpoint> master = conn ? resolver_.query(*conn, deadline) : Result<Endpoint>(unavailable("no sentinel"));
    if (master && *master != last) {
      last = *master;
      news_.fetch_add(1, std::memory_order_release);
    }
    if (!master) {  // this sentinel is down or does not know the master: the next one
      conn.reset();
      ++at;
    }
    lock.lock();
    wake_.wait_for(lock, options_.sentinel_watch_interval, [this] { return stop_; });
  }
}

}  // namespace stratacache::redis
