#include "redis/info.hpp"

#include <charconv>
#include <cstdio>

namespace stratacache::redis {
namespace {

// Calls f(line) for every line of `info` without its CR.
template <typename F>
void each_line(std::string_view info, F&& f) {
  size_t pos = 0;
  while (pos < info.size()) {
    size_t end = info.find('\n', pos);
    if (end == std::string_view::npos) end = info.size();
    std::string_view line = info.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    f(line);
    pos = end + 1;
  }
}

}  // namespace

std::string_view info_field(std::string_view info, std::string_view field) {
  std::string_view found;
  each_line(info, [&](std::string_view line) {
    if (found.empty() && line.size() > field.size() && line.compare(0, field.size(), field) == 0 &&
        line[field.size()] == ':') {
      found = line.substr(field.size() + 1);
    }
  });
  return found;
}

int64_t info_number(std::string_view value) {
  int64_t v = 0;
  std::from_chars(value.data(), value.data() + value.size(), v);
  return v;
}

void parse_server_info(std::string_view info, ServerNodeInfo* out) {
  out->version = std::string(info_field(info, "redis_version"));
  out->role = std::string(info_field(info, "role"));
  out->connected_clients = info_number(info_field(info, "connected_clients"));
  out->used_memory_bytes = info_number(info_field(info, "used_memory"));
  out->used_memory_human = std::string(info_field(info, "used_memory_human"));
  out->keyspace_hits = info_number(info_field(info, "keyspace_hits"));
  out->keyspace_misses = info_number(info_field(info, "keyspace_misses"));
  out->evicted_keys = info_number(info_field(info, "evicted_keys"));
  out->expired_keys = info_number(info_field(info, "expired_keys"));
  out->keys.clear();
  bool keyspace = false;
  each_line(info, [&](std::string_view line) {
    if (!line.empty() && line[0] == '#') {
      keyspace = line == "# Keyspace";
      return;
    }
    size_t colon = line.find(':');
    if (!keyspace || colon == std::string_view::npos || line.compare(0, 2, "db") != 0) return;
    std::string_view rest = line.substr(colon + 1);  // keys=N,expires=M,avg_ttl=T
    if (rest.compare(0, 5, "keys=") != 0) return;
    rest.remove_prefix(5);
    out->keys.emplace_back(std::string(line.substr(0, colon)), info_number(rest.substr(0, rest.find(','))));
  });
}

std::string human_bytes(int64_t bytes) {
  static constexpr const char* kUnits = "KMGTPE";
  char buf[32];
  if (bytes < 1024) {
    std::snprintf(buf, sizeof buf, "%lldB", static_cast<long long>(bytes));
    return buf;
  }
  double v = static_cast<double>(bytes);
  size_t unit = 0;
  while (v >= 1024.0 * 1024.0 && unit + 1 < 6) {
    v /= 1024.0;
    ++unit;
  }
  std::snprintf(buf, sizeof buf, "%.2f%c", v / 1024.0, kUnits[unit]);
  return buf;
}

}  // namespace stratacache::redis
