// AVX2 kernels (compiled with -mavx2 -mfma; called only when the CPU has
// them).
//
// Pointwise convs: vpmaddubsw would saturate its int16 pair sums (255 *
// 128 * 2 > 2^15), so the activations are widened to int16 (zero extended:
// codes are 0..255) and vpmaddwd multiplies pairs of inputs with int16
// weights into int32 lanes: each pair sum is at most 2 * 255 * 128, exact,
// and the int32 sums are exact as on AVX-512 (the final value fits in
// int32, checked when the layer is planned; wrapping in between cancels).
// A register tile is MR pixels x NB blocks of 8 outputs (12 accumulators).
//
// Depthwise convs: 16 channels of one output at a time; each pair of taps'
// bytes is interleaved (vpunpck{l,h}bw), zero extended to int16 and
// multiplied by the pair's weights with vpmaddwd, exact as above.
//
// Epilogues (detector_kernels.h): the fast path multiplies even and odd
// channels into int64 lanes (vpmuldq) and rounds with logical shifts of v
// + 2^50; the general path runs 4 channels at a time in int64 lanes, where
// AVX2 has no 64-bit arithmetic shift, min or max: (v + 2^63) >> rsh
// logically minus qbias is the floor, and compares with blends clamp.
//
// Only plain data and intrinsics here (see detector_kernels.h).
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "backends/cpu/detector/detector_kernels.h"

#if !defined(__AVX2__) || !defined(__FMA__)
#error "build with -mavx2 -mfma"
#endif

namespace fxserve::backends::cpu::detector_internal {
namespace {

inline int MinInt(int a, int b) { return a < b ? a : b; }

struct Rq {
  __m256i rsh, mask, half, qbias, lsh, plo, phi, lo, hi;
};

// An epilogue's registers for 4 channels.
struct Epi4 {
  __m256i mult;
  Rq r1;
  __m256i p3, p6;
  Rq r2;
};

inline __m256i LoadRow(const EpilogueTable& t, int row, int c) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(
      t.rows + static_cast<size_t>(row) * t.c_pad + c));
}

inline Rq LoadRq(const EpilogueTable& t, int first, int c, bool left) {
  Rq r;
  r.rsh = LoadRow(t, first + 0, c);
  r.mask = LoadRow(t, first + 1, c);
  r.half = LoadRow(t, first + 2, c);
  r.qbias = LoadRow(t, first + 3, c);
  if (left) {
    r.lsh = LoadRow(t, first + 4, c);
    r.plo = LoadRow(t, first + 5, c);
    r.phi = LoadRow(t, first + 6, c);
  } else {
    r.lsh = r.plo = r.phi = _mm256_setzero_si256();
  }
  r.lo = LoadRow(t, first + 7, c);
  r.hi = LoadRow(t, first + 8, c);
  return r;
}

inline Epi4 LoadEpi4(const EpilogueTable& t, int c) {
  Epi4 e;
  e.mult = LoadRow(t, kRowMult, c);
  e.r1 = LoadRq(t, kRowRsh1, c, t.left1);
  if (t.hswish) {
    e.p3 = LoadRow(t, kRowP3, c);
    e.p6 = LoadRow(t, kRowP6, c);
    e.r2 = LoadRq(t, kRowRsh2, c, t.left2);
  } else {
    e.p3 = e.p6 = _mm256_setzero_si256();
    e.r2 = e.r1;
  }
  return e;
}

inline __m256i Min64(__m256i a, __m256i b) {
  return _mm256_blendv_epi8(a, b, _mm256_cmpgt_epi64(a, b));
}
inline __m256i Max64(__m256i a, __m256i b) {
  return _mm256_blendv_epi8(b, a, _mm256_cmpgt_epi64(a, b));
}

