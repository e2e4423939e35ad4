// Throwaway certificates for TLS tests, made once per test process with the openssl CLI
// in a temporary directory (removed at exit). EC P-256 keys, valid for two days.
#pragma once

#include <string>

namespace stratacache::testing {

struct TestPki {
  std::string dir;
  std::string ca_cert, ca_key;              // the test CA
  std::string other_ca_cert;                // an unrelated CA (signed nothing here)
  std::string server_cert, server_key;      // by the CA, for IP:127.0.0.1 and DNS:localhost
  std::string wrong_name_cert, wrong_name_key;  // by the CA, only for DNS:other.example
  std::string client_cert, client_key;      // by the CA, clientAuth

  // Throws std::runtime_error when openssl fails.
  static const TestPki& get();
};

}  // namespace stratacache::testing
