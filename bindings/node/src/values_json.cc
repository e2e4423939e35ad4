// JS values <-> JSON text. Integers are written exactly (safe-integer numbers and
// BigInts in int64 | uint64) and read back the same way (a number when safe, else a
// BigInt), so 64-bit values survive; floats are written with the shortest text that
// reads back the same double (Float64 of an integral value keeps a ".0"). Date,
// CalendarDate, Uuid and Decimal are written as strings (as stratacache_get_json writes
// the ext types). Non-finite numbers, bytes and other objects JSON cannot hold are a
// TypeError. Parsing uses nlohmann-json, as the C++ core does.
#include <charconv>
#include <cmath>

#include <nlohmann/json.hpp>

#include "addon.hh"

namespace stratacache_node {

namespace {

constexpr int kMaxDepth = 512;
constexpr double kMaxSafe = 9007199254740991.0;

class Writer {
 public:
  Writer(Napi::Env env, std::string& out) : env_(env), out_(out), d_(addon_data(env)) {}

  void write(Napi::Value v, int depth) {
    if (depth > kMaxDepth) throw Napi::RangeError::New(env_, "value nested too deeply to serialize");
    switch (v.Type()) {
      case napi_undefined:
      case napi_null: out_ += "null"; return;
      case napi_boolean: out_ += v.As<Napi::Boolean>().Value() ? "true" : "false"; return;
      case napi_number: return write_number(v.As<Napi::Number>().DoubleValue(), false);
      case napi_string: return write_string(v.As<Napi::String>().Utf8Value());
      case napi_bigint: return write_bigint(v.As<Napi::BigInt>());
      case napi_object: return write_object(v.As<Napi::Object>(), depth);
      default: throw Napi::TypeError::New(env_, "cannot serialize this value to JSON");
    }
  }

