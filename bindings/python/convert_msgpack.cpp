// Python <-> MessagePack, written directly over PyObject (no intermediate tree).
// Integers use the smallest encoding, floats are always float64, str is str8/16/32
// (UTF-8), bytes-likes are bin, and the extension types are:
//   1 datetime.datetime  isoformat() text      2 datetime.date  isoformat() text
//   3 uuid.UUID          16 bytes              4 decimal.Decimal str(d) text
#include <cstdint>
#include <cstring>

#include "adapt.hpp"
#include "convert.hpp"
#include "encode_errors.hpp"
#include "pyref.hpp"
#include "value_types.hpp"

namespace stratacache::python {

namespace {

enum ExtType : int8_t { kExtDateTime = 1, kExtDate = 2, kExtUuid = 3, kExtDecimal = 4 };

class Writer {
 public:
  Writer(std::string& out, EncodeErrors& errors) : out_(out), errors_(errors) {}

  bool write(PyObject* o, int depth) {
    PyTypeObject* t = Py_TYPE(o);
    // The common exact types first, subclasses and the rest after.
    if (t == &PyUnicode_Type) return write_str(o);
    if (t == &PyLong_Type) return write_int(o);
    if (o == Py_None) return put(0xc0);
    if (o == Py_True) return put(0xc3);
    if (o == Py_False) return put(0xc2);
    if (t == &PyFloat_Type) return write_double(PyFloat_AS_DOUBLE(o));
    if (t == &PyDict_Type) return write_dict(o, depth);
    if (t == &PyList_Type) return write_list(o, depth);
    if (t == &PyTuple_Type) return write_tuple(o, depth);
    if (t == &PyBytes_Type) return write_bin(PyBytes_AS_STRING(o), PyBytes_GET_SIZE(o));
    return write_other(o, depth);
  }

 private:
  bool put(uint8_t b) {
    out_.push_back(static_cast<char>(b));
    return true;
  }
  template <typename T>
  void put_be(T v) {
    char b[sizeof(T)];
    for (size_t i = 0; i < sizeof(T); ++i) b[i] = static_cast<char>(static_cast<uint64_t>(v) >> (8 * (sizeof(T) - 1 - i)));
    out_.append(b, sizeof(T));
  }

  bool too_big(const char* what, size_t n) {
    return errors_.fail(PyExc_ValueError, std::string(what) + " of " + std::to_string(n) + " is too large for MessagePack");
  }

  bool write_int(PyObject* o) {
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow == 0) {
      if (v == -1 && PyErr_Occurred()) return false;
      write_signed(v);
      return true;
    }
    if (overflow > 0) {
      unsigned long long u = PyLong_AsUnsignedLongLong(o);
      if (!(u == static_cast<unsigned long long>(-1) && PyErr_Occurred())) {
        put(0xcf);
        put_be<uint64_t>(u);
        return true;
      }
      PyErr_Clear();
    }
    return errors_.fail(PyExc_OverflowError, "int too large to serialize (MessagePack holds 64-bit integers)");
  }

  void write_signed(long long v) {
    if (v >= 0) {
      if (v <= 0x7f) {
        put(static_cast<uint8_t>(v));
      } else if (v <= 0xff) {
        put(0xcc);
        put_be<uint8_t>(static_cast<uint8_t>(v));
      } else if (v <= 0xffff) {
        put(0xcd);
        put_be<uint16_t>(static_cast<uint16_t>(v));
      } else if (v <= 0xffffffffLL) {
        put(0xce);
        put_be<uint32_t>(static_cast<uint32_t>(v));
      } else {
        put(0xcf);
        put_be<uint64_t>(static_cast<uint64_t>(v));
      }
    } else if (v >= -32) {
      put(static_cast<uint8_t>(static_cast<int8_t>(v)));
    } else if (v >= INT8_MIN) {
      put(0xd0);
      put_be<uint8_t>(static_cast<uint8_t>(static_cast<int8_t>(v)));
    } else if (v >= INT16_MIN) {
      put(0xd1);
      put_be<uint16_t>(static_cast<uint16_t>(static_cast<int16_t>(v)));
    } else if (v >= INT32_MIN) {
      put(0xd2);
      put_be<uint32_t>(static_cast<uint32_t>(static_cast<int32_t>(v)));
    } else {
      put(0xd3);
      put_be<uint64_t>(static_cast<uint64_t>(v));
    }
  }

