// Where an encoding error happened: each container level adds its segment while the
// recursion unwinds, and the error is raised once at the top with the full path.
#pragma once

#include <Python.h>

#include <string>
#include <vector>

namespace stratacache::python {

class EncodeErrors {
 public:
  // Records an error of ours (no Python exception is set yet); returns false so
  // callers can `return errors.fail(...)`.
  bool fail(PyObject* exc_type, std::string message) {
    type_ = exc_type;
    message_ = std::move(message);
    return false;
  }
  bool type_error(const char* what, PyObject* obj) {
    return fail(PyExc_TypeError, std::string("cannot serialize ") + what + " of type '" + Py_TYPE(obj)->tp_name + "'");
  }

  // The failure happened inside element i / the value of key k.
  void at_index(Py_ssize_t i) {
    if (type_) segments_.push_back("[" + std::to_string(i) + "]");
  }
  void at_key(PyObject* key) {
    if (!type_) return;
    PyObject* r = PyObject_Repr(key);
    if (!r) {
      PyErr_Clear();
      segments_.emplace_back("[...]");
      return;
    }
    Py_ssize_t n = 0;
    const char* s = PyUnicode_AsUTF8AndSize(r, &n);
    if (s) {
      segments_.push_back("[" + std::string(s, static_cast<size_t>(n)) + "]");
    } else {
      PyErr_Clear();
      segments_.emplace_back("[...]");
    }
    Py_DECREF(r);
  }

  // Raises the recorded error with its path; if the failure was a Python exception
  // raised by other code, it is left as it is.
  void raise(const std::string& root) {
    if (!type_) return;
    std::string where = root;
    for (auto it = segments_.rbegin(); it != segments_.rend(); ++it) where += *it;
    PyErr_Format(type_, "%s (at %s)", message_.c_str(), where.c_str());
  }

 private:
  PyObject* type_ = nullptr;
  std::string message_;
  std::vector<std::string> segments_;  // innermost first
};

}  // namespace stratacache::python
