// Read-only views of what the cache stores, for tools (the CLI's `get` and
// `clear --dry-run`, stratacache_inspect_json, stratacache_count_pattern): they decode
// no value, count no L1 hit or miss, and delete nothing.
#include <cstdint>
#include <string>
#include <string_view>

#include "cache_impl.hpp"
#include "codec/envelope.hpp"
#include "glob.hpp"
#include "integer_payload.hpp"
#include "read_through.hpp"
#include "stratacache/cache.hpp"

namespace stratacache {

Result<EntryInspection> Cache::inspect(std::string_view key, const CallOptions& call) {
  Impl& m = *impl_;
  if (Status st = m.check_key(key); !st) return st;
  EntryInspection out;
  out.in_l1 = m.use_l1(call) && m.l1.contains(key);
  if (!m.use_l2(call)) {
    ValueRef v = m.use_l1(call) ? m.l1.peek(key) : ValueRef();
    if (!v) return not_found("the key is not in L1");
    out.tier = "l1";
    out.kind = "payload";
    out.format = v.format();
    out.stored_bytes = out.payload_bytes = v.size();
    out.ttl_ms = m.l1.ttl_ms(key).value_or(-1);
    return out;
  }
  auto entry = m.l2->get(m.full_key(key), m.deadline(call));
  if (!entry) return entry.status();
  const std::string& stored = entry->value;
  out.stored_bytes = stored.size();
  out.ttl_ms = entry->pttl_ms;
  if (parse_ascii_integer(stored)) {
    out.kind = "counter";
    out.format = Format::kJson;
    out.payload_bytes = stored.size();
    return out;
  }
  auto header = codec::parse_envelope_header(stored);
  if (!header) {
    if (header.code() == StatusCode::kWrongType) {
      out.kind = "foreign";
      out.payload_bytes = stored.size();
    } else {
      out.header_error = header.status();
    }
    return out;
  }
  out.format = header->format;
  out.compression = header->compression;
  out.encrypted = header->encrypted;
  out.key_id = header->key_id;
  out.payload_bytes = header->original_length;
  out.meta = header->meta;
  out.stale = out.meta && out.meta->stale_ms > 0 && out.ttl_ms >= 0 &&
              static_cast<uint64_t>(out.ttl_ms) <= out.meta->stale_ms;
  return out;
}

Result<int64_t> Cache::count_matching(std::string_view glob, const CallOptions& call) {
  Impl& m = *impl_;
  if (!m.use_l2(call)) return static_cast<int64_t>(m.l1.count_matching(glob));
  std::string pattern = glob_escape(m.options.prefix);
  pattern.append(glob);
  return m.l2->count_matching(pattern, m.deadline(call, Millis(30000)));
}

}  // namespace stratacache
