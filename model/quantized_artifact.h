// The fxserve model artifact: a folder holding fxserve-model.safetensors,
// the QuantizedGpt2 as int8/int16/int32 tensors plus header metadata that
// records the format version, the model config, every calibrated binary
// point, and a CRC-32 of the tensor data. Format: docs in
// kernels/top/NUMERICS.md ("The model artifact").
#ifndef FXSERVE_MODEL_QUANTIZED_ARTIFACT_H_
#define FXSERVE_MODEL_QUANTIZED_ARTIFACT_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/artifact_io.h"
#include "model/quantized_gpt2.h"

namespace fxserve::model {

// "format" metadata value and the version this code reads and writes.
inline constexpr char kArtifactFormat[] = "fxserve.gpt2.quantized";
inline constexpr int kArtifactFormatVersion = 1;

// True when `dir` holds an artifact file (it may still be corrupt).
bool IsQuantizedArtifact(const std::string& dir);

// Writes `model` into folder `dir` (created if missing) atomically.
absl::Status SaveQuantizedGpt2(const QuantizedGpt2& model,
                               const std::string& dir);

// Reads and checks an artifact folder. DataLoss for a checksum mismatch,
// InvalidArgument for anything else wrong (unknown format or version,
// missing or misshapen tensor), each naming the file and what to do.
absl::StatusOr<QuantizedGpt2> LoadQuantizedGpt2(const std::string& dir);

}  // namespace fxserve::model

#endif  // FXSERVE_MODEL_QUANTIZED_ARTIFACT_H_
