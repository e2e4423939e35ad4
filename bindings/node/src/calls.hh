// One submitted call: the Promise it settles and how its completion becomes a JS value.
// Created on the loop thread when a submission is accepted; its callback runs on the
// loop thread too (the pump drains the queue there), settles the Promise and deletes it.
#pragma once

#include <napi.h>

#include "addon.hh"

namespace stratacache_node {

class CacheWrap;

enum class Op : uint8_t {
  kGet,
  kSet,
  kDelete,
  kExists,
  kTtl,
  kIncrement,
  kGetMany,
  kSetMany,
  kClearPattern,
  kHealth,
  kInvalidateTags,
  kWarm,
  kFill,
};

// Per-call options (callopts) owned for the duration of one call.
class CallOpts {
 public:
  CallOpts() = default;
  ~CallOpts() { stratacache_callopts_free(co_); }
  CallOpts(const CallOpts&) = delete;
  CallOpts& operator=(const CallOpts&) = delete;
  // flags and timeoutMs at info[at], info[at + 1] (undefined: the defaults).
  void parse_common(const Napi::CallbackInfo& info, size_t at);
  // tags and dependsOn (arrays of strings / Buffers, or undefined).
  void parse_write(const Napi::CallbackInfo& info, size_t at);
  // {ttl, staleTtl, negativeTtl, earlyRefresh, softTimeout, leaseTtl, lock}.
  void parse_read_through(Napi::Env env, Napi::Value settings);
  stratacache_callopts* get() const { return co_; }
  uint32_t flags() const { return flags_; }

 private:
  stratacache_callopts* ensure(Napi::Env env);
  stratacache_callopts* co_ = nullptr;
  uint32_t flags_ = 0;
};

// Check a setter's result: a refusal throws the library's error.
void check(Napi::Env env, int rc);

class Call {
 public:
  Call(Napi::Env env, CacheWrap* cache, Op op, size_t n = 0);
  Napi::Promise promise() const { return deferred_.Promise(); }
  // The library accepted the submission (rc OK): the callback will run. Otherwise the
  // call is refused: returns a rejected Promise and deletes the call.
  static Napi::Value submitted(Call* call, int rc);
  static void done(void* payload, int status, const char* message, void* value, size_t len, int format,
                   int64_t count);

 private:
  void settle(int status, const char* message, const void* value, size_t len, int format, int64_t count);
  Napi::Value absorbed_value();

  Napi::Promise::Deferred deferred_;
  CacheWrap* cache_;
  Op op_;
  size_t n_;
};

// A Promise already settled (fast paths and refusals).
Napi::Value resolved(Napi::Env env, Napi::Value v);
Napi::Value rejected(Napi::Env env, Napi::Value error);

}  // namespace stratacache_node
