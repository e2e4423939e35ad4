#include "cache.hh"

#include <cmath>
#include <cstring>

#include "calls.hh"
#include "pump.hh"

namespace stratacache_node {

namespace {

int64_t ttl_arg(const Napi::CallbackInfo& info, size_t at) {
  return info.Length() > at && info[at].IsNumber() ? info[at].As<Napi::Number>().Int64Value()
                                                   : STRATACACHE_TTL_DEFAULT;
}

// Run a Promise-returning method body: an argument error becomes a rejected Promise,
// never a synchronous throw.
template <typename F>
Napi::Value promising(Napi::Env env, F&& body) {
  try {
    return body();
  } catch (const Napi::Error& e) {
    return rejected(env, e.Value());
  }
}

}  // namespace

Napi::Function CacheWrap::define(Napi::Env env) {
  return DefineClass(env, "NativeCache",
                     {
                         InstanceMethod<&CacheWrap::set_scratch>("setScratch"),
                         InstanceMethod<&CacheWrap::peek>("peek"),
                         InstanceMethod<&CacheWrap::get>("get"),
                         InstanceMethod<&CacheWrap::set>("set"),
                         InstanceMethod<&CacheWrap::del>("delete"),
                         InstanceMethod<&CacheWrap::exists>("exists"),
                         InstanceMethod<&CacheWrap::ttl>("ttl"),
                         InstanceMethod<&CacheWrap::increment>("increment"),
                         InstanceMethod<&CacheWrap::get_many>("getMany"),
                         InstanceMethod<&CacheWrap::set_many>("setMany"),
                         InstanceMethod<&CacheWrap::clear_pattern>("clearPattern"),
                         InstanceMethod<&CacheWrap::health>("health"),
                         InstanceMethod<&CacheWrap::invalidate_tags>("invalidateTags"),
                         InstanceMethod<&CacheWrap::warm>("warm"),
                         InstanceMethod<&CacheWrap::acquire>("acquire"),
                         InstanceMethod<&CacheWrap::lock>("lock"),
                         InstanceMethod<&CacheWrap::stats>("stats"),
                         InstanceMethod<&CacheWrap::close>("close"),
                     });
}

// new NativeCache(url, keys: [[id, Buffer(32), primary]], serializer, failSilently, wrapFloats, shared name or undefined)
CacheWrap::CacheWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<CacheWrap>(info) {
  Napi::Env env = info.Env();
  AddonData& d = addon_data(env);
  if (!d.pump) d.pump = std::make_unique<Pump>(env);
  std::string url = info[0].As<Napi::String>().Utf8Value();
  serializer_ = info[2].As<Napi::Number>().Int32Value();
  fail_silently_ = info[3].ToBoolean();
  style_.wrap_floats = info[4].ToBoolean();
  stratacache_options* opts = nullptr;
  check(env, stratacache_options_from_url(&opts, url.c_str()));
  std::unique_ptr<stratacache_options, void (*)(stratacache_options*)> owned(opts, stratacache_options_free);
  add_keys(env, opts, info[1]);
  if (info.Length() > 5 && info[5].IsString()) {
    std::string shared = info[5].As<Napi::String>().Utf8Value();
    check(env, stratacache_open_shared_with(&handle_, shared.c_str(), opts));
  } else {
    check(env, stratacache_open_with(&handle_, opts));
  }
  check(env, stratacache_callopts_new(&l1_only_));
  check(env, stratacache_callopts_set_flags(l1_only_, STRATACACHE_SKIP_L2));
}

CacheWrap::~CacheWrap() {
  stratacache_close(handle_);
  stratacache_callopts_free(l1_only_);
}

bool CacheWrap::absorbs(int status) const {
  return fail_silently_ && (status == STRATACACHE_EUNAVAILABLE || status == STRATACACHE_ETIMEDOUT ||
                            status == STRATACACHE_EAUTH);
}

void CacheWrap::started() {
  if (in_flight_++ == 0) Ref();
}

void CacheWrap::finished() {
  if (--in_flight_ == 0) Unref();
}

// setScratch(buffer): where peek copies values (kept referenced, so its memory stays).
Napi::Value CacheWrap::set_scratch(const Napi::CallbackInfo& info) {
  auto b = info[0].As<Napi::Uint8Array>();
  scratch_ = Napi::Persistent(b.As<Napi::Object>());
  scratch_data_ = b.Data();
  scratch_cap_ = b.ByteLength();
  return info.Env().Undefined();
}

// (key, flags?, timeoutMs?) submitted with `submit`: get, exists, ttl, clearPattern.
Napi::Value CacheWrap::submit_key(const Napi::CallbackInfo& info, Op op, KeySubmit submit, const char* what) {
  Napi::Env env = info.Env();
  return promising(env, [&]() -> Napi::Value {
    KeyBytes key(env, info[0], what);
    CallOpts co;
    co.parse_common(info, 1);
    auto* call = new Call(env, this, op);
    return Call::submitted(call, submit(handle_, key.data(), key.size(), co.get(), addon_data(env).pump->queue(),
                                        Call::done, call));
  });
}

// (keys[], flags?, timeoutMs?) packed and submitted with `submit`: delete, getMany, warm.
Napi::Value CacheWrap::submit_keys(const Napi::CallbackInfo& info, Op op, KeysSubmit submit) {
  Napi::Env env = info.Env();
  return promising(env, [&]() -> Napi::Value {
    PackedKeys keys(env, info[0]);
    CallOpts co;
    co.parse_common(info, 1);
    auto* call = new Call(env, this, op, keys.lens.size());
    return Call::submitted(call, submit(handle_, keys.bytes.data(), keys.lens.data(), keys.lens.size(), co.get(),
                                        addon_data(env).pump->queue(), Call::done, call));
  });
}

// peek(key): L1 only, synchronously (no network; counted as an L1 read). The value's
// bytes are copied into the scratch Buffer and the result says where they are:
// len * 4 + format; -1 when L1 does not hold the key; -2 - len when the value is larger
// than the scratch (Cache.get grows it and asks again). Cache.get decodes the bytes in
// JS and submits get only on a miss, so an L1 hit allocates nothing here and never
// goes through the completion queue.
Napi::Value CacheWrap::peek(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  KeyBytes key(env, info[0]);
  size_t len = 0;
  int format = -1;
  int rc = stratacache_get_into(&len, &format, handle_, key.data(), key.size(), scratch_data_, scratch_cap_, l1_only_);
  if (rc == STRATACACHE_OK) return Napi::Number::New(env, static_cast<double>(len) * 4 + format);
  if (rc == STRATACACHE_ENOTFOUND) return Napi::Number::New(env, -1);
  if (rc == STRATACACHE_ETOOBIG) return Napi::Number::New(env, -2 - static_cast<double>(len));
  throw_status(env, rc, stratacache_last_error());
}

// get(key, flags?, timeoutMs?): submitted (Cache.get has tried peek first unless
// SKIP_L1 was asked for).
Napi::Value CacheWrap::get(const Napi::CallbackInfo& info) {
  return submit_key(info, Op::kGet, stratacache_submit_get, "key");
}

// set(key, value, format?, ttlMs?, flags?, timeoutMs?, tags?, dependsOn?)
Napi::Value CacheWrap::set(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return promising(env, [&]() -> Napi::Value {
    KeyBytes key(env, info[0]);
    int format = format_for(info[1], info[2], serializer_);
    std::string bytes;
    encode_value(env, info[1], format, bytes);
    CallOpts co;
    co.parse_common(info, 4);
    co.parse_write(info, 6);
    auto* call = new Call(env, this, Op::kSet);
    return Call::submitted(call, stratacache_submit_set(handle_, key.data(), key.size(), bytes.data(), bytes.size(),
                                                        format, ttl_arg(info, 3), co.get(),
                                                        addon_data(env).pump->queue(), Call::done, call));
  });
}

// delete(keys[], flags?, timeoutMs?)
Napi::Value CacheWrap::del(const Napi::CallbackInfo& info) {
  return submit_keys(info, Op::kDelete, stratacache_submit_delete);
}

Napi::Value CacheWrap::exists(const Napi::CallbackInfo& info) {
  return submit_key(info, Op::kExists, stratacache_submit_exists, "key");
}

Napi::Value CacheWrap::ttl(const Napi::CallbackInfo& info) {
  return submit_key(info, Op::kTtl, stratacache_submit_ttl, "key");
}

// increment(key, amount, ttlMs?, flags?, timeoutMs?)
Napi::Value CacheWrap::increment(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return promising(env, [&]() -> Napi::Value {
    KeyBytes key(env, info[0]);
    int64_t amount = 0;
    if (info[1].IsBigInt()) {
      bool lossless = false;
      amount = info[1].As<Napi::BigInt>().Int64Value(&lossless);
      if (!lossless) throw Napi::RangeError::New(env, "amount out of the int64 range");
    } else {
      if (!info[1].IsNumber()) throw Napi::TypeError::New(env, "amount must be an integer or a BigInt");
      double a = info[1].As<Napi::Number>().DoubleValue();
      if (!(std::fabs(a) <= 9007199254740991.0) || a != std::trunc(a))  // NaN fails the first test
        throw Napi::TypeError::New(env, "amount must be a safe integer or a BigInt");
      amount = static_cast<int64_t>(a);
    }
    CallOpts co;
    co.parse_common(info, 3);
    auto* call = new Call(env, this, Op::kIncrement);
    return Call::submitted(call, stratacache_submit_increment(handle_, key.data(), key.size(), amount,
                                                              ttl_arg(info, 2), co.get(),
                                                              addon_data(env).pump->queue(), Call::done, call));
  });
}

// getMany(keys[], flags?, timeoutMs?) -> values aligned with keys (undefined: missing)
Napi::Value CacheWrap::get_many(const Napi::CallbackInfo& info) {
  return submit_keys(info, Op::kGetMany, stratacache_submit_mget);
}

// setMany(keys[], values[], format?, ttlMs?, flags?, timeoutMs?, tags?, dependsOn?)
Napi::Value CacheWrap::set_many(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return promising(env, [&]() -> Napi::Value {
    PackedKeys keys(env, info[0]);
    auto values = info[1].As<Napi::Array>();
    size_t n = keys.lens.size();
    if (values.Length() != n) throw Napi::RangeError::New(env, "keys and values differ in length");
    std::string packed, one;
    std::vector<size_t> lens(n);
    std::vector<int> formats(n);
    for (uint32_t i = 0; i < n; ++i) {
      Napi::Value v = values.Get(i);
      formats[i] = format_for(v, info[2], serializer_);
      one.clear();
      encode_value(env, v, formats[i], one);
      packed += one;
      lens[i] = one.size();
    }
    CallOpts co;
    co.parse_common(info, 4);
    co.parse_write(info, 6);
    auto* call = new Call(env, this, Op::kSetMany);
    return Call::submitted(call, stratacache_submit_mset(handle_, keys.bytes.data(), keys.lens.data(), packed.data(),
                                                         lens.data(), formats.data(), n, ttl_arg(info, 3), co.get(),
                                                         addon_data(env).pump->queue(), Call::done, call));
  });
}

Napi::Value CacheWrap::clear_pattern(const Napi::CallbackInfo& info) {
  return submit_key(info, Op::kClearPattern, stratacache_submit_clear_pattern, "pattern");
}

Napi::Value CacheWrap::health(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return promising(env, [&]() -> Napi::Value {
    CallOpts co;
    co.parse_common(info, 0);
    auto* call = new Call(env, this, Op::kHealth);
    return Call::submitted(call,
                           stratacache_submit_health(handle_, co.get(), addon_data(env).pump->queue(), Call::done, call));
  });
}

// invalidateTags(tags[], flags?, timeoutMs?)
Napi::Value CacheWrap::invalidate_tags(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return promising(env, [&]() -> Napi::Value {
    PackedKeys tags(env, info[0], "tags");
    std::vector<const void*> ptrs = tags.pointers();
    CallOpts co;
    co.parse_common(info, 1);
    auto* call = new Call(env, this, Op::kInvalidateTags);
    return Call::submitted(call, stratacache_submit_invalidate_tags(handle_, ptrs.data(), tags.lens.data(),
                                                                    ptrs.size(), co.get(),
                                                                    addon_data(env).pump->queue(), Call::done, call));
  });
}

// warm(keys[], flags?, timeoutMs?) -> how many keys were found in Redis (now in L1)
Napi::Value CacheWrap::warm(const Napi::CallbackInfo& info) {
  return submit_keys(info, Op::kWarm, stratacache_submit_warm);
}

// stats() -> the library's counters (stratacache_stats_json) plus errorsAbsorbed.
Napi::Value CacheWrap::stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  char* json = nullptr;
  size_t len = 0;
  check(env, stratacache_stats_json(&json, &len, handle_));
  Napi::Value v = decode_json(env, json, len, DecodeStyle{});
  stratacache_free(json);
  if (!v.IsObject()) throw Napi::Error::New(env, "stratacache: unreadable stats");
  v.As<Napi::Object>().Set("errorsAbsorbed", Napi::Number::New(env, static_cast<double>(absorbed_)));
  return v;
}

// close(): at once; calls in flight settle (with CacheConnectionError, or absorbed).
Napi::Value CacheWrap::close(const Napi::CallbackInfo& info) {
  stratacache_close(handle_);
  return info.Env().Undefined();
}

void init_cache(Napi::Env env, Napi::Object exports) { exports.Set("NativeCache", CacheWrap::define(env)); }

}  // namespace stratacache_node
