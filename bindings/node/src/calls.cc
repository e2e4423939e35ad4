#include "calls.hh"

#include <cstring>

#include "cache.hh"
#include "pump.hh"

namespace stratacache_node {

void check(Napi::Env env, int rc) {
  if (rc != STRATACACHE_OK) throw_status(env, rc, stratacache_last_error());
}

stratacache_callopts* CallOpts::ensure(Napi::Env env) {
  if (!co_) check(env, stratacache_callopts_new(&co_));
  return co_;
}

void CallOpts::parse_common(const Napi::CallbackInfo& info, size_t at) {
  Napi::Env env = info.Env();
  if (info.Length() > at && info[at].IsNumber()) {
    flags_ = info[at].As<Napi::Number>().Uint32Value();
    if (flags_) check(env, stratacache_callopts_set_flags(ensure(env), flags_));
  }
  if (info.Length() > at + 1 && info[at + 1].IsNumber())
    check(env, stratacache_callopts_set_timeout_ms(ensure(env), info[at + 1].As<Napi::Number>().Int64Value()));
}

void CallOpts::parse_write(const Napi::CallbackInfo& info, size_t at) {
  Napi::Env env = info.Env();
  if (info.Length() > at && info[at].IsArray()) {
    PackedKeys tags(env, info[at], "tags");
    std::vector<const void*> ptrs = tags.pointers();
    check(env, stratacache_callopts_set_tags(ensure(env), ptrs.data(), tags.lens.data(), ptrs.size()));
  }
  if (info.Length() > at + 1 && info[at + 1].IsArray()) {
    PackedKeys keys(env, info[at + 1], "dependsOn");
    std::vector<const void*> ptrs = keys.pointers();
    check(env, stratacache_callopts_set_depends_on(ensure(env), ptrs.data(), keys.lens.data(), ptrs.size()));
  }
}

void CallOpts::parse_read_through(Napi::Env env, Napi::Value settings) {
  if (!settings.IsObject()) return;
  Napi::Object s = settings.As<Napi::Object>();
  auto ms = [&](const char* name, int (*setter)(stratacache_callopts*, int64_t)) {
    Napi::Value v = s.Get(name);
    if (v.IsNumber()) check(env, setter(ensure(env), v.As<Napi::Number>().Int64Value()));
  };
  ms("ttl", stratacache_callopts_set_ttl_ms);
  ms("staleTtl", stratacache_callopts_set_stale_ttl_ms);
  ms("negativeTtl", stratacache_callopts_set_negative_ttl_ms);
  ms("softTimeout", stratacache_callopts_set_soft_timeout_ms);
  ms("leaseTtl", stratacache_callopts_set_lease_ttl_ms);
  Napi::Value beta = s.Get("earlyRefresh");
  if (beta.IsNumber()) check(env, stratacache_callopts_set_early_refresh(ensure(env), beta.As<Napi::Number>().DoubleValue()));
  Napi::Value lock = s.Get("lock");
  if (lock.IsBoolean()) check(env, stratacache_callopts_set_lock(ensure(env), lock.As<Napi::Boolean>().Value() ? 1 : 0));
}

Napi::Value resolved(Napi::Env env, Napi::Value v) {
  auto d = Napi::Promise::Deferred::New(env);
  d.Resolve(v);
  return d.Promise();
}

Napi::Value rejected(Napi::Env env, Napi::Value error) {
  auto d = Napi::Promise::Deferred::New(env);
  d.Reject(error);
  return d.Promise();
}

Call::Call(Napi::Env env, CacheWrap* cache, Op op, size_t n)
    : deferred_(Napi::Promise::Deferred::New(env)), cache_(cache), op_(op), n_(n) {}

Napi::Value Call::submitted(Call* call, int rc) {
  Napi::Env env = call->deferred_.Env();
  Napi::Promise p = call->promise();
  if (rc != STRATACACHE_OK) {
    call->deferred_.Reject(make_error(env, rc, stratacache_last_error()));
    delete call;
    return p;
  }
  addon_data(env).pump->started();
  if (call->cache_) call->cache_->started();
  return p;
}

void Call::done(void* payload, int status, const char* message, void* value, size_t len, int format, int64_t count) {
  auto* call = static_cast<Call*>(payload);
  Napi::Env env = call->deferred_.Env();
  try {
    call->settle(status, message, value, len, format, count);
  } catch (const Napi::Error& e) {
    call->deferred_.Reject(e.Value());
  }
  if (value) stratacache_free(value);
  if (call->cache_) call->cache_->finished();
  addon_data(env).pump->finished();
  delete call;
}

Napi::Value Call::absorbed_value() {
  Napi::Env env = deferred_.Env();
  switch (op_) {
    case Op::kDelete:
    case Op::kClearPattern:
    case Op::kInvalidateTags: return Napi::Number::New(env, 0);
    case Op::kExists: return Napi::Boolean::New(env, false);
    case Op::kIncrement: return env.Null();
    case Op::kGetMany: {
      Napi::Array out = Napi::Array::New(env, n_);
      for (uint32_t i = 0; i < n_; ++i) out.Set(i, env.Undefined());
      return out;
    }
    default: return env.Undefined();
  }
}

void Call::settle(int status, const char* message, const void* value, size_t len, int format, int64_t count) {
  Napi::Env env = deferred_.Env();
  if (status != STRATACACHE_OK && !(status == STRATACACHE_ENOTFOUND && (op_ == Op::kGet || op_ == Op::kTtl))) {
    if (cache_ && op_ != Op::kFill && cache_->absorbs(status)) {
      cache_->count_absorbed();
      deferred_.Resolve(absorbed_value());
    } else {
      deferred_.Reject(make_error(env, status, message));
    }
    return;
  }
  switch (op_) {
    case Op::kGet: {
      Napi::Value v;
      if (status == STRATACACHE_OK) v = decode_value(env, value, len, format, cache_->style());
      deferred_.Resolve(v.IsEmpty() ? env.Undefined() : v);
      return;
    }
    case Op::kDelete:
    case Op::kClearPattern:
    case Op::kInvalidateTags:
    case Op::kWarm: return deferred_.Resolve(Napi::Number::New(env, static_cast<double>(count)));
    case Op::kExists: return deferred_.Resolve(Napi::Boolean::New(env, count != 0));
    case Op::kTtl:
      if (status == STRATACACHE_ENOTFOUND) return deferred_.Resolve(env.Undefined());
      return deferred_.Resolve(count < 0 ? env.Null() : Napi::Number::New(env, static_cast<double>(count)));
    case Op::kIncrement: return deferred_.Resolve(integer_value(env, count));
    case Op::kGetMany: {
      // Packed records: int32 status | int32 format | uint64 len | bytes | padding to 8.
      Napi::Array out = Napi::Array::New(env, n_);
      for (uint32_t i = 0; i < n_; ++i) out.Set(i, env.Undefined());
      const char* p = static_cast<const char*>(value);
      const char* end = p + len;
      for (uint32_t i = 0; i < n_ && p + STRATACACHE_PACKED_HEADER_SIZE <= end; ++i) {
        int32_t st, fmt;
        uint64_t n;
        std::memcpy(&st, p, 4);
        std::memcpy(&fmt, p + 4, 4);
        std::memcpy(&n, p + 8, 8);
        const char* bytes = p + STRATACACHE_PACKED_HEADER_SIZE;
        if (st == STRATACACHE_OK) {
          Napi::Value v = decode_value(env, bytes, n, fmt, cache_->style());
          if (!v.IsEmpty()) out.Set(i, v);
        }
        p = bytes + ((n + 7) & ~uint64_t{7});
      }
      return deferred_.Resolve(out);
    }
    case Op::kHealth: {
      Napi::Value v = decode_json(env, static_cast<const char*>(value), len, DecodeStyle{});
      return deferred_.Resolve(v.IsEmpty() ? env.Undefined() : v);
    }
    default: return deferred_.Resolve(env.Undefined());
  }
}

}  // namespace stratacache_node
