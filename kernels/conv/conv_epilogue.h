// A convolution's output stage (kernels/detect/NUMERICS.md, "Conv"): the
// exact accumulator plus bias, scaled by the channel's multiplier (fixed
// builds), rounded half to even and saturated, then the activation:
//   none:       y = requant_8(mul(sum), shift[o])
//   relu:       max(y, 0)
//   hard-swish: h = requant_16(mul(sum), shift[o]) as Q(16, P);
//               r = min(max(h + (3 << P), 0), 6 << P);
//               y = requant_8(h * r * 2730, 2P + 14 - F(y))
//   logits:     requant_16(mul(sum), shift[o]) as Q(16, 8)
// with shift[o] = F(x) + E_o - F(y) (none, relu), F(x) + E_o - P
// (hard-swish) or F(x) + E_o - 8 (logits), E_o = e_o (pow2) or 15 + e_o
// (fixed): the quantizer folds the channel's scale into the register. P
// and F(y) are output channel o's (feature_map.h: binary points are per
// channel). requant_8 is into the output tensor's range: int8, or 0 .. 255
// for a uint8 tensor (the code type Act).
#ifndef FXSERVE_KERNELS_CONV_CONV_EPILOGUE_H_
#define FXSERVE_KERNELS_CONV_CONV_EPILOGUE_H_

#include <ap_int.h>

#include <type_traits>

#include "kernels/conv/feature_map.h"
#include "kernels/linalg/quant_linear.h"

namespace fxserve::kernels {

enum class ConvEpilogue {
  kNone,       // int8.
  kRelu,       // int8, negative codes to 0.
  kHardSwish,  // int8, x * c * relu6(x + 3) on a 16-bit pre-activation.
  kLogits,     // A head output kept in 16 bits, Q(16, 8).
};

// The output code of an epilogue: int16 for logits, otherwise Act (int8
// act8_t or uint8 uact8_t, the output tensor's).
template <ConvEpilogue kEpilogue, class Act = act8_t>
using ConvEpilogueOut =
    std::conditional_t<kEpilogue == ConvEpilogue::kLogits, pre16_t, Act>;

// A conv config's output code: its out_t (feature_map.h's OutCode, act8_t
// when it names none) unless the epilogue is logits.
template <class Config>
using ConvOut = ConvEpilogueOut<Config::kEpilogue, OutCode<Config>>;

// Exact accumulator of a conv: every layer of the model stays below 2^31.
using conv_acc_t = ap_int<32>;

// Hard-swish's and hard-sigmoid's c = float16(1/6) = 2730 * 2^-14 exactly.
inline constexpr int kSixthCode = 2730;
inline constexpr int kSixthFrac = 14;
using relu6_t = ap_uint<15>;  // relu6(v + 3) at Q(., P): at most 6 << 12.

// min(max(v + (3 << P), 0), 6 << P) for v a Q(16, P) code, P in 0..12.
inline relu6_t Relu6Plus3(const pre16_t& v, const frac_reg_t& p) {
#pragma HLS INLINE
  const int pi = p.to_int();
  const ap_int<18> shifted = ap_int<18>(v) + (ap_int<18>(3) << pi);
  const ap_int<18> six = ap_int<18>(6) << pi;
  if (shifted < 0) return relu6_t(0);
  if (shifted > six) return relu6_t(six);
  return relu6_t(shifted);
}

// Hard-swish of h (Q(16, P)) into Q(8, F(y)) (UQ(8, F(y)) for an Act of
// uact8_t): h * r * 2730 is exact in 43 bits (|h r| < 2^30, 2730 < 2^12)
// and rounded once.
template <class Act = act8_t>
Act HardSwishOne(const pre16_t& h, const frac_reg_t& p, const frac_reg_t& f_y) {
#pragma HLS INLINE
  const relu6_t r = Relu6Plus3(h, p);
  const ap_int<43> product = h * r * ap_uint<12>(kSixthCode);
  const int shift = 2 * p.to_int() + kSixthFrac - f_y.to_int();
  return Requant<Act>(product, conv_shift_t(shift));
}

namespace conv_internal {

// quant_linear.h's output stage (sum = acc + bias, mul, requant) into Out.
template <ScaleMode kMode, class Out>
struct OutputStage {
  static constexpr ScaleMode kScaleMode = kMode;
  using out_t = Out;
};

}  // namespace conv_internal

// The output code of one channel, Act (int8 or uint8) unless logits. p
// and f_y (P and F(y)) are read only by kHardSwish, mult only by kFixed
// builds.
template <ConvEpilogue kEpilogue, ScaleMode kMode, class Act = act8_t>
ConvEpilogueOut<kEpilogue, Act> ConvEpilogueOne(
    const conv_acc_t& acc, const conv_bias_t& bias, const conv_shift_t& shift,
    const conv_mult_t& mult, const frac_reg_t& p, const frac_reg_t& f_y) {
#pragma HLS INLINE
  using conv_internal::OutputStage;
  // requant_8 into Act's range: into its signed_t, then (uint8) at 0.
  using Signed = typename CodeTraits<Act>::signed_t;
  if constexpr (kEpilogue == ConvEpilogue::kNone) {
    return FromSignedCode<Act>(
        QuantLinearOutput<OutputStage<kMode, Signed>>(acc, bias, shift, mult));
  } else if constexpr (kEpilogue == ConvEpilogue::kRelu) {
    const Signed y =
        QuantLinearOutput<OutputStage<kMode, Signed>>(acc, bias, shift, mult);
    return y < 0 ? Act(0) : Act(y);
  } else if constexpr (kEpilogue == ConvEpilogue::kHardSwish) {
    const pre16_t h =
        QuantLinearOutput<OutputStage<kMode, pre16_t>>(acc, bias, shift, mult);
    return HardSwishOne<Act>(h, p, f_y);
  } else {
    return QuantLinearOutput<OutputStage<kMode, pre16_t>>(acc, bias, shift,
                                                          mult);
  }
}

}  // namespace fxserve::kernels

#endif  // FXSERVE_KERNELS_CONV_CONV_EPILOGUE_H_
