// W4A8 matrix-matrix product (prefill): Y[t][o] = sum_i X[t][i] * W[o][i]
// for int8 activations and int4 weights stored two per byte, in the layout
// of GemvW4A8 (w[p][i]: W[2p][i] in the low nibble, W[2p+1][i] in the high
// one). Each weight tile is unpacked to int8 once while it is loaded on
// chip, then reused by every token exactly as in GemmW8A8; int4 values are
// int8 values, so Y is the plain integer product bit for bit, equal to
// what GemvW4A8 gives token by token.
#ifndef FXSERVE_KERNELS_LINALG_GEMM_W4A8_H_
#define FXSERVE_KERNELS_LINALG_GEMM_W4A8_H_

#include <ap_int.h>

#include "kernels/linalg/gemm_w8a8.h"

namespace fxserve::kernels {

namespace gemm_w4a8_internal {

// Weight source over packed int4 pairs: weight(o, i) = W[o][i].
template <int kIn>
struct PackedInt4Rows {
  const ap_uint<8> (*w)[kIn];
  ap_int<8> operator()(int o, int i) const {
    const ap_uint<8> pair = w[o >> 1][i];
    const ap_int<4> value =
        (o & 1) ? ap_int<4>(pair.range(7, 4)) : ap_int<4>(pair.range(3, 0));
    return value;
  }
};

}  // namespace gemm_w4a8_internal

// Y[t][o] = sum_i x[t][i] * W[o][i]; Config as for GemmW8A8, with kOut and
// kTileOut even.
template <class Config>
void GemmW4A8(const ap_int<8> x[Config::kTokens][Config::kIn],
              const ap_uint<8> w[Config::kOut / 2][Config::kIn],
              typename Config::acc_t y[Config::kTokens][Config::kOut]) {
  static_assert(Config::kOut % 2 == 0 && Config::kTileOut % 2 == 0,
                "int4 rows go in pairs");
  using acc_t = typename Config::acc_t;
  gemm_w8a8_internal::Gemm<Config>(
      x, gemm_w4a8_internal::PackedInt4Rows<Config::kIn>{w},
      gemm_w8a8_internal::NoBias<acc_t>(), y);
}

}  // namespace fxserve::kernels

#endif  // FXSERVE_KERNELS_LINALG_GEMM_W4A8_H_
