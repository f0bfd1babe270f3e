// CenterNet's decode (kernels/detect/NUMERICS.md, "Heads and decode"), from
// the keypoint map k (UQ(16, 15) sigmoid codes, H x W x C) and the wh map
// (the wh conv's Q(16, 8) logits, read as Q(16, 4) box extents: the same
// integers) to the int32 [K][6] detection rows:
//   1. peak test: p = k where k equals the maximum of its 3 x 3
//      neighbourhood in the same class (neighbours outside the map are
//      skipped), else 0;
//   2. the top K of p over the flat index i = (y W + x) C + c, larger
//      first, equal values by smaller i (TensorFlow's TopKV2);
//   3. row r: x1 = (x << 6) - wh0, y1 = (y << 6) - wh1, x2 = (x << 6) +
//      wh2, y2 = (y << 6) + wh3 (Q(32, 4) in 512-pixel units: a map cell
//      is 4 pixels), score = p, class = c.
// The maps stream in once in raster order; three keypoint rows are held
// for the peak test, the wh map whole (the winners' extents are read at
// the end). The top K is a sorted insertion list: the candidates arrive in
// increasing i, so a candidate goes after every kept value >= its own,
// which is exactly TopKV2's tie rule.
#ifndef FXSERVE_KERNELS_DETECT_DECODE_H_
#define FXSERVE_KERNELS_DETECT_DECODE_H_

#include <ap_int.h>
#include <hls_stream.h>

#include "kernels/conv/feature_map.h"
#include "kernels/detect/sigmoid.h"

