// Distributed locks (docs/locks.md): NativeLock over the C ABI's stratacache_lock, the
// lock_acquire / lock_acquire_async functions and the lock exception classes.
#pragma once

#include <pybind11/pybind11.h>

namespace stratacache::python {

void register_lock(pybind11::module_& m);

}  // namespace stratacache::python