  bool write_double(double d) {
    uint64_t bits;
    std::memcpy(&bits, &d, sizeof bits);
    put(0xcb);
    put_be<uint64_t>(bits);
    return true;
  }

  bool write_str(PyObject* o) {
    Py_ssize_t n = 0;
    const char* s = PyUnicode_AsUTF8AndSize(o, &n);
    if (!s) return false;
    return write_str_bytes(s, static_cast<size_t>(n));
  }
  bool write_str_bytes(const char* s, size_t n) {
    if (n <= 31) {
      put(static_cast<uint8_t>(0xa0 | n));
    } else if (n <= 0xff) {
      put(0xd9);
      put_be<uint8_t>(static_cast<uint8_t>(n));
    } else if (n <= 0xffff) {
      put(0xda);
      put_be<uint16_t>(static_cast<uint16_t>(n));
    } else if (n <= 0xffffffffu) {
      put(0xdb);
      put_be<uint32_t>(static_cast<uint32_t>(n));
    } else {
      return too_big("str", n);
    }
    out_.append(s, n);
    return true;
  }

  bool write_bin(const char* s, Py_ssize_t size) {
    size_t n = static_cast<size_t>(size);
    if (n <= 0xff) {
      put(0xc4);
      put_be<uint8_t>(static_cast<uint8_t>(n));
    } else if (n <= 0xffff) {
      put(0xc5);
      put_be<uint16_t>(static_cast<uint16_t>(n));
    } else if (n <= 0xffffffffu) {
      put(0xc6);
      put_be<uint32_t>(static_cast<uint32_t>(n));
    } else {
      return too_big("bytes", n);
    }
    out_.append(s, n);
    return true;
  }

  bool write_buffer(PyObject* o) {
    Py_buffer view;
    if (PyObject_GetBuffer(o, &view, PyBUF_CONTIG_RO) == 0) {
      bool ok = write_bin(static_cast<const char*>(view.buf), view.len);
      PyBuffer_Release(&view);
      return ok;
    }
    // A non-contiguous memoryview: its bytes in logical order.
    PyErr_Clear();
    PyRef b = PyRef::steal(PyBytes_FromObject(o));
    if (!b) return false;
    return write_bin(PyBytes_AS_STRING(b.get()), PyBytes_GET_SIZE(b.get()));
  }

  bool write_ext(int8_t type, const char* data, size_t n) {
    switch (n) {
      case 1: put(0xd4); break;
      case 2: put(0xd5); break;
      case 4: put(0xd6); break;
      case 8: put(0xd7); break;
      case 16: put(0xd8); break;
      default:
        if (n <= 0xff) {
          put(0xc7);
          put_be<uint8_t>(static_cast<uint8_t>(n));
        } else if (n <= 0xffff) {
          put(0xc8);
          put_be<uint16_t>(static_cast<uint16_t>(n));
        } else if (n <= 0xffffffffu) {
          put(0xc9);
          put_be<uint32_t>(static_cast<uint32_t>(n));
        } else {
          return too_big("ext data", n);
        }
    }
    put(static_cast<uint8_t>(type));
    out_.append(data, n);
    return true;
  }

  bool write_ext_text(int8_t type, PyObject* text) {
    Py_ssize_t n = 0;
    const char* s = PyUnicode_AsUTF8AndSize(text, &n);
    if (!s) return false;
    return write_ext(type, s, static_cast<size_t>(n));
  }

  bool enter(int depth) {
    if (depth >= kMaxDepth) {
      return errors_.fail(PyExc_ValueError, "nesting deeper than " + std::to_string(kMaxDepth) + " levels");
    }
    return true;
  }

