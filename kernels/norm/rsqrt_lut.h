// Lookup table for 1/sqrt(m), m in [1, 4), the seed of LayerNorm's
// Newton-Raphson reciprocal square root. Built at compile time from the
// numerics spec (kernels/norm/README.md), so the HLS kernel, the CPU backend
// and the tests all read the very same constexpr table.
#ifndef FXSERVE_KERNELS_NORM_RSQRT_LUT_H_
#define FXSERVE_KERNELS_NORM_RSQRT_LUT_H_

#include <array>
#include <cstdint>

#include "kernels/common/constexpr_math.h"

namespace fxserve::kernels {

// Entries of a table indexed by the top kIndexBits bits of m (2 integer
// bits, kIndexBits - 2 fractional): indices below 2^(kIndexBits-2) would be
// m < 1, which never occurs, so the table starts at m = 1.
constexpr int RsqrtLutSize(int index_bits) { return 3 << (index_bits - 2); }

// Entry j covers m in [1 + j h, 1 + (j+1) h) with h = 2^(2-kIndexBits) and
// holds 1/sqrt(1 + (j + 1/2) h), the segment's midpoint, as an unsigned
// fixed-point raw value with kFracBits fractional bits, rounded to nearest
// (ties away from zero). Every entry lies in (0.5, 1).
template <int kIndexBits, int kFracBits>
constexpr std::array<uint32_t, RsqrtLutSize(kIndexBits)> MakeRsqrtLut() {
  static_assert(kIndexBits >= 2 && kIndexBits <= 16, "index bits in [2, 16]");
  static_assert(kFracBits >= 1 && kFracBits <= 30, "frac bits in [1, 30]");
  std::array<uint32_t, RsqrtLutSize(kIndexBits)> lut{};
  const double step = cmath::Pow2(2 - kIndexBits);
  const double scale = cmath::Pow2(kFracBits);
  // Compile-time only (a label is not allowed in a C++17 constexpr
  // function), so this loop is never synthesized.
  for (int j = 0; j < RsqrtLutSize(kIndexBits); ++j) {
    const double mid = 1.0 + (j + 0.5) * step;
    lut[j] = static_cast<uint32_t>(cmath::RoundToInt(scale / cmath::Sqrt(mid)));
  }
  return lut;
}

// The table itself: one instance per (index bits, fractional bits).
template <int kIndexBits, int kFracBits>
inline constexpr std::array<uint32_t, RsqrtLutSize(kIndexBits)> kRsqrtLut =
    MakeRsqrtLut<kIndexBits, kFracBits>();

}  // namespace fxserve::kernels

#endif  // FXSERVE_KERNELS_NORM_RSQRT_LUT_H_
