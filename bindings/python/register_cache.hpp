// NativeCache: one stratacache_cache handle (see docs/python-native-api.md).
#pragma once

#include <pybind11/pybind11.h>

#include "stratacache.h"

namespace stratacache::python {

// A CPython type with METH_FASTCALL methods: a cache hit is the hot path of every
// @cached call, and pybind11's generic dispatch costs several times the lookup itself.
void register_cache(pybind11::module_& m);

// For the other register_*.cpp files. The C handle of a NativeCache, or nullptr with
// TypeError / CacheError ("cache is closed") set.
stratacache_cache* native_handle(PyObject* cache);
// The completion queue of a Completer, or nullptr with TypeError set.
stratacache_queue* completer_queue(PyObject* completer);

}  // namespace stratacache::python
