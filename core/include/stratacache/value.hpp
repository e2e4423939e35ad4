// A dynamic value: what JSON and MessagePack can hold, plus bytes and ext types.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace stratacache {

class Value;

struct Bytes {
  std::string data;
  bool operator==(const Bytes& o) const { return data == o.data; }
};

// MessagePack extension value (type -128..127); JSON cannot encode it.
struct Ext {
  int8_t type = 0;
  std::string data;
  bool operator==(const Ext& o) const { return type == o.type && data == o.data; }
};

class Value {
 public:
  enum class Type : uint8_t { Null, Bool, Int, UInt, Double, String, Bytes, Array, Map, Ext };
  using Array = std::vector<Value>;
  using Map = std::vector<std::pair<Value, Value>>;  // insertion order is kept

  Value() = default;
  Value(std::nullptr_t) {}
  Value(bool b) : v_(b) {}
  Value(int i) : v_(static_cast<int64_t>(i)) {}
  Value(long i) : v_(static_cast<int64_t>(i)) {}
  Value(long long i) : v_(static_cast<int64_t>(i)) {}
  // Unsigned values that fit int64 are stored as Int so equal numbers compare equal.
  Value(unsigned long long u);
  Value(unsigned long u) : Value(static_cast<unsigned long long>(u)) {}
  Value(unsigned u) : v_(static_cast<int64_t>(u)) {}
  Value(double d) : v_(d) {}
  Value(const char* s) : v_(std::string(s)) {}
  Value(std::string s) : v_(std::move(s)) {}
  Value(Bytes b) : v_(std::move(b)) {}
  Value(Array a) : v_(std::move(a)) {}
  Value(Map m) : v_(std::move(m)) {}
  Value(Ext e) : v_(std::move(e)) {}

  Type type() const { return static_cast<Type>(v_.index()); }
  bool is_null() const { return type() == Type::Null; }

  bool as_bool() const { return std::get<bool>(v_); }
  int64_t as_int() const { return std::get<int64_t>(v_); }
  uint64_t as_uint() const { return std::get<uint64_t>(v_); }
  double as_double() const { return std::get<double>(v_); }
  const std::string& as_string() const { return std::get<std::string>(v_); }
  const Bytes& as_bytes() const { return std::get<Bytes>(v_); }
  const Array& as_array() const { return std::get<Array>(v_); }
  Array& as_array() { return std::get<Array>(v_); }
  const Map& as_map() const { return std::get<Map>(v_); }
  Map& as_map() { return std::get<Map>(v_); }
  const Ext& as_ext() const { return std::get<Ext>(v_); }

  // Map lookup by string key; nullptr when absent or not a map.
  const Value* find(std::string_view key) const;

  bool operator==(const Value& o) const { return v_ == o.v_; }
  bool operator!=(const Value& o) const { return !(*this == o); }

 private:
  std::variant<std::monostate, bool, int64_t, uint64_t, double, std::string, Bytes, Array, Map, Ext> v_;
};

inline Value::Value(unsigned long long u) {
  if (u <= static_cast<unsigned long long>(INT64_MAX)) v_ = static_cast<int64_t>(u);
  else v_ = static_cast<uint64_t>(u);
}

}  // namespace stratacache
