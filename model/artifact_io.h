// What every fxserve model artifact shares: a folder holding
// fxserve-model.safetensors whose metadata names its format and version
// and records a CRC-32 of the tensor data. The GPT-2 artifact
// (quantized_artifact.h) and the detector's
// (centernet/quantized_detector_artifact.h) build on these.
#ifndef FXSERVE_MODEL_ARTIFACT_IO_H_
#define FXSERVE_MODEL_ARTIFACT_IO_H_

#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "model/quantized_gpt2.h"
#include "model/safetensors.h"
#include "model/safetensors_writer.h"

namespace fxserve::model {

// File name inside the artifact folder.
inline constexpr char kArtifactFileName[] = "fxserve-model.safetensors";

std::string ArtifactPath(const std::string& dir);

// Collects tensors to write; owns their bytes until written.
class ArtifactTensors {
 public:
  template <class T>
  void Add(const std::string& name, DType dtype, std::vector<int64_t> shape,
           const std::vector<T>& values) {
    auto bytes =
        std::make_unique<std::vector<uint8_t>>(values.size() * sizeof(T));
    if (!values.empty()) {
      std::memcpy(bytes->data(), values.data(), bytes->size());
    }
    tensors_.push_back({name, dtype, std::move(shape), *bytes});
    storage_.push_back(std::move(bytes));
  }
  void AddScalar(const std::string& name, int value) {
    Add(name, DType::kI32, {1}, std::vector<int32_t>{value});
  }
  // name.weight [out, in] I8, .bias I32, .shift I8, .mult I32 (fixed only).
  void AddLinear(const std::string& name, const QuantizedLinear& q);
  const std::vector<TensorToWrite>& tensors() const { return tensors_; }

 private:
  std::vector<TensorToWrite> tensors_;
  std::vector<std::unique_ptr<std::vector<uint8_t>>> storage_;
};

// Reads an artifact's tensors back, checking dtype and shape; errors name
// the file and the tensor.
class ArtifactReader {
 public:
  ArtifactReader(const SafetensorsFile& file, std::string path)
      : file_(file), path_(std::move(path)) {}

  template <class T>
  absl::Status Read(const std::string& name, DType dtype,
                    const std::vector<int64_t>& shape, std::vector<T>& out) {
    const TensorInfo* t = file_.Find(name);
    if (t == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(path_, ": tensor ", name, " is missing"));
    }
    if (t->dtype != dtype || t->shape != shape) {
      TensorInfo want{name, dtype, shape, {}};
      return absl::InvalidArgumentError(
          absl::StrCat(path_, ": tensor ", name, " is ", DTypeName(t->dtype),
                       " ", t->ShapeString(), ", expected ", DTypeName(dtype),
                       " ", want.ShapeString()));
    }
    out.resize(t->NumElements());
    if (!out.empty()) std::memcpy(out.data(), t->bytes.data(), t->bytes.size());
    return absl::OkStatus();
  }
  absl::Status Scalar(const std::string& name, int& value);
  // The tensors AddLinear writes; int4 codes are checked to be -8..7.
  absl::Status Linear(const std::string& name, int in, int out, int bits,
                      bool fixed, QuantizedLinear& q);
  const std::string& path() const { return path_; }

 private:
  const SafetensorsFile& file_;
  std::string path_;
};

// Writes `tensors` into dir/kArtifactFileName (the folder is created if
// missing) with `metadata` plus format, format_version and data_crc32.
absl::Status WriteArtifact(const std::string& dir, const std::string& format,
                           int version, const ArtifactTensors& tensors,
                           std::map<std::string, std::string> metadata);

// Opens dir's artifact and checks its format, version and checksum:
// InvalidArgument for another format or version (saying `how_to_make` it),
// DataLoss for a checksum mismatch.
absl::StatusOr<SafetensorsFile> OpenArtifact(const std::string& dir,
                                             const std::string& format,
                                             int version,
                                             const std::string& how_to_make);

// Reads weight_bits (8 or 4) and scales ("pow2" or "fixed") from the JSON
// text of an artifact's quantization metadata; InvalidArgument naming
// `path` otherwise.
absl::Status ReadWeightFormat(const std::string& path,
                              const std::string& quantization_json, int& bits,
                              ScaleKind& scales);

// The "format" metadata of dir's artifact ("" if it has none).
absl::StatusOr<std::string> ArtifactFormat(const std::string& dir);

}  // namespace fxserve::model

#endif  // FXSERVE_MODEL_ARTIFACT_IO_H_
