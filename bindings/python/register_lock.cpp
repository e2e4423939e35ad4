#include "register_lock.hpp"

#include <cstdint>
#include <string>
#include <utility>

#include "errors.hpp"
#include "register_cache.hpp"
#include "stratacache.h"

namespace py = pybind11;

namespace stratacache::python {
namespace {

struct LockErrors {
  PyObject* base = nullptr;          // LockError(CacheError)
  PyObject* not_owned = nullptr;     // LockNotOwnedError(LockError): EABORTED from extend / release
  PyObject* not_acquired = nullptr;  // LockNotAcquiredError(LockError, TimeoutError): ETIMEDOUT from acquire
};
LockErrors g_lock;

// The exception for a lock call's code: the lock classes for what only locks mean,
// the package's table (errors.hpp) for the rest. message: nullptr for this thread's last error.
py::object lock_error(int rc, bool acquiring, const char* message) {
  if (!message || !*message) message = stratacache_last_error();
  if (!message || !*message) message = stratacache_strerror(rc);
  PyObject* cls = nullptr;
  if (rc == STRATACACHE_EABORTED) cls = g_lock.not_owned;
  if (rc == STRATACACHE_ETIMEDOUT && acquiring) cls = g_lock.not_acquired;
  PyObject* exc = cls ? PyObject_CallFunction(cls, "s", message) : make_error(rc, Origin::kOperation, message);
  if (!exc) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(exc);
}

[[noreturn]] void raise_lock_error(int rc, bool acquiring) {
  py::object exc = lock_error(rc, acquiring, nullptr);
  PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
  throw py::error_already_set();
}

// str (UTF-8) or bytes.
std::string name_bytes(const py::object& name) {
  if (PyUnicode_Check(name.ptr())) return name.cast<std::string>();
  if (PyBytes_Check(name.ptr())) return std::string(PyBytes_AS_STRING(name.ptr()), PyBytes_GET_SIZE(name.ptr()));
  throw py::type_error("lock name must be str or bytes");
}

struct Callopts {
  stratacache_callopts* co = nullptr;
  explicit Callopts(int64_t timeout_ms) {
    if (timeout_ms < 0) return;
    if (stratacache_callopts_new(&co) != STRATACACHE_OK) throw std::bad_alloc();
    stratacache_callopts_set_timeout_ms(co, timeout_ms);
  }
  ~Callopts() { stratacache_callopts_free(co); }
};

void free_lock(stratacache_lock* l) {
  if (!l) return;
  py::gil_scoped_release nogil;
  stratacache_lock_free(l);
}

// A held lock: release() or extend() it; dropping it releases it (best effort).
class NativeLock {
 public:
  NativeLock(stratacache_lock* lock, py::object name) : lock_(lock), fence_(stratacache_lock_fence(lock)), name_(std::move(name)) {}
  ~NativeLock() { free_lock(std::exchange(lock_, nullptr)); }
  NativeLock(const NativeLock&) = delete;
  NativeLock& operator=(const NativeLock&) = delete;

  uint64_t fence() const { return fence_; }
  const py::object& name() const { return name_; }
  bool held() const { return lock_ != nullptr; }

  void extend(int64_t ttl_ms) {
    stratacache_lock* l = need();
    int rc;
    {
      py::gil_scoped_release nogil;
      rc = stratacache_lock_extend(l, ttl_ms);
    }
    if (rc != STRATACACHE_OK) raise_lock_error(rc, false);
  }
  void release() {
    stratacache_lock* l = need();
    lock_ = nullptr;
    int rc;
    {
      py::gil_scoped_release nogil;
      rc = stratacache_lock_release(l);
    }
    if (rc != STRATACACHE_OK) raise_lock_error(rc, false);
  }
  void extend_async(const py::object& completer, const py::object& future, int64_t ttl_ms);
  void release_async(const py::object& completer, const py::object& future);

