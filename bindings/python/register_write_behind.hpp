// NativeWriteBehind and WriteAck (see docs/python-native-api.md, docs/write-behind.md).
#pragma once

#include <pybind11/pybind11.h>

namespace stratacache::python {

void register_write_behind(pybind11::module_& m);

}  // namespace stratacache::python