inline __m256i Requant(__m256i v, const Rq& r, bool left) {
  const __m256i one = _mm256_set1_epi64x(1);
  const __m256i sign = _mm256_set1_epi64x(INT64_MIN);
  if (left) v = Min64(Max64(v, r.plo), r.phi);
  __m256i q = _mm256_sub_epi64(
      _mm256_srlv_epi64(_mm256_xor_si256(v, sign), r.rsh), r.qbias);
  const __m256i rb =
      _mm256_add_epi64(_mm256_and_si256(v, r.mask), _mm256_and_si256(q, one));
  q = _mm256_sub_epi64(q, _mm256_cmpgt_epi64(rb, r.half));  // +1 if above.
  if (left) q = _mm256_sllv_epi64(q, r.lsh);
  return Min64(Max64(q, r.lo), r.hi);
}

// x: 4 values sign-extended to int64.
inline __m256i Apply(__m256i x, const Epi4& e, const EpilogueTable& t) {
  const __m256i v = _mm256_mul_epi32(x, e.mult);
  __m256i y = Requant(v, e.r1, t.left1);
  if (t.hswish) {
    const __m256i r =
        Min64(Max64(_mm256_add_epi64(y, e.p3), _mm256_setzero_si256()), e.p6);
    const __m256i hr = _mm256_mul_epi32(y, r);  // |h r| < 2^31.
    y = Requant(_mm256_mul_epi32(hr, _mm256_set1_epi64x(2730)), e.r2, t.left2);
  }
  return y;
}

// Stores 8 int32 results (in range) at channel c of row y, n of them.
inline void Store8(const EpilogueTable& t, __m256i y32, uint8_t* y, int c,
                   int n) {
  if (t.out_kind == kOutInt16) {
    const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(y32),
                                      _mm256_extracti128_si256(y32, 1));
    int16_t* out = reinterpret_cast<int16_t*>(y) + c;
    if (n >= 8) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out), w);
    } else {
      alignas(16) int16_t tmp[8];
      _mm_store_si128(reinterpret_cast<__m128i*>(tmp), w);
      std::memcpy(out, tmp, sizeof(int16_t) * n);
    }
    return;
  }
  y32 = _mm256_add_epi32(y32, _mm256_set1_epi32(t.offset));
  const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(y32),
                                    _mm256_extracti128_si256(y32, 1));
  const __m128i b = _mm_packus_epi16(w, w);
  if (n >= 8) {
    _mm_storel_epi64(reinterpret_cast<__m128i*>(y + c), b);
  } else {
    alignas(16) uint8_t tmp[16];
    _mm_store_si128(reinterpret_cast<__m128i*>(tmp), b);
    std::memcpy(y + c, tmp, n);
  }
}

// The general epilogue of 8 int32 values (channels [c, c + 8), n of them
// valid).
inline void FinishGeneral8(const EpilogueTable& t, const Epi4& lo,
                           const Epi4& hi, __m256i acc, uint8_t* y, int c,
                           int n) {
  const __m256i ylo =
      Apply(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(acc)), lo, t);
  const __m256i yhi =
      n > 4 ? Apply(_mm256_cvtepi32_epi64(_mm256_extracti128_si256(acc, 1)), hi,
                    t)
            : _mm256_setzero_si256();
  // The low halves of the 8 int64 lanes, in order.
  __m256i y32 = _mm256_castps_si256(_mm256_shuffle_ps(_mm256_castsi256_ps(ylo),
                                                      _mm256_castsi256_ps(yhi),
                                                      _MM_SHUFFLE(2, 0, 2, 0)));
  y32 = _mm256_permute4x64_epi64(y32, _MM_SHUFFLE(3, 1, 2, 0));
  Store8(t, y32, y, c, n);
}

// The fast path's registers for 8 channels (detector_kernels.h).
struct Fast8 {
  __m256i m, mo, se, so, he, ho, lo1, hi1, q1;
  __m256i p3, p6, s2e, s2o, h2e, h2o, lo2, hi2, q2;
};

