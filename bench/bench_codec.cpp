// Codec micro-benchmarks. Prints a markdown table of medians over >= 7 repeats.
//   ninja -C build-codec bench_codec && build-codec/bench/bench_codec
// MB/s is 10^6 bytes per second (openssl speed's unit) of uncompressed/plaintext data.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "codec/compress.hpp"
#include "stratacache/codec.hpp"

using namespace stratacache;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kRepeats = 7;
volatile size_t g_sink = 0;  // keeps results observable so loops are not optimized away

// Median ns per call of fn over kRepeats runs, each long enough (~40 ms) to time well.
double median_ns(const std::function<void()>& fn) {
  size_t iters = 1;
  for (;;) {  // calibrate
    const auto t0 = Clock::now();
    for (size_t i = 0; i < iters; ++i) fn();
    const auto dt = Clock::now() - t0;
    if (dt > std::chrono::milliseconds(40)) break;
    iters *= 2;
  }
  std::vector<double> runs;
  for (int r = 0; r < kRepeats; ++r) {
    const auto t0 = Clock::now();
    for (size_t i = 0; i < iters; ++i) fn();
    const std::chrono::duration<double, std::nano> dt = Clock::now() - t0;
    runs.push_back(dt.count() / static_cast<double>(iters));
  }
  std::sort(runs.begin(), runs.end());
  return runs[runs.size() / 2];
}

struct Row {
  std::string name;
  size_t bytes;
  double ns;
  std::string note;
};
std::vector<Row> g_rows;

void add(std::string name, size_t bytes, double ns, std::string note = "") {
  g_rows.push_back({std::move(name), bytes, ns, std::move(note)});
}

Value profile(int i) {
  static const char* names[] = {"alice", "bob", "carol", "dave", "eve", "Zoë", "Jürgen", "李雷"};
  Value::Map address;
  address.emplace_back("street", std::to_string(100 + i) + " Main Street");
  address.emplace_back("city", i % 2 ? "Berlin" : "São Paulo");
  address.emplace_back("zip", std::to_string(10000 + i * 7));
  address.emplace_back("country", "DE");
  Value::Array recent;
  for (int k = 0; k < 8; ++k) recent.emplace_back(1000000 + i * 31 + k * 7);
  Value::Map m;
  m.emplace_back("id", 1000000 + i);
  m.emplace_back("username", std::string(names[i % 8]) + std::to_string(i));
  m.emplace_back("email", std::string(names[i % 8]) + std::to_string(i) + "@example.com");
  m.emplace_back("display_name", std::string(names[(i + 3) % 8]) + " " + names[i % 8]);
  m.emplace_back("created_at", "2023-0" + std::to_string(1 + i % 9) + "-14T09:26:53Z");
  m.emplace_back("last_login", 1700000000 + i * 3600);
  m.emplace_back("verified", i % 3 != 0);
  m.emplace_back("karma", 17 * i - 40);
  m.emplace_back("balance", 1234.56 + i);
  m.emplace_back("locale", "en_US");
  m.emplace_back("roles", Value::Array{"user", i % 5 ? "editor" : "admin"});
  m.emplace_back("address", std::move(address));
  m.emplace_back("recent_item_ids", std::move(recent));
  m.emplace_back("avatar_url", "https://cdn.example.com/avatars/" + std::to_string(i) + ".png");
  m.emplace_back("bio", "Enjoys distributed systems, caching, and long walks on the beach. Member #" +
                            std::to_string(i));
  return Value(std::move(m));
}

std::string json_ish_buffer(size_t n) {
  std::string out = "[";
  for (int i = 0; out.size() < n; ++i) {
    out += *serialize(profile(i), Format::kJson);
    out += ",\n";
  }
  out.resize(n);
  return out;
}

void bench_serializers() {
  const Value v = profile(42);
  for (Format f : {Format::kMsgPack, Format::kJson}) {
    const std::string enc = *serialize(v, f);
    const std::string name = format_name(f);
    add(name + " encode (profile, 15 fields)", enc.size(), median_ns([&] { g_sink += serialize(v, f)->size(); }));
    add(name + " decode (profile, 15 fields)", enc.size(), median_ns([&] {
          g_sink += deserialize(enc, f)->as_map().size();
        }));
  }
}

void bench_compression() {
  const std::string buf = json_ish_buffer(64 * 1024);
  for (Compression c : {Compression::kLz4, Compression::kZlib}) {
    const size_t bound = codec::compress_bound(c, buf.size());
    std::unique_ptr<char[]> dst(new char[bound]);
    const size_t clen = codec::compress_into(c, buf, dst.get(), bound, 6);
    char ratio[64];
    std::snprintf(ratio, sizeof ratio, "ratio %.2f%s", static_cast<double>(buf.size()) / clen,
                  c == Compression::kZlib ? ", level 6" : "");
    const std::string name = compression_name(c);
    add(name + " compress (64 KiB JSON)", buf.size(),
        median_ns([&] { g_sink += codec::compress_into(c, buf, dst.get(), bound, 6); }), ratio);
    std::string out(buf.size(), '\0');
    const std::string_view comp(dst.get(), clen);
    add(name + " decompress (64 KiB JSON)", buf.size(), median_ns([&] {
          g_sink += codec::decompress_into(c, comp, out.data(), out.size()).is_ok();
        }), ratio);
  }
}

