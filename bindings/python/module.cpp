// stratacache._native: registers each area; the code lives in register_*.cpp,
// errors.cpp, value_types.cpp and convert_*.cpp.
#include <pybind11/pybind11.h>

#include "errors.hpp"
#include "register_cache.hpp"
#include "register_write_behind.hpp"
#include "register_lock.hpp"
#include "register_log.hpp"
#include "stratacache.h"
#include "value_types.hpp"

namespace py = pybind11;

// Revision of the Python-visible API of this module (docs/python-native-api.md);
// the pure-Python package checks it. Not the C library's version: see version().
// 2: every operation has X_async(completer, future, ...); 3: acquire, Lease, CacheLoadError;
// 4: NativeWriteBehind, WriteAck; lock_acquire(_async), NativeLock, the Lock*Error
// classes; warm(_async). 6: server_info(_async), log_install / log_remove / log_wait.
constexpr int kAbiVersion = 6;

PYBIND11_MODULE(_native, m) {
  using namespace stratacache::python;
  m.doc() = "stratacache native core: NativeCache over libstratacache's C ABI, MessagePack/JSON conversion.";
  // The loaded libstratacache must speak the C ABI this module was compiled against.
  if (stratacache_version_number() / 10000 != STRATACACHE_VERSION_MAJOR) {
    throw py::import_error(std::string("stratacache._native was built for libstratacache ") +
                           STRATACACHE_VERSION_STRING + " but loaded " + stratacache_version_string());
  }
  register_errors(m);
  register_values(m);
  register_cache(m);
  register_write_behind(m);
  register_lock(m);
  register_log(m);
  m.def("version", [] { return std::string(stratacache_version_string()); },
        "Version of the loaded libstratacache, e.g. '0.1.0'.");
  m.attr("ABI_VERSION") = kAbiVersion;
}
