// JS values -> MessagePack, written directly over napi values (no intermediate tree);
// lib/msgpack.js reads them back.
// Integers use the smallest encoding (numbers that are safe integers, BigInts in
// int64 | uint64), other numbers and Float64 are float64, strings str (UTF-8),
// Buffer / Uint8Array bin, arrays array, other objects maps of their own enumerable
// string keys (undefined-valued keys left out, as JSON.stringify does), and the shared
// ext types of docs/envelope.md:
//   1 Date          toISOString() text      2 CalendarDate  "YYYY-MM-DD" text
//   3 Uuid          16 bytes                4 Decimal       decimal text
#include <cmath>
#include <cstring>

#include "addon.hh"

namespace stratacache_node {

namespace {

enum ExtType : int8_t { kExtDateTime = 1, kExtDate = 2, kExtUuid = 3, kExtDecimal = 4 };
constexpr int kMaxDepth = 512;
constexpr double kMaxSafe = 9007199254740991.0;

class Writer {
 public:
  Writer(Napi::Env env, std::string& out) : env_(env), out_(out), d_(addon_data(env)) {}

  void write(Napi::Value v, int depth) {
    if (depth > kMaxDepth) throw Napi::RangeError::New(env_, "value nested too deeply to serialize");
    switch (v.Type()) {
      case napi_undefined:
      case napi_null: return put(0xc0);
      case napi_boolean: return put(v.As<Napi::Boolean>().Value() ? 0xc3 : 0xc2);
      case napi_number: return write_number(v.As<Napi::Number>().DoubleValue());
      case napi_string: return write_string(v);
      case napi_bigint: return write_bigint(v.As<Napi::BigInt>());
      case napi_object: return write_object(v.As<Napi::Object>(), depth);
      default: throw Napi::TypeError::New(env_, "cannot serialize a " + type_name(v) + " to MessagePack");
    }
  }

 private:
  static std::string type_name(Napi::Value v) {
    switch (v.Type()) {
      case napi_symbol: return "symbol";
      case napi_function: return "function";
      default: return "value of this type";
    }
  }
  void put(uint8_t b) { out_.push_back(static_cast<char>(b)); }
  template <typename T>
  void put_be(T v) {
    char b[sizeof(T)];
    for (size_t i = 0; i < sizeof(T); ++i)
      b[i] = static_cast<char>(static_cast<uint64_t>(v) >> (8 * (sizeof(T) - 1 - i)));
    out_.append(b, sizeof(T));
  }

