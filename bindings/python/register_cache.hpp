// NativeCache: one stratacache_cache handle (see docs/python-native-api.md).
#pragma once

#include <pybind11/pybind11.h>

namespace stratacache::python {

// A CPython type with METH_FASTCALL methods: a cache hit is the hot path of every
// @cached call, and pybind11's generic dispatch costs several times the lookup itself.
void register_cache(pybind11::module_& m);

}  // namespace stratacache::python
