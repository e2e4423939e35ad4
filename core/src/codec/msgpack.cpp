// MessagePack <-> Value with msgpack-c. Encoding packs straight into a std::string;
// decoding lets msgpack::unpack check each container/str/bin/ext header against
// unpack_limit before its zone allocates for it, then converts the object tree.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>

#include <msgpack.hpp>

#include "codec/serializers.hpp"

namespace stratacache::codec {
namespace {

constexpr size_t kMaxPackedLength = std::numeric_limits<uint32_t>::max();

struct StringSink {
  std::string* out;
  void write(const char* p, size_t n) { out->append(p, n); }
};

class MsgPackWriter {
 public:
  explicit MsgPackWriter(std::string& out) : sink_{&out}, pk_(sink_) {}

  Status write(const Value& v) {
    if (!value(v)) return std::move(error_);
    return Status::ok();
  }

 private:
  bool too_long(const char* what, size_t n) {
    error_ = invalid_argument(std::string("MessagePack cannot encode a ") + what + " of " +
                              std::to_string(n) + " elements/bytes (max 2^32-1)");
    return false;
  }

  bool value(const Value& v) {
    switch (v.type()) {
      case Value::Type::Null: pk_.pack_nil(); return true;
      case Value::Type::Bool:
        if (v.as_bool()) pk_.pack_true();
        else pk_.pack_false();
        return true;
      case Value::Type::Int: pk_.pack_int64(v.as_int()); return true;
      case Value::Type::UInt: pk_.pack_uint64(v.as_uint()); return true;
      case Value::Type::Double: double64(v.as_double()); return true;
      case Value::Type::String: {
        const std::string& s = v.as_string();
        if (s.size() > kMaxPackedLength) return too_long("string", s.size());
        pk_.pack_str(static_cast<uint32_t>(s.size()));
        pk_.pack_str_body(s.data(), static_cast<uint32_t>(s.size()));
        return true;
      }
      case Value::Type::Bytes: {
        const std::string& s = v.as_bytes().data;
        if (s.size() > kMaxPackedLength) return too_long("bin", s.size());
        pk_.pack_bin(static_cast<uint32_t>(s.size()));
        pk_.pack_bin_body(s.data(), static_cast<uint32_t>(s.size()));
        return true;
      }
      case Value::Type::Ext: {
        const Ext& e = v.as_ext();
        if (e.data.size() > kMaxPackedLength) return too_long("ext", e.data.size());
        pk_.pack_ext(e.data.size(), e.type);
        pk_.pack_ext_body(e.data.data(), static_cast<uint32_t>(e.data.size()));
        return true;
      }
      case Value::Type::Array: {
        const auto& a = v.as_array();
        if (a.size() > kMaxPackedLength) return too_long("array", a.size());
        pk_.pack_array(static_cast<uint32_t>(a.size()));
        for (const Value& e : a) {
          if (!value(e)) return false;
        }
        return true;
      }
      case Value::Type::Map: {
        const auto& m = v.as_map();
        if (m.size() > kMaxPackedLength) return too_long("map", m.size());
        pk_.pack_map(static_cast<uint32_t>(m.size()));
        for (const auto& [k, e] : m) {
          if (!value(k) || !value(e)) return false;
        }
        return true;
      }
    }
    error_ = invalid_argument("unknown value type");
    return false;
  }

  // Always float64: msgpack-c 4's pack_double writes integral doubles as ints, so 1.0
  // would come back as Int (and 2^64 hits a UB cast inside it).
  void double64(double d) {
    uint64_t bits;
    std::memcpy(&bits, &d, sizeof bits);
    char buf[9];
    buf[0] = static_cast<char>(0xcb);
    for (int i = 0; i < 8; ++i) buf[1 + i] = static_cast<char>(bits >> (56 - 8 * i));
    sink_.out->append(buf, sizeof buf);
  }