  void write_number(double x) {
    if (std::trunc(x) == x && std::fabs(x) <= kMaxSafe && !(x == 0 && std::signbit(x)))
      return write_signed(static_cast<int64_t>(x));
    write_double(x);
  }
  void write_double(double x) {
    uint64_t bits;
    std::memcpy(&bits, &x, sizeof bits);
    put(0xcb);
    put_be<uint64_t>(bits);
  }
  void write_signed(int64_t v) {
    if (v >= 0) return write_unsigned(static_cast<uint64_t>(v));
    if (v >= -32) return put(static_cast<uint8_t>(v));
    if (v >= INT8_MIN) { put(0xd0); return put_be<int8_t>(static_cast<int8_t>(v)); }
    if (v >= INT16_MIN) { put(0xd1); return put_be<int16_t>(static_cast<int16_t>(v)); }
    if (v >= INT32_MIN) { put(0xd2); return put_be<int32_t>(static_cast<int32_t>(v)); }
    put(0xd3);
    put_be<int64_t>(v);
  }
  void write_unsigned(uint64_t v) {
    if (v <= 0x7f) return put(static_cast<uint8_t>(v));
    if (v <= UINT8_MAX) { put(0xcc); return put_be<uint8_t>(static_cast<uint8_t>(v)); }
    if (v <= UINT16_MAX) { put(0xcd); return put_be<uint16_t>(static_cast<uint16_t>(v)); }
    if (v <= UINT32_MAX) { put(0xce); return put_be<uint32_t>(static_cast<uint32_t>(v)); }
    put(0xcf);
    put_be<uint64_t>(v);
  }
  void write_bigint(Napi::BigInt b) {
    bool lossless = false;
    int64_t s = b.Int64Value(&lossless);
    if (lossless) return write_signed(s);
    uint64_t u = b.Uint64Value(&lossless);
    if (lossless) return write_unsigned(u);
    throw Napi::RangeError::New(env_, "BigInt out of the 64-bit range MessagePack holds");
  }
  // fix_max 0 with fix 0: no fixed form (bin).
  void header(size_t n, uint8_t fix, size_t fix_max, uint8_t b8, uint8_t b16, uint8_t b32) {
    if (fix && n <= fix_max) return put(static_cast<uint8_t>(fix | n));
    if (b8 && n <= UINT8_MAX) { put(b8); return put_be<uint8_t>(static_cast<uint8_t>(n)); }
    if (n <= UINT16_MAX) { put(b16); return put_be<uint16_t>(static_cast<uint16_t>(n)); }
    if (n > UINT32_MAX) throw Napi::RangeError::New(env_, "value too large for MessagePack");
    put(b32);
    put_be<uint32_t>(static_cast<uint32_t>(n));
  }
  void write_string(Napi::Value v) {
    size_t n = 0;
    napi_get_value_string_utf8(env_, v, nullptr, 0, &n);
    header(n, 0xa0, 31, 0xd9, 0xda, 0xdb);
    size_t at = out_.size();
    out_.resize(at + n + 1);  // napi writes a terminating NUL
    napi_get_value_string_utf8(env_, v, &out_[at], n + 1, &n);
    out_.resize(at + n);
  }
  void write_text(const std::string& s) {
    header(s.size(), 0xa0, 31, 0xd9, 0xda, 0xdb);
    out_.append(s);
  }
  void write_bin(const void* p, size_t n) {
    header(n, 0, 0, 0xc4, 0xc5, 0xc6);
    out_.append(static_cast<const char*>(p), n);
  }
  void write_ext(int8_t type, const std::string& data) {
    size_t n = data.size();
    switch (n) {
      case 1: put(0xd4); break;
      case 2: put(0xd5); break;
      case 4: put(0xd6); break;
      case 8: put(0xd7); break;
      case 16: put(0xd8); break;
      default:
        if (n <= UINT8_MAX) { put(0xc7); put_be<uint8_t>(static_cast<uint8_t>(n)); }
        else if (n <= UINT16_MAX) { put(0xc8); put_be<uint16_t>(static_cast<uint16_t>(n)); }
        else { put(0xc9); put_be<uint32_t>(static_cast<uint32_t>(n)); }
    }
    put(static_cast<uint8_t>(type));
    out_.append(data);
  }

  void write_object(Napi::Object o, int depth) {
    if (o.IsArray()) {
      auto a = o.As<Napi::Array>();
      uint32_t n = a.Length();
      header(n, 0x90, 15, 0, 0xdc, 0xdd);
      for (uint32_t i = 0; i < n; ++i) write(a.Get(i), depth + 1);
      return;
    }
    if (is_bytes(o)) {
      auto a = o.As<Napi::Uint8Array>();
      return write_bin(a.Data(), a.ByteLength());
    }
    if (o.IsDate()) {
      double t = o.As<Napi::Date>().ValueOf();
      if (std::isnan(t)) throw Napi::RangeError::New(env_, "cannot serialize an invalid Date");
      return write_ext(kExtDateTime, o.Get("toISOString").As<Napi::Function>().Call(o, {}).As<Napi::String>());
    }
    napi_value proto_raw;
    napi_get_prototype(env_, o, &proto_raw);
    Napi::Value proto(env_, proto_raw);
    if (!proto.IsNull() && !proto.StrictEquals(d_.object_proto.Value())) {
      if (is(proto, d_.float64_ctor)) return write_double(o.Get("value").As<Napi::Number>().DoubleValue());
      if (is(proto, d_.uuid_ctor)) return write_ext(kExtUuid, uuid_bytes(o.Get("value").As<Napi::String>()));
      if (is(proto, d_.calendar_date_ctor)) return write_ext(kExtDate, o.Get("value").As<Napi::String>());
      if (is(proto, d_.decimal_ctor)) return write_ext(kExtDecimal, o.Get("value").As<Napi::String>());
      if (o.IsTypedArray() || o.IsArrayBuffer() || o.IsPromise())
        throw Napi::TypeError::New(env_, "cannot serialize this object to MessagePack (only Buffer / Uint8Array bytes)");
    }
    write_map(o, depth);
  }
  static bool is(Napi::Value proto, const Napi::FunctionReference& ctor) {
    return proto.StrictEquals(ctor.Value().Get("prototype"));
  }
  static std::string uuid_bytes(const std::string& text) {
    std::string out;
    int hi = -1;
    for (char c : text) {
      if (c == '-') continue;
      int v = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
      if (v < 0) break;
      if (hi < 0) hi = v; else { out.push_back(static_cast<char>(hi * 16 + v)); hi = -1; }
    }
    return out;  // Uuid's constructor validated the text: 16 bytes
  }
  void write_map(Napi::Object o, int depth) {
    napi_value names_raw;
    napi_get_all_property_names(env_, o, napi_key_own_only,
                                static_cast<napi_key_filter>(napi_key_enumerable | napi_key_skip_symbols),
                                napi_key_numbers_to_strings, &names_raw);
    Napi::Array names(env_, names_raw);
    uint32_t n = names.Length();
    std::vector<std::pair<Napi::Value, Napi::Value>> entries;
    entries.reserve(n);
    for (uint32_t i = 0; i < n; ++i) {
      Napi::Value k = names.Get(i);
      Napi::Value v = o.Get(k);
      if (!v.IsUndefined()) entries.emplace_back(k, v);
    }
    header(entries.size(), 0x80, 15, 0, 0xde, 0xdf);
    for (auto& [k, v] : entries) {
      write_string(k);
      write(v, depth + 1);
    }
  }