std::string random_bytes(size_t n) {
  std::string s(n, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(s.data()), static_cast<int>(n));
  return s;
}

void bench_aes() {
  const size_t n = 16 * 1024;
  const std::string data = random_bytes(n);
  const std::string key = random_bytes(32);
  auto ring = std::make_shared<KeyRing>();
  (void)ring->add_key(1, key);
  CodecOptions o;
  o.compression = Compression::kNone;
  o.keys = ring;
  const Codec codec(o);
  const Payload p{Format::kRaw, data};
  const std::string env = *codec.encode(p, "bench", "user:42");
  add("Codec encode+decode, AES-256-GCM (16 KiB)", n, median_ns([&] {
        auto e = codec.encode(p, "bench", "user:42");
        g_sink += codec.decode(*e, "bench", "user:42")->data.size();
      }), "new EVP ctx + key setup per call, envelope alloc");
  add("Codec decode only, AES-256-GCM (16 KiB)", n,
      median_ns([&] { g_sink += codec.decode(env, "bench", "user:42")->data.size(); }));

  // Raw EVP baseline: one context reused, same AAD size, no allocation.
  EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  std::string ct(n, '\0'), pt(n, '\0');
  unsigned char nonce[12] = {1}, tag[16], aad[48] = {2};
  const auto* k = reinterpret_cast<const unsigned char*>(key.data());
  add("raw EVP encrypt+decrypt, AES-256-GCM (16 KiB)", n, median_ns([&] {
        int len = 0;
        EVP_EncryptInit_ex2(ctx, cipher, k, nonce, nullptr);
        EVP_EncryptUpdate(ctx, nullptr, &len, aad, sizeof aad);
        EVP_EncryptUpdate(ctx, reinterpret_cast<unsigned char*>(ct.data()), &len,
                          reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(n));
        EVP_EncryptFinal_ex(ctx, nullptr, &len);
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag);
        EVP_DecryptInit_ex2(ctx, cipher, k, nonce, nullptr);
        EVP_DecryptUpdate(ctx, nullptr, &len, aad, sizeof aad);
        EVP_DecryptUpdate(ctx, reinterpret_cast<unsigned char*>(pt.data()), &len,
                          reinterpret_cast<const unsigned char*>(ct.data()), static_cast<int>(n));
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, tag);
        g_sink += EVP_DecryptFinal_ex(ctx, nullptr, &len);
      }), "one ctx reused, no allocation");
  EVP_CIPHER_CTX_free(ctx);
  EVP_CIPHER_free(cipher);
}

// `openssl speed` reports encryption only, in 1000s of bytes/s: "AES-256-GCM  2849875.44k".
void bench_openssl_cli() {
  FILE* f = popen("openssl speed -evp aes-256-gcm -seconds 1 -bytes 16384 2>/dev/null", "r");
  if (f == nullptr) return;
  char line[512];
  double kbps = 0;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, "AES-256-GCM", 11) == 0 || std::strncmp(line, "aes-256-gcm", 11) == 0) {
      const char* last = std::strrchr(line, ' ');
      if (last != nullptr) kbps = std::strtod(last + 1, nullptr);
    }
  }
  pclose(f);
  if (kbps <= 0) return;
  const double mbps = kbps / 1000.0;
  add("openssl speed -evp aes-256-gcm (16 KiB)", 16384, 16384.0 / mbps * 1000.0, "CLI, encrypt only");
}

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown CPU";
}

}  // namespace

int main() {
  // Let the CPU leave its idle clock before the first measurement.
  const auto warm_until = Clock::now() + std::chrono::milliseconds(500);
  while (Clock::now() < warm_until) g_sink += 1;
  bench_serializers();
  bench_compression();
  bench_aes();
  bench_openssl_cli();
  std::printf("stratacache codec benchmark: %s, median of %d repeats, MB = 10^6 bytes\n\n", cpu_model().c_str(),
              kRepeats);
  std::printf("| benchmark | bytes | ns/op | MB/s | note |\n|---|---:|---:|---:|---|\n");
  for (const Row& r : g_rows) {
    std::printf("| %s | %zu | %.0f | %.1f | %s |\n", r.name.c_str(), r.bytes, r.ns,
                static_cast<double>(r.bytes) / r.ns * 1e3, r.note.c_str());
  }
  return g_sink == 42 ? 1 : 0;
}
