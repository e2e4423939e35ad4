// Access traces for the hit-ratio benchmark: readers for the formats in
// /work/shared/traces (see docs/hitratio.md) and a cache of decoded traces as flat
// little-endian uint64 files, which later runs and the Caffeine replay read directly.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "stratacache/status.hpp"

namespace stratacache::bench {

enum class TraceFormat : uint8_t {
  kArcLis,    // text `start count x y`: keys start .. start+count-1
  kLirsText,  // text, one integer per line; `*` and empty lines skipped
  kBe32,      // 32-bit big-endian signed integers
  kBe64,      // 64-bit big-endian integers
};

struct TraceFile {
  std::string name;  // file name without compression/format suffixes, e.g. "arc-OLTP"
  std::string path;
  TraceFormat format;
};

// Every trace in `dir` whose name has a known format, sorted by name.
std::vector<TraceFile> find_traces(const std::string& dir);

// Decodes `trace` (decompressing through zstd/gzip/xz), or reads its cached copy
// `cache_dir/NAME.u64` when that is newer than the source; writes the cache on a decode.
Result<std::vector<uint64_t>> load_trace(const TraceFile& trace, const std::string& cache_dir);

// The cached copy's path (what the Caffeine replay is given).
std::string cached_path(const std::string& cache_dir, const std::string& name);

Result<std::vector<uint64_t>> read_u64(const std::string& path);
// Writes atomically (temporary file + rename), creating the directory when missing.
Status write_u64(const std::string& path, const std::vector<uint64_t>& keys);

}  // namespace stratacache::bench
