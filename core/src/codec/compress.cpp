#include "codec/compress.hpp"

#include <climits>
#include <string>

#include <lz4.h>
#include <zlib.h>

namespace stratacache::codec {

size_t compress_bound(Compression c, size_t n) {
  switch (c) {
    case Compression::kNone: return n;
    case Compression::kLz4:
      if (n > static_cast<size_t>(LZ4_MAX_INPUT_SIZE)) return 0;
      return static_cast<size_t>(LZ4_compressBound(static_cast<int>(n)));
    case Compression::kZlib: return static_cast<size_t>(compressBound(static_cast<uLong>(n)));
  }
  return 0;
}

size_t compress_into(Compression c, std::string_view src, char* dst, size_t dst_capacity, int zlib_level) {
  switch (c) {
    case Compression::kNone: return 0;
    case Compression::kLz4: {
      if (src.size() > static_cast<size_t>(LZ4_MAX_INPUT_SIZE)) return 0;
      const int cap = dst_capacity > static_cast<size_t>(INT_MAX) ? INT_MAX : static_cast<int>(dst_capacity);
      const int r = LZ4_compress_default(src.data(), dst, static_cast<int>(src.size()), cap);
      return r > 0 ? static_cast<size_t>(r) : 0;
    }
    case Compression::kZlib: {
      uLongf len = static_cast<uLongf>(dst_capacity);
      const int rc = compress2(reinterpret_cast<Bytef*>(dst), &len, reinterpret_cast<const Bytef*>(src.data()),
                               static_cast<uLong>(src.size()), zlib_level);
      return rc == Z_OK ? static_cast<size_t>(len) : 0;
    }
  }
  return 0;
}

Status decompress_into(Compression c, std::string_view src, char* dst, size_t original_length) {
  switch (c) {
    case Compression::kNone:
      return data_loss("decompress called for an uncompressed body");
    case Compression::kLz4: {
      if (src.size() > static_cast<size_t>(INT_MAX) || original_length > static_cast<size_t>(INT_MAX)) {
        return data_loss("LZ4 block larger than 2 GiB");
      }
      const int r = LZ4_decompress_safe(src.data(), dst, static_cast<int>(src.size()),
                                        static_cast<int>(original_length));
      if (r < 0) return data_loss("corrupt LZ4 data");
      if (static_cast<size_t>(r) != original_length) {
        return data_loss("LZ4 data decompressed to " + std::to_string(r) + " bytes, header says " +
                         std::to_string(original_length));
      }
      return Status::ok();
    }
    case Compression::kZlib: {
      uLongf out_len = static_cast<uLongf>(original_length);
      uLong in_len = static_cast<uLong>(src.size());
      const int rc = uncompress2(reinterpret_cast<Bytef*>(dst), &out_len,
                                 reinterpret_cast<const Bytef*>(src.data()), &in_len);
      if (rc == Z_BUF_ERROR && out_len == original_length) {
        // Output full but the stream goes on (or, for 0 bytes, never ended).
        return data_loss("zlib data decompresses to more than the header says, or is truncated");
      }
      if (rc != Z_OK) return data_loss(std::string("corrupt zlib data (") + zError(rc) + ")");
      if (out_len != original_length) {
        return data_loss("zlib data decompressed to " + std::to_string(out_len) + " bytes, header says " +
                         std::to_string(original_length));
      }
      if (in_len != src.size()) return data_loss("trailing bytes after the zlib stream");
      return Status::ok();
    }
  }
  return data_loss("unknown compression id");
}

bool plausible_expansion(Compression c, size_t compressed_length, size_t original_length) {
  // Generous bounds (with slack for headers); see tests for the measured worst cases.
  switch (c) {
    case Compression::kNone: return compressed_length == original_length;
    case Compression::kLz4: return original_length / 256 <= compressed_length;
    case Compression::kZlib: return original_length / 1040 <= compressed_length;
  }
  return false;
}

}  // namespace stratacache::codec
