#include "register_cache.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "args.hpp"
#include "convert.hpp"
#include "errors.hpp"
#include "pyref.hpp"
#include "register_tags.hpp"
#include "stratacache.h"
#include "value_types.hpp"

namespace stratacache::python {

namespace {

struct CacheObject {
  PyObject_HEAD
  stratacache_cache* handle;            // nullptr once closed
  stratacache_callopts* flag_opts[4];   // reusable per-call options by STRATACACHE_SKIP_* flags; [0] = NULL
  PyObject* url;                        // str
  PyObject* serializer;                 // str
  int format;                           // STRATACACHE_FORMAT_* that set() writes
  int in_flight;                        // calls inside the C ABI; changed only with the GIL held
  bool l2_enabled;
  unsigned long long decode_errors;     // stored values this binding could not decode
};

struct Signatures {
  Signature get{"get", {"key", "skip_l1", "skip_l2", "timeout"}, 1, 1};
  Signature get_many{"get_many", {"keys", "skip_l1", "skip_l2", "timeout"}, 1, 1};
  Signature warm{"warm", {"keys", "skip_l1", "skip_l2", "timeout"}, 1, 1};
  Signature set{"set", {"key", "value", "ttl", "skip_l1", "skip_l2", "timeout", "tags", "depends_on"}, 3, 2};
  Signature set_many{"set_many", {"items", "ttl", "skip_l1", "skip_l2", "timeout", "tags", "depends_on"}, 2, 1};
  Signature invalidate_tags{"invalidate_tags", {"tags", "timeout"}, 1, 1};
  Signature del{"delete", {"keys", "skip_l1", "skip_l2", "timeout"}, 1, 1};
  Signature exists{"exists", {"key", "skip_l1", "skip_l2", "timeout"}, 1, 1};
  Signature ttl{"ttl", {"key", "skip_l1", "skip_l2", "timeout"}, 1, 1};
  Signature increment{"increment", {"key", "amount", "ttl", "skip_l1", "skip_l2", "timeout"}, 3, 1};
  Signature clear_pattern{"clear_pattern", {"pattern", "skip_l1", "skip_l2", "timeout"}, 1, 1};
  Signature health{"health", {"timeout"}, 1, 0};
  Signature inspect{"inspect", {"key", "skip_l1", "skip_l2", "timeout"}, 1, 1};
  Signature count_pattern{"count_pattern", {"pattern", "skip_l1", "skip_l2", "timeout"}, 1, 1};
  Signature server_info{"server_info", {"timeout"}, 1, 0};
  Signature acquire{"acquire",
                    {"key", "ttl", "stale_ttl", "negative_ttl", "early_refresh", "soft_timeout", "timeout",
                     "lease_ttl", "lock", "skip_l1", "tags"},
                    1, 1};
  Signature fill{"fill", {"value", "ttl"}, 2, 1};
  Signature abandon{"abandon", {"message", "retry"}, 1, 0};
};
const Signatures* g_sig = nullptr;

PyObject* closed_error() {
  PyErr_SetString(g_errors.cache, "cache is closed");
  return nullptr;
}

struct CalloptsDeleter {
  void operator()(stratacache_callopts* co) const { stratacache_callopts_free(co); }
};
using CalloptsPtr = std::unique_ptr<stratacache_callopts, CalloptsDeleter>;

// Runs body(handle, co) with the GIL released. False (exception set) if the cache is
// closed. Call it after converting the arguments: conversion may run Python code,
// which may close the cache.
template <typename F>
bool run(CacheObject* self, const stratacache_callopts* co, int* rc, F&& body) {
  stratacache_cache* h = self->handle;
  if (!h) {
    closed_error();
    return false;
  }
  ++self->in_flight;
  PyThreadState* ts = PyEval_SaveThread();
  *rc = body(h, co);
  PyEval_RestoreThread(ts);
  --self->in_flight;
  return true;
}

// The same with the callopts of cs: the handle's shared ones, or its own for a timeout.
template <typename F>
bool run(CacheObject* self, const CallSettings& cs, int* rc, F&& body) {
  if (!self->handle) {  // flag_opts are gone once closed
    closed_error();
    return false;
  }
  const stratacache_callopts* co = self->flag_opts[cs.flags & 3u];
  CalloptsPtr own;
  if (cs.own()) {
    stratacache_callopts* raw = nullptr;
    if (stratacache_callopts_new(&raw) != STRATACACHE_OK) {
      PyErr_NoMemory();
      return false;
    }
    own.reset(raw);
    stratacache_callopts_set_flags(raw, cs.flags);
    stratacache_callopts_set_timeout_ms(raw, cs.timeout_ms);
    if (int rc = apply_tags(raw, cs)) {
      raise_code(rc, Origin::kOperation);
      return false;
    }
    co = raw;
  }
  return run(self, co, rc, std::forward<F>(body));
}

// A stored value: decoded by the format stored with it. A value that does not decode
// (written by another program, say) is a miss, counted in stats()["decode_errors"],
// as the core does.
PyObject* decode_value(CacheObject* self, const void* data, size_t len, int format) {
  PyObject* v = nullptr;
  const char* p = static_cast<const char*>(data);
  switch (format) {
    case STRATACACHE_FORMAT_RAW: return PyBytes_FromStringAndSize(p, static_cast<Py_ssize_t>(len));
    case STRATACACHE_FORMAT_MSGPACK: v = msgpack_decode(p, len); break;
    case STRATACACHE_FORMAT_JSON: v = json_decode(p, len); break;
    default: PyErr_Format(PyExc_ValueError, "unknown value format %d", format);
  }
  if (v) return v;
  if (PyErr_ExceptionMatches(PyExc_MemoryError) || !PyErr_ExceptionMatches(PyExc_Exception)) return nullptr;
  PyErr_Clear();
  ++self->decode_errors;
  return new_ref(g_types.missing);
}

// The bytes set() stores: encoded by the handle's serializer, or a raw value's buffer.
class EncodedValue {
 public:
  EncodedValue() = default;
  EncodedValue(const EncodedValue&) = delete;
  EncodedValue& operator=(const EncodedValue&) = delete;
  ~EncodedValue() {
    if (view_.obj) PyBuffer_Release(&view_);
  }

  // copy_raw: copy a raw value's bytes rather than hold its buffer.
  bool encode(CacheObject* self, PyObject* value, const std::string& root, bool copy_raw = false) {
    format_ = self->format;
    switch (format_) {
      case STRATACACHE_FORMAT_MSGPACK: return msgpack_encode(value, owned_, root);
      case STRATACACHE_FORMAT_JSON: return json_encode(value, owned_, root);
      default: break;
    }
    if (PyObject_GetBuffer(value, &view_, PyBUF_CONTIG_RO) < 0) {
      view_.obj = nullptr;
      PyErr_Format(PyExc_TypeError, "serializer 'raw' stores bytes-like values, not '%.200s' (at %s)",
                   Py_TYPE(value)->tp_name, root.c_str());
      return false;
    }
    if (copy_raw) {
      owned_.assign(static_cast<const char*>(view_.buf), static_cast<size_t>(view_.len));
      PyBuffer_Release(&view_);
      view_.obj = nullptr;
    }
    return true;
  }
  const char* data() const { return view_.obj ? static_cast<const char*>(view_.buf) : owned_.data(); }
  size_t size() const { return view_.obj ? static_cast<size_t>(view_.len) : owned_.size(); }
  int format() const { return format_; }

 private:
  std::string owned_;
  Py_buffer view_{};
  int format_ = STRATACACHE_FORMAT_RAW;
};

// Keys of a multi-key call, each kept alive while the GIL is released.
struct KeyList {
  std::vector<PyRef> objects;
  std::vector<const void*> data;
  std::vector<size_t> sizes;

  bool add(PyObject* key, const char* what) {
    KeyView k;
    if (!key_view(key, &k, what)) return false;
    objects.push_back(PyRef::borrow(key));
    data.push_back(k.data);
    sizes.push_back(static_cast<size_t>(k.size));
    return true;
  }
  // A sequence of keys; a single str or bytes is one key, not a sequence of characters.
  bool add_all(PyObject* keys) {
    if (PyUnicode_Check(keys) || PyBytes_Check(keys)) return add(keys, "key");
    PyRef seq = PyRef::steal(PySequence_Fast(keys, "keys must be a sequence of str or bytes"));
    if (!seq) return false;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq.get());
    objects.reserve(static_cast<size_t>(n));
    data.reserve(static_cast<size_t>(n));
    sizes.reserve(static_cast<size_t>(n));
    for (Py_ssize_t i = 0; i < n; ++i) {
      if (!add(PySequence_Fast_GET_ITEM(seq.get(), i), "key")) return false;
    }
    return true;
  }
};

// ---- construction ----

int parse_serializer(PyObject* name) {
  if (!name) return STRATACACHE_FORMAT_MSGPACK;
  if (PyUnicode_CompareWithASCIIString(name, "msgpack") == 0) return STRATACACHE_FORMAT_MSGPACK;
  if (PyUnicode_CompareWithASCIIString(name, "json") == 0) return STRATACACHE_FORMAT_JSON;
  if (PyUnicode_CompareWithASCIIString(name, "raw") == 0) return STRATACACHE_FORMAT_RAW;
  PyErr_Format(g_errors.config, "serializer must be 'msgpack', 'json' or 'raw', not %R", name);
  return -1;
}

struct OptionsDeleter {
  void operator()(stratacache_options* o) const { stratacache_options_free(o); }
};
using OptionsPtr = std::unique_ptr<stratacache_options, OptionsDeleter>;

bool apply_options(stratacache_options* opts, PyObject* options) {
  if (!options || options == Py_None) return true;
  if (!PyDict_Check(options)) {
    PyErr_Format(PyExc_TypeError, "options must be a dict of str to str, not '%.200s'", Py_TYPE(options)->tp_name);
    return false;
  }
  Py_ssize_t pos = 0;
  PyObject *k, *v;
  while (PyDict_Next(options, &pos, &k, &v)) {
    if (!PyUnicode_Check(k)) {
      PyErr_Format(PyExc_TypeError, "options keys must be str, not '%.200s'", Py_TYPE(k)->tp_name);
      return false;
    }
    PyRef text;
    if (PyUnicode_Check(v)) {
      text = PyRef::borrow(v);
    } else if ((PyLong_Check(v) && !PyBool_Check(v)) || PyFloat_Check(v)) {
      text = PyRef::steal(PyObject_Str(v));
      if (!text) return false;
    } else {
      PyErr_Format(PyExc_TypeError, "option %R must be a str, not '%.200s'", k, Py_TYPE(v)->tp_name);
      return false;
    }
    const char* name = PyUnicode_AsUTF8(k);
    const char* value = name ? PyUnicode_AsUTF8(text.get()) : nullptr;
    if (!value) return false;
    int rc = stratacache_options_set(opts, name, value);
    if (rc != STRATACACHE_OK) {
      raise_code(rc, Origin::kOpen);
      return false;
    }
  }
  return true;
}

bool apply_keys(stratacache_options* opts, PyObject* keys) {
  if (!keys || keys == Py_None) return true;
  PyRef seq = PyRef::steal(PySequence_Fast(keys, "keys must be a list of (id, 32-byte key, primary) tuples"));
  if (!seq) return false;
  Py_ssize_t n = PySequence_Fast_GET_SIZE(seq.get());
  for (Py_ssize_t i = 0; i < n; ++i) {
    PyObject* item = PySequence_Fast_GET_ITEM(seq.get(), i);
    if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 3) {
      PyErr_Format(PyExc_TypeError, "keys[%zd] must be a tuple (id, 32-byte key, primary)", i);
      return false;
    }
    unsigned long id = PyLong_Check(PyTuple_GET_ITEM(item, 0)) ? PyLong_AsUnsignedLong(PyTuple_GET_ITEM(item, 0))
                                                               : static_cast<unsigned long>(-1);
    if (id > UINT32_MAX) {
      PyErr_Clear();
      PyErr_Format(g_errors.config, "keys[%zd]: id must be an int in 0..4294967295", i);
      return false;
    }
    PyObject* key = PyTuple_GET_ITEM(item, 1);
    if (!PyBytes_Check(key)) {
      PyErr_Format(PyExc_TypeError, "keys[%zd]: key must be bytes, not '%.200s'", i, Py_TYPE(key)->tp_name);
      return false;
    }
    int primary = PyObject_IsTrue(PyTuple_GET_ITEM(item, 2));
    if (primary < 0) return false;
    int rc = stratacache_options_add_key(opts, static_cast<uint32_t>(id), PyBytes_AS_STRING(key),
                                         static_cast<size_t>(PyBytes_GET_SIZE(key)), primary);
    if (rc != STRATACACHE_OK) {
      raise_code(rc, Origin::kOpen);
      return false;
    }
  }
  return true;
}

