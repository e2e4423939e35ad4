// Read-through leases and distributed locks: the two things a completion hands over
// that the caller must later give back (fill / abandon a lease, release a lock).
// Both are JS objects owning the C handle; a handle the program drops is given back
// by the finalizer (a lease abandoned so that a waiter loads instead; a lock freed,
// which releases it best effort).
#include <memory>

#include "cache.hh"
#include "calls.hh"
#include "pump.hh"

namespace stratacache_node {

namespace {

class LeaseWrap : public Napi::ObjectWrap<LeaseWrap> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "NativeLease",
                       {InstanceMethod<&LeaseWrap::fill>("fill"),
                        InstanceMethod<&LeaseWrap::fill_not_found>("fillNotFound"),
                        InstanceMethod<&LeaseWrap::abandon>("abandon")});
  }
  explicit LeaseWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<LeaseWrap>(info) {}
  ~LeaseWrap() override { stratacache_lease_abandon(lease_, STRATACACHE_EABORTED, "lease dropped unused"); }
  void adopt(stratacache_lease* lease, int serializer) {
    lease_ = lease;
    serializer_ = serializer;
  }

 private:
  stratacache_lease* take(Napi::Env env) {
    if (!lease_) throw Napi::Error::New(env, "stratacache: this lease was already used");
    stratacache_lease* l = lease_;
    lease_ = nullptr;
    return l;
  }
  // fill(value, format?, ttlMs?)
  Napi::Value fill(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int format = format_for(info[0], info[1], serializer_);
    std::string bytes;
    encode_value(env, info[0], format, bytes);  // before taking the lease: a bad value leaves it unused
    int64_t ttl = info[2].IsNumber() ? info[2].As<Napi::Number>().Int64Value() : -1;
    auto* call = new Call(env, nullptr, Op::kFill);
    return Call::submitted(call, stratacache_submit_lease_fill(take(env), bytes.data(), bytes.size(), format, ttl,
                                                               addon_data(env).pump->queue(), Call::done, call));
  }
  Napi::Value fill_not_found(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto* call = new Call(env, nullptr, Op::kFill);
    return Call::submitted(call, stratacache_submit_lease_fill_not_found(take(env), addon_data(env).pump->queue(),
                                                                         Call::done, call));
  }
  // abandon(message?): the load failed; waiters get CacheLoadError with the message.
  Napi::Value abandon(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string message = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : std::string();
    stratacache_lease_abandon(take(env), STRATACACHE_ELOADFAILED, message.c_str());
    return env.Undefined();
  }

  stratacache_lease* lease_ = nullptr;
  int serializer_ = STRATACACHE_FORMAT_MSGPACK;  // the acquiring cache's
};

class LockWrap : public Napi::ObjectWrap<LockWrap> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "NativeLock",
                       {InstanceAccessor<&LockWrap::fence>("fence"), InstanceMethod<&LockWrap::extend>("extend"),
                        InstanceMethod<&LockWrap::release>("release")});
  }
  explicit LockWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<LockWrap>(info) {}
  ~LockWrap() override { stratacache_lock_free(lock_); }
  void adopt(stratacache_lock* lock, uint64_t fence) {
    lock_ = lock;
    fence_ = fence;
  }

 private:
  stratacache_lock* held(Napi::Env env) const {
    if (!lock_) throw Napi::Error::New(env, "stratacache: this lock was released");
    return lock_;
  }
  Napi::Value fence(const Napi::CallbackInfo& info) { return unsigned_value(info.Env(), fence_); }
  // extend(ttlMs): resolves when done; CacheLoadError (EABORTED) when no longer held.
  Napi::Value extend(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto* call = new Call(env, nullptr, Op::kFill);
    return Call::submitted(call, stratacache_submit_lock_extend(held(env), info[0].As<Napi::Number>().Int64Value(),
                                                                addon_data(env).pump->queue(), Call::done, call));
  }
  Napi::Value release(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    stratacache_lock* l = held(env);
    lock_ = nullptr;
    auto* call = new Call(env, nullptr, Op::kFill);
    return Call::submitted(call, stratacache_submit_lock_release(l, addon_data(env).pump->queue(), Call::done, call));
  }

  stratacache_lock* lock_ = nullptr;
  uint64_t fence_ = 0;
};

// The completion of acquire / lock: settles with an object (or the error) on the loop thread.
struct HandOver {
  Napi::Promise::Deferred deferred;
  CacheWrap* cache;