  void array_header(size_t n) {
    if (n <= 15) {
      put(static_cast<uint8_t>(0x90 | n));
    } else if (n <= 0xffff) {
      put(0xdc);
      put_be<uint16_t>(static_cast<uint16_t>(n));
    } else {
      put(0xdd);
      put_be<uint32_t>(static_cast<uint32_t>(n));
    }
  }

  bool write_tuple(PyObject* o, int depth) {
    if (!enter(depth)) return false;
    Py_ssize_t n = PyTuple_GET_SIZE(o);
    if (static_cast<size_t>(n) > 0xffffffffu) return too_big("tuple", static_cast<size_t>(n));
    array_header(static_cast<size_t>(n));
    for (Py_ssize_t i = 0; i < n; ++i) {
      if (!write(PyTuple_GET_ITEM(o, i), depth + 1)) {
        errors_.at_index(i);
        return false;
      }
    }
    return true;
  }

  bool write_list(PyObject* o, int depth) {
    if (!enter(depth)) return false;
    Py_ssize_t n = PyList_GET_SIZE(o);
    if (static_cast<size_t>(n) > 0xffffffffu) return too_big("list", static_cast<size_t>(n));
    array_header(static_cast<size_t>(n));
    for (Py_ssize_t i = 0; i < n; ++i) {
      // Code run while encoding (model_dump, isoformat) may change the list.
      if (i >= PyList_GET_SIZE(o)) return errors_.fail(PyExc_RuntimeError, "list changed size during serialization");
      PyRef item = PyRef::borrow(PyList_GET_ITEM(o, i));
      if (!write(item.get(), depth + 1)) {
        errors_.at_index(i);
        return false;
      }
    }
    if (PyList_GET_SIZE(o) != n) return errors_.fail(PyExc_RuntimeError, "list changed size during serialization");
    return true;
  }

  bool write_key(PyObject* k) {
    if (PyUnicode_Check(k)) return write_str(k);
    if (PyBool_Check(k) || k == Py_None || PyLong_Check(k) || PyFloat_Check(k) || PyBytes_Check(k)) {
      return write(k, kMaxDepth);  // scalars: depth is irrelevant
    }
    return errors_.type_error("dict key", k);
  }

  bool write_dict(PyObject* o, int depth) {
    if (!enter(depth)) return false;
    Py_ssize_t n = PyDict_GET_SIZE(o);
    if (n <= 15) {
      put(static_cast<uint8_t>(0x80 | n));
    } else if (n <= 0xffff) {
      put(0xde);
      put_be<uint16_t>(static_cast<uint16_t>(n));
    } else if (static_cast<size_t>(n) <= 0xffffffffu) {
      put(0xdf);
      put_be<uint32_t>(static_cast<uint32_t>(n));
    } else {
      return too_big("dict", static_cast<size_t>(n));
    }
    Py_ssize_t pos = 0, count = 0;
    PyObject *k, *v;
    while (PyDict_Next(o, &pos, &k, &v)) {
      if (++count > n) break;
      PyRef key = PyRef::borrow(k), value = PyRef::borrow(v);
      if (!write_key(key.get())) return false;
      if (!write(value.get(), depth + 1)) {
        errors_.at_key(key.get());
        return false;
      }
    }
    if (count != n || PyDict_GET_SIZE(o) != n) {
      return errors_.fail(PyExc_RuntimeError, "dict changed size during serialization");
    }
    return true;
  }

