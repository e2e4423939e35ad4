// The log hook for Python (docs/operations.md, "Log events"): the C handler copies each
// event into a bounded buffer without touching the GIL; log_wait() hands them to the
// package's stratacache-log thread, which routes them into `logging`.
#pragma once

#include <pybind11/pybind11.h>

namespace stratacache::python {

void register_log(pybind11::module_& m);

}  // namespace stratacache::python
