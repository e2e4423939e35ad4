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
  struct Config {
    std::string password;                 // requirepass
    std::vector<std::string> acl_lines;   // e.g. "user app on >pw ~app:* +@all -@dangerous"
    bool unix_socket = false;             // also listen on a unix socket
    std::vector<std::string> extra_args;  // more redis-server arguments
  };

  static std::unique_ptr<RedisServer> start(Config config);
  static std::unique_ptr<RedisServer> start() { return start(Config{}); }
  ~RedisServer();

  uint16_t port() const { return port_; }
  const std::string& unix_path() const { return unix_path_; }
  // redis://[user:pass@]127.0.0.1:port/db with the given query (no leading '?').
  std::string url(const std::string& userinfo = "", int db = 0, const std::string& query = "") const;

  void kill9();          // SIGKILL, wait for exit
  void restart();        // start again on the same port (after kill9 / stop)
  void pause();          // SIGSTOP
  void resume();         // SIGCONT
  bool running() const { return pid_ > 0; }
  // Runs redis-cli against this server; returns its stdout (trailing newline removed).
  std::string cli(const std::vector<std::string>& args) const;

 private:
  RedisServer() = default;
  bool launch();
  Config config_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
  std::string dir_, unix_path_;
};

}  // namespace stratacache::testing