namespace fxserve::kernels::detect {

// Example configuration (the detector's); tests use smaller maps.
struct DecodeConfigExample {
  static constexpr int kHeight = 128;  // Keypoint map rows.
  static constexpr int kWidth = 128;   // Keypoint map columns.
  static constexpr int kClasses = 80;  // Keypoint channels.
  static constexpr int kTopK = 100;    // Rows out (<= H W C).
};

inline constexpr int kWhChannels = 4;       // Left, top, right, bottom.
inline constexpr int kDetectionFields = 6;  // x1, y1, x2, y2, score, class.
inline constexpr int kCellShift = 6;        // Cell of 4 pixels, Q(., 4).

using keypoint_t = sigmoid_t;  // UQ(16, 15), codes 0 .. 32768.
using wh_t = pre16_t;          // Q(16, 4) extents.
using detection_t = ap_int<32>;

namespace decode_internal {

using score_t = ap_int<17>;  // A peak code, or -1 for an empty slot.
using coord_t = ap_uint<16>;

// Inserts candidate (p, y, x, c) into the kept list (value, y, x, c),
// best first, after every kept value >= p; the last entry drops out.
// Empty slots hold value -1, below every candidate.
template <int kK>
void TopInsert(score_t value[kK], coord_t top_y[kK], coord_t top_x[kK],
               coord_t top_c[kK], const score_t& p, int y, int x, int c) {
#pragma HLS INLINE
  if (!(p > value[kK - 1])) return;  // Not better than the K-th.
top_insert_loop:
  for (int j = kK - 1; j >= 0; --j) {
#pragma HLS UNROLL
    // Iteration j reads slots j and j - 1 before either is written.
    const bool shift_down = j > 0 && p > value[j - 1];
    if (shift_down) {
      value[j] = value[j - 1];
      top_y[j] = top_y[j - 1];
      top_x[j] = top_x[j - 1];
      top_c[j] = top_c[j - 1];
    } else if (p > value[j]) {
      value[j] = p;
      top_y[j] = y;
      top_x[j] = x;
      top_c[j] = c;
    }
  }
}

}  // namespace decode_internal

// kHeight x kWidth pixels of keypoints and of wh in (raster order, in step),
// kTopK detection rows out.
template <class Config>
void Decode(PixelStream<keypoint_t, Config::kClasses>& keypoints,
            PixelStream<wh_t, kWhChannels>& wh,
            detection_t detections[Config::kTopK][kDetectionFields]) {
  using decode_internal::coord_t;
  using decode_internal::score_t;
  constexpr int kH = Config::kHeight;
  constexpr int kW = Config::kWidth;
  constexpr int kC = Config::kClasses;
  constexpr int kK = Config::kTopK;
  static_assert(kK >= 1 && kK <= kH * kW * kC, "TopKV2 needs k <= H W C");
  static_assert(kH <= (1 << 16) && kW <= (1 << 16) && kC <= (1 << 16),
                "coordinates are 16 bits");

  keypoint_t rows[3][kW][kC];  // Rows y - 1, y, y + 1 in rotating slots.
#pragma HLS ARRAY_PARTITION variable = rows complete dim = 1
#pragma HLS ARRAY_PARTITION variable = rows cyclic factor = 3 dim = 2
  wh_t extents[kH][kW][kWhChannels];
#pragma HLS ARRAY_PARTITION variable = extents complete dim = 3
  // The top K so far: one register per slot, all compared each cycle.
  score_t top_value[kK];
  coord_t top_y[kK], top_x[kK], top_c[kK];
#pragma HLS ARRAY_PARTITION variable = top_value complete
#pragma HLS ARRAY_PARTITION variable = top_y complete
#pragma HLS ARRAY_PARTITION variable = top_x complete
#pragma HLS ARRAY_PARTITION variable = top_c complete
decode_init_loop:
  for (int j = 0; j < kK; ++j) {
#pragma HLS UNROLL
    top_value[j] = -1;
    top_y[j] = 0;
    top_x[j] = 0;
    top_c[j] = 0;
  }

  int prev = 2, cur = 0, next = 1;  // Slots of rows y - 1, y, y + 1.
decode_row_loop:
  for (int y = -1; y < kH; ++y) {
    // Row y + 1 in, then row y tested (y = -1 only reads row 0).
    if (y + 1 < kH) {
      const int slot = y < 0 ? cur : next;
    decode_read_loop:
      for (int x = 0; x < kW; ++x) {
#pragma HLS PIPELINE II = 1
        const Pixel<keypoint_t, kC> k = keypoints.read();
        const Pixel<wh_t, kWhChannels> e = wh.read();
      decode_store_loop:
        for (int c = 0; c < kC; ++c) rows[slot][x][c] = k.c[c];
      decode_wh_loop:
        for (int b = 0; b < kWhChannels; ++b) extents[y + 1][x][b] = e.c[b];
      }
    }
    if (y < 0) continue;
  decode_col_loop:
    for (int x = 0; x < kW; ++x) {
    decode_class_loop:
      for (int c = 0; c < kC; ++c) {
#pragma HLS PIPELINE II = 1
        const keypoint_t k = rows[cur][x][c];
        bool peak = true;
      decode_dy_loop:
        for (int dy = -1; dy <= 1; ++dy) {
        decode_dx_loop:
          for (int dx = -1; dx <= 1; ++dx) {
            const int ny = y + dy;
            const int nx = x + dx;
            if (ny < 0 || ny >= kH || nx < 0 || nx >= kW) continue;
            const int slot = dy < 0 ? prev : (dy > 0 ? next : cur);
            if (rows[slot][nx][c] > k) peak = false;
          }
        }
        const score_t p = peak ? score_t(k) : score_t(0);
        decode_internal::TopInsert<kK>(top_value, top_y, top_x, top_c, p, y, x,
                                       c);
      }
    }
    const int freed = prev;
    prev = cur;
    cur = next;
    next = freed;
  }

decode_out_loop:
  for (int r = 0; r < kK; ++r) {
#pragma HLS PIPELINE II = 1
    const int y = top_y[r].to_int();
    const int x = top_x[r].to_int();
    const detection_t cx = detection_t(x) << kCellShift;
    const detection_t cy = detection_t(y) << kCellShift;
    detections[r][0] = cx - extents[y][x][0];
    detections[r][1] = cy - extents[y][x][1];
    detections[r][2] = cx + extents[y][x][2];
    detections[r][3] = cy + extents[y][x][3];
    detections[r][4] = top_value[r];
    detections[r][5] = top_c[r];
  }
}

}  // namespace fxserve::kernels::detect

#endif  // FXSERVE_KERNELS_DETECT_DECODE_H_