  StringSink sink_;
  msgpack::packer<StringSink> pk_;
  Status error_;
};

// Depth is bounded by unpack_limit::depth, so this recursion is bounded by max_depth.
Value to_value(const msgpack::object& o) {
  switch (o.type) {
    case msgpack::type::NIL: return Value();
    case msgpack::type::BOOLEAN: return Value(o.via.boolean);
    case msgpack::type::POSITIVE_INTEGER: return Value(static_cast<unsigned long long>(o.via.u64));
    case msgpack::type::NEGATIVE_INTEGER: return Value(static_cast<long long>(o.via.i64));
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64: return Value(o.via.f64);
    case msgpack::type::STR: return Value(std::string(o.via.str.ptr, o.via.str.size));
    case msgpack::type::BIN: return Value(Bytes{std::string(o.via.bin.ptr, o.via.bin.size)});
    case msgpack::type::EXT:
      return Value(Ext{o.via.ext.type(), std::string(o.via.ext.data(), o.via.ext.size)});
    case msgpack::type::ARRAY: {
      Value::Array a;
      a.reserve(o.via.array.size);
      for (uint32_t i = 0; i < o.via.array.size; ++i) a.push_back(to_value(o.via.array.ptr[i]));
      return Value(std::move(a));
    }
    case msgpack::type::MAP: {
      Value::Map m;
      m.reserve(o.via.map.size);
      for (uint32_t i = 0; i < o.via.map.size; ++i) {
        const msgpack::object_kv& kv = o.via.map.ptr[i];
        m.emplace_back(to_value(kv.key), to_value(kv.val));
      }
      return Value(std::move(m));
    }
  }
  return Value();
}

// Strings, bins and exts point into the caller's buffer instead of being copied into
// the zone; the buffer outlives the object tree.
bool reference_input(msgpack::type::object_type, size_t, void*) { return true; }

}  // namespace

Status msgpack_serialize(const Value& value, std::string& out) { return MsgPackWriter(out).write(value); }

Result<Value> msgpack_deserialize(std::string_view data, const DecodeLimits& limits) {
  if (data.size() > limits.max_value_bytes) {
    return too_large("MessagePack data of " + std::to_string(data.size()) +
                     " bytes exceeds max_value_bytes " + std::to_string(limits.max_value_bytes));
  }
  if (data.empty()) return data_loss("empty MessagePack input");
  const size_t n = data.size();
  // Every array element takes at least one byte and every map pair two, so a header
  // claiming more than the input can hold is rejected before the zone allocates
  // sizeof(object) per claimed element.
  const size_t array_cap = std::min(limits.max_container_size, n);
  const size_t map_cap = std::min(limits.max_container_size, n / 2);
  // Which cap fired decides the code: the configured limit -> kTooLarge, the
  // input-size bound -> kDataLoss (the header lies).
  const bool array_limit_binds = limits.max_container_size <= n;
  const bool map_limit_binds = limits.max_container_size <= n / 2;
  const msgpack::unpack_limit lim(array_cap, map_cap, n, n, n, limits.max_depth);
  try {
    msgpack::zone zone;
    size_t off = 0;
    bool referenced = false;
    const msgpack::object obj =
        msgpack::unpack(zone, data.data(), n, off, referenced, &reference_input, nullptr, lim);
    if (off != n) {
      return data_loss("trailing bytes after the MessagePack object (" + std::to_string(n - off) +
                       " of " + std::to_string(n) + ")");
    }
    return to_value(obj);
  } catch (const msgpack::array_size_overflow&) {
    if (array_limit_binds) {
      return too_large("MessagePack array longer than max_container_size " +
                       std::to_string(limits.max_container_size));
    }
    return data_loss("MessagePack array header claims more elements than the input holds");
  } catch (const msgpack::map_size_overflow&) {
    if (map_limit_binds) {
      return too_large("MessagePack map larger than max_container_size " +
                       std::to_string(limits.max_container_size));
    }
    return data_loss("MessagePack map header claims more pairs than the input holds");
  } catch (const msgpack::depth_size_overflow&) {
    return too_large("MessagePack nesting deeper than max_depth " + std::to_string(limits.max_depth));
  } catch (const msgpack::insufficient_bytes&) {
    return data_loss("truncated MessagePack data");
  } catch (const msgpack::size_overflow&) {
    return data_loss("MessagePack str/bin/ext header claims more bytes than the input holds");
  } catch (const msgpack::parse_error&) {
    return data_loss("malformed MessagePack data");
  } catch (const msgpack::unpack_error& e) {
    return data_loss(std::string("malformed MessagePack data: ") + e.what());
  } catch (const std::bad_alloc&) {
    return too_large("out of memory while decoding MessagePack");
  } catch (...) {
    return data_loss("malformed MessagePack data");
  }
}

}  // namespace stratacache::codec
