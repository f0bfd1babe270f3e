// A quantized linear layer, multiplier-free or with fixed-point scales:
//   acc[t][o] = bias[o] + sum_i x[t][i] * W[o][i]        (exact integers)
//   y[t][o]   = requantize(acc[t][o], shift[o])            (kPow2)
//   y[t][o]   = requantize(acc[t][o] * mult[o], shift[o])  (kFixed)
// where requantize is quant/requantize.h (x 2^-shift, round half to even,
// saturate into out_t). x is int8; W is int8, or int4 stored two per byte
// (gemv_w4a8.h's layout). One token (decode) uses the GEMV kernels (DSP
// packing for int4), more tokens (prefill) the GEMM kernels that reuse
// weight tiles across tokens; both give the same integers, so a token's
// output does not depend on which path ran it. Output rows are computed
// kBlockOut at a time so the accumulators stay on chip.
#ifndef FXSERVE_KERNELS_LINALG_QUANT_LINEAR_H_
#define FXSERVE_KERNELS_LINALG_QUANT_LINEAR_H_

#include <ap_int.h>

#include <type_traits>

#include "kernels/linalg/gemm_w4a8.h"
#include "kernels/linalg/gemm_w8a8.h"
#include "kernels/linalg/gemv_w4a8.h"
#include "kernels/quant/requantize.h"

namespace fxserve::kernels {

// How an output channel's scale is applied.
enum class ScaleMode {
  kPow2,   // scale = 2^-shift: a shift, no multiplier.
  kFixed,  // scale = mult * 2^-shift, mult an unsigned 16-bit integer.
};

using linear_bias_t = ap_int<32>;   // Bias, at the accumulator's scale.
using linear_shift_t = ap_int<7>;   // Per-channel shift, -64 .. 63.
using linear_mult_t = ap_uint<16>;  // Per-channel multiplier (kFixed).

// Example configuration; layers define their own.
struct QuantLinearConfigExample {
  static constexpr int kTokens = 1;      // Rows of x and y (1: decode).
  static constexpr int kIn = 768;        // Inputs per token.
  static constexpr int kOut = 2304;      // Outputs (a multiple of kBlockOut).
  static constexpr int kWeightBits = 8;  // 8, or 4 (two weights per byte).
  static constexpr ScaleMode kScaleMode = ScaleMode::kPow2;
  static constexpr int kBlockOut = 64;  // Output rows per pass (even).
  static constexpr int kTileOut = 8;    // GEMM: weight rows held on chip.
  static constexpr int kUnroll = 8;     // Multipliers per dot product.
  static constexpr int kChunkLog2 = 8;  // GEMV int4: inputs per packed sum.
  using out_t = ap_int<8>;              // Output code (any signed ap_int).
};

// Element type and row count of a config's weight array.
template <class Config>
using QuantLinearWeight =
    std::conditional_t<Config::kWeightBits == 8, ap_int<8>, ap_uint<8>>;
template <class Config>
constexpr int QuantLinearWeightRows() {
  return Config::kWeightBits == 8 ? Config::kOut : Config::kOut / 2;
}

namespace quant_linear_internal {

// Sum of a dot product (< 2^27 for kIn <= 4096) and a 32-bit bias: exact.
using sum_t = ap_int<34>;

template <class Config>
struct BlockGemm {
  static constexpr int kTokens = Config::kTokens;
  static constexpr int kIn = Config::kIn;
  static constexpr int kOut = Config::kBlockOut;
  static constexpr int kTileOut = Config::kTileOut;
  static constexpr int kUnroll = Config::kUnroll;
  static constexpr int kChunkLog2 = Config::kChunkLog2;
  using acc_t = ap_int<32>;
};

template <class acc, class out, class shift>
struct RequantizeTypes {
  using acc_t = acc;
  using output_t = out;
  using shift_t = shift;
};

}  // namespace quant_linear_internal

// The output stage for one channel: bias added, scale applied, rounded and
// saturated into out_t.
template <class Config>
typename Config::out_t QuantLinearOutput(const ap_int<32>& acc,
                                         const linear_bias_t& bias,
                                         const linear_shift_t& shift,
                                         const linear_mult_t& mult) {
  using quant_linear_internal::sum_t;
  const sum_t sum = sum_t(acc) + sum_t(bias);
  if constexpr (Config::kScaleMode == ScaleMode::kPow2) {
    return RequantizeOne<quant_linear_internal::RequantizeTypes<
        sum_t, typename Config::out_t, linear_shift_t>>(sum, shift);
  } else {
    using product_t = ap_int<sum_t::width + linear_mult_t::width>;
    const product_t product = sum * mult;  // Exact.
    return RequantizeOne<quant_linear_internal::RequantizeTypes<
        product_t, typename Config::out_t, linear_shift_t>>(product, shift);
  }
}

// y = requantize(x W^T + bias) as above. mult is read only for kFixed.
template <class Config>
void QuantLinear(const ap_int<8> x[Config::kTokens][Config::kIn],
                 const QuantLinearWeight<Config>
                     w[QuantLinearWeightRows<Config>()][Config::kIn],
                 const linear_bias_t bias[Config::kOut],
                 const linear_shift_t shift[Config::kOut],
                 const linear_mult_t mult[Config::kOut],
                 typename Config::out_t y[Config::kTokens][Config::kOut]) {
  static_assert(Config::kWeightBits == 8 || Config::kWeightBits == 4,
                "weights are int8 or int4");
  static_assert(
      Config::kOut % Config::kBlockOut == 0 && Config::kBlockOut % 2 == 0,
      "kOut must be a multiple of an even kBlockOut");
  static_assert(Config::kIn <= 4096, "sum_t assumes at most 4096 inputs");
  using Gemm = quant_linear_internal::BlockGemm<Config>;
  constexpr int kB = Config::kBlockOut;

block_loop:
  for (int o0 = 0; o0 < Config::kOut; o0 += kB) {
    ap_int<32> acc[Config::kTokens][kB];
    if constexpr (Config::kWeightBits == 8) {
      GemmW8A8<Gemm>(x, &w[o0], acc);
    } else if constexpr (Config::kTokens == 1) {
      GemvW4A8<Gemm>(x[0], &w[o0 / 2], acc[0]);
    } else {
      GemmW4A8<Gemm>(x, &w[o0 / 2], acc);
    }
  output_token_loop:
    for (int t = 0; t < Config::kTokens; ++t) {
    output_row_loop:
      for (int r = 0; r < kB; ++r) {
#pragma HLS PIPELINE II = 1
        const int o = o0 + r;
        y[t][o] =
            QuantLinearOutput<Config>(acc[t][r], bias[o], shift[o], mult[o]);
      }
    }
  }
}

}  // namespace fxserve::kernels

#endif  // FXSERVE_KERNELS_LINALG_QUANT_LINEAR_H_
