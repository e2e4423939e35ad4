// JSON <-> Value. Encoding is a small direct writer (no intermediate nlohmann::json tree);
// decoding uses nlohmann's SAX parser, which is iterative, so depth is bounded by our
// own counter rather than by the C++ stack.
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "codec/serializers.hpp"

namespace stratacache::codec {
namespace {

// Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF), or 0 when it is not well formed.
size_t utf8_sequence_length(const unsigned char* p, const unsigned char* end) {
  const unsigned c = p[0];
  if (c < 0x80) return 1;
  const auto avail = static_cast<size_t>(end - p);
  auto cont = [](unsigned b) { return (b & 0xC0u) == 0x80u; };
  if (c < 0xC2) return 0;
  if (c < 0xE0) return (avail >= 2 && cont(p[1])) ? 2 : 0;
  if (c < 0xF0) {
    if (avail < 3 || !cont(p[2])) return 0;
    const unsigned b = p[1];
    if (c == 0xE0) return (b >= 0xA0 && b <= 0xBF) ? 3 : 0;
    if (c == 0xED) return (b >= 0x80 && b <= 0x9F) ? 3 : 0;
    return cont(b) ? 3 : 0;
  }
  if (c < 0xF5) {
    if (avail < 4 || !cont(p[2]) || !cont(p[3])) return 0;
    const unsigned b = p[1];
    if (c == 0xF0) return (b >= 0x90 && b <= 0xBF) ? 4 : 0;
    if (c == 0xF4) return (b >= 0x80 && b <= 0x8F) ? 4 : 0;
    return cont(b) ? 4 : 0;
  }
  return 0;
}

class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  Status write(const Value& v) {
    if (!value(v)) return std::move(error_);
    return Status::ok();
  }

 private:
  bool fail(std::string msg) {
    error_ = invalid_argument(std::move(msg));
    return false;
  }

  // The shared ext types become strings; any other ext has no JSON form.
  bool ext(const Ext& e) {
    switch (e.type) {
      case ext_type::kDateTime:
      case ext_type::kDate:
      case ext_type::kDecimal:
        return string(e.data);
      case ext_type::kUuid: {
        if (e.data.size() != 16) return fail("UUID ext value must be 16 bytes");
        static const char kHex[] = "0123456789abcdef";
        std::string text;
        for (size_t i = 0; i < 16; ++i) {
          if (i == 4 || i == 6 || i == 8 || i == 10) text += '-';
          auto b = static_cast<unsigned char>(e.data[i]);
          text += kHex[b >> 4];
          text += kHex[b & 15];
        }
        return string(text);
      }
      default:
        return fail("JSON cannot encode MessagePack ext type " + std::to_string(e.type));
    }
  }

  bool value(const Value& v) {
    char buf[32];
    switch (v.type()) {
      case Value::Type::Null: out_ += "null"; return true;
      case Value::Type::Bool: out_ += v.as_bool() ? "true" : "false"; return true;
      case Value::Type::Int: {
        auto r = std::to_chars(buf, buf + sizeof buf, v.as_int());
        out_.append(buf, r.ptr);
        return true;
      }
      case Value::Type::UInt: {
        auto r = std::to_chars(buf, buf + sizeof buf, v.as_uint());
        out_.append(buf, r.ptr);
        return true;
      }
      case Value::Type::Double: {
        const double d = v.as_double();
        if (!std::isfinite(d)) return fail("JSON cannot encode a non-finite double (NaN or infinity)");
        auto r = std::to_chars(buf, buf + sizeof buf, d);  // shortest round-trip form
        out_.append(buf, r.ptr);
        // Keep doubles doubles: "1" would come back as Int.
        bool has_mark = false;
        for (const char* p = buf; p != r.ptr; ++p) has_mark |= (*p == '.' || *p == 'e');
        if (!has_mark) out_ += ".0";
        return true;
      }
      case Value::Type::String: return string(v.as_string());
      case Value::Type::Bytes: return fail("JSON cannot encode bytes; use msgpack or raw");
      case Value::Type::Ext: return ext(v.as_ext());
      case Value::Type::Array: {
        out_ += '[';
        bool first = true;
        for (const Value& e : v.as_array()) {
          if (!first) out_ += ',';
          first = false;
          if (!value(e)) return false;
        }
        out_ += ']';
        return true;
      }
      case Value::Type::Map: {
        out_ += '{';
        bool first = true;
        for (const auto& [k, e] : v.as_map()) {
          if (k.type() != Value::Type::String) {
            return fail(std::string("JSON map keys must be strings, got ") + value_type_name(k.type()));
          }
          if (!first) out_ += ',';
          first = false;
          if (!string(k.as_string())) return false;
          out_ += ':';
          if (!value(e)) return false;
        }
        out_ += '}';
        return true;
      }
    }
    return fail("unknown value type");
  }

