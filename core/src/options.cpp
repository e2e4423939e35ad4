#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <set>
#include <string>
#include <system_error>

#include "stratacache/options.hpp"

namespace stratacache {
namespace {

Status bad_param(std::string_view name, std::string_view value, std::string_view expected) {
  return invalid_argument("URL parameter '" + std::string(name) + "': expected " + std::string(expected) +
                          ", got '" + std::string(value) + "'");
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> percent_decode(std::string_view in, std::string_view what) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%') {
      if (i + 2 >= in.size() || hex_digit(in[i + 1]) < 0 || hex_digit(in[i + 2]) < 0) {
        return invalid_argument("bad percent-escape in " + std::string(what));
      }
      out.push_back(static_cast<char>(hex_digit(in[i + 1]) * 16 + hex_digit(in[i + 2])));
      i += 2;
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

template <typename T>
bool parse_uint(std::string_view s, T& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

// "1.5" seconds -> milliseconds; finite, >= 0, plain decimal (from_chars: no locale,
// no spaces, no hex). A non-zero value never rounds down to 0 ("no limit").
bool parse_seconds(std::string_view s, Millis& out) {
  if (s.empty() || s.size() > 32) return false;
  double v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v, std::chars_format::fixed);
  if (ec != std::errc() || ptr != s.data() + s.size() || !std::isfinite(v) || v < 0 || v > 1e9) return false;
  int64_t ms = static_cast<int64_t>(std::llround(v * 1000.0));
  if (ms == 0 && v > 0) ms = 1;
  out = Millis(ms);
  return true;
}

// "1048576", "64k", "64KB", "256M", "1G", "1GiB" -> bytes.
bool parse_size(std::string_view s, size_t& out) {
  size_t i = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  uint64_t n;
  if (!parse_uint(s.substr(0, i), n)) return false;
  std::string unit(s.substr(i));
  for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  uint64_t mul = 1;
  if (unit.empty() || unit == "b") mul = 1;
  else if (unit == "k" || unit == "kb" || unit == "kib") mul = 1ull << 10;
  else if (unit == "m" || unit == "mb" || unit == "mib") mul = 1ull << 20;
  else if (unit == "g" || unit == "gb" || unit == "gib") mul = 1ull << 30;
  else return false;
  if (n > (UINT64_MAX / mul)) return false;
  out = static_cast<size_t>(n * mul);
  return true;
}

bool parse_bool(std::string_view s, bool& out) {
  std::string v(s);
  for (auto& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (v == "true" || v == "1" || v == "yes" || v == "on") out = true;
  else if (v == "false" || v == "0" || v == "no" || v == "off") out = false;
  else return false;
  return true;
}

// The ssl_* parameters (redis-py's names). Certificate files are checked for
// readability here, so a typo fails at configuration rather than at the first connect.
Status apply_tls_param(RedisTlsOptions& tls, std::string_view name, std::string_view value) {
  std::string* file = name == "ssl_ca_certs"   ? &tls.ca_certs
                      : name == "ssl_certfile" ? &tls.certfile
                      : name == "ssl_keyfile"  ? &tls.keyfile
                                               : nullptr;
  bool known = file != nullptr || name == "ssl_cert_reqs" || name == "ssl_check_hostname";
  if (!known) return invalid_argument("unknown URL parameter '" + std::string(name) + "'");
  if (!tls.enabled) {
    return invalid_argument("URL parameter '" + std::string(name) + "' needs TLS: use a rediss:// URL");
  }
  if (file != nullptr) {
    if (value.empty()) return bad_param(name, value, "a file path");
    std::string path(value);
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return invalid_argument("URL parameter '" + std::string(name) + "': cannot read '" + path +
                              "': " + std::generic_category().message(errno));
    }
    ::close(fd);
    *file = std::move(path);
    return Status::ok();
  }
  if (name == "ssl_cert_reqs") {
    using Reqs = RedisTlsOptions::CertReqs;
    if (value == "required") tls.cert_reqs = Reqs::kRequired;
    else if (value == "optional") tls.cert_reqs = Reqs::kOptional;
    else if (value == "none") tls.cert_reqs = Reqs::kNone;
    else return bad_param(name, value, "required, optional or none");
    return Status::ok();
  }
  if (!parse_bool(value, tls.check_hostname)) return bad_param(name, value, "true or false");
  return Status::ok();
}

Status apply_param(Options& o, std::string_view name, std::string_view value) {
  auto seconds = [&](Millis& field, bool allow_zero) -> Status {
    Millis v;
    if (!parse_seconds(value, v) || (!allow_zero && v.count() == 0)) {
      return bad_param(name, value, allow_zero ? "seconds >= 0" : "seconds > 0");
    }
    field = v;
    return Status::ok();
  };
  auto count = [&](size_t& field, size_t min) -> Status {
    size_t v;
    if (!parse_size(value, v) || v < min) return bad_param(name, value, "an integer >= " + std::to_string(min));
    field = v;
    return Status::ok();
  };
  auto fraction = [&](double& field) -> Status {
    double v = -1;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec != std::errc() || end != value.data() + value.size() || !(v >= 0 && v <= 1)) {
      return bad_param(name, value, "a fraction between 0 and 1");
    }
    field = v;
    return Status::ok();
  };

  if (name.substr(0, 4) == "ssl_") return apply_tls_param(o.redis.tls, name, value);
  if (name == "socket_timeout") return seconds(o.redis.socket_timeout, false);
  if (name == "socket_connect_timeout") return seconds(o.redis.socket_connect_timeout, false);
  if (name == "health_check_interval") return seconds(o.redis.health_check_interval, true);
  if (name == "max_connections") return count(o.redis.max_connections, 1);
  if (name == "l1_max_entries") return count(o.l1.max_entries, 0);
  if (name == "l1_max_bytes") return count(o.l1.max_bytes, 0);
  if (name == "l1_ttl") return seconds(o.l1.ttl, true);
  if (name == "default_ttl") return seconds(o.default_ttl, true);
  if (name == "compression_threshold") return count(o.codec.compression_threshold, 0);
  if (name == "slow_op_threshold") return seconds(o.slow_op_threshold, true);
  if (name == "max_key_length") return count(o.max_key_length, 1);
  if (name == "max_value_bytes") return count(o.codec.limits.max_value_bytes, 1);
  if (name == "circuit_breaker_threshold") {
    if (!parse_uint(value, o.redis.circuit_breaker_threshold)) return bad_param(name, value, "an integer >= 0 (0: off)");
    return Status::ok();
  }
  if (name == "circuit_breaker_cooldown") return seconds(o.redis.circuit_breaker_cooldown, false);
  if (name == "circuit_breaker_cooldown_max") return seconds(o.redis.circuit_breaker_cooldown_max, false);
  if (name == "sentinel_timeout") return seconds(o.redis.sentinel_timeout, false);
  if (name == "sentinel_watch_interval") return seconds(o.redis.sentinel_watch_interval, true);
  if (name == "sentinel_username") { o.redis.sentinel_username = std::string(value); return Status::ok(); }
  if (name == "sentinel_password") { o.redis.sentinel_password = std::string(value); return Status::ok(); }
  if (name == "prefix") { o.prefix = std::string(value); return Status::ok(); }
  if (name == "password") { o.redis.password = std::string(value); return Status::ok(); }
  if (name == "username") { o.redis.username = std::string(value); return Status::ok(); }
  if (name == "db") {
    int db;
    if (!parse_uint(value, db) || db < 0) return bad_param(name, value, "a database number >= 0");
    o.redis.db = db;
    return Status::ok();
  }
  if (name == "l1_policy") {
    if (value == "lru") { o.l1.policy = L1Policy::kLru; return Status::ok(); }
    if (value == "wtinylfu" || value == "tinylfu") { o.l1.policy = L1Policy::kWTinyLfu; return Status::ok(); }
    return bad_param(name, value, "wtinylfu or lru");
  }
  if (name == "l1_idle_ttl") return seconds(o.l1.idle_ttl, true);
  if (name == "l1_coherence") {
    if (value == "auto") o.l1.coherence = L1Coherence::kAuto;
    else if (value == "tracking") o.l1.coherence = L1Coherence::kTracking;
    else if (value == "broadcast") o.l1.coherence = L1Coherence::kBroadcast;
    else if (value == "off") o.l1.coherence = L1Coherence::kOff;
    else return bad_param(name, value, "auto, tracking, broadcast or off");
    return Status::ok();
  }
  if (name == "l1_ttl_jitter") return fraction(o.l1.ttl_jitter);
  if (name == "l1_promote_after") {
    if (!parse_uint(value, o.l1.promote_after)) return bad_param(name, value, "an integer >= 0 (0 or 1: at once)");
    return Status::ok();
  }
  if (name == "ttl_jitter") return fraction(o.ttl_jitter);
  if (name == "l1_doorkeeper") {
    if (value == "true" || value == "1" || value == "yes") o.l1.doorkeeper = true;
    else if (value == "false" || value == "0" || value == "no") o.l1.doorkeeper = false;
    else return bad_param(name, value, "true or false");
    return Status::ok();
  }
  if (name == "serializer") {
    if (value == "msgpack") o.serializer = Format::kMsgPack;
    else if (value == "json") o.serializer = Format::kJson;
    else if (value == "raw") o.serializer = Format::kRaw;
    else return bad_param(name, value, "json, msgpack or raw");
    return Status::ok();
  }
  if (name == "foreign_values") {
    if (value == "miss") o.foreign_values = ForeignValues::kMiss;
    else if (value == "raw") o.foreign_values = ForeignValues::kRaw;
    else return bad_param(name, value, "miss or raw");
    return Status::ok();
  }
  if (name == "compression") {
    if (value == "lz4") o.codec.compression = Compression::kLz4;
    else if (value == "zlib") o.codec.compression = Compression::kZlib;
    else if (value == "none") o.codec.compression = Compression::kNone;
    else return bad_param(name, value, "lz4, zlib or none");
    return Status::ok();
  }
  return invalid_argument("unknown URL parameter '" + std::string(name) + "'");
}

// `seen` starts with what the URL's user-info and path already set.
Status parse_query(Options& o, std::string_view query, std::set<std::string> seen) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (item.empty()) continue;
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) return invalid_argument("URL parameter '" + std::string(item) + "' has no value");
    auto name = percent_decode(item.substr(0, eq), "a parameter name");
    if (!name) return name.status();
    auto value = percent_decode(item.substr(eq + 1), "parameter '" + *name + "'");
    if (!value) return value.status();
    if (!seen.insert(*name).second) {
      return invalid_argument("URL parameter '" + *name + "' given twice (in the query, or also in the URL itself)");
    }
    if (Status st = apply_param(o, *name, *value); !st) return st;
  }
  return Status::ok();
}