  bool write_other(PyObject* o, int depth) {
    PyTypeObject* t = Py_TYPE(o);
    if (t == g_types.ext) return write_ext_value(o);
    if (PyLong_Check(o)) return write_int(o);
    if (PyFloat_Check(o)) return write_double(PyFloat_AS_DOUBLE(o));
    if (PyUnicode_Check(o)) return write_str(o);
    if (PyBytes_Check(o)) return write_bin(PyBytes_AS_STRING(o), PyBytes_GET_SIZE(o));
    if (PyByteArray_Check(o) || PyMemoryView_Check(o)) return write_buffer(o);
    if (PyDict_Check(o)) return write_dict(o, depth);
    if (PyList_Check(o)) return write_list(o, depth);
    if (PyTuple_Check(o)) return write_tuple(o, depth);
    if (PyObject_TypeCheck(o, g_types.datetime) || PyObject_TypeCheck(o, g_types.date)) {
      PyRef text = isoformat(o);
      if (!text) return false;
      return write_ext_text(PyObject_TypeCheck(o, g_types.datetime) ? kExtDateTime : kExtDate, text.get());
    }
    if (PyObject_TypeCheck(o, g_types.uuid)) {
      PyRef b = PyRef::steal(PyObject_GetAttr(o, g_types.s_bytes));
      if (!b) return false;
      if (!PyBytes_Check(b.get()) || PyBytes_GET_SIZE(b.get()) != 16) {
        return errors_.fail(PyExc_ValueError, "UUID.bytes is not 16 bytes");
      }
      return write_ext(kExtUuid, PyBytes_AS_STRING(b.get()), 16);
    }
    if (PyObject_TypeCheck(o, g_types.decimal)) {
      PyRef text = PyRef::steal(PyObject_Str(o));
      return text && write_ext_text(kExtDecimal, text.get());
    }
    PyRef plain;
    switch (adapt_object(o, &plain)) {
      case Adapted::kYes: return write(plain.get(), depth + 1);
      case Adapted::kError: return false;
      case Adapted::kNo: break;
    }
    return errors_.type_error("object", o);
  }

  bool write_ext_value(PyObject* o) {
    PyObject* type = PyTuple_GET_ITEM(o, 0);
    PyObject* data = PyTuple_GET_ITEM(o, 1);
    int overflow = 0;
    long code = PyLong_Check(type) ? PyLong_AsLongAndOverflow(type, &overflow) : 1000;
    if (overflow || code < -128 || code > 127) {
      return errors_.fail(PyExc_ValueError, "Ext.type must be an int in -128..127");
    }
    Py_buffer view;
    if (PyObject_GetBuffer(data, &view, PyBUF_CONTIG_RO) < 0) {
      PyErr_Clear();
      return errors_.fail(PyExc_TypeError, std::string("Ext.data must be bytes, not '") + Py_TYPE(data)->tp_name + "'");
    }
    bool ok = write_ext(static_cast<int8_t>(code), static_cast<const char*>(view.buf), static_cast<size_t>(view.len));
    PyBuffer_Release(&view);
    return ok;
  }

  std::string& out_;
  EncodeErrors& errors_;
};

// ---- decoding ----

class Reader {
 public:
  Reader(const char* data, size_t len)
      : p_(reinterpret_cast<const uint8_t*>(data)), end_(p_ + len) {}

  PyObject* read_all() {
    PyObject* v = read(0);
    if (v && p_ != end_) {
      Py_DECREF(v);
      return malformed("trailing bytes after the value");
    }
    return v;
  }

 private:
  static PyObject* malformed(const char* why) {
    PyErr_Format(PyExc_ValueError, "malformed MessagePack: %s", why);
    return nullptr;
  }
  size_t left() const { return static_cast<size_t>(end_ - p_); }
  bool take(size_t n, const uint8_t** at) {
    if (left() < n) return false;
    *at = p_;
    p_ += n;
    return true;
  }
  template <typename T>
  bool read_be(T* v) {
    const uint8_t* at;
    if (!take(sizeof(T), &at)) return false;
    uint64_t x = 0;
    for (size_t i = 0; i < sizeof(T); ++i) x = (x << 8) | at[i];
    *v = static_cast<T>(x);
    return true;
  }
  template <typename T>
  bool read_len(size_t* n) {
    T v;
    if (!read_be(&v)) return false;
    *n = v;
    return true;
  }

