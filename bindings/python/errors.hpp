// One exception hierarchy and one table from C ABI result codes to it.
#pragma once

#include <Python.h>
#include <pybind11/pybind11.h>

namespace stratacache::python {

struct Errors {
  PyObject* cache = nullptr;       // CacheError(Exception)
  PyObject* connection = nullptr;  // CacheConnectionError(CacheError)
  PyObject* timeout = nullptr;     // CacheTimeoutError(CacheConnectionError)
  PyObject* auth = nullptr;        // CacheAuthError(CacheConnectionError)
  PyObject* config = nullptr;      // CacheConfigError(CacheError, ValueError)
  PyObject* value = nullptr;       // CacheValueError(CacheError, ValueError)
  PyObject* wrong_type = nullptr;  // CacheWrongTypeError(CacheError, TypeError)
  PyObject* load = nullptr;        // CacheLoadError(CacheError): ELOADFAILED, EABORTED
};
extern Errors g_errors;

// Where a code came from: EINVAL means a bad setting when opening, a bad argument or
// value in an operation.
enum class Origin { kOpen, kOperation };

// Sets the exception for a C ABI result code (message: stratacache_last_error() of
// this thread, else stratacache_strerror) and returns nullptr.
PyObject* raise_code(int rc, Origin origin);

// A new exception instance for a result code with `message` (empty: stratacache_strerror).
PyObject* make_error(int rc, Origin origin, const char* message);

void register_errors(pybind11::module_& m);

}  // namespace stratacache::python
