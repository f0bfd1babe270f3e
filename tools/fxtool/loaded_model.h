// What fxtool's model commands run: a float checkpoint (the reference
// forward pass) or a quantized fxserve artifact on a backend (cpu, or the
// kernel dataflow tops in C-simulation), behind one small interface
// holding one sequence.
#ifndef FXSERVE_TOOLS_FXTOOL_LOADED_MODEL_H_
#define FXSERVE_TOOLS_FXTOOL_LOADED_MODEL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "model/gpt2_config.h"

namespace fxserve::fxtool {

class LoadedModel {
 public:
  virtual ~LoadedModel() = default;
  virtual const model::Gpt2Config& config() const = 0;
  // "float32 reference" or "W4A8 pow2 artifact, kernel C-simulation".
  virtual std::string Describe() const = 0;
  // Starts a new, empty sequence.
  virtual void Reset() = 0;
  // Tokens in the current sequence.
  virtual int length() const = 0;
  // Appends tokens to the sequence; logits of the last one or of all.
  virtual absl::StatusOr<std::vector<float>> Forward(
      absl::Span<const int> tokens, bool all_positions) = 0;
};

// A quantized artifact if `dir` holds one (run on the named backend: cpu,
// csim or fpga), else a Hugging Face GPT-2 folder (the float reference).
absl::StatusOr<std::unique_ptr<LoadedModel>> LoadModelDir(
    const std::string& dir, const std::string& backend_name);

}  // namespace fxserve::fxtool

#endif  // FXSERVE_TOOLS_FXTOOL_LOADED_MODEL_H_
