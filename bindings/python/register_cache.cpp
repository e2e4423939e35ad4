#include "register_cache.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <stdexcept>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "args.hpp"
#include "convert.hpp"
#include "errors.hpp"
#include "pyref.hpp"
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
  Signature set{"set", {"key", "value", "ttl", "skip_l1", "skip_l2", "timeout"}, 3, 2};
  Signature set_many{"set_many", {"items", "ttl", "skip_l1", "skip_l2", "timeout"}, 2, 1};
  Signature del{"delete", {"keys", "skip_l1", "skip_l2", "timeout"}, 1, 1};
  Signature exists{"exists", {"key", "skip_l1", "skip_l2", "timeout"}, 1, 1};
  Signature ttl{"ttl", {"key", "skip_l1", "skip_l2", "timeout"}, 1, 1};
  Signature increment{"increment", {"key", "amount", "ttl", "skip_l1", "skip_l2", "timeout"}, 3, 1};
  Signature clear_pattern{"clear_pattern", {"pattern", "skip_l1", "skip_l2", "timeout"}, 1, 1};
  Signature health{"health", {"timeout"}, 1, 0};
  Signature get_async{"get_async", {"key", "completer", "future", "skip_l1", "skip_l2", "timeout"}, 3, 3};
  Signature set_async{"set_async", {"key", "value", "completer", "future", "ttl", "skip_l1", "skip_l2", "timeout"}, 5, 4};
  Signature delete_async{"delete_async", {"keys", "completer", "future", "skip_l1", "skip_l2", "timeout"}, 3, 3};
};
const Signatures* g_sig = nullptr;

PyObject* closed_error() {
  PyErr_SetString(g_errors.cache, "cache is closed");
  return nullptr;
}

