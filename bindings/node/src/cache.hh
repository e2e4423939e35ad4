// NativeCache: the addon's handle on one stratacache_cache. lib/index.js wraps it in
// the public Cache class (argument handling, defaults, getOrLoad); every I/O method here
// returns a Promise settled on the loop thread through the pump.
#pragma once

#include <napi.h>

#include <string>

#include "addon.hh"
#include "calls.hh"

namespace stratacache_node {

class CacheWrap : public Napi::ObjectWrap<CacheWrap> {
 public:
  static Napi::Function define(Napi::Env env);
  explicit CacheWrap(const Napi::CallbackInfo& info);
  ~CacheWrap() override;

  stratacache_cache* handle() const { return handle_; }
  DecodeStyle style() const { return style_; }
  int serializer() const { return serializer_; }
  // fail_silently: Redis outages (EUNAVAILABLE, ETIMEDOUT, EAUTH) are absorbed.
  bool absorbs(int status) const;
  void count_absorbed() { ++absorbed_; }
  // In-flight accounting: keeps this object (and the loop) alive while calls are out.
  void started();
  void finished();

 private:
  Napi::Value set_scratch(const Napi::CallbackInfo& info);
  Napi::Value peek(const Napi::CallbackInfo& info);
  Napi::Value get(const Napi::CallbackInfo& info);
  Napi::Value set(const Napi::CallbackInfo& info);
  Napi::Value del(const Napi::CallbackInfo& info);
  Napi::Value exists(const Napi::CallbackInfo& info);
  Napi::Value ttl(const Napi::CallbackInfo& info);
  Napi::Value increment(const Napi::CallbackInfo& info);
  Napi::Value get_many(const Napi::CallbackInfo& info);
  Napi::Value set_many(const Napi::CallbackInfo& info);
  Napi::Value clear_pattern(const Napi::CallbackInfo& info);
  Napi::Value health(const Napi::CallbackInfo& info);
  Napi::Value invalidate_tags(const Napi::CallbackInfo& info);
  Napi::Value warm(const Napi::CallbackInfo& info);
  Napi::Value acquire(const Napi::CallbackInfo& info);
  Napi::Value lock(const Napi::CallbackInfo& info);
  Napi::Value stats(const Napi::CallbackInfo& info);
  Napi::Value close(const Napi::CallbackInfo& info);

  using KeySubmit = int (*)(stratacache_cache*, const void*, size_t, const stratacache_callopts*,
                            stratacache_queue*, stratacache_callback, void*);
  using KeysSubmit = int (*)(stratacache_cache*, const void*, const size_t*, size_t, const stratacache_callopts*,
                             stratacache_queue*, stratacache_callback, void*);
  Napi::Value submit_key(const Napi::CallbackInfo& info, Op op, KeySubmit submit, const char* what);
  Napi::Value submit_keys(const Napi::CallbackInfo& info, Op op, KeysSubmit submit);

  stratacache_cache* handle_ = nullptr;
  stratacache_callopts* l1_only_ = nullptr;  // SKIP_L2: the synchronous L1 probe (peek)
  Napi::ObjectReference scratch_;            // the Buffer peek copies values into
  uint8_t* scratch_data_ = nullptr;
  size_t scratch_cap_ = 0;
  bool fail_silently_ = true;
  int serializer_ = STRATACACHE_FORMAT_MSGPACK;
  DecodeStyle style_;
  uint64_t absorbed_ = 0;
  size_t in_flight_ = 0;
};

}  // namespace stratacache_node