  PyObject* read(int depth, bool as_key = false) {
    const uint8_t* at;
    if (!take(1, &at)) return malformed("truncated");
    uint8_t tag = *at;
    if (tag <= 0x7f) return PyLong_FromLong(tag);
    if (tag >= 0xe0) return PyLong_FromLong(static_cast<int8_t>(tag));
    if ((tag & 0xe0) == 0xa0) return read_str(tag & 0x1f);
    if ((tag & 0xf0) == 0x90) return read_array(tag & 0x0f, depth, as_key);
    if ((tag & 0xf0) == 0x80) return read_map(tag & 0x0f, depth);
    size_t n = 0;
    switch (tag) {
      case 0xc0: return new_ref(Py_None);
      case 0xc2: return new_ref(Py_False);
      case 0xc3: return new_ref(Py_True);
      case 0xcc: { uint8_t v; if (!read_be(&v)) break; return PyLong_FromUnsignedLong(v); }
      case 0xcd: { uint16_t v; if (!read_be(&v)) break; return PyLong_FromUnsignedLong(v); }
      case 0xce: { uint32_t v; if (!read_be(&v)) break; return PyLong_FromUnsignedLong(v); }
      case 0xcf: { uint64_t v; if (!read_be(&v)) break; return PyLong_FromUnsignedLongLong(v); }
      case 0xd0: { uint8_t v; if (!read_be(&v)) break; return PyLong_FromLong(static_cast<int8_t>(v)); }
      case 0xd1: { uint16_t v; if (!read_be(&v)) break; return PyLong_FromLong(static_cast<int16_t>(v)); }
      case 0xd2: { uint32_t v; if (!read_be(&v)) break; return PyLong_FromLong(static_cast<int32_t>(v)); }
      case 0xd3: { uint64_t v; if (!read_be(&v)) break; return PyLong_FromLongLong(static_cast<int64_t>(v)); }
      case 0xca: {
        uint32_t bits;
        if (!read_be(&bits)) break;
        float f;
        std::memcpy(&f, &bits, sizeof f);
        return PyFloat_FromDouble(f);
      }
      case 0xcb: {
        uint64_t bits;
        if (!read_be(&bits)) break;
        double d;
        std::memcpy(&d, &bits, sizeof d);
        return PyFloat_FromDouble(d);
      }
      case 0xd9: if (!read_len<uint8_t>(&n)) break; return read_str(n);
      case 0xda: if (!read_len<uint16_t>(&n)) break; return read_str(n);
      case 0xdb: if (!read_len<uint32_t>(&n)) break; return read_str(n);
      case 0xc4: if (!read_len<uint8_t>(&n)) break; return read_bin(n);
      case 0xc5: if (!read_len<uint16_t>(&n)) break; return read_bin(n);
      case 0xc6: if (!read_len<uint32_t>(&n)) break; return read_bin(n);
      case 0xdc: if (!read_len<uint16_t>(&n)) break; return read_array(n, depth, as_key);
      case 0xdd: if (!read_len<uint32_t>(&n)) break; return read_array(n, depth, as_key);
      case 0xde: if (!read_len<uint16_t>(&n)) break; return read_map(n, depth);
      case 0xdf: if (!read_len<uint32_t>(&n)) break; return read_map(n, depth);
      case 0xd4: return read_ext(1);
      case 0xd5: return read_ext(2);
      case 0xd6: return read_ext(4);
      case 0xd7: return read_ext(8);
      case 0xd8: return read_ext(16);
      case 0xc7: if (!read_len<uint8_t>(&n)) break; return read_ext(n);
      case 0xc8: if (!read_len<uint16_t>(&n)) break; return read_ext(n);
      case 0xc9: if (!read_len<uint32_t>(&n)) break; return read_ext(n);
      default: return malformed("unknown type byte");  // 0xc1 is never used
    }
    return malformed("truncated");
  }

  PyObject* read_str(size_t n) {
    const uint8_t* at;
    if (!take(n, &at)) return malformed("truncated str");
    return PyUnicode_DecodeUTF8(reinterpret_cast<const char*>(at), static_cast<Py_ssize_t>(n), "strict");
  }
  PyObject* read_bin(size_t n) {
    const uint8_t* at;
    if (!take(n, &at)) return malformed("truncated bin");
    return PyBytes_FromStringAndSize(reinterpret_cast<const char*>(at), static_cast<Py_ssize_t>(n));
  }