// Runs body(handle, callopts) with the GIL released. False (exception set) if the cache
// is closed. Call it after converting the arguments: conversion may run Python code,
// which may close the cache.
template <typename F>
bool run(CacheObject* self, const CallSettings& cs, int* rc, F&& body) {
  stratacache_cache* h = self->handle;
  if (!h) {
    closed_error();
    return false;
  }
  const stratacache_callopts* co = self->flag_opts[cs.flags & 3u];
  stratacache_callopts* own = nullptr;
  if (cs.timeout_ms >= 0) {
    if (stratacache_callopts_new(&own) != STRATACACHE_OK) {
      PyErr_NoMemory();
      return false;
    }
    stratacache_callopts_set_flags(own, cs.flags);
    stratacache_callopts_set_timeout_ms(own, cs.timeout_ms);
    co = own;
  }
  ++self->in_flight;
  PyThreadState* ts = PyEval_SaveThread();
  *rc = body(h, co);
  stratacache_callopts_free(own);
  PyEval_RestoreThread(ts);
  --self->in_flight;
  return true;
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
  static const char* kwlist[] = {"url", "options", "keys", "serializer", nullptr};
  PyObject *url = nullptr, *options = nullptr, *keys = nullptr, *serializer = nullptr;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "U|$OOU:NativeCache", const_cast<char**>(kwlist), &url, &options,
                                   &keys, &serializer)) {
    return nullptr;
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
  rc = stratacache_open_with(&handle, opts.get());
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

// ---- methods ----

using Args = PyObject* const*;

// Parses "key, *, skip_l1, skip_l2, timeout" (and the like) with a fast path for a
// lone positional argument.
bool parse_key_call(const Signature& sig, Args args, Py_ssize_t nargs, PyObject* kwnames, KeyView* key,
                    CallSettings* cs, const char* what = "key") {
  if (nargs == 1 && !kwnames) return key_view(args[0], key, what);
  PyObject* a[4];
  return sig.parse(args, nargs, kwnames, a) && key_view(a[0], key, what) && parse_call_settings(a[1], a[2], a[3], cs);
}

PyObject* cache_get(PyObject* o, Args args, Py_ssize_t nargs, PyObject* kwnames) {
  auto* self = reinterpret_cast<CacheObject*>(o);
  KeyView key;
  CallSettings cs;
  if (!parse_key_call(g_sig->get, args, nargs, kwnames, &key, &cs)) return nullptr;
  void* buf = nullptr;
  size_t len = 0;
  int format = 0, rc = 0;
  if (!run(self, cs, &rc, [&](stratacache_cache* h, const stratacache_callopts* co) {
        return stratacache_get(&buf, &len, &format, h, key.data, static_cast<size_t>(key.size), co);
      })) {
    return nullptr;
  }
  if (rc == STRATACACHE_ENOTFOUND) return new_ref(g_types.missing);
  if (rc != STRATACACHE_OK) return raise_code(rc, Origin::kOperation);
  PyObject* v = decode_value(self, buf, len, format);
  stratacache_free(buf);
  return v;
}

PyObject* cache_get_many(PyObject* o, Args args, Py_ssize_t nargs, PyObject* kwnames) {
  auto* self = reinterpret_cast<CacheObject*>(o);
  PyObject* a[4];
  CallSettings cs;
  KeyList keys;
  if (!g_sig->get_many.parse(args, nargs, kwnames, a) || !parse_call_settings(a[1], a[2], a[3], &cs) ||
      !keys.add_all(a[0])) {
    return nullptr;
  }
  size_t n = keys.data.size();
  std::vector<void*> values(n, nullptr);
  std::vector<size_t> lens(n, 0);
  std::vector<int> formats(n, 0), codes(n, 0);
  int rc = 0;
  if (!run(self, cs, &rc, [&](stratacache_cache* h, const stratacache_callopts* co) {
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
  PyObject* a[6] = {};
  KeyView key;
  CallSettings cs;
  int64_t ttl_ms = STRATACACHE_TTL_DEFAULT;
  if (nargs == 2 && !kwnames) {
    a[0] = args[0];
    a[1] = args[1];
  } else if (!g_sig->set.parse(args, nargs, kwnames, a) || !seconds_to_ms(a[2], "ttl", STRATACACHE_TTL_DEFAULT, &ttl_ms) ||
             !parse_call_settings(a[3], a[4], a[5], &cs)) {
    return nullptr;
  }
  if (!key_view(a[0], &key)) return nullptr;
  EncodedValue value;
  if (!value.encode(self, a[1], "value")) return nullptr;
  int rc = 0;
  if (!run(self, cs, &rc, [&](stratacache_cache* h, const stratacache_callopts* co) {
        return stratacache_set(h, key.data, static_cast<size_t>(key.size), value.data(), value.size(), value.format(),
                               ttl_ms, co);
      })) {
    return nullptr;
  }
  if (rc != STRATACACHE_OK) return raise_code(rc, Origin::kOperation);
  Py_RETURN_NONE;
}

PyObject* cache_set_many(PyObject* o, Args args, Py_ssize_t nargs, PyObject* kwnames) {
  auto* self = reinterpret_cast<CacheObject*>(o);
  PyObject* a[5];
  CallSettings cs;
  int64_t ttl_ms = STRATACACHE_TTL_DEFAULT;
  if (!g_sig->set_many.parse(args, nargs, kwnames, a) || !seconds_to_ms(a[1], "ttl", STRATACACHE_TTL_DEFAULT, &ttl_ms) ||
      !parse_call_settings(a[2], a[3], a[4], &cs)) {
    return nullptr;
  }
  // A mapping gives its items(); otherwise a sequence of (key, value) pairs.
  PyObject* items = a[0];
  PyRef listed;
  if (PyDict_Check(items) || (!PySequence_Check(items) && PyMapping_Check(items))) {
    listed = PyRef::steal(PyMapping_Items(items));
    if (!listed) return nullptr;
    items = listed.get();
  }
  PyRef seq = PyRef::steal(PySequence_Fast(items, "items must be a mapping or a sequence of (key, value) pairs"));
  if (!seq) return nullptr;
  Py_ssize_t n = PySequence_Fast_GET_SIZE(seq.get());
  KeyList keys;
  std::vector<std::string> encoded(static_cast<size_t>(n));
  std::vector<const void*> value_ptrs(static_cast<size_t>(n));
  std::vector<size_t> value_lens(static_cast<size_t>(n));
  std::vector<int> formats(static_cast<size_t>(n), self->format);
  for (Py_ssize_t i = 0; i < n; ++i) {
    PyObject* pair = PySequence_Fast_GET_ITEM(seq.get(), i);
    if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
      PyErr_Format(PyExc_TypeError, "items[%zd] must be a (key, value) tuple, not '%.200s'", i, Py_TYPE(pair)->tp_name);
      return nullptr;
    }
    PyObject* k = PyTuple_GET_ITEM(pair, 0);
    if (!keys.add(k, "key")) return nullptr;
    PyRef key_repr = PyRef::steal(PyObject_Repr(k));
    const char* kr = key_repr ? PyUnicode_AsUTF8(key_repr.get()) : nullptr;
    if (!kr) return nullptr;
    EncodedValue value;
    if (!value.encode(self, PyTuple_GET_ITEM(pair, 1), std::string("items[") + kr + "]", /*copy_raw=*/true)) return nullptr;
    encoded[static_cast<size_t>(i)].assign(value.data(), value.size());
  }
  for (size_t i = 0; i < encoded.size(); ++i) {
    value_ptrs[i] = encoded[i].data();
    value_lens[i] = encoded[i].size();
  }
  int rc = 0;
  if (!run(self, cs, &rc, [&](stratacache_cache* h, const stratacache_callopts* co) {
        return stratacache_mset(h, keys.data.data(), keys.sizes.data(), value_ptrs.data(), value_lens.data(),
                                formats.data(), static_cast<size_t>(n), ttl_ms, co);
      })) {
    return nullptr;
  }
  if (rc != STRATACACHE_OK) return raise_code(rc, Origin::kOperation);
  Py_RETURN_NONE;
}

PyObject* cache_delete(PyObject* o, Args args, Py_ssize_t nargs, PyObject* kwnames) {
  auto* self = reinterpret_cast<CacheObject*>(o);
  PyObject* a[4];
  CallSettings cs;
  KeyList keys;
  if (!g_sig->del.parse(args, nargs, kwnames, a) || !parse_call_settings(a[1], a[2], a[3], &cs) || !keys.add_all(a[0])) {
    return nullptr;
  }
  int64_t deleted = 0;
  int rc = 0;
  if (!run(self, cs, &rc, [&](stratacache_cache* h, const stratacache_callopts* co) {
        return stratacache_delete(&deleted, h, keys.data.data(), keys.sizes.data(), keys.data.size(), co);
      })) {
    return nullptr;
  }
  if (rc != STRATACACHE_OK) return raise_code(rc, Origin::kOperation);
  return PyLong_FromLongLong(deleted);
}

PyObject* cache_exists(PyObject* o, Args args, Py_ssize_t nargs, PyObject* kwnames) {
  auto* self = reinterpret_cast<CacheObject*>(o);
  KeyView key;
  CallSettings cs;
  if (!parse_key_call(g_sig->exists, args, nargs, kwnames, &key, &cs)) return nullptr;
  int exists = 0, rc = 0;
  if (!run(self, cs, &rc, [&](stratacache_cache* h, const stratacache_callopts* co) {
        return stratacache_exists(&exists, h, key.data, static_cast<size_t>(key.size), co);
      })) {
    return nullptr;
  }
  if (rc != STRATACACHE_OK) return raise_code(rc, Origin::kOperation);
  return PyBool_FromLong(exists);
}

PyObject* cache_ttl(PyObject* o, Args args, Py_ssize_t nargs, PyObject* kwnames) {
  auto* self = reinterpret_cast<CacheObject*>(o);
  KeyView key;
  CallSettings cs;
  if (!parse_key_call(g_sig->ttl, args, nargs, kwnames, &key, &cs)) return nullptr;
  int64_t ms = 0;
  int rc = 0;
  if (!run(self, cs, &rc, [&](stratacache_cache* h, const stratacache_callopts* co) {
        return stratacache_ttl(&ms, h, key.data, static_cast<size_t>(key.size), co);
      })) {
    return nullptr;
  }
  if (rc == STRATACACHE_ENOTFOUND) Py_RETURN_NONE;
  if (rc != STRATACACHE_OK) return raise_code(rc, Origin::kOperation);
  return PyFloat_FromDouble(ms < 0 ? -1.0 : static_cast<double>(ms) / 1000.0);
}

PyObject* cache_increment(PyObject* o, Args args, Py_ssize_t nargs, PyObject* kwnames) {
  auto* self = reinterpret_cast<CacheObject*>(o);
  PyObject* a[6];
  KeyView key;
  CallSettings cs;
  int64_t ttl_ms = STRATACACHE_TTL_DEFAULT;
  long long amount = 1;
  if (!g_sig->increment.parse(args, nargs, kwnames, a) || !key_view(a[0], &key) ||
      !seconds_to_ms(a[2], "ttl", STRATACACHE_TTL_DEFAULT, &ttl_ms) || !parse_call_settings(a[3], a[4], a[5], &cs)) {
    return nullptr;
  }
  if (a[1]) {
    if (!PyLong_Check(a[1])) {
      PyErr_Format(PyExc_TypeError, "amount must be int, not '%.200s'", Py_TYPE(a[1])->tp_name);
      return nullptr;
    }
    amount = PyLong_AsLongLong(a[1]);  // OverflowError beyond 64 bits
    if (amount == -1 && PyErr_Occurred()) return nullptr;
  }
  int64_t value = 0;
  int rc = 0;
  if (!run(self, cs, &rc, [&](stratacache_cache* h, const stratacache_callopts* co) {
        return stratacache_increment(&value, h, key.data, static_cast<size_t>(key.size), amount, ttl_ms, co);
      })) {
    return nullptr;
  }
  if (rc != STRATACACHE_OK) return raise_code(rc, Origin::kOperation);
  return PyLong_FromLongLong(value);
}

PyObject* cache_clear_pattern(PyObject* o, Args args, Py_ssize_t nargs, PyObject* kwnames) {
  auto* self = reinterpret_cast<CacheObject*>(o);
  KeyView pattern;
  CallSettings cs;
  if (!parse_key_call(g_sig->clear_pattern, args, nargs, kwnames, &pattern, &cs, "pattern")) return nullptr;
  int64_t deleted = 0;
  int rc = 0;
  if (!run(self, cs, &rc, [&](stratacache_cache* h, const stratacache_callopts* co) {
        return stratacache_clear_pattern(&deleted, h, pattern.data, static_cast<size_t>(pattern.size), co);
      })) {
    return nullptr;
  }
  if (rc != STRATACACHE_OK) return raise_code(rc, Origin::kOperation);
  return PyLong_FromLongLong(deleted);
}

// A JSON document from the C ABI (health, stats) as a dict.
PyObject* json_result(char* json, size_t len) {
  PyObject* v = json_decode(json, len);
  stratacache_free(json);
  return v;
}

PyObject* cache_health(PyObject* o, Args args, Py_ssize_t nargs, PyObject* kwnames) {
  auto* self = reinterpret_cast<CacheObject*>(o);
  PyObject* a[1];
  CallSettings cs;
  if (!g_sig->health.parse(args, nargs, kwnames, a) || !parse_call_settings(nullptr, nullptr, a[0], &cs)) return nullptr;
  char* json = nullptr;
  size_t len = 0;
  int rc = 0;
  if (!run(self, cs, &rc, [&](stratacache_cache* h, const stratacache_callopts* co) {
        return stratacache_health_json(&json, &len, h, co);
      })) {
    return nullptr;
  }
  if (rc != STRATACACHE_OK) return raise_code(rc, Origin::kOperation);
  return json_result(json, len);
}

PyObject* cache_stats(PyObject* o, PyObject*) {
  auto* self = reinterpret_cast<CacheObject*>(o);
  char* json = nullptr;
  size_t len = 0;
  int rc = 0;
  if (!run(self, CallSettings{}, &rc, [&](stratacache_cache* h, const stratacache_callopts*) {
        return stratacache_stats_json(&json, &len, h);
      })) {
    return nullptr;
  }
  if (rc != STRATACACHE_OK) return raise_code(rc, Origin::kOperation);
  PyRef stats = PyRef::steal(json_result(json, len));
  if (!stats) return nullptr;
  // Values this binding could not decode count with the core's decode errors.
  if (self->decode_errors && PyDict_Check(stats.get())) {
    PyObject* core = PyDict_GetItemString(stats.get(), "decode_errors");
    unsigned long long total = self->decode_errors + (core && PyLong_Check(core) ? PyLong_AsUnsignedLongLong(core) : 0);
    if (PyErr_Occurred()) return nullptr;
    PyRef v = PyRef::steal(PyLong_FromUnsignedLongLong(total));
    if (!v || PyDict_SetItemString(stats.get(), "decode_errors", v.get()) < 0) return nullptr;
  }
  return stats.release();
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
// A Completer belongs to one asyncio event loop: the C ABI's completion callbacks (on
// the core's I/O thread, without the GIL) queue their results on it and wake the loop
// through an eventfd (once per batch); the loop then calls drain() and resolves the
// futures. No Python code and no GIL on the I/O thread, no thread per request.
enum class AsyncKind { kGet, kSet, kDelete };

class Completer;

struct AsyncCall {
  Completer* owner;
  PyObject* completer;  // strong references, dropped by drain() (with the GIL)
  PyObject* cache;
  PyObject* future;
  AsyncKind kind;
  int rc = 0;
  void* buf = nullptr;
  size_t len = 0;
  int format = -1;
  int64_t count = 0;
  std::string error;
};

class Completer {
 public:
  Completer() : efd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    if (efd_ < 0) throw std::runtime_error("eventfd failed");
  }
  ~Completer() { ::close(efd_); }
  Completer(const Completer&) = delete;
  Completer& operator=(const Completer&) = delete;

  int fileno() const { return efd_; }

  void push(AsyncCall* call) noexcept {
    bool first;
    {
      std::lock_guard<std::mutex> lk(mu_);
      first = ready_.empty();
      ready_.push_back(call);
    }
    if (first) {
      uint64_t one = 1;
      ssize_t ignored = ::write(efd_, &one, sizeof one);
      (void)ignored;
    }
  }

  // [(future, ok, value or exception), ...] for every call completed since the last drain.
  pybind11::list drain();

 private:
  int efd_;
  std::mutex mu_;
  std::vector<AsyncCall*> ready_;
};

void on_async_done(void* payload, int status, void* value, size_t len, int format, int64_t count) {
  auto* call = static_cast<AsyncCall*>(payload);
  call->rc = status;
  call->buf = value;
  call->len = len;
  call->format = format;
  call->count = count;
  if (status != STRATACACHE_OK && status != STRATACACHE_ENOTFOUND) {
    try {
      call->error = stratacache_last_error();
    } catch (...) {
    }
  }
  call->owner->push(call);
}

pybind11::list Completer::drain() {
  uint64_t count;
  ssize_t ignored = ::read(efd_, &count, sizeof count);
  (void)ignored;
  std::vector<AsyncCall*> calls;
  {
    std::lock_guard<std::mutex> lk(mu_);
    calls.swap(ready_);
  }
  pybind11::list out;
  for (AsyncCall* raw : calls) {
    std::unique_ptr<AsyncCall> call(raw);
    PyRef future = PyRef::steal(call->future);
    PyRef cache = PyRef::steal(call->cache);
    PyRef completer = PyRef::steal(call->completer);
    PyRef result;
    bool ok = true;
    if (call->rc == STRATACACHE_OK && call->kind == AsyncKind::kGet) {
      result = PyRef::steal(decode_value(reinterpret_cast<CacheObject*>(cache.get()), call->buf, call->len, call->format));
      stratacache_free(call->buf);
    } else if (call->rc == STRATACACHE_OK && call->kind == AsyncKind::kDelete) {
      result = PyRef::steal(PyLong_FromLongLong(call->count));
    } else if (call->rc == STRATACACHE_OK) {
      result = PyRef::borrow(Py_None);
    } else if (call->rc == STRATACACHE_ENOTFOUND && call->kind == AsyncKind::kGet) {
      result = PyRef::borrow(g_types.missing);
    } else {
      ok = false;
      result = PyRef::steal(make_error(call->rc, Origin::kOperation, call->error.c_str()));
    }
    if (!result) {  // decoding or allocation failed: hand the exception to the future
      PyObject *type, *value, *tb;
      PyErr_Fetch(&type, &value, &tb);
      PyErr_NormalizeException(&type, &value, &tb);
      Py_XDECREF(type);
      Py_XDECREF(tb);
      ok = false;
      result = PyRef::steal(value ? value : new_ref(Py_None));
    }
    out.append(pybind11::make_tuple(pybind11::reinterpret_borrow<pybind11::object>(future.get()), ok,
                                    pybind11::reinterpret_borrow<pybind11::object>(result.get())));
  }
  return out;
}

// The queued call for a submission; null (exception set) when `completer` is not one.
AsyncCall* new_async_call(CacheObject* self, PyObject* completer, PyObject* future, AsyncKind kind) {
  pybind11::handle h(completer);
  if (!pybind11::isinstance<Completer>(h)) {
    PyErr_Format(PyExc_TypeError, "argument 'completer' must be a stratacache._native.Completer, not '%.200s'",
                 Py_TYPE(completer)->tp_name);
    return nullptr;
  }
  auto* call = new AsyncCall{h.cast<Completer*>(), new_ref(completer), new_ref(reinterpret_cast<PyObject*>(self)),
                             new_ref(future), kind};
  return call;
}

// Submits with the GIL released; on a refused submission the call is freed and the
// error raised.
template <typename F>
PyObject* submit_async(CacheObject* self, const CallSettings& cs, AsyncCall* call, F&& body) {
  int rc = 0;
  if (!run(self, cs, &rc, [&](stratacache_cache* h, const stratacache_callopts* co) { return body(h, co); })) {
    rc = -1;
  } else if (rc != STRATACACHE_OK) {
    raise_code(rc, Origin::kOperation);
  }
  if (rc != STRATACACHE_OK) {
    Py_DECREF(call->completer);
    Py_DECREF(call->cache);
    Py_DECREF(call->future);
    delete call;
    return nullptr;
  }
  Py_RETURN_NONE;
}

PyObject* cache_get_async(PyObject* o, Args args, Py_ssize_t nargs, PyObject* kwnames) {
  auto* self = reinterpret_cast<CacheObject*>(o);
  PyObject* a[6];
  KeyView key;
  CallSettings cs;
  if (!g_sig->get_async.parse(args, nargs, kwnames, a) || !parse_call_settings(a[3], a[4], a[5], &cs) ||
      !key_view(a[0], &key)) {
    return nullptr;
  }
  AsyncCall* call = new_async_call(self, a[1], a[2], AsyncKind::kGet);
  if (!call) return nullptr;
  PyRef hold_key = PyRef::borrow(a[0]);
  return submit_async(self, cs, call, [&](stratacache_cache* h, const stratacache_callopts* co) {
    return stratacache_get_async(h, key.data, static_cast<size_t>(key.size), co, on_async_done, call);
  });
}

PyObject* cache_set_async(PyObject* o, Args args, Py_ssize_t nargs, PyObject* kwnames) {
  auto* self = reinterpret_cast<CacheObject*>(o);
  PyObject* a[8] = {};
  KeyView key;
  CallSettings cs;
  int64_t ttl_ms = STRATACACHE_TTL_DEFAULT;
  if (!g_sig->set_async.parse(args, nargs, kwnames, a) ||
      !seconds_to_ms(a[4], "ttl", STRATACACHE_TTL_DEFAULT, &ttl_ms) || !parse_call_settings(a[5], a[6], a[7], &cs) ||
      !key_view(a[0], &key)) {
    return nullptr;
  }
  EncodedValue value;
  if (!value.encode(self, a[1], "value")) return nullptr;
  AsyncCall* call = new_async_call(self, a[2], a[3], AsyncKind::kSet);
  if (!call) return nullptr;
  return submit_async(self, cs, call, [&](stratacache_cache* h, const stratacache_callopts* co) {
    return stratacache_set_async(h, key.data, static_cast<size_t>(key.size), value.data(), value.size(),
                                 value.format(), ttl_ms, co, on_async_done, call);
  });
}

PyObject* cache_delete_async(PyObject* o, Args args, Py_ssize_t nargs, PyObject* kwnames) {
  auto* self = reinterpret_cast<CacheObject*>(o);
  PyObject* a[6];
  CallSettings cs;
  KeyList keys;
  if (!g_sig->delete_async.parse(args, nargs, kwnames, a) || !parse_call_settings(a[3], a[4], a[5], &cs) ||
      !keys.add_all(a[0])) {
    return nullptr;
  }
  AsyncCall* call = new_async_call(self, a[1], a[2], AsyncKind::kDelete);
  if (!call) return nullptr;
  return submit_async(self, cs, call, [&](stratacache_cache* h, const stratacache_callopts* co) {
    return stratacache_delete_async(h, keys.data.data(), keys.sizes.data(), keys.data.size(), co, on_async_done, call);
  });
}

PyObject* get_async_native(PyObject* o, void*) {
  auto* self = reinterpret_cast<CacheObject*>(o);
  return PyBool_FromLong(self->handle != nullptr && stratacache_async_native(self->handle));
}

PyMethodDef cache_methods[] = {
    {"get", fastcall(cache_get), kFast,
     "get($self, /, key, *, skip_l1=False, skip_l2=False, timeout=None)\n--\n\n"
     "The value stored under key, or MISSING."},
    {"get_many", fastcall(cache_get_many), kFast,
     "get_many($self, /, keys, *, skip_l1=False, skip_l2=False, timeout=None)\n--\n\n"
     "A list with the value or MISSING for each key (one L2 round trip)."},
    {"set", fastcall(cache_set), kFast,
     "set($self, /, key, value, ttl=None, *, skip_l1=False, skip_l2=False, timeout=None)\n--\n\n"
     "Store value; ttl in seconds (None: default_ttl, 0: never expires)."},
    {"set_many", fastcall(cache_set_many), kFast,
     "set_many($self, /, items, ttl=None, *, skip_l1=False, skip_l2=False, timeout=None)\n--\n\n"
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
    {"health", fastcall(cache_health), kFast,
     "health($self, /, timeout=None)\n--\n\n"
     "dict: healthy, latency_ms, version, used_memory, connected_clients, uptime_seconds, error."},
    {"stats", cache_stats, METH_NOARGS, "stats($self, /)\n--\n\nCounters of both tiers as a dict."},
    {"flush_l1", cache_flush_l1, METH_NOARGS, "flush_l1($self, /)\n--\n\nDrop every L1 entry of this handle."},
    {"get_async", fastcall(cache_get_async), kFast,
     "get_async($self, /, key, completer, future, *, skip_l1=False, skip_l2=False, timeout=None)\n--\n\n"
     "Submit a get; completer.drain() later yields (future, ok, value or exception)."},
    {"set_async", fastcall(cache_set_async), kFast,
     "set_async($self, /, key, value, completer, future, ttl=None, *, skip_l1=False, skip_l2=False, timeout=None)"
     "\n--\n\nSubmit a set (see get_async)."},
    {"delete_async", fastcall(cache_delete_async), kFast,
     "delete_async($self, /, keys, completer, future, *, skip_l1=False, skip_l2=False, timeout=None)\n--\n\n"
     "Submit a delete (see get_async); the result is how many keys existed."},
    {"close", cache_close, METH_NOARGS,
     "close($self, /)\n--\n\nClose the handle once calls in flight returned; later calls raise CacheError."},
    {nullptr, nullptr, 0, nullptr},
};

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

}  // namespace

void register_cache(pybind11::module_& m) {
  g_sig = new Signatures();  // lives as long as the process: the module is never unloaded
  PyObject* type = PyType_FromSpec(&cache_spec);
  if (!type) throw pybind11::error_already_set();
  m.add_object("NativeCache", pybind11::reinterpret_steal<pybind11::object>(type));
  pybind11::class_<Completer>(m, "Completer",
                              "Completion queue of one event loop for NativeCache.*_async (fileno() for add_reader).")
      .def(pybind11::init<>())
      .def("fileno", &Completer::fileno)
      .def("drain", &Completer::drain);
}

}  // namespace stratacache::python
