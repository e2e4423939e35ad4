// Python <-> JSON, written directly over PyObject. The writer escapes '"', '\' and
// control characters and writes other text as UTF-8; floats use repr() (1.0 stays a
// float). The reader is a small recursive-descent parser of RFC 8259 JSON: integers
// of any size become int (through their text), other numbers float.
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "adapt.hpp"
#include "convert.hpp"
#include "encode_errors.hpp"
#include "pyref.hpp"
#include "value_types.hpp"

namespace stratacache::python {

namespace {

class Writer {
 public:
  Writer(std::string& out, EncodeErrors& errors) : out_(out), errors_(errors) {}

  bool write(PyObject* o, int depth) {
    PyTypeObject* t = Py_TYPE(o);
    if (t == &PyUnicode_Type) return write_str(o);
    if (t == &PyLong_Type) return write_int(o);
    if (o == Py_None) return put("null");
    if (o == Py_True) return put("true");
    if (o == Py_False) return put("false");
    if (t == &PyFloat_Type) return write_double(PyFloat_AS_DOUBLE(o));
    if (t == &PyDict_Type) return write_dict(o, depth);
    if (t == &PyList_Type) return write_list(o, depth);
    if (t == &PyTuple_Type) return write_tuple(o, depth);
    return write_other(o, depth);
  }

 private:
  bool put(const char* s) {
    out_.append(s);
    return true;
  }

  bool write_int(PyObject* o) {
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    char buf[24];
    if (overflow == 0) {
      if (v == -1 && PyErr_Occurred()) return false;
      auto r = std::to_chars(buf, buf + sizeof buf, v);
      out_.append(buf, static_cast<size_t>(r.ptr - buf));
      return true;
    }
    if (overflow > 0) {
      unsigned long long u = PyLong_AsUnsignedLongLong(o);
      if (!(u == static_cast<unsigned long long>(-1) && PyErr_Occurred())) {
        auto r = std::to_chars(buf, buf + sizeof buf, u);
        out_.append(buf, static_cast<size_t>(r.ptr - buf));
        return true;
      }
      PyErr_Clear();
    }
    return errors_.fail(PyExc_OverflowError, "int too large to serialize (limit: 64-bit integers)");
  }

  bool write_double(double d) {
    if (!std::isfinite(d)) {
      return errors_.fail(PyExc_ValueError, std::string("cannot serialize float ") +
                                                (std::isnan(d) ? "nan" : d > 0 ? "inf" : "-inf") + " to JSON");
    }
    char* s = PyOS_double_to_string(d, 'r', 0, Py_DTSF_ADD_DOT_0, nullptr);
    if (!s) return false;
    out_.append(s);
    PyMem_Free(s);
    return true;
  }

  bool write_str(PyObject* o) {
    Py_ssize_t n = 0;
    const char* s = PyUnicode_AsUTF8AndSize(o, &n);
    if (!s) return false;
    write_text(s, static_cast<size_t>(n));
    return true;
  }

  void write_text(const char* s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    out_.reserve(out_.size() + n + 2);
    out_.push_back('"');
    const char* run = s;
    const char* end = s + n;
    for (const char* p = s; p < end; ++p) {
      auto c = static_cast<unsigned char>(*p);
      if (c >= 0x20 && c != '"' && c != '\\') continue;
      out_.append(run, static_cast<size_t>(p - run));
      run = p + 1;
      switch (c) {
        case '"': out_.append("\\\""); break;
        case '\\': out_.append("\\\\"); break;
        case '\n': out_.append("\\n"); break;
        case '\r': out_.append("\\r"); break;
        case '\t': out_.append("\\t"); break;
        case '\b': out_.append("\\b"); break;
        case '\f': out_.append("\\f"); break;
        default: {
          char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf]};
          out_.append(esc, 6);
        }
      }
    }
    out_.append(run, static_cast<size_t>(end - run));
    out_.push_back('"');
  }

  bool enter(int depth) {
    if (depth >= kMaxDepth) {
      return errors_.fail(PyExc_ValueError, "nesting deeper than " + std::to_string(kMaxDepth) + " levels");
    }
    return true;
  }

