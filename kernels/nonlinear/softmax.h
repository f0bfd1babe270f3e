// Softmax in integer arithmetic: subtract the row maximum, turn
// e^(x - max) into 2^-(n + f) with a fixed-point log2(e), take 2^-f from a
// compile-time table and apply 2^-n as a shift, sum exactly, and multiply by
// one reciprocal of the sum per row. Every step's width and rounding is fixed
// by the config, so the result depends only on the inputs. The exact
// definition is in kernels/nonlinear/README.md.
#ifndef FXSERVE_KERNELS_NONLINEAR_SOFTMAX_H_
#define FXSERVE_KERNELS_NONLINEAR_SOFTMAX_H_

#include <ap_fixed.h>
#include <ap_int.h>

#include <array>

#include "kernels/common/constexpr_math.h"

namespace fxserve::kernels {

// Example configuration; attention layers define their own.
struct SoftmaxConfigExample {
  using input_t = ap_fixed<16, 6>;  // Scores (already scaled by 1/sqrt(d)).
  using output_t = ap_ufixed<16, 1, AP_RND_CONV, AP_SAT>;  // Probabilities.
  static constexpr int kN = 256;          // Longest row (context length).
  static constexpr int kExpFracBits = 8;  // Bits of f: table has 2^8 entries.
  static constexpr int kExpBits = 18;  // Bits of each 2^-f entry, in (0.5, 1].
  static constexpr int kLog2eBits = 20;  // Fractional bits of log2(e).
  static constexpr int kRecipBits = 24;  // Fractional bits of 1 / sum.
};

// 2^(-k / 2^kFracBits) for k = 0 .. 2^kFracBits - 1, raw with kBits - 1
// fractional bits (round to nearest): entries in (0.5, 1].
template <int kFracBits, int kBits>
constexpr std::array<long long, (1 << kFracBits)> MakeExp2Table() {
  std::array<long long, (1 << kFracBits)> table{};
  for (int k = 0; k < (1 << kFracBits); ++k) {
    table[k] = cmath::RoundToInt(cmath::Exp2(-k / cmath::Pow2(kFracBits)) *
                                 cmath::Pow2(kBits - 1));
  }
  return table;
}

// e^(-z) for z >= 0 given as an unsigned fixed-point value: 2^-(z log2 e).
template <class Config, class Z>
ap_ufixed<Config::kExpBits, 1> ExpNegative(const Z& z) {
  constexpr int kF = Config::kExpFracBits;
  static constexpr std::array<long long, (1 << kF)> kTable =
      MakeExp2Table<kF, Config::kExpBits>();
  constexpr long long kLog2eRaw =
      cmath::RoundToInt(cmath::kLog2E * cmath::Pow2(Config::kLog2eBits));
  ap_ufixed<Config::kLog2eBits + 1, 1> log2e;
  log2e.range(Config::kLog2eBits, 0) = kLog2eRaw;
  // w = z * log2(e), rounded to kF fractional bits (ties to even); z < 2^I
  // so w < 2^(I+1). Split w = n + f/2^kF.
  constexpr int kWInt = Z::iwidth + 1;
  const ap_ufixed<kWInt + kF, kWInt, AP_RND_CONV, AP_SAT> w = z * log2e;
  const ap_uint<kF> f = w.range(kF - 1, 0);
  const ap_uint<kWInt> n = w.range(kWInt + kF - 1, kF);
  ap_ufixed<Config::kExpBits, 1> e;
  e.range(Config::kExpBits - 1, 0) = kTable[f.to_uint()];
  return e >> n.to_uint();  // Shifts past the width give 0.
}

// out[i] = softmax(in[0..length))[i] for i < length; out[i] = 0 beyond.
// 1 <= length <= Config::kN (a causal attention row has length pos + 1).
template <class Config>
void Softmax(const typename Config::input_t in[Config::kN],
             typename Config::output_t out[Config::kN], int length) {
  using input_t = typename Config::input_t;
  // Non-negative distance from the maximum, exact.
  using dist_t = ap_ufixed<input_t::width + 1, input_t::iwidth + 1>;
  using exp_t = ap_ufixed<Config::kExpBits, 1>;
  // At most 65535 terms, each at most 1: the sum is below 2^16, exactly.
  static_assert(Config::kN < (1 << 16), "rows are at most 65535 long");
  using sum_t = ap_ufixed<Config::kExpBits - 1 + 16, 16>;
  using recip_t = ap_ufixed<Config::kRecipBits + 1, 1>;

  input_t row_max = in[0];
max_loop:
  for (int i = 1; i < Config::kN; ++i) {
#pragma HLS PIPELINE II = 1
    if (i < length && in[i] > row_max) row_max = in[i];
  }

  exp_t exps[Config::kN];
  sum_t sum = 0;
exp_loop:
  for (int i = 0; i < Config::kN; ++i) {
#pragma HLS PIPELINE II = 1
    if (i < length) {
      const dist_t z = row_max - in[i];
      exps[i] = ExpNegative<Config>(z);
      sum += exps[i];  // Exact: sum_t has room for kN values below 2.
    }
  }

  // The maximum contributes exactly 1, so sum >= 1 and 1 / sum <= 1.
  const ap_ufixed<Config::kRecipBits + 2, 2> one = 1;
  const recip_t recip = one / sum;  // Truncated to kRecipBits fraction bits.
normalize_loop:
  for (int i = 0; i < Config::kN; ++i) {
#pragma HLS PIPELINE II = 1
    out[i] = i < length ? typename Config::output_t(exps[i] * recip)
                        : typename Config::output_t(0);
  }
}

}  // namespace fxserve::kernels

#endif  // FXSERVE_KERNELS_NONLINEAR_SOFTMAX_H_
