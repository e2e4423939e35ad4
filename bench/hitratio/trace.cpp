#include "hitratio/trace.hpp"

#include <endian.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <system_error>

namespace stratacache::bench {
namespace {

namespace fs = std::filesystem;

struct Suffix {
  const char* text;
  TraceFormat format;
};
// Longest suffixes first: the name is what precedes the matched suffix.
constexpr Suffix kSuffixes[] = {
    {".lis.zst", TraceFormat::kArcLis},
    {".trace.gz", TraceFormat::kLirsText},  // refined below: corda is binary
    {".trace.xz", TraceFormat::kBe32},      // refined below: scarab is 64-bit
};

TraceFormat format_for(const std::string& name, TraceFormat by_suffix) {
  if (name.rfind("corda-", 0) == 0 || name.rfind("scarab-", 0) == 0) return TraceFormat::kBe64;
  if (name.rfind("cache2k-", 0) == 0) return TraceFormat::kBe32;
  return by_suffix;
}

const char* decompressor_for(const std::string& path) {
  auto ends_with = [&](const char* s) {
    size_t n = std::strlen(s);
    return path.size() >= n && path.compare(path.size() - n, n, s) == 0;
  };
  if (ends_with(".zst")) return "zstd -dc";
  if (ends_with(".gz")) return "gzip -dc";
  if (ends_with(".xz")) return "xz -dc";
  return "cat";
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Streams the decompressed bytes of `path` to `sink(const char*, size_t)`.
template <typename Sink>
Status decompress(const std::string& path, Sink&& sink) {
  std::string cmd = std::string(decompressor_for(path)) + " " + shell_quote(path);
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) return unavailable("cannot run `" + cmd + "`: " + std::strerror(errno));
  std::vector<char> buf(1 << 20);
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) sink(buf.data(), n);
  int rc = pclose(pipe);
  if (rc != 0) return data_loss("`" + cmd + "` failed (status " + std::to_string(rc) + ")");
  return Status::ok();
}

// Splits a byte stream into lines (without '\n' or '\r').
class LineSplitter {
 public:
  template <typename OnLine>
  void feed(const char* data, size_t n, OnLine&& on_line) {
    for (size_t i = 0; i < n; ++i) {
      if (data[i] == '\n') {
        on_line(trimmed());
        line_.clear();
      } else {
        line_ += data[i];
      }
    }
  }
  template <typename OnLine>
  void finish(OnLine&& on_line) {
    if (!line_.empty()) on_line(trimmed());
    line_.clear();
  }

 private:
  std::string trimmed() const {
    size_t b = line_.find_first_not_of(" \t\r");
    if (b == std::string::npos) return {};
    return line_.substr(b, line_.find_last_not_of(" \t\r") - b + 1);
  }
  std::string line_;
};

Result<std::vector<uint64_t>> decode_text(const TraceFile& trace) {
  std::vector<uint64_t> keys;
  std::string bad;
  auto on_line = [&](const std::string& line) {
    if (line.empty() || line == "*" || !bad.empty()) return;
    char* end = nullptr;
    errno = 0;
    long long first = std::strtoll(line.c_str(), &end, 10);
    if (end == line.c_str() || errno != 0) {
      bad = line;
      return;
    }
    if (trace.format == TraceFormat::kLirsText) {
      keys.push_back(static_cast<uint64_t>(first));
      return;
    }
    char* end2 = nullptr;
    long long count = std::strtoll(end, &end2, 10);
    if (end2 == end || count < 0) {
      bad = line;
      return;
    }
    for (long long i = 0; i < count; ++i) keys.push_back(static_cast<uint64_t>(first + i));
  };
  LineSplitter lines;
  Status st = decompress(trace.path, [&](const char* d, size_t n) { lines.feed(d, n, on_line); });
  if (!st) return st;
  lines.finish(on_line);
  if (!bad.empty()) return data_loss(trace.path + ": unparsable line `" + bad.substr(0, 80) + "`");
  return keys;
}

Result<std::vector<uint64_t>> decode_binary(const TraceFile& trace) {
  const size_t width = trace.format == TraceFormat::kBe32 ? 4 : 8;
  std::vector<uint64_t> keys;
  unsigned char pending[8];
  size_t have = 0;
  Status st = decompress(trace.path, [&](const char* d, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      pending[have++] = static_cast<unsigned char>(d[i]);
      if (have < width) continue;
      uint64_t v = 0;
      for (size_t b = 0; b < width; ++b) v = (v << 8) | pending[b];
      // 32-bit keys are signed: sign-extend so distinct ints stay distinct keys.
      if (width == 4) v = static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(v)));
      keys.push_back(v);
      have = 0;
    }
  });
  if (!st) return st;
  if (have != 0) return data_loss(trace.path + ": trailing partial integer");
  return keys;
}

}  // namespace

std::vector<TraceFile> find_traces(const std::string& dir) {
  std::vector<TraceFile> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::string file = entry.path().filename().string();
    for (const Suffix& s : kSuffixes) {
      size_t n = std::strlen(s.text);
      if (file.size() <= n || file.compare(file.size() - n, n, s.text) != 0) continue;
      std::string name = file.substr(0, file.size() - n);
      out.push_back({name, entry.path().string(), format_for(name, s.format)});
      break;
    }
  }
  std::sort(out.begin(), out.end(), [](const TraceFile& a, const TraceFile& b) { return a.name < b.name; });
  return out;
}

std::string cached_path(const std::string& cache_dir, const std::string& name) {
  return (fs::path(cache_dir) / (name + ".u64")).string();
}

Result<std::vector<uint64_t>> load_trace(const TraceFile& trace, const std::string& cache_dir) {
  std::string cached = cached_path(cache_dir, trace.name);
  std::error_code ec1, ec2;
  auto cached_time = fs::last_write_time(cached, ec1);
  auto source_time = fs::last_write_time(trace.path, ec2);
  if (!ec1 && !ec2 && cached_time >= source_time) return read_u64(cached);

  Result<std::vector<uint64_t>> keys = trace.format == TraceFormat::kArcLis || trace.format == TraceFormat::kLirsText
                                           ? decode_text(trace)
                                           : decode_binary(trace);
  if (!keys) return keys;
  if (Status st = write_u64(cached, *keys); !st) return st;
  return keys;
}

Result<std::vector<uint64_t>> read_u64(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) return not_found(path + ": " + std::strerror(errno));
  std::error_code ec;
  uintmax_t bytes = fs::file_size(path, ec);
  if (ec || bytes % 8 != 0) return data_loss(path + ": size is not a multiple of 8");
  std::vector<uint64_t> keys(bytes / 8);
  if (std::fread(keys.data(), 8, keys.size(), f.get()) != keys.size()) return data_loss(path + ": short read");
  for (uint64_t& k : keys) k = le64toh(k);
  return keys;
}

Status write_u64(const std::string& path, const std::vector<uint64_t>& keys) {
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  std::string tmp = path + ".tmp";
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(tmp.c_str(), "wb"), &std::fclose);
  if (!f) return unavailable(tmp + ": " + std::strerror(errno));
  std::vector<uint64_t> le(keys.size());
  std::transform(keys.begin(), keys.end(), le.begin(), [](uint64_t k) { return htole64(k); });
  if (std::fwrite(le.data(), 8, le.size(), f.get()) != le.size()) return unavailable(tmp + ": short write");
  if (std::fclose(f.release()) != 0) return unavailable(tmp + ": " + std::strerror(errno));
  fs::rename(tmp, path, ec);
  if (ec) return unavailable(path + ": " + ec.message());
  return Status::ok();
}

}  // namespace stratacache::bench