  bool write_tuple(PyObject* o, int depth) {
    if (!enter(depth)) return false;
    out_.push_back('[');
    Py_ssize_t n = PyTuple_GET_SIZE(o);
    for (Py_ssize_t i = 0; i < n; ++i) {
      if (i) out_.push_back(',');
      if (!write(PyTuple_GET_ITEM(o, i), depth + 1)) {
        errors_.at_index(i);
        return false;
      }
    }
    out_.push_back(']');
    return true;
  }

  bool write_list(PyObject* o, int depth) {
    if (!enter(depth)) return false;
    out_.push_back('[');
    // Code run while encoding (model_dump, isoformat) may change the list: re-read its size.
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(o); ++i) {
      if (i) out_.push_back(',');
      PyRef item = PyRef::borrow(PyList_GET_ITEM(o, i));
      if (!write(item.get(), depth + 1)) {
        errors_.at_index(i);
        return false;
      }
    }
    out_.push_back(']');
    return true;
  }

  bool write_dict(PyObject* o, int depth) {
    if (!enter(depth)) return false;
    out_.push_back('{');
    Py_ssize_t n = PyDict_GET_SIZE(o), pos = 0, count = 0;
    PyObject *k, *v;
    while (PyDict_Next(o, &pos, &k, &v)) {
      if (count++) out_.push_back(',');
      PyRef key = PyRef::borrow(k), value = PyRef::borrow(v);
      if (!PyUnicode_Check(k)) {
        return errors_.fail(PyExc_TypeError,
                            std::string("JSON object keys must be str, not '") + Py_TYPE(k)->tp_name + "'");
      }
      if (!write_str(k)) return false;
      out_.push_back(':');
      if (!write(value.get(), depth + 1)) {
        errors_.at_key(key.get());
        return false;
      }
    }
    if (count != n || PyDict_GET_SIZE(o) != n) {
      return errors_.fail(PyExc_RuntimeError, "dict changed size during serialization");
    }
    out_.push_back('}');
    return true;
  }

  bool write_object_text(PyObject* text) {
    if (!text) return false;
    return write_str(text);
  }

  bool write_other(PyObject* o, int depth) {
    if (PyLong_Check(o)) return write_int(o);  // bool was handled: True/False are singletons
    if (PyFloat_Check(o)) return write_double(PyFloat_AS_DOUBLE(o));
    if (PyUnicode_Check(o)) return write_str(o);
    if (PyBytes_Check(o) || PyByteArray_Check(o) || PyMemoryView_Check(o)) {
      return errors_.fail(PyExc_TypeError, std::string("cannot serialize object of type '") + Py_TYPE(o)->tp_name +
                                               "' to JSON (bytes need the msgpack or raw serializer)");
    }
    if (Py_TYPE(o) == g_types.ext) return errors_.type_error("object", o);
    if (PyDict_Check(o)) return write_dict(o, depth);
    if (PyList_Check(o)) return write_list(o, depth);
    if (PyTuple_Check(o)) return write_tuple(o, depth);
    if (PyObject_TypeCheck(o, g_types.datetime) || PyObject_TypeCheck(o, g_types.date)) {
      return write_object_text(isoformat(o).get());
    }
    if (PyObject_TypeCheck(o, g_types.uuid) || PyObject_TypeCheck(o, g_types.decimal)) {
      return write_object_text(PyRef::steal(PyObject_Str(o)).get());
    }
    PyRef plain;
    switch (adapt_object(o, &plain)) {
      case Adapted::kYes: return write(plain.get(), depth + 1);
      case Adapted::kError: return false;
      case Adapted::kNo: break;
    }
    return errors_.type_error("object", o);
  }

  std::string& out_;
  EncodeErrors& errors_;
};

// ---- decoding ----

class Reader {
 public:
  Reader(const char* data, size_t len) : p_(data), end_(data + len) {}

