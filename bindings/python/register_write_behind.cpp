// NativeWriteBehind: a write-behind (capi: stratacache_write_behind_*) on a NativeCache.
//
// The library calls `dispatch(kind, key, value, attempt, ack)` for every write:
//  - workers >= 1: on a library worker thread, taking the GIL; dispatch calls the user's
//    writer and then ack(None) or ack("why it failed") before it returns (the worker
//    waits for the ack);
//  - workers = 0 (asyncio): inside Completer.drain() on the loop's thread; dispatch
//    starts a task and acks when it is done (the queue goes on meanwhile).
// An Ack never called acks "the writer never answered" when it is collected, so a write
// is never left without an outcome.
#include "register_write_behind.hpp"

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

#include "errors.hpp"
#include "register_cache.hpp"
#include "stratacache.h"

namespace stratacache::python {

namespace py = pybind11;

namespace {

// The answer to one write; call it once.
class Ack {
 public:
  explicit Ack(stratacache_wb_op* op) : op_(op) {}
  ~Ack() {
    if (op_) stratacache_write_behind_ack(op_, STRATACACHE_EUNAVAILABLE, "the writer never answered");
  }
  Ack(const Ack&) = delete;
  Ack& operator=(const Ack&) = delete;

  bool pending() const { return op_ != nullptr; }
  // None: written; a str: the write failed (retried with backoff).
  void call(std::optional<std::string> error) {
    if (!op_) throw py::value_error("this write was already answered");
    stratacache_wb_op* op = std::exchange(op_, nullptr);
    if (error) stratacache_write_behind_ack(op, STRATACACHE_EUNAVAILABLE, error->c_str());
    else stratacache_write_behind_ack(op, STRATACACHE_OK, nullptr);
  }