PyObject* cache_new(PyTypeObject* type, PyObject* args, PyObject* kwds) {
  static const char* kwlist[] = {"url", "options", "keys", "serializer", "shared", nullptr};
  PyObject *url = nullptr, *options = nullptr, *keys = nullptr, *serializer = nullptr, *shared = nullptr;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "U|$OOUO:NativeCache", const_cast<char**>(kwlist), &url, &options,
                                   &keys, &serializer, &shared)) {
    return nullptr;
  }
  const char* shared_name = nullptr;
  if (shared && shared != Py_None) {
    if (!PyUnicode_Check(shared)) {
      PyErr_Format(PyExc_TypeError, "shared must be a str, not '%.200s'", Py_TYPE(shared)->tp_name);
      return nullptr;
    }
    Py_ssize_t name_len = 0;
    shared_name = PyUnicode_AsUTF8AndSize(shared, &name_len);
    if (!shared_name) return nullptr;
    if (std::strlen(shared_name) != static_cast<size_t>(name_len)) {
      PyErr_SetString(g_errors.config, "shared contains a NUL character");
      return nullptr;
    }
  }
  int format = parse_serializer(serializer);
  if (format < 0) return nullptr;
  Py_ssize_t url_len = 0;
  const char* url_text = PyUnicode_AsUTF8AndSize(url, &url_len);
  if (!url_text) return nullptr;
  if (std::strlen(url_text) != static_cast<size_t>(url_len)) {
    PyErr_SetString(g_errors.config, "url contains a NUL character");
    return nullptr;
  }

  stratacache_options* raw_opts = nullptr;
  int rc = stratacache_options_from_url(&raw_opts, url_text);
  if (rc != STRATACACHE_OK) return raise_code(rc, Origin::kOpen);
  OptionsPtr opts(raw_opts);
  if (!apply_options(opts.get(), options) || !apply_keys(opts.get(), keys)) return nullptr;

  stratacache_cache* handle = nullptr;
  Py_BEGIN_ALLOW_THREADS
  rc = shared_name ? stratacache_open_shared_with(&handle, shared_name, opts.get())
                   : stratacache_open_with(&handle, opts.get());
  Py_END_ALLOW_THREADS
  if (rc != STRATACACHE_OK) return raise_code(rc, Origin::kOpen);

  auto* self = reinterpret_cast<CacheObject*>(type->tp_alloc(type, 0));
  if (!self) {
    stratacache_close(handle);
    return nullptr;
  }
  self->handle = handle;
  for (uint32_t f = 1; f < 4; ++f) {
    if (stratacache_callopts_new(&self->flag_opts[f]) != STRATACACHE_OK) {
      Py_DECREF(self);
      return PyErr_NoMemory();
    }
    stratacache_callopts_set_flags(self->flag_opts[f], f);
  }
  self->url = new_ref(url);
  self->serializer = format == STRATACACHE_FORMAT_MSGPACK ? PyUnicode_FromString("msgpack")
                     : format == STRATACACHE_FORMAT_JSON  ? PyUnicode_FromString("json")
                                                          : PyUnicode_FromString("raw");
  self->format = format;
  self->l2_enabled = std::strncmp(url_text, "mem:", 4) != 0;
  return reinterpret_cast<PyObject*>(self);
}

// Closes the handle once no call is inside the C ABI any more.
void close_handle(CacheObject* self, bool wait_for_calls) {
  stratacache_cache* h = self->handle;
  if (!h) return;
  self->handle = nullptr;  // new calls fail from now on
  while (wait_for_calls && self->in_flight > 0) {
    Py_BEGIN_ALLOW_THREADS
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    Py_END_ALLOW_THREADS
  }
  Py_BEGIN_ALLOW_THREADS
  stratacache_close(h);
  Py_END_ALLOW_THREADS
  for (auto*& co : self->flag_opts) {
    stratacache_callopts_free(co);
    co = nullptr;
  }
}

void cache_dealloc(PyObject* o) {
  auto* self = reinterpret_cast<CacheObject*>(o);
  PyTypeObject* tp = Py_TYPE(o);
  close_handle(self, /*wait_for_calls=*/false);  // unreachable: no call can be running
  Py_XDECREF(self->url);
  Py_XDECREF(self->serializer);
  tp->tp_free(o);
  Py_DECREF(tp);
}

PyObject* cache_repr(PyObject* o) {
  auto* self = reinterpret_cast<CacheObject*>(o);
  return PyUnicode_FromFormat("<NativeCache %R serializer=%R%s>", self->url, self->serializer,
                              self->handle ? "" : " closed");
}

// ---- requests ----
//
// Each operation parses its arguments once, into a request that serves both forms:
// the synchronous method NativeCache.X(...) and the submission
// NativeCache.X_async(completer, future, ...) (same arguments after the first two).

using Args = PyObject* const*;

// key, *, skip_l1, skip_l2, timeout: get, exists, ttl, clear_pattern. A fast path for a
// lone positional argument.
struct KeyRequest {
  KeyView key;
  CallSettings cs;

  bool parse(const Signature& sig, Args args, Py_ssize_t nargs, PyObject* kwnames, const char* what = "key") {
    if (nargs == 1 && !kwnames) return key_view(args[0], &key, what);
    PyObject* a[4];
    return sig.parse(args, nargs, kwnames, a) && key_view(a[0], &key, what) &&
           parse_call_settings(a[1], a[2], a[3], &cs);
  }
  size_t size() const { return static_cast<size_t>(key.size); }
};

// keys, *, skip_l1, skip_l2, timeout: get_many, delete.
struct KeysRequest {
  KeyList keys;
  CallSettings cs;

  bool parse(const Signature& sig, Args args, Py_ssize_t nargs, PyObject* kwnames) {
    PyObject* a[4];
    return sig.parse(args, nargs, kwnames, a) && parse_call_settings(a[1], a[2], a[3], &cs) && keys.add_all(a[0]);
  }
};

// key, value, ttl=None, *, skip_l1, skip_l2, timeout.
struct SetRequest {
  KeyView key;
  EncodedValue value;
  int64_t ttl_ms = STRATACACHE_TTL_DEFAULT;
  CallSettings cs;

  bool parse(CacheObject* self, Args args, Py_ssize_t nargs, PyObject* kwnames) {
    PyObject* a[8] = {};
    if (nargs == 2 && !kwnames) {
      a[0] = args[0];
      a[1] = args[1];
    } else if (!g_sig->set.parse(args, nargs, kwnames, a) ||
               !seconds_to_ms(a[2], "ttl", STRATACACHE_TTL_DEFAULT, &ttl_ms) ||
               !parse_call_settings(a[3], a[4], a[5], &cs) || !parse_names(a[6], "tags", &cs.tags) ||
               !parse_names(a[7], "depends_on", &cs.depends_on)) {
      return false;
    }
    return key_view(a[0], &key) && value.encode(self, a[1], "value");
  }
};

// items, ttl=None, *, skip_l1, skip_l2, timeout: a mapping or (key, value) pairs.
struct SetManyRequest {
  KeyList keys;
  std::vector<std::string> encoded;
  std::vector<const void*> value_ptrs;
  std::vector<size_t> value_lens;
  std::vector<int> formats;
  int64_t ttl_ms = STRATACACHE_TTL_DEFAULT;
  CallSettings cs;

  bool parse(CacheObject* self, Args args, Py_ssize_t nargs, PyObject* kwnames) {
    PyObject* a[7];
    if (!g_sig->set_many.parse(args, nargs, kwnames, a) ||
        !seconds_to_ms(a[1], "ttl", STRATACACHE_TTL_DEFAULT, &ttl_ms) || !parse_call_settings(a[2], a[3], a[4], &cs) ||
        !parse_names(a[5], "tags", &cs.tags) || !parse_names(a[6], "depends_on", &cs.depends_on)) {
      return false;
    }
    // A mapping gives its items(); otherwise a sequence of (key, value) pairs.
    PyObject* items = a[0];
    PyRef listed;
    if (PyDict_Check(items) || (!PySequence_Check(items) && PyMapping_Check(items))) {
      listed = PyRef::steal(PyMapping_Items(items));
      if (!listed) return false;
      items = listed.get();
    }
    PyRef seq = PyRef::steal(PySequence_Fast(items, "items must be a mapping or a sequence of (key, value) pairs"));
    if (!seq) return false;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq.get());
    encoded.resize(static_cast<size_t>(n));
    formats.assign(static_cast<size_t>(n), self->format);
    for (Py_ssize_t i = 0; i < n; ++i) {
      PyObject* pair = PySequence_Fast_GET_ITEM(seq.get(), i);
      if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
        PyErr_Format(PyExc_TypeError, "items[%zd] must be a (key, value) tuple, not '%.200s'", i,
                     Py_TYPE(pair)->tp_name);
        return false;
      }
      PyObject* k = PyTuple_GET_ITEM(pair, 0);
      if (!keys.add(k, "key")) return false;
      PyRef key_repr = PyRef::steal(PyObject_Repr(k));
      const char* kr = key_repr ? PyUnicode_AsUTF8(key_repr.get()) : nullptr;
      if (!kr) return false;
      EncodedValue value;
      if (!value.encode(self, PyTuple_GET_ITEM(pair, 1), std::string("items[") + kr + "]", /*copy_raw=*/true)) {
        return false;
      }
      encoded[static_cast<size_t>(i)].assign(value.data(), value.size());
    }
    for (const std::string& e : encoded) {
      value_ptrs.push_back(e.data());
      value_lens.push_back(e.size());
    }
    return true;
  }
};

// key, amount=1, ttl=None, *, skip_l1, skip_l2, timeout.
struct IncrementRequest {
  KeyView key;
  long long amount = 1;
  int64_t ttl_ms = STRATACACHE_TTL_DEFAULT;
  CallSettings cs;