 private:
  stratacache_lock* need() const {
    if (!lock_) {
      PyErr_SetString(g_lock.base, "the lock was already released");
      throw py::error_already_set();
    }
    return lock_;
  }
  stratacache_lock* lock_;
  uint64_t fence_;
  py::object name_;
};

// One submission: its future and the references its completion needs (dropped by the
// completion, which runs in Completer.drain() on the loop's thread, GIL held).
struct AsyncLockCall {
  py::object completer, future, name;
};

bool pending(const py::object& future) { return !future.attr("done")().cast<bool>(); }

// Nothing may escape a completion: it returns into C.
template <typename F>
void in_completion(AsyncLockCall* call, F&& body) {
  std::unique_ptr<AsyncLockCall> owned(call);
  try {
    body(*owned);
  } catch (py::error_already_set& e) {
    e.restore();
    PyErr_WriteUnraisable(owned->future.ptr());
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
    PyErr_WriteUnraisable(owned->future.ptr());
  }
}

void on_acquired(void* payload, int status, const char* message, stratacache_lock* lock, uint64_t) {
  in_completion(static_cast<AsyncLockCall*>(payload), [&](AsyncLockCall& call) {
    if (!pending(call.future)) return free_lock(lock);  // cancelled: give the lock back
    if (status != STRATACACHE_OK) {
      call.future.attr("set_exception")(lock_error(status, true, message));
      return;
    }
    call.future.attr("set_result")(py::cast(new NativeLock(lock, call.name), py::return_value_policy::take_ownership));
  });
}

void on_done(void* payload, int status, const char* message, void* value, size_t, int, int64_t) {
  stratacache_free(value);
  in_completion(static_cast<AsyncLockCall*>(payload), [&](AsyncLockCall& call) {
    if (!pending(call.future)) return;
    if (status == STRATACACHE_OK) call.future.attr("set_result")(py::none());
    else call.future.attr("set_exception")(lock_error(status, false, message));
  });
}

void NativeLock::extend_async(const py::object& completer, const py::object& future, int64_t ttl_ms) {
  stratacache_lock* l = need();
  stratacache_queue* q = completer_queue(completer.ptr());
  if (!q) throw py::error_already_set();
  auto* call = new AsyncLockCall{completer, future, name_};
  int rc;
  {
    py::gil_scoped_release nogil;
    rc = stratacache_submit_lock_extend(l, ttl_ms, q, on_done, call);
  }
  if (rc != STRATACACHE_OK) {
    delete call;
    raise_lock_error(rc, false);
  }
}

void NativeLock::release_async(const py::object& completer, const py::object& future) {
  stratacache_lock* l = need();
  stratacache_queue* q = completer_queue(completer.ptr());
  if (!q) throw py::error_already_set();
  lock_ = nullptr;  // consumed by the submission in every case
  auto* call = new AsyncLockCall{completer, future, name_};
  int rc;
  {
    py::gil_scoped_release nogil;
    rc = stratacache_submit_lock_release(l, q, on_done, call);
  }
  if (rc != STRATACACHE_OK) {
    delete call;
    raise_lock_error(rc, false);
  }
}

stratacache_cache* handle_of(const py::object& cache) {
  stratacache_cache* h = native_handle(cache.ptr());
  if (!h) throw py::error_already_set();
  return h;
}

NativeLock* lock_acquire(const py::object& cache, const py::object& name, int64_t ttl_ms, int64_t wait_ms,
                         int64_t timeout_ms) {
  std::string n = name_bytes(name);
  stratacache_cache* h = handle_of(cache);
  Callopts co(timeout_ms);
  stratacache_lock* l = nullptr;
  int rc;
  {
    py::gil_scoped_release nogil;
    rc = stratacache_lock_acquire(&l, nullptr, h, n.data(), n.size(), ttl_ms, wait_ms, co.co);
  }
  if (rc != STRATACACHE_OK) raise_lock_error(rc, true);
  return new NativeLock(l, name);
}

void lock_acquire_async(const py::object& completer, const py::object& future, const py::object& cache,
                        const py::object& name, int64_t ttl_ms, int64_t wait_ms, int64_t timeout_ms) {
  std::string n = name_bytes(name);
  stratacache_cache* h = handle_of(cache);
  stratacache_queue* q = completer_queue(completer.ptr());
  if (!q) throw py::error_already_set();
  Callopts co(timeout_ms);
  auto* call = new AsyncLockCall{completer, future, name};
  int rc;
  {
    py::gil_scoped_release nogil;
    rc = stratacache_submit_lock_acquire(h, n.data(), n.size(), ttl_ms, wait_ms, co.co, q, on_acquired, call);
  }
  if (rc != STRATACACHE_OK) {
    delete call;
    raise_lock_error(rc, true);
  }
}

PyObject* exception_class(const char* name, PyObject* bases, const char* doc) {
  PyObject* cls = PyErr_NewExceptionWithDoc(name, doc, bases, nullptr);
  if (!cls) throw py::error_already_set();
  return cls;
}

}  // namespace

void register_lock(py::module_& m) {
  g_lock.base = exception_class("stratacache._native.LockError", g_errors.cache, "Base of the distributed-lock errors.");
  g_lock.not_owned = exception_class("stratacache._native.LockNotOwnedError", g_lock.base,
                                     "extend or release of a lock this caller no longer holds (it expired).");
  py::tuple bases = py::make_tuple(py::handle(g_lock.base), py::handle(PyExc_TimeoutError));
  g_lock.not_acquired = exception_class("stratacache._native.LockNotAcquiredError", bases.ptr(),
                                        "The lock was still held by another owner when the wait ran out.");
  m.add_object("LockError", g_lock.base);
  m.add_object("LockNotOwnedError", g_lock.not_owned);
  m.add_object("LockNotAcquiredError", g_lock.not_acquired);
  py::class_<NativeLock>(m, "NativeLock", "A held distributed lock (stratacache_lock).")
      .def_property_readonly("fence", &NativeLock::fence, "The fencing token: greater for every new holder.")
      .def_property_readonly("name", &NativeLock::name)
      .def_property_readonly("held", &NativeLock::held, "True until release() or release_async().")
      .def("extend", &NativeLock::extend, py::arg("ttl_ms"), "Set the remaining lifetime (ms) if still the owner.")
      .def("release", &NativeLock::release, "Release (only while still the owner) and free the lock.")
      .def("extend_async", &NativeLock::extend_async, py::arg("completer"), py::arg("future"), py::arg("ttl_ms"))
      .def("release_async", &NativeLock::release_async, py::arg("completer"), py::arg("future"));
  m.def("lock_acquire", &lock_acquire, py::arg("cache"), py::arg("name"), py::arg("ttl_ms"), py::arg("wait_ms"),
        py::arg("timeout_ms") = -1, py::return_value_policy::take_ownership,
        "Acquire a lock on a NativeCache, waiting up to wait_ms (GIL released). LockNotAcquiredError when still "
        "held when the wait ran out.");
  m.def("lock_acquire_async", &lock_acquire_async, py::arg("completer"), py::arg("future"), py::arg("cache"),
        py::arg("name"), py::arg("ttl_ms"), py::arg("wait_ms"), py::arg("timeout_ms") = -1,
        "Submit lock_acquire; completer.drain() resolves future with a NativeLock.");
}

}  // namespace stratacache::python
