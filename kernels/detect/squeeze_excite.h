// Squeeze-excite (kernels/detect/NUMERICS.md, "Squeeze-excite") on an
// H x W x C map x, Q(8, F(x)), every F and P that of the channel at hand:
//   1. m[c] = sat_8(rne(S[c] 2^a / (H W 2^b))), S[c] = sum over the map
//      (exact), a = max(F(m) - F(x), 0), b = max(F(x) - F(m), 0): one
//      rounding of the exact mean (a shift when H W is a power of two);
//   2. r = 1 x 1 conv of m, relu, int8 (shift_r[o] = F(m) + E_o - F(r));
//   3. z = 1 x 1 conv of r into 16 bits (conv_epilogue.h's logits stage,
//      shift_z[o] = F(r) + E_o - P, or - 8 for the sigmoid gate), then
//      hard-sigmoid g = min(max(z + (3 << P), 0), 6 << P) * 2730 at
//      2^-(P + 14), or sigmoid g = sigmoid(z) (sigmoid.h) at 2^-15;
//   4. y = requant_8(x * g[c], F(x) + G - F(y)), G = P + 14 or 15.
// x, m, r and y are each int8 or uint8 (the config's in_t, mean_t,
// squeeze_t, out_t); sat_8 and requant_8 are into the range of the tensor
// written (the quantizer makes r uint8, and x, m, y uint8 together).
#ifndef FXSERVE_KERNELS_DETECT_SQUEEZE_EXCITE_H_
#define FXSERVE_KERNELS_DETECT_SQUEEZE_EXCITE_H_

#include <ap_int.h>
#include <hls_stream.h>

#include <type_traits>

#include "kernels/conv/conv_epilogue.h"
#include "kernels/conv/feature_map.h"
#include "kernels/conv/pointwise_conv.h"
#include "kernels/detect/sigmoid.h"

