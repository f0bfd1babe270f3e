// 1 x 1 convolution (kernels/detect/NUMERICS.md, "Conv"), pixel by pixel:
//   acc[o] = sum_i x[i] * w[i][o]   (exact)
//   y[o]   = epilogue(acc[o] + bias[o])   (conv_epilogue.h)
// Weights are HWIO with H = W = 1, i.e. [cin][cout]; int8, or int4 codes
// -8..7 held in ap_int<4>. Inputs int8 or uint8 (in_t), outputs int8 or
// uint8 (out_t) or the logits' int16. A 1 x 1 conv needs no line buffer: each
// input pixel gives one output pixel. PointwiseAccumulate is also the squeeze-
// excite block's two 1 x 1 convs on its mean vector.
#ifndef FXSERVE_KERNELS_CONV_POINTWISE_CONV_H_
#define FXSERVE_KERNELS_CONV_POINTWISE_CONV_H_

#include <ap_int.h>
#include <hls_stream.h>

#include "kernels/conv/conv_epilogue.h"
#include "kernels/conv/feature_map.h"

namespace fxserve::kernels {

// Example configuration; layers define their own.
struct PointwiseConvConfigExample {
  using in_t = act8_t;                // Input code: ap_int<8>, or ap_uint<8>.
  using out_t = act8_t;               // Optional (act8_t): or uact8_t.
  using weight_t = ap_int<8>;         // ap_int<8>, or ap_int<4> (int4).
  static constexpr int kHeight = 32;  // Map rows.
  static constexpr int kWidth = 32;   // Map columns.
  static constexpr int kInChannels = 120;
  static constexpr int kOutChannels = 720;  // A multiple of kPe.
  static constexpr ConvEpilogue kEpilogue = ConvEpilogue::kHardSwish;
  static constexpr ScaleMode kScaleMode = ScaleMode::kPow2;
  static constexpr int kPe = 8;  // Output channels computed in parallel.
};

// One pixel's exact accumulators, acc[o] = sum_i x[i] w[i][o].
template <class Config>
void PointwiseAccumulate(const typename Config::in_t x[Config::kInChannels],
                         const typename Config::weight_t
                             w[Config::kInChannels][Config::kOutChannels],
                         conv_acc_t acc[Config::kOutChannels]) {
  constexpr int kCin = Config::kInChannels;
  constexpr int kCout = Config::kOutChannels;
  constexpr int kPe = Config::kPe;
  static_assert(kCout % kPe == 0, "kOutChannels must be a multiple of kPe");
  static_assert(Config::weight_t::width <= 8 && Config::in_t::width <= 8,
                "8-bit activations, 8- or 4-bit weights");
  static_assert(kCin <= (1 << 16), "conv_acc_t holds 2^16 products");
#pragma HLS ARRAY_PARTITION variable = w cyclic factor = kPe dim = 2
#pragma HLS ARRAY_PARTITION variable = acc cyclic factor = kPe
pw_group_loop:
  for (int o0 = 0; o0 < kCout; o0 += kPe) {
  pw_init_loop:
    for (int j = 0; j < kPe; ++j) {
#pragma HLS UNROLL
      acc[o0 + j] = 0;
    }
  pw_in_loop:
    for (int i = 0; i < kCin; ++i) {
#pragma HLS PIPELINE II = 1
    pw_pe_loop:
      for (int j = 0; j < kPe; ++j) {
#pragma HLS UNROLL
        acc[o0 + j] += x[i] * w[i][o0 + j];
      }
    }
  }
}

// One pixel: y[o] for every output channel o. p and f_y (P and F(y) per
// output channel) are read only by kHardSwish, mult only by kFixed builds.
template <class Config>
void PointwiseConvPixel(const typename Config::in_t x[Config::kInChannels],
                        const typename Config::weight_t w[Config::kInChannels]
                                                         [Config::kOutChannels],
                        const conv_bias_t bias[Config::kOutChannels],
                        const conv_shift_t shift[Config::kOutChannels],
                        const conv_mult_t mult[Config::kOutChannels],
                        const frac_reg_t p[Config::kOutChannels],
                        const frac_reg_t f_y[Config::kOutChannels],
                        ConvOut<Config> y[Config::kOutChannels]) {
  conv_acc_t acc[Config::kOutChannels];
  PointwiseAccumulate<Config>(x, w, acc);
pw_out_loop:
  for (int o = 0; o < Config::kOutChannels; ++o) {
#pragma HLS PIPELINE II = 1
#pragma HLS UNROLL factor = Config::kPe
    y[o] =
        ConvEpilogueOne<Config::kEpilogue, Config::kScaleMode, OutCode<Config>>(
            acc[o], bias[o], shift[o], mult[o], p[o], f_y[o]);
  }
}

// The whole map: kHeight x kWidth pixels in, the same number out.
template <class Config>
void PointwiseConv(PixelStream<typename Config::in_t, Config::kInChannels>& in,
                   const typename Config::weight_t w[Config::kInChannels]
                                                    [Config::kOutChannels],
                   const conv_bias_t bias[Config::kOutChannels],
                   const conv_shift_t shift[Config::kOutChannels],
                   const conv_mult_t mult[Config::kOutChannels],
                   const frac_reg_t p[Config::kOutChannels],
                   const frac_reg_t f_y[Config::kOutChannels],
                   PixelStream<ConvOut<Config>, Config::kOutChannels>& out) {
pw_pixel_loop:
  for (int i = 0; i < Config::kHeight * Config::kWidth; ++i) {
    const Pixel<typename Config::in_t, Config::kInChannels> x = in.read();
    Pixel<ConvOut<Config>, Config::kOutChannels> y;
    PointwiseConvPixel<Config>(x.c, w, bias, shift, mult, p, f_y, y.c);
    out.write(y);
  }
}

}  // namespace fxserve::kernels

#endif  // FXSERVE_KERNELS_CONV_POINTWISE_CONV_H_
