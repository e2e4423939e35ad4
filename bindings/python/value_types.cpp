#include "value_types.hpp"

#include <string>

#include "pyref.hpp"

namespace stratacache::python {

ValueTypes g_types;

namespace {

PyObject* missing_repr(PyObject*) { return PyUnicode_FromString("MISSING"); }
int missing_bool(PyObject*) { return 0; }
// pickle and copy resolve a string by name in the type's module: the same singleton.
PyObject* missing_reduce(PyObject*, PyObject*) { return PyUnicode_FromString("MISSING"); }
// _MissingType() gives the singleton back rather than a second sentinel.
PyObject* missing_new(PyTypeObject*, PyObject*, PyObject*) {
  if (g_types.missing) return new_ref(g_types.missing);
  PyErr_SetString(PyExc_TypeError, "cannot create '_MissingType' instances");
  return nullptr;
}

PyMethodDef missing_methods[] = {
    {"__reduce__", missing_reduce, METH_NOARGS, nullptr},
    {nullptr, nullptr, 0, nullptr},
};

PyType_Slot missing_slots[] = {
    {Py_tp_repr, reinterpret_cast<void*>(missing_repr)},
    {Py_nb_bool, reinterpret_cast<void*>(missing_bool)},
    {Py_tp_methods, missing_methods},
    {Py_tp_new, reinterpret_cast<void*>(missing_new)},
    {Py_tp_doc, const_cast<char*>("Type of MISSING, the value get() returns on a miss (falsy, a singleton).")},
    {0, nullptr},
};

PyType_Spec missing_spec = {"stratacache._native._MissingType", sizeof(PyObject), 0, Py_TPFLAGS_DEFAULT,
                            missing_slots};

PyTypeObject* type_attr(const char* module, const char* name) {
  pybind11::object t = pybind11::module_::import(module).attr(name);
  if (!PyType_Check(t.ptr())) throw pybind11::type_error(std::string(module) + "." + name + " is not a type");
  return reinterpret_cast<PyTypeObject*>(t.release().ptr());
}

PyObject* interned(const char* s) {
  PyObject* o = PyUnicode_InternFromString(s);
  if (!o) throw pybind11::error_already_set();
  return o;
}

}  // namespace

void register_values(pybind11::module_& m) {
  namespace py = pybind11;
  auto* missing_type = reinterpret_cast<PyTypeObject*>(PyType_FromSpec(&missing_spec));
  if (!missing_type) throw py::error_already_set();
  // tp_new refuses until the singleton exists; create it with the base allocator.
  g_types.missing = missing_type->tp_alloc(missing_type, 0);
  if (!g_types.missing) throw py::error_already_set();
  m.add_object("_MissingType", reinterpret_cast<PyObject*>(missing_type));
  m.add_object("MISSING", py::handle(g_types.missing));

  py::object ext = py::module_::import("collections")
                       .attr("namedtuple")("Ext", py::make_tuple("type", "data"), py::arg("module") = "stratacache._native");
  ext.attr("__doc__") = "A MessagePack extension value of a type this module does not know: (type, data).";
  g_types.ext = reinterpret_cast<PyTypeObject*>(ext.inc_ref().ptr());
  m.add_object("Ext", ext);

  g_types.datetime = type_attr("datetime", "datetime");
  g_types.date = type_attr("datetime", "date");
  g_types.uuid = type_attr("uuid", "UUID");
  g_types.decimal = type_attr("decimal", "Decimal");
  auto keep = [](py::object o) { return o.release().ptr(); };
  g_types.datetime_fromisoformat = keep(py::handle(reinterpret_cast<PyObject*>(g_types.datetime)).attr("fromisoformat"));
  g_types.date_fromisoformat = keep(py::handle(reinterpret_cast<PyObject*>(g_types.date)).attr("fromisoformat"));
  g_types.dataclass_fields = keep(py::module_::import("dataclasses").attr("fields"));
  g_types.s_isoformat = interned("isoformat");
  g_types.s_bytes = interned("bytes");
  g_types.s_model_dump = interned("model_dump");
  g_types.s_dataclass_fields = interned("__dataclass_fields__");
  g_types.s_name = interned("name");
  g_types.kw_bytes = py::make_tuple(py::handle(g_types.s_bytes)).release().ptr();
}

}  // namespace stratacache::python
