#include "codec/cipher.hpp"

#include <climits>
#include <cstring>
#include <string>

#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace stratacache {

KeyRing::KeyRing() : impl_(std::make_unique<Impl>()) {
  impl_->fetched = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  impl_->cipher = impl_->fetched != nullptr ? impl_->fetched : EVP_aes_256_gcm();
}

KeyRing::~KeyRing() {
  for (auto& k : impl_->keys) OPENSSL_cleanse(k->bytes, sizeof k->bytes);
  EVP_CIPHER_free(impl_->fetched);
}

Status KeyRing::add_key(uint32_t id, std::string_view key, bool primary) {
  if (key.size() != kKeySize) {
    return invalid_argument("AES-256-GCM key must be 32 bytes, got " + std::to_string(key.size()));
  }
  if (impl_->find(id) != nullptr) return invalid_argument("duplicate key id " + std::to_string(id));
  auto k = std::make_unique<Impl::Key>();
  k->id = id;
  std::memcpy(k->bytes, key.data(), kKeySize);
  impl_->keys.push_back(std::move(k));
  if (primary || impl_->primary == nullptr) impl_->primary = impl_->keys.back().get();
  return Status::ok();
}

bool KeyRing::empty() const { return impl_->keys.empty(); }

uint32_t KeyRing::primary_id() const { return impl_->primary != nullptr ? impl_->primary->id : 0; }

}  // namespace stratacache

namespace stratacache::codec {
namespace {

struct CtxDeleter {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter>;

constexpr size_t kChunk = size_t{1} << 30;  // EVP lengths are int

void put_u32le(unsigned char* p, uint32_t v) {
  p[0] = static_cast<unsigned char>(v);
  p[1] = static_cast<unsigned char>(v >> 8);
  p[2] = static_cast<unsigned char>(v >> 16);
  p[3] = static_cast<unsigned char>(v >> 24);
}

// EVP_EncryptUpdate and EVP_DecryptUpdate share a signature.
using UpdateFn = int (*)(EVP_CIPHER_CTX*, unsigned char*, int*, const unsigned char*, int);

bool feed_aad(EVP_CIPHER_CTX* ctx, UpdateFn update, std::string_view part) {
  while (!part.empty()) {
    const size_t n = part.size() < kChunk ? part.size() : kChunk;
    int len = 0;
    if (update(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(part.data()), static_cast<int>(n)) != 1) {
      return false;
    }
    part.remove_prefix(n);
  }
  return true;
}

bool feed_all_aad(EVP_CIPHER_CTX* ctx, UpdateFn update, const AadParts& aad) {
  unsigned char len_ns[4];
  unsigned char len_key[4];
  put_u32le(len_ns, static_cast<uint32_t>(aad.ns.size()));
  put_u32le(len_key, static_cast<uint32_t>(aad.key.size()));
  return feed_aad(ctx, update, aad.header) &&
         feed_aad(ctx, update, {reinterpret_cast<const char*>(len_ns), 4}) && feed_aad(ctx, update, aad.ns) &&
         feed_aad(ctx, update, {reinterpret_cast<const char*>(len_key), 4}) && feed_aad(ctx, update, aad.key);
}

bool feed_data(EVP_CIPHER_CTX* ctx, UpdateFn update, const char* in, size_t n, char* out) {
  while (n > 0) {
    const size_t chunk = n < kChunk ? n : kChunk;
    int len = 0;
    if (update(ctx, reinterpret_cast<unsigned char*>(out), &len, reinterpret_cast<const unsigned char*>(in),
               static_cast<int>(chunk)) != 1 ||
        static_cast<size_t>(len) != chunk) {
      return false;
    }
    in += chunk;
    out += chunk;
    n -= chunk;
  }
  return true;
}

bool aad_lengths_ok(const AadParts& aad) {
  return aad.ns.size() <= UINT32_MAX && aad.key.size() <= UINT32_MAX;
}

}  // namespace

Status aes_gcm_seal(const KeyRing::Impl& ring, const unsigned char* key, const unsigned char* nonce,
                    const AadParts& aad, const char* in, size_t n, char* out, unsigned char* tag) {
  if (!aad_lengths_ok(aad)) return invalid_argument("namespace or key longer than 2^32-1 bytes");
  CtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return internal_error("EVP_CIPHER_CTX_new failed");
  if (EVP_EncryptInit_ex2(ctx.get(), ring.cipher, key, nonce, nullptr) != 1) {
    return internal_error("AES-256-GCM encrypt init failed");
  }
  if (!feed_all_aad(ctx.get(), &EVP_EncryptUpdate, aad) || !feed_data(ctx.get(), &EVP_EncryptUpdate, in, n, out)) {
    return internal_error("AES-256-GCM encrypt failed");
  }
  int len = 0;
  if (EVP_EncryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out + n), &len) != 1 || len != 0 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagSize), tag) != 1) {
    return internal_error("AES-256-GCM finalize failed");
  }
  return Status::ok();
}

Status aes_gcm_open(const KeyRing::Impl& ring, const unsigned char* key, const unsigned char* nonce,
                    const AadParts& aad, const char* in, size_t n, char* out, const unsigned char* tag) {
  if (!aad_lengths_ok(aad)) return invalid_argument("namespace or key longer than 2^32-1 bytes");
  CtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return internal_error("EVP_CIPHER_CTX_new failed");
  if (EVP_DecryptInit_ex2(ctx.get(), ring.cipher, key, nonce, nullptr) != 1) {
    return internal_error("AES-256-GCM decrypt init failed");
  }
  if (!feed_all_aad(ctx.get(), &EVP_DecryptUpdate, aad) || !feed_data(ctx.get(), &EVP_DecryptUpdate, in, n, out)) {
    return data_loss("AES-256-GCM decrypt failed");
  }
  // OpenSSL takes a non-const pointer for SET_TAG but only reads it.
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagSize),
                          const_cast<unsigned char*>(tag)) != 1) {
    return internal_error("AES-256-GCM set tag failed");
  }
  int len = 0;
  if (EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out + n), &len) != 1) {
    return data_loss("authentication failed: wrong key, wrong namespace/key, or tampered value");
  }
  return Status::ok();
}

}  // namespace stratacache::codec
