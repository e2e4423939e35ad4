// A minimal owning PyObject reference. The hot paths use the CPython API directly
// (no C++ exceptions may cross into the interpreter), so this replaces py::object there.
#pragma once

#include <Python.h>

#include <utility>

namespace stratacache::python {

class PyRef {
 public:
  PyRef() = default;
  // Takes ownership of a new reference (nullptr allowed).
  static PyRef steal(PyObject* o) { return PyRef(o); }
  // Adds a reference to a borrowed one.
  static PyRef borrow(PyObject* o) {
    Py_XINCREF(o);
    return PyRef(o);
  }
  PyRef(const PyRef&) = delete;
  PyRef& operator=(const PyRef&) = delete;
  PyRef(PyRef&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  PyRef& operator=(PyRef&& o) noexcept {
    if (this != &o) {
      Py_XDECREF(p_);
      p_ = std::exchange(o.p_, nullptr);
    }
    return *this;
  }
  ~PyRef() { Py_XDECREF(p_); }

  PyObject* get() const { return p_; }
  // Hands the reference to the caller.
  PyObject* release() { return std::exchange(p_, nullptr); }
  explicit operator bool() const { return p_ != nullptr; }

 private:
  explicit PyRef(PyObject* o) : p_(o) {}
  PyObject* p_ = nullptr;
};

// Py_NewRef is 3.10+; the package supports 3.9.
inline PyObject* new_ref(PyObject* o) {
  Py_INCREF(o);
  return o;
}

}  // namespace stratacache::python
