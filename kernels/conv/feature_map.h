// Feature maps between the detector's kernels (kernels/detect/NUMERICS.md):
// NHWC maps stream as pixels in raster order (row by row, left to right),
// one stream element holding a pixel's channel codes, and every int8 code is
// Q(8, F) with F a run-time register. The registers are per channel (F[c]):
// the quantizer gives each channel its own binary point, which costs nothing
// in hardware since the shifts are per channel anyway, and a per-tensor F
// is the case of equal entries. Also the contract's requant_W.
#ifndef FXSERVE_KERNELS_CONV_FEATURE_MAP_H_
#define FXSERVE_KERNELS_CONV_FEATURE_MAP_H_

#include <ap_int.h>
#include <hls_stream.h>

#include "kernels/linalg/quant_linear.h"
#include "kernels/quant/requantize.h"

namespace fxserve::kernels {

// One pixel of a feature map: its kChannels codes, channel c at c[c].
template <class T, int kChannels>
struct Pixel {
  T c[kChannels];
};

template <class T, int kChannels>
using PixelStream = hls::stream<Pixel<T, kChannels>>;

using act8_t = ap_int<8>;      // An activation code, Q(8, F).
using pre16_t = ap_int<16>;    // A 16-bit pre-activation, Q(16, P) or Q(16, 8).
using frac_reg_t = ap_int<6>;  // A fraction-bit register: F(t) or P.
using conv_bias_t = linear_bias_t;    // int32 at the accumulator's scale.
using conv_shift_t = linear_shift_t;  // Per-channel shift, -64 .. 63.
using conv_mult_t = linear_mult_t;    // Per-channel 16-bit multiplier.

// The contract's range of F(t) (the quantizer's search interval); widths
// of aligned sums below are sized for it, so registers must stay inside.
inline constexpr int kFracMin = -8;
inline constexpr int kFracMax = 16;
inline constexpr int kFracSpan = kFracMax - kFracMin;  // Largest F difference.

namespace feature_map_internal {

template <class Acc, class Out>
struct RequantTypes {
  using acc_t = Acc;
  using output_t = Out;
  using shift_t = conv_shift_t;
};

}  // namespace feature_map_internal

// requant_W(c, s) with W = Out's width: sat_W(rne(c / 2^s)) for s > 0,
// sat_W(c * 2^-s) for s <= 0. c is any signed ap_int, taken exactly.
template <class Out, class Acc>
Out Requant(const Acc& c, const conv_shift_t& s) {
#pragma HLS INLINE
  return RequantizeOne<feature_map_internal::RequantTypes<Acc, Out>>(c, s);
}

}  // namespace fxserve::kernels

#endif  // FXSERVE_KERNELS_CONV_FEATURE_MAP_H_
