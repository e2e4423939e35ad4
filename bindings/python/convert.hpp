// Python values <-> MessagePack / JSON bytes (see docs/python-native-api.md for the
// type table). All functions need the GIL.
#pragma once

#include <Python.h>

#include <cstddef>
#include <string>

namespace stratacache::python {

// Deepest nesting of containers written or read (the core's DecodeLimits::max_depth).
constexpr int kMaxDepth = 64;

// Appends the encoding of value to out. On failure returns false with an exception
// set: TypeError / OverflowError / ValueError name the type and where it was met,
// "cannot serialize object of type 'set' (at value['tags'][2])", with root standing
// for the value itself. Exceptions raised by the value's own code (model_dump(),
// isoformat()) propagate unchanged.
bool msgpack_encode(PyObject* value, std::string& out, const std::string& root = "value");
bool json_encode(PyObject* value, std::string& out, const std::string& root = "value");

// A new reference to the decoded value, or nullptr with an exception set when the
// data is malformed, nested deeper than kMaxDepth, or holds an ext value that does
// not parse. Sizes are checked against the remaining input before allocating.
PyObject* msgpack_decode(const char* data, size_t len);
// Any valid JSON (RFC 8259); integers of any size become int, other numbers float.
PyObject* json_decode(const char* data, size_t len);

}  // namespace stratacache::python
