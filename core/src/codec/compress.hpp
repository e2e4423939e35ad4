// Internal: LZ4 / zlib block compression with bounded, length-checked decompression.
#pragma once

#include <cstddef>
#include <string_view>

#include "stratacache/codec.hpp"

namespace stratacache::codec {

// Worst-case compressed size of n input bytes; 0 when c cannot take n bytes.
size_t compress_bound(Compression c, size_t n);

// Compresses src into dst[0, dst_capacity). Returns the compressed size, or 0 when the
// compressor failed (the caller then stores the payload uncompressed).
size_t compress_into(Compression c, std::string_view src, char* dst, size_t dst_capacity, int zlib_level);

// Decompresses src into exactly original_length bytes at dst. The output never exceeds
// original_length; anything but a complete stream of exactly that length -> kDataLoss.
Status decompress_into(Compression c, std::string_view src, char* dst, size_t original_length);

// False when original_length is more than compression method c can produce from
// compressed_length bytes (LZ4 < 256:1, deflate < 1033:1): such a header lies, and we
// refuse it before allocating original_length bytes.
bool plausible_expansion(Compression c, size_t compressed_length, size_t original_length);

}  // namespace stratacache::codec
