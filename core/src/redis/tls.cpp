#include "redis/tls.hpp"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <climits>
#include <vector>

namespace stratacache::redis {
namespace {

constexpr size_t kWriteChunk = 64 * 1024;    // plaintext encrypted per socket write
constexpr size_t kCipherChunk = 32 * 1024;   // ciphertext read per recv

Status permission_denied(std::string msg) { return Status(StatusCode::kPermissionDenied, std::move(msg)); }

// OpenSSL's text for an error code, e.g. "tlsv13 alert certificate required".
std::string error_text(unsigned long e) {
  if (e == 0) return "unknown TLS error";
  const char* reason = ERR_reason_error_string(e);
  if (reason != nullptr) return reason;
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

// The thread's OpenSSL error queue, drained: it must not leak into the next call on
// this thread, whichever connection that is.
struct Errors {
  std::vector<unsigned long> codes;
  std::string text() const { return error_text(codes.empty() ? 0 : codes.front()); }
  bool has_ssl_reason(int reason) const {
    return std::any_of(codes.begin(), codes.end(), [&](unsigned long e) {
      return ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == reason;
    });
  }
  // The server told us (by an alert) that it refused our certificate or needs one.
  bool peer_refused_our_certificate() const {
    for (int r : {SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED, SSL_R_SSLV3_ALERT_BAD_CERTIFICATE,
                  SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN, SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED,
                  SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED, SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE,
                  SSL_R_TLSV1_ALERT_UNKNOWN_CA, SSL_R_TLSV1_ALERT_ACCESS_DENIED}) {
      if (has_ssl_reason(r)) return true;
    }
    return false;
  }
};

Errors take_errors_all() {
  Errors out;
  for (unsigned long e = ERR_get_error(); e != 0; e = ERR_get_error()) out.codes.push_back(e);
  return out;
}

std::string take_errors() { return take_errors_all().text(); }

bool is_ip_literal(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return ::inet_pton(AF_INET, host.c_str(), buf) == 1 || ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// Refuses to prompt on the terminal for the password of an encrypted key.
int no_password(char*, int, int, void*) { return 0; }

class TlsStream final : public Stream {
 public:
  TlsStream(Socket socket, SSL* ssl, std::string where)
      : socket_(std::move(socket)), ssl_(ssl), where_(std::move(where)), cipher_(new char[kCipherChunk]) {}
  // SSL_free only: no SSL_shutdown, nothing is sent (fork safety, see tls.hpp).
  ~TlsStream() override { SSL_free(ssl_); }
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  Status handshake(Deadline deadline) {
    for (;;) {
      ERR_clear_error();
      int r = SSL_do_handshake(ssl_);
      int err = r == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl_, r);
      if (err != SSL_ERROR_NONE && err != SSL_ERROR_WANT_READ) {
        return failure(err, "TLS handshake with " + where_, deadline);
      }
      if (Status s = flush(deadline); !s) return in_handshake(std::move(s));
      if (err == SSL_ERROR_NONE) return Status();
      if (Status s = fill(deadline, false); !s) return in_handshake(std::move(s));
    }
  }

  Status send_all(const char* data, size_t n, Deadline deadline) override {
    while (n > 0) {
      // Memory BIOs take every record: a write only fails on a broken session.
      size_t written = 0;
      ERR_clear_error();
      int r = SSL_write_ex(ssl_, data, std::min(n, kWriteChunk), &written);
      if (r != 1) return failure(SSL_get_error(ssl_, r), "TLS write", deadline);
      data += written;
      n -= written;
      if (Status s = flush(deadline); !s) return explain_send_failure(std::move(s), deadline);
    }
    return Status();
  }

  int fd() const override { return socket_.fd(); }
  bool concurrent_send_recv() const override { return false; }
  bool has_buffered() const override { return SSL_pending(ssl_) > 0 || BIO_ctrl_pending(rbio()) > 0; }

  Result<size_t> recv_some(char* buf, size_t cap, Deadline deadline, bool wait_first) override {
    for (;;) {
      size_t got = 0;
      ERR_clear_error();
      int r = SSL_read_ex(ssl_, buf, cap, &got);
      if (r == 1) return got;
      int err = SSL_get_error(ssl_, r);
      if (err != SSL_ERROR_WANT_READ) return failure(err, "TLS read", deadline);
      // Reading may have queued records to send (e.g. a key update reply).
      if (Status s = flush(deadline); !s) return s;
      if (Status s = fill(deadline, wait_first); !s) return s;
      wait_first = false;
    }
  }

 private:
  BIO* rbio() const { return SSL_get_rbio(ssl_); }
  BIO* wbio() const { return SSL_get_wbio(ssl_); }

  // Sends the ciphertext OpenSSL queued.
  Status flush(Deadline deadline) {
    char* data = nullptr;
    long n = BIO_get_mem_data(wbio(), &data);
    if (n <= 0) return Status();
    Status s = socket_.send_all(data, static_cast<size_t>(n), deadline);
    (void)BIO_reset(wbio());
    return s;
  }

  // Reads ciphertext from the socket for OpenSSL to decrypt.
  Status fill(Deadline deadline, bool wait_first) {
    auto n = socket_.recv_some(cipher_.get(), kCipherChunk, deadline, wait_first);
    if (!n) return n.status();
    if (BIO_write(rbio(), cipher_.get(), static_cast<int>(*n)) != static_cast<int>(*n)) {
      return internal_error("TLS: buffering " + std::to_string(*n) + " bytes failed");
    }
    return Status();
  }

  // A server that refused the session after our side of the handshake was done (TLS 1.3
  // judges the client certificate then) sent an alert and closed: our next write meets
  // a reset, but the alert, still in the receive buffer, says why.
  Status explain_send_failure(Status s, Deadline deadline) {
    if (s.code() != StatusCode::kUnavailable) return s;
    auto n = socket_.recv_some(cipher_.get(), kCipherChunk, Deadline(Deadline::Clock::now()), false);
    if (!n || BIO_write(rbio(), cipher_.get(), static_cast<int>(*n)) != static_cast<int>(*n)) return s;
    char byte;
    size_t got = 0;
    ERR_clear_error();
    int r = SSL_read_ex(ssl_, &byte, 1, &got);
    int err = r == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl_, r);
    if (err == SSL_ERROR_SSL) return failure(err, "TLS", deadline);
    ERR_clear_error();
    return s;
  }

  Status in_handshake(Status s) {
    return Status(s.code(), "TLS handshake with " + where_ + ": " + s.message());
  }

  // After a failed SSL_* call: best effort to tell the server why (an alert may be
  // queued), then a status classified as described in tls.hpp.
  Status failure(int err, const std::string& what, Deadline deadline) {
    Errors errors = take_errors_all();
    (void)flush(deadline);
    if (err == SSL_ERROR_ZERO_RETURN) return unavailable(what + ": connection closed by the server (TLS close_notify)");
    if (err == SSL_ERROR_SSL && errors.has_ssl_reason(SSL_R_CERTIFICATE_VERIFY_FAILED)) {
      long result = SSL_get_verify_result(ssl_);
      std::string msg = what + ": certificate verify failed: " + X509_verify_cert_error_string(result);
      if (result == X509_V_ERR_HOSTNAME_MISMATCH || result == X509_V_ERR_IP_ADDRESS_MISMATCH) {
        msg += " (the server's certificate is not valid for " + where_ +
               "; ssl_check_hostname=false turns this check off)";
      }
      return permission_denied(std::move(msg));
    }
    if (err == SSL_ERROR_SSL && errors.peer_refused_our_certificate()) {
      return permission_denied(what + ": the server refused the client certificate (ssl_certfile, ssl_keyfile): " +
                               errors.text());
    }
    if (err == SSL_ERROR_SSL) return unavailable(what + ": " + errors.text());
    std::string detail = errors.codes.empty() ? "" : ": " + errors.text();
    return unavailable(what + ": TLS error " + std::to_string(err) + detail);
  }

  Socket socket_;
  SSL* ssl_;
  std::string where_;  // host:port, for messages
  std::unique_ptr<char[]> cipher_;
};

}  // namespace

Result<std::unique_ptr<TlsContext>> TlsContext::create(const RedisTlsOptions& options) {
  ERR_clear_error();
  std::unique_ptr<SSL_CTX, void (*)(SSL_CTX*)> ctx(SSL_CTX_new(TLS_client_method()), &SSL_CTX_free);
  if (!ctx) return internal_error("TLS: SSL_CTX_new failed: " + take_errors());
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_default_passwd_cb(ctx.get(), &no_password);
  bool verify = options.cert_reqs != RedisTlsOptions::CertReqs::kNone;
  SSL_CTX_set_verify(ctx.get(), verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  if (verify) {
    if (!options.ca_certs.empty()) {
      if (SSL_CTX_load_verify_locations(ctx.get(), options.ca_certs.c_str(), nullptr) != 1) {
        return invalid_argument("ssl_ca_certs: cannot load CA certificates from '" + options.ca_certs +
                                "': " + take_errors());
      }
    } else if (SSL_CTX_set_default_verify_paths(ctx.get()) != 1) {
      return invalid_argument("TLS: cannot load the system's default CA certificates: " + take_errors());
    }
  }
  if (!options.keyfile.empty() && options.certfile.empty()) {
    return invalid_argument("ssl_keyfile given without ssl_certfile");
  }
  if (!options.certfile.empty()) {
    const std::string& key = options.keyfile.empty() ? options.certfile : options.keyfile;
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), options.certfile.c_str()) != 1) {
      return invalid_argument("ssl_certfile: cannot load a certificate from '" + options.certfile +
                              "': " + take_errors());
    }
    if (SSL_CTX_use_PrivateKey_file(ctx.get(), key.c_str(), SSL_FILETYPE_PEM) != 1) {
      return invalid_argument(std::string(options.keyfile.empty() ? "ssl_certfile" : "ssl_keyfile") +
                              ": cannot load a private key from '" + key + "': " + take_errors());
    }
    if (SSL_CTX_check_private_key(ctx.get()) != 1) {
      return invalid_argument("ssl_keyfile: the key in '" + key + "' does not match the certificate in '" +
                              options.certfile + "': " + take_errors());
    }
  }
  return std::unique_ptr<TlsContext>(new TlsContext(ctx.release(), verify && options.check_hostname));
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

