#include "errors.hpp"

#include "stratacache.h"

namespace stratacache::python {

Errors g_errors;

namespace {

PyObject* exception_class(const char* name, PyObject* bases, const char* doc) {
  PyObject* cls = PyErr_NewExceptionWithDoc(name, doc, bases, nullptr);
  if (!cls) throw pybind11::error_already_set();
  return cls;
}

PyObject* class_for(int rc, Origin origin) {
  switch (rc) {
    case STRATACACHE_EUNAVAILABLE: return g_errors.connection;
    case STRATACACHE_ETIMEDOUT: return g_errors.timeout;
    case STRATACACHE_EAUTH: return g_errors.auth;
    case STRATACACHE_EUNSUPPORTED: return g_errors.config;
    case STRATACACHE_EINVAL: return origin == Origin::kOpen ? g_errors.config : g_errors.value;
    case STRATACACHE_ETOOBIG: return g_errors.value;
    case STRATACACHE_EWRONGTYPE: return g_errors.wrong_type;
    case STRATACACHE_ELOADFAILED:
    case STRATACACHE_EABORTED: return g_errors.load;
    default: return g_errors.cache;  // ECORRUPT, EINTERNAL, ENOMEM, unknown codes
  }
}

}  // namespace

PyObject* raise_code(int rc, Origin origin) {
  const char* msg = stratacache_last_error();
  if (!msg || !*msg) msg = stratacache_strerror(rc);
  PyErr_SetString(class_for(rc, origin), msg);
  return nullptr;
}

PyObject* make_error(int rc, Origin origin, const char* message) {
  if (!message || !*message) message = stratacache_strerror(rc);
  return PyObject_CallFunction(class_for(rc, origin), "s", message);
}

void register_errors(pybind11::module_& m) {
  namespace py = pybind11;
  auto tuple = [](PyObject* a, PyObject* b) { return py::make_tuple(py::handle(a), py::handle(b)); };
  g_errors.cache = exception_class("stratacache._native.CacheError", PyExc_Exception,
                                   "Base of every stratacache error.");
  g_errors.connection = exception_class("stratacache._native.CacheConnectionError", g_errors.cache,
                                        "Redis is unreachable (L1 is still served).");
  g_errors.timeout = exception_class("stratacache._native.CacheTimeoutError", g_errors.connection,
                                     "The call's deadline passed.");
  g_errors.auth = exception_class("stratacache._native.CacheAuthError", g_errors.connection,
                                  "Redis refused the credentials (AUTH / ACL).");
  py::tuple config_bases = tuple(g_errors.cache, PyExc_ValueError);
  g_errors.config = exception_class("stratacache._native.CacheConfigError", config_bases.ptr(),
                                    "A bad URL, parameter or key, or a feature this build does not support.");
  py::tuple value_bases = tuple(g_errors.cache, PyExc_ValueError);
  g_errors.value = exception_class("stratacache._native.CacheValueError", value_bases.ptr(),
                                   "An operation's argument or value was refused (e.g. a key or value too long).");
  py::tuple type_bases = tuple(g_errors.cache, PyExc_TypeError);
  g_errors.wrong_type = exception_class("stratacache._native.CacheWrongTypeError", type_bases.ptr(),
                                        "The stored value has the wrong type (e.g. increment on a string).");
  g_errors.load = exception_class("stratacache._native.CacheLoadError", g_errors.cache,
                                  "A read-through load failed: another caller's, whose message this carries, or "
                                  "one whose lease was lost.");
  m.add_object("CacheError", g_errors.cache);
  m.add_object("CacheConnectionError", g_errors.connection);
  m.add_object("CacheTimeoutError", g_errors.timeout);
  m.add_object("CacheAuthError", g_errors.auth);
  m.add_object("CacheConfigError", g_errors.config);
  m.add_object("CacheValueError", g_errors.value);
  m.add_object("CacheWrongTypeError", g_errors.wrong_type);
  m.add_object("CacheLoadError", g_errors.load);
}

}  // namespace stratacache::python
