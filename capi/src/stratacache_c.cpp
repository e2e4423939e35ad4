// The C ABI over the C++ core: opaque wrappers, one exception barrier, one
// Status-to-code mapping, thread-local last error.
#include "stratacache.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <unordered_set>
#include <vector>

#include "completion_queue.hpp"
#include "counters.hpp"
#include "exposition.hpp"
#include "stratacache/cache.hpp"
#include "stratacache/log.hpp"
#include "stratacache/read_through.hpp"
#include "stratacache/write_behind.hpp"
#include "stratacache/version.hpp"

static_assert(STRATACACHE_VERSION_MAJOR == STRATACACHE_CORE_VERSION_MAJOR &&
                  STRATACACHE_VERSION_MINOR == STRATACACHE_CORE_VERSION_MINOR &&
                  STRATACACHE_VERSION_PATCH == STRATACACHE_CORE_VERSION_PATCH,
              "stratacache.h version macros must match the project version");

using namespace stratacache;

// The public handle is a shell that outlives the C++ Cache: stratacache_close marks it
// closed and the Cache is torn down once no call is inside it, so a call on a closed
// handle (a finalizer running late, another thread) is a clean ECLOSED, never a
// use-after-free. Shells stay allocated until the process exits (listed in g_closed so
// leak checkers see them reachable).
//
// A handle from stratacache_open_shared shares its Cache with the other handles of that
// name (the registry holds only a weak reference): the Cache goes with the last of them.
struct stratacache_cache {
  static constexpr uint64_t kClosed = uint64_t{1} << 63;
  explicit stratacache_cache(std::shared_ptr<Cache> c) : cache(std::move(c)) {}
  std::atomic<uint64_t> state{0};          // calls inside the handle | kClosed
  std::atomic<int64_t> direct_pending{0};  // NULL-queue completions not yet returned
  std::atomic<bool> torn_down{false};
  std::shared_ptr<Cache> cache;
  stratacache_cache* next_closed = nullptr;
};

struct stratacache_options {
  Options options;
  struct Key {
    uint32_t id;
    std::string bytes;
    bool primary;
  };
  std::vector<Key> keys;
  // What the options were made of, for stratacache_open_shared_with's "same options"
  // check: the URL (empty: stratacache_options_new) and every parameter set since.
  std::string url;
  std::map<std::string, std::string> params;
  ~stratacache_options() {
    for (auto& k : keys) OPENSSL_cleanse(k.bytes.data(), k.bytes.size());
  }
};

struct stratacache_callopts {
  CallOptions call;
  LoadOptions load;  // read-through settings; hard_timeout and skip_l1 come from `call` (load_options_of)
  char* error_buf = nullptr;  // borrowed: receives each call's message (thread-hopping callers)
  size_t error_cap = 0;
};

struct stratacache_queue {
  std::shared_ptr<stratacache_capi::QueueCore> core;
};

// What a C loader puts its outcome into (a stack object of stratacache_get_or_load).
struct stratacache_sink {
  std::optional<LoadedValue> value;
  std::string failure;  // stratacache_sink_fail's message
};

// A Lease points into its Cache, so the C lease pins the handle: it counts as a call
// inside it (stratacache_cache::state) until it is consumed, and the Cache is torn down
// only after that (defined below, with the handle machinery).
struct stratacache_lease;

namespace {

thread_local std::string t_last_error;

// The one table between the core's status codes and the C codes, read both ways.
constexpr std::pair<StatusCode, int> kCodes[] = {
    {StatusCode::kOk, STRATACACHE_OK},
    {StatusCode::kNotFound, STRATACACHE_ENOTFOUND},
    {StatusCode::kInvalidArgument, STRATACACHE_EINVAL},
    {StatusCode::kUnavailable, STRATACACHE_EUNAVAILABLE},
    {StatusCode::kTimeout, STRATACACHE_ETIMEDOUT},
    {StatusCode::kDataLoss, STRATACACHE_ECORRUPT},
    {StatusCode::kTooLarge, STRATACACHE_ETOOBIG},
    {StatusCode::kPermissionDenied, STRATACACHE_EAUTH},
    {StatusCode::kWrongType, STRATACACHE_EWRONGTYPE},
    {StatusCode::kUnsupported, STRATACACHE_EUNSUPPORTED},
    {StatusCode::kInternal, STRATACACHE_EINTERNAL},
    {StatusCode::kAborted, STRATACACHE_EABORTED},
    {StatusCode::kLoadFailed, STRATACACHE_ELOADFAILED},
};

int code_of(StatusCode c) {
  for (auto [status, code] : kCodes) {
    if (status == c) return code;
  }
  return STRATACACHE_EINTERNAL;
}

// A host's code (a loader's failure, stratacache_lease_abandon) as a core status code;
// codes with no core counterpart (ENOMEM, ECLOSED, unknown ones) are a failed load.
StatusCode status_code_of(int code) {
  for (auto [status, c] : kCodes) {
    if (c == code) return status;
  }
  return StatusCode::kLoadFailed;
}

int fail(int code, std::string message) {
  t_last_error = std::move(message);
  return code;
}

// A miss is an expected outcome: no message is recorded for it.
int report(const Status& st) {
  if (st.is_ok()) return STRATACACHE_OK;
  if (st.code() == StatusCode::kNotFound) return STRATACACHE_ENOTFOUND;
  return fail(code_of(st.code()), st.message().empty() ? status_code_name(st.code()) : st.message());
}

// The one exception barrier every entry point goes through.
template <typename F>
int guarded(F&& body) noexcept {
  try {
    t_last_error.clear();  // never allocates: the message is about the current call only
    return body();
  } catch (const std::bad_alloc&) {
    return fail(STRATACACHE_ENOMEM, "out of memory");
  } catch (const std::exception& e) {
    return fail(STRATACACHE_EINTERNAL, std::string("internal error: ") + e.what());
  } catch (...) {
    return fail(STRATACACHE_EINTERNAL, "internal error");
  }
}

// The barrier for calls that take callopts: the call's message also goes to the
// callopts' error buffer, for callers that read it on another OS thread.
template <typename F>
int guarded(const stratacache_callopts* co, F&& body) noexcept {
  int rc = guarded(std::forward<F>(body));
  if (co && co->error_buf && co->error_cap > 0) {
    size_t n = std::min(t_last_error.size(), co->error_cap - 1);
    std::memcpy(co->error_buf, t_last_error.data(), n);
    co->error_buf[n] = '\0';
  }
  return rc;
}

std::string_view bytes(const void* p, size_t n) {
  return n == 0 ? std::string_view() : std::string_view(static_cast<const char*>(p), n);
}

const CallOptions& call_of(const stratacache_callopts* co) {
  static const CallOptions kDefaults;
  return co ? co->call : kDefaults;
}

// STRATACACHE_TTL_DEFAULT (-1), 0 or a positive number of milliseconds.
bool valid_ttl(int64_t ttl_ms) { return ttl_ms >= -1; }
#define REQUIRE_TTL(ttl)                                                                          \
  do {                                                                                            \
    if (!valid_ttl(ttl)) return fail(STRATACACHE_EINVAL, "argument 'ttl_ms' must be >= -1 (STRATACACHE_TTL_DEFAULT)"); \
  } while (0)

template <typename T>
void clear_out(T* p, T v) {
  if (p) *p = v;
}

// Copies into a malloc'd buffer (+1 NUL byte so text results are C strings).
int give_buffer(void** out, size_t* out_len, std::string_view data) {
  char* buf = static_cast<char*>(std::malloc(data.size() + 1));
  if (!buf) return fail(STRATACACHE_ENOMEM, "out of memory");
  if (!data.empty()) std::memcpy(buf, data.data(), data.size());
  buf[data.size()] = '\0';
  *out = buf;
  if (out_len) *out_len = data.size();
  return STRATACACHE_OK;
}

#define REQUIRE_ARG(cond, name)                                          \
  do {                                                                   \
    if (!(cond)) return fail(STRATACACHE_EINVAL, "argument '" name "' must not be NULL"); \
  } while (0)
#define REQUIRE_BYTES(ptr, len, name)                                    \
  do {                                                                   \
    if ((ptr) == nullptr && (len) != 0) return fail(STRATACACHE_EINVAL, "argument '" name "' is NULL with a non-zero length"); \
  } while (0)

std::atomic<stratacache_cache*> g_closed{nullptr};

// Destroys the Cache once. `detached`: on a library thread of its own, because the
// caller may be a thread that a foreign callback is waiting for, or the I/O thread.
void tear_down(stratacache_cache* h, bool detached) noexcept {
  if (h->torn_down.exchange(true, std::memory_order_acq_rel)) return;
  std::shared_ptr<Cache> c = std::move(h->cache);
  if (detached) {
    try {
      std::thread([c = std::move(c)]() mutable { c.reset(); }).detach();
      return;
    } catch (...) {  // no thread: the lambda (and the Cache) is destroyed right here
      return;
    }
  }
  c.reset();
}

void leave(stratacache_cache* h) noexcept {
  uint64_t prev = h->state.fetch_sub(1, std::memory_order_acq_rel);
  if (prev == (stratacache_cache::kClosed | 1)) tear_down(h, true);
}

// A call inside the handle: keeps the Cache alive until it leaves.
class InUse {
 public:
  explicit InUse(stratacache_cache* h) noexcept : h_(h) {
    if (h_->state.fetch_add(1, std::memory_order_acq_rel) & stratacache_cache::kClosed) {
      leave(h_);
      h_ = nullptr;
    }
  }
  ~InUse() {
    if (h_) leave(h_);
  }
  InUse(const InUse&) = delete;
  InUse& operator=(const InUse&) = delete;
  explicit operator bool() const { return h_ != nullptr; }
  Cache* operator->() const { return h_->cache.get(); }
  Cache& operator*() const { return *h_->cache; }
  stratacache_cache* shell() const { return h_; }

 private:
  stratacache_cache* h_;
};

#define ENTER(handle)                                                                \
  REQUIRE_ARG(handle, #handle);                                                      \
  InUse use(handle);                                                                 \
  if (!use) return fail(STRATACACHE_ECLOSED, "cache is closed")

}  // namespace

// A lease given to the host. It pins its handle (one more call inside it, taken while a
// call is inside, so the Cache is alive) from creation until it is consumed: the C++
// Lease points into the Cache, so the Cache is torn down only after the lease is gone.
// After stratacache_close its functions free it (the Lease is abandoned: waiters and
// other processes stop waiting for it) and answer ECLOSED.
namespace {

// One more call inside a handle, from construction (taken while a call is inside, so the
// Cache is alive) to destruction. As a base class it is let go after the derived
// object's members are destroyed: what they hold into the Cache goes first.
struct HandlePin {
  explicit HandlePin(const InUse& use) noexcept : shell(use.shell()) {
    shell->state.fetch_add(1, std::memory_order_acq_rel);
  }
  ~HandlePin() { leave(shell); }
  HandlePin(const HandlePin&) = delete;
  HandlePin& operator=(const HandlePin&) = delete;

