// Objects the converters turn into plain values first: dataclass instances (a dict
// of their fields) and objects with model_dump() (pydantic v2).
#pragma once

#include <Python.h>

#include "pyref.hpp"
#include "value_types.hpp"

namespace stratacache::python {

enum class Adapted { kNo, kYes, kError };

// kYes: *out holds the plain value to encode instead of o. kError: an exception is set.
inline Adapted adapt_object(PyObject* o, PyRef* out) {
  PyObject* type = reinterpret_cast<PyObject*>(Py_TYPE(o));
  if (!PyType_Check(o) && PyObject_HasAttr(type, g_types.s_dataclass_fields)) {
    PyRef fields = PyRef::steal(PyObject_CallOneArg(g_types.dataclass_fields, o));
    if (!fields) return Adapted::kError;
    PyRef seq = PyRef::steal(PySequence_Fast(fields.get(), "dataclasses.fields() did not return a sequence"));
    if (!seq) return Adapted::kError;
    PyRef dict = PyRef::steal(PyDict_New());
    if (!dict) return Adapted::kError;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq.get());
    for (Py_ssize_t i = 0; i < n; ++i) {
      PyRef name = PyRef::steal(PyObject_GetAttr(PySequence_Fast_GET_ITEM(seq.get(), i), g_types.s_name));
      if (!name) return Adapted::kError;
      PyRef value = PyRef::steal(PyObject_GetAttr(o, name.get()));
      if (!value || PyDict_SetItem(dict.get(), name.get(), value.get()) < 0) return Adapted::kError;
    }
    *out = std::move(dict);
    return Adapted::kYes;
  }
  PyRef dump = PyRef::steal(PyObject_GetAttr(o, g_types.s_model_dump));
  if (!dump) {
    if (!PyErr_ExceptionMatches(PyExc_AttributeError)) return Adapted::kError;
    PyErr_Clear();
    return Adapted::kNo;
  }
  if (!PyCallable_Check(dump.get())) return Adapted::kNo;
  *out = PyRef::steal(PyObject_CallNoArgs(dump.get()));
  return *out ? Adapted::kYes : Adapted::kError;
}

// o.isoformat() as a str, or nullptr with an exception set.
inline PyRef isoformat(PyObject* o) {
  PyRef s = PyRef::steal(PyObject_CallMethodNoArgs(o, g_types.s_isoformat));
  if (s && !PyUnicode_Check(s.get())) {
    PyErr_Format(PyExc_TypeError, "%s.isoformat() did not return a str", Py_TYPE(o)->tp_name);
    return PyRef();
  }
  return s;
}

}  // namespace stratacache::python
