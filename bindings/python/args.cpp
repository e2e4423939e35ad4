#include "args.hpp"

#include <cmath>

#include "stratacache.h"

namespace stratacache::python {

Signature::Signature(const char* function, std::vector<const char*> names, int max_positional, int required)
    : function_(function), max_positional_(max_positional), required_(required) {
  for (const char* n : names) names_.push_back(PyUnicode_InternFromString(n));  // immortal for the module's life
}

bool Signature::parse(PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames, PyObject** out) const {
  const auto n = static_cast<Py_ssize_t>(names_.size());
  if (nargs > max_positional_) {
    PyErr_Format(PyExc_TypeError, "%s() takes at most %d positional argument%s (%zd given)", function_.c_str(),
                 max_positional_, max_positional_ == 1 ? "" : "s", nargs);
    return false;
  }
  for (Py_ssize_t i = 0; i < n; ++i) out[i] = i < nargs ? args[i] : nullptr;
  if (kwnames) {
    Py_ssize_t nkw = PyTuple_GET_SIZE(kwnames);
    for (Py_ssize_t j = 0; j < nkw; ++j) {
      PyObject* kw = PyTuple_GET_ITEM(kwnames, j);
      Py_ssize_t slot = -1;
      for (Py_ssize_t i = 0; i < n && slot < 0; ++i) {
        if (names_[static_cast<size_t>(i)] == kw) slot = i;  // keyword names are usually interned
      }
      for (Py_ssize_t i = 0; i < n && slot < 0; ++i) {
        if (PyUnicode_Compare(names_[static_cast<size_t>(i)], kw) == 0) slot = i;
      }
      if (slot < 0) {
        PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'", function_.c_str(), kw);
        return false;
      }
      if (out[slot]) {
        PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%U'", function_.c_str(), kw);
        return false;
      }
      out[slot] = args[nargs + j];
    }
  }
  for (int i = 0; i < required_; ++i) {
    if (!out[i]) {
      PyErr_Format(PyExc_TypeError, "%s() missing required argument '%U'", function_.c_str(), names_[static_cast<size_t>(i)]);
      return false;
    }
  }
  return true;
}

bool seconds_to_ms(PyObject* o, const char* what, int64_t none_ms, int64_t* out) {
  if (o == nullptr || o == Py_None) {
    *out = none_ms;
    return true;
  }
  if (PyLong_Check(o)) {
    int overflow = 0;
    long long s = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (s == -1 && PyErr_Occurred()) return false;
    if (overflow < 0 || (overflow == 0 && s < 0)) {
      PyErr_Format(PyExc_ValueError, "%s must be >= 0 seconds or None, got %R", what, o);
      return false;
    }
    if (overflow > 0 || s > INT64_MAX / 1000) {
      PyErr_Format(PyExc_OverflowError, "%s of %R seconds is too large", what, o);
      return false;
    }
    *out = static_cast<int64_t>(s) * 1000;
    return true;
  }
  if (PyFloat_Check(o)) {
    double s = PyFloat_AS_DOUBLE(o);
    if (!(s >= 0)) {
      PyErr_Format(PyExc_ValueError, "%s must be >= 0 seconds or None, got %R", what, o);
      return false;
    }
    double ms = std::round(s * 1000.0);
    if (!(ms < 9.2e18)) {
      PyErr_Format(PyExc_OverflowError, "%s of %R seconds is too large", what, o);
      return false;
    }
    *out = static_cast<int64_t>(ms);
    if (*out == 0 && s > 0) *out = 1;
    return true;
  }
  PyErr_Format(PyExc_TypeError, "%s must be int, float or None, not '%.200s'", what, Py_TYPE(o)->tp_name);
  return false;
}

bool parse_call_settings(PyObject* skip_l1, PyObject* skip_l2, PyObject* timeout, CallSettings* out) {
  if (skip_l1) {
    int t = PyObject_IsTrue(skip_l1);
    if (t < 0) return false;
    if (t) out->flags |= STRATACACHE_SKIP_L1;
  }
  if (skip_l2) {
    int t = PyObject_IsTrue(skip_l2);
    if (t < 0) return false;
    if (t) out->flags |= STRATACACHE_SKIP_L2;
  }
  return seconds_to_ms(timeout, "timeout", -1, &out->timeout_ms);
}

}  // namespace stratacache::python