// Either path's registers for channels [c, c + 8).
struct Params8 {
  Fast8 f;
  Epi4 lo, hi;
};

inline __m256i FastEntry(const EpilogueTable& t, int c, int e) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(
      t.fast + (static_cast<size_t>(c / 8) * kFastEntries + e) * 8));
}

// c: a multiple of 8 (the fast path's blocks), or any channel (general).
inline void LoadParams8(const EpilogueTable& t, int c, Params8* p) {
  if (t.fast == nullptr) {
    p->lo = LoadEpi4(t, c);
    p->hi = LoadEpi4(t, c + 4);
    return;
  }
  Fast8& f = p->f;
  f.m = FastEntry(t, c, kFastM);
  f.mo = _mm256_srli_epi64(f.m, 32);
  f.se = FastEntry(t, c, kFastSe);
  f.so = FastEntry(t, c, kFastSo);
  f.he = FastEntry(t, c, kFastHe);
  f.ho = FastEntry(t, c, kFastHo);
  f.lo1 = FastEntry(t, c, kFastLo1);
  f.hi1 = FastEntry(t, c, kFastHi1);
  f.q1 = FastEntry(t, c, kFastQ1);
  if (t.hswish) {
    f.p3 = FastEntry(t, c, kFastP3);
    f.p6 = FastEntry(t, c, kFastP6);
    f.s2e = FastEntry(t, c, kFastS2e);
    f.s2o = FastEntry(t, c, kFastS2o);
    f.h2e = FastEntry(t, c, kFastH2e);
    f.h2o = FastEntry(t, c, kFastH2o);
    f.lo2 = FastEntry(t, c, kFastLo2);
    f.hi2 = FastEntry(t, c, kFastHi2);
    f.q2 = FastEntry(t, c, kFastQ2);
  }
}

// rne(v / 2^s) + 2^(50 - s) for |v| < 2^48, 1 <= s <= 49, with logical
// shifts of the non-negative v + 2^50 (bh = 2^50 + 2^(s-1) - 1).
inline __m256i Round64(__m256i v, __m256i s, __m256i bh) {
  const __m256i odd = _mm256_and_si256(
      _mm256_srlv_epi64(
          _mm256_add_epi64(v, _mm256_set1_epi64x(int64_t{1} << 50)), s),
      _mm256_set1_epi64x(1));
  return _mm256_srlv_epi64(_mm256_add_epi64(_mm256_add_epi64(v, bh), odd), s);
}

inline __m256i Stage8(__m256i x, __m256i m, __m256i mo, __m256i se, __m256i so,
                      __m256i he, __m256i ho, __m256i q, __m256i lo,
                      __m256i hi) {
  const __m256i e = Round64(_mm256_mul_epi32(x, m), se, he);
  const __m256i o =
      Round64(_mm256_mul_epi32(_mm256_srli_epi64(x, 32), mo), so, ho);
  __m256i r = _mm256_blend_epi32(e, _mm256_slli_epi64(o, 32), 0xAA);
  r = _mm256_sub_epi32(r, q);  // Less 2^(50 - s), modulo 2^32.
  return _mm256_min_epi32(_mm256_max_epi32(r, lo), hi);
}

inline void FinishFast8(const EpilogueTable& t, const Fast8& f, __m256i acc,
                        uint8_t* y, int c, int n) {
  __m256i v =
      Stage8(acc, f.m, f.mo, f.se, f.so, f.he, f.ho, f.q1, f.lo1, f.hi1);
  if (t.hswish) {
    const __m256i r = _mm256_min_epi32(
        _mm256_max_epi32(_mm256_add_epi32(v, f.p3), _mm256_setzero_si256()),
        f.p6);
    const __m256i sixth = _mm256_set1_epi32(2730);
    v = Stage8(_mm256_mullo_epi32(v, r), sixth, sixth, f.s2e, f.s2o, f.h2e,
               f.h2o, f.q2, f.lo2, f.hi2);
  }
  Store8(t, v, y, c, n);
}

