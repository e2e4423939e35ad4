// A non-blocking, close-on-exec stream socket whose every wait is bounded by a Deadline.
// Failures: kUnavailable (refused, reset, closed by the peer, unresolvable host),
// kTimeout (the deadline passed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "deadline.hpp"
#include "stratacache/status.hpp"

namespace stratacache::redis {

class Socket {
 public:
  Socket() = default;
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() { close(); }
  Socket(Socket&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Socket& operator=(Socket&& other) noexcept;
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  // TCP: every address of `host` in turn; TCP_NODELAY and keepalive on success.
  static Result<Socket> connect_tcp(const std::string& host, uint16_t port, Deadline deadline);
  static Result<Socket> connect_unix(const std::string& path, Deadline deadline);

  Status send_all(const char* data, size_t n, Deadline deadline);
  // Reads what is available (at least one byte), waiting only when nothing is. With
  // wait_first (right after a request: the reply cannot be there yet) it polls before
  // the first recv instead of paying for a recv that would block.
  Result<size_t> recv_some(char* buf, size_t cap, Deadline deadline, bool wait_first = false);

  bool is_open() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  // Closes the descriptor without shutdown(): after a fork the other process's copy
  // of the same socket keeps working.
  void close();

 private:
  int fd_ = -1;
};

}  // namespace stratacache::redis