  bool parse(Args args, Py_ssize_t nargs, PyObject* kwnames) {
    PyObject* a[6];
    if (!g_sig->increment.parse(args, nargs, kwnames, a) || !key_view(a[0], &key) ||
        !seconds_to_ms(a[2], "ttl", STRATACACHE_TTL_DEFAULT, &ttl_ms) || !parse_call_settings(a[3], a[4], a[5], &cs)) {
      return false;
    }
    if (a[1]) {
      if (!PyLong_Check(a[1])) {
        PyErr_Format(PyExc_TypeError, "amount must be int, not '%.200s'", Py_TYPE(a[1])->tp_name);
        return false;
      }
      amount = PyLong_AsLongLong(a[1]);  // OverflowError beyond 64 bits
      if (amount == -1 && PyErr_Occurred()) return false;
    }
    return true;
  }
};

// timeout=None.
// timeout=None only: health and server_info (a JSON document each).
struct TimeoutRequest {
  CallSettings cs;

  bool parse(const Signature& sig, Args args, Py_ssize_t nargs, PyObject* kwnames) {
    PyObject* a[1];
    return sig.parse(args, nargs, kwnames, a) && parse_call_settings(nullptr, nullptr, a[0], &cs);
  }
};

// A TTL in ms from the C ABI as Python sees it: seconds, -1.0 when it never expires.
PyObject* ttl_seconds(int64_t ms) { return PyFloat_FromDouble(ms < 0 ? -1.0 : static_cast<double>(ms) / 1000.0); }

// A JSON document from the C ABI (health, server_info, stats) as a dict.
PyObject* json_result(char* json, size_t len) {
  PyObject* v = json_decode(json, len);
  stratacache_free(json);
  return v;
}

// ---- synchronous methods ----

PyObject* cache_get(PyObject* o, Args args, Py_ssize_t nargs, PyObject* kwnames) {
  auto* self = reinterpret_cast<CacheObject*>(o);
  KeyRequest r;
  if (!r.parse(g_sig->get, args, nargs, kwnames)) return nullptr;
  void* buf = nullptr;
  size_t len = 0;
  int format = 0, rc = 0;
  if (!run(self, r.cs, &rc, [&](stratacache_cache* h, const stratacache_callopts* co) {
        return stratacache_get(&buf, &len, &format, h, r.key.data, r.size(), co);
      })) {
    return nullptr;
  }
  if (rc == STRATACACHE_ENOTFOUND) return new_ref(g_types.missing);
  if (rc != STRATACACHE_OK) return raise_code(rc, Origin::kOperation);
  PyObject* v = decode_value(self, buf, len, format);
  stratacache_free(buf);
  return v;
}

// warm's result: (found, [indices of missing keys], [indices of failed keys], error or
// None), from the per-key codes of stratacache_warm. The error is the exception the
// first failure would raise, not raised, so that the caller keeps what warmed.
PyObject* warm_outcome(const int32_t* codes, size_t n, int64_t found, int status, const char* message) {
  PyRef error = PyRef::borrow(Py_None);
  if (status != STRATACACHE_OK) {
    error = PyRef::steal(make_error(status, Origin::kOperation, message));
    if (!error) return nullptr;
  }
  PyRef missing = PyRef::steal(PyList_New(0));
  PyRef failed = PyRef::steal(PyList_New(0));
  if (!missing || !failed) return nullptr;
  for (size_t i = 0; i < n; ++i) {
    if (codes[i] == STRATACACHE_OK) continue;
    PyRef index = PyRef::steal(PyLong_FromSize_t(i));
    if (!index || PyList_Append(codes[i] == STRATACACHE_ENOTFOUND ? missing.get() : failed.get(), index.get()) < 0) {
      return nullptr;
    }
  }
  return Py_BuildValue("(LOOO)", static_cast<long long>(found), missing.get(), failed.get(), error.get());
}

PyObject* cache_warm(PyObject* o, Args args, Py_ssize_t nargs, PyObject* kwnames) {
  auto* self = reinterpret_cast<CacheObject*>(o);
  KeysRequest r;
  if (!r.parse(g_sig->warm, args, nargs, kwnames)) return nullptr;
  size_t n = r.keys.data.size();
  std::vector<int> codes(n, 0);
  size_t found = 0;
  int rc = 0;
  std::string message;
  if (!run(self, r.cs, &rc, [&](stratacache_cache* h, const stratacache_callopts* co) {
        int code = stratacache_warm(&found, nullptr, nullptr, codes.data(), h, r.keys.data.data(), r.keys.sizes.data(),
                                    n, nullptr, nullptr, co);
        if (code != STRATACACHE_OK) message = stratacache_last_error();
        return code;
      })) {
    return nullptr;
  }
  std::vector<int32_t> codes32(codes.begin(), codes.end());
  return warm_outcome(codes32.data(), n, static_cast<int64_t>(found), rc, message.c_str());
}

PyObject* cache_get_many(PyObject* o, Args args, Py_ssize_t nargs, PyObject* kwnames) {
  auto* self = reinterpret_cast<CacheObject*>(o);
  KeysRequest r;
  if (!r.parse(g_sig->get_many, args, nargs, kwnames)) return nullptr;
  KeyList& keys = r.keys;
  size_t n = keys.data.size();
  std::vector<void*> values(n, nullptr);
  std::vector<size_t> lens(n, 0);
  std::vector<int> formats(n, 0), codes(n, 0);
  int rc = 0;
  if (!run(self, r.cs, &rc, [&](stratacache_cache* h, const stratacache_callopts* co) {
        return stratacache_mget(values.data(), lens.data(), formats.data(), codes.data(), h, keys.data.data(),
                                keys.sizes.data(), n, co);
      })) {
    return nullptr;
  }
  struct Buffers {
    std::vector<void*>& v;
    ~Buffers() {
      for (void* p : v) stratacache_free(p);
    }
  } free_all{values};
  if (rc != STRATACACHE_OK) return raise_code(rc, Origin::kOperation);
  for (size_t i = 0; i < n; ++i) {
    if (codes[i] != STRATACACHE_OK && codes[i] != STRATACACHE_ENOTFOUND) return raise_code(codes[i], Origin::kOperation);
  }
  PyRef list = PyRef::steal(PyList_New(static_cast<Py_ssize_t>(n)));
  if (!list) return nullptr;
  for (size_t i = 0; i < n; ++i) {
    PyObject* v = codes[i] == STRATACACHE_OK ? decode_value(self, values[i], lens[i], formats[i]) : new_ref(g_types.missing);
    if (!v) return nullptr;
    PyList_SET_ITEM(list.get(), static_cast<Py_ssize_t>(i), v);
  }
  return list.release();
}

PyObject* cache_set(PyObject* o, Args args, Py_ssize_t nargs, PyObject* kwnames) {
  auto* self = reinterpret_cast<CacheObject*>(o);
  SetRequest r;
  if (!r.parse(self, args, nargs, kwnames)) return nullptr;
  int rc = 0;
  if (!run(self, r.cs, &rc, [&](stratacache_cache* h, const stratacache_callopts* co) {
        return stratacache_set(h, r.key.data, static_cast<size_t>(r.key.size), r.value.data(), r.value.size(),
                               r.value.format(), r.ttl_ms, co);
      })) {
    return nullptr;
  }
  if (rc != STRATACACHE_OK) return raise_code(rc, Origin::kOperation);
  Py_RETURN_NONE;
}

PyObject* cache_set_many(PyObject* o, Args args, Py_ssize_t nargs, PyObject* kwnames) {
  auto* self = reinterpret_cast<CacheObject*>(o);
  SetManyRequest r;
  if (!r.parse(self, args, nargs, kwnames)) return nullptr;
  int rc = 0;
  if (!run(self, r.cs, &rc, [&](stratacache_cache* h, const stratacache_callopts* co) {
        return stratacache_mset(h, r.keys.data.data(), r.keys.sizes.data(), r.value_ptrs.data(), r.value_lens.data(),
                                r.formats.data(), r.encoded.size(), r.ttl_ms, co);
      })) {
    return nullptr;
  }
  if (rc != STRATACACHE_OK) return raise_code(rc, Origin::kOperation);
  Py_RETURN_NONE;
}

PyObject* cache_delete(PyObject* o, Args args, Py_ssize_t nargs, PyObject* kwnames) {
  auto* self = reinterpret_cast<CacheObject*>(o);
  KeysRequest r;
  if (!r.parse(g_sig->del, args, nargs, kwnames)) return nullptr;
  int64_t deleted = 0;
  int rc = 0;
  if (!run(self, r.cs, &rc, [&](stratacache_cache* h, const stratacache_callopts* co) {
        return stratacache_delete(&deleted, h, r.keys.data.data(), r.keys.sizes.data(), r.keys.data.size(), co);
      })) {
    return nullptr;
  }
  if (rc != STRATACACHE_OK) return raise_code(rc, Origin::kOperation);
  return PyLong_FromLongLong(deleted);
}

PyObject* cache_exists(PyObject* o, Args args, Py_ssize_t nargs, PyObject* kwnames) {
  auto* self = reinterpret_cast<CacheObject*>(o);
  KeyRequest r;
  if (!r.parse(g_sig->exists, args, nargs, kwnames)) return nullptr;
  int exists = 0, rc = 0;
  if (!run(self, r.cs, &rc, [&](stratacache_cache* h, const stratacache_callopts* co) {
        return stratacache_exists(&exists, h, r.key.data, r.size(), co);
      })) {
    return nullptr;
  }
  if (rc != STRATACACHE_OK) return raise_code(rc, Origin::kOperation);
  return PyBool_FromLong(exists);
}

PyObject* cache_ttl(PyObject* o, Args args, Py_ssize_t nargs, PyObject* kwnames) {
  auto* self = reinterpret_cast<CacheObject*>(o);
  KeyRequest r;
  if (!r.parse(g_sig->ttl, args, nargs, kwnames)) return nullptr;
  int64_t ms = 0;
  int rc = 0;
  if (!run(self, r.cs, &rc, [&](stratacache_cache* h, const stratacache_callopts* co) {
        return stratacache_ttl(&ms, h, r.key.data, r.size(), co);
      })) {
    return nullptr;
  }
  if (rc == STRATACACHE_ENOTFOUND) Py_RETURN_NONE;
  if (rc != STRATACACHE_OK) return raise_code(rc, Origin::kOperation);
  return ttl_seconds(ms);
}

PyObject* cache_increment(PyObject* o, Args args, Py_ssize_t nargs, PyObject* kwnames) {
  auto* self = reinterpret_cast<CacheObject*>(o);
  IncrementRequest r;
  if (!r.parse(args, nargs, kwnames)) return nullptr;
  int64_t value = 0;
  int rc = 0;
  if (!run(self, r.cs, &rc, [&](stratacache_cache* h, const stratacache_callopts* co) {
        return stratacache_increment(&value, h, r.key.data, static_cast<size_t>(r.key.size), r.amount, r.ttl_ms, co);
      })) {
    return nullptr;
  }
  if (rc != STRATACACHE_OK) return raise_code(rc, Origin::kOperation);
  return PyLong_FromLongLong(value);
}

PyObject* cache_clear_pattern(PyObject* o, Args args, Py_ssize_t nargs, PyObject* kwnames) {
  auto* self = reinterpret_cast<CacheObject*>(o);
  KeyRequest r;
  if (!r.parse(g_sig->clear_pattern, args, nargs, kwnames, "pattern")) return nullptr;
  int64_t deleted = 0;
  int rc = 0;
  if (!run(self, r.cs, &rc, [&](stratacache_cache* h, const stratacache_callopts* co) {
        return stratacache_clear_pattern(&deleted, h, r.key.data, r.size(), co);
      })) {
    return nullptr;
  }
  if (rc != STRATACACHE_OK) return raise_code(rc, Origin::kOperation);
  return PyLong_FromLongLong(deleted);
}

