// Picks the next token from logits: greedy, or temperature sampling with
// optional top-k and top-p (nucleus) filtering. Deterministic: the same seed
// and logits give the same tokens on every machine.
#ifndef FXSERVE_MODEL_SAMPLER_H_
#define FXSERVE_MODEL_SAMPLER_H_

#include <cstdint>
#include <random>

#include "absl/status/status.h"
#include "absl/types/span.h"

namespace fxserve::model {

struct SamplingOptions {
  float temperature = 1.0f;  // 0 means greedy (argmax).
  int top_k = 0;             // Keep the k most likely tokens; 0 keeps all.
  float top_p = 1.0f;        // Keep the smallest set with this much mass.
  uint64_t seed = 0;

  absl::Status Validate() const;
};

class Sampler {
 public:
  // `options` must be valid (see Validate()).
  explicit Sampler(const SamplingOptions& options);

  // Returns a token index into `logits`, which must not be empty. Ties in
  // greedy mode go to the lowest index.
  int Sample(absl::Span<const float> logits);

 private:
  double Uniform();  // In [0, 1), from 53 random bits.

  SamplingOptions options_;
  std::mt19937_64 rng_;
};

}  // namespace fxserve::model

#endif  // FXSERVE_MODEL_SAMPLER_H_
