// Tags and dependencies for NativeCache (docs/tags.md): argument parsing and the
// callopts settings; the methods (invalidate_tags, invalidate_tags_async) are in
// NativeCache's method table.
#pragma once

#include <Python.h>

#include <string>
#include <vector>

#include "args.hpp"
#include "stratacache.h"

namespace stratacache::python {

// None or an iterable of str/bytes (not a lone str or bytes) into *out. False with
// TypeError set otherwise.
bool parse_names(PyObject* o, const char* what, std::vector<std::string>* out);
// cs's tags and dependencies into co; the C ABI's code.
int apply_tags(stratacache_callopts* co, const CallSettings& cs);
// The names as the C ABI takes them (pointers into `names`, which must outlive them).
struct NameArrays {
  explicit NameArrays(const std::vector<std::string>& names);
  std::vector<const void*> ptrs;
  std::vector<size_t> lens;
};

}  // namespace stratacache::python
