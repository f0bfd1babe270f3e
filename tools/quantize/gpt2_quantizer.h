// Post-training quantization of a float GPT-2 into fxserve's fixed-point
// numerics (kernels/top/NUMERICS.md):
// - every int8 activation tensor gets a binary point (fraction bits F),
//   QFX-style: the F that minimises the squared quantization error over
//   the activations the float model produces on calibration text;
// - weights get per-output-channel scales: powers of two (multiplier-free:
//   requantization is a shift) or 16-bit fixed-point multipliers, each the
//   candidate with the least squared error (clipping allowed);
// - biases, LayerNorm parameters and embeddings are rounded into their
//   formats; every shift register follows from the chosen scales.
#ifndef FXSERVE_TOOLS_QUANTIZE_GPT2_QUANTIZER_H_
#define FXSERVE_TOOLS_QUANTIZE_GPT2_QUANTIZER_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "model/gpt2_weights.h"
#include "model/quantized_gpt2.h"

namespace fxserve::quantize {

struct QuantizeOptions {
  int weight_bits = 8;  // 8 or 4, for the blocks' linears (LM head: 8).
  model::ScaleKind scales = model::ScaleKind::kPow2;
  // Calibration tokens used at most (the rest of the text is ignored).
  int max_calibration_tokens = 8192;
  // Called with a line of progress text now and then; may be empty.
  std::function<void(const std::string&)> progress;
};

// Quantizes `weights` calibrating on `calibration_tokens` (at least 2).
// InvalidArgument for options out of range, a LayerNorm epsilon other than
// the hardware's 1e-5, a GELU other than GPT-2's tanh form, or a scale that
// no shift register can express.
absl::StatusOr<model::QuantizedGpt2> QuantizeGpt2(
    const model::Gpt2Weights& weights, absl::Span<const int> calibration_tokens,
    const QuantizeOptions& options);

}  // namespace fxserve::quantize

#endif  // FXSERVE_TOOLS_QUANTIZE_GPT2_QUANTIZER_H_