  Napi::Env env_;
  std::string& out_;
  AddonData& d_;
};

}  // namespace

Napi::Value integer_value(Napi::Env env, int64_t v) {
  if (v >= -9007199254740991LL && v <= 9007199254740991LL) return Napi::Number::New(env, static_cast<double>(v));
  return Napi::BigInt::New(env, v);
}

Napi::Value unsigned_value(Napi::Env env, uint64_t v) {
  if (v <= 9007199254740991ULL) return Napi::Number::New(env, static_cast<double>(v));
  return Napi::BigInt::New(env, v);
}

void encode_msgpack(Napi::Env env, Napi::Value v, std::string& out) { Writer(env, out).write(v, 0); }

Napi::Value decode_msgpack(Napi::Env env, const uint8_t* data, size_t len, DecodeStyle style) {
  // lib/msgpack.js decodes (objects built in JS are much cheaper than through Node-API).
  try {
    return addon_data(env).decode_msgpack.Call(
        {Napi::Buffer<uint8_t>::Copy(env, data, len), Napi::Number::New(env, 0),
         Napi::Number::New(env, static_cast<double>(len)), Napi::Boolean::New(env, style.wrap_floats)});
  } catch (const Napi::Error&) {
    return Napi::Value();
  }
}

void encode_value(Napi::Env env, Napi::Value v, int format, std::string& out) {
  switch (format) {
    case STRATACACHE_FORMAT_MSGPACK: return encode_msgpack(env, v, out);
    case STRATACACHE_FORMAT_JSON: return encode_json(env, v, out);
    case STRATACACHE_FORMAT_RAW: {
      if (!is_bytes(v))
        throw Napi::TypeError::New(env, "a raw value must be a Buffer or Uint8Array");
      auto a = v.As<Napi::Uint8Array>();
      out.assign(reinterpret_cast<const char*>(a.Data()), a.ByteLength());
      return;
    }
    default: throw Napi::RangeError::New(env, "unknown format");
  }
}

Napi::Value decode_value(Napi::Env env, const void* data, size_t len, int format, DecodeStyle style) {
  switch (format) {
    case STRATACACHE_FORMAT_RAW: return Napi::Buffer<char>::Copy(env, static_cast<const char*>(data), len);
    case STRATACACHE_FORMAT_MSGPACK: return decode_msgpack(env, static_cast<const uint8_t*>(data), len, style);
    case STRATACACHE_FORMAT_JSON: return decode_json(env, static_cast<const char*>(data), len, style);
    default: return Napi::Value();
  }
}

}  // namespace stratacache_node
