// A real redis-server on a free loopback port, started and stopped by the test.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace stratacache::testing {

class RedisServer {
 public:
  struct Config;
  // TLS only, with the test PKI (support/test_pki.hpp): the server certificate for
  // 127.0.0.1, the test CA for peers, the client certificate for cli() and for the
  // server's own outgoing links.
  static Config tls_config();

  struct Config {
    std::string password;                 // requirepass
    std::vector<std::string> acl_lines;   // e.g. "user app on >pw ~app:* +@all -@dangerous"
    bool unix_socket = false;             // also listen on a unix socket
    std::vector<std::string> extra_args;  // more redis-server arguments
    // TLS only (--port 0 --tls-port): set cert_file to turn it on.
    struct Tls {
      std::string cert_file, key_file;  // the server's certificate and key
      std::string ca_file;              // CA for client certificates (and for cli())
      bool auth_clients = false;        // --tls-auth-clients yes: a client certificate is required
      // What cli() presents, and what the server presents when it connects out
      // (--tls-client-cert-file: cluster bus, replication, sentinel links).
      std::string client_cert, client_key;
    } tls;
    // Non-empty: run as a Redis Sentinel with this configuration (written once; the
    // sentinel rewrites it, and a restart keeps what it learnt). `password` is then
    // the sentinel's own requirepass.
    std::string sentinel_config;
  };

  static std::unique_ptr<RedisServer> start(Config config);
  static std::unique_ptr<RedisServer> start() { return start(Config{}); }
  ~RedisServer();

  uint16_t port() const { return port_; }
  const std::string& unix_path() const { return unix_path_; }
  // redis://[user:pass@]127.0.0.1:port/db with the given query (no leading '?');
  // rediss:// for a TLS server.
  std::string url(const std::string& userinfo = "", int db = 0, const std::string& query = "") const;
  // rediss://host:port/0?query, for a TLS server reached by another name.
  std::string tls_url(const std::string& host, const std::string& query = "") const;

  const Config& config() const { return config_; }
  void kill9();          // SIGKILL, wait for exit
  void restart();        // start again on the same port (after kill9 / stop)
  void pause();          // SIGSTOP
  void resume();         // SIGCONT
  bool running() const { return pid_ > 0; }
  // Runs redis-cli against this server; returns its stdout (trailing newline removed).
  std::string cli(const std::vector<std::string>& args) const;
  // The redis-cli command line cli() runs (host, port, password, TLS flags), for tools
  // that add their own arguments (redis-cli --cluster ...).
  std::string cli_command() const;

 private:
  RedisServer() = default;
  bool launch();
  bool tls() const { return !config_.tls.cert_file.empty(); }
  Config config_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
  std::string dir_, unix_path_;
};

// A master, its replicas and sentinels monitoring it as "mymaster" (quorum 2,
// down-after-milliseconds 1000, failover-timeout 3000), all on free loopback ports.
class SentinelSet {
 public:
  struct Config {
    std::string master_name = "mymaster";
    int replicas = 1;
    int sentinels = 3;
    std::string sentinel_password;       // requirepass of the sentinels
    std::string node_password;           // requirepass of master and replicas (and masterauth)
    std::vector<std::string> acl_lines;  // ACL users of master and replicas
    // Every node and sentinel TLS-only (RedisServer::tls_config()), replication and the
    // sentinels' links over TLS (--tls-replication yes).
    bool tls = false;
  };
  static std::unique_ptr<SentinelSet> start(Config config);
  static std::unique_ptr<SentinelSet> start() { return start(Config{}); }

  // Data nodes: node(0) is the first master.
  RedisServer& node(size_t i) { return *nodes_.at(i); }
  size_t node_count() const { return nodes_.size(); }
  RedisServer& sentinel(size_t i) { return *sentinels_.at(i); }
  // redis+sentinel://[userinfo@]s1,s2,s3/mymaster/db[?query] (rediss+sentinel:// with TLS)
  std::string url(const std::string& userinfo = "", const std::string& query = "", int db = 0) const;
  // The master's port as the sentinels see it now (0: no sentinel answered).
  uint16_t master_port() const;
  // The data node listening on `port` (null: none).
  RedisServer* node_on(uint16_t port);
  // Waits (up to `seconds`) until every sentinel sees the replicas in sync and the other
  // sentinels, i.e. until a failover could succeed. False on timeout.
  bool wait_until_ready(int seconds = 15);

 private:
  SentinelSet() = default;
  Config config_;
  std::vector<std::unique_ptr<RedisServer>> nodes_, sentinels_;
};

// A Redis Cluster of `masters` masters with `replicas` replicas each (default 3 + 3),
// all on free loopback ports, cluster-node-timeout 2000 ms, created with
// redis-cli --cluster create and waited for until every node says cluster_state:ok.
// With `tls`, every node is TLS-only (RedisServer::tls_config()) and the cluster bus and
// replication run over TLS too (--tls-cluster yes --tls-replication yes); each node
// presents the test client certificate on its outgoing bus links, as the bus requires
// a client certificate whatever --tls-auth-clients says.
class RedisCluster {
 public:
  struct Config {
    int masters = 3;
    int replicas = 1;
    bool tls = false;
  };
  static std::unique_ptr<RedisCluster> start(Config config);
  static std::unique_ptr<RedisCluster> start(int masters = 3, int replicas = 1) {
    return start(Config{masters, replicas, false});
  }

  RedisServer& node(size_t i) { return *nodes_.at(i); }
  size_t node_count() const { return nodes_.size(); }
  RedisServer* node_on(uint16_t port);
  // redis+cluster://127.0.0.1:p1,127.0.0.1:p2,...[?query] naming `seeds` nodes (0: all);
  // rediss+cluster:// for a TLS cluster.
  std::string url(const std::string& query = "", size_t seeds = 0) const;
  // CLUSTER MYID of node i.
  std::string node_id(size_t i) const;
  // The port of the master serving `slot` according to node `asked` (0: unknown).
  uint16_t slot_owner_port(uint16_t slot, size_t asked = 0) const;
  // The master port of every slot (16384 entries) according to node `asked` (0: unknown).
  std::vector<uint16_t> slot_owner_ports(size_t asked = 0) const;
  // redis-cli --cluster reshard moving `slots` slots from master node(from) to master
  // node(to), once --cluster check says every node agrees; killed after `timeout_s` in
  // all. *output: redis-cli's stdout. True when it succeeded.
  bool reshard(size_t from, size_t to, int slots, int timeout_s, std::string* output);
  // Waits (up to `seconds`) until every running node says cluster_state:ok, all agree
  // on the owner of slot 0, 5461 and 10923 and every replica is in sync with its master
  // (only then can it be promoted). False on timeout.
  bool wait_until_ok(int seconds = 20);

 private:
  RedisCluster() = default;
  bool tls_ = false;
  std::vector<std::unique_ptr<RedisServer>> nodes_;
};

// Moves `slot` (with `keys`, its keys) from its owner to another master, as
// redis-cli --cluster reshard does (SETSLOT IMPORTING / MIGRATING, MIGRATE); `finish`
// false stops after MIGRATE (the slot stays MIGRATING / IMPORTING). Returns the new
// owner's port, 0 when a step failed.
uint16_t migrate_slot(RedisCluster& cluster, uint16_t slot, const std::vector<std::string>& keys, bool finish);

}  // namespace stratacache::testing
