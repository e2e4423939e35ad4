// Format dispatch, the raw serializer, and the names of wire ids.
#include <exception>
#include <new>
#include <string>

#include "codec/serializers.hpp"
#include "stratacache/codec.hpp"

namespace stratacache {

const char* format_name(Format f) noexcept {
  switch (f) {
    case Format::kRaw: return "raw";
    case Format::kJson: return "json";
    case Format::kMsgPack: return "msgpack";
  }
  return "unknown";
}

const char* compression_name(Compression c) noexcept {
  switch (c) {
    case Compression::kNone: return "none";
    case Compression::kLz4: return "lz4";
    case Compression::kZlib: return "zlib";
  }
  return "unknown";
}

namespace {

const char* type_name(Value::Type t) {
  switch (t) {
    case Value::Type::Null: return "null";
    case Value::Type::Bool: return "bool";
    case Value::Type::Int: return "int";
    case Value::Type::UInt: return "uint";
    case Value::Type::Double: return "double";
    case Value::Type::String: return "string";
    case Value::Type::Bytes: return "bytes";
    case Value::Type::Array: return "array";
    case Value::Type::Map: return "map";
    case Value::Type::Ext: return "ext";
  }
  return "unknown";
}

}  // namespace

namespace codec {
// Shared with json.cpp for error messages.
const char* value_type_name(Value::Type t) { return type_name(t); }
}  // namespace codec

Result<std::string> serialize(const Value& value, Format format) {
  try {
    std::string out;
    Status st;
    switch (format) {
      case Format::kRaw:
        if (value.type() == Value::Type::String) return value.as_string();
        if (value.type() == Value::Type::Bytes) return value.as_bytes().data;
        return invalid_argument(std::string("raw format needs a string or bytes value, got ") +
                                type_name(value.type()));
      case Format::kJson:
        st = codec::json_serialize(value, out);
        break;
      case Format::kMsgPack:
        st = codec::msgpack_serialize(value, out);
        break;
      default:
        return invalid_argument("unknown serializer id " + std::to_string(static_cast<int>(format)));
    }
    if (!st.is_ok()) return st;
    return out;
  } catch (const std::bad_alloc&) {
    return too_large("out of memory while serializing");
  } catch (const std::exception& e) {
    return internal_error(std::string("serialize: ") + e.what());
  } catch (...) {
    return internal_error("serialize: unknown exception");
  }
}

Result<Value> deserialize(std::string_view data, Format format, const DecodeLimits& limits) {
  if (data.size() > limits.max_value_bytes) {
    return too_large("serialized value of " + std::to_string(data.size()) +
                     " bytes exceeds max_value_bytes " + std::to_string(limits.max_value_bytes));
  }
  try {
    switch (format) {
      case Format::kRaw: return Value(Bytes{std::string(data)});
      case Format::kJson: return codec::json_deserialize(data, limits);
      case Format::kMsgPack: return codec::msgpack_deserialize(data, limits);
    }
    return data_loss("unknown serializer id " + std::to_string(static_cast<int>(format)));
  } catch (const std::bad_alloc&) {
    return too_large("out of memory while deserializing");
  } catch (const std::exception& e) {
    return data_loss(std::string("deserialize: ") + e.what());
  } catch (...) {
    return data_loss("deserialize: unknown exception");
  }
}

}  // namespace stratacache