  void finish() {
    cache->finished();
    addon_data(deferred.Env()).pump->finished();
    delete this;
  }

  // acquire -> {found, value, stale, refresh, lease}
  static void acquired(void* payload, int status, const char* message, void* value, size_t len, int format,
                       unsigned info, stratacache_lease* lease) {
    auto* self = static_cast<HandOver*>(payload);
    Napi::Env env = self->deferred.Env();
    try {
      if (status != STRATACACHE_OK && status != STRATACACHE_ENOTFOUND) {
        stratacache_lease_abandon(lease, STRATACACHE_EABORTED, nullptr);  // never given with an error; NULL-safe
        self->deferred.Reject(make_error(env, status, message));
      } else {
        Napi::Object out = Napi::Object::New(env);
        Napi::Value v;
        if (status == STRATACACHE_OK) v = decode_value(env, value, len, format, self->cache->style());
        out.Set("found", Napi::Boolean::New(env, !v.IsEmpty()));
        out.Set("value", v.IsEmpty() ? env.Undefined() : v);
        out.Set("stale", Napi::Boolean::New(env, (info & STRATACACHE_INFO_STALE) != 0));
        out.Set("refresh", Napi::Boolean::New(env, (info & STRATACACHE_INFO_REFRESH) != 0));
        if (lease) {
          Napi::Object l = addon_data(env).lease_ctor.New({});
          LeaseWrap::Unwrap(l)->adopt(lease, self->cache->serializer());
          out.Set("lease", l);
        }
        self->deferred.Resolve(out);
      }
    } catch (const Napi::Error& e) {
      self->deferred.Reject(e.Value());
    }
    if (value) stratacache_free(value);
    self->finish();
  }

  static void locked(void* payload, int status, const char* message, stratacache_lock* lock, uint64_t fence) {
    auto* self = static_cast<HandOver*>(payload);
    Napi::Env env = self->deferred.Env();
    try {
      if (status != STRATACACHE_OK) {
        stratacache_lock_free(lock);
        self->deferred.Reject(make_error(env, status, message));
      } else {
        Napi::Object l = addon_data(env).lock_ctor.New({});
        LockWrap::Unwrap(l)->adopt(lock, fence);
        self->deferred.Resolve(l);
      }
    } catch (const Napi::Error& e) {
      self->deferred.Reject(e.Value());
    }
    self->finish();
  }
};

template <typename Submit>
Napi::Value hand_over(Napi::Env env, CacheWrap* cache, Submit submit) {
  auto* h = new HandOver{Napi::Promise::Deferred::New(env), cache};
  Napi::Promise p = h->deferred.Promise();
  int rc = submit(h);
  if (rc != STRATACACHE_OK) {
    h->deferred.Reject(make_error(env, rc, stratacache_last_error()));
    delete h;
    return p;
  }
  addon_data(env).pump->started();
  cache->started();
  return p;
}

}  // namespace

// acquire(key, flags?, timeoutMs?, readThroughSettings?)
Napi::Value CacheWrap::acquire(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    KeyBytes key(env, info[0]);
    CallOpts co;
    co.parse_common(info, 1);
    co.parse_read_through(env, info[3]);
    return hand_over(env, this, [&](HandOver* h) {
      return stratacache_submit_acquire(handle_, key.data(), key.size(), co.get(), addon_data(env).pump->queue(),
                                        HandOver::acquired, h);
    });
  } catch (const Napi::Error& e) {
    return rejected(env, e.Value());
  }
}

// lock(name, ttlMs, waitMs, timeoutMs?) -> NativeLock
Napi::Value CacheWrap::lock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    KeyBytes name(env, info[0], "name");
    CallOpts co;
    co.parse_common(info, 3);
    int64_t ttl = info[1].As<Napi::Number>().Int64Value();
    int64_t wait = info[2].As<Napi::Number>().Int64Value();
    return hand_over(env, this, [&](HandOver* h) {
      return stratacache_submit_lock_acquire(handle_, name.data(), name.size(), ttl, wait, co.get(),
                                             addon_data(env).pump->queue(), HandOver::locked, h);
    });
  } catch (const Napi::Error& e) {
    return rejected(env, e.Value());
  }
}

void init_lease(Napi::Env env, Napi::Object exports) {
  AddonData& d = addon_data(env);
  d.lease_ctor = Napi::Persistent(LeaseWrap::define(env));
  d.lock_ctor = Napi::Persistent(LockWrap::define(env));
  (void)exports;
}

}  // namespace stratacache_node