PyObject* cache_count_pattern(PyObject* o, Args args, Py_ssize_t nargs, PyObject* kwnames) {
  auto* self = reinterpret_cast<CacheObject*>(o);
  KeyRequest r;
  if (!r.parse(g_sig->count_pattern, args, nargs, kwnames, "pattern")) return nullptr;
  int64_t count = 0;
  int rc = 0;
  if (!run(self, r.cs, &rc, [&](stratacache_cache* h, const stratacache_callopts* co) {
        return stratacache_count_pattern(&count, h, r.key.data, r.size(), co);
      })) {
    return nullptr;
  }
  if (rc != STRATACACHE_OK) return raise_code(rc, Origin::kOperation);
  return PyLong_FromLongLong(count);
}

PyObject* cache_inspect(PyObject* o, Args args, Py_ssize_t nargs, PyObject* kwnames) {
  auto* self = reinterpret_cast<CacheObject*>(o);
  KeyRequest r;
  if (!r.parse(g_sig->inspect, args, nargs, kwnames)) return nullptr;
  char* json = nullptr;
  size_t len = 0;
  int rc = 0;
  if (!run(self, r.cs, &rc, [&](stratacache_cache* h, const stratacache_callopts* co) {
        return stratacache_inspect_json(&json, &len, h, r.key.data, r.size(), co);
      })) {
    return nullptr;
  }
  if (rc == STRATACACHE_ENOTFOUND) Py_RETURN_NONE;
  if (rc != STRATACACHE_OK) return raise_code(rc, Origin::kOperation);
  return json_result(json, len);
}

// health and server_info: `produce` is their stratacache_*_json function.
using JsonProducer = int (*)(char**, size_t*, stratacache_cache*, const stratacache_callopts*);
PyObject* json_call(PyObject* o, const Signature& sig, JsonProducer produce, Args args, Py_ssize_t nargs,
                    PyObject* kwnames) {
  auto* self = reinterpret_cast<CacheObject*>(o);
  TimeoutRequest r;
  if (!r.parse(sig, args, nargs, kwnames)) return nullptr;
  char* json = nullptr;
  size_t len = 0;
  int rc = 0;
  if (!run(self, r.cs, &rc, [&](stratacache_cache* h, const stratacache_callopts* co) {
        return produce(&json, &len, h, co);
      })) {
    return nullptr;
  }
  if (rc != STRATACACHE_OK) return raise_code(rc, Origin::kOperation);
  return json_result(json, len);
}

PyObject* cache_health(PyObject* o, Args args, Py_ssize_t nargs, PyObject* kwnames) {
  return json_call(o, g_sig->health, stratacache_health_json, args, nargs, kwnames);
}

PyObject* cache_server_info(PyObject* o, Args args, Py_ssize_t nargs, PyObject* kwnames) {
  return json_call(o, g_sig->server_info, stratacache_server_info_json, args, nargs, kwnames);
}

// Values this binding could not decode count with the core's decode errors: added to
// the "decode_errors" of a counters dict (stats(), metrics()["counters"]).
bool add_binding_decode_errors(CacheObject* self, PyObject* counters) {
  if (!self->decode_errors || !PyDict_Check(counters)) return true;
  PyObject* core = PyDict_GetItemString(counters, "decode_errors");
  unsigned long long total = self->decode_errors + (core && PyLong_Check(core) ? PyLong_AsUnsignedLongLong(core) : 0);
  if (PyErr_Occurred()) return false;
  PyRef v = PyRef::steal(PyLong_FromUnsignedLongLong(total));
  return v && PyDict_SetItemString(counters, "decode_errors", v.get()) == 0;
}

// A document about the whole handle: JSON (stats_json, metrics_json) as a dict, or
// (as_text) text (metrics_prometheus) as a str.
template <typename Fetch>
PyObject* handle_json(CacheObject* self, Fetch&& fetch, bool as_text = false) {
  char* json = nullptr;
  size_t len = 0;
  int rc = 0;
  if (!run(self, CallSettings{}, &rc, [&](stratacache_cache* h, const stratacache_callopts*) {
        return fetch(&json, &len, h);
      })) {
    return nullptr;
  }
  if (rc != STRATACACHE_OK) return raise_code(rc, Origin::kOperation);
  if (!as_text) return json_result(json, len);
  PyObject* text = PyUnicode_DecodeUTF8(json, static_cast<Py_ssize_t>(len), "strict");
  stratacache_free(json);
  return text;
}

PyObject* cache_metrics_prometheus(PyObject* o, PyObject*) {
  return handle_json(reinterpret_cast<CacheObject*>(o), stratacache_metrics_prometheus, true);
}

PyObject* cache_stats(PyObject* o, PyObject*) {
  auto* self = reinterpret_cast<CacheObject*>(o);
  PyRef stats = PyRef::steal(handle_json(self, stratacache_stats_json));
  if (!stats || !add_binding_decode_errors(self, stats.get())) return nullptr;
  return stats.release();
}

PyObject* cache_metrics(PyObject* o, PyObject*) {
  auto* self = reinterpret_cast<CacheObject*>(o);
  PyRef metrics = PyRef::steal(handle_json(self, stratacache_metrics_json));
  if (!metrics) return nullptr;
  PyObject* counters = PyDict_Check(metrics.get()) ? PyDict_GetItemString(metrics.get(), "counters") : nullptr;
  if (counters && !add_binding_decode_errors(self, counters)) return nullptr;
  return metrics.release();
}

PyObject* cache_flush_l1(PyObject* o, PyObject*) {
  auto* self = reinterpret_cast<CacheObject*>(o);
  int rc = 0;
  if (!run(self, CallSettings{}, &rc, [](stratacache_cache* h, const stratacache_callopts*) {
        stratacache_flush_l1(h);
        return STRATACACHE_OK;
      })) {
    return nullptr;
  }
  Py_RETURN_NONE;
}

PyObject* cache_close(PyObject* o, PyObject*) {
  close_handle(reinterpret_cast<CacheObject*>(o), /*wait_for_calls=*/true);
  Py_RETURN_NONE;
}

PyObject* get_l2_enabled(PyObject* o, void*) { return PyBool_FromLong(reinterpret_cast<CacheObject*>(o)->l2_enabled); }
PyObject* get_url(PyObject* o, void*) { return new_ref(reinterpret_cast<CacheObject*>(o)->url); }
PyObject* get_serializer(PyObject* o, void*) { return new_ref(reinterpret_cast<CacheObject*>(o)->serializer); }


template <typename F>
PyCFunction fastcall(F f) {
  return reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(f));
}
constexpr int kFast = METH_FASTCALL | METH_KEYWORDS;

// ---- asynchronous calls ----
//
// A Completer is one C ABI completion queue (stratacache_queue) for one event loop.
// NativeCache.X_async(completer, future, ...) submits X naming that queue and returns.
// When the outcome is known, the library queues the completion and the queue's eventfd
// (fileno()) becomes readable; the loop watches it (add_reader) and calls drain(),
// which runs the completions on the loop's thread with the GIL held: each converts its
// result there and resolves its future. No Python code, and no GIL, on library threads.

class Completer {
 public:
  Completer() {
    if (stratacache_queue_new(&queue_) != STRATACACHE_OK) throw std::runtime_error(stratacache_last_error());
  }
  // Only once no submission holds it (each holds a reference until its completion ran),
  // so no completion is ever dropped.
  ~Completer() { stratacache_queue_free(queue_); }
  Completer(const Completer&) = delete;
  Completer& operator=(const Completer&) = delete;

  int fileno() const { return stratacache_queue_fd(queue_); }
  stratacache_queue* queue() const { return queue_; }

  // Runs every completion waiting now (on this thread, GIL held); how many ran.
  size_t drain() {
    size_t ran = 0;
    int rc = stratacache_queue_drain(&ran, queue_, 0);
    if (rc != STRATACACHE_OK) {
      raise_code(rc, Origin::kOperation);
      throw pybind11::error_already_set();
    }
    return ran;
  }

 private:
  stratacache_queue* queue_ = nullptr;
};

// What a completion hands to its future.
enum class AsyncKind {
  kValue,   // get: the decoded value, MISSING on a miss
  kValues,  // get_many: a list of values / MISSING from the packed mget result
  kNone,    // set, set_many
  kCount,   // delete, clear_pattern, increment: an int
  kExists,  // exists: a bool
  kTtl,     // ttl: seconds, -1.0 (never expires), None (missing)
  kJson,    // health, server_info: a dict from the JSON text
  kFilled,  // Lease.fill_async: True stored, False refused (EABORTED)
  kWarm,    // warm: the tuple of warm_outcome
};

// One submission in flight: strong references, dropped by its completion (which runs
// in drain(), with the GIL).
struct AsyncCall {
  PyObject* completer;  // keeps the queue alive until this completion ran
  PyObject* cache;      // decodes values, counts decode errors
  PyObject* future;
  AsyncKind kind;
  PyObject* key = nullptr;  // acquire: the key its Lease carries
};

struct FutureMethods {
  PyObject* done = nullptr;
  PyObject* set_result = nullptr;
  PyObject* set_exception = nullptr;
};
FutureMethods g_future;

// One record of the packed mget result (layout: capi/include/stratacache.h).
struct PackedRecord {
  int32_t status;
  int32_t format;
  const char* data;
  size_t len;
};

// The records of a packed mget result; false (exception set) if it is malformed.
bool unpack_records(const void* buf, size_t len, int64_t n, std::vector<PackedRecord>* out) {
  const char* p = static_cast<const char*>(buf);
  size_t off = 0;
  out->reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    uint64_t vlen = 0;
    PackedRecord r{};
    if (len - off < STRATACACHE_PACKED_HEADER_SIZE) break;
    std::memcpy(&r.status, p + off, 4);
    std::memcpy(&r.format, p + off + 4, 4);
    std::memcpy(&vlen, p + off + 8, 8);
    off += STRATACACHE_PACKED_HEADER_SIZE;
    if (vlen > len - off) break;
    r.data = p + off;
    r.len = static_cast<size_t>(vlen);
    off += std::min<size_t>((r.len + 7) & ~size_t{7}, len - off);
    out->push_back(r);
  }
  if (out->size() == static_cast<size_t>(n)) return true;
  PyErr_Format(g_errors.cache, "malformed mget result (%zu of %lld records)", out->size(), static_cast<long long>(n));
  return false;
}

// get_many's list, or (as the synchronous get_many) the first failed key's error.
PyObject* mget_values(CacheObject* self, const void* buf, size_t len, int64_t n, const char* message, bool* ok) {
  std::vector<PackedRecord> records;
  if (!unpack_records(buf, len, n, &records)) return nullptr;
  for (const PackedRecord& r : records) {
    if (r.status != STRATACACHE_OK && r.status != STRATACACHE_ENOTFOUND) {
      *ok = false;
      return make_error(r.status, Origin::kOperation, message);
    }
  }
  PyRef list = PyRef::steal(PyList_New(static_cast<Py_ssize_t>(records.size())));
  if (!list) return nullptr;
  for (size_t i = 0; i < records.size(); ++i) {
    const PackedRecord& r = records[i];
    PyObject* v = r.status == STRATACACHE_OK ? decode_value(self, r.data, r.len, r.format) : new_ref(g_types.missing);
    if (!v) return nullptr;
    PyList_SET_ITEM(list.get(), static_cast<Py_ssize_t>(i), v);
  }
  return list.release();
}

