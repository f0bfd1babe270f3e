// x2 bilinear resize with TF's legacy rule src = dst / 2 (kernels/detect/
// NUMERICS.md, "Resize x2"), H x W -> 2H x 2W, Q(8, F(x)) -> Q(8, F(y)):
// output (oy, ox) reads rows i0 = oy >> 1, i1 = min(i0 + 1, H - 1) with
// weights (in halves) 2 - (oy & 1) and oy & 1, columns likewise;
//   acc = sum x[i][j] wy_i wx_j     (exact, scale 2^-(F(x) + 2))
//   y   = requant_8(acc, F(x) + 2 - F(y)), with channel c's F(x) and F(y).
// x and y are int8 or uint8 (the config's in_t, out_t; requant_8 is into
// y's range). Two input rows are held: output rows 2i and 2i + 1 need rows
// i and i + 1.
#ifndef FXSERVE_KERNELS_DETECT_RESIZE2X_H_
#define FXSERVE_KERNELS_DETECT_RESIZE2X_H_

#include <ap_int.h>
#include <hls_stream.h>

#include "kernels/conv/feature_map.h"

namespace fxserve::kernels::detect {

// Example configuration; layers define their own.
struct Resize2xConfigExample {
  using in_t = act8_t;                  // Optional (act8_t): or uact8_t.
  using out_t = act8_t;                 // Optional (act8_t): or uact8_t.
  static constexpr int kHeight = 16;    // Input rows (output: 2 kHeight).
  static constexpr int kWidth = 16;     // Input columns.
  static constexpr int kChannels = 96;  // A multiple of kPe.
  static constexpr int kPe = 8;         // Channels computed in parallel.
};

using resize_acc_t = ap_int<11>;  // -4 * 128 <= acc <= 4 * 255.

// kHeight x kWidth pixels in, 2 kHeight x 2 kWidth out, raster order.
// Registers: F(x) and F(y) per channel.
template <class Config>
void Resize2x(PixelStream<InCode<Config>, Config::kChannels>& in,
              const frac_reg_t f_x[Config::kChannels],
              const frac_reg_t f_y[Config::kChannels],
              PixelStream<OutCode<Config>, Config::kChannels>& out) {
  using in_t = InCode<Config>;
  using out_t = OutCode<Config>;
  static_assert(in_t::width == 8, "8-bit codes");
  constexpr int kH = Config::kHeight;
  constexpr int kW = Config::kWidth;
  constexpr int kC = Config::kChannels;
  static_assert(kC % Config::kPe == 0, "kChannels must be a multiple of kPe");
  // Row i in slot i & 1.
  in_t rows[2][kW][kC];
#pragma HLS ARRAY_PARTITION variable = rows complete dim = 1
#pragma HLS ARRAY_PARTITION variable = rows cyclic factor = 2 dim = 2
  conv_shift_t shift[kC];
#pragma HLS ARRAY_PARTITION variable = shift cyclic factor = Config::kPe
resize_shift_loop:
  for (int c = 0; c < kC; ++c) {
#pragma HLS PIPELINE II = 1
    shift[c] = f_x[c].to_int() + 2 - f_y[c].to_int();
  }

resize_first_row_loop:
  for (int j = 0; j < kW; ++j) {
#pragma HLS PIPELINE II = 1
    const Pixel<in_t, kC> x = in.read();
  resize_first_store_loop:
    for (int c = 0; c < kC; ++c) rows[0][j][c] = x.c[c];
  }
resize_row_loop:
  for (int i = 0; i < kH; ++i) {
    if (i + 1 < kH) {
    resize_read_loop:
      for (int j = 0; j < kW; ++j) {
#pragma HLS PIPELINE II = 1
        const Pixel<in_t, kC> x = in.read();
      resize_store_loop:
        for (int c = 0; c < kC; ++c) rows[(i + 1) & 1][j][c] = x.c[c];
      }
    }
    const int s0 = i & 1;
    const int s1 = i + 1 < kH ? (i + 1) & 1 : s0;
  resize_out_row_loop:
    for (int fy = 0; fy < 2; ++fy) {
    resize_out_col_loop:
      for (int ox = 0; ox < 2 * kW; ++ox) {
        const int j0 = ox >> 1;
        const int fx = ox & 1;
        const int j1 = j0 + 1 < kW ? j0 + 1 : j0;
        Pixel<out_t, kC> y;
      resize_channel_loop:
        for (int c = 0; c < kC; ++c) {
#pragma HLS PIPELINE II = 1
#pragma HLS UNROLL factor = Config::kPe
          // Weights 2 - f and f: with f = 0 only the first tap counts.
          const resize_acc_t top =
              rows[s0][j0][c] * (2 - fx) + rows[s0][j1][c] * fx;
          const resize_acc_t bottom =
              rows[s1][j0][c] * (2 - fx) + rows[s1][j1][c] * fx;
          const resize_acc_t acc = top * (2 - fy) + bottom * fy;
          y.c[c] = Requant<out_t>(acc, shift[c]);
        }
        out.write(y);
      }
    }
  }
}

}  // namespace fxserve::kernels::detect

#endif  // FXSERVE_KERNELS_DETECT_RESIZE2X_H_
