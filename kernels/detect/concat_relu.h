// Channel concat followed by relu (kernels/detect/NUMERICS.md, "Concat +
// relu"): the channels of a, then those of b, each
//   max(requant_8(v, F(v) - F(y)), 0)
// with v's channel's F(v) and the output channel's F(y); a, b and y are
// int8 or uint8 (the config's a_t, b_t, out_t; requant_8 is into y's
// range, and the quantizer makes every concat output uint8).
// The quantizer gives both inputs the output's F, which makes this a copy
// and a relu, but the kernel takes the general form so that a model
// calibrated otherwise is still computed as the contract says.
#ifndef FXSERVE_KERNELS_DETECT_CONCAT_RELU_H_
#define FXSERVE_KERNELS_DETECT_CONCAT_RELU_H_

#include <ap_int.h>
#include <hls_stream.h>

#include "kernels/conv/feature_map.h"

namespace fxserve::kernels::detect {

// Example configuration; layers define their own.
struct ConcatReluConfigExample {
  using a_t = uact8_t;    // Optional (act8_t): act8_t or uact8_t.
  using b_t = uact8_t;    // Optional (act8_t).
  using out_t = uact8_t;  // Optional (act8_t).
  static constexpr int kHeight = 32;
  static constexpr int kWidth = 32;
  static constexpr int kChannelsA = 128;  // First input's channels.
  static constexpr int kChannelsB = 128;  // Second input's channels.
  static constexpr int kPe = 8;           // Channels per cycle (unroll).
};

// One element: v from (U)Q(8, F(v)) into (U)Q(8, F(y)), negative codes
// to 0.
template <class Out = act8_t, class In = act8_t>
Out ConcatReluOne(const In& v, const conv_shift_t& shift) {
#pragma HLS INLINE
  const Out y = Requant<Out>(v, shift);
  return y < 0 ? Out(0) : y;
}

// kHeight x kWidth pixels of a and of b in, as many of y (kChannelsA +
// kChannelsB channels) out. Registers: F(a), F(b) and F(y) per channel.
template <class Config>
void ConcatRelu(PixelStream<ACode<Config>, Config::kChannelsA>& a,
                PixelStream<BCode<Config>, Config::kChannelsB>& b,
                const frac_reg_t f_a[Config::kChannelsA],
                const frac_reg_t f_b[Config::kChannelsB],
                const frac_reg_t f_y[Config::kChannelsA + Config::kChannelsB],
                PixelStream<OutCode<Config>,
                            Config::kChannelsA + Config::kChannelsB>& out) {
  using a_t = ACode<Config>;
  using b_t = BCode<Config>;
  using out_t = OutCode<Config>;
  static_assert(a_t::width == 8 && b_t::width == 8, "8-bit codes");
  constexpr int kA = Config::kChannelsA;
  constexpr int kB = Config::kChannelsB;
  conv_shift_t shift[kA + kB];
#pragma HLS ARRAY_PARTITION variable = shift cyclic factor = Config::kPe
concat_shift_a_loop:
  for (int c = 0; c < kA; ++c) {
#pragma HLS PIPELINE II = 1
    shift[c] = f_a[c].to_int() - f_y[c].to_int();
  }
concat_shift_b_loop:
  for (int c = 0; c < kB; ++c) {
#pragma HLS PIPELINE II = 1
    shift[kA + c] = f_b[c].to_int() - f_y[kA + c].to_int();
  }
concat_pixel_loop:
  for (int i = 0; i < Config::kHeight * Config::kWidth; ++i) {
    const Pixel<a_t, kA> x = a.read();
    const Pixel<b_t, kB> w = b.read();
    Pixel<out_t, kA + kB> y;
  concat_a_loop:
    for (int c = 0; c < kA; ++c) {
#pragma HLS PIPELINE II = 1
#pragma HLS UNROLL factor = Config::kPe
      y.c[c] = ConcatReluOne<out_t>(x.c[c], shift[c]);
    }
  concat_b_loop:
    for (int c = 0; c < kB; ++c) {
#pragma HLS PIPELINE II = 1
#pragma HLS UNROLL factor = Config::kPe
      y.c[kA + c] = ConcatReluOne<out_t>(w.c[c], shift[kA + c]);
    }
    out.write(y);
  }
}

}  // namespace fxserve::kernels::detect

#endif  // FXSERVE_KERNELS_DETECT_CONCAT_RELU_H_
