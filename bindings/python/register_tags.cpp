#include "register_tags.hpp"

namespace stratacache::python {

bool parse_names(PyObject* o, const char* what, std::vector<std::string>* out) {
  out->clear();
  if (!o || o == Py_None) return true;
  if (PyUnicode_Check(o) || PyBytes_Check(o)) {
    PyErr_Format(PyExc_TypeError, "%s must be a list of str or bytes, not a single %.200s", what, Py_TYPE(o)->tp_name);
    return false;
  }
  PyObject* seq = PySequence_Fast(o, "must be a list of str or bytes");
  if (!seq) {
    PyErr_Format(PyExc_TypeError, "%s must be a list of str or bytes, not '%.200s'", what, Py_TYPE(o)->tp_name);
    return false;
  }
  Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
  out->reserve(static_cast<size_t>(n));
  for (Py_ssize_t i = 0; i < n; ++i) {
    KeyView v;
    if (!key_view(PySequence_Fast_GET_ITEM(seq, i), &v, what)) {
      Py_DECREF(seq);
      return false;
    }
    out->emplace_back(v.data, static_cast<size_t>(v.size));
  }
  Py_DECREF(seq);
  return true;
}

NameArrays::NameArrays(const std::vector<std::string>& names) {
  ptrs.reserve(names.size());
  lens.reserve(names.size());
  for (const std::string& s : names) {
    ptrs.push_back(s.data());
    lens.push_back(s.size());
  }
}

int apply_tags(stratacache_callopts* co, const CallSettings& cs) {
  if (!cs.tags.empty()) {
    NameArrays t(cs.tags);
    if (int rc = stratacache_callopts_set_tags(co, t.ptrs.data(), t.lens.data(), t.ptrs.size())) return rc;
  }
  if (!cs.depends_on.empty()) {
    NameArrays d(cs.depends_on);
    if (int rc = stratacache_callopts_set_depends_on(co, d.ptrs.data(), d.lens.data(), d.ptrs.size())) return rc;
  }
  return STRATACACHE_OK;
}

}  // namespace stratacache::python
