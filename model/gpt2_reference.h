// The float32 reference forward pass of GPT-2 with a KV cache: prefill a
// prompt, then one token at a time. It is the yardstick every quantized path
// is measured against, written for clarity rather than speed (the matrix
// products go through oneDNN).
#ifndef FXSERVE_MODEL_GPT2_REFERENCE_H_
#define FXSERVE_MODEL_GPT2_REFERENCE_H_

#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "model/gpt2_weights.h"

namespace fxserve::model {

class Gpt2Reference {
 public:
  // One sequence's keys and values for every layer, filled as it runs.
  struct KvCache {
    std::vector<std::vector<float>> keys, values;  // [layer][pos * n_embd]
    int length = 0;                                // Tokens already run.
  };

  explicit Gpt2Reference(Gpt2Weights weights);

  const Gpt2Config& config() const { return weights_.config; }
  KvCache NewCache() const;

  // Runs `tokens` after the ones already in `cache` and returns the logits
  // [vocab] of the last one, or of every one ([tokens * vocab]) when
  // `all_positions`. InvalidArgument for an empty span, a token id outside
  // the vocabulary, or a context longer than n_positions. Thread-compatible:
  // one cache per thread.
  absl::StatusOr<std::vector<float>> Forward(KvCache& cache,
                                             absl::Span<const int> tokens,
                                             bool all_positions = false) const;

 private:
  void Attention(int layer, KvCache& cache, int first, int count,
                 const std::vector<float>& qkv, std::vector<float>& out) const;

  Gpt2Weights weights_;
};

}  // namespace fxserve::model

#endif  // FXSERVE_MODEL_GPT2_REFERENCE_H_
