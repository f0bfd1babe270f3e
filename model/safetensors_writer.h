// Writer for the safetensors format that model/safetensors.h reads: the
// artifacts fxserve produces (quantized weights, scales) are written with
// SerializeSafetensors() / WriteSafetensors(), with string metadata in the
// header's "__metadata__" entry.
//
// Layout: the 8-byte little-endian header length; the header JSON
// ("__metadata__" first if there is any metadata, then the tensors in the
// order given), padded with spaces to a multiple of 8 bytes; then the data
// section, each tensor's bytes in the order given, its begin offset rounded
// up to a multiple of 8 with zero bytes (so every tensor starts 8-byte
// aligned in the file and in a buffer that holds the file).
//
// Compatibility: fxserve's reader accepts the zero padding between tensors.
// Hugging Face's reference reader (the Rust `safetensors` crate and its
// Python binding) requires the tensors to cover the data section without
// gaps, so it rejects a file with padding (InvalidOffset). There is no
// padding when every tensor but the last has a multiple of 8 bytes.
//
// Thread safety: the functions share no state; two calls writing the same
// path at once race on `path + ".tmp"`.
#ifndef FXSERVE_MODEL_SAFETENSORS_WRITER_H_
#define FXSERVE_MODEL_SAFETENSORS_WRITER_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "model/safetensors.h"

namespace fxserve::model {

// One tensor to write. `bytes` is borrowed for the duration of the call and
// holds the values in row-major order, little-endian.
struct TensorToWrite {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;  // {} is a scalar.
  absl::Span<const uint8_t> bytes;
};

// The whole file as bytes. InvalidArgument, naming the tensor, if a name is
// empty, repeated, "__metadata__" or not UTF-8; if a dimension is negative
// or above 2^40; if `bytes` does not hold exactly product(shape) *
// DTypeSize(dtype) bytes; if a metadata key or value is not UTF-8; or if the
// header would exceed kSafetensorsMaxHeaderBytes. SafetensorsFile::Parse()
// accepts every result and gives back the same tensors and metadata.
absl::StatusOr<std::vector<uint8_t>> SerializeSafetensors(
    absl::Span<const TensorToWrite> tensors,
    const std::map<std::string, std::string>& metadata);

// The data section SerializeSafetensors() emits for `tensors` (same order and
// zero padding), without the header: Crc32() of it equals Crc32() of
// SafetensorsFile::data_section() of the written file, so a checksum can be
// computed before the file exists and stored in its metadata. Meaningful for
// tensors SerializeSafetensors() accepts; does no validation itself.
std::vector<uint8_t> SafetensorsDataSection(
    absl::Span<const TensorToWrite> tensors);

// SerializeSafetensors() then WriteFileAtomically(). Errors name `path`.
absl::Status WriteSafetensors(
    const std::string& path, absl::Span<const TensorToWrite> tensors,
    const std::map<std::string, std::string>& metadata);

// Writes `bytes` to `path + ".tmp"`, flushes it to disk (fsync), then renames
// it over `path`, so readers see the old file or the complete new one, never
// a partial one. On failure the temporary file is removed and the status
// (code from errno) names the path and the system's reason, e.g. "cannot
// create /x/model.safetensors.tmp (writing /x/model.safetensors): No such
// file or directory".
absl::Status WriteFileAtomically(const std::string& path,
                                 absl::Span<const uint8_t> bytes);

}  // namespace fxserve::model

#endif  // FXSERVE_MODEL_SAFETENSORS_WRITER_H_