  stratacache_cache* const shell;
};

}  // namespace

struct stratacache_lease : HandlePin {
  stratacache_lease(const InUse& use, std::unique_ptr<Lease> l) noexcept : HandlePin(use), lease(std::move(l)) {}
  std::unique_ptr<Lease> lease;  // destroyed (an unfilled lease abandoned) before the pin goes
};

namespace {

// The codec settings of an options object, with its keys as a key ring.
Result<CodecOptions> codec_options(const stratacache_options& o) {
  CodecOptions codec = o.options.codec;
  if (!o.keys.empty()) {
    auto ring = std::make_shared<KeyRing>();
    for (auto& k : o.keys) {
      if (Status st = ring->add_key(k.id, k.bytes, k.primary); !st) return st;
    }
    codec.keys = std::move(ring);
  }
  return codec;
}

Result<std::unique_ptr<Cache>> open_from(const stratacache_options& o) {
  auto codec = codec_options(o);
  if (!codec) return codec.status();
  Options options = o.options;
  options.codec = std::move(codec).value();
  return Cache::open(std::move(options));
}

// Compact JSON text; invalid UTF-8 (a server's or a key's bytes) becomes U+FFFD.
std::string json_text(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

int give_json(char** out, size_t* out_len, const nlohmann::json& j) {
  void* buf = nullptr;
  int rc = give_buffer(&buf, out_len, json_text(j));
  *out = static_cast<char*>(buf);
  return rc;
}

}  // namespace

extern "C" {

unsigned stratacache_version_number(void) { return STRATACACHE_VERSION_NUMBER; }
const char* stratacache_version_string(void) { return version_string(); }

const char* stratacache_strerror(int code) {
  switch (code) {
    case STRATACACHE_OK: return "ok";
    case STRATACACHE_ENOTFOUND: return "not found";
    case STRATACACHE_EINVAL: return "invalid argument";
    case STRATACACHE_EUNAVAILABLE: return "redis unavailable";
    case STRATACACHE_ETIMEDOUT: return "timed out";
    case STRATACACHE_ECORRUPT: return "corrupt value";
    case STRATACACHE_ETOOBIG: return "too large";
    case STRATACACHE_EAUTH: return "authentication or permission failure";
    case STRATACACHE_EWRONGTYPE: return "wrong type";
    case STRATACACHE_EUNSUPPORTED: return "unsupported";
    case STRATACACHE_EINTERNAL: return "internal error";
    case STRATACACHE_ENOMEM: return "out of memory";
    case STRATACACHE_ECLOSED: return "cache closed";
    case STRATACACHE_EABORTED: return "lease lost";
    case STRATACACHE_ELOADFAILED: return "load failed";
    default: return "unknown error code";
  }
}

const char* stratacache_last_error(void) { return t_last_error.c_str(); }

void stratacache_free(void* buffer) { std::free(buffer); }

int stratacache_set_log_handler(int min_level, stratacache_log_fn fn, void* user) {
  return guarded([&] {
    if (!fn) {
      set_log_handler(LogLevel::kOff, nullptr);
      return STRATACACHE_OK;
    }
    if (min_level < 0) return fail(STRATACACHE_EINVAL, "min_level must be >= 0");
    set_log_handler(static_cast<LogLevel>(min_level), [fn, user](LogLevel level, std::string_view event,
                                                                 std::string_view message) {
      fn(user, static_cast<int>(level), event.data(), event.size(), message.data(), message.size());
    });
    return STRATACACHE_OK;
  });
}

int stratacache_options_new(stratacache_options** out) {
  return guarded([&] {
    REQUIRE_ARG(out, "out");
    *out = new stratacache_options();
    return STRATACACHE_OK;
  });
}

namespace {

Status parse_url_into(stratacache_options& opts, const char* url) {
  auto o = Options::from_url(url);
  if (!o) return o.status();
  opts.options = std::move(o).value();
  opts.url = url;
  return Status::ok();
}

}  // namespace

int stratacache_options_from_url(stratacache_options** out, const char* url) {
  return guarded([&] {
    clear_out<stratacache_options*>(out, nullptr);
    REQUIRE_ARG(out, "out");
    REQUIRE_ARG(url, "url");
    auto opts = std::make_unique<stratacache_options>();
    if (Status st = parse_url_into(*opts, url); !st) return report(st);
    *out = opts.release();
    return STRATACACHE_OK;
  });
}

int stratacache_options_set(stratacache_options* opts, const char* name, const char* value) {
  return guarded([&] {
    REQUIRE_ARG(opts, "opts");
    REQUIRE_ARG(name, "name");
    REQUIRE_ARG(value, "value");
    Status st = opts->options.set(name, value);
    if (st) opts->params[name] = value;
    return report(st);
  });
}

int stratacache_options_add_key(stratacache_options* opts, uint32_t id, const void* key, size_t key_len,
                                int primary) {
  return guarded([&] {
    REQUIRE_ARG(opts, "opts");
    REQUIRE_ARG(key, "key");
    if (key_len != KeyRing::kKeySize) {
      return fail(STRATACACHE_EINVAL, "encryption key must be 32 bytes, got " + std::to_string(key_len));
    }
    for (auto& k : opts->keys) {
      if (k.id == id) return fail(STRATACACHE_EINVAL, "encryption key id " + std::to_string(id) + " added twice");
    }
    opts->keys.push_back({id, std::string(static_cast<const char*>(key), key_len), primary != 0});
    return STRATACACHE_OK;
  });
}

void stratacache_options_free(stratacache_options* opts) { delete opts; }

int stratacache_open(stratacache_cache** out, const char* url) {
  return guarded([&] {
    clear_out<stratacache_cache*>(out, nullptr);
    REQUIRE_ARG(out, "out");
    REQUIRE_ARG(url, "url");
    auto c = Cache::open(url);
    if (!c) return report(c.status());
    *out = new stratacache_cache(std::move(c).value());
    return STRATACACHE_OK;
  });
}

int stratacache_open_with(stratacache_cache** out, const stratacache_options* opts) {
  return guarded([&] {
    clear_out<stratacache_cache*>(out, nullptr);
    REQUIRE_ARG(out, "out");
    REQUIRE_ARG(opts, "opts");
    auto c = open_from(*opts);
    if (!c) return report(c.status());
    *out = new stratacache_cache(std::move(c).value());
    return STRATACACHE_OK;
  });
}

namespace {

// What makes two opens of one shared name the same cache: the URL, the parameters set
// and the keys (their SHA-256, so the registry keeps no key material).
std::string shared_identity(const stratacache_options& o) {
  std::string id = "url=" + o.url;
  for (auto& [name, value] : o.params) id += "\n" + name + "=" + value;
  for (auto& k : o.keys) {
    unsigned char digest[32];
    unsigned len = 0;
    EVP_Digest(k.bytes.data(), k.bytes.size(), digest, &len, EVP_sha256(), nullptr);
    id += "\nkey " + std::to_string(k.id) + (k.primary ? " primary " : " ");
    for (unsigned i = 0; i < len; ++i) id += "0123456789abcdef"[digest[i] >> 4], id += "0123456789abcdef"[digest[i] & 15];
  }
  return id;
}

// The process-wide registry of named caches (never destroyed: handles may be closed by
// other libraries' static destructors).
struct SharedEntry {
  std::string identity;
  std::weak_ptr<Cache> cache;
};
std::mutex& shared_mutex() {
  static auto* mu = new std::mutex();
  return *mu;
}
std::map<std::string, SharedEntry>& shared_registry() {
  static auto* registry = new std::map<std::string, SharedEntry>();
  return *registry;
}

// The deleter of a shared Cache. The last handle may be closed from a callback of
// another handle of the same Cache, on its I/O thread, so the Cache is destroyed on a
// thread of its own; the reference count (and so the registry) is settled at once.
void destroy_in_background(Cache* c) noexcept {
  std::unique_ptr<Cache> owned(c);
  try {
    std::thread([owned = std::move(owned)]() mutable { owned.reset(); }).detach();
  } catch (...) {  // no thread: destroyed right here
  }
}

int open_shared(stratacache_cache** out, const char* name, const stratacache_options& opts) {
  std::string identity = shared_identity(opts);
  // Held while a new Cache opens, so two first opens of one name make one Cache.
  std::lock_guard<std::mutex> lock(shared_mutex());
  SharedEntry& entry = shared_registry()[name];
  std::shared_ptr<Cache> cache = entry.cache.lock();
  if (cache && entry.identity != identity) {
    return fail(STRATACACHE_EINVAL, std::string("shared cache '") + name +
                                        "' is already open with another URL or other options");
  }
  if (!cache) {
    auto opened = open_from(opts);
    if (!opened) return report(opened.status());
    cache = std::shared_ptr<Cache>(std::move(opened).value().release(), destroy_in_background);
    entry = SharedEntry{std::move(identity), cache};
  }
  *out = new stratacache_cache(std::move(cache));
  return STRATACACHE_OK;
}

}  // namespace

int stratacache_open_shared(stratacache_cache** out, const char* name, const char* url) {
  return guarded([&] {
    clear_out<stratacache_cache*>(out, nullptr);
    REQUIRE_ARG(out, "out");
    REQUIRE_ARG(name, "name");
    REQUIRE_ARG(url, "url");
    stratacache_options opts;
    if (Status st = parse_url_into(opts, url); !st) return report(st);
    return open_shared(out, name, opts);
  });
}

int stratacache_open_shared_with(stratacache_cache** out, const char* name, const stratacache_options* opts) {
  return guarded([&] {
    clear_out<stratacache_cache*>(out, nullptr);
    REQUIRE_ARG(out, "out");
    REQUIRE_ARG(name, "name");
    REQUIRE_ARG(opts, "opts");
    return open_shared(out, name, *opts);
  });
}

void stratacache_close(stratacache_cache* cache) {
  if (!cache) return;
  uint64_t prev = cache->state.fetch_or(stratacache_cache::kClosed, std::memory_order_acq_rel);
  if (prev & stratacache_cache::kClosed) return;  // closed before
  stratacache_cache* head = g_closed.load(std::memory_order_relaxed);
  do cache->next_closed = head;
  while (!g_closed.compare_exchange_weak(head, cache, std::memory_order_release, std::memory_order_relaxed));
  if (prev != 0) return;  // calls are inside: the last to leave tears down
  // Joining the I/O thread is safe only when no foreign callback can be running on it.
  tear_down(cache, cache->direct_pending.load(std::memory_order_acquire) != 0);
}

int stratacache_callopts_new(stratacache_callopts** out) {
  return guarded([&] {
    REQUIRE_ARG(out, "out");
    *out = new stratacache_callopts();
    return STRATACACHE_OK;
  });
}

int stratacache_callopts_set_timeout_ms(stratacache_callopts* co, int64_t timeout_ms) {
  return guarded([&] {
    REQUIRE_ARG(co, "co");
    co->call.timeout = Millis(timeout_ms < 0 ? -1 : timeout_ms);
    return STRATACACHE_OK;
  });
}

int stratacache_callopts_set_flags(stratacache_callopts* co, uint32_t flags) {
  return guarded([&] {
    REQUIRE_ARG(co, "co");
    constexpr uint32_t kKnown = STRATACACHE_SKIP_L1 | STRATACACHE_SKIP_L2;
    if (flags & ~kKnown) {
      return fail(STRATACACHE_EUNSUPPORTED, "unknown flag bits " + std::to_string(flags & ~kKnown) +
                                                " (this library is " STRATACACHE_VERSION_STRING ")");
    }
    co->call.skip_l1 = (flags & STRATACACHE_SKIP_L1) != 0;
    co->call.skip_l2 = (flags & STRATACACHE_SKIP_L2) != 0;
    return STRATACACHE_OK;
  });
}

int stratacache_callopts_set_error_buffer(stratacache_callopts* co, char* buf, size_t cap) {
  return guarded([&] {
    REQUIRE_ARG(co, "co");
    if (!buf && cap != 0) return fail(STRATACACHE_EINVAL, "argument 'buf' is NULL with a non-zero capacity");
    co->error_buf = buf;
    co->error_cap = buf ? cap : 0;
    if (buf && cap > 0) buf[0] = '\0';
    return STRATACACHE_OK;
  });
}

void stratacache_callopts_free(stratacache_callopts* co) { delete co; }

int stratacache_get(void** out_value, size_t* out_len, int* out_format, stratacache_cache* cache, const void* key,
                    size_t key_len, const stratacache_callopts* co) {
  return guarded(co, [&] {
    clear_out<void*>(out_value, nullptr);
    clear_out<size_t>(out_len, 0);
    clear_out<int>(out_format, -1);
    REQUIRE_ARG(out_value, "out_value");
    ENTER(cache);
    REQUIRE_BYTES(key, key_len, "key");
    auto r = use->get_ref(bytes(key, key_len), call_of(co));
    if (!r) return report(r.status());
    if (out_format) *out_format = static_cast<int>(r->format());
    return give_buffer(out_value, out_len, r->data());
  });
}

}  // extern "C"

namespace {

using stratacache_capi::Completion;
using stratacache_capi::Counter;
using stratacache_capi::kCounterCount;
using stratacache_capi::kCounters;
using stratacache_capi::stats_to_json;
using stratacache_capi::QueueCore;

// Where a completion goes: the host's callback and payload, through a queue or (null
// queue) straight away on the completing thread.
struct Target {
  stratacache_callback done = nullptr;
  stratacache_acquire_callback acquire_done = nullptr;  // acquire's submissions
  stratacache_lock_callback lock_done = nullptr;        // lock acquire's submissions
  void* payload = nullptr;
  std::shared_ptr<QueueCore> queue;
  stratacache_cache* shell = nullptr;  // NULL queue: counts the callback as pending until it returns