Result<std::unique_ptr<Stream>> TlsContext::handshake(Socket socket, const std::string& host, uint16_t port,
                                                      Deadline deadline) const {
  ERR_clear_error();
  SSL* ssl = SSL_new(ctx_);
  BIO* rbio = BIO_new(BIO_s_mem());
  BIO* wbio = BIO_new(BIO_s_mem());
  if (ssl == nullptr || rbio == nullptr || wbio == nullptr) {
    SSL_free(ssl);
    BIO_free(rbio);
    BIO_free(wbio);
    return internal_error("TLS: out of memory for a session: " + take_errors());
  }
  // An empty BIO means "wait for more", not end of stream.
  BIO_set_mem_eof_return(rbio, -1);
  BIO_set_mem_eof_return(wbio, -1);
  SSL_set_bio(ssl, rbio, wbio);
  std::string where = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  auto stream = std::make_unique<TlsStream>(std::move(socket), ssl, where);  // owns ssl from here
  SSL_set_connect_state(ssl);
  bool ip = is_ip_literal(host);
  // SNI carries host names only (RFC 6066).
  if (!ip && SSL_set_tlsext_host_name(ssl, host.c_str()) != 1) {
    return invalid_argument("TLS: bad server name '" + host + "': " + take_errors());
  }
  if (check_hostname_) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
                : X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
    if (ok != 1) return invalid_argument("TLS: cannot check the certificate against '" + host + "': " + take_errors());
  }
  if (Status s = stream->handshake(deadline); !s) return s;
  return std::unique_ptr<Stream>(std::move(stream));
}

}  // namespace stratacache::redis