  bool string(const std::string& s) {
    static constexpr char kHex[] = "0123456789abcdef";
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const auto* const end = p + s.size();
    const auto* run = p;  // start of bytes not yet copied
    out_.reserve(out_.size() + s.size() + 2);
    out_ += '"';
    while (p < end) {
      const unsigned char c = *p;
      if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
        ++p;
        continue;
      }
      if (c >= 0x80) {
        const size_t n = utf8_sequence_length(p, end);
        if (n == 0) {
          return fail("string is not valid UTF-8 (byte offset " +
                      std::to_string(p - reinterpret_cast<const unsigned char*>(s.data())) + ")");
        }
        p += n;
        continue;
      }
      out_.append(reinterpret_cast<const char*>(run), static_cast<size_t>(p - run));
      switch (c) {
        case '"': out_ += "\\\""; break;
        case '\\': out_ += "\\\\"; break;
        case '\b': out_ += "\\b"; break;
        case '\f': out_ += "\\f"; break;
        case '\n': out_ += "\\n"; break;
        case '\r': out_ += "\\r"; break;
        case '\t': out_ += "\\t"; break;
        default: {
          const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
          out_.append(esc, sizeof esc);
        }
      }
      run = ++p;
    }
    out_.append(reinterpret_cast<const char*>(run), static_cast<size_t>(p - run));
    out_ += '"';
    return true;
  }

  std::string& out_;
  Status error_;
};

// nlohmann SAX handler that builds a Value directly. Elements of all open containers
// wait on one flat stack; when a container closes they are moved into an exactly sized
// vector (no per-container regrowth), and the container takes their place.
class ValueBuilder {
 public:
  using json = nlohmann::json;

  explicit ValueBuilder(const DecodeLimits& limits) : limits_(limits) {
    frames_.reserve(16);
    values_.reserve(64);
  }

  bool null() { return add(Value()); }
  bool boolean(bool b) { return add(Value(b)); }
  bool number_integer(json::number_integer_t i) { return add(Value(static_cast<long long>(i))); }
  // Value(unsigned long long) keeps values <= INT64_MAX as Int.
  bool number_unsigned(json::number_unsigned_t u) { return add(Value(static_cast<unsigned long long>(u))); }
  bool number_float(json::number_float_t d, const json::string_t& /*text*/) { return add(Value(d)); }
  bool string(json::string_t& s) { return add(Value(std::move(s))); }
  bool binary(json::binary_t& /*b*/) {
    error_ = data_loss("unexpected binary value in JSON");
    return false;
  }
  bool start_object(std::size_t /*elements*/) { return open(true); }
  bool key(json::string_t& k) {
    // A key starts a new pair: count pairs here so values need no check.
    if ((values_.size() - frames_.back().start) / 2 >= limits_.max_container_size) return too_many(true);
    values_.emplace_back(std::move(k));
    return true;
  }
  bool end_object() { return close(); }
  bool start_array(std::size_t /*elements*/) { return open(false); }
  bool end_array() { return close(); }
  bool parse_error(std::size_t /*position*/, const std::string& /*last_token*/,
                   const nlohmann::detail::exception& ex) {
    error_ = data_loss(std::string("invalid JSON: ") + ex.what());
    return false;
  }

  Status& error() { return error_; }
  Value& root() { return root_; }

 private:
  struct Frame {
    size_t start;  // index in values_ of this container's first element (or key)
    bool is_map;
  };

  bool too_many(bool is_map) {
    error_ = too_large(std::string("JSON ") + (is_map ? "object" : "array") +
                       " has more elements than max_container_size " +
                       std::to_string(limits_.max_container_size));
    return false;
  }

  bool open(bool is_map) {
    if (frames_.size() >= limits_.max_depth) {
      error_ = too_large("JSON nesting deeper than max_depth " + std::to_string(limits_.max_depth));
      return false;
    }
    frames_.push_back(Frame{values_.size(), is_map});
    return true;
  }

  bool close() {
    const Frame f = frames_.back();
    frames_.pop_back();
    const auto first = values_.begin() + static_cast<std::ptrdiff_t>(f.start);
    Value done;
    if (f.is_map) {
      Value::Map m;
      m.reserve((values_.size() - f.start) / 2);
      for (auto it = first; it != values_.end(); it += 2) m.emplace_back(std::move(*it), std::move(*(it + 1)));
      done = Value(std::move(m));
    } else {
      done = Value(Value::Array(std::make_move_iterator(first), std::make_move_iterator(values_.end())));
    }
    values_.erase(first, values_.end());
    return add(std::move(done));
  }

  bool add(Value&& v) {
    if (frames_.empty()) {
      root_ = std::move(v);
      return true;
    }
    const Frame& f = frames_.back();
    if (!f.is_map && values_.size() - f.start >= limits_.max_container_size) return too_many(false);
    values_.push_back(std::move(v));
    return true;
  }

  const DecodeLimits& limits_;
  std::vector<Frame> frames_;
  std::vector<Value> values_;
  Value root_;
  Status error_;
};

}  // namespace

Status json_serialize(const Value& value, std::string& out) { return JsonWriter(out).write(value); }

Result<Value> json_deserialize(std::string_view data, const DecodeLimits& limits) {
  if (data.size() > limits.max_value_bytes) {
    return too_large("JSON text of " + std::to_string(data.size()) + " bytes exceeds max_value_bytes " +
                     std::to_string(limits.max_value_bytes));
  }
  ValueBuilder builder(limits);
  // strict=true: anything but whitespace after the value is an error.
  const bool ok = nlohmann::json::sax_parse(data.begin(), data.end(), &builder,
                                            nlohmann::json::input_format_t::json, /*strict=*/true,
                                            /*ignore_comments=*/false);
  if (!ok) {
    if (builder.error().is_ok()) return data_loss("invalid JSON");
    return std::move(builder.error());
  }
  return std::move(builder.root());
}

}  // namespace stratacache::codec
