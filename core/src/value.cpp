#include "stratacache/value.hpp"

namespace stratacache {

const Value* Value::find(std::string_view key) const {
  if (type() != Type::Map) return nullptr;
  for (const auto& [k, v] : as_map()) {
    if (k.type() == Type::String && k.as_string() == key) return &v;
  }
  return nullptr;
}

}  // namespace stratacache