// The future's result (*ok) or exception (!*ok) for a completion; nullptr with an
// exception set when building it failed.
PyObject* outcome(CacheObject* self, AsyncKind kind, int status, const char* message, const void* value, size_t len,
                  int format, int64_t count, bool* ok) {
  *ok = true;
  if (status == STRATACACHE_EABORTED && kind == AsyncKind::kFilled) Py_RETURN_FALSE;
  if (kind == AsyncKind::kWarm) {
    if (len % sizeof(int32_t) != 0 || (len > 0 && !value)) {
      *ok = false;
      return make_error(status != STRATACACHE_OK ? status : STRATACACHE_EINTERNAL, Origin::kOperation, message);
    }
    std::vector<int32_t> codes(len / sizeof(int32_t));
    if (len > 0) std::memcpy(codes.data(), value, len);
    return warm_outcome(codes.data(), codes.size(), count, status, message);
  }
  if (status == STRATACACHE_ENOTFOUND) {
    if (kind == AsyncKind::kValue) return new_ref(g_types.missing);
    if (kind == AsyncKind::kTtl) Py_RETURN_NONE;
    if (kind == AsyncKind::kExists) Py_RETURN_FALSE;
  }
  if (status != STRATACACHE_OK) {
    *ok = false;
    return make_error(status, Origin::kOperation, message);
  }
  switch (kind) {
    case AsyncKind::kValue: return decode_value(self, value, len, format);
    case AsyncKind::kValues: return mget_values(self, value, len, count, message, ok);
    case AsyncKind::kNone: Py_RETURN_NONE;
    case AsyncKind::kCount: return PyLong_FromLongLong(count);
    case AsyncKind::kExists: return PyBool_FromLong(count != 0);
    case AsyncKind::kTtl: return ttl_seconds(count);
    case AsyncKind::kJson: return json_decode(static_cast<const char*>(value), len);
    case AsyncKind::kFilled: Py_RETURN_TRUE;
    case AsyncKind::kWarm: break;  // above
  }
  PyErr_SetString(g_errors.cache, "unknown completion kind");
  return nullptr;
}

// Whether a completion's future still waits for its result (false: cancelled while in
// flight, the result is dropped).
bool future_pending(PyObject* future) {
  PyRef done = PyRef::steal(PyObject_CallMethodNoArgs(future, g_future.done));
  int is_done = done ? PyObject_IsTrue(done.get()) : -1;
  if (is_done < 0) PyErr_WriteUnraisable(future);
  return is_done == 0;
}

