#include "support/redis_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "support/test_pki.hpp"

namespace stratacache::testing {
namespace {

uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool port_accepts(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

bool unix_accepts(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// Runs `cmd` followed by `args` (each quoted for the shell); its stdout goes to *out
// (trailing newline removed). True when it exited with status 0.
bool run_command(std::string cmd, const std::vector<std::string>& args, std::string* out) {
  for (auto& a : args) {
    std::string q = "'";
    for (char c : a) { if (c == '\'') q += "'\\''"; else q += c; }
    cmd += " " + q + "'";
  }
  out->clear();
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return false;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out->append(buf, n);
  int status = ::pclose(p);
  while (!out->empty() && (out->back() == '\n' || out->back() == '\r')) out->pop_back();
  return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace

RedisServer::Config RedisServer::tls_config() {
  const TestPki& pki = TestPki::get();
  Config c;
  c.tls.cert_file = pki.server_cert;
  c.tls.key_file = pki.server_key;
  c.tls.ca_file = pki.ca_cert;
  c.tls.client_cert = pki.client_cert;
  c.tls.client_key = pki.client_key;
  return c;
}

std::unique_ptr<RedisServer> RedisServer::start(Config config) {
  std::unique_ptr<RedisServer> s(new RedisServer());
  s->config_ = std::move(config);
  char tmpl[] = "/tmp/stratacache-redis-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  s->dir_ = tmpl;
  if (s->config_.unix_socket) s->unix_path_ = s->dir_ + "/redis.sock";
  for (int attempt = 0; attempt < 5; ++attempt) {
    s->port_ = free_port();
    if (s->launch()) return s;
  }
  throw std::runtime_error("could not start redis-server");
}

bool RedisServer::launch() {
  std::string port = std::to_string(port_);
  std::vector<std::string> args = {REDIS_SERVER_BIN, "--port", tls() ? "0" : port, "--bind", "127.0.0.1",
                                   "--save", "", "--appendonly", "no", "--dir", dir_, "--daemonize", "no",
                                   "--logfile", dir_ + "/redis.log", "--enable-debug-command", "local"};
  if (!config_.sentinel_config.empty()) {
    std::string conf = dir_ + "/sentinel.conf";
    if (::access(conf.c_str(), F_OK) != 0) std::ofstream(conf) << config_.sentinel_config;
    args = {REDIS_SERVER_BIN, conf, "--sentinel", "--port", tls() ? "0" : port, "--bind", "127.0.0.1",
            "--dir", dir_, "--daemonize", "no", "--logfile", dir_ + "/sentinel.log"};
  }
  if (!config_.password.empty()) { args.push_back("--requirepass"); args.push_back(config_.password); }
  if (!unix_path_.empty()) {
    args.push_back("--unixsocket"); args.push_back(unix_path_);
    args.push_back("--unixsocketperm"); args.push_back("700");
  }
  if (!config_.acl_lines.empty()) {
    std::ofstream acl(dir_ + "/users.acl");
    for (auto& line : config_.acl_lines) acl << line << "\n";
    args.push_back("--aclfile"); args.push_back(dir_ + "/users.acl");
  }
  if (tls()) {
    const auto& t = config_.tls;
    args.insert(args.end(), {"--tls-port", port, "--tls-cert-file", t.cert_file, "--tls-key-file", t.key_file,
                             "--tls-auth-clients", t.auth_clients ? "yes" : "no"});
    if (!t.ca_file.empty()) { args.push_back("--tls-ca-cert-file"); args.push_back(t.ca_file); }
    if (!t.client_cert.empty()) {
      args.insert(args.end(), {"--tls-client-cert-file", t.client_cert, "--tls-client-key-file", t.client_key});
    }
  }
  for (auto& a : config_.extra_args) args.push_back(a);

  // Built before fork(): between fork and exec a child of a multi-threaded process may
  // only make async-signal-safe calls (no malloc).
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  pid_ = pid;
  for (int i = 0; i < 500; ++i) {  // up to 5 s
    // redis-server listens on TCP before it creates its unix socket: wait for both.
    if (port_accepts(port_) && (unix_path_.empty() || unix_accepts(unix_path_))) return true;
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) { pid_ = -1; return false; }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill9();
  return false;
}

RedisServer::~RedisServer() {
  if (pid_ > 0) { ::kill(pid_, SIGCONT); kill9(); }
  std::string cmd = "rm -rf '" + dir_ + "'";
  if (std::system(cmd.c_str()) != 0) { /* best effort */ }
}

std::string RedisServer::url(const std::string& userinfo, int db, const std::string& query) const {
  std::string u = tls() ? "rediss://" : "redis://";
  if (!userinfo.empty()) u += userinfo + "@";
  u += "127.0.0.1:" + std::to_string(port_) + "/" + std::to_string(db);
  if (!query.empty()) u += "?" + query;
  return u;
}

std::string RedisServer::tls_url(const std::string& host, const std::string& query) const {
  std::string u = "rediss://" + host + ":" + std::to_string(port_) + "/0";
  if (!query.empty()) u += "?" + query;
  return u;
}

void RedisServer::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

void RedisServer::restart() {
  if (pid_ > 0) kill9();
  for (int i = 0; i < 100; ++i) {  // the port may linger briefly
    if (launch()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw std::runtime_error("could not restart redis-server on its port");
}

void RedisServer::pause() { if (pid_ > 0) ::kill(pid_, SIGSTOP); }
void RedisServer::resume() { if (pid_ > 0) ::kill(pid_, SIGCONT); }

std::string RedisServer::cli(const std::vector<std::string>& args) const {
  std::string out;
  run_command(cli_command(), args, &out);
  return out;
}

std::string RedisServer::cli_command() const {
  std::string cmd = std::string(REDIS_CLI_BIN) + " -h 127.0.0.1 -p " + std::to_string(port_);
  if (!config_.password.empty()) cmd += " --no-auth-warning -a '" + config_.password + "'";
  if (tls()) {
    cmd += " --tls --cacert '" + config_.tls.ca_file + "'";
    if (!config_.tls.client_cert.empty()) {
      cmd += " --cert '" + config_.tls.client_cert + "' --key '" + config_.tls.client_key + "'";
    }
  }
  return cmd;
}

namespace {

// The value after `key` in a flat key/value reply printed by redis-cli, one per line.
std::string field_after(const std::string& text, const std::string& key) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    if (text.compare(pos, end - pos, key) == 0 && end < text.size()) {
      size_t next = text.find('\n', end + 1);
      return text.substr(end + 1, (next == std::string::npos ? text.size() : next) - end - 1);
    }
    pos = end + 1;
  }
  return "";
}

}  // namespace

std::unique_ptr<SentinelSet> SentinelSet::start(Config config) {
  std::unique_ptr<SentinelSet> set(new SentinelSet());
  set->config_ = std::move(config);
  const Config& c = set->config_;
  RedisServer::Config data = c.tls ? RedisServer::tls_config() : RedisServer::Config{};
  data.password = c.node_password;
  data.acl_lines = c.acl_lines;
  if (!c.node_password.empty()) data.extra_args = {"--masterauth", c.node_password};
  // Replication, and the sentinels' links to the nodes and to each other, over TLS.
  if (c.tls) data.extra_args.insert(data.extra_args.end(), {"--tls-replication", "yes"});
  set->nodes_.push_back(RedisServer::start(data));
  uint16_t master = set->nodes_[0]->port();
  for (int i = 0; i < c.replicas; ++i) {
    RedisServer::Config replica = data;
    replica.extra_args.insert(replica.extra_args.end(), {"--replicaof", "127.0.0.1", std::to_string(master)});
    set->nodes_.push_back(RedisServer::start(replica));
  }
  std::string conf = "sentinel monitor " + c.master_name + " 127.0.0.1 " + std::to_string(master) + " 2\n" +
                     "sentinel down-after-milliseconds " + c.master_name + " 1000\n" +
                     "sentinel failover-timeout " + c.master_name + " 3000\n" +
                     "sentinel parallel-syncs " + c.master_name + " 1\n";
  if (!c.node_password.empty()) conf += "sentinel auth-pass " + c.master_name + " " + c.node_password + "\n";
  for (int i = 0; i < c.sentinels; ++i) {
    RedisServer::Config s = c.tls ? RedisServer::tls_config() : RedisServer::Config{};
    if (c.tls) s.extra_args = {"--tls-replication", "yes"};
    s.sentinel_config = conf;
    s.password = c.sentinel_password;
    set->sentinels_.push_back(RedisServer::start(s));
  }
  return set;
}

std::string SentinelSet::url(const std::string& userinfo, const std::string& query, int db) const {
  std::string u = config_.tls ? "rediss+sentinel://" : "redis+sentinel://";
  if (!userinfo.empty()) u += userinfo + "@";
  for (size_t i = 0; i < sentinels_.size(); ++i) {
    u += (i ? ",127.0.0.1:" : "127.0.0.1:") + std::to_string(sentinels_[i]->port());
  }
  u += "/" + config_.master_name + "/" + std::to_string(db);
  if (!query.empty()) u += "?" + query;
  return u;
}

uint16_t SentinelSet::master_port() const {
  for (auto& s : sentinels_) {
    if (!s->running()) continue;
    std::string out = s->cli({"SENTINEL", "get-master-addr-by-name", config_.master_name});
    size_t nl = out.find('\n');
    if (nl != std::string::npos) return static_cast<uint16_t>(std::atoi(out.c_str() + nl + 1));
  }
  return 0;
}

RedisServer* SentinelSet::node_on(uint16_t port) {
  for (auto& n : nodes_) {
    if (n->port() == port) return n.get();
  }
  return nullptr;
}

bool SentinelSet::wait_until_ready(int seconds) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  const std::string others = std::to_string(sentinels_.size() - 1);
  const std::string replicas = std::to_string(nodes_.size() - 1);
  while (std::chrono::steady_clock::now() < until) {
    bool ready = true;
    for (auto& s : sentinels_) {
      std::string m = s->cli({"SENTINEL", "master", config_.master_name});
      ready = ready && field_after(m, "num-other-sentinels") == others && field_after(m, "num-slaves") == replicas &&
              field_after(m, "flags") == "master";
    }
    for (size_t i = 0; ready && i < nodes_.size(); ++i) {
      if (nodes_[i]->port() == master_port()) continue;
      ready = nodes_[i]->cli({"INFO", "replication"}).find("master_link_status:up") != std::string::npos;
    }
    if (ready) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

std::unique_ptr<RedisCluster> RedisCluster::start(Config cluster) {
  std::unique_ptr<RedisCluster> c(new RedisCluster());
  c->tls_ = cluster.tls;
  int total = cluster.masters * (1 + cluster.replicas);
  for (int i = 0; i < total; ++i) {
    RedisServer::Config config = cluster.tls ? RedisServer::tls_config() : RedisServer::Config{};
    // The cluster bus port is given (by default it is port + 10000, out of range for a
    // free port above 55535).
    config.extra_args = {"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                         "--cluster-node-timeout", "2000", "--cluster-port", std::to_string(free_port()),
                         // Replicas sync at once (not after 5 s): a replica that never synced
                         // cannot be promoted.
                         "--repl-diskless-sync-delay", "0"};
    if (cluster.tls) config.extra_args.insert(config.extra_args.end(), {"--tls-cluster", "yes", "--tls-replication", "yes"});
    c->nodes_.push_back(RedisServer::start(config));
  }
  std::vector<std::string> args = {"--cluster", "create"};
  for (auto& n : c->nodes_) args.push_back("127.0.0.1:" + std::to_string(n->port()));
  args.insert(args.end(), {"--cluster-replicas", std::to_string(cluster.replicas), "--cluster-yes"});
  std::string out = c->nodes_[0]->cli(args);
  if (out.find("[OK] All 16384 slots covered") == std::string::npos) {
    throw std::runtime_error("redis-cli --cluster create failed: " + out);
  }
  if (!c->wait_until_ok()) throw std::runtime_error("the cluster did not reach cluster_state:ok");
  return c;
}

RedisServer* RedisCluster::node_on(uint16_t port) {
  for (auto& n : nodes_) {
    if (n->port() == port) return n.get();
  }
  return nullptr;
}

std::string RedisCluster::url(const std::string& query, size_t seeds) const {
  std::string u = tls_ ? "rediss+cluster://" : "redis+cluster://";
  size_t n = seeds == 0 ? nodes_.size() : std::min(seeds, nodes_.size());
  for (size_t i = 0; i < n; ++i) u += (i ? ",127.0.0.1:" : "127.0.0.1:") + std::to_string(nodes_[i]->port());
  if (!query.empty()) u += "?" + query;
  return u;
}

std::string RedisCluster::node_id(size_t i) const { return nodes_.at(i)->cli({"CLUSTER", "MYID"}); }

uint16_t RedisCluster::slot_owner_port(uint16_t slot, size_t asked) const {
  return slot_owner_ports(asked).at(slot);
}

std::vector<uint16_t> RedisCluster::slot_owner_ports(size_t asked) const {
  std::vector<uint16_t> owners(16384, 0);
  // CLUSTER NODES lines: <id> <ip:port@bus> <flags> <master> <ping> <pong> <epoch> <state> <slots...>
  std::string nodes = nodes_.at(asked)->cli({"CLUSTER", "NODES"});
  size_t pos = 0;
  while (pos < nodes.size()) {
    size_t end = nodes.find('\n', pos);
    if (end == std::string::npos) end = nodes.size();
    std::string line = nodes.substr(pos, end - pos);
    pos = end + 1;
    std::vector<std::string> f;
    for (size_t a = 0; a < line.size();) {
      size_t b = line.find(' ', a);
      if (b == std::string::npos) b = line.size();
      f.push_back(line.substr(a, b - a));
      a = b + 1;
    }
    if (f.size() < 9 || f[2].find("master") == std::string::npos || f[2].find("fail") != std::string::npos) continue;
    size_t colon = f[1].find(':'), at = f[1].find('@');
    auto port = static_cast<uint16_t>(std::stoi(f[1].substr(colon + 1, at - colon - 1)));
    for (size_t k = 8; k < f.size(); ++k) {
      if (f[k].empty() || f[k][0] == '[') continue;  // [slot->-id] migrating / importing
      size_t dash = f[k].find('-');
      int first = std::stoi(f[k].substr(0, dash));
      int last = dash == std::string::npos ? first : std::stoi(f[k].substr(dash + 1));
      for (int slot = first; slot <= last && slot < 16384; ++slot) owners[static_cast<size_t>(slot)] = port;
    }
  }
  return owners;
}

bool RedisCluster::reshard(size_t from, size_t to, int slots, int timeout_s, std::string* output) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  std::string entry = "127.0.0.1:" + std::to_string(nodes_.at(from)->port());
  // redis-cli refuses to reshard until every node agrees on the slots and none is open
  // (a previous reshard's last SETSLOTs reach the replicas by gossip): wait for that.
  bool agreed = false;
  while (!agreed && std::chrono::steady_clock::now() < until) {
    run_command(nodes_.at(from)->cli_command(), {"--cluster", "check", entry}, output);
    agreed = output->find("[OK] All nodes agree about slots configuration.") != std::string::npos &&
             output->find("[WARNING]") == std::string::npos && output->find("[ERR]") == std::string::npos;
    if (!agreed) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (!agreed) return false;
  auto left = std::chrono::duration_cast<std::chrono::seconds>(until - std::chrono::steady_clock::now()).count();
  return run_command("timeout -s KILL " + std::to_string(std::max<long long>(left, 1)) + " " + nodes_.at(from)->cli_command(),
                     {"--cluster", "reshard", entry, "--cluster-from", node_id(from), "--cluster-to", node_id(to),
                      "--cluster-slots", std::to_string(slots), "--cluster-yes"},
                     output);
}

bool RedisCluster::wait_until_ok(int seconds) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < until) {
    bool ok = true;
    uint16_t owners[3] = {0, 0, 0};
    bool first = true;
    for (size_t i = 0; i < nodes_.size() && ok; ++i) {
      if (!nodes_[i]->running()) continue;
      ok = nodes_[i]->cli({"CLUSTER", "INFO"}).find("cluster_state:ok") != std::string::npos;
      if (ok && nodes_[i]->cli({"ROLE"}).rfind("slave", 0) == 0) {
        ok = nodes_[i]->cli({"INFO", "replication"}).find("master_link_status:up") != std::string::npos;
      }
      const uint16_t slots[3] = {0, 5461, 10923};
      for (int k = 0; k < 3 && ok; ++k) {
        uint16_t p = slot_owner_port(slots[k], i);
        if (first) owners[k] = p;
        ok = p != 0 && p == owners[k];
      }
      first = false;
    }
    if (ok) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

uint16_t migrate_slot(RedisCluster& cluster, uint16_t slot, const std::vector<std::string>& keys, bool finish) {
  uint16_t src_port = cluster.slot_owner_port(slot);
  RedisServer* src = cluster.node_on(src_port);
  RedisServer* dst = nullptr;
  for (size_t i = 0; i < cluster.node_count() && dst == nullptr; ++i) {
    uint16_t p = cluster.node(i).port();
    if (p != src_port && cluster.node(i).cli({"ROLE"}).find("master") == 0) dst = &cluster.node(i);
  }
  if (src == nullptr || dst == nullptr) return 0;
  std::string src_id = src->cli({"CLUSTER", "MYID"}), dst_id = dst->cli({"CLUSTER", "MYID"});
  std::string s = std::to_string(slot);
  if (dst->cli({"CLUSTER", "SETSLOT", s, "IMPORTING", src_id}) != "OK") return 0;
  if (src->cli({"CLUSTER", "SETSLOT", s, "MIGRATING", dst_id}) != "OK") return 0;
  std::vector<std::string> migrate = {"MIGRATE", "127.0.0.1", std::to_string(dst->port()), "", "0", "5000", "KEYS"};
  migrate.insert(migrate.end(), keys.begin(), keys.end());
  if (src->cli(migrate) != "OK") return 0;
  if (finish) {
    if (dst->cli({"CLUSTER", "SETSLOT", s, "NODE", dst_id}) != "OK") return 0;
    if (src->cli({"CLUSTER", "SETSLOT", s, "NODE", dst_id}) != "OK") return 0;
    for (size_t i = 0; i < cluster.node_count(); ++i) {
      RedisServer& n = cluster.node(i);
      if (&n != src && &n != dst && n.cli({"ROLE"}).find("master") == 0) n.cli({"CLUSTER", "SETSLOT", s, "NODE", dst_id});
    }
  }
  return dst->port();
}

}  // namespace stratacache::testing
