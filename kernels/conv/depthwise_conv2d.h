// k x k depthwise convolution (channel multiplier 1), stride 1 or 2, TF
// SAME padding (kernels/detect/NUMERICS.md, "Conv"), on a streamed map held
// k rows at a time (line_buffer.h):
//   acc[oy][ox][c] = sum_{ky, kx} x[oy s - pt + ky][ox s - pl + kx][c]
//                                 * w[ky][kx][c]              (exact; 0 pad)
//   y[oy][ox][c]   = epilogue(acc + bias[c])                  (conv_epilogue.h)
// Weights are [k][k][c]; int8, or int4 codes in ap_int<4>. Inputs int8 or
// uint8 (in_t), outputs int8 or uint8 (out_t) or the logits' int16. The
// detector uses k = 3 and 5.
#ifndef FXSERVE_KERNELS_CONV_DEPTHWISE_CONV2D_H_
#define FXSERVE_KERNELS_CONV_DEPTHWISE_CONV2D_H_

#include <ap_int.h>
#include <hls_stream.h>

#include "kernels/conv/conv_epilogue.h"
#include "kernels/conv/feature_map.h"
#include "kernels/conv/line_buffer.h"
#include "kernels/conv/same_padding.h"

namespace fxserve::kernels {

// Example configuration; layers define their own.
struct DepthwiseConv2dConfigExample {
  using in_t = act8_t;                   // Optional (act8_t): or uact8_t.
  using out_t = act8_t;                  // Optional (act8_t): or uact8_t.
  using weight_t = ap_int<8>;            // ap_int<8>, or ap_int<4> (int4).
  static constexpr int kHeight = 32;     // Input rows.
  static constexpr int kWidth = 32;      // Input columns.
  static constexpr int kChannels = 720;  // A multiple of kPe.
  static constexpr int kKernel = 5;      // k x k taps.
  static constexpr int kStride = 1;      // 1 or 2.
  static constexpr ConvEpilogue kEpilogue = ConvEpilogue::kHardSwish;
  static constexpr ScaleMode kScaleMode = ScaleMode::kPow2;
  static constexpr int kPe = 8;  // Channels computed in parallel.
};

template <class Config>
using DepthwiseGeometry = SameConvGeometry<Config::kHeight, Config::kWidth,
                                           Config::kKernel, Config::kStride>;

// kHeight x kWidth pixels in, ceil(H / s) x ceil(W / s) pixels out, both
// in raster order. p and f_y (P and F(y) per channel) are read only by
// kHardSwish, mult only by kFixed builds.
template <class Config>
void DepthwiseConv2d(PixelStream<InCode<Config>, Config::kChannels>& in,
                     const typename Config::weight_t
                         w[Config::kKernel][Config::kKernel][Config::kChannels],
                     const conv_bias_t bias[Config::kChannels],
                     const conv_shift_t shift[Config::kChannels],
                     const conv_mult_t mult[Config::kChannels],
                     const frac_reg_t p[Config::kChannels],
                     const frac_reg_t f_y[Config::kChannels],
                     PixelStream<ConvOut<Config>, Config::kChannels>& out) {
  using Geometry = DepthwiseGeometry<Config>;
  constexpr int kK = Config::kKernel;
  constexpr int kC = Config::kChannels;
  constexpr int kPe = Config::kPe;
  static_assert(Config::kStride == 1 || Config::kStride == 2, "stride 1 or 2");
  static_assert(kC % kPe == 0, "kChannels must be a multiple of kPe");
  static_assert(Config::weight_t::width <= 8 && InCode<Config>::width <= 8,
                "8-bit activations, 8- or 4-bit weights");
#pragma HLS ARRAY_PARTITION variable = w complete dim = 1
#pragma HLS ARRAY_PARTITION variable = w complete dim = 2
#pragma HLS ARRAY_PARTITION variable = w cyclic factor = kPe dim = 3

  ConvLineBuffer<InCode<Config>, kC, Geometry> lines;
dw_row_loop:
  for (int oy = 0; oy < Geometry::kOutHeight; ++oy) {
    lines.FillFor(in, oy);
  dw_col_loop:
    for (int ox = 0; ox < Geometry::kOutWidth; ++ox) {
      Pixel<ConvOut<Config>, kC> y;
    dw_group_loop:
      for (int c0 = 0; c0 < kC; c0 += kPe) {
#pragma HLS PIPELINE II = 1
      dw_pe_loop:
        for (int j = 0; j < kPe; ++j) {
          const int c = c0 + j;
          conv_acc_t acc = 0;
        dw_ky_loop:
          for (int ky = 0; ky < kK; ++ky) {
          dw_kx_loop:
            for (int kx = 0; kx < kK; ++kx) {
              acc += lines.Tap(oy, ox, ky, kx, c) * w[ky][kx][c];
            }
          }
          y.c[c] = ConvEpilogueOne<Config::kEpilogue, Config::kScaleMode,
                                   OutCode<Config>>(acc, bias[c], shift[c],
                                                    mult[c], p[c], f_y[c]);
        }
      }
      out.write(y);
    }
    lines.NextRow();
  }
  lines.Drain(in);
}

}  // namespace fxserve::kernels

#endif  // FXSERVE_KERNELS_CONV_DEPTHWISE_CONV2D_H_
