// Portable kernels: the integer reference's arithmetic, literally (int64
// sums and values, its requant with round-half-to-even and saturation).
// They run the whole model for isa "scalar", and any layer that the SIMD
// kernels' bounds do not cover on the other ISAs.
#include <algorithm>
#include <cstdint>

#include "backends/cpu/detector/detector_kernels.h"

namespace fxserve::backends::cpu::detector_internal {
namespace {

constexpr int64_t kSixthCode = 2730;

int64_t Requant(int64_t c, int64_t s, int64_t lo, int64_t hi) {
  return RequantScalar(c, s, lo, hi);
}

int64_t Row(const EpilogueTable& t, int row, int c) {
  return t.rows[static_cast<size_t>(row) * t.c_pad + c];
}

// The epilogue of channel c on the exact value x (times the channel's
// multiplier).
int64_t Epilogue(const EpilogueTable& t, int c, int64_t x) {
  const int64_t v = x * Row(t, kRowMult, c);
  const int64_t h =
      Requant(v, Row(t, kRowShift1, c), Row(t, kRowLo1, c), Row(t, kRowHi1, c));
  if (!t.hswish) return h;
  const int64_t p = Row(t, kRowP, c);
  const int64_t r =
      std::clamp<int64_t>(h + (int64_t{3} << p), 0, int64_t{6} << p);
  return Requant(h * r * kSixthCode, Row(t, kRowShift2, c), Row(t, kRowLo2, c),
                 Row(t, kRowHi2, c));
}

void Store(const EpilogueTable& t, uint8_t* y, int c, int64_t value) {
  if (t.out_kind == kOutInt16) {
    reinterpret_cast<int16_t*>(y)[c] = static_cast<int16_t>(value);
  } else {
    y[c] = static_cast<uint8_t>(value + t.offset);
  }
}

void GemmScalar(const GemmArgs& a) {
  for (int m = 0; m < a.rows; ++m) {
    const uint8_t* x = a.x + m * a.x_stride;
    uint8_t* y = a.y + m * a.y_stride;
    for (int o = 0; o < a.n; ++o) {
      const int8_t* w = a.w_raw + static_cast<size_t>(o) * a.k;
      // |x - offset| * |w| <= 255 * 128: exact in int32 for k <= 65536.
      int32_t acc = 0;
      for (int i = 0; i < a.k; ++i) acc += (x[i] - a.x_offset) * w[i];
      Store(a.epi, y, o, Epilogue(a.epi, o, int64_t{acc} + a.bias_raw[o]));
    }
  }
}

void DepthwiseScalar(const DepthwiseArgs& a) {
  const int kk = a.k * a.k;
  const size_t elem = a.epi.out_kind == kOutInt16 ? 2 : 1;
  for (int oy = a.oy_begin; oy < a.oy_end; ++oy) {
    for (int ox = 0; ox < a.ow; ++ox) {
      uint8_t* y = a.y + (static_cast<size_t>(oy) * a.ow + ox) * a.c * elem;
      for (int ch = 0; ch < a.c; ++ch) {
        const int8_t* w = a.w_raw + static_cast<size_t>(ch) * kk;
        int64_t acc = a.bias_raw[ch];
        for (int ky = 0; ky < a.k; ++ky) {
          const int iy = oy * a.stride - a.pad_y + ky;
          if (iy < 0 || iy >= a.h) continue;
          for (int kx = 0; kx < a.k; ++kx) {
            const int ix = ox * a.stride - a.pad_x + kx;
            if (ix < 0 || ix >= a.w) continue;
            const int v = a.x[(static_cast<size_t>(iy) * a.w + ix) * a.c + ch] -
                          a.x_offset;
            acc += v * w[ky * a.k + kx];
          }
        }
        Store(a.epi, y, ch, Epilogue(a.epi, ch, acc));
      }
    }
  }
}

void MapScalar(const MapArgs& a) {
  for (int p = 0; p < a.pixels; ++p) {
    const uint8_t* x = a.x + p * a.x_stride;
    uint8_t* y = a.y + p * a.y_stride;
    for (int i = 0; i < a.c; ++i) {
      Store(a.epi, y, a.c0 + i, Epilogue(a.epi, i, x[i] - a.x_offset));
    }
  }
}

void AddScalar(const AddArgs& a) {
  const size_t n = static_cast<size_t>(a.pixels) * a.c;
  for (size_t i = 0; i < n; ++i) {
    const int ch = static_cast<int>(i % a.c);
    const int64_t v =
        (int64_t{a.a[i]} - a.a_offset) * (int64_t{1} << a.sa[ch]) +
        (int64_t{a.b[i]} - a.b_offset) * (int64_t{1} << a.sb[ch]);
    const size_t pixel = i / a.c;
    Store(a.epi, a.y + pixel * a.c * (a.epi.out_kind == kOutInt16 ? 2 : 1), ch,
          Epilogue(a.epi, ch, v));
  }
}

void ResizeScalar(const ResizeArgs& a) {
  const int ow = 2 * a.w;
  const size_t elem = a.epi.out_kind == kOutInt16 ? 2 : 1;
  auto at = [&](int y, int x, int ch) -> int64_t {
    return int64_t{a.x[(static_cast<size_t>(y) * a.w + x) * a.c + ch]} -
           a.x_offset;
  };
  for (int oy = a.oy_begin; oy < a.oy_end; ++oy) {
    const int y0 = oy >> 1, y1 = std::min(y0 + 1, a.h - 1), dy = oy & 1;
    for (int ox = 0; ox < ow; ++ox) {
      const int x0 = ox >> 1, x1 = std::min(x0 + 1, a.w - 1), dx = ox & 1;
      uint8_t* y = a.y + (static_cast<size_t>(oy) * ow + ox) * a.c * elem;
      for (int ch = 0; ch < a.c; ++ch) {
        const int64_t acc =
            (2 - dy) * ((2 - dx) * at(y0, x0, ch) + dx * at(y0, x1, ch)) +
            dy * ((2 - dx) * at(y1, x0, ch) + dx * at(y1, x1, ch));
        Store(a.epi, y, ch, Epilogue(a.epi, ch, acc));
      }
    }
  }
}

}  // namespace

int64_t RequantScalar(int64_t c, int64_t s, int64_t lo, int64_t hi) {
  if (s <= 0) {
    const int64_t limit = int64_t{1} << (62 + s);
    if (c >= limit) return hi;
    if (c <= -limit) return lo;
    return std::clamp(c * (int64_t{1} << -s), lo, hi);
  }
  if (s >= 63) return std::clamp<int64_t>(0, lo, hi);
  int64_t q = c >> s;  // Floor.
  const int64_t rest = c - (q << s);
  const int64_t half = int64_t{1} << (s - 1);
  if (rest > half || (rest == half && (q & 1))) ++q;
  return std::clamp(q, lo, hi);
}

const Kernels& ScalarKernels() {
  static const Kernels kernels{GemmScalar, DepthwiseScalar, MapScalar,
                               AddScalar, ResizeScalar};
  return kernels;
}

}  // namespace fxserve::backends::cpu::detector_internal
