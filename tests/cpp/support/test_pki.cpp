#include "support/test_pki.hpp"

#include <stdlib.h>

#include <cstdlib>
#include <stdexcept>

namespace stratacache::testing {
namespace {

void generate(TestPki& p);

// Owns the directory: removed when the process exits.
struct OwnedPki : TestPki {
  OwnedPki() { generate(*this); }
  OwnedPki(const OwnedPki&) = delete;
  OwnedPki& operator=(const OwnedPki&) = delete;
  ~OwnedPki() {
    std::string cmd = "rm -rf '" + dir + "'";
    if (std::system(cmd.c_str()) != 0) { /* best effort */ }
  }
};

void generate(TestPki& p) {
  char tmpl[] = "/tmp/stratacache-pki-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  p.dir = tmpl;
  // key NAME; ca NAME CN; leaf NAME CN EXTENSIONS (signed by ca.crt).
  std::string script = "set -e; cd '" + p.dir + "'\n" + R"(
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key"; }
ca() { key "$1"; openssl req -x509 -new -key "$1.key" -out "$1.crt" -days 2 -subj "/CN=$2" \
         -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"; }
leaf() { key "$1"; openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$2"; printf '%b\n' "$3" > "$1.ext"
         openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$1.crt" -days 2 -extfile "$1.ext"; }
ca ca "stratacache test CA"
ca other_ca "unrelated test CA"
leaf server localhost "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth"
leaf wrong_name other.example "subjectAltName=DNS:other.example\nextendedKeyUsage=serverAuth"
leaf client client "extendedKeyUsage=clientAuth"
)";
  std::string cmd = "sh -c '" ;
  for (char c : script) { if (c == '\'') cmd += "'\\''"; else cmd += c; }
  cmd += "' >'" + p.dir + "/openssl.log' 2>&1";
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("openssl failed, see " + p.dir + "/openssl.log");
  auto f = [&](const char* name) { return p.dir + "/" + name; };
  p.ca_cert = f("ca.crt");
  p.ca_key = f("ca.key");
  p.other_ca_cert = f("other_ca.crt");
  p.server_cert = f("server.crt");
  p.server_key = f("server.key");
  p.wrong_name_cert = f("wrong_name.crt");
  p.wrong_name_key = f("wrong_name.key");
  p.client_cert = f("client.crt");
  p.client_key = f("client.key");
}

}  // namespace

const TestPki& TestPki::get() {
  static const OwnedPki pki;
  return pki;
}

}  // namespace stratacache::testing
