// Elementwise add of two maps (kernels/detect/NUMERICS.md, "Add"): the
// residual adds and the head's two-branch sums. Per channel, with
// M = max(F(a), F(b)),
//   y = requant_8(a * 2^(M - F(a)) + b * 2^(M - F(b)), M - F(y)):
// both codes aligned exactly to the finer binary point, rounded once. Each
// of a, b and y is int8 or uint8 (the config's a_t, b_t, out_t; requant_8
// is into y's range).
#ifndef FXSERVE_KERNELS_DETECT_ADD_H_
#define FXSERVE_KERNELS_DETECT_ADD_H_

#include <ap_int.h>
#include <hls_stream.h>

#include "kernels/conv/feature_map.h"

namespace fxserve::kernels::detect {

// Example configuration; layers define their own.
struct AddConfigExample {
  using a_t = act8_t;    // Optional (act8_t): act8_t or uact8_t.
  using b_t = act8_t;    // Optional (act8_t).
  using out_t = act8_t;  // Optional (act8_t).
  static constexpr int kHeight = 64;
  static constexpr int kWidth = 64;
  static constexpr int kChannels = 24;  // A multiple of kPe.
  static constexpr int kPe = 8;         // Channels added in parallel.
};

// An aligned code (int8 or uint8 shifted left by up to kFracSpan), and two
// summed.
using add_aligned_t = ap_int<9 + kFracSpan>;
using add_sum_t = ap_int<10 + kFracSpan>;

// One element; shift_a = M - F(a), shift_b = M - F(b), out = M - F(y).
template <class Out = act8_t, class A = act8_t, class B = act8_t>
Out AddOne(const A& a, const B& b, int shift_a, int shift_b,
           const conv_shift_t& out_shift) {
#pragma HLS INLINE
  const add_sum_t sum = add_sum_t(add_aligned_t(a) << shift_a) +
                        add_sum_t(add_aligned_t(b) << shift_b);
  return Requant<Out>(sum, out_shift);
}

// kHeight x kWidth pixels of a and of b in, as many of y out. Registers:
// F(a), F(b), F(y) per channel, each in kFracMin..kFracMax.
template <class Config>
void Add(PixelStream<ACode<Config>, Config::kChannels>& a,
         PixelStream<BCode<Config>, Config::kChannels>& b,
         const frac_reg_t f_a[Config::kChannels],
         const frac_reg_t f_b[Config::kChannels],
         const frac_reg_t f_y[Config::kChannels],
         PixelStream<OutCode<Config>, Config::kChannels>& out) {
  using a_t = ACode<Config>;
  using b_t = BCode<Config>;
  using out_t = OutCode<Config>;
  constexpr int kC = Config::kChannels;
  static_assert(kC % Config::kPe == 0, "kChannels must be a multiple of kPe");
  static_assert(a_t::width == 8 && b_t::width == 8, "8-bit codes");
  // The three shifts of every channel, from its registers.
  ap_uint<5> shift_a[kC], shift_b[kC];
  conv_shift_t out_shift[kC];
#pragma HLS ARRAY_PARTITION variable = shift_a cyclic factor = Config::kPe
#pragma HLS ARRAY_PARTITION variable = shift_b cyclic factor = Config::kPe
#pragma HLS ARRAY_PARTITION variable = out_shift cyclic factor = Config::kPe
add_shift_loop:
  for (int c = 0; c < kC; ++c) {
#pragma HLS PIPELINE II = 1
    const int fa = f_a[c].to_int();
    const int fb = f_b[c].to_int();
    const int m = fa > fb ? fa : fb;
    shift_a[c] = m - fa;
    shift_b[c] = m - fb;
    out_shift[c] = m - f_y[c].to_int();
  }
add_pixel_loop:
  for (int i = 0; i < Config::kHeight * Config::kWidth; ++i) {
    const Pixel<a_t, kC> x = a.read();
    const Pixel<b_t, kC> w = b.read();
    Pixel<out_t, kC> y;
  add_channel_loop:
    for (int c = 0; c < kC; ++c) {
#pragma HLS PIPELINE II = 1
#pragma HLS UNROLL factor = Config::kPe
      y.c[c] = AddOne<out_t>(x.c[c], w.c[c], shift_a[c].to_int(),
                             shift_b[c].to_int(), out_shift[c]);
    }
    out.write(y);
  }
}

}  // namespace fxserve::kernels::detect

#endif  // FXSERVE_KERNELS_DETECT_ADD_H_