  PyObject* read_all() {
    skip_ws();
    PyObject* v = read(0);
    if (!v) return nullptr;
    skip_ws();
    if (p_ != end_) {
      Py_DECREF(v);
      return malformed("trailing characters after the value");
    }
    return v;
  }

 private:
  PyObject* malformed(const char* why) {
    PyErr_Format(PyExc_ValueError, "malformed JSON at offset %zd: %s", static_cast<Py_ssize_t>(p_ - begin_), why);
    return nullptr;
  }

  void skip_ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }

  bool literal(const char* word) {
    size_t n = std::strlen(word);
    if (static_cast<size_t>(end_ - p_) < n || std::memcmp(p_, word, n) != 0) return false;
    p_ += n;
    return true;
  }

  PyObject* read(int depth) {
    if (p_ == end_) return malformed("unexpected end of input");
    switch (*p_) {
      case '{': return read_object(depth);
      case '[': return read_array(depth);
      case '"': return read_string();
      case 't': return literal("true") ? new_ref(Py_True) : malformed("invalid literal");
      case 'f': return literal("false") ? new_ref(Py_False) : malformed("invalid literal");
      case 'n': return literal("null") ? new_ref(Py_None) : malformed("invalid literal");
      default: return read_number();
    }
  }

  bool enter(int depth) {
    if (depth < kMaxDepth) return true;
    PyErr_Format(PyExc_ValueError, "JSON nesting deeper than %d levels", kMaxDepth);
    return false;
  }

  PyObject* read_array(int depth) {
    if (!enter(depth)) return nullptr;
    ++p_;  // '['
    PyRef list = PyRef::steal(PyList_New(0));
    if (!list) return nullptr;
    skip_ws();
    if (p_ < end_ && *p_ == ']') {
      ++p_;
      return list.release();
    }
    for (;;) {
      skip_ws();
      PyRef item = PyRef::steal(read(depth + 1));
      if (!item || PyList_Append(list.get(), item.get()) < 0) return nullptr;
      skip_ws();
      if (p_ == end_) return malformed("unterminated array");
      if (*p_ == ',') {
        ++p_;
        continue;
      }
      if (*p_ == ']') {
        ++p_;
        return list.release();
      }
      return malformed("expected ',' or ']'");
    }
  }

  PyObject* read_object(int depth) {
    if (!enter(depth)) return nullptr;
    ++p_;  // '{'
    PyRef dict = PyRef::steal(PyDict_New());
    if (!dict) return nullptr;
    skip_ws();
    if (p_ < end_ && *p_ == '}') {
      ++p_;
      return dict.release();
    }
    for (;;) {
      skip_ws();
      if (p_ == end_ || *p_ != '"') return malformed("expected a string key");
      PyRef key = PyRef::steal(read_string());
      if (!key) return nullptr;
      skip_ws();
      if (p_ == end_ || *p_ != ':') return malformed("expected ':'");
      ++p_;
      skip_ws();
      PyRef value = PyRef::steal(read(depth + 1));
      if (!value || PyDict_SetItem(dict.get(), key.get(), value.get()) < 0) return nullptr;
      skip_ws();
      if (p_ == end_) return malformed("unterminated object");
      if (*p_ == ',') {
        ++p_;
        continue;
      }
      if (*p_ == '}') {
        ++p_;
        return dict.release();
      }
      return malformed("expected ',' or '}'");
    }
  }

  static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  bool read_hex4(uint32_t* out) {
    if (end_ - p_ < 4) return false;
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      int h = hex_value(p_[i]);
      if (h < 0) return false;
      v = (v << 4) | static_cast<uint32_t>(h);
    }
    p_ += 4;
    *out = v;
    return true;
  }

  static void append_utf8(std::string& s, uint32_t cp) {
    // Lone surrogates are written as their 3-byte form and decoded with "surrogatepass",
    // as Python's json module keeps them.
    if (cp < 0x80) {
      s.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      s.push_back(static_cast<char>(0xc0 | (cp >> 6)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
      s.push_back(static_cast<char>(0xe0 | (cp >> 12)));
      s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
      s.push_back(static_cast<char>(0xf0 | (cp >> 18)));
      s.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
      s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
  }

  PyObject* read_string() {
    ++p_;  // '"'
    const char* start = p_;
    // Fast path: no escapes.
    while (p_ < end_ && *p_ != '"' && *p_ != '\\') {
      if (static_cast<unsigned char>(*p_) < 0x20) return malformed("control character in string");
      ++p_;
    }
    if (p_ == end_) return malformed("unterminated string");
    if (*p_ == '"') {
      ++p_;
      return PyUnicode_DecodeUTF8(start, p_ - 1 - start, "strict");
    }
    std::string s(start, static_cast<size_t>(p_ - start));
    bool surrogates = false;
    while (p_ < end_ && *p_ != '"') {
      char c = *p_++;
      if (static_cast<unsigned char>(c) < 0x20) return malformed("control character in string");
      if (c != '\\') {
        s.push_back(c);
        continue;
      }
      if (p_ == end_) break;
      char e = *p_++;
      switch (e) {
        case '"': s.push_back('"'); break;
        case '\\': s.push_back('\\'); break;
        case '/': s.push_back('/'); break;
        case 'b': s.push_back('\b'); break;
        case 'f': s.push_back('\f'); break;
        case 'n': s.push_back('\n'); break;
        case 'r': s.push_back('\r'); break;
        case 't': s.push_back('\t'); break;
        case 'u': {
          uint32_t cp;
          if (!read_hex4(&cp)) return malformed("invalid \\u escape");
          if (cp >= 0xd800 && cp <= 0xdbff && end_ - p_ >= 6 && p_[0] == '\\' && p_[1] == 'u') {
            const char* save = p_;
            p_ += 2;
            uint32_t lo;
            if (read_hex4(&lo) && lo >= 0xdc00 && lo <= 0xdfff) {
              cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else {
              p_ = save;
            }
          }
          if (cp >= 0xd800 && cp <= 0xdfff) surrogates = true;
          append_utf8(s, cp);
          break;
        }
        default: return malformed("invalid escape");
      }
    }
    if (p_ == end_) return malformed("unterminated string");
    ++p_;
    return PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), surrogates ? "surrogatepass" : "strict");
  }

  static bool digit(char c) { return c >= '0' && c <= '9'; }

  PyObject* read_number() {
    const char* start = p_;
    if (p_ < end_ && *p_ == '-') ++p_;
    if (p_ == end_ || !digit(*p_)) return malformed("invalid value");
    if (*p_ == '0') {
      ++p_;
    } else {
      while (p_ < end_ && digit(*p_)) ++p_;
    }
    bool is_float = false;
    if (p_ < end_ && *p_ == '.') {
      is_float = true;
      ++p_;
      if (p_ == end_ || !digit(*p_)) return malformed("invalid number");
      while (p_ < end_ && digit(*p_)) ++p_;
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      is_float = true;
      ++p_;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ == end_ || !digit(*p_)) return malformed("invalid number");
      while (p_ < end_ && digit(*p_)) ++p_;
    }
    size_t n = static_cast<size_t>(p_ - start);
    if (!is_float) {
      long long v = 0;
      auto r = std::from_chars(start, p_, v);
      if (r.ec == std::errc() && r.ptr == p_) return PyLong_FromLongLong(v);
    }
    // Big integers and floats are parsed from NUL-terminated text.
    std::string text(start, n);
    if (!is_float) return PyLong_FromString(text.c_str(), nullptr, 10);
    double d = PyOS_string_to_double(text.c_str(), nullptr, nullptr);
    if (d == -1.0 && PyErr_Occurred()) return nullptr;
    return PyFloat_FromDouble(d);
  }

  const char* p_;
  const char* end_;
  const char* begin_ = p_;
};

}  // namespace

bool json_encode(PyObject* value, std::string& out, const std::string& root) {
  EncodeErrors errors;
  if (Writer(out, errors).write(value, 0)) return true;
  errors.raise(root);
  return false;
}

PyObject* json_decode(const char* data, size_t len) { return Reader(data, len).read_all(); }

}  // namespace stratacache::python
