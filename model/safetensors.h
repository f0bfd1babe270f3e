// Reader for the safetensors format (Hugging Face): an 8-byte little-endian
// header length N, N bytes of JSON describing each tensor's dtype, shape and
// byte range, then the tensor data. An optional "__metadata__" header entry
// holds free-form string -> string pairs. Every field is validated: a
// corrupt or truncated file gives an InvalidArgument status naming the tensor
// and the problem, never a crash. model/safetensors_writer.h writes the
// format.
#ifndef FXSERVE_MODEL_SAFETENSORS_H_
#define FXSERVE_MODEL_SAFETENSORS_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace fxserve::model {

// Longer headers are not model files: the reader refuses them early (as
// Hugging Face's does) rather than allocate whatever a corrupt length field
// says, so the writer refuses to produce them.
inline constexpr uint64_t kSafetensorsMaxHeaderBytes = uint64_t{100} << 20;

enum class DType { kF64, kF32, kF16, kBF16, kI64, kI32, kI16, kI8, kU8, kBool };

// "F32", "BF16"... as written in safetensors headers.
const char* DTypeName(DType dtype);
int DTypeSize(DType dtype);

// One tensor of a parsed file. `bytes` points into the file's buffer.
struct TensorInfo {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  absl::Span<const uint8_t> bytes;

  int64_t NumElements() const;
  std::string ShapeString() const;  // "[768, 2304]"
};

// A parsed safetensors buffer. Owns its bytes (file contents or a copy).
class SafetensorsFile {
 public:
  // Reads and parses `path`. Errors name the file.
  static absl::StatusOr<SafetensorsFile> Open(const std::string& path);
  // Parses bytes already in memory (copied); used by tests and the fuzzer.
  static absl::StatusOr<SafetensorsFile> Parse(absl::Span<const uint8_t> data);

  SafetensorsFile(SafetensorsFile&&) = default;
  SafetensorsFile& operator=(SafetensorsFile&&) = default;

  // In header (name) order.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  // The header's "__metadata__" pairs; empty if the file has none.
  const std::map<std::string, std::string>& metadata() const {
    return metadata_;
  }
  // Every byte after the header: all tensor data, with any padding between
  // tensors. Checksums cover this.
  absl::Span<const uint8_t> data_section() const;
  // Null if absent.
  const TensorInfo* Find(std::string_view name) const;

  // The tensor's values as float32 (from F32, F16 or BF16). Other dtypes
  // give InvalidArgument.
  static absl::StatusOr<std::vector<float>> ToFloat(const TensorInfo& tensor);

 private:
  SafetensorsFile() = default;
  static absl::StatusOr<SafetensorsFile> ParseOwned(
      std::unique_ptr<std::vector<uint8_t>> buffer);

  // Heap-held so TensorInfo spans stay valid when the object moves.
  std::unique_ptr<std::vector<uint8_t>> buffer_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
  size_t data_offset_ = 0;  // Where data_section() starts in *buffer_.
};

// IEEE half and bfloat16 bit patterns to float, exactly.
float HalfToFloat(uint16_t bits);
float BFloat16ToFloat(uint16_t bits);

}  // namespace fxserve::model

#endif  // FXSERVE_MODEL_SAFETENSORS_H_