inline void Finish8(const EpilogueTable& t, const Params8& p, __m256i acc,
                    uint8_t* y, int c, int n) {
  if (t.fast != nullptr) {
    FinishFast8(t, p.f, acc, y, c, n);
  } else {
    FinishGeneral8(t, p.lo, p.hi, acc, y, c, n);
  }
}

// 8 bytes at p as int32 values minus offset (reads 8 bytes: callers stay
// within a buffer's slack).
inline __m256i LoadValues(const uint8_t* p, __m256i offset) {
  return _mm256_sub_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64(
                              reinterpret_cast<const __m128i*>(p))),
                          offset);
}

// Output group g (blocks 2g .. 2g + NB - 1) for all rows; x16: the rows
// widened, x16_stride int16 apart.
template <int NB, int MR>
void GemmGroup(const GemmArgs& a, int g, const int16_t* x16, int x16_stride) {
  const int k2 = (a.k + 1) & ~1;
  const int pairs = k2 / 2;
  const int16_t* w = static_cast<const int16_t*>(a.w_packed) +
                     static_cast<size_t>(g) * k2 * 16;
  const int c_base = g * 16;
  __m256i bias[NB];
  for (int b = 0; b < NB; ++b) {
    bias[b] = _mm256_loadu_si256(
        reinterpret_cast<const __m256i*>(a.bias_folded + c_base + 8 * b));
  }
  for (int m = 0; m < a.rows; m += MR) {
    // The accumulators are indexed by constants only (fully unrolled), so
    // they stay in registers; the epilogue reads a copy.
    __m256i acc[MR][NB];
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 4
      for (int b = 0; b < NB; ++b) acc[i][b] = bias[b];
    }
    const int16_t* x = x16 + static_cast<size_t>(m) * x16_stride;
    const int16_t* wj = w;
    for (int j = 0; j < pairs; ++j, wj += NB * 16) {
      __m256i wv[NB];
#pragma GCC unroll 4
      for (int b = 0; b < NB; ++b) {
        wv[b] =
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wj + 16 * b));
      }
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) {
        int32_t pair;
        std::memcpy(&pair, x + static_cast<size_t>(i) * x16_stride + 2 * j,
                    sizeof(pair));
        const __m256i xb = _mm256_set1_epi32(pair);
#pragma GCC unroll 4
        for (int b = 0; b < NB; ++b) {
          acc[i][b] = _mm256_add_epi32(acc[i][b], _mm256_madd_epi16(xb, wv[b]));
        }
      }
    }
    __m256i out[MR][NB];
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 4
      for (int b = 0; b < NB; ++b) out[i][b] = acc[i][b];
    }
    const int valid = MinInt(MR, a.rows - m);
    for (int b = 0; b < NB; ++b) {
      const int c = c_base + 8 * b;
      const int n = MinInt(8, a.n - c);
      if (n <= 0) break;
      Params8 params;
      LoadParams8(a.epi, c, &params);
      for (int i = 0; i < valid; ++i) {
        Finish8(a.epi, params, out[i][b], a.y + (m + i) * a.y_stride, c, n);
      }
    }
  }
}

void GemmAvx2(const GemmArgs& a) {
  // Widen the rows (and the slack rows a last tile reads) to int16.
  const int k2 = (a.k + 1) & ~1;
  const int stride = (k2 + 15) & ~15;
  const int rows = (a.rows + 11) / 12 * 12;
  for (int r = 0; r < rows; ++r) {
    const uint8_t* x = a.x + r * a.x_stride;
    int16_t* d = a.scratch16 + static_cast<size_t>(r) * stride;
    for (int i = 0; i < stride; i += 16) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + i),
                          _mm256_cvtepu8_epi16(_mm_loadu_si128(
                              reinterpret_cast<const __m128i*>(x + i))));
    }
  }
  const int blocks = (a.n + 7) / 8;
  for (int g = 0; 2 * g < blocks; ++g) {
    if (blocks - 2 * g >= 2) {
      GemmGroup<2, 6>(a, g, a.scratch16, stride);
    } else {
      GemmGroup<1, 12>(a, g, a.scratch16, stride);
    }
  }
}

