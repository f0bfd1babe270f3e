// The float32 reference forward pass of GPT-2 with a KV cache: prefill a
// prompt, then one token at a time. It is the yardstick every quantized path
// is measured against, written for clarity rather than speed (the matrix
// products go through oneDNN).
#ifndef FXSERVE_MODEL_GPT2_REFERENCE_H_
#define FXSERVE_MODEL_GPT2_REFERENCE_H_

#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "model/gpt2_weights.h"

namespace fxserve::model {

// The activations the quantizer calibrates, in forward order.
enum class ActivationPoint {
  kLn1Out,    // LayerNorm 1 output [n_embd].
  kQkv,       // Attention input projection [3 n_embd]: q | k | v.
  kAttnOut,   // Attention heads' output, before the projection [n_embd].
  kLn2Out,    // LayerNorm 2 output [n_embd].
  kFcOut,     // MLP first linear, before GELU [n_inner].
  kGeluOut,   // GELU output [n_inner].
  kResidual,  // The residual stream after the block [n_embd].
  kLnFOut,    // Final LayerNorm output [n_embd] (layer = n_layer).
};

// Called with each token's row of each observed activation (all tokens of a
// call: values holds rows x width).
using ActivationObserver = std::function<void(ActivationPoint point, int layer,
                                              absl::Span<const float> values)>;

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
  // An observer, if given, sees the activations listed above.
  absl::StatusOr<std::vector<float>> Forward(
      KvCache& cache, absl::Span<const int> tokens, bool all_positions = false,
      const ActivationObserver* observer = nullptr) const;

 private:
  void Attention(int layer, KvCache& cache, int first, int count,
                 const std::vector<float>& qkv, std::vector<float>& out) const;

  Gpt2Weights weights_;
};

}  // namespace fxserve::model

#endif  // FXSERVE_MODEL_GPT2_REFERENCE_H_
