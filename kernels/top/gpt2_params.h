// The parameters and KV cache of fxserve's GPT-2 dataflow tops, as plain
// fixed-size arrays (on the FPGA: HBM buffers; in C-simulation: heap
// memory). Weights are stored [out][in] (transposed from Hugging Face's
// Conv1D); int4 weights two per byte in gemv_w4a8.h's layout.
#ifndef FXSERVE_KERNELS_TOP_GPT2_PARAMS_H_
#define FXSERVE_KERNELS_TOP_GPT2_PARAMS_H_

#include <type_traits>

#include "kernels/top/gpt2_numerics.h"

namespace fxserve::kernels::gpt2 {

// One quantized linear layer, kIn -> kOut, with kBits-bit weights.
template <int kIn, int kOut, int kBits>
struct LinearParams {
  static constexpr int kRows = kBits == 8 ? kOut : kOut / 2;
  using weight_t = std::conditional_t<kBits == 8, ap_int<8>, ap_uint<8>>;
  weight_t w[kRows][kIn];
  linear_bias_t bias[kOut];    // At the accumulator's scale.
  linear_shift_t shift[kOut];  // Requantization shift per channel.
  linear_mult_t mult[kOut];    // Per-channel multiplier (kFixed builds).
};

// LayerNorm parameters and the shift of its output into act_t.
template <int kN>
struct LayerNormParams {
  ln_param_t gamma[kN];
  ln_param_t beta[kN];
  linear_shift_t out_shift;  // ln_out_t raw -> act_t: kLnOutFrac - F.
};

template <class M>
struct LayerParams {
  static constexpr int kC = M::kEmbd;
  static constexpr int kBits = M::kWeightBits;
  LayerNormParams<kC> ln_1;
  LinearParams<kC, 3 * kC, kBits> qkv;    // Out: q | k | v codes, act_t.
  int score_frac;                         // F(q) + F(k), 1/sqrt(d) in q.
  linear_shift_t ctx_shift;               // ctx_t raw -> act_t.
  LinearParams<kC, kC, kBits> attn_proj;  // Out: residual raw.
  LayerNormParams<kC> ln_2;
  LinearParams<kC, M::kInner, kBits> fc;        // Out: gelu_t raw.
  linear_shift_t gelu_shift;                    // gelu_t raw -> act_t.
  LinearParams<M::kInner, kC, kBits> mlp_proj;  // Out: residual raw.
};

template <class M>
struct ModelParams {
  emb_t wte[M::kVocab][M::kEmbd];
  emb_t wpe[M::kPositions][M::kEmbd];
  LayerParams<M> layers[M::kLayers];
  LayerNormParams<M::kEmbd> ln_f;
  LinearParams<M::kEmbd, M::kVocabPadded, 8> lm_head;  // Out: logit raw.
};

// One sequence's keys and values, int8 codes at F(k) and F(v).
template <class M>
struct KvCache {
  act_t k[M::kLayers][M::kHeads][M::kPositions][M::kHeadDim];
  act_t v[M::kLayers][M::kHeads][M::kPositions][M::kHeadDim];
};

}  // namespace fxserve::kernels::gpt2

#endif  // FXSERVE_KERNELS_TOP_GPT2_PARAMS_H_