 private:
  stratacache_wb_op* op_;
};

// What the C callbacks reach through ctx: the Python objects, alive while the write-
// behind is open (the NativeWriteBehind owns it and closes before freeing it).
struct Host {
  py::object cache;     // NativeCache: decodes values
  py::object dispatch;  // dispatch(kind, key, value, attempt, ack)
  py::object on_failure;  // on_failure(kind, key, value, message) or None
};

bool interpreter_gone() {
#if PY_VERSION_HEX >= 0x030D0000
  return Py_IsFinalizing();
#else
  return _Py_IsFinalizing();
#endif
}

py::object key_object(const void* key, size_t len) {
  return py::reinterpret_steal<py::object>(
      PyUnicode_DecodeUTF8(static_cast<const char*>(key), static_cast<Py_ssize_t>(len), "surrogateescape"));
}

py::object value_object(Host* h, int kind, const void* value, size_t len, int format) {
  if (kind == STRATACACHE_WB_DELETE) return py::none();
  PyObject* v = native_decode(h->cache.ptr(), value, len, format);
  if (!v) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(v);
}

std::string describe(py::error_already_set& e) {
  std::string what = e.what();
  return what.empty() ? "writer raised" : what;
}

int writer_cb(void* ctx, stratacache_wb_op* op, int kind, const void* key, size_t key_len, const void* value,
              size_t value_len, int format, int attempt) {
  if (interpreter_gone()) return STRATACACHE_EUNAVAILABLE;
  auto* h = static_cast<Host*>(ctx);
  py::gil_scoped_acquire gil;
  if (h->dispatch.is_none()) return STRATACACHE_EUNAVAILABLE;  // closed: this write was already counted abandoned
  auto owned = std::make_unique<Ack>(op);
  Ack* ack = owned.get();
  py::object ack_obj = py::cast(std::move(owned));
  try {
    h->dispatch(kind, key_object(key, key_len), value_object(h, kind, value, value_len, format), attempt, ack_obj);
  } catch (py::error_already_set& e) {
    // dispatch failed before answering: the write failed (retried); the error is logged.
    std::string why = describe(e);
    e.restore();
    PyErr_WriteUnraisable(h->dispatch.ptr());
    if (ack->pending()) ack->call(why);
  }
  return STRATACACHE_WB_PENDING;  // the Ack answers (at the latest when it is collected)
}

void failure_cb(void* ctx, int kind, const void* key, size_t key_len, const void* value, size_t value_len, int format,
                int status, const char* message) {
  if (interpreter_gone()) return;
  auto* h = static_cast<Host*>(ctx);
  py::gil_scoped_acquire gil;
  if (h->on_failure.is_none()) return;
  try {
    h->on_failure(kind, key_object(key, key_len), value_object(h, kind, value, value_len, format),
                  std::string(stratacache_strerror(status)) + ": " + (message ? message : ""));
  } catch (py::error_already_set& e) {
    e.restore();
    PyErr_WriteUnraisable(h->on_failure.ptr());
  }
}

void raise_rc(int rc) {
  raise_code(rc, Origin::kOperation);
  throw py::error_already_set();
}

class NativeWriteBehind {
 public:
  NativeWriteBehind(py::object cache, py::object dispatch, py::object on_failure, const py::dict& options,
                    py::object completer)
      : host_(new Host{cache, std::move(dispatch), std::move(on_failure)}) {
    stratacache_cache* handle = native_handle(cache.ptr());
    if (!handle) throw py::error_already_set();
    stratacache_wb_options* raw = nullptr;
    if (int rc = stratacache_wb_options_new(&raw)) raise_rc(rc);
    std::unique_ptr<stratacache_wb_options, void (*)(stratacache_wb_options*)> o(raw, stratacache_wb_options_free);
    for (auto item : options) {
      std::string name = py::str(item.first), value = py::str(item.second);
      if (int rc = stratacache_wb_options_set(raw, name.c_str(), value.c_str())) {
        raise_code(rc, Origin::kOpen);
        throw py::error_already_set();
      }
    }
    if (!completer.is_none()) {
      stratacache_queue* queue = completer_queue(completer.ptr());
      if (!queue) throw py::error_already_set();
      stratacache_wb_options_set_queue(raw, queue);
      completer_ = completer;
    }
    stratacache_wb_options_set_failure(raw, failure_cb, host_.get());
    int rc;
    {
      py::gil_scoped_release nogil;
      rc = stratacache_write_behind_open(&wb_, handle, raw, writer_cb, host_.get());
    }
    if (rc) {
      raise_code(rc, Origin::kOpen);
      throw py::error_already_set();
    }
  }
  ~NativeWriteBehind() {
    py::gil_scoped_release nogil;
    stratacache_write_behind_free(std::exchange(wb_, nullptr));
  }

  void set(py::handle key, py::handle value, int64_t ttl_ms) {
    std::string k = key_bytes(key), v;
    int format = 0;
    if (!native_encode(host_->cache.ptr(), value.ptr(), &v, &format)) throw py::error_already_set();
    call([&](stratacache_write_behind* wb, const stratacache_callopts* co) {
      return stratacache_write_behind_set(wb, k.data(), k.size(), v.data(), v.size(), format, co);
    }, ttl_ms);
  }
  void remove(py::handle key) {
    std::string k = key_bytes(key);
    call([&](stratacache_write_behind* wb, const stratacache_callopts* co) {
      return stratacache_write_behind_delete(wb, k.data(), k.size(), co);
    }, -1);
  }
  // True when everything queued before it was written or failed; False at the timeout.
  bool flush(int64_t timeout_ms) {
    int rc;
    {
      py::gil_scoped_release nogil;
      rc = stratacache_write_behind_flush(wb_, timeout_ms);
    }
    if (rc == STRATACACHE_ETIMEDOUT) return false;
    if (rc) raise_rc(rc);
    return true;
  }
  // How many writes were abandoned (0: all written or failed; a second close: 0).
  uint64_t close(int64_t timeout_ms) {
    stratacache_write_behind* wb = handle();
    uint64_t before = stat(wb, "abandoned");
    int rc;
    {
      py::gil_scoped_release nogil;
      rc = stratacache_write_behind_close(wb, timeout_ms);
    }
    closed_ = true;
    // No writer call comes after close (a queued one finds dispatch None and is dropped):
    // letting go of the Python objects breaks the cycle through dispatch's bound self.
    host_->dispatch = py::none();
    host_->on_failure = py::none();
    if (rc && rc != STRATACACHE_ETIMEDOUT) raise_rc(rc);
    return stat(wb, "abandoned") - before;
  }
  py::dict stats() const {
    py::dict d;
    for (const char* name : {"pending", "written", "failed", "retries", "coalesced", "rejected", "abandoned"}) {
      d[name] = stat(handle(), name);
    }
    return d;
  }
  std::string last_error() const {
    char* m = nullptr;
    if (int rc = stratacache_write_behind_last_error(&m, nullptr, handle())) raise_rc(rc);
    std::string out(m);
    stratacache_free(m);
    return out;
  }
  bool closed() const { return closed_; }

