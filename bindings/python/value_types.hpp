// The Python objects the converters and the cache share: the MISSING sentinel, the Ext
// type, and the standard-library types looked up once when the module is imported.
#pragma once

#include <Python.h>
#include <pybind11/pybind11.h>

namespace stratacache::python {

struct ValueTypes {
  PyObject* missing = nullptr;          // the MISSING singleton
  PyTypeObject* ext = nullptr;          // Ext(type, data), a namedtuple
  PyTypeObject* datetime = nullptr;     // datetime.datetime
  PyTypeObject* date = nullptr;         // datetime.date
  PyTypeObject* uuid = nullptr;         // uuid.UUID
  PyTypeObject* decimal = nullptr;      // decimal.Decimal
  PyObject* datetime_fromisoformat = nullptr;
  PyObject* date_fromisoformat = nullptr;
  PyObject* dataclass_fields = nullptr;  // dataclasses.fields
  // Interned attribute names.
  PyObject* s_isoformat = nullptr;
  PyObject* s_bytes = nullptr;
  PyObject* s_model_dump = nullptr;
  PyObject* s_dataclass_fields = nullptr;
  PyObject* s_name = nullptr;
  PyObject* kw_bytes = nullptr;  // ("bytes",): keyword names for UUID(bytes=...)
};

// Valid after register_values() ran (module import); never freed.
extern ValueTypes g_types;

// Defines MISSING, Ext and the cached type objects.
void register_values(pybind11::module_& m);

}  // namespace stratacache::python