// The tap pointers (channel 0) of output row oy, `stride` per pixel: taps
// outside the map and past k * k point at the padding codes.
inline void RowTaps(const DepthwiseArgs& a, int oy, int stride,
                    const uint8_t** taps) {
  const int iy0 = oy * a.stride - a.pad_y;
  const int kk = a.k * a.k;
  for (int ox = 0; ox < a.ow; ++ox) {
    const uint8_t** t = taps + static_cast<size_t>(ox) * stride;
    const int ix0 = ox * a.stride - a.pad_x;
    int i = 0;
    for (int ky = 0; ky < a.k; ++ky) {
      const int iy = iy0 + ky;
      const bool row_ok = iy >= 0 && iy < a.h;
      for (int kx = 0; kx < a.k; ++kx, ++i) {
        const int ix = ix0 + kx;
        t[i] = row_ok && ix >= 0 && ix < a.w
                   ? a.x + (static_cast<size_t>(iy) * a.w + ix) * a.c
                   : a.pad;
      }
    }
    for (i = kk; i < stride; ++i) t[i] = a.pad;
  }
}

void DepthwiseAvx2(const DepthwiseArgs& a) {
  const size_t elem = a.epi.out_kind == kOutInt16 ? 2 : 1;
  const int pairs = (a.k * a.k + 1) / 2;
  const int stride = 2 * pairs;
  for (int oy = a.oy_begin; oy < a.oy_end; ++oy) {
    RowTaps(a, oy, stride, a.taps);
    for (int c0 = 0; c0 < a.c; c0 += 16) {
      const int left = a.c - c0;
      Params8 e_lo, e_hi;
      LoadParams8(a.epi, c0, &e_lo);
      LoadParams8(a.epi, c0 + 8, &e_hi);
      const __m256i bias_lo = _mm256_loadu_si256(
          reinterpret_cast<const __m256i*>(a.bias_folded + c0));
      const __m256i bias_hi = _mm256_loadu_si256(
          reinterpret_cast<const __m256i*>(a.bias_folded + c0 + 8));
      const int16_t* w0 = static_cast<const int16_t*>(a.w_packed) +
                          static_cast<size_t>(c0 / 16) * pairs * 32;
      for (int ox = 0; ox < a.ow; ++ox) {
        const uint8_t* const* taps = a.taps + static_cast<size_t>(ox) * stride;
        __m256i lo = bias_lo, hi = bias_hi;
        const int16_t* w = w0;
        for (int p = 0; p < pairs; ++p, w += 32) {
          // 16 bytes past a pixel's channel c0 stay within the slack.
          const __m128i ta = _mm_loadu_si128(
              reinterpret_cast<const __m128i*>(taps[2 * p] + c0));
          const __m128i tb = _mm_loadu_si128(
              reinterpret_cast<const __m128i*>(taps[2 * p + 1] + c0));
          const __m256i pl = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(ta, tb));
          const __m256i ph = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(ta, tb));
          lo = _mm256_add_epi32(
              lo,
              _mm256_madd_epi16(
                  pl, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w))));
          hi = _mm256_add_epi32(
              hi, _mm256_madd_epi16(
                      ph, _mm256_loadu_si256(
                              reinterpret_cast<const __m256i*>(w + 16))));
        }
        uint8_t* y = a.y + (static_cast<size_t>(oy) * a.ow + ox) * a.c * elem;
        Finish8(a.epi, e_lo, lo, y, c0, MinInt(8, left));
        if (left > 8) Finish8(a.epi, e_hi, hi, y, c0 + 8, MinInt(8, left - 8));
      }
    }
  }
}

