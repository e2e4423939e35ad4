// The byte stream under a Connection: a plain socket, or TLS over one (redis/tls.hpp).
// Both keep Socket's contract: every wait bounded by the deadline; kUnavailable when
// the peer is gone or the stream broke, kTimeout when the deadline passed. Destroying
// a stream never sends a byte (no shutdown(), no TLS close_notify), so a forked child
// can drop inherited connections while the parent's copies keep working.
#pragma once

#include <cstddef>
#include <utility>

#include "deadline.hpp"
#include "redis/socket.hpp"
#include "stratacache/status.hpp"

namespace stratacache::redis {

class Stream {
 public:
  virtual ~Stream() = default;
  virtual Status send_all(const char* data, size_t n, Deadline deadline) = 0;
  // At least one byte, waiting only when nothing is buffered (see Socket::recv_some).
  virtual Result<size_t> recv_some(char* buf, size_t cap, Deadline deadline, bool wait_first) = 0;
  // The descriptor, for poll() by a shared pipe's I/O thread.
  virtual int fd() const = 0;
  // Whether one thread may send while another receives (a plain socket: yes; a TLS
  // session: no, OpenSSL's SSL object is not shared between concurrent calls).
  virtual bool concurrent_send_recv() const = 0;
  // Received bytes held above the socket (decrypted TLS records), which poll() cannot see.
  virtual bool has_buffered() const { return false; }
};

class PlainStream final : public Stream {
 public:
  explicit PlainStream(Socket socket) : socket_(std::move(socket)) {}
  Status send_all(const char* data, size_t n, Deadline deadline) override {
    return socket_.send_all(data, n, deadline);
  }
  Result<size_t> recv_some(char* buf, size_t cap, Deadline deadline, bool wait_first) override {
    return socket_.recv_some(buf, cap, deadline, wait_first);
  }
  int fd() const override { return socket_.fd(); }
  bool concurrent_send_recv() const override { return true; }

 private:
  Socket socket_;
};

}  // namespace stratacache::redis