  bool enter(int depth) {
    if (depth < kMaxDepth) return true;
    PyErr_Format(PyExc_ValueError, "MessagePack nesting deeper than %d levels", kMaxDepth);
    return false;
  }

  // Arrays read as dict keys become tuples (lists are not hashable).
  PyObject* read_array(size_t n, int depth, bool as_key) {
    if (!enter(depth)) return nullptr;
    if (n > left()) return malformed("array longer than the input");  // >= 1 byte per element
    PyRef list = PyRef::steal(as_key ? PyTuple_New(static_cast<Py_ssize_t>(n)) : PyList_New(static_cast<Py_ssize_t>(n)));
    if (!list) return nullptr;
    for (size_t i = 0; i < n; ++i) {
      PyObject* item = read(depth + 1, as_key);
      if (!item) return nullptr;
      if (as_key) PyTuple_SET_ITEM(list.get(), static_cast<Py_ssize_t>(i), item);
      else PyList_SET_ITEM(list.get(), static_cast<Py_ssize_t>(i), item);
    }
    return list.release();
  }

  PyObject* read_map(size_t n, int depth) {
    if (!enter(depth)) return nullptr;
    if (n > left() / 2) return malformed("map longer than the input");  // >= 2 bytes per pair
    PyRef dict = PyRef::steal(PyDict_New());
    if (!dict) return nullptr;
    for (size_t i = 0; i < n; ++i) {
      PyRef k = PyRef::steal(read(depth + 1, /*as_key=*/true));
      if (!k) return nullptr;
      PyRef v = PyRef::steal(read(depth + 1));
      if (!v) return nullptr;
      if (PyDict_SetItem(dict.get(), k.get(), v.get()) < 0) return nullptr;
    }
    return dict.release();
  }

  PyObject* read_ext(size_t n) {
    const uint8_t* at;
    if (!take(1, &at)) return malformed("truncated ext");
    auto type = static_cast<int8_t>(*at);
    if (!take(n, &at)) return malformed("truncated ext");
    const char* data = reinterpret_cast<const char*>(at);
    auto size = static_cast<Py_ssize_t>(n);
    switch (type) {
      case kExtDateTime:
      case kExtDate: {
        PyRef text = PyRef::steal(PyUnicode_DecodeUTF8(data, size, "strict"));
        if (!text) return nullptr;
        return PyObject_CallOneArg(type == kExtDateTime ? g_types.datetime_fromisoformat : g_types.date_fromisoformat,
                                   text.get());
      }
      case kExtUuid: {
        if (n != 16) return malformed("UUID ext is not 16 bytes");
        PyRef b = PyRef::steal(PyBytes_FromStringAndSize(data, size));
        if (!b) return nullptr;
        PyObject* args[] = {b.get()};
        return PyObject_Vectorcall(reinterpret_cast<PyObject*>(g_types.uuid), args, 0, g_types.kw_bytes);
      }
      case kExtDecimal: {
        PyRef text = PyRef::steal(PyUnicode_DecodeUTF8(data, size, "strict"));
        if (!text) return nullptr;
        return PyObject_CallOneArg(reinterpret_cast<PyObject*>(g_types.decimal), text.get());
      }
      default: {
        PyRef code = PyRef::steal(PyLong_FromLong(type));
        PyRef b = PyRef::steal(PyBytes_FromStringAndSize(data, size));
        if (!code || !b) return nullptr;
        return PyObject_CallFunctionObjArgs(reinterpret_cast<PyObject*>(g_types.ext), code.get(), b.get(), nullptr);
      }
    }
  }

  const uint8_t* p_;
  const uint8_t* end_;
};

}  // namespace

bool msgpack_encode(PyObject* value, std::string& out, const std::string& root) {
  EncodeErrors errors;
  if (Writer(out, errors).write(value, 0)) return true;
  errors.raise(root);
  return false;
}

PyObject* msgpack_decode(const char* data, size_t len) { return Reader(data, len).read_all(); }

}  // namespace stratacache::python
