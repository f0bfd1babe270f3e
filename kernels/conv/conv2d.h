// k x k full convolution, stride 1 or 2, TF SAME padding (kernels/detect/
// NUMERICS.md, "Conv"), on a streamed map held k rows at a time
// (line_buffer.h):
//   acc[oy][ox][o] = sum_{ky, kx, i} x[oy s - pt + ky][ox s - pl + kx][i]
//                                    * w[ky][kx][i][o]      (exact; 0 pad)
//   y[oy][ox][o]   = epilogue(acc + bias[o])                 (conv_epilogue.h)
// Weights are HWIO, [k][k][cin][cout]; int8, or int4 codes in ap_int<4>.
// Inputs are int8 or uint8 codes (in_t); outputs int8, or uint8 (out_t =
// uact8_t) for an unsigned tensor, or the logits' int16. The stem is this
// kernel on the 3-channel UQ(8, 0) image (in_t = ap_uint<8>). For k = 1,
// stride 1, pointwise_conv.h is the same function without the line buffer.
#ifndef FXSERVE_KERNELS_CONV_CONV2D_H_
#define FXSERVE_KERNELS_CONV_CONV2D_H_

#include <ap_int.h>
#include <hls_stream.h>

#include "kernels/conv/conv_epilogue.h"
#include "kernels/conv/feature_map.h"
#include "kernels/conv/line_buffer.h"
#include "kernels/conv/same_padding.h"

namespace fxserve::kernels {

// Example configuration (the detector's stem); layers define their own.
struct Conv2dConfigExample {
  using in_t = ap_uint<8>;     // Input: ap_uint<8> (image, uint8) or int8.
  using out_t = act8_t;        // Optional (act8_t): act8_t or uact8_t.
  using weight_t = ap_int<8>;  // ap_int<8>, or ap_int<4> (int4).
  static constexpr int kHeight = 512;  // Input rows.
  static constexpr int kWidth = 512;   // Input columns.
  static constexpr int kInChannels = 3;
  static constexpr int kOutChannels = 16;  // A multiple of kPe.
  static constexpr int kKernel = 3;        // k x k taps.
  static constexpr int kStride = 2;        // 1 or 2.
  static constexpr ConvEpilogue kEpilogue = ConvEpilogue::kHardSwish;
  static constexpr ScaleMode kScaleMode = ScaleMode::kPow2;
  static constexpr int kPe = 16;  // Output channels computed in parallel.
};

template <class Config>
using Conv2dGeometry = SameConvGeometry<Config::kHeight, Config::kWidth,
                                        Config::kKernel, Config::kStride>;

// kHeight x kWidth pixels in, ceil(H / s) x ceil(W / s) pixels out, both in
// raster order. p and f_y (P and F(y) per output channel) are read only by
// kHardSwish, mult only by kFixed builds.
template <class Config>
void Conv2d(PixelStream<typename Config::in_t, Config::kInChannels>& in,
            const typename Config::weight_t w[Config::kKernel][Config::kKernel]
                                             [Config::kInChannels]
                                             [Config::kOutChannels],
            const conv_bias_t bias[Config::kOutChannels],
            const conv_shift_t shift[Config::kOutChannels],
            const conv_mult_t mult[Config::kOutChannels],
            const frac_reg_t p[Config::kOutChannels],
            const frac_reg_t f_y[Config::kOutChannels],
            PixelStream<ConvOut<Config>, Config::kOutChannels>& out) {
  using Geometry = Conv2dGeometry<Config>;
  using in_t = typename Config::in_t;
  constexpr int kK = Config::kKernel;
  constexpr int kCin = Config::kInChannels;
  constexpr int kCout = Config::kOutChannels;
  constexpr int kPe = Config::kPe;
  static_assert(Config::kStride == 1 || Config::kStride == 2, "stride 1 or 2");
  static_assert(kCout % kPe == 0, "kOutChannels must be a multiple of kPe");
  static_assert(Config::weight_t::width <= 8 && in_t::width <= 8,
                "8-bit activations, 8- or 4-bit weights");
  static_assert(kK * kK * kCin <= (1 << 16), "conv_acc_t holds 2^16 products");
#pragma HLS ARRAY_PARTITION variable = w cyclic factor = kPe dim = 4

  ConvLineBuffer<in_t, kCin, Geometry> lines;
conv_row_loop:
  for (int oy = 0; oy < Geometry::kOutHeight; ++oy) {
    lines.FillFor(in, oy);
  conv_col_loop:
    for (int ox = 0; ox < Geometry::kOutWidth; ++ox) {
      Pixel<ConvOut<Config>, kCout> y;
    conv_group_loop:
      for (int o0 = 0; o0 < kCout; o0 += kPe) {
        conv_acc_t acc[kPe];
#pragma HLS ARRAY_PARTITION variable = acc complete
      conv_init_loop:
        for (int j = 0; j < kPe; ++j) {
#pragma HLS UNROLL
          acc[j] = 0;
        }
      conv_ky_loop:
        for (int ky = 0; ky < kK; ++ky) {
        conv_kx_loop:
          for (int kx = 0; kx < kK; ++kx) {
          conv_in_loop:
            for (int i = 0; i < kCin; ++i) {
#pragma HLS PIPELINE II = 1
              const in_t x = lines.Tap(oy, ox, ky, kx, i);
            conv_pe_loop:
              for (int j = 0; j < kPe; ++j) {
#pragma HLS UNROLL
                acc[j] += x * w[ky][kx][i][o0 + j];
              }
            }
          }
        }
      conv_out_loop:
        for (int j = 0; j < kPe; ++j) {
#pragma HLS UNROLL
          const int o = o0 + j;
          y.c[o] = ConvEpilogueOne<Config::kEpilogue, Config::kScaleMode,
                                   OutCode<Config>>(acc[j], bias[o], shift[o],
                                                    mult[o], p[o], f_y[o]);
        }
      }
      out.write(y);
    }
    lines.NextRow();
  }
  lines.Drain(in);
}

}  // namespace fxserve::kernels

#endif  // FXSERVE_KERNELS_CONV_CONV2D_H_
