#include "redis/socket.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <system_error>

namespace stratacache::redis {
namespace {

Status io_error(const std::string& what, int err) {
  return unavailable(what + ": " + std::generic_category().message(err));
}

// Waits until `fd` is ready for `events` (or reports an error/hang-up, which the next
// syscall turns into a status), or the deadline passes.
Status wait_ready(int fd, short events, Deadline deadline, const char* what) {
  for (;;) {
    // Rounded up, and clamped: a far-away deadline must not overflow poll's int.
    auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline.at() - Deadline::Clock::now()).count();
    if (left <= 0) return timeout_error(std::string(what) + " timed out");
    int ms = static_cast<int>(std::min<int64_t>((left + 999) / 1000, 60 * 60 * 1000));
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, ms);
    if (n > 0) return Status();
    if (n < 0 && errno != EINTR) return io_error(std::string("poll (") + what + ")", errno);
  }
}

void set_int_option(int fd, int level, int name, int value) {
  // Best effort: a socket that refuses an option still works.
  (void)::setsockopt(fd, level, name, &value, sizeof value);
}

// connect() on a non-blocking socket, then wait for it to complete.
Status finish_connect(int fd, const sockaddr* addr, socklen_t len, Deadline deadline, const std::string& where) {
  if (::connect(fd, addr, len) == 0) return Status();
  if (errno != EINPROGRESS && errno != EINTR) return io_error("connect " + where, errno);
  if (Status s = wait_ready(fd, POLLOUT, deadline, "connect"); !s) {
    return Status(s.code(), "connect " + where + ": " + s.message());
  }
  int err = 0;
  socklen_t err_len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len) != 0) err = errno;
  if (err != 0) return io_error("connect " + where, err);
  return Status();
}

}  // namespace

Socket& Socket::operator=(Socket&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

void Socket::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Result<Socket> Socket::connect_tcp(const std::string& host, uint16_t port, Deadline deadline) {
  // getaddrinfo cannot be bounded by the deadline; numeric hosts (the common case)
  // resolve without a lookup.
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* list = nullptr;
  std::string service = std::to_string(port);
  int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &list);
  if (rc != 0) return unavailable("resolve " + host + ": " + ::gai_strerror(rc));
  std::string where = host + ":" + service;
  Status last = unavailable("connect " + where + ": no address");
  for (addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    Socket s(::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol));
    if (!s.is_open()) {
      last = io_error("socket", errno);
      continue;
    }
    last = finish_connect(s.fd_, ai->ai_addr, ai->ai_addrlen, deadline, where);
    if (!last) {
      if (last.code() == StatusCode::kTimeout) break;
      continue;
    }
    set_int_option(s.fd_, IPPROTO_TCP, TCP_NODELAY, 1);
    set_int_option(s.fd_, SOL_SOCKET, SO_KEEPALIVE, 1);
    set_int_option(s.fd_, IPPROTO_TCP, TCP_KEEPIDLE, 60);
    set_int_option(s.fd_, IPPROTO_TCP, TCP_KEEPINTVL, 10);
    set_int_option(s.fd_, IPPROTO_TCP, TCP_KEEPCNT, 3);
    ::freeaddrinfo(list);
    return s;
  }
  ::freeaddrinfo(list);
  return last;
}

Result<Socket> Socket::connect_unix(const std::string& path, Deadline deadline) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    return invalid_argument("unix socket path empty or too long: " + path);
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  Socket s(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!s.is_open()) return io_error("socket", errno);
  // A full backlog makes a non-blocking unix connect fail with EAGAIN: unavailable.
  if (Status st = finish_connect(s.fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr, deadline, path); !st) {
    return st;
  }
  return s;
}

Status Socket::send_all(const char* data, size_t n, Deadline deadline) {
  while (n > 0) {
    ssize_t w = ::send(fd_, data, n, MSG_NOSIGNAL);
    if (w > 0) {
      data += w;
      n -= static_cast<size_t>(w);
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (Status s = wait_ready(fd_, POLLOUT, deadline, "write"); !s) return s;
      continue;
    }
    return io_error("write", w < 0 ? errno : EPIPE);
  }
  return Status();
}

Result<size_t> Socket::recv_some(char* buf, size_t cap, Deadline deadline, bool wait_first) {
  if (wait_first) {
    if (Status s = wait_ready(fd_, POLLIN, deadline, "read"); !s) return s;
  }
  for (;;) {
    ssize_t n = ::recv(fd_, buf, cap, 0);
    if (n > 0) return static_cast<size_t>(n);
    if (n == 0) return unavailable("connection closed by the server");
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return io_error("read", errno);
    if (Status s = wait_ready(fd_, POLLIN, deadline, "read"); !s) return s;
  }
}

}  // namespace stratacache::redis
