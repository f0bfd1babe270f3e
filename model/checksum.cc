#include "model/checksum.h"

#include <zlib.h>

#include <algorithm>
#include <cstddef>

namespace fxserve::model {

uint32_t Crc32(absl::Span<const uint8_t> bytes) {
  // zlib's length is a 32-bit uInt, so feed it in chunks.
  constexpr size_t kChunk = size_t{1} << 30;
  uLong crc = crc32(0L, Z_NULL, 0);
  for (size_t pos = 0; pos < bytes.size(); pos += kChunk) {
    const size_t n = std::min(kChunk, bytes.size() - pos);
    crc = crc32(crc, bytes.data() + pos, static_cast<uInt>(n));
  }
  return static_cast<uint32_t>(crc);
}

}  // namespace fxserve::model