 private:
  static uint64_t stat(const stratacache_write_behind* wb, const char* name) {
    uint64_t v = 0;
    if (int rc = stratacache_write_behind_stat(&v, wb, name)) raise_rc(rc);
    return v;
  }
  stratacache_write_behind* handle() const { return wb_; }
  static std::string key_bytes(py::handle key) {
    if (PyUnicode_Check(key.ptr())) {
      Py_ssize_t n = 0;
      const char* p = PyUnicode_AsUTF8AndSize(key.ptr(), &n);
      if (!p) throw py::error_already_set();
      return std::string(p, static_cast<size_t>(n));
    }
    if (PyBytes_Check(key.ptr())) return std::string(PyBytes_AS_STRING(key.ptr()), PyBytes_GET_SIZE(key.ptr()));
    throw py::type_error(std::string("key must be str or bytes, not '") + Py_TYPE(key.ptr())->tp_name + "'");
  }
  template <typename F>
  void call(F&& body, int64_t ttl_ms) {
    stratacache_write_behind* wb = wb_;
    stratacache_callopts* co = nullptr;
    if (int rc = stratacache_callopts_new(&co)) raise_rc(rc);
    std::unique_ptr<stratacache_callopts, void (*)(stratacache_callopts*)> own(co, stratacache_callopts_free);
    char err[512] = "";
    stratacache_callopts_set_error_buffer(co, err, sizeof err);
    if (ttl_ms != -1) {
      if (int rc = stratacache_callopts_set_ttl_ms(co, ttl_ms)) raise_rc(rc);
    }
    int rc;
    {
      py::gil_scoped_release nogil;
      rc = body(wb, co);
    }
    if (rc) {
      PyObject* e = make_error(rc, Origin::kOperation, err);
      if (!e) throw py::error_already_set();
      PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(e)), e);
      Py_DECREF(e);
      throw py::error_already_set();
    }
  }

  std::unique_ptr<Host> host_;
  py::object completer_;
  stratacache_write_behind* wb_ = nullptr;  // freed by the destructor only
  bool closed_ = false;
};

}  // namespace

void register_write_behind(py::module_& m) {
  py::class_<Ack>(m, "WriteAck", "The answer to one write-behind write: call it once with None (written) or why it failed.")
      .def("__call__", &Ack::call, py::arg("error") = py::none());
  py::class_<NativeWriteBehind>(m, "NativeWriteBehind",
                                "A write-behind queue on a NativeCache (capi: stratacache_write_behind_*).")
      .def(py::init<py::object, py::object, py::object, const py::dict&, py::object>(), py::arg("cache"),
           py::arg("dispatch"), py::arg("on_failure"), py::arg("options"), py::arg("completer"))
      .def("set", &NativeWriteBehind::set, py::arg("key"), py::arg("value"), py::arg("ttl_ms") = -1)
      .def("delete", &NativeWriteBehind::remove, py::arg("key"))
      .def("flush", &NativeWriteBehind::flush, py::arg("timeout_ms"))
      .def("close", &NativeWriteBehind::close, py::arg("timeout_ms"))
      .def("stats", &NativeWriteBehind::stats)
      .def("last_error", &NativeWriteBehind::last_error)
      .def_property_readonly("closed", &NativeWriteBehind::closed);
  m.attr("WB_SET") = STRATACACHE_WB_SET;
  m.attr("WB_DELETE") = STRATACACHE_WB_DELETE;
}

}  // namespace stratacache::python
