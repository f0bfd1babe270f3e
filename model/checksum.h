// Checksums for the artifacts fxserve writes (quantized model files), so a
// reader can tell a damaged or truncated file from a good one.
#ifndef FXSERVE_MODEL_CHECKSUM_H_
#define FXSERVE_MODEL_CHECKSUM_H_

#include <cstdint>

#include "absl/types/span.h"

namespace fxserve::model {

// CRC-32 as zlib, gzip and PNG compute it (IEEE polynomial, reflected,
// initial and final XOR 0xffffffff): Crc32("123456789") == 0xcbf43926.
// Any length, including more than 4 GiB.
uint32_t Crc32(absl::Span<const uint8_t> bytes);

}  // namespace fxserve::model

#endif  // FXSERVE_MODEL_CHECKSUM_H_
