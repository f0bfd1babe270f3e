// A GPT-2 model quantized to fxserve's fixed-point numerics
// (kernels/top/NUMERICS.md): integer codes and the run-time registers
// (shifts, multipliers) of every layer, as plain host data. The quantizer
// produces it, the model artifact stores it, and every backend loads its
// own layout from it.
#ifndef FXSERVE_MODEL_QUANTIZED_GPT2_H_
#define FXSERVE_MODEL_QUANTIZED_GPT2_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "model/gpt2_config.h"

namespace fxserve::model {

enum class ScaleKind {
  kPow2,   // Per-channel scale 2^-e: requantization is a shift.
  kFixed,  // Per-channel scale m * 2^-(15 + e), m a 16-bit multiplier.
};

const char* ScaleKindName(ScaleKind kind);  // "pow2" / "fixed"

// y = requantize(bias + x W^T, shift[, mult]) for int8 codes x.
struct QuantizedLinear {
  int in = 0, out = 0;
  int bits = 8;                // Weight codes are int8, or int4 (-8..7).
  std::vector<int8_t> weight;  // [out][in] codes.
  std::vector<int32_t> bias;   // [out], at the accumulator's scale.
  std::vector<int8_t> shift;   // [out], -64..63.
  std::vector<uint16_t> mult;  // [out]; empty for kPow2.
};

struct QuantizedLayerNorm {
  std::vector<int32_t> gamma, beta;  // [n_embd], raw ln_param_t codes.
  int out_shift = 0;                 // ln_out_t raw -> int8 activation.
};

struct QuantizedLayer {
  QuantizedLayerNorm ln_1;
  QuantizedLinear qkv;        // [3 n_embd] outputs: q (1/sqrt(d) folded), k, v.
  int score_frac = 0;         // q . k * 2^-score_frac is the attention score.
  int ctx_shift = 0;          // ctx_t raw -> int8 activation.
  QuantizedLinear attn_proj;  // Output at the residual's format.
  QuantizedLayerNorm ln_2;
  QuantizedLinear fc;        // Output at gelu_t's format.
  int gelu_shift = 0;        // gelu_t raw -> int8 activation.
  QuantizedLinear mlp_proj;  // Output at the residual's format.
};

struct QuantizedGpt2 {
  Gpt2Config config;
  int weight_bits = 8;  // The blocks' linears; the LM head is always int8.
  ScaleKind scales = ScaleKind::kPow2;
  std::vector<int16_t> wte;  // [vocab][n_embd] raw emb_t codes.
  std::vector<int16_t> wpe;  // [n_positions][n_embd] raw emb_t codes.
  std::vector<QuantizedLayer> layers;
  QuantizedLayerNorm ln_f;
  QuantizedLinear lm_head;  // [vocab] outputs at the logits' format.
  // Binary point (fraction bits) chosen for each int8 activation tensor,
  // e.g. "h.0.ln_1" -> 5; recorded for the model card and checks.
  std::map<std::string, int> activation_frac;
};

}  // namespace fxserve::model

#endif  // FXSERVE_MODEL_QUANTIZED_GPT2_H_