  void deliver(Completion c) const noexcept {
    c.done = done;
    c.acquire_done = acquire_done;
    c.lock_done = lock_done;
    c.payload = payload;
    if (queue) return queue->push(std::move(c));
    c.run();
    shell->direct_pending.fetch_sub(1, std::memory_order_acq_rel);
  }
};

Completion out_of_memory() noexcept {
  Completion c;
  c.status = STRATACACHE_ENOMEM;
  c.message = "out of memory";  // fits the small-string buffer: never allocates
  return c;
}

Completion completion_of(const Status& s) {
  Completion c;
  if (s.is_ok()) return c;
  c.status = code_of(s.code());
  if (c.status != STRATACACHE_ENOTFOUND) c.message = s.message().empty() ? status_code_name(s.code()) : s.message();
  return c;
}

// A malloc'd copy with a NUL after the bytes (text results are C strings); null if no memory.
void* copy_buffer(std::string_view data) noexcept {
  char* buf = static_cast<char*>(std::malloc(data.size() + 1));
  if (!buf) return nullptr;
  if (!data.empty()) std::memcpy(buf, data.data(), data.size());
  buf[data.size()] = '\0';
  return buf;
}

Completion completion_with_buffer(std::string_view data, int format) {
  Completion c;
  c.value = copy_buffer(data);
  if (!c.value) return out_of_memory();
  c.len = data.size();
  c.format = format;
  return c;
}

// The packed mget result (layout in stratacache.h); null when out of memory.
void* pack_results(const std::vector<Result<Payload>>& results, size_t* out_len, std::string* first_error) {
  auto padded = [](size_t n) { return (n + 7) & ~size_t{7}; };
  size_t total = 0;
  for (auto& r : results) total += STRATACACHE_PACKED_HEADER_SIZE + (r ? padded(r->data.size()) : 0);
  auto* buf = static_cast<unsigned char*>(std::malloc(total == 0 ? 1 : total));
  if (!buf) return nullptr;
  size_t at = 0;
  for (auto& r : results) {
    int32_t status = r ? STRATACACHE_OK : code_of(r.code());
    int32_t format = r ? static_cast<int32_t>(r->format) : -1;
    uint64_t len = r ? r->data.size() : 0;
    if (!r && status != STRATACACHE_ENOTFOUND && first_error->empty()) {
      *first_error = r.status().message().empty() ? status_code_name(r.code()) : r.status().message();
    }
    std::memcpy(buf + at, &status, 4);
    std::memcpy(buf + at + 4, &format, 4);
    std::memcpy(buf + at + 8, &len, 8);
    at += STRATACACHE_PACKED_HEADER_SIZE;
    if (len) std::memcpy(buf + at, r->data.data(), len);
    std::memset(buf + at + len, 0, padded(len) - len);
    at += padded(len);
  }
  *out_len = total;
  return buf;
}

std::string health_text(const HealthInfo& h) {
  nlohmann::json j = {{"healthy", h.healthy},
                      {"latency_ms", h.latency_ms},
                      {"version", h.version},
                      {"used_memory", h.used_memory},
                      {"used_memory_bytes", h.used_memory_bytes},
                      {"connected_clients", h.connected_clients},
                      {"uptime_seconds", h.uptime_seconds},
                      {"error", h.error},
                      {"coherence", h.coherence},
                      {"coherence_up", h.coherence_up},
                      {"coherence_channels", h.coherence_channels},
                      {"coherence_error", h.coherence_error}};
  return json_text(j);
}

nlohmann::json server_node_json(const ServerNodeInfo& n, bool total) {
  nlohmann::json keys = nlohmann::json::object();
  for (const auto& [db, count] : n.keys) keys[db] = count;
  nlohmann::json j = {{"connected_clients", n.connected_clients},
                      {"used_memory_bytes", n.used_memory_bytes},
                      {"used_memory_human", n.used_memory_human},
                      {"keyspace_hits", n.keyspace_hits},
                      {"keyspace_misses", n.keyspace_misses},
                      {"evicted_keys", n.evicted_keys},
                      {"expired_keys", n.expired_keys},
                      {"keys", std::move(keys)}};
  if (!total) {
    j["address"] = n.address;
    j["role"] = n.role;
    j["version"] = n.version;
    j["error"] = n.error;
  }
  return j;
}

// The JSON of stratacache_server_info_json (header, docs/operations.md).
nlohmann::json server_info_json(const ServerInfo& info) {
  nlohmann::json nodes = nlohmann::json::array();
  for (const ServerNodeInfo& n : info.nodes) nodes.push_back(server_node_json(n, false));
  return {{"nodes", std::move(nodes)}, {"total", server_node_json(info.total, true)}};
}

Completion completion_get(Result<ValueRef> r) {
  if (!r) return completion_of(r.status());
  return completion_with_buffer(r->data(), static_cast<int>(r->format()));
}
Completion completion_status(Status s) { return completion_of(s); }
Completion completion_count(Result<int64_t> r) {
  if (!r) return completion_of(r.status());
  Completion c;
  c.count = *r;
  return c;
}
Completion completion_exists(Result<bool> r) {
  if (!r) return completion_of(r.status());
  Completion c;
  c.count = *r ? 1 : 0;
  return c;
}
Completion completion_mget(std::vector<Result<Payload>> results) {
  Completion c;
  c.value = pack_results(results, &c.len, &c.message);
  if (!c.value) return out_of_memory();
  c.count = static_cast<int64_t>(results.size());
  return c;
}
// Per key of a warm: OK (found or loaded), ENOTFOUND, or the first failure's code.
std::vector<int32_t> warm_codes(const std::vector<std::string>& keys, const WarmResult& r) {
  std::unordered_set<std::string_view> missing(r.missing_keys.begin(), r.missing_keys.end());
  std::unordered_set<std::string_view> failed(r.failed_keys.begin(), r.failed_keys.end());
  int32_t failure = r.error ? STRATACACHE_OK : code_of(r.error.code());
  std::vector<int32_t> codes(keys.size(), STRATACACHE_OK);
  for (size_t i = 0; i < keys.size(); ++i) {
    if (failed.count(keys[i])) codes[i] = failure;
    else if (missing.count(keys[i])) codes[i] = STRATACACHE_ENOTFOUND;
  }
  return codes;
}
Completion completion_health(HealthInfo h) {
  return completion_with_buffer(health_text(h), STRATACACHE_FORMAT_JSON);
}
Completion completion_server_info(Result<ServerInfo> r) {
  if (!r) return completion_of(r.status());
  return completion_with_buffer(json_text(server_info_json(*r)), STRATACACHE_FORMAT_JSON);
}

// The core's completion for one submission: converts the result and delivers it. A
// conversion that runs out of memory still completes (ENOMEM).
template <typename R, typename Convert>
std::function<void(R)> completion_fn(Target target, Convert convert) {
  return [target = std::move(target), convert](R r) noexcept {
    Completion c;
    try {
      c = convert(std::move(r));
    } catch (...) {
      c = out_of_memory();
    }
    target.deliver(std::move(c));
  };
}

// The last step before the core is called: a NULL-queue submission counts as pending
// from here until its callback has returned (stratacache_close reads the count).
template <typename Callback>
int make_target(Target* t, const InUse& use, stratacache_queue* queue, Callback done, void* payload) {
  REQUIRE_ARG(done, "done");
  if constexpr (std::is_same_v<Callback, stratacache_acquire_callback>) t->acquire_done = done;
  else if constexpr (std::is_same_v<Callback, stratacache_lock_callback>) t->lock_done = done;
  else t->done = done;
  t->payload = payload;
  if (queue) {
    t->queue = queue->core;
  } else {
    t->shell = use.shell();
    t->shell->direct_pending.fetch_add(1, std::memory_order_acq_rel);
  }
  return STRATACACHE_OK;
}

int check_format(int format, const char* name) {
  if (format < STRATACACHE_FORMAT_RAW || format > STRATACACHE_FORMAT_MSGPACK) {
    return fail(STRATACACHE_EINVAL, std::string("argument '") + name + "' must be a STRATACACHE_FORMAT_* value, got " +
                                        std::to_string(format));
  }
  return STRATACACHE_OK;
}

// n keys back to back in one buffer, lens[i] bytes each.
int unpack_keys(std::vector<std::string>* out, const void* buf, const size_t* lens, size_t n, const char* name) {
  out->clear();
  if (n == 0) return STRATACACHE_OK;
  if (!lens) return fail(STRATACACHE_EINVAL, std::string("argument '") + name + "_lens' must not be NULL");
  size_t total = 0;
  for (size_t i = 0; i < n; ++i) {
    if (lens[i] > SIZE_MAX - total) return fail(STRATACACHE_EINVAL, std::string("argument '") + name + "_lens' overflows");
    total += lens[i];
  }
  if (!buf && total != 0) {
    return fail(STRATACACHE_EINVAL, std::string("argument '") + name + "' is NULL with a non-zero total length");
  }
  out->reserve(n);
  const char* p = static_cast<const char*>(buf);
  for (size_t i = 0; i < n; ++i) {
    out->emplace_back(lens[i] ? std::string(p, lens[i]) : std::string());
    p += lens[i];
  }
  return STRATACACHE_OK;
}

// The 0.1 form: an array of n pointers and an array of n lengths.
int gather_keys(std::vector<std::string>* out, const void* const* keys, const size_t* lens, size_t n, const char* name) {
  out->clear();
  if (n == 0) return STRATACACHE_OK;
  if (!keys) return fail(STRATACACHE_EINVAL, std::string("argument '") + name + "' must not be NULL");
  if (!lens) return fail(STRATACACHE_EINVAL, std::string("argument '") + name + "_lens' must not be NULL");
  out->reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (!keys[i] && lens[i] != 0) {
      return fail(STRATACACHE_EINVAL, std::string("argument '") + name + "[i]' is NULL with a non-zero length");
    }
    out->emplace_back(bytes(keys[i], lens[i]));
  }
  return STRATACACHE_OK;
}

// mset's items from its keys, values and formats (NULL: raw), whichever form they came in.
int make_items(std::vector<std::pair<std::string, Payload>>* items, std::vector<std::string>& keys,
               std::vector<std::string>& values, const int* formats) {
  items->clear();
  items->reserve(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    int f = formats ? formats[i] : STRATACACHE_FORMAT_RAW;
    if (int rc = check_format(f, ("formats[" + std::to_string(i) + "]").c_str())) return rc;
    items->emplace_back(std::move(keys[i]), Payload{static_cast<Format>(f), std::move(values[i])});
  }
  return STRATACACHE_OK;
}

int submit_delete_keys(Cache& cache, const std::vector<std::string>& keys, const stratacache_callopts* co,
                       Target target) {
  cache.del_async(keys, call_of(co), completion_fn<Result<int64_t>>(std::move(target), completion_count));
  return STRATACACHE_OK;
}

// The 0.1 completion (no message argument) over the 0.2 one: the message becomes the
// thread-local last error while the 0.1 callback runs, as 0.1 documents.
struct LegacyCompletion {
  stratacache_completion done;
  void* payload;
};

void run_legacy(void* p, int status, const char* message, void* value, size_t len, int format, int64_t count) {
  std::unique_ptr<LegacyCompletion> legacy(static_cast<LegacyCompletion*>(p));
  try {
    t_last_error = message;
  } catch (...) {
    t_last_error.clear();
  }
  legacy->done(legacy->payload, status, value, len, format, count);
}

template <typename Submit>
int submit_legacy(stratacache_completion done, void* payload, Submit&& submit) {
  if (!done) return guarded([&] { return fail(STRATACACHE_EINVAL, "argument 'done' must not be NULL"); });
  auto* legacy = new (std::nothrow) LegacyCompletion{done, payload};
  if (!legacy) return guarded([&] { return fail(STRATACACHE_ENOMEM, "out of memory"); });
  int rc = submit(legacy);
  if (rc != STRATACACHE_OK) delete legacy;  // refused: the completion never runs
  return rc;
}

}  // namespace

extern "C" {

int stratacache_queue_new(stratacache_queue** out) {
  return guarded([&] {
    clear_out<stratacache_queue*>(out, nullptr);
    REQUIRE_ARG(out, "out");
    auto core = std::make_shared<QueueCore>();
    if (!core->ok()) return fail(STRATACACHE_EINTERNAL, std::string("eventfd failed: ") + std::strerror(errno));
    *out = new stratacache_queue{std::move(core)};
    return STRATACACHE_OK;
  });
}

int stratacache_queue_fd(const stratacache_queue* queue) { return queue ? queue->core->fd() : -1; }

int stratacache_queue_drain(size_t* out_ran, stratacache_queue* queue, size_t max) {
  return guarded([&] {
    clear_out<size_t>(out_ran, 0);
    REQUIRE_ARG(queue, "queue");
    std::shared_ptr<QueueCore> core = queue->core;  // a callback may free the queue
    std::vector<Completion> ready = core->take(max);
    for (auto& c : ready) c.run();
    if (out_ran) *out_ran = ready.size();
    return STRATACACHE_OK;
  });
}

void stratacache_queue_free(stratacache_queue* queue) {
  if (!queue) return;
  queue->core->release();
  delete queue;
}

int stratacache_submit_get(stratacache_cache* cache, const void* key, size_t key_len, const stratacache_callopts* co,
                           stratacache_queue* queue, stratacache_callback done, void* payload) {
  return guarded(co, [&] {
    ENTER(cache);
    REQUIRE_BYTES(key, key_len, "key");
    Target t;
    if (int rc = make_target(&t, use, queue, done, payload)) return rc;
    use->get_async(bytes(key, key_len), call_of(co), completion_fn<Result<ValueRef>>(std::move(t), completion_get));
    return STRATACACHE_OK;
  });
}

int stratacache_submit_set(stratacache_cache* cache, const void* key, size_t key_len, const void* value,
                           size_t value_len, int format, int64_t ttl_ms, const stratacache_callopts* co,
                           stratacache_queue* queue, stratacache_callback done, void* payload) {
  return guarded(co, [&] {
    ENTER(cache);
    REQUIRE_BYTES(key, key_len, "key");
    REQUIRE_BYTES(value, value_len, "value");
    if (int rc = check_format(format, "format")) return rc;
    REQUIRE_TTL(ttl_ms);
    CallOptions call = call_of(co);
    call.ttl_ms = ttl_ms;
    Payload p{static_cast<Format>(format), std::string(bytes(value, value_len))};
    Target t;
    if (int rc = make_target(&t, use, queue, done, payload)) return rc;
    use->set_async(bytes(key, key_len), std::move(p), call,
                            completion_fn<Status>(std::move(t), completion_status));
    return STRATACACHE_OK;
  });
}

int stratacache_submit_delete(stratacache_cache* cache, const void* keys, const size_t* key_lens, size_t n,
                              const stratacache_callopts* co, stratacache_queue* queue, stratacache_callback done,
                              void* payload) {
  return guarded(co, [&] {
    ENTER(cache);
    std::vector<std::string> ks;
    if (int rc = unpack_keys(&ks, keys, key_lens, n, "keys")) return rc;
    Target t;
    if (int rc = make_target(&t, use, queue, done, payload)) return rc;
    return submit_delete_keys(*use, ks, co, std::move(t));
  });
}

int stratacache_submit_exists(stratacache_cache* cache, const void* key, size_t key_len, const stratacache_callopts* co,
                              stratacache_queue* queue, stratacache_callback done, void* payload) {
  return guarded(co, [&] {
    ENTER(cache);
    REQUIRE_BYTES(key, key_len, "key");
    Target t;
    if (int rc = make_target(&t, use, queue, done, payload)) return rc;
    use->exists_async(bytes(key, key_len), call_of(co),
                               completion_fn<Result<bool>>(std::move(t), completion_exists));
    return STRATACACHE_OK;
  });
}

int stratacache_submit_ttl(stratacache_cache* cache, const void* key, size_t key_len, const stratacache_callopts* co,
                           stratacache_queue* queue, stratacache_callback done, void* payload) {
  return guarded(co, [&] {
    ENTER(cache);
    REQUIRE_BYTES(key, key_len, "key");
    Target t;
    if (int rc = make_target(&t, use, queue, done, payload)) return rc;
    use->ttl_ms_async(bytes(key, key_len), call_of(co),
                               completion_fn<Result<int64_t>>(std::move(t), completion_count));
    return STRATACACHE_OK;
  });
}

int stratacache_submit_increment(stratacache_cache* cache, const void* key, size_t key_len, int64_t amount,
                                 int64_t ttl_ms, const stratacache_callopts* co, stratacache_queue* queue,
                                 stratacache_callback done, void* payload) {
  return guarded(co, [&] {
    ENTER(cache);
    REQUIRE_BYTES(key, key_len, "key");
    REQUIRE_TTL(ttl_ms);
    CallOptions call = call_of(co);
    call.ttl_ms = ttl_ms;
    Target t;
    if (int rc = make_target(&t, use, queue, done, payload)) return rc;
    use->increment_async(bytes(key, key_len), amount, call,
                                  completion_fn<Result<int64_t>>(std::move(t), completion_count));
    return STRATACACHE_OK;
  });
}

int stratacache_submit_mget(stratacache_cache* cache, const void* keys, const size_t* key_lens, size_t n,
                            const stratacache_callopts* co, stratacache_queue* queue, stratacache_callback done,
                            void* payload) {
  return guarded(co, [&] {
    ENTER(cache);
    std::vector<std::string> ks;
    if (int rc = unpack_keys(&ks, keys, key_lens, n, "keys")) return rc;
    Target t;
    if (int rc = make_target(&t, use, queue, done, payload)) return rc;
    use->mget_async(ks, call_of(co),
                             completion_fn<std::vector<Result<Payload>>>(std::move(t), completion_mget));
    return STRATACACHE_OK;
  });
}

int stratacache_submit_mset(stratacache_cache* cache, const void* keys, const size_t* key_lens, const void* values,
                            const size_t* value_lens, const int* formats, size_t n, int64_t ttl_ms,
                            const stratacache_callopts* co, stratacache_queue* queue, stratacache_callback done,
                            void* payload) {
  return guarded(co, [&] {
    ENTER(cache);
    std::vector<std::string> ks, vs;
    if (int rc = unpack_keys(&ks, keys, key_lens, n, "keys")) return rc;
    if (int rc = unpack_keys(&vs, values, value_lens, n, "values")) return rc;
    std::vector<std::pair<std::string, Payload>> items;
    if (int rc = make_items(&items, ks, vs, formats)) return rc;
    REQUIRE_TTL(ttl_ms);
    CallOptions call = call_of(co);
    call.ttl_ms = ttl_ms;
    Target t;
    if (int rc = make_target(&t, use, queue, done, payload)) return rc;
    use->mset_async(std::move(items), call, completion_fn<Status>(std::move(t), completion_status));
    return STRATACACHE_OK;
  });
}

int stratacache_submit_clear_pattern(stratacache_cache* cache, const void* pattern, size_t pattern_len,
                                     const stratacache_callopts* co, stratacache_queue* queue,
                                     stratacache_callback done, void* payload) {
  return guarded(co, [&] {
    ENTER(cache);
    REQUIRE_BYTES(pattern, pattern_len, "pattern");
    Target t;
    if (int rc = make_target(&t, use, queue, done, payload)) return rc;
    use->clear_pattern_async(bytes(pattern, pattern_len), call_of(co),
                                      completion_fn<Result<int64_t>>(std::move(t), completion_count));
    return STRATACACHE_OK;
  });
}

int stratacache_submit_health(stratacache_cache* cache, const stratacache_callopts* co, stratacache_queue* queue,
                              stratacache_callback done, void* payload) {
  return guarded(co, [&] {
    ENTER(cache);
    Target t;
    if (int rc = make_target(&t, use, queue, done, payload)) return rc;
    use->health_async(call_of(co), completion_fn<HealthInfo>(std::move(t), completion_health));
    return STRATACACHE_OK;
  });
}

int stratacache_submit_server_info(stratacache_cache* cache, const stratacache_callopts* co, stratacache_queue* queue,
                                   stratacache_callback done, void* payload) {
  return guarded(co, [&] {
    ENTER(cache);
    Target t;
    if (int rc = make_target(&t, use, queue, done, payload)) return rc;
    use->server_info_async(call_of(co), completion_fn<Result<ServerInfo>>(std::move(t), completion_server_info));
    return STRATACACHE_OK;
  });
}

int stratacache_get_async(stratacache_cache* cache, const void* key, size_t key_len, const stratacache_callopts* co,
                          stratacache_completion done, void* payload) {
  return submit_legacy(done, payload, [&](LegacyCompletion* legacy) {
    return stratacache_submit_get(cache, key, key_len, co, nullptr, run_legacy, legacy);
  });
}

int stratacache_set_async(stratacache_cache* cache, const void* key, size_t key_len, const void* value,
                          size_t value_len, int format, int64_t ttl_ms, const stratacache_callopts* co,
                          stratacache_completion done, void* payload) {
  return submit_legacy(done, payload, [&](LegacyCompletion* legacy) {
    return stratacache_submit_set(cache, key, key_len, value, value_len, format, ttl_ms, co, nullptr, run_legacy,
                                  legacy);
  });
}

int stratacache_delete_async(stratacache_cache* cache, const void* const* keys, const size_t* key_lens, size_t n,
                             const stratacache_callopts* co, stratacache_completion done, void* payload) {
  return submit_legacy(done, payload, [&](LegacyCompletion* legacy) {
    return guarded(co, [&] {
      ENTER(cache);
      std::vector<std::string> ks;
      if (int rc = gather_keys(&ks, keys, key_lens, n, "keys")) return rc;
      Target t;
      if (int rc = make_target(&t, use, nullptr, run_legacy, legacy)) return rc;
      return submit_delete_keys(*use, ks, co, std::move(t));
    });
  });
}

int stratacache_async_native(const stratacache_cache* cache) {
  if (!cache) return 0;
  InUse use(const_cast<stratacache_cache*>(cache));
  return use && use->l2_async_native() ? 1 : 0;
}

int stratacache_get_json(char** out_json, size_t* out_len, stratacache_cache* cache, const void* key, size_t key_len,
                         const stratacache_callopts* co) {
  return guarded(co, [&] {
    clear_out<char*>(out_json, nullptr);
    clear_out<size_t>(out_len, 0);
    REQUIRE_ARG(out_json, "out_json");
    ENTER(cache);
    REQUIRE_BYTES(key, key_len, "key");
    auto r = use->get_ref(bytes(key, key_len), call_of(co));
    if (!r) return report(r.status());
    const ValueRef& p = *r;
    if (p.format() == Format::kJson) {
      void* buf = nullptr;
      int rc = give_buffer(&buf, out_len, p.data());
      *out_json = static_cast<char*>(buf);
      return rc;
    }
    if (p.format() == Format::kRaw) return fail(STRATACACHE_EWRONGTYPE, "value is raw bytes, not JSON-representable");
    // The value in hand is decoded (one read, one hit); undecodable bytes are a counted miss.
    auto v = use->decode_value(p);
    if (!v) return report(v.status());
    auto text = serialize(*v, Format::kJson);
    if (!text) return fail(STRATACACHE_EWRONGTYPE, "value cannot be represented as JSON: " + text.status().message());
    void* buf = nullptr;
    int rc = give_buffer(&buf, out_len, *text);
    *out_json = static_cast<char*>(buf);
    return rc;
  });
}

int stratacache_set(stratacache_cache* cache, const void* key, size_t key_len, const void* value, size_t value_len,
                    int format, int64_t ttl_ms, const stratacache_callopts* co) {
  return guarded(co, [&] {
    ENTER(cache);
    REQUIRE_BYTES(key, key_len, "key");
    REQUIRE_BYTES(value, value_len, "value");
    if (int rc = check_format(format, "format")) return rc;
    REQUIRE_TTL(ttl_ms);
    CallOptions call = call_of(co);
    call.ttl_ms = ttl_ms;
    Payload p{static_cast<Format>(format), std::string(bytes(value, value_len))};
    return report(use->set(bytes(key, key_len), std::move(p), call));
  });
}

int stratacache_set_json(stratacache_cache* cache, const void* key, size_t key_len, const char* json, size_t json_len,
                         int64_t ttl_ms, const stratacache_callopts* co) {
  return guarded(co, [&] {
    ENTER(cache);
    REQUIRE_BYTES(key, key_len, "key");
    REQUIRE_BYTES(json, json_len, "json");
    REQUIRE_TTL(ttl_ms);
    auto v = deserialize(bytes(json, json_len), Format::kJson, use->options().codec.limits);
    if (!v) {
      int code = v.code() == StatusCode::kTooLarge ? STRATACACHE_ETOOBIG : STRATACACHE_EINVAL;
      return fail(code, "argument 'json' was rejected: " + v.status().message());
    }
    CallOptions call = call_of(co);
    call.ttl_ms = ttl_ms;
    return report(use->set_value(bytes(key, key_len), *v, call));
  });
}

int stratacache_delete(int64_t* out_deleted, stratacache_cache* cache, const void* const* keys, const size_t* key_lens,
                       size_t n, const stratacache_callopts* co) {
  return guarded(co, [&] {
    clear_out<int64_t>(out_deleted, 0);
    ENTER(cache);
    std::vector<std::string> ks;
    if (int rc = gather_keys(&ks, keys, key_lens, n, "keys")) return rc;
    auto r = use->del(ks, call_of(co));
    if (!r) return report(r.status());
    if (out_deleted) *out_deleted = *r;
    return STRATACACHE_OK;
  });
}

int stratacache_exists(int* out_exists, stratacache_cache* cache, const void* key, size_t key_len,
                       const stratacache_callopts* co) {
  return guarded(co, [&] {
    clear_out<int>(out_exists, 0);
    REQUIRE_ARG(out_exists, "out_exists");
    ENTER(cache);
    REQUIRE_BYTES(key, key_len, "key");
    auto r = use->exists(bytes(key, key_len), call_of(co));
    if (!r) return report(r.status());
    *out_exists = *r ? 1 : 0;
    return STRATACACHE_OK;
  });
}

int stratacache_ttl(int64_t* out_ttl_ms, stratacache_cache* cache, const void* key, size_t key_len,
                    const stratacache_callopts* co) {
  return guarded(co, [&] {
    clear_out<int64_t>(out_ttl_ms, 0);
    REQUIRE_ARG(out_ttl_ms, "out_ttl_ms");
    ENTER(cache);
    REQUIRE_BYTES(key, key_len, "key");
    auto r = use->ttl_ms(bytes(key, key_len), call_of(co));
    if (!r) return report(r.status());
    *out_ttl_ms = *r;
    return STRATACACHE_OK;
  });
}

int stratacache_increment(int64_t* out_value, stratacache_cache* cache, const void* key, size_t key_len, int64_t amount,
                          int64_t ttl_ms, const stratacache_callopts* co) {
  return guarded(co, [&] {
    clear_out<int64_t>(out_value, 0);
    ENTER(cache);
    REQUIRE_BYTES(key, key_len, "key");
    REQUIRE_TTL(ttl_ms);
    CallOptions call = call_of(co);
    call.ttl_ms = ttl_ms;
    auto r = use->increment(bytes(key, key_len), amount, call);
    if (!r) return report(r.status());
    if (out_value) *out_value = *r;
    return STRATACACHE_OK;
  });
}

int stratacache_clear_pattern(int64_t* out_deleted, stratacache_cache* cache, const void* pattern, size_t pattern_len,
                              const stratacache_callopts* co) {
  return guarded(co, [&] {
    clear_out<int64_t>(out_deleted, 0);
    ENTER(cache);
    REQUIRE_BYTES(pattern, pattern_len, "pattern");
    auto r = use->clear_pattern(bytes(pattern, pattern_len), call_of(co));
    if (!r) return report(r.status());
    if (out_deleted) *out_deleted = *r;
    return STRATACACHE_OK;
  });
}

int stratacache_mget(void** out_values, size_t* out_lens, int* out_formats, int* out_codes, stratacache_cache* cache,
                     const void* const* keys, const size_t* key_lens, size_t n, const stratacache_callopts* co) {
  return guarded(co, [&] {
    for (size_t i = 0; i < n; ++i) {  // every out slot is defined before anything can fail
      if (out_values) out_values[i] = nullptr;
      if (out_lens) out_lens[i] = 0;
      if (out_formats) out_formats[i] = -1;
      if (out_codes) out_codes[i] = STRATACACHE_EINVAL;
    }
    ENTER(cache);
    if (n == 0) return STRATACACHE_OK;
    REQUIRE_ARG(out_values, "out_values");
    REQUIRE_ARG(out_lens, "out_lens");
    REQUIRE_ARG(out_codes, "out_codes");
    std::vector<std::string> ks;
    if (int rc = gather_keys(&ks, keys, key_lens, n, "keys")) return rc;
    auto results = use->mget(ks, call_of(co));
    for (size_t i = 0; i < n; ++i) {
      if (!results[i]) {
        out_codes[i] = code_of(results[i].code());
        if (out_codes[i] != STRATACACHE_ENOTFOUND) t_last_error = results[i].status().message();
        continue;
      }
      if (out_formats) out_formats[i] = static_cast<int>(results[i]->format);
      out_codes[i] = give_buffer(&out_values[i], &out_lens[i], results[i]->data);
    }
    return STRATACACHE_OK;
  });
}

int stratacache_mset(stratacache_cache* cache, const void* const* keys, const size_t* key_lens, const void* const* values,
                     const size_t* value_lens, const int* formats, size_t n, int64_t ttl_ms,
                     const stratacache_callopts* co) {
  return guarded(co, [&] {
    ENTER(cache);
    if (n == 0) return STRATACACHE_OK;
    std::vector<std::string> ks, vs;
    if (int rc = gather_keys(&ks, keys, key_lens, n, "keys")) return rc;
    if (int rc = gather_keys(&vs, values, value_lens, n, "values")) return rc;
    std::vector<std::pair<std::string, Payload>> items;
    if (int rc = make_items(&items, ks, vs, formats)) return rc;
    REQUIRE_TTL(ttl_ms);
    CallOptions call = call_of(co);
    call.ttl_ms = ttl_ms;
    return report(use->mset(items, call));
  });
}

void stratacache_flush_l1(stratacache_cache* cache) {
  (void)guarded([&] {
    if (!cache) return STRATACACHE_OK;
    InUse use(cache);
    if (use) use->flush_l1();
    return STRATACACHE_OK;
  });
}

int stratacache_stat(uint64_t* out_value, stratacache_cache* cache, const char* name) {
  return guarded([&] {
    clear_out<uint64_t>(out_value, 0);
    REQUIRE_ARG(out_value, "out_value");
    ENTER(cache);
    REQUIRE_ARG(name, "name");
    for (size_t i = 0; i < kCounterCount; ++i) {
      const Counter& c = kCounters[i];
      if (std::strcmp(c.name, name) == 0) {
        *out_value = c.read(use->stats());
        return STRATACACHE_OK;
      }
    }
    return fail(STRATACACHE_EINVAL, std::string("unknown statistic '") + name + "'");
  });
}

int stratacache_stat_info(const char** out_name, const char** out_description, size_t index) {
  return guarded([&] {
    clear_out<const char*>(out_name, nullptr);
    clear_out<const char*>(out_description, nullptr);
    REQUIRE_ARG(out_name, "out_name");
    if (index >= kCounterCount) return STRATACACHE_ENOTFOUND;
    *out_name = kCounters[index].name;
    if (out_description) *out_description = kCounters[index].description;
    return STRATACACHE_OK;
  });
}

int stratacache_stats_json(char** out_json, size_t* out_len, stratacache_cache* cache) {
  return guarded([&] {
    clear_out<char*>(out_json, nullptr);
    clear_out<size_t>(out_len, 0);
    REQUIRE_ARG(out_json, "out_json");
    ENTER(cache);
    return give_json(out_json, out_len, stats_to_json(use->stats()));
  });
}

int stratacache_metrics_prometheus(char** out_text, size_t* out_len, stratacache_cache* cache) {
  return guarded([&] {
    clear_out<char*>(out_text, nullptr);
    clear_out<size_t>(out_len, 0);
    REQUIRE_ARG(out_text, "out_text");
    ENTER(cache);
    void* buf = nullptr;
    int rc = give_buffer(&buf, out_len, stratacache_capi::prometheus_text(use->metrics()));
    *out_text = static_cast<char*>(buf);
    return rc;
  });
}

int stratacache_metrics_json(char** out_json, size_t* out_len, stratacache_cache* cache) {
  return guarded([&] {
    clear_out<char*>(out_json, nullptr);
    clear_out<size_t>(out_len, 0);
    REQUIRE_ARG(out_json, "out_json");
    ENTER(cache);
    return give_json(out_json, out_len, stratacache_capi::metrics_to_json(use->metrics()));
  });
}

int stratacache_health_json(char** out_json, size_t* out_len, stratacache_cache* cache, const stratacache_callopts* co) {
  return guarded(co, [&] {
    clear_out<char*>(out_json, nullptr);
    clear_out<size_t>(out_len, 0);
    REQUIRE_ARG(out_json, "out_json");
    ENTER(cache);
    void* buf = nullptr;
    int rc = give_buffer(&buf, out_len, health_text(use->health(call_of(co))));
    *out_json = static_cast<char*>(buf);
    return rc;
  });
}

int stratacache_server_info_json(char** out_json, size_t* out_len, stratacache_cache* cache,
                                 const stratacache_callopts* co) {
  return guarded(co, [&] {
    clear_out<char*>(out_json, nullptr);
    clear_out<size_t>(out_len, 0);
    REQUIRE_ARG(out_json, "out_json");
    ENTER(cache);
    auto r = use->server_info(call_of(co));
    if (!r) return report(r.status());
    return give_json(out_json, out_len, server_info_json(*r));
  });
}

int stratacache_inspect_json(char** out_json, size_t* out_len, stratacache_cache* cache, const void* key,
                             size_t key_len, const stratacache_callopts* co) {
  return guarded(co, [&] {
    clear_out<char*>(out_json, nullptr);
    clear_out<size_t>(out_len, 0);
    REQUIRE_ARG(out_json, "out_json");
    ENTER(cache);
    REQUIRE_BYTES(key, key_len, "key");
    auto r = use->inspect(bytes(key, key_len), call_of(co));
    if (!r) return report(r.status());
    const EntryInspection& e = *r;
    nlohmann::json j = {{"tier", e.tier},
                        {"in_l1", e.in_l1},
                        {"kind", e.kind},
                        {"serializer", format_name(e.format)},
                        {"compression", compression_name(e.compression)},
                        {"encrypted", e.encrypted},
                        {"key_id", e.key_id},
                        {"stored_bytes", e.stored_bytes},
                        {"payload_bytes", e.payload_bytes},
                        {"ttl_ms", e.ttl_ms},
                        {"negative", e.meta && e.meta->negative},
                        {"stale_ms", e.meta ? e.meta->stale_ms : 0},
                        {"load_ms", e.meta ? e.meta->load_ms : 0},
                        {"stale", e.stale},
                        {"error", e.header_error ? std::string() : e.header_error.to_string()}};
    return give_json(out_json, out_len, j);
  });
}

int stratacache_count_pattern(int64_t* out_count, stratacache_cache* cache, const void* pattern, size_t pattern_len,
                              const stratacache_callopts* co) {
  return guarded(co, [&] {
    clear_out<int64_t>(out_count, 0);
    REQUIRE_ARG(out_count, "out_count");
    ENTER(cache);
    REQUIRE_BYTES(pattern, pattern_len, "pattern");
    auto r = use->count_matching(bytes(pattern, pattern_len), call_of(co));
    if (!r) return report(r.status());
    *out_count = *r;
    return STRATACACHE_OK;
  });
}

int stratacache_get_into(size_t* out_len, int* out_format, stratacache_cache* cache, const void* key, size_t key_len,
                         void* buf, size_t cap, const stratacache_callopts* co) {
  return guarded(co, [&] {
    clear_out<size_t>(out_len, 0);
    clear_out<int>(out_format, -1);
    REQUIRE_ARG(out_len, "out_len");
    ENTER(cache);
    REQUIRE_BYTES(key, key_len, "key");
    REQUIRE_BYTES(buf, cap, "buf");
    auto r = use->get_ref(bytes(key, key_len), call_of(co));
    if (!r) return report(r.status());
    *out_len = r->size();
    if (out_format) *out_format = static_cast<int>(r->format());
    if (r->size() > cap) {
      return fail(STRATACACHE_ETOOBIG, "value is " + std::to_string(r->size()) + " bytes; the buffer holds " +
                                           std::to_string(cap) + " (*out_len is the size needed)");
    }
    if (r->size()) std::memcpy(buf, r->data().data(), r->size());
    return STRATACACHE_OK;
  });
}

int stratacache_mget_packed(void** out_packed, size_t* out_len, stratacache_cache* cache, const void* keys,
                            const size_t* key_lens, size_t n, const stratacache_callopts* co) {
  return guarded(co, [&] {
    clear_out<void*>(out_packed, nullptr);
    clear_out<size_t>(out_len, 0);
    REQUIRE_ARG(out_packed, "out_packed");
    REQUIRE_ARG(out_len, "out_len");
    ENTER(cache);
    std::vector<std::string> ks;
    if (int rc = unpack_keys(&ks, keys, key_lens, n, "keys")) return rc;
    std::string first_error;
    void* packed = pack_results(use->mget(ks, call_of(co)), out_len, &first_error);
    if (!packed) return fail(STRATACACHE_ENOMEM, "out of memory");
    t_last_error = std::move(first_error);
    *out_packed = packed;
    return STRATACACHE_OK;
  });
}

int stratacache_mset_packed(stratacache_cache* cache, const void* keys, const size_t* key_lens, const void* values,
                            const size_t* value_lens, const int* formats, size_t n, int64_t ttl_ms,
                            const stratacache_callopts* co) {
  return guarded(co, [&] {
    ENTER(cache);
    std::vector<std::string> ks, vs;
    if (int rc = unpack_keys(&ks, keys, key_lens, n, "keys")) return rc;
    if (int rc = unpack_keys(&vs, values, value_lens, n, "values")) return rc;
    std::vector<std::pair<std::string, Payload>> items;
    if (int rc = make_items(&items, ks, vs, formats)) return rc;
    REQUIRE_TTL(ttl_ms);
    CallOptions call = call_of(co);
    call.ttl_ms = ttl_ms;
    return report(use->mset(items, call));
  });
}

int stratacache_delete_packed(int64_t* out_deleted, stratacache_cache* cache, const void* keys, const size_t* key_lens,
                              size_t n, const stratacache_callopts* co) {
  return guarded(co, [&] {
    clear_out<int64_t>(out_deleted, 0);
    ENTER(cache);
    std::vector<std::string> ks;
    if (int rc = unpack_keys(&ks, keys, key_lens, n, "keys")) return rc;
    auto r = use->del(ks, call_of(co));
    if (!r) return report(r.status());
    if (out_deleted) *out_deleted = *r;
    return STRATACACHE_OK;
  });
}

int stratacache_envelope_encode(void** out_envelope, size_t* out_len, const void* value, size_t value_len, int format,
                                const void* prefix, size_t prefix_len, const void* key, size_t key_len,
                                const stratacache_options* opts) {
  return guarded([&] {
    clear_out<void*>(out_envelope, nullptr);
    clear_out<size_t>(out_len, 0);
    REQUIRE_ARG(out_envelope, "out_envelope");
    REQUIRE_BYTES(value, value_len, "value");
    REQUIRE_BYTES(prefix, prefix_len, "prefix");
    REQUIRE_BYTES(key, key_len, "key");
    if (int rc = check_format(format, "format")) return rc;
    static const stratacache_options kDefaults;
    auto codec = codec_options(opts ? *opts : kDefaults);
    if (!codec) return report(codec.status());
    Payload p{static_cast<Format>(format), std::string(bytes(value, value_len))};
    auto env = Codec(std::move(codec).value()).encode(p, bytes(prefix, prefix_len), bytes(key, key_len));
    if (!env) return report(env.status());
    return give_buffer(out_envelope, out_len, *env);
  });
}

int stratacache_envelope_decode(void** out_value, size_t* out_len, int* out_format, const void* envelope,
                                size_t envelope_len, const void* prefix, size_t prefix_len, const void* key,
                                size_t key_len, const stratacache_options* opts) {
  return guarded([&] {
    clear_out<void*>(out_value, nullptr);
    clear_out<size_t>(out_len, 0);
    clear_out<int>(out_format, -1);
    REQUIRE_ARG(out_value, "out_value");
    REQUIRE_BYTES(envelope, envelope_len, "envelope");
    REQUIRE_BYTES(prefix, prefix_len, "prefix");
    REQUIRE_BYTES(key, key_len, "key");
    static const stratacache_options kDefaults;
    auto codec = codec_options(opts ? *opts : kDefaults);
    if (!codec) return report(codec.status());
    std::optional<EntryMeta> meta;
    auto p = Codec(std::move(codec).value()).decode(bytes(envelope, envelope_len), bytes(prefix, prefix_len),
                                                    bytes(key, key_len), &meta);
    if (!p) return report(p.status());
    if (meta && meta->negative) return STRATACACHE_ENOTFOUND;  // the key is known not to exist
    if (out_format) *out_format = static_cast<int>(p->format);
    return give_buffer(out_value, out_len, p->data);
  });
}

}  // extern "C"


// ---- Read-through (docs/read-through.md) ----

namespace {

// The read-through settings of one call: the callopts' LoadOptions with the deadline
// (the hard timeout) and SKIP_L1 of the call. SKIP_L2 is refused: one load per key
// across processes needs Redis (stratacache_callopts_set_lock(co, 0) makes it per process).
int load_options_of(LoadOptions* out, const stratacache_callopts* co) {
  static const LoadOptions kDefaults;
  *out = co ? co->load : kDefaults;
  const CallOptions& call = call_of(co);
  if (call.skip_l2) {
    return fail(STRATACACHE_EUNSUPPORTED,
                "STRATACACHE_SKIP_L2 is not supported by read-through calls (set_lock(co, 0) loads once per process)");
  }
  out->hard_timeout = call.timeout;
  out->skip_l1 = call.skip_l1;
  return STRATACACHE_OK;
}

unsigned info_of(const Loaded& l) {
  return (l.stale ? STRATACACHE_INFO_STALE : 0u) | (l.loaded ? STRATACACHE_INFO_LOADED : 0u);
}

// What the C loader left in its sink, given its return code, as the core's loader result.
Result<LoadedValue> loader_outcome(int rc, stratacache_sink& sink) {
  if (rc == STRATACACHE_OK) {
    if (!sink.value) return Status(StatusCode::kInternal, "the loader returned STRATACACHE_OK without stratacache_sink_put");
    return std::move(*sink.value);
  }
  if (rc == STRATACACHE_ENOTFOUND) return not_found("the loader found no such key");
  std::string message = !sink.failure.empty() ? std::move(sink.failure)
                                              : std::string("the loader failed: ") + stratacache_strerror(rc);
  return Status(status_code_of(rc), std::move(message));
}

// A C loader as the core's Loader: its sink's outcome.
Loader loader_of(stratacache_loader loader, void* ctx) {
  return [loader, ctx](std::string_view k) {
    stratacache_sink sink;
    int rc = loader(ctx, k.data(), k.size(), &sink);
    return loader_outcome(rc, sink);
  };
}

// ttl_ms of a loaded value (sink_put, lease_fill): < 0 the callopts ttl, 0 no expiry.
int64_t loaded_ttl(int64_t ttl_ms) { return ttl_ms < 0 ? -1 : ttl_ms; }

// acquire's outcome as a completion (the sync call reads its out-parameters from it).
// The lease is wrapped, pinning the handle, unless the handle was closed meanwhile: a
// completion may arrive while the Cache is being torn down, and a lease must not
// outlive it, so it is abandoned here, inside the Cache's own completion.
Completion completion_acquire(Lookup l, stratacache_cache* shell) {
  std::unique_ptr<stratacache_lease> lease;
  if (l.lease) {
    InUse use(shell);
    if (!use) {
      l.lease.reset();
      return completion_of(Status(StatusCode::kUnavailable, "the cache was closed"));
    }
    lease = std::make_unique<stratacache_lease>(use, std::move(l.lease));
  }
  Completion c;
  if (l.value) {
    c = completion_with_buffer(l.value->value.data(), static_cast<int>(l.value->value.format()));
    if (c.status != STRATACACHE_OK) return c;  // no memory: the lease is abandoned with it
    c.info = info_of(*l.value);
  } else {
    c = completion_of(l.value.status());
  }
  if (lease) {
    if (lease->lease->refresh()) c.info |= STRATACACHE_INFO_REFRESH;
    c.lease = lease.release();
  }
  return c;
}

Completion completion_fill(Result<ValueRef> r) { return completion_of(r ? Status() : r.status()); }

// A read-through setting on a callopts object.
template <typename F>
int set_load(stratacache_callopts* co, F&& set) {
  return guarded([&] {
    REQUIRE_ARG(co, "co");
    return set(co->load);
  });
}

// The lease's handle, or (closed) ECLOSED: then the caller frees the lease.
#define ENTER_LEASE(lease_arg)                                                       \
  REQUIRE_ARG(lease_arg, #lease_arg);                                                \
  std::unique_ptr<stratacache_lease> owned(lease_arg); /* consumed in every case */  \
  InUse use(owned->shell);                                                           \
  if (!use) return fail(STRATACACHE_ECLOSED, "cache is closed (the lease was abandoned)")

}  // namespace

extern "C" {

int stratacache_callopts_set_ttl_ms(stratacache_callopts* co, int64_t ttl_ms) {
  return set_load(co, [&](LoadOptions& o) {
    o.ttl_ms = ttl_ms < 0 ? -1 : ttl_ms;
    return STRATACACHE_OK;
  });
}

int stratacache_callopts_set_stale_ttl_ms(stratacache_callopts* co, int64_t stale_ttl_ms) {
  return set_load(co, [&](LoadOptions& o) {
    o.stale_ttl_ms = stale_ttl_ms < 0 ? 0 : stale_ttl_ms;
    return STRATACACHE_OK;
  });
}

int stratacache_callopts_set_negative_ttl_ms(stratacache_callopts* co, int64_t negative_ttl_ms) {
  return set_load(co, [&](LoadOptions& o) {
    o.negative_ttl_ms = negative_ttl_ms < 0 ? 0 : negative_ttl_ms;
    return STRATACACHE_OK;
  });
}

int stratacache_callopts_set_early_refresh(stratacache_callopts* co, double beta) {
  return set_load(co, [&](LoadOptions& o) {
    if (!std::isfinite(beta) || beta < 0) {
      return fail(STRATACACHE_EINVAL, "argument 'beta' must be a finite number >= 0, got " + std::to_string(beta));
    }
    o.early_refresh = beta;
    return STRATACACHE_OK;
  });
}

int stratacache_callopts_set_soft_timeout_ms(stratacache_callopts* co, int64_t soft_timeout_ms) {
  return set_load(co, [&](LoadOptions& o) {
    o.soft_timeout = Millis(soft_timeout_ms < 0 ? -1 : soft_timeout_ms);
    return STRATACACHE_OK;
  });
}

int stratacache_callopts_set_lease_ttl_ms(stratacache_callopts* co, int64_t lease_ttl_ms) {
  return set_load(co, [&](LoadOptions& o) {
    o.lease_ttl = Millis(lease_ttl_ms < 0 ? -1 : lease_ttl_ms);
    return STRATACACHE_OK;
  });
}

int stratacache_callopts_set_lock(stratacache_callopts* co, int lock) {
  return set_load(co, [&](LoadOptions& o) {
    o.lock = lock != 0;
    return STRATACACHE_OK;
  });
}

int stratacache_sink_put(stratacache_sink* sink, const void* value, size_t len, int format, int64_t ttl_ms) {
  return guarded([&] {
    REQUIRE_ARG(sink, "sink");
    REQUIRE_BYTES(value, len, "value");
    if (int rc = check_format(format, "format")) return rc;
    if (sink->value) return fail(STRATACACHE_EINVAL, "stratacache_sink_put was already called for this load");
    sink->value = LoadedValue{Payload{static_cast<Format>(format), std::string(bytes(value, len))}, loaded_ttl(ttl_ms)};
    return STRATACACHE_OK;
  });
}

int stratacache_sink_fail(stratacache_sink* sink, const char* message) {
  return guarded([&] {
    REQUIRE_ARG(sink, "sink");
    REQUIRE_ARG(message, "message");
    sink->failure = message;
    return STRATACACHE_OK;
  });
}

int stratacache_get_or_load(void** out_value, size_t* out_len, int* out_format, unsigned* out_info,
                            stratacache_cache* cache, const void* key, size_t key_len, stratacache_loader loader,
                            void* ctx, const stratacache_callopts* co) {
  return guarded(co, [&] {
    clear_out<void*>(out_value, nullptr);
    clear_out<size_t>(out_len, 0);
    clear_out<int>(out_format, -1);
    clear_out<unsigned>(out_info, 0);
    REQUIRE_ARG(out_value, "out_value");
    ENTER(cache);
    REQUIRE_BYTES(key, key_len, "key");
    REQUIRE_ARG(loader, "loader");
    LoadOptions options;
    if (int rc = load_options_of(&options, co)) return rc;
    auto r = use->get_or_load(bytes(key, key_len), loader_of(loader, ctx), options);
    t_last_error.clear();  // the loader's own calls on this thread are not this call's message
    if (!r) return report(r.status());
    if (out_format) *out_format = static_cast<int>(r->value.format());
    if (out_info) *out_info = info_of(*r);
    return give_buffer(out_value, out_len, r->value.data());
  });
}

int stratacache_warm(size_t* out_found, size_t* out_loaded, size_t* out_missing, int* out_codes,
                     stratacache_cache* cache, const void* const* keys, const size_t* key_lens, size_t n,
                     stratacache_loader loader, void* ctx, const stratacache_callopts* co) {
  return guarded(co, [&] {
    clear_out<size_t>(out_found, 0);
    clear_out<size_t>(out_loaded, 0);
    clear_out<size_t>(out_missing, 0);
    for (size_t i = 0; out_codes && i < n; ++i) out_codes[i] = STRATACACHE_EINVAL;
    ENTER(cache);
    std::vector<std::string> ks;
    if (int rc = gather_keys(&ks, keys, key_lens, n, "keys")) return rc;
    WarmResult r;
    if (loader) {
      LoadOptions options;
      if (int rc = load_options_of(&options, co)) return rc;
      r = use->warm(ks, loader_of(loader, ctx), options);
      t_last_error.clear();  // the loader's own calls on this thread are not this call's message
    } else {
      r = use->warm(ks, call_of(co));
    }
    if (out_found) *out_found = static_cast<size_t>(r.found);
    if (out_loaded) *out_loaded = static_cast<size_t>(r.loaded);
    if (out_missing) *out_missing = r.missing_keys.size();
    if (out_codes) std::copy_n(warm_codes(ks, r).begin(), n, out_codes);
    return r.error ? STRATACACHE_OK : report(r.error);
  });
}

int stratacache_submit_warm(stratacache_cache* cache, const void* keys, const size_t* key_lens, size_t n,
                            const stratacache_callopts* co, stratacache_queue* queue, stratacache_callback done,
                            void* payload) {
  return guarded(co, [&] {
    ENTER(cache);
    auto ks = std::make_shared<std::vector<std::string>>();
    if (int rc = unpack_keys(ks.get(), keys, key_lens, n, "keys")) return rc;
    Target t;
    if (int rc = make_target(&t, use, queue, done, payload)) return rc;
    use->warm_async(*ks, call_of(co), completion_fn<WarmResult>(std::move(t), [ks](WarmResult r) {
                      std::vector<int32_t> codes = warm_codes(*ks, r);
                      Completion c = completion_of(r.error);
                      c.value = copy_buffer(std::string_view(reinterpret_cast<const char*>(codes.data()),
                                                             codes.size() * sizeof(int32_t)));
                      if (!c.value) return out_of_memory();
                      c.len = codes.size() * sizeof(int32_t);
                      c.count = r.found;
                      return c;
                    }));
    return STRATACACHE_OK;
  });
}

int stratacache_acquire(void** out_value, size_t* out_len, int* out_format, unsigned* out_info,
                        stratacache_lease** out_lease, stratacache_cache* cache, const void* key, size_t key_len,
                        const stratacache_callopts* co) {
  return guarded(co, [&] {
    clear_out<void*>(out_value, nullptr);
    clear_out<size_t>(out_len, 0);
    clear_out<int>(out_format, -1);
    clear_out<unsigned>(out_info, 0);
    clear_out<stratacache_lease*>(out_lease, nullptr);
    REQUIRE_ARG(out_value, "out_value");
    REQUIRE_ARG(out_lease, "out_lease");
    ENTER(cache);
    REQUIRE_BYTES(key, key_len, "key");
    LoadOptions options;
    if (int rc = load_options_of(&options, co)) return rc;
    Completion c = completion_acquire(use->acquire(bytes(key, key_len), options), use.shell());
    if (c.status != STRATACACHE_OK && c.status != STRATACACHE_ENOTFOUND) return fail(c.status, std::move(c.message));
    *out_value = std::exchange(c.value, nullptr);
    clear_out<size_t>(out_len, c.len);
    clear_out<int>(out_format, c.format);
    clear_out<unsigned>(out_info, c.info);
    *out_lease = std::exchange(c.lease, nullptr);
    return c.status;
  });
}

int stratacache_lease_fill(stratacache_lease* lease, const void* value, size_t len, int format, int64_t ttl_ms) {
  return guarded([&] {
    ENTER_LEASE(lease);
    REQUIRE_BYTES(value, len, "value");
    if (int rc = check_format(format, "format")) return rc;
    Payload p{static_cast<Format>(format), std::string(bytes(value, len))};
    return report(owned->lease->fill(p, loaded_ttl(ttl_ms)).status());
  });
}

int stratacache_lease_fill_not_found(stratacache_lease* lease) {
  return guarded([&] {
    ENTER_LEASE(lease);
    return report(owned->lease->fill_not_found());
  });
}

void stratacache_lease_abandon(stratacache_lease* lease, int code, const char* message) {
  if (!lease) return;
  (void)guarded([&] {
    ENTER_LEASE(lease);
    owned->lease->abandon(Status(status_code_of(code), message ? message : ""));
    return STRATACACHE_OK;
  });
}

int stratacache_submit_acquire(stratacache_cache* cache, const void* key, size_t key_len,
                               const stratacache_callopts* co, stratacache_queue* queue,
                               stratacache_acquire_callback done, void* payload) {
  return guarded(co, [&] {
    ENTER(cache);
    REQUIRE_BYTES(key, key_len, "key");
    LoadOptions options;
    if (int rc = load_options_of(&options, co)) return rc;
    Target t;
    if (int rc = make_target(&t, use, queue, done, payload)) return rc;
    stratacache_cache* shell = use.shell();
    use->acquire_async(bytes(key, key_len), options,
                       completion_fn<Lookup>(std::move(t), [shell](Lookup l) {
                         return completion_acquire(std::move(l), shell);
                       }));
    return STRATACACHE_OK;
  });
}

int stratacache_submit_lease_fill(stratacache_lease* lease, const void* value, size_t len, int format, int64_t ttl_ms,
                                  stratacache_queue* queue, stratacache_callback done, void* payload) {
  return guarded([&] {
    ENTER_LEASE(lease);
    REQUIRE_BYTES(value, len, "value");
    if (int rc = check_format(format, "format")) return rc;
    Target t;
    if (int rc = make_target(&t, use, queue, done, payload)) return rc;
    // The completion keeps the lease (and so its pin on the handle) until the fill is done.
    std::shared_ptr<stratacache_lease> held(std::move(owned));
    Lease& l = *held->lease;
    auto deliver = completion_fn<Result<ValueRef>>(std::move(t), completion_fill);
    l.fill_async(Payload{static_cast<Format>(format), std::string(bytes(value, len))}, loaded_ttl(ttl_ms),
                 [deliver = std::move(deliver), held = std::move(held)](Result<ValueRef> r) { deliver(std::move(r)); });
    return STRATACACHE_OK;
  });
}

int stratacache_submit_lease_fill_not_found(stratacache_lease* lease, stratacache_queue* queue,
                                            stratacache_callback done, void* payload) {
  return guarded([&] {
    ENTER_LEASE(lease);
    Target t;
    if (int rc = make_target(&t, use, queue, done, payload)) return rc;
    std::shared_ptr<stratacache_lease> held(std::move(owned));
    Lease& l = *held->lease;
    auto deliver = completion_fn<Status>(std::move(t), completion_of);
    l.fill_not_found_async([deliver = std::move(deliver), held = std::move(held)](Status s) { deliver(std::move(s)); });
    return STRATACACHE_OK;
  });
}

}  // extern "C"

// ==== Write-behind (added in 0.4; docs/write-behind.md) ====
//
// The C handle owns the core WriteBehind and pins its cache handle (one more call
// inside it, as a lease does) until it is closed, so the Cache the WriteBehind points
// into outlives it. Workers mode: the core's synchronous Writer calls the host's writer
// on library threads. Queue mode (workers = 0): the core's AsyncWriter pushes each
// write to the host's queue as a task completion; draining it calls the writer on the
// host's thread with a stratacache_wb_op, which the host acks (or the writer's own
// return value acks it). A completion dropped with its queue acks EUNAVAILABLE.

struct stratacache_wb_options {
  WriteBehindOptions options;
  std::shared_ptr<stratacache_capi::QueueCore> queue;
  stratacache_wb_failure on_failure = nullptr;
  void* failure_ctx = nullptr;
};

struct stratacache_wb_op {
  WriteOp op;
  WriteAck ack;
};

struct stratacache_write_behind {
  std::atomic<stratacache_cache*> shell{nullptr};  // pinned from open until close (then null)
  stratacache_cache* cache_shell = nullptr;        // the same, kept for set/delete after close (never freed)
  std::unique_ptr<WriteBehind> wb;
};

namespace {

// A host's writer code as the core's status (STRATACACHE_WB_PENDING is not one).
Status writer_status(int rc, const char* message) {
  if (rc == STRATACACHE_OK) return Status::ok();
  std::string m = message && *message ? message : std::string("writer returned ") + stratacache_strerror(rc);
  return Status(rc > 0 ? StatusCode::kInvalidArgument : status_code_of(rc), std::move(m));
}

int call_writer(stratacache_wb_writer writer, void* ctx, stratacache_wb_op* op, const WriteOp& w) {
  int kind = w.kind == WriteOp::Kind::kSet ? STRATACACHE_WB_SET : STRATACACHE_WB_DELETE;
  return writer(ctx, op, kind, w.key.data(), w.key.size(), w.value.data.data(), w.value.data.size(),
                static_cast<int>(w.value.format), w.attempt);
}

// on_failure for the core: the host's callback, through the queue in queue mode
// (except abandoned writes, reported by close on its caller's thread).
std::function<void(const WriteOp&, const Status&)> failure_fn(const stratacache_wb_options& o) {
  if (!o.on_failure) return nullptr;
  auto tell = [cb = o.on_failure, ctx = o.failure_ctx](const WriteOp& w, const Status& st) noexcept {
    int kind = w.kind == WriteOp::Kind::kSet ? STRATACACHE_WB_SET : STRATACACHE_WB_DELETE;
    cb(ctx, kind, w.key.data(), w.key.size(), w.value.data.data(), w.value.data.size(), static_cast<int>(w.value.format),
       code_of(st.code()), st.message().c_str());
  };
  if (!o.queue) return tell;
  return [tell, queue = o.queue](const WriteOp& w, const Status& st) {
    if (st.code() == StatusCode::kAborted) return tell(w, st);
    Completion c;
    c.task = [tell, w, st](bool delivered) {
      if (delivered) tell(w, st);
    };
    queue->push(std::move(c));
  };
}

}  // namespace

extern "C" {

int stratacache_wb_options_new(stratacache_wb_options** out) {
  return guarded([&] {
    clear_out<stratacache_wb_options*>(out, nullptr);
    REQUIRE_ARG(out, "out");
    *out = new stratacache_wb_options();
    return STRATACACHE_OK;
  });
}

int stratacache_wb_options_set(stratacache_wb_options* opts, const char* name, const char* value) {
  return guarded([&] {
    REQUIRE_ARG(opts, "opts");
    REQUIRE_ARG(name, "name");
    REQUIRE_ARG(value, "value");
    std::string n(name);
    char* end = nullptr;
    errno = 0;
    double d = std::strtod(value, &end);
    bool number = end != value && *end == '\0' && errno == 0;
    bool whole = number && d == static_cast<double>(static_cast<int64_t>(d));
    auto bad = [&] { return fail(STRATACACHE_EINVAL, "write-behind option '" + n + "': bad value '" + value + "'"); };
    WriteBehindOptions& o = opts->options;
    if (n == "backoff_jitter") {
      if (!number || d < 0 || d > 1) return bad();
      o.backoff_jitter = d;
      return STRATACACHE_OK;
    }
    if (!whole || d < 0 || d > 1e12) return bad();
    auto v = static_cast<int64_t>(d);
    if (n == "max_pending") {
      if (v < 1) return bad();
      o.max_pending = static_cast<size_t>(v);
    } else if (n == "max_retries") {
      if (v > 1000000) return bad();
      o.max_retries = static_cast<int>(v);
    } else if (n == "backoff_initial_ms") {
      o.backoff_initial = Millis(v);
    } else if (n == "backoff_max_ms") {
      o.backoff_max = Millis(v);
    } else if (n == "workers") {
      if (v > 256) return bad();
      o.workers = static_cast<int>(v);
    } else if (n == "close_timeout_ms") {
      o.close_timeout = Millis(v);
    } else {
      return fail(STRATACACHE_EINVAL, "unknown write-behind option '" + n + "'");
    }
    return STRATACACHE_OK;
  });
}

int stratacache_wb_options_set_queue(stratacache_wb_options* opts, stratacache_queue* queue) {
  return guarded([&] {
    REQUIRE_ARG(opts, "opts");
    opts->queue = queue ? queue->core : nullptr;
    return STRATACACHE_OK;
  });
}

int stratacache_wb_options_set_failure(stratacache_wb_options* opts, stratacache_wb_failure on_failure, void* ctx) {
  return guarded([&] {
    REQUIRE_ARG(opts, "opts");
    opts->on_failure = on_failure;
    opts->failure_ctx = ctx;
    return STRATACACHE_OK;
  });
}

void stratacache_wb_options_free(stratacache_wb_options* opts) { delete opts; }

int stratacache_write_behind_open(stratacache_write_behind** out, stratacache_cache* cache,
                                  const stratacache_wb_options* opts, stratacache_wb_writer writer, void* ctx) {
  return guarded([&] {
    clear_out<stratacache_write_behind*>(out, nullptr);
    REQUIRE_ARG(out, "out");
    ENTER(cache);
    REQUIRE_ARG(writer, "writer");
    static const stratacache_wb_options kDefaults;
    const stratacache_wb_options& o = opts ? *opts : kDefaults;
    WriteBehindOptions options = o.options;
    options.on_failure = failure_fn(o);
    Result<std::unique_ptr<WriteBehind>> wb = invalid_argument("unset");
    if (options.workers == 0) {
      if (!o.queue) return fail(STRATACACHE_EINVAL, "write-behind workers = 0 needs a queue (stratacache_wb_options_set_queue)");
      wb = WriteBehind::open(
          *use,
          AsyncWriter([writer, ctx, queue = o.queue](const WriteOp& w, WriteAck ack) {
            Completion c;
            auto* op = new stratacache_wb_op{w, std::move(ack)};
            c.task = [writer, ctx, op](bool delivered) {
              if (!delivered) return stratacache_write_behind_ack(op, STRATACACHE_EUNAVAILABLE, "the queue was freed");
              int rc = call_writer(writer, ctx, op, op->op);
              if (rc != STRATACACHE_WB_PENDING) stratacache_write_behind_ack(op, rc, nullptr);
            };
            queue->push(std::move(c));
          }),
          std::move(options));
    } else {
      wb = WriteBehind::open(
          *use,
          Writer([writer, ctx](const WriteOp& w) {
            // A writer that answers through the op (PENDING) is waited for on this worker.
            auto answer = std::make_shared<std::promise<Status>>();
            auto* op = new stratacache_wb_op{w, [answer](Status st) { answer->set_value(std::move(st)); }};
            int rc = call_writer(writer, ctx, op, op->op);
            if (rc == STRATACACHE_WB_PENDING) return answer->get_future().get();
            delete op;
            return writer_status(rc, nullptr);
          }),
          std::move(options));
    }
    if (!wb) return report(wb.status());
    auto* h = new stratacache_write_behind();
    h->cache_shell = use.shell();
    h->cache_shell->state.fetch_add(1, std::memory_order_acq_rel);  // the pin, released by close
    h->shell = h->cache_shell;
    h->wb = std::move(wb).value();
    *out = h;
    return STRATACACHE_OK;
  });
}

int stratacache_write_behind_set(stratacache_write_behind* wb, const void* key, size_t key_len, const void* value,
                                 size_t value_len, int format, const stratacache_callopts* co) {
  return guarded(co, [&] {
    REQUIRE_ARG(wb, "wb");
    InUse use(wb->cache_shell);
    if (!use) return fail(STRATACACHE_ECLOSED, "cache is closed");
    REQUIRE_BYTES(key, key_len, "key");
    REQUIRE_BYTES(value, value_len, "value");
    if (int rc = check_format(format, "format")) return rc;
    return report(wb->wb->write(bytes(key, key_len),
                                Payload{static_cast<Format>(format), std::string(bytes(value, value_len))},
                                call_of(co)));
  });
}

int stratacache_write_behind_delete(stratacache_write_behind* wb, const void* key, size_t key_len,
                                    const stratacache_callopts* co) {
  return guarded(co, [&] {
    REQUIRE_ARG(wb, "wb");
    InUse use(wb->cache_shell);
    if (!use) return fail(STRATACACHE_ECLOSED, "cache is closed");
    REQUIRE_BYTES(key, key_len, "key");
    return report(wb->wb->remove(bytes(key, key_len), call_of(co)));
  });
}

void stratacache_write_behind_ack(stratacache_wb_op* op, int status, const char* message) {
  if (!op) return;
  std::unique_ptr<stratacache_wb_op> owned(op);
  try {
    owned->ack(writer_status(status, message));
  } catch (...) {  // out of memory building the status: the write stays active until close abandons it
  }
}

int stratacache_write_behind_flush(stratacache_write_behind* wb, int64_t timeout_ms) {
  return guarded([&] {
    REQUIRE_ARG(wb, "wb");
    Millis t = timeout_ms < 0 ? Millis::max() : Millis(timeout_ms);
    return report(wb->wb->flush(t));
  });
}

int stratacache_write_behind_close(stratacache_write_behind* wb, int64_t timeout_ms) {
  return guarded([&] {
    REQUIRE_ARG(wb, "wb");
    Status st = wb->wb->close(Millis(timeout_ms));  // < 0: close_timeout_ms
    if (stratacache_cache* shell = wb->shell.exchange(nullptr)) leave(shell);
    return report(st);
  });
}

void stratacache_write_behind_free(stratacache_write_behind* wb) {
  if (!wb) return;
  if (wb->shell.load()) (void)stratacache_write_behind_close(wb, -1);
  delete wb;
}

int stratacache_write_behind_stat(uint64_t* out_value, const stratacache_write_behind* wb, const char* name) {
  return guarded([&] {
    clear_out<uint64_t>(out_value, 0);
    REQUIRE_ARG(out_value, "out_value");
    REQUIRE_ARG(wb, "wb");
    REQUIRE_ARG(name, "name");
    CacheStats s;
    s.write_behind = wb->wb->stats();
    std::string full = std::string("write_behind.") + name;
    for (size_t i = 0; i < kCounterCount; ++i) {
      const Counter& c = kCounters[i];
      if (full == c.name) {
        *out_value = c.read(s);
        return STRATACACHE_OK;
      }
    }
    return fail(STRATACACHE_EINVAL, std::string("unknown write-behind statistic '") + name + "'");
  });
}

int stratacache_write_behind_last_error(char** out_message, size_t* out_len, const stratacache_write_behind* wb) {
  return guarded([&] {
    clear_out<char*>(out_message, nullptr);
    clear_out<size_t>(out_len, 0);
    REQUIRE_ARG(out_message, "out_message");
    REQUIRE_ARG(wb, "wb");
    void* buf = nullptr;
    if (int rc = give_buffer(&buf, out_len, wb->wb->last_error())) return rc;
    *out_message = static_cast<char*>(buf);
    return STRATACACHE_OK;
  });
}

}  // extern "C"

// ==== Tags and dependencies (added in 0.4; docs/tags.md) ====

extern "C" {

int stratacache_callopts_set_tags(stratacache_callopts* co, const void* const* tags, const size_t* lens, size_t n) {
  return guarded([&] {
    REQUIRE_ARG(co, "co");
    std::vector<std::string> names;
    if (int rc = gather_keys(&names, tags, lens, n, "tags")) return rc;
    co->load.tags = names;  // read-through fills carry them too
    co->call.tags = std::move(names);
    return STRATACACHE_OK;
  });
}

int stratacache_callopts_set_depends_on(stratacache_callopts* co, const void* const* keys, const size_t* lens,
                                        size_t n) {
  return guarded([&] {
    REQUIRE_ARG(co, "co");
    std::vector<std::string> parents;
    if (int rc = gather_keys(&parents, keys, lens, n, "keys")) return rc;
    co->call.depends_on = std::move(parents);
    return STRATACACHE_OK;
  });
}

int stratacache_invalidate_tags(int64_t* out_removed, stratacache_cache* cache, const void* const* tags,
                                const size_t* lens, size_t n, const stratacache_callopts* co) {
  return guarded(co, [&] {
    clear_out<int64_t>(out_removed, 0);
    ENTER(cache);
    std::vector<std::string> names;
    if (int rc = gather_keys(&names, tags, lens, n, "tags")) return rc;
    auto r = use->invalidate_tags(names, call_of(co));
    if (!r) return report(r.status());
    if (out_removed) *out_removed = *r;
    return STRATACACHE_OK;
  });
}

int stratacache_submit_invalidate_tags(stratacache_cache* cache, const void* const* tags, const size_t* lens, size_t n,
                                       const stratacache_callopts* co, stratacache_queue* queue,
                                       stratacache_callback done, void* payload) {
  return guarded(co, [&] {
    ENTER(cache);
    std::vector<std::string> names;
    if (int rc = gather_keys(&names, tags, lens, n, "tags")) return rc;
    Target t;
    if (int rc = make_target(&t, use, queue, done, payload)) return rc;
    use->invalidate_tags_async(names, call_of(co), completion_fn<Result<int64_t>>(std::move(t), completion_count));
    return STRATACACHE_OK;
  });
}

}  // extern "C"

// ==== Distributed locks (added in 0.4; docs/locks.md) ====

// A lock given to the host pins its handle from creation until it is consumed, as a
// lease does: the C++ lock points into the Cache. Destroying it releases the lock if it
// is still held (best effort, without waiting).
struct stratacache_lock : HandlePin {
  stratacache_lock(const InUse& use, std::unique_ptr<DistributedLock> l) noexcept : HandlePin(use), lock(std::move(l)) {}
  std::unique_ptr<DistributedLock> lock;  // destroyed (a held lock released) before the pin goes
};

namespace {

using LockResult = Result<std::unique_ptr<DistributedLock>>;

int lock_options_of(LockOptions* out, int64_t ttl_ms, int64_t wait_ms, const stratacache_callopts* co) {
  if (ttl_ms <= 0) return fail(STRATACACHE_EINVAL, "argument 'ttl_ms' must be > 0, got " + std::to_string(ttl_ms));
  if (wait_ms < 0) return fail(STRATACACHE_EINVAL, "argument 'wait_ms' must be >= 0, got " + std::to_string(wait_ms));
  const CallOptions& call = call_of(co);
  if (call.skip_l2) return fail(STRATACACHE_EUNSUPPORTED, "STRATACACHE_SKIP_L2 is not supported by locks");
  out->ttl = Millis(ttl_ms);
  out->wait = Millis(wait_ms);
  out->timeout = call.timeout;
  return STRATACACHE_OK;
}

// acquire's outcome as a completion (the sync call reads its out-parameters from it):
// the lock wrapped, pinning the handle, unless the handle was closed meanwhile (then the
// lock is released here, inside the Cache's own completion). count carries the fence.
Completion completion_lock(LockResult r, stratacache_cache* shell) {
  if (!r) return completion_of(r.status());
  InUse use(shell);
  if (!use) {
    r->reset();
    return completion_of(Status(StatusCode::kUnavailable, "the cache was closed"));
  }
  Completion c;
  c.count = static_cast<int64_t>((*r)->fence());
  c.lock = new stratacache_lock(use, std::move(*r));
  return c;
}

// The lock's handle, or ECLOSED.
#define ENTER_LOCK(lock_arg, owner)                                  \
  InUse use((owner)->shell);                                         \
  if (!use) return fail(STRATACACHE_ECLOSED, "cache is closed (the lock expires by its TTL)")

}  // namespace

extern "C" {

int stratacache_lock_acquire(stratacache_lock** out, uint64_t* out_fence, stratacache_cache* cache, const void* name,
                             size_t name_len, int64_t ttl_ms, int64_t wait_ms, const stratacache_callopts* co) {
  return guarded(co, [&] {
    clear_out<stratacache_lock*>(out, nullptr);
    clear_out<uint64_t>(out_fence, 0);
    REQUIRE_ARG(out, "out");
    ENTER(cache);
    REQUIRE_BYTES(name, name_len, "name");
    LockOptions options;
    if (int rc = lock_options_of(&options, ttl_ms, wait_ms, co)) return rc;
    Completion c = completion_lock(use->lock(bytes(name, name_len), options), use.shell());
    if (c.status != STRATACACHE_OK) return fail(c.status, std::move(c.message));
    clear_out<uint64_t>(out_fence, static_cast<uint64_t>(c.count));
    *out = std::exchange(c.lock, nullptr);
    return STRATACACHE_OK;
  });
}

uint64_t stratacache_lock_fence(const stratacache_lock* lock) { return lock ? lock->lock->fence() : 0; }

int stratacache_lock_extend(stratacache_lock* lock, int64_t ttl_ms) {
  return guarded([&] {
    REQUIRE_ARG(lock, "lock");
    ENTER_LOCK(lock, lock);
    return report(lock->lock->extend(Millis(ttl_ms)));
  });
}

int stratacache_lock_release(stratacache_lock* lock) {
  return guarded([&] {
    REQUIRE_ARG(lock, "lock");
    std::unique_ptr<stratacache_lock> owned(lock);  // consumed in every case
    ENTER_LOCK(lock, owned);
    return report(owned->lock->release());
  });
}

void stratacache_lock_free(stratacache_lock* lock) {
  if (!lock) return;  // without touching the last error: completions call this on their way out
  (void)guarded([&] {
    delete lock;
    return STRATACACHE_OK;
  });
}

int stratacache_submit_lock_acquire(stratacache_cache* cache, const void* name, size_t name_len, int64_t ttl_ms,
                                    int64_t wait_ms, const stratacache_callopts* co, stratacache_queue* queue,
                                    stratacache_lock_callback done, void* payload) {
  return guarded(co, [&] {
    ENTER(cache);
    REQUIRE_BYTES(name, name_len, "name");
    LockOptions options;
    if (int rc = lock_options_of(&options, ttl_ms, wait_ms, co)) return rc;
    Target t;
    if (int rc = make_target(&t, use, queue, done, payload)) return rc;
    stratacache_cache* shell = use.shell();
    use->lock_async(bytes(name, name_len), options, completion_fn<LockResult>(std::move(t), [shell](LockResult r) {
                      return completion_lock(std::move(r), shell);
                    }));
    return STRATACACHE_OK;
  });
}

int stratacache_submit_lock_extend(stratacache_lock* lock, int64_t ttl_ms, stratacache_queue* queue,
                                   stratacache_callback done, void* payload) {
  return guarded([&] {
    REQUIRE_ARG(lock, "lock");
    ENTER_LOCK(lock, lock);
    Target t;
    if (int rc = make_target(&t, use, queue, done, payload)) return rc;
    lock->lock->extend_async(Millis(ttl_ms), completion_fn<Status>(std::move(t), completion_of));
    return STRATACACHE_OK;
  });
}

int stratacache_submit_lock_release(stratacache_lock* lock, stratacache_queue* queue, stratacache_callback done,
                                    void* payload) {
  return guarded([&] {
    REQUIRE_ARG(lock, "lock");
    std::shared_ptr<stratacache_lock> held(lock);  // consumed in every case
    ENTER_LOCK(lock, held);
    Target t;
    if (int rc = make_target(&t, use, queue, done, payload)) return rc;
    DistributedLock& l = *held->lock;
    auto deliver = completion_fn<Status>(std::move(t), completion_of);
    l.release_async([deliver = std::move(deliver), held = std::move(held)](Status s) { deliver(std::move(s)); });
    return STRATACACHE_OK;
  });
}

}  // extern "C"
