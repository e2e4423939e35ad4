// Internal: the key ring's storage and AES-256-GCM seal/open over OpenSSL EVP.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include <openssl/types.h>

#include "stratacache/codec.hpp"

namespace stratacache::codec {

constexpr size_t kNonceSize = 12;  // 96-bit GCM nonce, random per encode
constexpr size_t kTagSize = 16;

// What the tag authenticates besides the ciphertext: the envelope header, then
// u32le(len(ns)) || ns || u32le(len(key)) || key.
struct AadParts {
  std::string_view header;
  std::string_view ns;
  std::string_view key;
};

// Encrypts n bytes from in to out (in == out allowed) and writes the tag.
Status aes_gcm_seal(const KeyRing::Impl& ring, const unsigned char* key, const unsigned char* nonce,
                    const AadParts& aad, const char* in, size_t n, char* out, unsigned char* tag);
// Decrypts n bytes from in to out; kDataLoss when the tag does not verify (out then
// holds unauthenticated bytes the caller must discard).
Status aes_gcm_open(const KeyRing::Impl& ring, const unsigned char* key, const unsigned char* nonce,
                    const AadParts& aad, const char* in, size_t n, char* out, const unsigned char* tag);

}  // namespace stratacache::codec

namespace stratacache {

struct KeyRing::Impl {
  struct Key {
    uint32_t id = 0;
    unsigned char bytes[kKeySize] = {};
  };
  // Heap-allocated one by one so that key bytes never move (a vector of Key would
  // leave unwiped copies behind when it grows).
  std::vector<std::unique_ptr<Key>> keys;
  const Key* primary = nullptr;
  // Fetched once: with OpenSSL 3 an implicit fetch per EVP_*Init costs a lock + lookup.
  EVP_CIPHER* fetched = nullptr;
  const EVP_CIPHER* cipher = nullptr;

  const Key* find(uint32_t id) const {
    for (const auto& k : keys) {
      if (k->id == id) return k.get();
    }
    return nullptr;
  }
};

}  // namespace stratacache
