// Argument parsing for the METH_FASTCALL | METH_KEYWORDS methods of NativeCache:
// keys, TTLs, timeouts and per-call flags, without creating Python objects.
#pragma once

#include <Python.h>

#include <cstdint>
#include <string>
#include <vector>

namespace stratacache::python {

// One method's parameters: the first max_positional may be passed by position, the
// first required must be passed. Names are interned once (at module import).
class Signature {
 public:
  Signature(const char* function, std::vector<const char*> names, int max_positional, int required);

  // out must have names().size() slots: borrowed references, nullptr = not given.
  // False with TypeError set on a bad call.
  bool parse(PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames, PyObject** out) const;

 private:
  std::string function_;
  std::vector<PyObject*> names_;
  int max_positional_;
  int required_;
};

// A key's bytes: UTF-8 of a str (cached by the str itself) or the bytes' buffer.
// Borrowed from the object, which must outlive the call.
struct KeyView {
  const char* data = nullptr;
  Py_ssize_t size = 0;
};

inline bool key_view(PyObject* o, KeyView* out, const char* what = "key") {
  if (PyUnicode_Check(o)) {
    out->data = PyUnicode_AsUTF8AndSize(o, &out->size);
    return out->data != nullptr;
  }
  if (PyBytes_Check(o)) {
    out->data = PyBytes_AS_STRING(o);
    out->size = PyBytes_GET_SIZE(o);
    return true;
  }
  PyErr_Format(PyExc_TypeError, "%s must be str or bytes, not '%.200s'", what, Py_TYPE(o)->tp_name);
  return false;
}

// Seconds (int | float | None) to milliseconds: None -> none_ms, fractions round to the
// nearest ms but never to 0 (0 means "no expiry" for a TTL). Negative: ValueError.
bool seconds_to_ms(PyObject* o, const char* what, int64_t none_ms, int64_t* out);

// skip_l1 / skip_l2 / timeout of one call.
struct CallSettings {
  uint32_t flags = 0;       // STRATACACHE_SKIP_*
  int64_t timeout_ms = -1;  // < 0: socket_timeout
  // Writes: tags and dependencies (docs/tags.md; register_tags.hpp parses them).
  std::vector<std::string> tags, depends_on;
  bool own() const { return timeout_ms >= 0 || !tags.empty() || !depends_on.empty(); }
};

// Any argument may be nullptr (not given).
bool parse_call_settings(PyObject* skip_l1, PyObject* skip_l2, PyObject* timeout, CallSettings* out);

}  // namespace stratacache::python