void MapAvx2(const MapArgs& a) {
  const __m256i offset = _mm256_set1_epi32(a.x_offset);
  for (int i = 0; i < a.c; i += 8) {
    const int n = MinInt(8, a.c - i);
    Params8 params;
    LoadParams8(a.epi, i, &params);
    uint8_t* y = a.y + (a.epi.out_kind == kOutInt16 ? 2 : 1) * a.c0;
    for (int p = 0; p < a.pixels; ++p) {
      const __m256i v = LoadValues(a.x + p * a.x_stride + i, offset);
      Finish8(a.epi, params, v, y + p * a.y_stride, i, n);
    }
  }
}

void AddAvx2(const AddArgs& a) {
  const size_t elem = a.epi.out_kind == kOutInt16 ? 2 : 1;
  const __m256i oa = _mm256_set1_epi32(a.a_offset);
  const __m256i ob = _mm256_set1_epi32(a.b_offset);
  for (int c = 0; c < a.c; c += 8) {
    const int n = MinInt(8, a.c - c);
    Params8 params;
    LoadParams8(a.epi, c, &params);
    const __m256i sa =
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.sa + c));
    const __m256i sb =
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.sb + c));
    for (int p = 0; p < a.pixels; ++p) {
      const size_t at = static_cast<size_t>(p) * a.c + c;
      const __m256i va = _mm256_sllv_epi32(LoadValues(a.a + at, oa), sa);
      const __m256i vb = _mm256_sllv_epi32(LoadValues(a.b + at, ob), sb);
      Finish8(a.epi, params, _mm256_add_epi32(va, vb),
              a.y + static_cast<size_t>(p) * a.c * elem, c, n);
    }
  }
}

void ResizeAvx2(const ResizeArgs& a) {
  const size_t elem = a.epi.out_kind == kOutInt16 ? 2 : 1;
  const __m256i offset = _mm256_set1_epi32(a.x_offset);
  const int ow = 2 * a.w;
  for (int oy = a.oy_begin; oy < a.oy_end; ++oy) {
    const int y0 = oy >> 1, y1 = MinInt(y0 + 1, a.h - 1), dy = oy & 1;
    const uint8_t* r0 = a.x + static_cast<size_t>(y0) * a.w * a.c;
    const uint8_t* r1 = a.x + static_cast<size_t>(y1) * a.w * a.c;
    for (int c = 0; c < a.c; c += 8) {
      const int n = MinInt(8, a.c - c);
      Params8 params;
      LoadParams8(a.epi, c, &params);
      for (int ox = 0; ox < ow; ++ox) {
        const int x0 = ox >> 1, x1 = MinInt(x0 + 1, a.w - 1), dx = ox & 1;
        const size_t o0 = static_cast<size_t>(x0) * a.c + c;
        const size_t o1 = static_cast<size_t>(x1) * a.c + c;
        __m256i top = LoadValues(r0 + o0, offset);
        top = dx ? _mm256_add_epi32(top, LoadValues(r0 + o1, offset))
                 : _mm256_slli_epi32(top, 1);
        __m256i acc;
        if (dy) {
          __m256i bottom = LoadValues(r1 + o0, offset);
          bottom = dx ? _mm256_add_epi32(bottom, LoadValues(r1 + o1, offset))
                      : _mm256_slli_epi32(bottom, 1);
          acc = _mm256_add_epi32(top, bottom);
        } else {
          acc = _mm256_slli_epi32(top, 1);
        }
        Finish8(a.epi, params, acc,
                a.y + (static_cast<size_t>(oy) * ow + ox) * a.c * elem, c, n);
      }
    }
  }
}

}  // namespace

const Kernels& Avx2Kernels() {
  static const Kernels kernels{GemmAvx2, DepthwiseAvx2, MapAvx2, AddAvx2,
                               ResizeAvx2};
  return kernels;
}

}  // namespace fxserve::backends::cpu::detector_internal
