// The last k input rows of a streamed feature map, for a k x k, stride-s
// window with SAME padding (same_padding.h). Row iy lives in slot iy mod k;
// FillFor(oy) reads input rows until every row of output row oy's window
// is held, so the map streams in once, in order, and nothing but k rows is
// stored. Taps in the padding read as 0.
#ifndef FXSERVE_KERNELS_CONV_LINE_BUFFER_H_
#define FXSERVE_KERNELS_CONV_LINE_BUFFER_H_

#include <hls_stream.h>

#include "kernels/conv/feature_map.h"

namespace fxserve::kernels {

// T: the code type. kChannels: channels per pixel. Geometry: a
// SameConvGeometry. Call FillFor(oy) and NextRow() for oy = 0, 1, ... in
// order, then Drain() to consume input rows no window needed.
template <class T, int kChannels, class Geometry>
class ConvLineBuffer {
 public:
  static constexpr int kH = Geometry::kHeight;
  static constexpr int kW = Geometry::kWidth;
  static constexpr int kK = Geometry::kKernel;
  static constexpr int kS = Geometry::kStride;
  static constexpr int kPadTop = Geometry::kPadTop;
  static constexpr int kPadLeft = Geometry::kPadLeft;

  ConvLineBuffer() : next_row_(0), next_slot_(0), top_slot_(kFirstTopSlot) {
    // The k rows of a window are read in the same cycle.
#pragma HLS ARRAY_PARTITION variable = rows_ complete dim = 1
#pragma HLS ARRAY_PARTITION variable = rows_ cyclic factor = kK dim = 2
  }

  // Reads rows up to the last one output row oy's window covers.
  void FillFor(PixelStream<T, kChannels>& in, int oy) {
    const int window_last = oy * kS - kPadTop + kK - 1;
    const int last = window_last < kH - 1 ? window_last : kH - 1;
  line_fill_loop:
    while (next_row_ <= last) {
#pragma HLS LOOP_TRIPCOUNT min = 0 max = kK
      ReadRow(in);
    }
  }

  // Advances the window's top row by the stride.
  void NextRow() {
  line_advance_loop:
    for (int i = 0; i < kS; ++i) {
#pragma HLS UNROLL
      top_slot_ = top_slot_ + 1 == kK ? 0 : top_slot_ + 1;
    }
  }

  // Reads the input rows after the last window (e.g. the final row of an
  // even-height map under a 1 x 1, stride-2 kernel).
  void Drain(PixelStream<T, kChannels>& in) {
  line_drain_loop:
    while (next_row_ < kH) {
#pragma HLS LOOP_TRIPCOUNT min = 0 max = kS
      ReadRow(in);
    }
  }

  // Input (oy * s - pad_top + ky, ox * s - pad_left + kx), channel c, of
  // the current output row oy; 0 in the padding.
  T Tap(int oy, int ox, int ky, int kx, int c) const {
#pragma HLS INLINE
    const int iy = oy * kS - kPadTop + ky;
    const int ix = ox * kS - kPadLeft + kx;
    if (iy < 0 || iy >= kH || ix < 0 || ix >= kW) return T(0);
    const int slot =
        top_slot_ + ky >= kK ? top_slot_ + ky - kK : top_slot_ + ky;
    return rows_[slot][ix][c];
  }

 private:
  // Slot of the first window's top row, -pad_top mod k.
  static constexpr int kFirstTopSlot = (kK - kPadTop % kK) % kK;

  void ReadRow(PixelStream<T, kChannels>& in) {
  line_read_loop:
    for (int ix = 0; ix < kW; ++ix) {
#pragma HLS PIPELINE II = 1
      const Pixel<T, kChannels> pixel = in.read();
    line_store_loop:
      for (int c = 0; c < kChannels; ++c) {
        rows_[next_slot_][ix][c] = pixel.c[c];
      }
    }
    ++next_row_;
    next_slot_ = next_slot_ + 1 == kK ? 0 : next_slot_ + 1;
  }

  // Invariant: rows_[iy mod k] holds input row iy for every
  // iy in [next_row_ - k, next_row_); slots are read only there.
  T rows_[kK][kW][kChannels];
  int next_row_;   // Input rows read so far.
  int next_slot_;  // next_row_ mod k.
  int top_slot_;   // (oy * s - pad_top) mod k for the current oy.
};

}  // namespace fxserve::kernels

#endif  // FXSERVE_KERNELS_CONV_LINE_BUFFER_H_
