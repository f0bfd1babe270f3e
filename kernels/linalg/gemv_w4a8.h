// W4A8 matrix-vector product (decode): y = W x with int8 activations and
// int4 weights, two weights per multiply. For output rows o and o+1 the
// multiplier sees x[i] * (w[o][i] + w[o+1][i] * 2^S); the two products sit
// in separate bit fields of the one result, and summing such results over i
// keeps them separate as long as the low field cannot overflow. At the end
// of a chunk the low field is read as a signed S-bit number (row o) and the
// rest, after removing it, is row o+1. On a DSP48E2 (27 x 18 multiplier)
// this halves the DSPs per weight; the split is exact, so y equals the plain
// integer product bit for bit.
#ifndef FXSERVE_KERNELS_LINALG_GEMV_W4A8_H_
#define FXSERVE_KERNELS_LINALG_GEMV_W4A8_H_

#include <ap_int.h>

namespace fxserve::kernels {

// Example configuration; layers define their own.
struct GemvW4A8ConfigExample {
  static constexpr int kIn = 768;  // Input length (any multiple of kChunk).
  static constexpr int kOut = 64;  // Output rows (even: rows go in pairs).
  static constexpr int kChunkLog2 = 8;  // Inputs summed per packed field.
  static constexpr int kUnroll = 4;     // Row pairs computed in parallel.
  using acc_t = ap_int<32>;             // Output accumulator.
};

// Bits of the low field: |sum of 2^kChunkLog2 products| <= 2^(11+kChunkLog2)
// (int8 x int4 <= 1024), plus a sign bit.
template <class Config>
constexpr int PackShift() {
  return 12 + Config::kChunkLog2;
}

// One packed multiplier operand: w_low + w_high * 2^S, exact. It needs
// S + 5 bits: w_high = -8 with a negative w_low reaches -2^(S+3) - 8.
template <class Config>
ap_int<PackShift<Config>() + 5> PackWeights(ap_int<4> w_low, ap_int<4> w_high) {
  using operand_t = ap_int<PackShift<Config>() + 5>;
  return (operand_t(w_high) << PackShift<Config>()) + w_low;
}

// y[o] = sum_i x[i] * W[o][i]. w[p][i] holds W[2p][i] in its low nibble and
// W[2p+1][i] in its high nibble (two's complement int4 each).
template <class Config>
void GemvW4A8(const ap_int<8> x[Config::kIn],
              const ap_uint<8> w[Config::kOut / 2][Config::kIn],
              typename Config::acc_t y[Config::kOut]) {
  constexpr int kS = PackShift<Config>();
  constexpr int kChunk = 1 << Config::kChunkLog2;
  static_assert(Config::kOut % 2 == 0, "rows are processed in pairs");
  static_assert(Config::kIn % kChunk == 0,
                "kIn must be a multiple of 2^kChunkLog2");
  static_assert(kS + 5 <= 27,
                "packed operand must fit a DSP48E2 input: kChunkLog2 <= 10");
  // Packed sum: the high field (products of S + 5 and 8 bits) above S low
  // bits, with room for 2^kChunkLog2 terms.
  using packed_acc_t = ap_int<kS + 5 + 8 + Config::kChunkLog2 + 1>;

pair_loop:
  for (int p = 0; p < Config::kOut / 2; ++p) {
#pragma HLS UNROLL factor = Config::kUnroll
    typename Config::acc_t low_total = 0, high_total = 0;
  chunk_loop:
    for (int c = 0; c < Config::kIn; c += kChunk) {
      packed_acc_t packed = 0;
    input_loop:
      for (int i = c; i < c + kChunk; ++i) {
#pragma HLS PIPELINE II = 1
        const ap_int<4> w_low = w[p][i].range(3, 0);
        const ap_int<4> w_high = w[p][i].range(7, 4);
        // The one multiply: 8 bits x (S + 5) bits.
        packed += x[i] * PackWeights<Config>(w_low, w_high);
      }
      // Low field, read as signed S bits, is row 2p's chunk sum; what is
      // left is row 2p+1's, shifted up by S.
      const ap_int<kS> low = packed.range(kS - 1, 0);
      const packed_acc_t high = (packed - low) >> kS;
      low_total += low;
      high_total += high;
    }
    y[2 * p] = low_total;
    y[2 * p + 1] = high_total;
  }
}

}  // namespace fxserve::kernels

#endif  // FXSERVE_KERNELS_LINALG_GEMV_W4A8_H_