// Splits "[user[:pass]@]rest": the credentials go to `redis`, `rest` is returned.
Result<std::string_view> take_userinfo(RedisOptions& redis, std::string_view authority) {
  size_t at = authority.rfind('@');
  if (at == std::string_view::npos) return authority;
  std::string_view userinfo = authority.substr(0, at);
  size_t c = userinfo.find(':');
  auto user = percent_decode(userinfo.substr(0, c), "the URL user name");
  if (!user) return user.status();
  redis.username = *user;
  if (c != std::string_view::npos) {
    auto pass = percent_decode(userinfo.substr(c + 1), "the URL password");
    if (!pass) return pass.status();
    redis.password = *pass;
  }
  return authority.substr(at + 1);
}

// "host", "host:port", "[ipv6]:port"; what is absent keeps its default.
Status parse_host_port(std::string_view hostport, std::string& host_out, uint16_t& port_out) {
  std::string_view host = hostport, port;
  if (!hostport.empty() && hostport[0] == '[') {  // [ipv6]:port
    size_t close = hostport.find(']');
    if (close == std::string_view::npos) return invalid_argument("unterminated IPv6 address in URL");
    host = hostport.substr(1, close - 1);
    if (close + 1 < hostport.size()) {
      if (hostport[close + 1] != ':') return invalid_argument("bad text after IPv6 address in URL");
      port = hostport.substr(close + 2);
    }
  } else if (size_t c = hostport.rfind(':'); c != std::string_view::npos) {
    host = hostport.substr(0, c);
    port = hostport.substr(c + 1);
  }
  if (!host.empty()) host_out = std::string(host);
  if (!port.empty()) {
    uint16_t p;
    if (!parse_uint(port, p) || p == 0) return invalid_argument("bad port '" + std::string(port) + "' in URL");
    port_out = p;
  }
  return Status::ok();
}

