// W8A8 matrix-matrix product (prefill): Y[t][o] = sum_i X[t][i] * W[o][i]
// (+ bias[o]) for int8 activations X (kTokens x kIn) and int8 weights W
// (kOut x kIn). The output rows go in tiles of kTileOut: a tile's weights
// are read from W once into a partitioned local buffer and then reused by
// every token, so W is streamed once per call instead of once per token as
// with repeated GEMVs. The dot products are unrolled by kUnroll.
//
// Exactness: each product keeps its 16 bits; the sum starts from bias[o]
// (or 0) and every add is in Config::acc_t, which must hold any bias-free
// dot product (checked at compile time). With an ap_int acc_t, which wraps,
// y is therefore the exact integer bias[o] + sum modulo 2^width: equal to
// the plain integer result whenever that fits acc_t.
#ifndef FXSERVE_KERNELS_LINALG_GEMM_W8A8_H_
#define FXSERVE_KERNELS_LINALG_GEMM_W8A8_H_

#include <ap_int.h>

namespace fxserve::kernels {

// Example configuration (GPT-2 small's QKV projection); layers define their
// own.
struct GemmW8A8ConfigExample {
  static constexpr int kTokens = 16;  // Rows of X and Y (prompt tokens).
  static constexpr int kIn = 768;     // Inputs, a multiple of kUnroll.
  static constexpr int kOut = 2304;   // Outputs, a multiple of kTileOut.
  static constexpr int kTileOut = 8;  // Weight rows held on chip at once.
  static constexpr int kUnroll = 8;   // Multipliers per dot product.
  using acc_t = ap_int<32>;           // Accumulator, bias and output.
};

// Signed bits that hold any sum of n int8 x int8 products: products lie in
// [-2^14 + 128, 2^14], so sums in [-n * 2^14, n * 2^14], and a signed B-bit
// number holds that iff 2^(B-1) > n * 2^14.
constexpr int GemmW8A8SumBits(int n) {
  int bits = 0;
  while ((1LL << bits) <= n) ++bits;  // Smallest bits with 2^bits > n.
  return 14 + bits + 1;
}

namespace gemm_w8a8_internal {

// Stands in for the bias array when there is none: every entry is 0, and
// no memory is read.
template <class acc_t>
struct NoBias {
  acc_t operator[](int) const { return acc_t(0); }
};

// Weight source of int8 rows: weight(o, i) = w[o][i].
template <int kIn>
struct Int8Rows {
  const ap_int<8> (*w)[kIn];
  ap_int<8> operator()(int o, int i) const { return w[o][i]; }
};

// The one implementation; Weights gives weight(o, i) as int8 (Int8Rows or
// another layout, e.g. packed int4), Bias is the bias array or NoBias.
template <class Config, class Weights, class Bias>
void Gemm(const ap_int<8> x[Config::kTokens][Config::kIn],
          const Weights& weight, const Bias& bias,
          typename Config::acc_t y[Config::kTokens][Config::kOut]) {
  using acc_t = typename Config::acc_t;
  static_assert(Config::kOut % Config::kTileOut == 0,
                "kOut must be a multiple of kTileOut");
  static_assert(Config::kIn % Config::kUnroll == 0,
                "kIn must be a multiple of kUnroll");
  static_assert(acc_t::width >= GemmW8A8SumBits(Config::kIn),
                "acc_t must hold a dot product of kIn int8 x int8 terms");

  // One tile of weight rows, split so that kUnroll consecutive inputs of a
  // row are read in the same cycle.
  ap_int<8> w_tile[Config::kTileOut][Config::kIn];
#pragma HLS ARRAY_PARTITION variable = w_tile type = cyclic factor = \
    Config::kUnroll dim = 2
  // The current token's activations, split the same way.
  ap_int<8> x_row[Config::kIn];
#pragma HLS ARRAY_PARTITION variable = x_row type = cyclic factor = \
    Config::kUnroll dim = 1

tile_loop:
  for (int tile = 0; tile < Config::kOut; tile += Config::kTileOut) {
  load_row_loop:
    for (int r = 0; r < Config::kTileOut; ++r) {
    load_input_loop:
      for (int i = 0; i < Config::kIn; ++i) {
#pragma HLS PIPELINE II = 1
        w_tile[r][i] = weight(tile + r, i);
      }
    }
  token_loop:
    for (int t = 0; t < Config::kTokens; ++t) {
    copy_token_loop:
      for (int i = 0; i < Config::kIn; ++i) {
#pragma HLS PIPELINE II = 1
        x_row[i] = x[t][i];
      }
    row_loop:
      for (int r = 0; r < Config::kTileOut; ++r) {
        acc_t sum = bias[tile + r];
      dot_loop:
        for (int i = 0; i < Config::kIn; ++i) {
#pragma HLS PIPELINE II = 1
#pragma HLS UNROLL factor = Config::kUnroll
          // 8 x 8 -> 16-bit product, exact; only the add is in acc_t.
          sum += x_row[i] * w_tile[r][i];
        }
        y[t][tile + r] = sum;
      }
    }
  }
}

}  // namespace gemm_w8a8_internal

// Y[t][o] = sum_i x[t][i] * w[o][i].
template <class Config>
void GemmW8A8(const ap_int<8> x[Config::kTokens][Config::kIn],
              const ap_int<8> w[Config::kOut][Config::kIn],
              typename Config::acc_t y[Config::kTokens][Config::kOut]) {
  using acc_t = typename Config::acc_t;
  gemm_w8a8_internal::Gemm<Config>(x,
                                   gemm_w8a8_internal::Int8Rows<Config::kIn>{w},
                                   gemm_w8a8_internal::NoBias<acc_t>(), y);
}

// Y[t][o] = bias[o] + sum_i x[t][i] * w[o][i].
template <class Config>
void GemmW8A8(const ap_int<8> x[Config::kTokens][Config::kIn],
              const ap_int<8> w[Config::kOut][Config::kIn],
              const typename Config::acc_t (&bias)[Config::kOut],
              typename Config::acc_t y[Config::kTokens][Config::kOut]) {
  gemm_w8a8_internal::Gemm<Config>(
      x, gemm_w8a8_internal::Int8Rows<Config::kIn>{w}, bias, y);
}

}  // namespace fxserve::kernels

#endif  // FXSERVE_KERNELS_LINALG_GEMM_W8A8_H_
