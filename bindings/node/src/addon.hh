// Per-addon-instance state shared by every file of the addon: the JS classes the
// package defines (lib/index.js hands them over once, at load), the completion pump and
// the codec helpers. One instance per Node environment (main thread or worker).
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "stratacache.h"

namespace stratacache_node {

class Pump;

// How decoded values look (the Cache's options).
struct DecodeStyle {
  bool wrap_floats = false;  // float64 -> Float64 instances (exact round trips); else plain numbers
};

struct AddonData {
  Napi::FunctionReference make_error;     // (status, message) -> CacheError subclass instance
  Napi::FunctionReference date_ctor;      // global Date
  Napi::FunctionReference float64_ctor;   // Float64(number)
  Napi::FunctionReference uuid_ctor;      // Uuid(text)
  Napi::FunctionReference calendar_date_ctor;  // CalendarDate(text)
  Napi::FunctionReference decimal_ctor;   // Decimal(text)
  Napi::FunctionReference decode_msgpack;  // lib/msgpack.js decodeMsgpack(buffer, start, end, wrapFloats)
  Napi::ObjectReference object_proto;     // Object.prototype
  Napi::FunctionReference lease_ctor;     // NativeLease (C++ class)
  Napi::FunctionReference lock_ctor;      // NativeLock (C++ class)
  std::unique_ptr<Pump> pump;             // created with the first cache
  bool types_set = false;
};

AddonData& addon_data(Napi::Env env);

// Error value for a failed call: makeError(status, message) from lib/errors.js.
Napi::Value make_error(Napi::Env env, int status, const char* message);
// Throw it (synchronous refusals: bad arguments, closed handle).
[[noreturn]] void throw_status(Napi::Env env, int status, const char* message);

// ---- values (values_msgpack.cc, values_json.cc) ----
// Encode v in format (STRATACACHE_FORMAT_*) into out; throws TypeError / RangeError for
// values the format cannot hold.
void encode_value(Napi::Env env, Napi::Value v, int format, std::string& out);
void encode_msgpack(Napi::Env env, Napi::Value v, std::string& out);
void encode_json(Napi::Env env, Napi::Value v, std::string& out);
// Decode stored bytes; an empty Napi::Value when they cannot be decoded (the caller
// treats that as a miss: a corrupt value is never an exception).
Napi::Value decode_value(Napi::Env env, const void* data, size_t len, int format, DecodeStyle style);
Napi::Value decode_msgpack(Napi::Env env, const uint8_t* data, size_t len, DecodeStyle style);
Napi::Value decode_json(Napi::Env env, const char* data, size_t len, DecodeStyle style);
// An integer as a number when it is safe (|v| <= 2^53 - 1), else a BigInt.
Napi::Value integer_value(Napi::Env env, int64_t v);
Napi::Value unsigned_value(Napi::Env env, uint64_t v);

// A Buffer or Uint8Array: the JS values that are bytes.
bool is_bytes(Napi::Value v);

// The format a value is stored in: `requested` when it is a number (a
// STRATACACHE_FORMAT_*), else raw for bytes and the cache's serializer for the rest.
int format_for(Napi::Value value, Napi::Value requested, int serializer);

// Bytes of a key (string: UTF-8; Buffer / Uint8Array: as is). Short strings are
// converted into an inline buffer (one napi call, no allocation).
class KeyBytes {
 public:
  KeyBytes(Napi::Env env, Napi::Value v, const char* what = "key");
  KeyBytes(const KeyBytes&) = delete;
  KeyBytes& operator=(const KeyBytes&) = delete;
  const char* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  char inline_[256];
  std::string owned_;
  const char* data_ = nullptr;
  size_t size_ = 0;
};

// Every key of a JS array packed back to back, with their lengths.
struct PackedKeys {
  std::string bytes;
  std::vector<size_t> lens;
  PackedKeys(Napi::Env env, Napi::Value array, const char* what = "keys");
  // A pointer to each key (for the C functions that take arrays of pointers).
  std::vector<const void*> pointers() const;
};

// Add the keys of a JS array [[id, key bytes, primary], ...] to opts (throws on refusal).
void add_keys(Napi::Env env, stratacache_options* opts, Napi::Value keys);

void init_cache(Napi::Env env, Napi::Object exports);
void init_lease(Napi::Env env, Napi::Object exports);

}  // namespace stratacache_node
