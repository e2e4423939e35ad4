// The L2 Redis tier over TLS (rediss://) against a real TLS redis-server with throwaway
// certificates: round trips, verification failing closed, client certificates,
// deadlines, large values, fork, and the ssl_* parameters.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "remote_tier.hpp"
#include "stratacache/options.hpp"
#include "support/fork_check.hpp"
#include "support/redis_server.hpp"
#include "support/test_pki.hpp"

namespace stratacache {
namespace {

using Clock = std::chrono::steady_clock;
using testing::RedisServer;
using testing::TestPki;

Deadline soon(int ms = 3000) { return Deadline::after(std::chrono::milliseconds(ms)); }

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

enum class ServerCert { kRightName, kWrongName };

std::unique_ptr<RedisServer> start_tls_server(ServerCert cert = ServerCert::kRightName, bool auth_clients = false) {
  const TestPki& pki = TestPki::get();
  RedisServer::Config c;
  bool right = cert == ServerCert::kRightName;
  c.tls.cert_file = right ? pki.server_cert : pki.wrong_name_cert;
  c.tls.key_file = right ? pki.server_key : pki.wrong_name_key;
  c.tls.ca_file = pki.ca_cert;
  c.tls.auth_clients = auth_clients;
  c.tls.client_cert = pki.client_cert;
  c.tls.client_key = pki.client_key;
  return RedisServer::start(std::move(c));
}

std::string ca_param(const std::string& file = TestPki::get().ca_cert) { return "ssl_ca_certs=" + file; }

// The tier a URL configures (the URL parsing is part of what is tested).
std::unique_ptr<RemoteTier> tier_for(const std::string& url) {
  auto o = Options::from_url(url);
  EXPECT_TRUE(o.is_ok()) << url << ": " << o.status().to_string();
  if (!o) return nullptr;
  return make_redis_tier(o->redis);
}

std::string random_bytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

TEST(RedisTls, SetGetDeletePatternClearOverTls) {
  auto server = start_tls_server();
  auto tier = tier_for(server->url("", 0, ca_param()));
  ASSERT_TRUE(tier);
  ASSERT_TRUE(tier->set("tls:a", "alpha", 0, soon()).is_ok());
  ASSERT_TRUE(tier->set("tls:b", "beta", 60000, soon()).is_ok());
  ASSERT_TRUE(tier->set("other", "gamma", 0, soon()).is_ok());
  auto a = tier->get("tls:a", soon());
  ASSERT_TRUE(a.is_ok()) << a.status().to_string();
  EXPECT_EQ(a->value, "alpha");
  auto b = tier->get("tls:b", soon());
  ASSERT_TRUE(b.is_ok()) << b.status().to_string();
  EXPECT_GT(b->pttl_ms, 0);
  // The server really holds it (seen by redis-cli over TLS).
  EXPECT_EQ(server->cli({"GET", "tls:a"}), "alpha");

  auto deleted = tier->del({"tls:a"}, soon());
  ASSERT_TRUE(deleted.is_ok()) << deleted.status().to_string();
  EXPECT_EQ(*deleted, 1);
  EXPECT_EQ(tier->get("tls:a", soon()).code(), StatusCode::kNotFound);

  auto cleared = tier->delete_matching("tls:*", soon());
  ASSERT_TRUE(cleared.is_ok()) << cleared.status().to_string();
  EXPECT_EQ(*cleared, 1);
  EXPECT_EQ(tier->get("tls:b", soon()).code(), StatusCode::kNotFound);
  EXPECT_EQ(tier->get("other", soon())->value, "gamma");
  L2Stats st = tier->stats();
  EXPECT_EQ(st.errors, 0u);
  EXPECT_EQ(st.connections_opened, 1u);
}

TEST(RedisTls, HostNameUrlWorksWithSni) {
  auto server = start_tls_server();
  auto tier = tier_for(server->tls_url("localhost", ca_param()));
  ASSERT_TRUE(tier);
  ASSERT_TRUE(tier->set("k", "v", 0, soon()).is_ok());
  EXPECT_EQ(tier->get("k", soon())->value, "v");
}

TEST(RedisTls, AuthAndSelectTravelOverTheSession) {
  const TestPki& pki = TestPki::get();
  RedisServer::Config c;
  c.password = "s3cret";
  c.tls.cert_file = pki.server_cert;
  c.tls.key_file = pki.server_key;
  c.tls.ca_file = pki.ca_cert;
  auto server = RedisServer::start(std::move(c));
  auto tier = tier_for(server->url(":s3cret", 3, ca_param()));
  ASSERT_TRUE(tier);
  ASSERT_TRUE(tier->set("k", "in-db-3", 0, soon()).is_ok());
  EXPECT_EQ(server->cli({"-n", "3", "GET", "k"}), "in-db-3");
  auto wrong = tier_for(server->url(":nope", 0, ca_param()));
  ASSERT_TRUE(wrong);
  auto r = wrong->get("k", soon());
  EXPECT_EQ(r.code(), StatusCode::kPermissionDenied) << r.status().to_string();
  EXPECT_TRUE(contains(r.status().message(), "AUTH failed")) << r.status().message();
}

TEST(RedisTls, WrongCaFailsClosedWithVerifyResultAndBacksOff) {
  auto server = start_tls_server();
  auto tier = tier_for(server->url("", 0, ca_param(TestPki::get().other_ca_cert)));
  ASSERT_TRUE(tier);
  auto r = tier->get("k", soon());
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.code(), StatusCode::kPermissionDenied) << r.status().to_string();
  // OpenSSL's verify result; redis-server sends its CA along, hence this one.
  EXPECT_TRUE(contains(r.status().message(), "certificate verify failed: self-signed certificate in certificate chain"))
      << r.status().message();
  // The circuit breaker (threshold 5 by default) stops the reconnects: later calls fail
  // at once with the same code and reason, with no new connect.
  for (int i = 0; i < 8; ++i) {
    auto again = tier->set("k", "v", 0, soon());
    EXPECT_EQ(again.code(), StatusCode::kPermissionDenied);
    EXPECT_TRUE(contains(again.message(), "certificate verify failed")) << again.message();
  }
  L2Stats st = tier->stats();
  EXPECT_EQ(st.connect_failures, 5u);
  EXPECT_GE(st.breaker_rejections, 4u);
  EXPECT_EQ(st.connections_opened, 0u);
  // Nothing reached the server as a command.
  EXPECT_EQ(server->cli({"DBSIZE"}), "0");
}

TEST(RedisTls, SystemCasDoNotTrustTheTestCa) {
  auto server = start_tls_server();
  auto tier = tier_for(server->url());  // no ssl_ca_certs: the system's default CAs
  ASSERT_TRUE(tier);
  auto r = tier->get("k", soon());
  EXPECT_EQ(r.code(), StatusCode::kPermissionDenied) << r.status().to_string();
  EXPECT_TRUE(contains(r.status().message(), "certificate verify failed")) << r.status().message();
}

TEST(RedisTls, HostnameMismatchFailsForNamesAndIpAddresses) {
  auto server = start_tls_server(ServerCert::kWrongName);  // valid only for other.example
  for (const char* host : {"localhost", "127.0.0.1"}) {
    auto tier = tier_for(server->tls_url(host, ca_param()));
    ASSERT_TRUE(tier);
    auto r = tier->get("k", soon());
    ASSERT_FALSE(r.is_ok()) << host;
    EXPECT_EQ(r.code(), StatusCode::kPermissionDenied) << host << ": " << r.status().to_string();
    std::string m = r.status().message();
    EXPECT_TRUE(contains(m, "certificate verify failed")) << m;
    EXPECT_TRUE(contains(m, std::string(host) == "localhost" ? "hostname mismatch" : "IP address mismatch")) << m;
    EXPECT_TRUE(contains(m, host)) << m;
  }
}

TEST(RedisTls, CheckHostnameFalseAcceptsTheRightCaUnderAnotherName) {
  auto server = start_tls_server(ServerCert::kWrongName);
  auto tier = tier_for(server->tls_url("localhost", ca_param() + "&ssl_check_hostname=false"));
  ASSERT_TRUE(tier);
  ASSERT_TRUE(tier->set("k", "v", 0, soon()).is_ok());
  EXPECT_EQ(tier->get("k", soon())->value, "v");
  // ...but not a certificate from an unknown CA.
  auto untrusted = tier_for(server->tls_url("localhost", ca_param(TestPki::get().other_ca_cert) +
                                                             "&ssl_check_hostname=false"));
  ASSERT_TRUE(untrusted);
  EXPECT_EQ(untrusted->get("k", soon()).code(), StatusCode::kPermissionDenied);
}

TEST(RedisTls, CertReqsNoneAcceptsAnUnknownCaAndAnyName) {
  auto server = start_tls_server(ServerCert::kWrongName);
  auto tier = tier_for(server->tls_url("localhost", ca_param(TestPki::get().other_ca_cert) + "&ssl_cert_reqs=none"));
  ASSERT_TRUE(tier);
  ASSERT_TRUE(tier->set("k", "v", 0, soon()).is_ok());
  EXPECT_EQ(tier->get("k", soon())->value, "v");
  // "optional" verifies, as in redis-py (a client treats it like "required").
  auto optional = tier_for(server->tls_url("localhost", ca_param(TestPki::get().other_ca_cert) +
                                                            "&ssl_cert_reqs=optional"));
  ASSERT_TRUE(optional);
  EXPECT_EQ(optional->get("k", soon()).code(), StatusCode::kPermissionDenied);
}

TEST(RedisTls, ClientCertificateRequiredWorksWithOneAndFailsWithout) {
  const TestPki& pki = TestPki::get();
  auto server = start_tls_server(ServerCert::kRightName, /*auth_clients=*/true);
  auto with = tier_for(server->url("", 0, ca_param() + "&ssl_certfile=" + pki.client_cert +
                                              "&ssl_keyfile=" + pki.client_key));
  ASSERT_TRUE(with);
  auto s = with->set("k", "v", 0, soon());
  ASSERT_TRUE(s.is_ok()) << s.to_string();
  EXPECT_EQ(with->get("k", soon())->value, "v");

  auto without = tier_for(server->url("", 0, ca_param()));
  ASSERT_TRUE(without);
  auto r = without->get("k", soon());
  ASSERT_FALSE(r.is_ok());
  // A connect failure (the PING after the handshake sees the server's alert), not a
  // failed command on an apparently open connection.
  EXPECT_EQ(r.code(), StatusCode::kPermissionDenied) << r.status().to_string();
  EXPECT_TRUE(contains(r.status().message(), "the server refused the client certificate")) << r.status().message();
  EXPECT_TRUE(contains(r.status().message(), "certificate required")) << r.status().message();
  L2Stats st = without->stats();
  EXPECT_EQ(st.connect_failures, 1u);
  EXPECT_EQ(st.connections_opened, 0u);
}

TEST(RedisTls, PlainServerBehindRedissUrlIsUnavailableWithinTheConnectTimeout) {
  auto server = RedisServer::start();
  std::string url = server->url("", 0, ca_param() + "&socket_connect_timeout=0.3");
  url.replace(0, 5, "rediss");  // redis:// -> rediss://
  auto tier = tier_for(url);
  ASSERT_TRUE(tier);
  auto t = Clock::now();
  // Redis reads our ClientHello as the start of an inline command and waits for more.
  auto r = tier->get("k", soon(2000));
  EXPECT_LT(ms_since(t), 300.0 + 50.0);
  EXPECT_EQ(r.code(), StatusCode::kUnavailable) << r.status().to_string();
  EXPECT_TRUE(contains(r.status().message(), "TLS handshake")) << r.status().message();
}

TEST(RedisTls, PausedServerCallsReturnByTheirDeadline) {
  auto server = start_tls_server();
  Options o = *Options::from_url(server->url("", 0, ca_param()));
  o.redis.max_connections = 1;
  auto tier = make_redis_tier(o.redis);
  ASSERT_TRUE(tier->set("k", "v", 0, soon()).is_ok());
  // A second tier with no connection yet: its TLS handshake meets the stopped server.
  auto fresh = make_redis_tier(o.redis);

  server->pause();
  constexpr int kDeadlineMs = 150;
  for (RemoteTier* t : {tier.get(), fresh.get()}) {
    for (int i = 0; i < 2; ++i) {
      auto t0 = Clock::now();
      auto r = t->get("k", Deadline::after(std::chrono::milliseconds(kDeadlineMs)));
      double took = ms_since(t0);
      EXPECT_EQ(r.code(), StatusCode::kTimeout) << r.status().to_string();
      EXPECT_LT(took, kDeadlineMs + 50.0);
    }
  }
  auto t0 = Clock::now();
  const std::string big = random_bytes(256 * 1024, 1);
  EXPECT_EQ(tier->set("k", big, 0, Deadline::after(std::chrono::milliseconds(kDeadlineMs))).code(),
            StatusCode::kTimeout);
  EXPECT_LT(ms_since(t0), kDeadlineMs + 50.0);
  server->resume();
  // A write that timed out has an unknown outcome: the whole command may sit in the
  // kernel's buffers and run once the server resumes. Either value is right; a reply
  // meant for another request (the abandoned GETs' replies) never is.
  auto r = tier->get("k", soon());
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_TRUE(r->value == "v" || r->value == big) << r->value.size() << " bytes";
  auto f = fresh->get("k", soon());
  ASSERT_TRUE(f.is_ok()) << f.status().to_string();
  EXPECT_EQ(f->value.size(), r->value.size());
}

TEST(RedisTls, LargeValuesRoundTripAcrossRecordBoundaries) {
  auto server = start_tls_server();
  auto tier = tier_for(server->url("", 0, ca_param()));
  ASSERT_TRUE(tier);
  // TLS records carry at most 16 KiB; our writes go out in 64 KiB chunks.
  const size_t sizes[] = {0, 1, 16383, 16384, 16385, 65536 + 3, 1u << 20, (1u << 20) + 7, 5u << 20};
  unsigned seed = 0;
  for (size_t n : sizes) {
    std::string value = random_bytes(n, ++seed);
    std::string key = "big:" + std::to_string(n);
    ASSERT_TRUE(tier->set(key, value, 0, soon()).is_ok()) << n;
    auto r = tier->get(key, soon());
    ASSERT_TRUE(r.is_ok()) << n << ": " << r.status().to_string();
    EXPECT_EQ(r->value.size(), n);
    EXPECT_TRUE(r->value == value) << n;
  }
  EXPECT_EQ(tier->stats().connections_opened, 1u);
}

TEST(RedisTls, EightThreadsShareOneContextOnAPoolOfFour) {
  auto server = start_tls_server();
  Options o = *Options::from_url(server->url("", 0, ca_param() + "&max_connections=4"));
  auto tier = make_redis_tier(o.redis);
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 150; ++i) {
        std::string key = "t" + std::to_string(t) + ":" + std::to_string(i % 10);
        std::string value = key + "=" + std::to_string(i) + std::string(static_cast<size_t>(i) * 37, 'x');
        if (!tier->set(key, value, 0, soon()).is_ok()) ++wrong;
        auto r = tier->get(key, soon());
        if (!r.is_ok() || r->value != value) ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  L2Stats st = tier->stats();
  EXPECT_EQ(st.errors, 0u);
  EXPECT_LE(st.connections_opened, 4u);
}

TEST(RedisTls, ForkedChildDropsInheritedSessionSilentlyAndParentKeepsIt) {
  auto server = start_tls_server();
  auto tier = tier_for(server->url("", 0, ca_param()));
  ASSERT_TRUE(tier);
  testing::expect_fork_keeps_parent_connection(tier);
}

TEST(RedisTls, ParametersParseAndNameThemselvesInErrors) {
  const TestPki& pki = TestPki::get();
  auto o = Options::from_url("rediss://cache.example:6380/2?ssl_ca_certs=" + pki.ca_cert + "&ssl_certfile=" +
                             pki.client_cert + "&ssl_keyfile=" + pki.client_key +
                             "&ssl_cert_reqs=optional&ssl_check_hostname=false");
  ASSERT_TRUE(o.is_ok()) << o.status().to_string();
  const RedisTlsOptions& tls = o->redis.tls;
  EXPECT_TRUE(tls.enabled);
  EXPECT_EQ(o->redis.host, "cache.example");
  EXPECT_EQ(o->redis.port, 6380);
  EXPECT_EQ(o->redis.db, 2);
  EXPECT_EQ(tls.ca_certs, pki.ca_cert);
  EXPECT_EQ(tls.certfile, pki.client_cert);
  EXPECT_EQ(tls.keyfile, pki.client_key);
  EXPECT_EQ(tls.cert_reqs, RedisTlsOptions::CertReqs::kOptional);
  EXPECT_FALSE(tls.check_hostname);
  auto plain = Options::from_url("redis://h");
  ASSERT_TRUE(plain.is_ok());
  EXPECT_FALSE(plain->redis.tls.enabled);
  EXPECT_TRUE(Options::from_url("rediss://h")->redis.tls.check_hostname);

  struct Case {
    std::string url, must_mention;
  };
  const Case cases[] = {
      {"redis://h?ssl_ca_certs=" + pki.ca_cert, "'ssl_ca_certs' needs TLS"},
      {"unix:///tmp/r.sock?ssl_cert_reqs=none", "'ssl_cert_reqs' needs TLS"},
      {"rediss://h?ssl_ca_certs=/nonexistent/ca.pem", "/nonexistent/ca.pem"},
      {"rediss://h?ssl_certfile=/nonexistent/c.pem", "ssl_certfile"},
      {"rediss://h?ssl_keyfile=/nonexistent/k.pem", "No such file"},
      {"rediss://h?ssl_ca_certs=", "ssl_ca_certs"},
      {"rediss://h?ssl_cert_reqs=sometimes", "required, optional or none"},
      {"rediss://h?ssl_check_hostname=maybe", "ssl_check_hostname"},
      {"rediss://h?ssl_bogus=1", "unknown URL parameter 'ssl_bogus'"},
      {"rediss://h?ssl_cert_reqs=none&ssl_cert_reqs=none", "twice"},
  };
  for (const auto& c : cases) {
    auto r = Options::from_url(c.url);
    ASSERT_FALSE(r.is_ok()) << c.url;
    EXPECT_EQ(r.code(), StatusCode::kInvalidArgument) << c.url;
    EXPECT_TRUE(contains(r.status().message(), c.must_mention)) << c.url << ": " << r.status().message();
  }
  // Options::set: same names, same errors.
  Options set_on_plain;
  EXPECT_EQ(set_on_plain.set("ssl_cert_reqs", "none").code(), StatusCode::kInvalidArgument);
  Options set_on_tls = *Options::from_url("rediss://h");
  EXPECT_TRUE(set_on_tls.set("ssl_cert_reqs", "none").is_ok());
  EXPECT_EQ(set_on_tls.redis.tls.cert_reqs, RedisTlsOptions::CertReqs::kNone);
  EXPECT_TRUE(set_on_tls.set("ssl_check_hostname", "FALSE").is_ok());
  EXPECT_FALSE(set_on_tls.redis.tls.check_hostname);
  Status missing = set_on_tls.set("ssl_certfile", "/nonexistent/c.pem");
  EXPECT_EQ(missing.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(contains(missing.message(), "/nonexistent/c.pem")) << missing.message();
}

TEST(RedisTls, UnloadableFilesFailEveryCallNamingTheFile) {
  auto server = start_tls_server();
  const TestPki& pki = TestPki::get();
  std::string not_pem = pki.dir + "/not-a-cert.pem";
  std::ofstream(not_pem) << "this is not PEM\n";
  struct Case {
    std::string query, must_mention;
  };
  const Case cases[] = {
      {"ssl_ca_certs=" + not_pem, "ssl_ca_certs: cannot load CA certificates from '" + not_pem + "'"},
      {ca_param() + "&ssl_certfile=" + not_pem, "ssl_certfile: cannot load a certificate from '" + not_pem + "'"},
      {ca_param() + "&ssl_certfile=" + pki.client_cert + "&ssl_keyfile=" + not_pem,
       "ssl_keyfile: cannot load a private key from '" + not_pem + "'"},
      {ca_param() + "&ssl_certfile=" + pki.client_cert + "&ssl_keyfile=" + pki.server_key,
       "ssl_keyfile: cannot load a private key from '" + pki.server_key + "': key values mismatch"},
      {ca_param() + "&ssl_keyfile=" + pki.client_key, "ssl_keyfile given without ssl_certfile"},
  };
  for (const auto& c : cases) {
    auto tier = tier_for(server->url("", 0, c.query));
    ASSERT_TRUE(tier);
    for (int i = 0; i < 2; ++i) {
      auto r = tier->get("k", soon());
      EXPECT_EQ(r.code(), StatusCode::kInvalidArgument) << c.query << ": " << r.status().to_string();
      EXPECT_TRUE(contains(r.status().message(), c.must_mention)) << r.status().message();
    }
    EXPECT_EQ(tier->stats().connect_failures, 0u) << "no connect is attempted";
  }
}

}  // namespace
}  // namespace stratacache
