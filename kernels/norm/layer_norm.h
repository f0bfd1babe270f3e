// LayerNorm over one vector of kN activations, integer only:
//   y_i = (x_i - mean) / sqrt(var + eps) * gamma_i + beta_i.
// Mean and variance are exact integer sums divided by the constant kN with
// a specified rounding; 1/sqrt comes from a compile-time LUT seed refined by
// one Newton-Raphson step, with the exponent handled by shifts. Every step,
// width and rounding is specified in kernels/norm/README.md; the CPU backend
// reproduces these bits exactly.
#ifndef FXSERVE_KERNELS_NORM_LAYER_NORM_H_
#define FXSERVE_KERNELS_NORM_LAYER_NORM_H_

#include <ap_fixed.h>
#include <ap_int.h>

#include <cstdint>

#include "kernels/common/constexpr_math.h"
#include "kernels/norm/rsqrt_lut.h"

namespace fxserve::kernels {

// Example config: GPT-2 (d_model 768) with a 16-bit residual stream.
struct LayerNormConfigGpt2 {
  using input_t = ap_fixed<16, 6>;  // Activation x_i; its modes are unused.
  using gamma_t = ap_fixed<16, 4>;  // Per-channel scale gamma_i.
  using beta_t = ap_fixed<16, 4>;   // Per-channel shift beta_i.
  using norm_t = ap_fixed<24, 6, AP_RND_CONV, AP_SAT>;    // z_i; its Q/O apply.
  using output_t = ap_fixed<16, 6, AP_RND_CONV, AP_SAT>;  // y_i; Q/O apply.
  static constexpr int kN = 768;             // Elements per vector (any >= 1).
  static constexpr int kGuardBits = 12;      // Extra fraction bits of mean/d_i.
  static constexpr int kRsqrtLutBits = 10;   // LUT index = top bits of m.
  static constexpr int kRsqrtFracBits = 22;  // Fraction bits of 1/sqrt(m).
  static constexpr double kEpsilon = 1e-5;   // Rounded at compile time.
  static constexpr int kUnroll = 4;          // Elements per clock per pass.
};

namespace layer_norm_internal {

// Smallest b with 2^b >= n.
constexpr int CeilLog2(long long n) {
  int b = 0;
  while ((1LL << b) < n) ++b;
  return b;
}

// Widths and types derived from a config (see README.md, "Types").
template <class Config>
struct Derived {
  static constexpr int kInW = Config::input_t::width;
  static constexpr int kInF = Config::input_t::width - Config::input_t::iwidth;
  static constexpr int kG = Config::kGuardBits;
  static constexpr int kLogN = CeilLog2(Config::kN);
  static constexpr int kSumW = kInW + kLogN;        // Sum of raw x_i.
  static constexpr int kDW = kInW + kG + 1;         // Mean and d_i, raw.
  static constexpr int kSqW = 2 * (kInW + kG);      // d_i^2 and the variance.
  static constexpr int kSsqW = kSqW + kLogN;        // Sum of d_i^2.
  static constexpr int kVarW = kSqW + 1;            // var + eps.
  static constexpr int kMaxHalf = (kVarW - 1) / 2;  // Largest exponent shift.
  static constexpr int kFy = Config::kRsqrtFracBits;
  static constexpr int kFm = kFy + 2;  // Fraction bits of the mantissa m.
  static constexpr int kL = Config::kRsqrtLutBits;
  // eps at the variance's LSB 2^-2(F+G), nearest (ties away from zero).
  static constexpr long long kEpsRaw =
      cmath::RoundToInt(Config::kEpsilon * cmath::Pow2(2 * (kInF + kG)));