// Resolves future with result (ok) or the exception result is; result nullptr: building
// it failed and the future gets that exception.
void resolve(PyObject* future, PyRef result, bool ok) {
  if (!result) {
    PyObject *type, *exc, *tb;
    PyErr_Fetch(&type, &exc, &tb);
    PyErr_NormalizeException(&type, &exc, &tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    ok = false;
    result = PyRef::steal(exc ? exc : new_ref(Py_None));
  }
  PyRef r = PyRef::steal(
      PyObject_CallMethodOneArg(future, ok ? g_future.set_result : g_future.set_exception, result.get()));
  if (!r) PyErr_WriteUnraisable(future);
}

// A submission's strong references, dropped when its completion ran.
struct CallRefs {
  explicit CallRefs(AsyncCall* call)
      : completer(PyRef::steal(call->completer)),
        cache(PyRef::steal(call->cache)),
        future(PyRef::steal(call->future)),
        key(PyRef::steal(call->key)),
        kind(call->kind) {
    delete call;
  }
  PyRef completer, cache, future, key;
  AsyncKind kind;
};

struct FreeValue {
  void* p;
  ~FreeValue() { stratacache_free(p); }
};

// The stratacache_callback of every submission. It runs inside Completer.drain(), on
// the loop's thread with the GIL held; nothing may escape it (it returns into C).
void on_complete(void* payload, int status, const char* message, void* value, size_t len, int format,
                 int64_t count) {
  FreeValue free_value{value};
  CallRefs call(static_cast<AsyncCall*>(payload));
  if (!future_pending(call.future.get())) return;
  bool ok = true;
  PyRef result = PyRef::steal(outcome(reinterpret_cast<CacheObject*>(call.cache.get()), call.kind, status, message,
                                      value, len, format, count, &ok));
  resolve(call.future.get(), std::move(result), ok);
}

// Reads `completer, future` off the front of a submission's arguments.
Completer* parse_target(const char* function, Args args, Py_ssize_t nargs) {
  if (nargs < 2) {
    PyErr_Format(PyExc_TypeError, "%s() takes a completer and a future before the operation's arguments", function);
    return nullptr;
  }
  pybind11::handle h(args[0]);
  if (!pybind11::isinstance<Completer>(h)) {
    PyErr_Format(PyExc_TypeError, "%s(): argument 'completer' must be a stratacache._native.Completer, not '%.200s'",
                 function, Py_TYPE(args[0])->tp_name);
    return nullptr;
  }
  return h.cast<Completer*>();
}

// Submits with the GIL released (a submission does not wait for Redis; the one
// exception is a Redis Cluster handle's first call, which loads the slot map). A refused
// submission raises here and its future is left alone.
// settings: a CallSettings or the call's own callopts (as run()).
template <typename Settings, typename F>
PyObject* submit(CacheObject* self, Args args, Completer* completer, AsyncKind kind, const Settings& settings,
                 F&& body, PyObject* key = nullptr) {
  auto* call = new AsyncCall{new_ref(args[0]), new_ref(reinterpret_cast<PyObject*>(self)), new_ref(args[1]), kind,
                             key ? new_ref(key) : nullptr};
  int rc = 0;
  bool ran = run(self, settings, &rc, [&](stratacache_cache* h, const stratacache_callopts* co) {
    return body(h, co, completer->queue(), static_cast<void*>(call));
  });
  if (ran && rc == STRATACACHE_OK) Py_RETURN_NONE;
  if (ran) raise_code(rc, Origin::kOperation);
  CallRefs drop(call);
  return nullptr;
}

// n byte strings back to back: the packed form of the submit_* calls.
std::string pack(const std::vector<const void*>& data, const std::vector<size_t>& sizes) {
  size_t total = 0;
  for (size_t s : sizes) total += s;
  std::string out;
  out.reserve(total);
  for (size_t i = 0; i < data.size(); ++i) out.append(static_cast<const char*>(data[i]), sizes[i]);
  return out;
}

using Queue = stratacache_queue*;
using Callopts = const stratacache_callopts*;

PyObject* cache_get_async(PyObject* o, Args args, Py_ssize_t nargs, PyObject* kwnames) {
  auto* self = reinterpret_cast<CacheObject*>(o);
  Completer* c = parse_target("get_async", args, nargs);
  KeyRequest r;
  if (!c || !r.parse(g_sig->get, args + 2, nargs - 2, kwnames)) return nullptr;
  return submit(self, args, c, AsyncKind::kValue, r.cs, [&](stratacache_cache* h, Callopts co, Queue q, void* p) {
    return stratacache_submit_get(h, r.key.data, r.size(), co, q, on_complete, p);
  });
}

// The keys-only submissions (get_many, warm): one C function shape.
using KeysSubmit = int (*)(stratacache_cache*, const void*, const size_t*, size_t, const stratacache_callopts*,
                           stratacache_queue*, stratacache_callback, void*);
PyObject* submit_keys(PyObject* o, Args args, Py_ssize_t nargs, PyObject* kwnames, const char* name,
                      const Signature& sig, AsyncKind kind, KeysSubmit submit_c) {
  auto* self = reinterpret_cast<CacheObject*>(o);
  Completer* c = parse_target(name, args, nargs);
  KeysRequest r;
  if (!c || !r.parse(sig, args + 2, nargs - 2, kwnames)) return nullptr;
  std::string keys = pack(r.keys.data, r.keys.sizes);
  return submit(self, args, c, kind, r.cs, [&](stratacache_cache* h, Callopts co, Queue q, void* p) {
    return submit_c(h, keys.data(), r.keys.sizes.data(), r.keys.sizes.size(), co, q, on_complete, p);
  });
}

PyObject* cache_get_many_async(PyObject* o, Args args, Py_ssize_t nargs, PyObject* kwnames) {
  return submit_keys(o, args, nargs, kwnames, "get_many_async", g_sig->get_many, AsyncKind::kValues,
                     stratacache_submit_mget);
}

PyObject* cache_warm_async(PyObject* o, Args args, Py_ssize_t nargs, PyObject* kwnames) {
  return submit_keys(o, args, nargs, kwnames, "warm_async", g_sig->warm, AsyncKind::kWarm, stratacache_submit_warm);
}

PyObject* cache_set_async(PyObject* o, Args args, Py_ssize_t nargs, PyObject* kwnames) {
  auto* self = reinterpret_cast<CacheObject*>(o);
  Completer* c = parse_target("set_async", args, nargs);
  SetRequest r;
  if (!c || !r.parse(self, args + 2, nargs - 2, kwnames)) return nullptr;
  return submit(self, args, c, AsyncKind::kNone, r.cs, [&](stratacache_cache* h, Callopts co, Queue q, void* p) {
    return stratacache_submit_set(h, r.key.data, static_cast<size_t>(r.key.size), r.value.data(), r.value.size(),
                                  r.value.format(), r.ttl_ms, co, q, on_complete, p);
  });
}

PyObject* cache_set_many_async(PyObject* o, Args args, Py_ssize_t nargs, PyObject* kwnames) {
  auto* self = reinterpret_cast<CacheObject*>(o);
  Completer* c = parse_target("set_many_async", args, nargs);
  SetManyRequest r;
  if (!c || !r.parse(self, args + 2, nargs - 2, kwnames)) return nullptr;
  std::string keys = pack(r.keys.data, r.keys.sizes);
  std::string values = pack(r.value_ptrs, r.value_lens);
  return submit(self, args, c, AsyncKind::kNone, r.cs, [&](stratacache_cache* h, Callopts co, Queue q, void* p) {
    return stratacache_submit_mset(h, keys.data(), r.keys.sizes.data(), values.data(), r.value_lens.data(),
                                   r.formats.data(), r.formats.size(), r.ttl_ms, co, q, on_complete, p);
  });
}

PyObject* cache_delete_async(PyObject* o, Args args, Py_ssize_t nargs, PyObject* kwnames) {
  auto* self = reinterpret_cast<CacheObject*>(o);
  Completer* c = parse_target("delete_async", args, nargs);
  KeysRequest r;
  if (!c || !r.parse(g_sig->del, args + 2, nargs - 2, kwnames)) return nullptr;
  std::string keys = pack(r.keys.data, r.keys.sizes);
  return submit(self, args, c, AsyncKind::kCount, r.cs, [&](stratacache_cache* h, Callopts co, Queue q, void* p) {
    return stratacache_submit_delete(h, keys.data(), r.keys.sizes.data(), r.keys.sizes.size(), co, q, on_complete, p);
  });
}

PyObject* cache_exists_async(PyObject* o, Args args, Py_ssize_t nargs, PyObject* kwnames) {
  auto* self = reinterpret_cast<CacheObject*>(o);
  Completer* c = parse_target("exists_async", args, nargs);
  KeyRequest r;
  if (!c || !r.parse(g_sig->exists, args + 2, nargs - 2, kwnames)) return nullptr;
  return submit(self, args, c, AsyncKind::kExists, r.cs, [&](stratacache_cache* h, Callopts co, Queue q, void* p) {
    return stratacache_submit_exists(h, r.key.data, r.size(), co, q, on_complete, p);
  });
}

PyObject* cache_ttl_async(PyObject* o, Args args, Py_ssize_t nargs, PyObject* kwnames) {
  auto* self = reinterpret_cast<CacheObject*>(o);
  Completer* c = parse_target("ttl_async", args, nargs);
  KeyRequest r;
  if (!c || !r.parse(g_sig->ttl, args + 2, nargs - 2, kwnames)) return nullptr;
  return submit(self, args, c, AsyncKind::kTtl, r.cs, [&](stratacache_cache* h, Callopts co, Queue q, void* p) {
    return stratacache_submit_ttl(h, r.key.data, r.size(), co, q, on_complete, p);
  });
}

PyObject* cache_increment_async(PyObject* o, Args args, Py_ssize_t nargs, PyObject* kwnames) {
  auto* self = reinterpret_cast<CacheObject*>(o);
  Completer* c = parse_target("increment_async", args, nargs);
  IncrementRequest r;
  if (!c || !r.parse(args + 2, nargs - 2, kwnames)) return nullptr;
  return submit(self, args, c, AsyncKind::kCount, r.cs, [&](stratacache_cache* h, Callopts co, Queue q, void* p) {
    return stratacache_submit_increment(h, r.key.data, static_cast<size_t>(r.key.size), r.amount, r.ttl_ms, co, q,
                                        on_complete, p);
  });
}

PyObject* cache_clear_pattern_async(PyObject* o, Args args, Py_ssize_t nargs, PyObject* kwnames) {
  auto* self = reinterpret_cast<CacheObject*>(o);
  Completer* c = parse_target("clear_pattern_async", args, nargs);
  KeyRequest r;
  if (!c || !r.parse(g_sig->clear_pattern, args + 2, nargs - 2, kwnames, "pattern")) return nullptr;
  return submit(self, args, c, AsyncKind::kCount, r.cs, [&](stratacache_cache* h, Callopts co, Queue q, void* p) {
    return stratacache_submit_clear_pattern(h, r.key.data, r.size(), co, q, on_complete, p);
  });
}

// health_async and server_info_async: `submit_fn` is their stratacache_submit_* function.
using JsonSubmitter = int (*)(stratacache_cache*, const stratacache_callopts*, stratacache_queue*,
                              stratacache_callback, void*);
PyObject* json_submit(PyObject* o, const char* name, const Signature& sig, JsonSubmitter submit_fn, Args args,
                      Py_ssize_t nargs, PyObject* kwnames) {
  auto* self = reinterpret_cast<CacheObject*>(o);
  Completer* c = parse_target(name, args, nargs);
  TimeoutRequest r;
  if (!c || !r.parse(sig, args + 2, nargs - 2, kwnames)) return nullptr;
  return submit(self, args, c, AsyncKind::kJson, r.cs, [&](stratacache_cache* h, Callopts co, Queue q, void* p) {
    return submit_fn(h, co, q, on_complete, p);
  });
}

PyObject* cache_health_async(PyObject* o, Args args, Py_ssize_t nargs, PyObject* kwnames) {
  return json_submit(o, "health_async", g_sig->health, stratacache_submit_health, args, nargs, kwnames);
}

PyObject* cache_server_info_async(PyObject* o, Args args, Py_ssize_t nargs, PyObject* kwnames) {
  return json_submit(o, "server_info_async", g_sig->server_info, stratacache_submit_server_info, args, nargs,
                     kwnames);
}

// ---- tags (docs/tags.md; argument parsing in register_tags.cpp) ----

// tags, timeout=None: invalidate_tags and its _async form.
struct TagsRequest {
  std::vector<std::string> tags;
  CallSettings cs;
  bool parse(Args args, Py_ssize_t nargs, PyObject* kwnames) {
    PyObject* a[2] = {};
    return g_sig->invalidate_tags.parse(args, nargs, kwnames, a) && parse_names(a[0], "tags", &tags) &&
           parse_call_settings(nullptr, nullptr, a[1], &cs);
  }
};

PyObject* cache_invalidate_tags(PyObject* o, Args args, Py_ssize_t nargs, PyObject* kwnames) {
  auto* self = reinterpret_cast<CacheObject*>(o);
  TagsRequest r;
  if (!r.parse(args, nargs, kwnames)) return nullptr;
  NameArrays names(r.tags);
  int64_t removed = 0;
  int rc = 0;
  if (!run(self, r.cs, &rc, [&](stratacache_cache* h, const stratacache_callopts* co) {
        return stratacache_invalidate_tags(&removed, h, names.ptrs.data(), names.lens.data(), names.ptrs.size(), co);
      })) {
    return nullptr;
  }
  if (rc != STRATACACHE_OK) return raise_code(rc, Origin::kOperation);
  return PyLong_FromLongLong(removed);
}

PyObject* cache_invalidate_tags_async(PyObject* o, Args args, Py_ssize_t nargs, PyObject* kwnames) {
  auto* self = reinterpret_cast<CacheObject*>(o);
  Completer* c = parse_target("invalidate_tags_async", args, nargs);
  TagsRequest r;
  if (!c || !r.parse(args + 2, nargs - 2, kwnames)) return nullptr;
  NameArrays names(r.tags);
  return submit(self, args, c, AsyncKind::kCount, r.cs, [&](stratacache_cache* h, Callopts co, Queue q, void* p) {
    return stratacache_submit_invalidate_tags(h, names.ptrs.data(), names.lens.data(), names.ptrs.size(), co, q,
                                              on_complete, p);
  });
}

// ---- read-through (capi: stratacache_acquire, stratacache_lease_*) ----
//
// NativeCache.acquire(key, ...) returns (value or MISSING, info bits, Lease or None).
// A Lease is the duty to load the key: fill(value) stores it encoded as set() encodes,
// fill_not_found() records that the key does not exist, abandon() gives up. Exactly one
// of them consumes it; a Lease dropped unconsumed is abandoned (ELOADFAILED), also after
// the cache was closed (the C ABI then just frees it).

struct LeaseObject {
  PyObject_HEAD
  stratacache_lease* lease;  // nullptr once consumed
  PyObject* cache;           // the NativeCache: its serializer encodes fill's value
  PyObject* key;             // str or bytes, as acquire got it
  bool refresh;              // an early refresh: the caller already has a fresh value
};
PyTypeObject* g_lease_type = nullptr;

// Gives `lease` up with the GIL released (waiters may be woken).
void abandon_lease(stratacache_lease* lease, int code, const char* message) {
  Py_BEGIN_ALLOW_THREADS
  stratacache_lease_abandon(lease, code, message);
  Py_END_ALLOW_THREADS
}

// A Lease object owning `lease` (abandoned if the object cannot be made).
PyObject* new_lease(PyObject* cache, PyObject* key, stratacache_lease* lease, bool refresh) {
  auto* self = reinterpret_cast<LeaseObject*>(g_lease_type->tp_alloc(g_lease_type, 0));
  if (!self) {
    abandon_lease(lease, STRATACACHE_EABORTED, "out of memory");
    return nullptr;
  }
  self->lease = lease;
  self->cache = new_ref(cache);
  self->key = new_ref(key);
  self->refresh = refresh;
  return reinterpret_cast<PyObject*>(self);
}

// Takes the lease for one of the consuming calls; nullptr (CacheError) when consumed.
stratacache_lease* take_lease(LeaseObject* self) {
  stratacache_lease* l = std::exchange(self->lease, nullptr);
  if (!l) PyErr_SetString(g_errors.cache, "the lease was already filled or abandoned");
  return l;
}

// acquire's tuple, sync or async. status is acquire's code; on an error the exception
// is returned (*ok false), built from message (nullptr: this thread's last error).
PyObject* acquired(CacheObject* self, PyObject* key, int status, const char* message, const void* value, size_t len,
                   int format, unsigned info, stratacache_lease* lease, bool* ok) {
  *ok = true;
  PyRef holder = lease ? PyRef::steal(new_lease(reinterpret_cast<PyObject*>(self), key, lease,
                                                (info & STRATACACHE_INFO_REFRESH) != 0))
                       : PyRef::borrow(Py_None);
  if (!holder) return nullptr;
  if (status != STRATACACHE_OK && status != STRATACACHE_ENOTFOUND) {
    *ok = false;
    if (!message) return raise_code(status, Origin::kOperation);
    return make_error(status, Origin::kOperation, message);
  }
  PyRef v = PyRef::steal(status == STRATACACHE_OK ? decode_value(self, value, len, format) : new_ref(g_types.missing));
  if (!v) return nullptr;
  return Py_BuildValue("(OIO)", v.get(), info, holder.get());
}

// acquire's keyword arguments as the call's own callopts.
struct AcquireRequest {
  KeyView key;
  PyObject* key_obj = nullptr;
  CalloptsPtr co;

  bool parse(Args args, Py_ssize_t nargs, PyObject* kwnames) {
    PyObject* a[11];
    if (!g_sig->acquire.parse(args, nargs, kwnames, a) || !key_view(a[0], &key)) return false;
    key_obj = a[0];
    stratacache_callopts* raw = nullptr;
    if (stratacache_callopts_new(&raw) != STRATACACHE_OK) {
      PyErr_NoMemory();
      return false;
    }
    co.reset(raw);
    // Durations: None leaves the default (-1).
    using Setter = int (*)(stratacache_callopts*, int64_t);
    static const struct {
      int slot;
      const char* name;
      Setter set;
    } durations[] = {
        {1, "ttl", stratacache_callopts_set_ttl_ms},
        {2, "stale_ttl", stratacache_callopts_set_stale_ttl_ms},
        {3, "negative_ttl", stratacache_callopts_set_negative_ttl_ms},
        {5, "soft_timeout", stratacache_callopts_set_soft_timeout_ms},
        {6, "timeout", stratacache_callopts_set_timeout_ms},
        {7, "lease_ttl", stratacache_callopts_set_lease_ttl_ms},
    };
    for (const auto& d : durations) {
      int64_t ms = -1;
      if (!seconds_to_ms(a[d.slot], d.name, -1, &ms)) return false;
      if (ms >= 0 && !check(d.set(raw, ms))) return false;
    }
    if (a[4] && a[4] != Py_None) {
      double beta = PyFloat_AsDouble(a[4]);
      if (beta == -1.0 && PyErr_Occurred()) return false;
      if (!check(stratacache_callopts_set_early_refresh(raw, beta))) return false;
    }
    if (a[8]) {
      int lock = PyObject_IsTrue(a[8]);
      if (lock < 0 || !check(stratacache_callopts_set_lock(raw, lock))) return false;
    }
    CallSettings cs;
    return parse_call_settings(a[9], nullptr, nullptr, &cs) && check(stratacache_callopts_set_flags(raw, cs.flags)) &&
           parse_names(a[10], "tags", &cs.tags) && check(apply_tags(raw, cs));
  }

 private:
  static bool check(int rc) {
    if (rc == STRATACACHE_OK) return true;
    raise_code(rc, Origin::kOperation);
    return false;
  }
};

PyObject* cache_acquire(PyObject* o, Args args, Py_ssize_t nargs, PyObject* kwnames) {
  auto* self = reinterpret_cast<CacheObject*>(o);
  AcquireRequest r;
  if (!r.parse(args, nargs, kwnames)) return nullptr;
  void* buf = nullptr;
  size_t len = 0;
  int format = 0, rc = 0;
  unsigned info = 0;
  stratacache_lease* lease = nullptr;
  if (!run(self, r.co.get(), &rc, [&](stratacache_cache* h, const stratacache_callopts* co) {
        return stratacache_acquire(&buf, &len, &format, &info, &lease, h, r.key.data, static_cast<size_t>(r.key.size),
                                   co);
      })) {
    return nullptr;
  }
  FreeValue free_value{buf};
  bool ok = true;
  PyObject* result = acquired(self, r.key_obj, rc, nullptr, buf, len, format, info, lease, &ok);
  return ok ? result : nullptr;  // !ok: acquired() raised
}

// stratacache_acquire_callback of acquire_async (as on_complete: in drain(), GIL held).
void on_acquired(void* payload, int status, const char* message, void* value, size_t len, int format, unsigned info,
                 stratacache_lease* lease) {
  FreeValue free_value{value};
  CallRefs call(static_cast<AsyncCall*>(payload));
  if (!future_pending(call.future.get())) {  // cancelled: the waiters look again
    if (lease) abandon_lease(lease, STRATACACHE_EABORTED, "the acquiring call was cancelled");
    return;
  }
  bool ok = true;
  PyRef result = PyRef::steal(acquired(reinterpret_cast<CacheObject*>(call.cache.get()), call.key.get(), status,
                                       message, value, len, format, info, lease, &ok));
  resolve(call.future.get(), std::move(result), ok);
}

PyObject* cache_acquire_async(PyObject* o, Args args, Py_ssize_t nargs, PyObject* kwnames) {
  auto* self = reinterpret_cast<CacheObject*>(o);
  Completer* c = parse_target("acquire_async", args, nargs);
  AcquireRequest r;
  if (!c || !r.parse(args + 2, nargs - 2, kwnames)) return nullptr;
  const stratacache_callopts* own = r.co.get();
  return submit(
      self, args, c, AsyncKind::kValue, own,
      [&](stratacache_cache* h, Callopts co, Queue q, void* p) {
        return stratacache_submit_acquire(h, r.key.data, static_cast<size_t>(r.key.size), co, q, on_acquired, p);
      },
      r.key_obj);
}

// value, ttl=None: fill and fill_async.
struct FillRequest {
  EncodedValue value;
  int64_t ttl_ms = -1;

  bool parse(LeaseObject* lease, const Signature& sig, Args args, Py_ssize_t nargs, PyObject* kwnames) {
    PyObject* a[2];
    return sig.parse(args, nargs, kwnames, a) && seconds_to_ms(a[1], "ttl", -1, &ttl_ms) &&
           value.encode(reinterpret_cast<CacheObject*>(lease->cache), a[0], "value");
  }
};

PyObject* lease_fill(PyObject* o, Args args, Py_ssize_t nargs, PyObject* kwnames) {
  auto* self = reinterpret_cast<LeaseObject*>(o);
  FillRequest r;
  if (!r.parse(self, g_sig->fill, args, nargs, kwnames)) return nullptr;  // the lease stays unconsumed
  stratacache_lease* l = take_lease(self);
  if (!l) return nullptr;
  int rc = 0;
  Py_BEGIN_ALLOW_THREADS
  rc = stratacache_lease_fill(l, r.value.data(), r.value.size(), r.value.format(), r.ttl_ms);
  Py_END_ALLOW_THREADS
  if (rc == STRATACACHE_OK) Py_RETURN_TRUE;
  if (rc == STRATACACHE_EABORTED) Py_RETURN_FALSE;
  return raise_code(rc, Origin::kOperation);
}

PyObject* lease_fill_not_found(PyObject* o, PyObject*) {
  stratacache_lease* l = take_lease(reinterpret_cast<LeaseObject*>(o));
  if (!l) return nullptr;
  int rc = 0;
  Py_BEGIN_ALLOW_THREADS
  rc = stratacache_lease_fill_not_found(l);
  Py_END_ALLOW_THREADS
  if (rc != STRATACACHE_OK) return raise_code(rc, Origin::kOperation);
  Py_RETURN_NONE;
}

// abandon(message=None, *, retry=False); a no-op once consumed (so it fits a finally).
PyObject* lease_abandon(PyObject* o, Args args, Py_ssize_t nargs, PyObject* kwnames) {
  auto* self = reinterpret_cast<LeaseObject*>(o);
  PyObject* a[2];
  if (!g_sig->abandon.parse(args, nargs, kwnames, a)) return nullptr;
  const char* message = nullptr;
  if (a[0] && a[0] != Py_None) {
    if (!PyUnicode_Check(a[0])) {
      PyErr_Format(PyExc_TypeError, "message must be str or None, not '%.200s'", Py_TYPE(a[0])->tp_name);
      return nullptr;
    }
    message = PyUnicode_AsUTF8(a[0]);
    if (!message) return nullptr;
  }
  int retry = a[1] ? PyObject_IsTrue(a[1]) : 0;
  if (retry < 0) return nullptr;
  if (stratacache_lease* l = std::exchange(self->lease, nullptr)) {
    abandon_lease(l, retry ? STRATACACHE_EABORTED : STRATACACHE_ELOADFAILED, message);
  }
  Py_RETURN_NONE;
}

PyObject* lease_fill_async(PyObject* o, Args args, Py_ssize_t nargs, PyObject* kwnames) {
  auto* self = reinterpret_cast<LeaseObject*>(o);
  Completer* c = parse_target("fill_async", args, nargs);
  FillRequest r;
  if (!c || !r.parse(self, g_sig->fill, args + 2, nargs - 2, kwnames)) return nullptr;
  stratacache_lease* l = take_lease(self);
  if (!l) return nullptr;
  auto* call = new AsyncCall{new_ref(args[0]), new_ref(self->cache), new_ref(args[1]), AsyncKind::kFilled};
  int rc = 0;
  Py_BEGIN_ALLOW_THREADS
  rc = stratacache_submit_lease_fill(l, r.value.data(), r.value.size(), r.value.format(), r.ttl_ms, c->queue(),
                                     on_complete, call);
  Py_END_ALLOW_THREADS
  if (rc == STRATACACHE_OK) Py_RETURN_NONE;
  CallRefs drop(call);  // refused: the lease was consumed (abandoned) all the same
  return raise_code(rc, Origin::kOperation);
}

// fill_not_found_async(completer, future): resolves future with None.
PyObject* lease_fill_not_found_async(PyObject* o, Args args, Py_ssize_t nargs, PyObject* kwnames) {
  auto* self = reinterpret_cast<LeaseObject*>(o);
  if (kwnames && PyTuple_GET_SIZE(kwnames) > 0) {
    PyErr_SetString(PyExc_TypeError, "fill_not_found_async() takes no keyword arguments");
    return nullptr;
  }
  if (nargs != 2) {
    PyErr_Format(PyExc_TypeError, "fill_not_found_async() takes 2 positional arguments (%zd given)", nargs);
    return nullptr;
  }
  Completer* c = parse_target("fill_not_found_async", args, nargs);
  if (!c) return nullptr;
  stratacache_lease* l = take_lease(self);
  if (!l) return nullptr;
  auto* call = new AsyncCall{new_ref(args[0]), new_ref(self->cache), new_ref(args[1]), AsyncKind::kNone};
  int rc = 0;
  Py_BEGIN_ALLOW_THREADS
  rc = stratacache_submit_lease_fill_not_found(l, c->queue(), on_complete, call);
  Py_END_ALLOW_THREADS
  if (rc == STRATACACHE_OK) Py_RETURN_NONE;
  CallRefs drop(call);  // refused: the lease was consumed (abandoned) all the same
  return raise_code(rc, Origin::kOperation);
}

void lease_dealloc(PyObject* o) {
  auto* self = reinterpret_cast<LeaseObject*>(o);
  PyTypeObject* tp = Py_TYPE(o);
  if (stratacache_lease* l = std::exchange(self->lease, nullptr)) {
    abandon_lease(l, STRATACACHE_ELOADFAILED, "the lease was dropped unfilled");
  }
  Py_XDECREF(self->cache);
  Py_XDECREF(self->key);
  tp->tp_free(o);
  Py_DECREF(tp);
}

PyObject* lease_repr(PyObject* o) {
  auto* self = reinterpret_cast<LeaseObject*>(o);
  return PyUnicode_FromFormat("<Lease %R%s%s>", self->key, self->refresh ? " refresh" : "",
                              self->lease ? "" : " consumed");
}

PyObject* lease_get_key(PyObject* o, void*) { return new_ref(reinterpret_cast<LeaseObject*>(o)->key); }
PyObject* lease_get_refresh(PyObject* o, void*) { return PyBool_FromLong(reinterpret_cast<LeaseObject*>(o)->refresh); }
PyObject* lease_get_pending(PyObject* o, void*) {
  return PyBool_FromLong(reinterpret_cast<LeaseObject*>(o)->lease != nullptr);
}

PyMethodDef lease_methods[] = {
    {"fill", fastcall(lease_fill), kFast,
     "fill($self, /, value, ttl=None)\n--\n\n"
     "Store value (encoded as NativeCache.set encodes it) for ttl seconds (None: acquire's ttl) and hand it to "
     "the waiters. True: stored; False: refused, the Redis lease had expired or been taken over (the waiters "
     "in this process still got the value)."},
    {"fill_not_found", lease_fill_not_found, METH_NOARGS,
     "fill_not_found($self, /)\n--\n\nThe key does not exist: remembered for acquire's negative_ttl."},
    {"abandon", fastcall(lease_abandon), kFast,
     "abandon($self, /, message=None, *, retry=False)\n--\n\n"
     "The load failed: the waiters get CacheLoadError(message) or their stale value. retry=True: they look "
     "again and one of them loads. A no-op once the lease was consumed."},
    {"fill_async", fastcall(lease_fill_async), kFast,
     "fill_async($self, completer, future, /, value, ttl=None)\n--\n\n"
     "Submit fill(value, ttl); completer.drain() resolves future with True or False."},
    {"fill_not_found_async", fastcall(lease_fill_not_found_async), kFast,
     "fill_not_found_async($self, completer, future, /)\n--\n\n"
     "Submit fill_not_found(); completer.drain() resolves future with None."},
    {nullptr, nullptr, 0, nullptr},
};

PyGetSetDef lease_getset[] = {
    {"key", lease_get_key, nullptr, "the key to load", nullptr},
    {"refresh", lease_get_refresh, nullptr, "True for an early refresh (the caller has a fresh value)", nullptr},
    {"pending", lease_get_pending, nullptr, "True until fill, fill_not_found, abandon or fill_async", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

PyType_Slot lease_slots[] = {
    {Py_tp_dealloc, reinterpret_cast<void*>(lease_dealloc)},
    {Py_tp_repr, reinterpret_cast<void*>(lease_repr)},
    {Py_tp_methods, lease_methods},
    {Py_tp_getset, lease_getset},
    {Py_tp_doc, const_cast<char*>("The duty to load one key, from NativeCache.acquire: consume it exactly once with "
                                  "fill, fill_not_found, abandon or fill_async (dropping it abandons it).")},
    {0, nullptr},
};

PyType_Spec lease_spec = {"stratacache._native.Lease", sizeof(LeaseObject), 0, Py_TPFLAGS_DEFAULT, lease_slots};

PyObject* get_async_native(PyObject* o, void*) {
  auto* self = reinterpret_cast<CacheObject*>(o);
  return PyBool_FromLong(self->handle != nullptr && stratacache_async_native(self->handle));
}

#define SUBMIT_DOC(name, result) \
  name "_async($self, completer, future, /, *args, **kwargs)\n--\n\n" \
  "Submit " name "(*args, **kwargs); completer.drain() resolves future with " result "."

PyMethodDef cache_methods[] = {
    {"get", fastcall(cache_get), kFast,
     "get($self, /, key, *, skip_l1=False, skip_l2=False, timeout=None)\n--\n\n"
     "The value stored under key, or MISSING."},
    {"get_many", fastcall(cache_get_many), kFast,
     "get_many($self, /, keys, *, skip_l1=False, skip_l2=False, timeout=None)\n--\n\n"
     "A list with the value or MISSING for each key (one L2 round trip)."},
    {"warm", fastcall(cache_warm), kFast,
     "warm($self, /, keys, *, skip_l1=False, skip_l2=False, timeout=None)\n--\n\n"
     "Fill L1 from Redis (batched, past the promotion threshold): (found, missing indices, failed indices, "
     "error or None)."},
    {"set", fastcall(cache_set), kFast,
     "set($self, /, key, value, ttl=None, *, skip_l1=False, skip_l2=False, timeout=None, tags=None, depends_on=None)\n--\n\n"
     "Store value; ttl in seconds (None: default_ttl, 0: never expires)."},
    {"set_many", fastcall(cache_set_many), kFast,
     "set_many($self, /, items, ttl=None, *, skip_l1=False, skip_l2=False, timeout=None, tags=None, depends_on=None)\n--\n\n"
     "Store a mapping or (key, value) pairs (one L2 round trip)."},
    {"delete", fastcall(cache_delete), kFast,
     "delete($self, /, keys, *, skip_l1=False, skip_l2=False, timeout=None)\n--\n\n"
     "Delete keys (a str or bytes is one key); returns how many existed."},
    {"exists", fastcall(cache_exists), kFast,
     "exists($self, /, key, *, skip_l1=False, skip_l2=False, timeout=None)\n--\n\n"
     "Whether key holds a value."},
    {"ttl", fastcall(cache_ttl), kFast,
     "ttl($self, /, key, *, skip_l1=False, skip_l2=False, timeout=None)\n--\n\n"
     "Seconds left, -1.0 when the key never expires, None when it is missing."},
    {"increment", fastcall(cache_increment), kFast,
     "increment($self, /, key, amount=1, ttl=None, *, skip_l1=False, skip_l2=False, timeout=None)\n--\n\n"
     "Atomically add amount; a new counter gets ttl, which increments never extend."},
    {"clear_pattern", fastcall(cache_clear_pattern), kFast,
     "clear_pattern($self, /, pattern, *, skip_l1=False, skip_l2=False, timeout=None)\n--\n\n"
     "Delete every key matching a Redis glob; returns how many were deleted."},
    {"count_pattern", fastcall(cache_count_pattern), kFast,
     "count_pattern($self, /, pattern, *, skip_l1=False, skip_l2=False, timeout=None)\n--\n\n"
     "How many keys match a Redis glob (clear_pattern's dry run); deletes nothing."},
    {"inspect", fastcall(cache_inspect), kFast,
     "inspect($self, /, key, *, skip_l1=False, skip_l2=False, timeout=None)\n--\n\n"
     "dict: how key is stored (tier, serializer, compression, encrypted, key_id, sizes, ttl_ms, "
     "read-through metadata); None when missing."},
    {"health", fastcall(cache_health), kFast,
     "health($self, /, timeout=None)\n--\n\n"
     "dict: healthy, latency_ms, version, used_memory, used_memory_bytes, connected_clients, uptime_seconds, "
     "error, coherence fields."},
    {"server_info", fastcall(cache_server_info), kFast,
     "server_info($self, /, timeout=None)\n--\n\n"
     "dict: {'nodes': [per node INFO], 'total': summed}; docs/operations.md. mem://: CacheError (unsupported)."},
    {"stats", cache_stats, METH_NOARGS, "stats($self, /)\n--\n\nCounters of both tiers as a dict."},
    {"metrics", cache_metrics, METH_NOARGS,
     "metrics($self, /)\n--\n\nstratacache_metrics_json as a dict: counters and latency histograms."},
    {"metrics_prometheus", cache_metrics_prometheus, METH_NOARGS,
     "metrics_prometheus($self, /)\n--\n\nstratacache_metrics_prometheus: the Prometheus text exposition (str)."},
    {"flush_l1", cache_flush_l1, METH_NOARGS, "flush_l1($self, /)\n--\n\nDrop every L1 entry of this handle."},
    {"close", cache_close, METH_NOARGS,
     "close($self, /)\n--\n\nClose the handle once calls in flight returned; later calls raise CacheError."},
    {"get_async", fastcall(cache_get_async), kFast, SUBMIT_DOC("get", "the value or MISSING")},
    {"get_many_async", fastcall(cache_get_many_async), kFast, SUBMIT_DOC("get_many", "the list of values")},
    {"warm_async", fastcall(cache_warm_async), kFast, SUBMIT_DOC("warm", "warm's tuple")},
    {"set_async", fastcall(cache_set_async), kFast, SUBMIT_DOC("set", "None")},
    {"set_many_async", fastcall(cache_set_many_async), kFast, SUBMIT_DOC("set_many", "None")},
    {"delete_async", fastcall(cache_delete_async), kFast, SUBMIT_DOC("delete", "how many keys existed")},
    {"exists_async", fastcall(cache_exists_async), kFast, SUBMIT_DOC("exists", "a bool")},
    {"ttl_async", fastcall(cache_ttl_async), kFast, SUBMIT_DOC("ttl", "seconds, -1.0 or None")},
    {"increment_async", fastcall(cache_increment_async), kFast, SUBMIT_DOC("increment", "the new value")},
    {"clear_pattern_async", fastcall(cache_clear_pattern_async), kFast,
     SUBMIT_DOC("clear_pattern", "how many keys were deleted")},
    {"invalidate_tags", fastcall(cache_invalidate_tags), kFast,
     "invalidate_tags($self, /, tags, *, timeout=None)\n--\n\n"
     "Remove every entry written with one of the tags (and their dependents); returns how many."},
    {"invalidate_tags_async", fastcall(cache_invalidate_tags_async), kFast,
     SUBMIT_DOC("invalidate_tags", "how many entries were removed")},
    {"health_async", fastcall(cache_health_async), kFast, SUBMIT_DOC("health", "the health dict")},
    {"server_info_async", fastcall(cache_server_info_async), kFast, SUBMIT_DOC("server_info", "the server info dict")},
    {"acquire", fastcall(cache_acquire), kFast,
     "acquire($self, /, key, *, ttl=None, stale_ttl=None, negative_ttl=None, early_refresh=0.0, "
     "soft_timeout=None, timeout=None, lease_ttl=None, lock=True, skip_l1=False)\n--\n\n"
     "Read-through: (value or MISSING, info, Lease or None). A Lease is the duty to load key (fill, "
     "fill_not_found or abandon it); info has INFO_STALE, INFO_LOADED, INFO_REFRESH. (MISSING, 0, None): a "
     "negative entry. Seconds as floats; timeout bounds every wait of the call."},
    {"acquire_async", fastcall(cache_acquire_async), kFast, SUBMIT_DOC("acquire", "acquire's tuple")},
    {nullptr, nullptr, 0, nullptr},
};

#undef SUBMIT_DOC

PyGetSetDef cache_getset[] = {
    {"l2_enabled", get_l2_enabled, nullptr, "True unless the URL is mem://", nullptr},
    {"async_native", get_async_native, nullptr,
     "True when *_async calls never block on Redis (standalone, Sentinel and Cluster)", nullptr},
    {"url", get_url, nullptr, "the URL the cache was opened with", nullptr},
    {"serializer", get_serializer, nullptr, "'msgpack', 'json' or 'raw'", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

PyType_Slot cache_slots[] = {
    {Py_tp_new, reinterpret_cast<void*>(cache_new)},
    {Py_tp_dealloc, reinterpret_cast<void*>(cache_dealloc)},
    {Py_tp_repr, reinterpret_cast<void*>(cache_repr)},
    {Py_tp_methods, cache_methods},
    {Py_tp_getset, cache_getset},
    {Py_tp_doc, const_cast<char*>("NativeCache(url, *, options=None, keys=None, serializer='msgpack')\n--\n\n"
                                  "One stratacache handle (L1 in-process, L2 Redis) over the C ABI.")},
    {0, nullptr},
};

PyType_Spec cache_spec = {"stratacache._native.NativeCache", sizeof(CacheObject), 0,
                          Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE, cache_slots};

PyTypeObject* g_cache_type = nullptr;

}  // namespace

stratacache_cache* native_handle(PyObject* cache) {
  if (!g_cache_type || !PyObject_TypeCheck(cache, g_cache_type)) {
    PyErr_Format(PyExc_TypeError, "expected a NativeCache, not '%.200s'", Py_TYPE(cache)->tp_name);
    return nullptr;
  }
  auto* self = reinterpret_cast<CacheObject*>(cache);
  if (!self->handle) closed_error();
  return self->handle;
}

bool native_encode(PyObject* cache, PyObject* value, std::string* out, int* format) {
  EncodedValue v;
  if (!v.encode(reinterpret_cast<CacheObject*>(cache), value, "value", /*copy_raw=*/true)) return false;
  out->assign(v.data(), v.size());
  *format = v.format();
  return true;
}

PyObject* native_decode(PyObject* cache, const void* data, size_t len, int format) {
  return decode_value(reinterpret_cast<CacheObject*>(cache), data, len, format);
}

stratacache_queue* completer_queue(PyObject* completer) {
  pybind11::handle h(completer);
  if (!pybind11::isinstance<Completer>(h)) {
    PyErr_Format(PyExc_TypeError, "expected a stratacache._native.Completer, not '%.200s'", Py_TYPE(completer)->tp_name);
    return nullptr;
  }
  return h.cast<Completer*>()->queue();
}

void register_cache(pybind11::module_& m) {
  g_sig = new Signatures();  // lives as long as the process: the module is never unloaded
  PyObject* type = PyType_FromSpec(&cache_spec);
  if (!type) throw pybind11::error_already_set();
  g_cache_type = reinterpret_cast<PyTypeObject*>(type);  // the module's reference keeps it alive
  m.add_object("NativeCache", pybind11::reinterpret_steal<pybind11::object>(type));
  PyObject* lease_type = PyType_FromSpec(&lease_spec);
  if (!lease_type) throw pybind11::error_already_set();
  g_lease_type = reinterpret_cast<PyTypeObject*>(lease_type);  // the module's reference keeps it alive
  m.add_object("Lease", pybind11::reinterpret_borrow<pybind11::object>(lease_type));
  m.attr("INFO_STALE") = STRATACACHE_INFO_STALE;
  m.attr("INFO_LOADED") = STRATACACHE_INFO_LOADED;
  m.attr("INFO_REFRESH") = STRATACACHE_INFO_REFRESH;
  g_future.done = PyUnicode_InternFromString("done");  // immortal for the module's life, as g_sig
  g_future.set_result = PyUnicode_InternFromString("set_result");
  g_future.set_exception = PyUnicode_InternFromString("set_exception");
  if (!g_future.done || !g_future.set_result || !g_future.set_exception) throw pybind11::error_already_set();
  pybind11::class_<Completer>(m, "Completer",
                              "One completion queue (stratacache_queue) for one event loop: watch fileno() for "
                              "reading (add_reader), then call drain() on the loop's thread; it resolves the futures "
                              "of NativeCache.*_async submissions there.")
      .def(pybind11::init<>())
      .def("fileno", &Completer::fileno, "The queue's eventfd: readable while completions wait.")
      .def("drain", &Completer::drain,
           "Run the waiting completions on this thread (resolving their futures); how many ran.");
}

}  // namespace stratacache::python
