// Feature maps between the detector's kernels (kernels/detect/NUMERICS.md):
// NHWC maps stream as pixels in raster order (row by row, left to right),
// one stream element holding a pixel's channel codes, and every 8-bit code
// is int8 Q(8, F), or uint8 UQ(8, F) for the tensors the quantizer lists as
// unsigned (non-negative by construction), with F a run-time register. The
// registers are per channel (F[c]): the quantizer gives each channel its
// own binary point, which costs nothing in hardware since the shifts are
// per channel anyway, and a per-tensor F is the case of equal entries.
// Also the contract's requant_W into either range, and the optional code
// types of a unit's config (act8_t where a config names none).
#ifndef FXSERVE_KERNELS_CONV_FEATURE_MAP_H_
#define FXSERVE_KERNELS_CONV_FEATURE_MAP_H_

#include <ap_int.h>
#include <hls_stream.h>

#include <type_traits>

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
using uact8_t = ap_uint<8>;    // An unsigned tensor's code, UQ(8, F).
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

// The range of a code type: ap_int<W> holds -2^(W-1) .. 2^(W-1) - 1,
// ap_uint<W> 0 .. 2^W - 1; signed_t is the narrowest ap_int holding all.
template <class T>
struct CodeTraits;
template <int W>
struct CodeTraits<ap_int<W>> {
  static constexpr bool kUnsigned = false;
  static constexpr long long kMin = -(1LL << (W - 1));
  static constexpr long long kMax = (1LL << (W - 1)) - 1;
  using signed_t = ap_int<W>;
};
template <int W>
struct CodeTraits<ap_uint<W>> {
  static constexpr bool kUnsigned = true;
  static constexpr long long kMin = 0;
  static constexpr long long kMax = (1LL << W) - 1;
  using signed_t = ap_int<W + 1>;
};

namespace feature_map_internal {

template <class Acc, class Out>
struct RequantTypes {
  using acc_t = Acc;
  using output_t = Out;
  using shift_t = conv_shift_t;
};

// A config's optional code types (see the unit headers).
template <class Config, class = void>
struct InOf {
  using type = act8_t;
};
template <class Config>
struct InOf<Config, std::void_t<typename Config::in_t>> {
  using type = typename Config::in_t;
};
template <class Config, class = void>
struct OutOf {
  using type = act8_t;
};
template <class Config>
struct OutOf<Config, std::void_t<typename Config::out_t>> {
  using type = typename Config::out_t;
};
template <class Config, class = void>
struct AOf {
  using type = act8_t;
};
template <class Config>
struct AOf<Config, std::void_t<typename Config::a_t>> {
  using type = typename Config::a_t;
};
template <class Config, class = void>
struct BOf {
  using type = act8_t;
};
template <class Config>
struct BOf<Config, std::void_t<typename Config::b_t>> {
  using type = typename Config::b_t;
};

}  // namespace feature_map_internal

// A unit's 8-bit code types: its config's in_t, out_t (a two-input unit:
// a_t, b_t), each act8_t (int8) or uact8_t (uint8); act8_t when absent.
template <class Config>
using InCode = typename feature_map_internal::InOf<Config>::type;
template <class Config>
using OutCode = typename feature_map_internal::OutOf<Config>::type;
template <class Config>
using ACode = typename feature_map_internal::AOf<Config>::type;
template <class Config>
using BCode = typename feature_map_internal::BOf<Config>::type;

// v, a value of Out's signed_t, into Out: unchanged for a signed Out, the
// negative ones to 0 for an unsigned one (its saturation at the bottom).
template <class Out>
Out FromSignedCode(const typename CodeTraits<Out>::signed_t& v) {
#pragma HLS INLINE
  if constexpr (CodeTraits<Out>::kUnsigned) {
    return v < 0 ? Out(0) : Out(v);
  } else {
    return v;
  }
}

// requant_W(c, s) into Out's range: sat(rne(c / 2^s)) for s > 0,
// sat(c * 2^-s) for s <= 0, with sat the range of Out (ap_int<W>: sat_W;
// ap_uint<W>: 0 .. 2^W - 1). c is any ap_int or ap_uint, taken exactly.
template <class Out, class Acc>
Out Requant(const Acc& c, const conv_shift_t& s) {
#pragma HLS INLINE
  // Saturating into signed_t first and then at 0 is saturating into Out.
  using Signed = typename CodeTraits<Out>::signed_t;
  return FromSignedCode<Out>(
      RequantizeOne<feature_map_internal::RequantTypes<Acc, Signed>>(c, s));
}

}  // namespace fxserve::kernels

#endif  // FXSERVE_KERNELS_CONV_FEATURE_MAP_H_