  static_assert(Config::kN >= 1, "kN must be positive");
  static_assert(Config::kUnroll >= 1 && Config::kN % Config::kUnroll == 0,
                "kN must be a multiple of kUnroll");
  static_assert(kG >= 0, "kGuardBits must be >= 0");
  static_assert(kL >= 2 && kL <= kFm + 2, "kRsqrtLutBits out of range");
  static_assert(2 * (kInF + kG) <= 60, "variance LSB too fine for kEpsRaw");
  static_assert(kEpsRaw >= 1,
                "eps rounds to 0 at the variance LSB: raise kGuardBits");
  static_assert(kSqW >= 63 || kEpsRaw < (1LL << kSqW), "eps too large");

  using raw_t = ap_int<kInW>;          // x_i's raw code.
  using sum_t = ap_int<kSumW>;         // Sum of raw codes.
  using d_t = ap_int<kDW>;             // Mean and d_i at 2^-(F+G).
  using sq_t = ap_uint<kSqW>;          // d_i^2 and the variance.
  using ssq_t = ap_uint<kSsqW>;        // Sum of d_i^2.
  using var_t = ap_uint<kVarW>;        // var + eps.
  using m_t = ap_ufixed<kFm + 2, 2>;   // Mantissa m in [1, 4).
  using y0_t = ap_ufixed<kFy + 1, 1>;  // LUT seed 1/sqrt(m), (0.5, 1].
  using y_t = ap_ufixed<kFy + 2, 2, AP_RND_CONV>;  // Newton result.
  // d_i * y, with kMaxHalf spare fraction bits so that >> is exact.
  using zwide_t = ap_fixed<kDW + kFy + 2 + kMaxHalf, kDW + 2>;
};

// The raw code of x as a signed integer.
template <class Config>
typename Derived<Config>::raw_t RawOf(const typename Config::input_t& x) {
  typename Derived<Config>::raw_t r;
  r = x.range(Derived<Config>::kInW - 1, 0);
  return r;
}

// d = x * 2^G - mean, exact: x's raw code at the mean's binary point.
template <class Config>
typename Derived<Config>::d_t Centered(
    const typename Config::input_t& x,
    const typename Derived<Config>::d_t& mean) {
  typename Derived<Config>::d_t d = RawOf<Config>(x);
  d <<= Derived<Config>::kG;
  return d - mean;
}

// round-half-to-even(sum * 2^G / kN), as an integer at 2^-(F+G).
template <class Config>
typename Derived<Config>::d_t MeanOf(typename Derived<Config>::sum_t sum) {
  using D = Derived<Config>;
  ap_int<D::kSumW + D::kG + 1> num = sum;
  num <<= D::kG;
  ap_uint<D::kSumW + D::kG> mag;
  if (num < 0) {
    mag = -num;
  } else {
    mag = num;
  }
  const ap_uint<D::kLogN + 1> n = Config::kN;
  ap_uint<D::kSumW + D::kG> q = mag / n;
  const ap_uint<D::kLogN + 1> r = mag % n;
  ap_uint<D::kLogN + 2> twice_r = r;
  twice_r <<= 1;
  if (twice_r > n || (twice_r == n && q[0] == 1)) q = q + 1;
  typename D::d_t mean;
  if (num < 0) {
    mean = -q;
  } else {
    mean = q;
  }
  return mean;
}

}  // namespace layer_norm_internal

// y_i = (x_i - mean) * rstd * gamma_i + beta_i for i < kN, integer only.
template <class Config>
void LayerNorm(const typename Config::input_t in[Config::kN],
               const typename Config::gamma_t gamma[Config::kN],
               const typename Config::beta_t beta[Config::kN],
               typename Config::output_t out[Config::kN]) {
#pragma HLS ARRAY_PARTITION variable = in cyclic factor = Config::kUnroll
#pragma HLS ARRAY_PARTITION variable = gamma cyclic factor = Config::kUnroll
#pragma HLS ARRAY_PARTITION variable = beta cyclic factor = Config::kUnroll
#pragma HLS ARRAY_PARTITION variable = out cyclic factor = Config::kUnroll
  using D = layer_norm_internal::Derived<Config>;
  constexpr int kN = Config::kN;
  constexpr int kUnroll = Config::kUnroll;

  // Step 1: exact sum of the raw codes.
  typename D::sum_t sum = 0;
ln_sum:
  for (int i = 0; i < kN; i += kUnroll) {
#pragma HLS PIPELINE II = 1
  ln_sum_lanes:
    for (int u = 0; u < kUnroll; ++u) {
#pragma HLS UNROLL
      sum += layer_norm_internal::RawOf<Config>(in[i + u]);
    }
  }

  // Step 2: mean at 2^-(F+G), rounded half to even.
  const typename D::d_t mean = layer_norm_internal::MeanOf<Config>(sum);

  // Steps 3-4: exact sum of d_i^2, then var = floor(sum / kN).
  typename D::ssq_t ssq = 0;
ln_sumsq:
  for (int i = 0; i < kN; i += kUnroll) {
#pragma HLS PIPELINE II = 1
  ln_sumsq_lanes:
    for (int u = 0; u < kUnroll; ++u) {
#pragma HLS UNROLL
      const typename D::d_t d =
          layer_norm_internal::Centered<Config>(in[i + u], mean);
      const typename D::sq_t sq = d * d;
      ssq += sq;
    }
  }
  const ap_uint<D::kLogN + 1> n = kN;
  const typename D::sq_t var = ssq / n;

  // Step 5: v = var + eps = m * 4^(half) * 2^-2(F+G), m in [1, 4).
  typename D::var_t v = var;
  v = v + ap_uint<63>(D::kEpsRaw);
  const int lead = D::kVarW - 1 - v.countLeadingZeros();  // v >= 1.
  const int k = lead & ~1;                                // Even shift.
  const int half = k >> 1;
  ap_uint<D::kVarW + D::kFm> v_wide = v;
  ap_uint<D::kFm + 2> m_raw;
  if (k >= D::kFm) {
    m_raw = v_wide >> (k - D::kFm);  // Truncates the bits below 2^-Fm.
  } else {
    m_raw = v_wide << (D::kFm - k);  // Exact.
  }
  typename D::m_t m;
  m.range(D::kFm + 1, 0) = m_raw;

  // Seed from the LUT, indexed by m's top kL bits (m >= 1 skips 1/4).
  const ap_uint<D::kL> top = m_raw.range(D::kFm + 1, D::kFm + 2 - D::kL);
  const int index = static_cast<int>(top.to_uint()) - (1 << (D::kL - 2));
  const ap_uint<D::kFy + 1> y0_raw = kRsqrtLut<D::kL, D::kFy>[index];
  typename D::y0_t y0;
  y0.range(D::kFy, 0) = y0_raw;

  // One Newton-Raphson step, exact up to the final rounding into y_t:
  // y = y0 * (3 - m * y0^2) / 2.
  const auto m_y0_sq = m * y0 * y0;
  ap_fixed<decltype(m_y0_sq)::width + 3, 3> three_minus = 3;
  three_minus = three_minus - m_y0_sq;  // Exact: m * y0^2 is near 1.
  ap_fixed<decltype(m_y0_sq)::width + 4, 3> halved = three_minus;
  halved >>= 1;                           // Exact: one spare fraction bit.
  const typename D::y_t y = y0 * halved;  // Rounds half to even.

  // Step 6: z_i = d_i * y * 2^-half into norm_t, then y_i into output_t.
ln_output:
  for (int i = 0; i < kN; i += kUnroll) {
#pragma HLS PIPELINE II = 1
  ln_output_lanes:
    for (int u = 0; u < kUnroll; ++u) {
#pragma HLS UNROLL
      const typename D::d_t d =
          layer_norm_internal::Centered<Config>(in[i + u], mean);
      typename D::zwide_t z_wide = d * y;  // Exact.
      z_wide >>= half;                     // Exact: kMaxHalf spare bits.
      const typename Config::norm_t z = z_wide;
      out[i + u] = z * gamma[i + u] + beta[i + u];
    }
  }
}

}  // namespace fxserve::kernels

#endif  // FXSERVE_KERNELS_NORM_LAYER_NORM_H_
