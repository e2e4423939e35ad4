// Internal: the three serializers behind stratacache::serialize / deserialize.
#pragma once

#include <string>
#include <string_view>

#include "stratacache/codec.hpp"

namespace stratacache::codec {

// "int", "map", ...: for error messages.
const char* value_type_name(Value::Type t);

// Appends the JSON text of `value` to `out`. kInvalidArgument for Bytes, Ext,
// non-string map keys, non-finite doubles and strings that are not valid UTF-8.
Status json_serialize(const Value& value, std::string& out);
// Parses one JSON text (SAX, no recursion), enforcing limits while it goes.
Result<Value> json_deserialize(std::string_view data, const DecodeLimits& limits);

// Appends the MessagePack encoding of `value` to `out` (smallest int/str/container forms,
// doubles always float64). kInvalidArgument for a string/bin/ext/container over 2^32-1.
Status msgpack_serialize(const Value& value, std::string& out);
// Parses exactly one MessagePack object; container headers are checked against
// limits (and against the bytes left) before the parser allocates for them.
Result<Value> msgpack_deserialize(std::string_view data, const DecodeLimits& limits);

}  // namespace stratacache::codec