// "h1:p1,h2:p2" (at least one; a missing port is `default_port`).
Status parse_host_list(std::string_view list, uint16_t default_port, const char* what, std::vector<SentinelAddress>& out) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    SentinelAddress a{"", default_port};
    if (Status st = parse_host_port(list.substr(0, comma), a.host, a.port); !st) return st;
    if (a.host.empty()) return invalid_argument(std::string("empty ") + what + " host in URL");
    out.push_back(std::move(a));
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
  }
  if (out.empty()) return invalid_argument(std::string("URL names no ") + what);
  return Status::ok();
}

Status parse_db(std::string_view path, RedisOptions& redis, bool& explicit_db) {
  if (path.empty()) return Status::ok();
  int db;
  if (!parse_uint(path, db) || db < 0) return invalid_argument("bad database number '" + std::string(path) + "' in URL path");
  redis.db = db;
  explicit_db = true;
  return Status::ok();
}

}  // namespace

Status Options::set(std::string_view name, std::string_view value) { return apply_param(*this, name, value); }

Result<Options> Options::from_url(std::string_view url) {
  Options o;
  size_t colon = url.find("://");
  if (colon == std::string_view::npos) {
    return invalid_argument("cache URL must start with mem://, redis://, rediss:// or unix:// (got '" + std::string(url) + "')");
  }
  std::string_view scheme = url.substr(0, colon);
  bool explicit_db = false;
  std::string_view rest = url.substr(colon + 3);
  std::string_view query;
  if (size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }

  if (scheme == "mem") {
    if (!rest.empty() && rest != "/") return invalid_argument("mem:// takes no host or path (got '" + std::string(rest) + "')");
    o.redis.transport = RedisOptions::Transport::kNone;
  } else if (scheme == "redis" || scheme == "rediss" || scheme == "unix") {
    std::string_view authority = rest, path;
    if (scheme == "unix") {
      // unix:///path/to/sock or unix://user:pass@/path/to/sock
      size_t slash = rest.find('/');
      authority = slash == std::string_view::npos ? rest : rest.substr(0, slash);
      path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
    } else if (size_t slash = rest.find('/'); slash != std::string_view::npos) {
      authority = rest.substr(0, slash);
      path = rest.substr(slash + 1);
    }
    auto hostport = take_userinfo(o.redis, authority);
    if (!hostport) return hostport.status();
    if (scheme == "unix") {
      if (!hostport->empty()) return invalid_argument("unix:// URLs take a path, not a host: unix:///path/to/redis.sock");
      if (path.empty() || path == "/") return invalid_argument("unix:// URL has no socket path");
      auto p = percent_decode(path, "the socket path");
      if (!p) return p.status();
      o.redis.transport = RedisOptions::Transport::kUnix;
      o.redis.unix_path = *p;
    } else {
      o.redis.transport = RedisOptions::Transport::kTcp;
      o.redis.tls.enabled = scheme == "rediss";
      if (Status st = parse_host_port(*hostport, o.redis.host, o.redis.port); !st) return st;
      if (Status st = parse_db(path, o.redis, explicit_db); !st) return st;
    }
  } else if (scheme == "redis+sentinel" || scheme == "rediss+sentinel") {
    // redis+sentinel://[user:pass@]s1:p1,s2:p2/mastername[/db]. rediss+sentinel: TLS to
    // the sentinels and to the data nodes, both with the same ssl_* parameters.
    size_t slash = rest.find('/');
    auto hosts = take_userinfo(o.redis, rest.substr(0, slash));
    if (!hosts) return hosts.status();
    std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    std::string_view name = path.substr(0, path.find('/'));
    std::string_view db = name.size() < path.size() ? path.substr(name.size() + 1) : std::string_view();
    auto master = percent_decode(name, "the master name");
    if (!master) return master.status();
    if (master->empty()) {
      return invalid_argument(std::string(scheme) + ":// URL has no master name: " + std::string(scheme) +
                              "://host:26379/mymaster");
    }
    o.redis.sentinel_master = *master;
    if (Status st = parse_db(db, o.redis, explicit_db); !st) return st;
    if (Status st = parse_host_list(*hosts, 26379, "sentinel", o.redis.sentinels); !st) return st;
    o.redis.transport = RedisOptions::Transport::kTcp;
    o.redis.tls.enabled = scheme == "rediss+sentinel";
  } else if (scheme == "redis+cluster" || scheme == "rediss+cluster") {
    // redis+cluster://[user:pass@]h1:p1,h2:p2[?params]: seed nodes; no database (Cluster
    // has only db 0). rediss+cluster: TLS to every node.
    size_t slash = rest.find('/');
    if (slash != std::string_view::npos && slash + 1 < rest.size()) {
      return invalid_argument("redis+cluster:// URLs take no path (Redis Cluster has only database 0)");
    }
    auto hosts = take_userinfo(o.redis, rest.substr(0, slash));
    if (!hosts) return hosts.status();
    if (Status st = parse_host_list(*hosts, 6379, "cluster node", o.redis.cluster_nodes); !st) return st;
    o.redis.transport = RedisOptions::Transport::kTcp;
    o.redis.tls.enabled = scheme == "rediss+cluster";
  } else {
    return invalid_argument("unknown URL scheme '" + std::string(scheme) + "' (use mem://, redis://, rediss://, redis+sentinel://, rediss+sentinel://, redis+cluster://, rediss+cluster:// or unix://)");
  }
  std::set<std::string> from_url_body;
  if (!o.redis.username.empty()) from_url_body.insert("username");
  if (!o.redis.password.empty()) from_url_body.insert("password");
  if (explicit_db) from_url_body.insert("db");
  if (Status st = parse_query(o, query, std::move(from_url_body)); !st) return st;
  if (!o.redis.cluster_nodes.empty() && o.redis.db != 0) {
    return invalid_argument("redis+cluster:// takes no db (Redis Cluster has only database 0)");
  }
  return o;
}

}  // namespace stratacache
