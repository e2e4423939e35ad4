// TLS for the Redis tier (rediss://), OpenSSL over our own non-blocking Socket.
//
// OpenSSL never touches the descriptor: a session reads and writes two memory BIOs and
// the stream moves ciphertext between them and the Socket. So every wait of the
// handshake, of reads and of writes is the Socket's poll bounded by the call's
// Deadline, writes keep MSG_NOSIGNAL (no SIGPIPE on a dead peer), and freeing a session
// never puts a byte on the wire (no close_notify): a forked child drops inherited TLS
// connections exactly like plain ones, and the parent's sessions keep working.
//
// Status codes:
// - kPermissionDenied: the server's certificate failed verification ("certificate
//   verify failed: " + OpenSSL's verify result, e.g. "unable to get local issuer
//   certificate" or "hostname mismatch"), or the server refused our client certificate.
//   A configuration error, deliberately not kUnavailable (which callers read as "Redis
//   is down, serve from L1 and retry"); like an AUTH refusal it still starts the pool's
//   connect backoff, so a misconfigured client does not hammer the server, and calls
//   during the backoff fail fast with the same code and message.
// - kInvalidArgument: the CA file, client certificate or key could not be loaded (the
//   message names the file); returned by every call, no connect is attempted.
// - kUnavailable / kTimeout: anything else (server gone or not speaking TLS, deadline).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "deadline.hpp"
#include "redis/socket.hpp"
#include "redis/stream.hpp"
#include "stratacache/options.hpp"
#include "stratacache/status.hpp"

struct ssl_ctx_st;

namespace stratacache::redis {

class TlsContext {
 public:
  // Built once per tier; its connections share it (only read after creation, which
  // OpenSSL allows from any number of threads).
  static Result<std::unique_ptr<TlsContext>> create(const RedisTlsOptions& options);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // Handshake over a connected socket to host:port (SNI and hostname check use `host`).
  Result<std::unique_ptr<Stream>> handshake(Socket socket, const std::string& host, uint16_t port,
                                            Deadline deadline) const;

 private:
  TlsContext(ssl_ctx_st* ctx, bool check_hostname) : ctx_(ctx), check_hostname_(check_hostname) {}
  ssl_ctx_st* ctx_;
  bool check_hostname_;
};

}  // namespace stratacache::redis