namespace fxserve::kernels::detect {

enum class SeGate {
  kHardSigmoid,  // Backbone: c * relu6(z + 3), z at Q(16, P).
  kSigmoid,      // Head: the sigmoid table, z at Q(16, 8).
};

// Example configuration; layers define their own.
struct SqueezeExciteConfigExample {
  using in_t = act8_t;         // Optional (act8_t): x, act8_t or uact8_t.
  using mean_t = act8_t;       // Optional (act8_t): m.
  using squeeze_t = uact8_t;   // Optional (act8_t): r, the relu'd reduction.
  using out_t = act8_t;        // Optional (act8_t): y.
  using weight_t = ap_int<8>;  // Both 1 x 1 convs: ap_int<8> or ap_int<4>.
  static constexpr int kHeight = 64;
  static constexpr int kWidth = 64;
  static constexpr int kChannels = 120;        // A multiple of kPe.
  static constexpr int kSqueezeChannels = 32;  // A multiple of kPe.
  static constexpr SeGate kGate = SeGate::kHardSigmoid;
  static constexpr ScaleMode kScaleMode = ScaleMode::kPow2;
  static constexpr int kPe = 8;  // Channels computed in parallel.
};

using se_gate_t = ap_uint<27>;  // g: at most (6 << 12) * 2730 < 2^27.

namespace se_internal {

template <class Config, class = void>
struct MeanOf {
  using type = act8_t;
};
template <class Config>
struct MeanOf<Config, std::void_t<typename Config::mean_t>> {
  using type = typename Config::mean_t;
};
template <class Config, class = void>
struct SqueezeOf {
  using type = act8_t;
};
template <class Config>
struct SqueezeOf<Config, std::void_t<typename Config::squeeze_t>> {
  using type = typename Config::squeeze_t;
};

}  // namespace se_internal

// A config's mean_t and squeeze_t, act8_t when absent (in_t and out_t:
// feature_map.h's InCode and OutCode).
template <class Config>
using SeMeanCode = typename se_internal::MeanOf<Config>::type;
template <class Config>
using SeSqueezeCode = typename se_internal::SqueezeOf<Config>::type;

// The two 1 x 1 convs' accumulations (pointwise_conv.h): reducing, C -> C',
// and expanding, C' -> C.
template <class Config>
struct SeReduceConvConfig {
  using in_t = SeMeanCode<Config>;
  using weight_t = typename Config::weight_t;
  static constexpr int kInChannels = Config::kChannels;
  static constexpr int kOutChannels = Config::kSqueezeChannels;
  static constexpr int kPe = Config::kPe;
};
template <class Config>
struct SeExpandConvConfig {
  using in_t = SeSqueezeCode<Config>;
  using weight_t = typename Config::weight_t;
  static constexpr int kInChannels = Config::kSqueezeChannels;
  static constexpr int kOutChannels = Config::kChannels;
  static constexpr int kPe = Config::kPe;
};

namespace se_internal {

constexpr bool IsPow2(int n) { return n > 0 && (n & (n - 1)) == 0; }
constexpr int Log2(int n) { return n <= 1 ? 0 : 1 + Log2(n / 2); }

}  // namespace se_internal

// Step 1 for one channel: the exact mean of kCount codes summing to sum,
// from Q(8, F(x)) into Q(8, F(m)) (Out = uact8_t: UQ(8, F(m))), rounded
// once (F in kFracMin..kFracMax).
template <int kCount, class Out = act8_t>
Out SeMean(const conv_acc_t& sum, const frac_reg_t& f_x,
           const frac_reg_t& f_m) {
#pragma HLS INLINE
  const int d = f_x.to_int() - f_m.to_int();  // b - a.
  if constexpr (se_internal::IsPow2(kCount)) {
    // S 2^a / (2^n 2^b) = S / 2^(n + b - a).
    return Requant<Out>(sum, conv_shift_t(se_internal::Log2(kCount) + d));
  } else {
    // num / den with num = S 2^a, den = H W 2^b; floor, then ties to even.
    using wide_t = ap_int<conv_acc_t::width + kFracSpan + 2>;
    const int a = d < 0 ? -d : 0;
    const int b = d > 0 ? d : 0;
    const wide_t num = wide_t(sum) << a;
    const wide_t den = wide_t(kCount) << b;
    wide_t q = num / den;  // Truncates towards zero...
    wide_t rest = num - q * den;
    if (rest < 0) {  // ... so step down to the floor, 0 <= rest < den.
      q -= 1;
      rest += den;
    }
    const wide_t twice = rest << 1;
    if (twice > den || (twice == den && q[0] == 1)) q += 1;
    if (q > CodeTraits<Out>::kMax) return Out(CodeTraits<Out>::kMax);
    if (q < CodeTraits<Out>::kMin) return Out(CodeTraits<Out>::kMin);
    return Out(q);
  }
}

// Step 3's gate from z (16 bits): scale 2^-(P + 14) or 2^-15.
template <SeGate kGate>
se_gate_t SeGateOne(const pre16_t& z, const frac_reg_t& p) {
#pragma HLS INLINE
  if constexpr (kGate == SeGate::kHardSigmoid) {
    return se_gate_t(Relu6Plus3(z, p) * ap_uint<12>(kSixthCode));
  } else {
    return se_gate_t(SigmoidOne(z));
  }
}

// Steps 1 to 3: the gate of every channel from the channel sums S[c].
// Registers: the two convs' per-channel bias, shift and mult (mult read
// only by kFixed builds); F(x), F(m) and P (read only by kHardSigmoid) per
// channel.
template <class Config>
void SeGates(const conv_acc_t sum[Config::kChannels],
             const typename Config::weight_t w_r[Config::kChannels]
                                                [Config::kSqueezeChannels],
             const conv_bias_t bias_r[Config::kSqueezeChannels],
             const conv_shift_t shift_r[Config::kSqueezeChannels],
             const conv_mult_t mult_r[Config::kSqueezeChannels],
             const typename Config::weight_t w_z[Config::kSqueezeChannels]
                                                [Config::kChannels],
             const conv_bias_t bias_z[Config::kChannels],
             const conv_shift_t shift_z[Config::kChannels],
             const conv_mult_t mult_z[Config::kChannels],
             const frac_reg_t f_x[Config::kChannels],
             const frac_reg_t f_m[Config::kChannels],
             const frac_reg_t p[Config::kChannels],
             se_gate_t g[Config::kChannels]) {
  using mean_t = SeMeanCode<Config>;
  using squeeze_t = SeSqueezeCode<Config>;
  constexpr int kC = Config::kChannels;
  constexpr int kSq = Config::kSqueezeChannels;
  constexpr ScaleMode kMode = Config::kScaleMode;
  static_assert(kC % Config::kPe == 0 && kSq % Config::kPe == 0,
                "channel counts must be multiples of kPe");
  mean_t m[kC];
  squeeze_t r[kSq];
  conv_acc_t acc_r[kSq];
  conv_acc_t acc_z[kC];
se_mean_loop:
  for (int c = 0; c < kC; ++c) {
#pragma HLS PIPELINE II = 1
    m[c] = SeMean<Config::kHeight * Config::kWidth, mean_t>(sum[c], f_x[c],
                                                            f_m[c]);
  }
  PointwiseAccumulate<SeReduceConvConfig<Config>>(m, w_r, acc_r);
se_reduce_loop:
  for (int o = 0; o < kSq; ++o) {
#pragma HLS PIPELINE II = 1
    // Relu needs neither P nor F(y).
    r[o] = ConvEpilogueOne<ConvEpilogue::kRelu, kMode, squeeze_t>(
        acc_r[o], bias_r[o], shift_r[o], mult_r[o], frac_reg_t(0),
        frac_reg_t(0));
  }
  PointwiseAccumulate<SeExpandConvConfig<Config>>(r, w_z, acc_z);
se_gate_loop:
  for (int c = 0; c < kC; ++c) {
#pragma HLS PIPELINE II = 1
    const pre16_t z = ConvEpilogueOne<ConvEpilogue::kLogits, kMode>(
        acc_z[c], bias_z[c], shift_z[c], mult_z[c], frac_reg_t(0),
        frac_reg_t(0));
    g[c] = SeGateOne<Config::kGate>(z, p[c]);
  }
}

// Step 4's shift of one channel, F(x) + G - F(y).
template <class Config>
conv_shift_t SeOutShift(const frac_reg_t& f_x, const frac_reg_t& p,
                        const frac_reg_t& f_y) {
#pragma HLS INLINE
  const int gate_frac = Config::kGate == SeGate::kHardSigmoid
                            ? p.to_int() + kSixthFrac
                            : kSigmoidOutFrac;
  return conv_shift_t(f_x.to_int() + gate_frac - f_y.to_int());
}

// The block: kHeight x kWidth pixels of x in, as many of y out. The mean
// needs the whole map before the first output, so x is kept in `frame`,
// storage the caller provides (on the card URAM or device memory: the
// head's map is 128 x 128 x 128 bytes; in C-simulation the heap).
// Registers as for SeGates, and F(y) per channel.
template <class Config>
void SqueezeExcite(
    PixelStream<InCode<Config>, Config::kChannels>& in,
    const typename Config::weight_t w_r[Config::kChannels]
                                       [Config::kSqueezeChannels],
    const conv_bias_t bias_r[Config::kSqueezeChannels],
    const conv_shift_t shift_r[Config::kSqueezeChannels],
    const conv_mult_t mult_r[Config::kSqueezeChannels],
    const typename Config::weight_t w_z[Config::kSqueezeChannels]
                                       [Config::kChannels],
    const conv_bias_t bias_z[Config::kChannels],
    const conv_shift_t shift_z[Config::kChannels],
    const conv_mult_t mult_z[Config::kChannels],
    const frac_reg_t f_x[Config::kChannels],
    const frac_reg_t f_m[Config::kChannels],
    const frac_reg_t p[Config::kChannels],
    const frac_reg_t f_y[Config::kChannels],
    InCode<Config> frame[Config::kHeight * Config::kWidth][Config::kChannels],
    PixelStream<OutCode<Config>, Config::kChannels>& out) {
  using in_t = InCode<Config>;
  using out_t = OutCode<Config>;
  constexpr int kC = Config::kChannels;
  constexpr int kPixels = Config::kHeight * Config::kWidth;
  static_assert(in_t::width == 8, "8-bit codes");
  // 2^23 sums of codes within -128 .. 255 stay inside 32 bits.
  static_assert(kPixels <= (1 << 23), "conv_acc_t holds the channel sums");
  conv_acc_t sum[kC];
  se_gate_t g[kC];
  conv_shift_t out_shift[kC];
#pragma HLS ARRAY_PARTITION variable = sum cyclic factor = Config::kPe
#pragma HLS ARRAY_PARTITION variable = g cyclic factor = Config::kPe
#pragma HLS ARRAY_PARTITION variable = out_shift cyclic factor = Config::kPe

se_init_loop:
  for (int c = 0; c < kC; ++c) {
#pragma HLS PIPELINE II = 1
    sum[c] = 0;
  }
se_read_loop:
  for (int i = 0; i < kPixels; ++i) {
    const Pixel<in_t, kC> x = in.read();
  se_sum_loop:
    for (int c = 0; c < kC; ++c) {
#pragma HLS PIPELINE II = 1
#pragma HLS UNROLL factor = Config::kPe
      frame[i][c] = x.c[c];
      sum[c] += x.c[c];
    }
  }
  SeGates<Config>(sum, w_r, bias_r, shift_r, mult_r, w_z, bias_z, shift_z,
                  mult_z, f_x, f_m, p, g);
se_shift_loop:
  for (int c = 0; c < kC; ++c) {
#pragma HLS PIPELINE II = 1
    out_shift[c] = SeOutShift<Config>(f_x[c], p[c], f_y[c]);
  }
se_write_loop:
  for (int i = 0; i < kPixels; ++i) {
    Pixel<out_t, kC> y;
  se_scale_loop:
    for (int c = 0; c < kC; ++c) {
#pragma HLS PIPELINE II = 1
#pragma HLS UNROLL factor = Config::kPe
      y.c[c] = Requant<out_t>(frame[i][c] * g[c], out_shift[c]);
    }
    out.write(y);
  }
}

}  // namespace fxserve::kernels::detect

#endif  // FXSERVE_KERNELS_DETECT_SQUEEZE_EXCITE_H_
