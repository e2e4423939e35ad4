// Module registration only: the areas register themselves (cache.cc, lease.cc).
#include "addon.hh"

#include "pump.hh"

namespace stratacache_node {

AddonData& addon_data(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

bool is_bytes(Napi::Value v) {
  return v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array;
}

int format_for(Napi::Value value, Napi::Value requested, int serializer) {
  if (requested.IsNumber()) return requested.As<Napi::Number>().Int32Value();
  return is_bytes(value) ? STRATACACHE_FORMAT_RAW : serializer;
}

KeyBytes::KeyBytes(Napi::Env env, Napi::Value v, const char* what) {
  if (v.IsString()) {
    size_t n = 0;
    napi_get_value_string_utf8(env, v, inline_, sizeof inline_, &n);
    if (n < sizeof inline_ - 1) {  // it fit (a longer string is cut at sizeof - 1 bytes)
      data_ = inline_;
      size_ = n;
      return;
    }
    owned_ = v.As<Napi::String>().Utf8Value();
    data_ = owned_.data();
    size_ = owned_.size();
  } else if (is_bytes(v)) {
    auto a = v.As<Napi::Uint8Array>();
    data_ = reinterpret_cast<const char*>(a.Data());
    size_ = a.ByteLength();
  } else {
    throw Napi::TypeError::New(env, std::string(what) + " must be a string or a Buffer");
  }
}

PackedKeys::PackedKeys(Napi::Env env, Napi::Value array, const char* what) {
  if (!array.IsArray()) throw Napi::TypeError::New(env, std::string(what) + " must be an array");
  auto a = array.As<Napi::Array>();
  uint32_t n = a.Length();
  lens.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    KeyBytes k(env, a.Get(i), what);
    bytes.append(k.data(), k.size());
    lens.push_back(k.size());
  }
}

void add_keys(Napi::Env env, stratacache_options* opts, Napi::Value keys) {
  if (!keys.IsArray()) return;
  auto list = keys.As<Napi::Array>();
  for (uint32_t i = 0; i < list.Length(); ++i) {
    auto entry = list.Get(i).As<Napi::Array>();
    KeyBytes bytes(env, entry.Get(1u), "encryption key");
    int rc = stratacache_options_add_key(opts, entry.Get(0u).As<Napi::Number>().Uint32Value(), bytes.data(),
                                         bytes.size(), entry.Get(2u).ToBoolean() ? 1 : 0);
    if (rc != STRATACACHE_OK) throw_status(env, rc, stratacache_last_error());
  }
}

std::vector<const void*> PackedKeys::pointers() const {
  std::vector<const void*> out;
  out.reserve(lens.size());
  for (size_t i = 0, off = 0; i < lens.size(); off += lens[i++]) out.push_back(bytes.data() + off);
  return out;
}

namespace {

// setTypes({makeError, decodeMsgpack, Float64, Uuid, CalendarDate, Decimal}): called once by lib/index.js.
Napi::Value set_types(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AddonData& d = addon_data(env);
  Napi::Object t = info[0].As<Napi::Object>();
  d.make_error = Napi::Persistent(t.Get("makeError").As<Napi::Function>());
  d.float64_ctor = Napi::Persistent(t.Get("Float64").As<Napi::Function>());
  d.uuid_ctor = Napi::Persistent(t.Get("Uuid").As<Napi::Function>());
  d.calendar_date_ctor = Napi::Persistent(t.Get("CalendarDate").As<Napi::Function>());
  d.decimal_ctor = Napi::Persistent(t.Get("Decimal").As<Napi::Function>());
  d.decode_msgpack = Napi::Persistent(t.Get("decodeMsgpack").As<Napi::Function>());
  Napi::Object global = env.Global();
  d.date_ctor = Napi::Persistent(global.Get("Date").As<Napi::Function>());
  d.object_proto = Napi::Persistent(global.Get("Object").As<Napi::Object>().Get("prototype").As<Napi::Object>());
  d.types_set = true;
  return env.Undefined();
}

// The stored form of a value (docs/envelope.md): decodeEnvelope(envelope, prefix, key,
// keys: [[id, Buffer(32), primary], ...]) -> {value: Buffer, format} | undefined (a negative
// entry); errors throw CacheError with the library's code. For tools and the golden
// vectors.
Napi::Value decode_envelope(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  KeyBytes envelope(env, info[0], "envelope");
  KeyBytes prefix(env, info[1], "prefix");
  KeyBytes key(env, info[2], "key");
  stratacache_options* opts = nullptr;
  int rc = stratacache_options_new(&opts);
  if (rc != STRATACACHE_OK) throw_status(env, rc, stratacache_last_error());
  std::unique_ptr<stratacache_options, void (*)(stratacache_options*)> owned(opts, stratacache_options_free);
  add_keys(env, opts, info[3]);
  void* value = nullptr;
  size_t len = 0;
  int format = -1;
  rc = stratacache_envelope_decode(&value, &len, &format, envelope.data(), envelope.size(), prefix.data(),
                                   prefix.size(), key.data(), key.size(), opts);
  if (rc == STRATACACHE_ENOTFOUND) return env.Undefined();
  if (rc != STRATACACHE_OK) throw_status(env, rc, stratacache_last_error());
  Napi::Object out = Napi::Object::New(env);
  out.Set("value", Napi::Buffer<char>::Copy(env, static_cast<char*>(value), len));
  out.Set("format", Napi::Number::New(env, format));
  stratacache_free(value);
  return out;
}

// decodeValue(bytes, format, wrapFloats): the value the package returns for stored bytes
// of that format; undefined when they cannot be decoded.
Napi::Value decode_value_js(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  KeyBytes bytes(env, info[0], "bytes");
  DecodeStyle style;
  style.wrap_floats = info[2].ToBoolean();
  Napi::Value v = decode_value(env, bytes.data(), bytes.size(), info[1].As<Napi::Number>().Int32Value(), style);
  return v.IsEmpty() ? env.Undefined() : v;
}

}  // namespace

Napi::Object init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData<AddonData>(new AddonData());
  exports.Set("setTypes", Napi::Function::New(env, set_types, "setTypes"));
  exports.Set("decodeEnvelope", Napi::Function::New(env, decode_envelope, "decodeEnvelope"));
  exports.Set("decodeValue", Napi::Function::New(env, decode_value_js, "decodeValue"));
  exports.Set("version", Napi::String::New(env, stratacache_version_string()));
  init_cache(env, exports);
  init_lease(env, exports);
  return exports;
}

}  // namespace stratacache_node

static Napi::Object InitStratacache(Napi::Env env, Napi::Object exports) { return stratacache_node::init(env, exports); }

NODE_API_MODULE(stratacache_native, InitStratacache)
