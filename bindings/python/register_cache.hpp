// NativeCache: one stratacache_cache handle (see docs/python-native-api.md).
#pragma once

#include <pybind11/pybind11.h>

#include <string>

#include "stratacache.h"

namespace stratacache::python {

// A CPython type with METH_FASTCALL methods: a cache hit is the hot path of every
// @cached call, and pybind11's generic dispatch costs several times the lookup itself.
void register_cache(pybind11::module_& m);

// For the other register_*.cpp (GIL held): a NativeCache's handle (nullptr with an
// exception set when `cache` is not a NativeCache or is closed), and its value
// conversions: the bytes set() would store for value (false with an exception set), and
// a stored value decoded as get() decodes it (MISSING when it does not decode).
stratacache_cache* native_handle(PyObject* cache);
bool native_encode(PyObject* cache, PyObject* value, std::string* out, int* format);
PyObject* native_decode(PyObject* cache, const void* data, size_t len, int format);
// The completion queue of a Completer, or nullptr with TypeError set.
stratacache_queue* completer_queue(PyObject* completer);

}  // namespace stratacache::python