 private:
  void write_number(double x, bool as_float) {
    if (!std::isfinite(x)) throw Napi::TypeError::New(env_, "JSON cannot hold NaN or Infinity");
    char buf[32];
    if (!as_float && std::trunc(x) == x && std::fabs(x) <= kMaxSafe && !(x == 0 && std::signbit(x))) {
      auto r = std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(x));
      out_.append(buf, r.ptr);
      return;
    }
    auto r = std::to_chars(buf, buf + sizeof buf, x);
    std::string_view text(buf, static_cast<size_t>(r.ptr - buf));
    out_.append(text);
    if (text.find_first_of(".e") == std::string_view::npos) out_ += ".0";
  }
  void write_bigint(Napi::BigInt b) {
    bool lossless = false;
    char buf[32];
    int64_t s = b.Int64Value(&lossless);
    if (lossless) {
      out_.append(buf, std::to_chars(buf, buf + sizeof buf, s).ptr);
      return;
    }
    uint64_t u = b.Uint64Value(&lossless);
    if (!lossless) throw Napi::RangeError::New(env_, "BigInt out of the 64-bit range");
    out_.append(buf, std::to_chars(buf, buf + sizeof buf, u).ptr);
  }
  void write_string(const std::string& s) {
    out_.push_back('"');
    static const char* hex = "0123456789abcdef";
    for (unsigned char c : s) {
      switch (c) {
        case '"': out_ += "\\\""; break;
        case '\\': out_ += "\\\\"; break;
        case '\n': out_ += "\\n"; break;
        case '\r': out_ += "\\r"; break;
        case '\t': out_ += "\\t"; break;
        case '\b': out_ += "\\b"; break;
        case '\f': out_ += "\\f"; break;
        default:
          if (c < 0x20) {
            out_ += "\\u00";
            out_.push_back(hex[c >> 4]);
            out_.push_back(hex[c & 15]);
          } else {
            out_.push_back(static_cast<char>(c));
          }
      }
    }
    out_.push_back('"');
  }
  void write_object(Napi::Object o, int depth) {
    if (o.IsArray()) {
      auto a = o.As<Napi::Array>();
      out_.push_back('[');
      for (uint32_t i = 0, n = a.Length(); i < n; ++i) {
        if (i) out_.push_back(',');
        write(a.Get(i), depth + 1);
      }
      out_.push_back(']');
      return;
    }
    if (o.IsDate()) {
      if (std::isnan(o.As<Napi::Date>().ValueOf())) throw Napi::RangeError::New(env_, "cannot serialize an invalid Date");
      return write_string(o.Get("toISOString").As<Napi::Function>().Call(o, {}).As<Napi::String>().Utf8Value());
    }
    if (o.IsTypedArray() || o.IsArrayBuffer())
      throw Napi::TypeError::New(env_, "JSON cannot hold bytes: store a Buffer raw or as MessagePack");
    napi_value proto_raw;
    napi_get_prototype(env_, o, &proto_raw);
    Napi::Value proto(env_, proto_raw);
    if (!proto.IsNull() && !proto.StrictEquals(d_.object_proto.Value())) {
      if (is(proto, d_.float64_ctor)) return write_number(o.Get("value").As<Napi::Number>().DoubleValue(), true);
      if (is(proto, d_.uuid_ctor) || is(proto, d_.calendar_date_ctor) || is(proto, d_.decimal_ctor))
        return write_string(o.Get("value").As<Napi::String>().Utf8Value());
    }
    napi_value names_raw;
    napi_get_all_property_names(env_, o, napi_key_own_only,
                                static_cast<napi_key_filter>(napi_key_enumerable | napi_key_skip_symbols),
                                napi_key_numbers_to_strings, &names_raw);
    Napi::Array names(env_, names_raw);
    out_.push_back('{');
    bool first = true;
    for (uint32_t i = 0, n = names.Length(); i < n; ++i) {
      Napi::Value k = names.Get(i);
      Napi::Value v = o.Get(k);
      if (v.IsUndefined()) continue;
      if (!first) out_.push_back(',');
      first = false;
      write_string(k.As<Napi::String>().Utf8Value());
      out_.push_back(':');
      write(v, depth + 1);
    }
    out_.push_back('}');
  }
  static bool is(Napi::Value proto, const Napi::FunctionReference& ctor) {
    return proto.StrictEquals(ctor.Value().Get("prototype"));
  }

  Napi::Env env_;
  std::string& out_;
  AddonData& d_;
};

Napi::Value to_js(Napi::Env env, const nlohmann::ordered_json& j, DecodeStyle style, AddonData& d) {
  using V = nlohmann::ordered_json::value_t;
  switch (j.type()) {
    case V::null: return env.Null();
    case V::boolean: return Napi::Boolean::New(env, j.get<bool>());
    case V::number_integer: return integer_value(env, j.get<int64_t>());
    case V::number_unsigned: return unsigned_value(env, j.get<uint64_t>());
    case V::number_float: {
      Napi::Value x = Napi::Number::New(env, j.get<double>());
      return style.wrap_floats ? d.float64_ctor.New({x}) : x;
    }
    case V::string: return Napi::String::New(env, j.get_ref<const std::string&>());
    case V::array: {
      Napi::Array a = Napi::Array::New(env, j.size());
      uint32_t i = 0;
      for (const auto& e : j) a.Set(i++, to_js(env, e, style, d));
      return a;
    }
    case V::object: {
      Napi::Object o = Napi::Object::New(env);
      for (const auto& [k, v] : j.items()) o.Set(k, to_js(env, v, style, d));
      return o;
    }
    default: return Napi::Value();
  }
}

}  // namespace

void encode_json(Napi::Env env, Napi::Value v, std::string& out) { Writer(env, out).write(v, 0); }

Napi::Value decode_json(Napi::Env env, const char* data, size_t len, DecodeStyle style) {
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(data, data + len, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Napi::Value();
  return to_js(env, j, style, addon_data(env));
}

}  // namespace stratacache_node
