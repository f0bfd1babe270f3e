// The fixed-point formats of fxserve's GPT-2 (kernels/top/NUMERICS.md is
// the full spec) and the model shapes the dataflow tops are built for.
// Formats here are compile-time: they are the widths of the hardware's
// datapaths and the same for every model size. What the quantizer
// calibrates per model (the binary point of every int8 activation tensor,
// the per-channel weight scales) reaches the hardware as run-time shift and
// multiplier registers, stored in the model artifact.
#ifndef FXSERVE_KERNELS_TOP_GPT2_NUMERICS_H_
#define FXSERVE_KERNELS_TOP_GPT2_NUMERICS_H_

#include <ap_fixed.h>
#include <ap_int.h>

#include "kernels/linalg/quant_linear.h"

namespace fxserve::kernels::gpt2 {

// Matmul inputs: int8 codes; each tensor's binary point is calibrated.
using act_t = ap_int<8>;
// The residual stream: 16 integer bits (GPT-2's outlier channels reach the
// thousands), 16 fraction bits.
using resid_t = ap_fixed<32, 16, AP_RND_CONV, AP_SAT>;
constexpr int kResidFrac = 16;
using resid_raw_t = ap_int<32>;
// Token and position embedding table entries.
using emb_t = ap_fixed<16, 5, AP_RND_CONV, AP_SAT>;
// LayerNorm gamma and beta.
using ln_param_t = ap_fixed<24, 8, AP_RND_CONV, AP_SAT>;
// LayerNorm's normalized value z and its output y = z * gamma + beta.
using ln_norm_t = ap_fixed<24, 8, AP_RND_CONV, AP_SAT>;
using ln_out_t = ap_fixed<24, 10, AP_RND_CONV, AP_SAT>;
constexpr int kLnOutFrac = 14;
using ln_out_raw_t = ap_int<24>;
// GELU input (the MLP's first linear output) and output.
using gelu_t = ap_fixed<20, 8, AP_RND_CONV, AP_SAT>;
constexpr int kGeluFrac = 12;
using gelu_raw_t = ap_int<20>;
// Attention scores (softmax input), probabilities, and the head output in
// units of v's code (sum of probability x v code).
using score_t = ap_fixed<18, 8, AP_RND_CONV, AP_SAT>;
using prob_t = ap_ufixed<16, 1, AP_RND_CONV, AP_SAT>;
using ctx_t = ap_fixed<16, 8, AP_RND_CONV, AP_SAT>;
constexpr int kCtxFrac = 8;
using ctx_raw_t = ap_int<16>;
// Logits: same format as the residual stream.
using logit_raw_t = ap_int<32>;
constexpr int kLogitFrac = 16;
// LayerNorm epsilon, rounded at compile time (GPT-2's value).
constexpr double kLayerNormEpsilon = 1e-5;
// Tokens per prefill call.
constexpr int kPrefillTokens = 16;
// LM head output rows are padded to a multiple of this (zero weights).
constexpr int kVocabAlign = 64;

// Model shapes. kChunkLog2: int4 GEMV packing chunk (divides both kEmbd
// and kInner, at most 10).
struct Gpt2TinyShape {  // models/tiny-gpt2.
  static constexpr int kVocab = 50257, kPositions = 256, kEmbd = 128,
                       kLayers = 4, kHeads = 4, kInner = 512, kChunkLog2 = 7;
};
struct Gpt2SmallShape {  // GPT-2 124M.
  static constexpr int kVocab = 50257, kPositions = 1024, kEmbd = 768,
                       kLayers = 12, kHeads = 12, kInner = 3072, kChunkLog2 = 8;
};

// A shape with its weight width and scale mode: one hardware build.
template <class Shape, int kWeightBitsValue, ScaleMode kScaleModeValue>
struct Gpt2Config : Shape {
  static constexpr int kWeightBits = kWeightBitsValue;  // Block linears.
  static constexpr ScaleMode kScaleMode = kScaleModeValue;
  static constexpr int kHeadDim = Shape::kEmbd / Shape::kHeads;
  static constexpr int kVocabPadded =
      (Shape::kVocab + kVocabAlign - 1) / kVocabAlign * kVocabAlign;
  static_assert(Shape::kEmbd % Shape::kHeads == 0, "heads split kEmbd");
};

// Kernel configs derived from a model config M.
template <class M>
struct LayerNormConfig {
  using input_t = resid_t;
  using gamma_t = ln_param_t;
  using beta_t = ln_param_t;
  using norm_t = ln_norm_t;
  using output_t = ln_out_t;
  static constexpr int kN = M::kEmbd;
  static constexpr int kGuardBits = 4;
  static constexpr int kRsqrtLutBits = 10;
  static constexpr int kRsqrtFracBits = 22;
  static constexpr double kEpsilon = kLayerNormEpsilon;
  static constexpr int kUnroll = 4;
};

template <class M>
struct AttentionConfig {
  using qkv_t = act_t;
  static constexpr int kHeadDim = M::kHeadDim;
  static constexpr int kMaxPositions = M::kPositions;
  static constexpr int kScoreFrac = 0;  // Unused: the run-time one is.
  using out_t = ctx_t;
  struct Softmax {
    using input_t = score_t;
    using output_t = prob_t;
    static constexpr int kN = M::kPositions;
    static constexpr int kExpFracBits = 10;
    static constexpr int kExpBits = 20;
    static constexpr int kLog2eBits = 20;
    static constexpr int kRecipBits = 24;
  };
  static constexpr int kUnroll = 8;
};

template <class M>
struct GeluConfig {
  using input_t = gelu_t;
  using output_t = gelu_t;
  static constexpr int kRangeLog2 = 3;  // Table over [-8, 8).
  static constexpr int kLutBits = 8;    // Segments of 1/16.
  static constexpr int kTableFrac = 16;
  static constexpr int kN = M::kInner;
  static constexpr int kUnroll = 8;
};

template <class M>
struct EmbeddingConfig {
  using wte_t = emb_t;
  using wpe_t = emb_t;
  using out_t = resid_t;
  static constexpr int kVocab = M::kVocab;
  static constexpr int kPositions = M::kPositions;
  static constexpr int kDim = M::kEmbd;
  static constexpr int kUnroll = 4;
};

// A linear layer of M with kTokens rows, kIn -> kOut, output code OutT.
// The LM head passes kWeightBits = 8 (it stays int8 in every build).
template <class M, int kTokensValue, int kInValue, int kOutValue, class OutT,
          int kWeightBitsValue = M::kWeightBits>
struct LinearConfig {
  static constexpr int kTokens = kTokensValue;
  static constexpr int kIn = kInValue;
  static constexpr int kOut = kOutValue;
  static constexpr int kWeightBits = kWeightBitsValue;
  static constexpr ScaleMode kScaleMode = M::kScaleMode;
  static constexpr int kBlockOut = 64;
  static constexpr int kTileOut = 8;
  static constexpr int kUnroll = 8;
  static constexpr int kChunkLog2 = M::kChunkLog2;
  using out_t = OutT;
};

// Requantization of a raw code of width W (a format's bits) into act_t.
template <int W>
struct ToActivation {
  using acc_t = ap_int<W>;
  using output_t = act_t;
  using shift_t = linear_shift_t;
};

}  // namespace fxserve::kernels::gpt2

#endif  // FXSERVE_KERNELS_TOP_GPT2_NUMERICS_H_
