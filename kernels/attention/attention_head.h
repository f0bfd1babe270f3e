// One causal attention head, one token at a time, with a KV cache:
//   write k, v at position pos; s_t = (q . k_t) * 2^-kScoreFrac for t <= pos;
//   p = softmax(s); out = sum_t p_t v_t.
// Prefill runs this step for pos = 0, 1, ... (causal attention makes the two
// identical by construction). q, k, v are int8 with scales chosen by the
// quantizer so that q . k * 2^-kScoreFrac is the already-scaled score
// (1/sqrt(head_dim) folded into q's scale: multiplier-free). Softmax is
// kernels/nonlinear/softmax.h; the rest is exact integer arithmetic until
// the final conversion into out_t.
#ifndef FXSERVE_KERNELS_ATTENTION_ATTENTION_HEAD_H_
#define FXSERVE_KERNELS_ATTENTION_ATTENTION_HEAD_H_

#include <ap_fixed.h>
#include <ap_int.h>

#include "kernels/nonlinear/softmax.h"

namespace fxserve::kernels {

// Example configuration (a GPT-2 head: 64 dims, context 256 here).
struct AttentionHeadConfigExample {
  using qkv_t = ap_int<8>;                   // q, k and v elements.
  static constexpr int kHeadDim = 64;        // Elements per q, k, v.
  static constexpr int kMaxPositions = 256;  // KV cache length.
  static constexpr int kScoreFrac = 10;      // Score = dot * 2^-kScoreFrac.
  using out_t = ap_fixed<16, 8, AP_RND_CONV, AP_SAT>;  // Output element.
  // Softmax over one row of scores.
  struct Softmax {
    using input_t = ap_fixed<16, 6, AP_RND_CONV, AP_SAT>;  // Scores.
    using output_t = ap_ufixed<16, 1, AP_RND_CONV, AP_SAT>;
    static constexpr int kN = 256;           // Must equal kMaxPositions.
    static constexpr int kExpFracBits = 10;  // 1024-entry table: values
    static constexpr int kExpBits = 20;      // reach 128, so keep it fine.
    static constexpr int kLog2eBits = 20;
    static constexpr int kRecipBits = 24;
  };
  static constexpr int kUnroll = 8;  // Dot-product lanes.
};

// Largest run-time score_frac AttentionHeadStep accepts.
constexpr int kMaxScoreFrac = 31;

// Runs position `pos` (0 <= pos < kMaxPositions; the host checks this and
// reports an error before calling). For pos out of range the step writes
// nothing to the cache and outputs zeros, so hardware never indexes past
// the cache. score_frac (0 .. kMaxScoreFrac, a run-time register: the
// quantizer's q and k binary points summed) gives score = dot *
// 2^-score_frac; the exact score is converted once into the softmax input
// type, whose modes round and saturate.
template <class Config>
void AttentionHeadStep(
    const typename Config::qkv_t q[Config::kHeadDim],
    const typename Config::qkv_t k[Config::kHeadDim],
    const typename Config::qkv_t v[Config::kHeadDim],
    typename Config::qkv_t k_cache[Config::kMaxPositions][Config::kHeadDim],
    typename Config::qkv_t v_cache[Config::kMaxPositions][Config::kHeadDim],
    int pos, int score_frac, typename Config::out_t out[Config::kHeadDim]) {
  using SoftmaxConfig = typename Config::Softmax;
  constexpr int kD = Config::kHeadDim;
  constexpr int kP = Config::kMaxPositions;
  static_assert(SoftmaxConfig::kN == kP, "softmax row must span the cache");
  constexpr int kDotW = 2 * Config::qkv_t::width + 8;  // Room for kD <= 256.
  static_assert(kD <= 256, "kDotW assumes at most 256 dims");
  using dot_t = ap_int<kDotW>;
  // The dot with kMaxScoreFrac spare fraction bits: >> score_frac is exact.
  using score_t = ap_fixed<kDotW + kMaxScoreFrac, kDotW>;
  using prob_t = typename SoftmaxConfig::output_t;
  // Sum of kP products of a probability (< 2) and an int8: exact.
  using acc_t = ap_fixed<prob_t::width + Config::qkv_t::width + 9,
                         prob_t::iwidth + Config::qkv_t::width + 9>;

  if (pos < 0 || pos >= kP || score_frac < 0 || score_frac > kMaxScoreFrac) {
  zero_loop:
    for (int j = 0; j < kD; ++j) out[j] = 0;
    return;
  }
store_loop:
  for (int j = 0; j < kD; ++j) {
#pragma HLS UNROLL factor = Config::kUnroll
    k_cache[pos][j] = k[j];
    v_cache[pos][j] = v[j];
  }

  typename SoftmaxConfig::input_t scores[kP];
score_loop:
  for (int t = 0; t < kP; ++t) {
#pragma HLS PIPELINE II = 1
    dot_t dot = 0;
  dot_loop:
    for (int j = 0; j < kD; ++j) {
#pragma HLS UNROLL factor = Config::kUnroll
      dot += q[j] * k_cache[t][j];
    }
    score_t score = dot;
    score >>= score_frac;  // dot * 2^-score_frac, exact.
    scores[t] = t <= pos ? typename SoftmaxConfig::input_t(score)
                         : typename SoftmaxConfig::input_t(0);
  }

  prob_t probs[kP];
  Softmax<SoftmaxConfig>(scores, probs, pos + 1);

output_loop:
  for (int j = 0; j < kD; ++j) {
#pragma HLS PIPELINE II = 1
    acc_t acc = 0;
  weighted_sum_loop:
    for (int t = 0; t < kP; ++t) {
      if (t <= pos) acc += probs[t] * v_cache[t][j];
    }
    out[j] = acc;
  }
}

// The same step with the config's compile-time Config::kScoreFrac.
template <class Config>
void AttentionHeadStep(
    const typename Config::qkv_t q[Config::kHeadDim],
    const typename Config::qkv_t k[Config::kHeadDim],
    const typename Config::qkv_t v[Config::kHeadDim],
    typename Config::qkv_t k_cache[Config::kMaxPositions][Config::kHeadDim],
    typename Config::qkv_t v_cache[Config::kMaxPositions][Config::kHeadDim],
    int pos, typename Config::out_t out[Config::kHeadDim]) {
  AttentionHeadStep<Config>(q, k, v, k_cache, v_cache, pos, Config::kScoreFrac,
                            out);
}

}  // namespace fxserve::kernels

#endif  // FXSERVE_KERNELS_ATTENTION_ATTENTION_HEAD_H_
