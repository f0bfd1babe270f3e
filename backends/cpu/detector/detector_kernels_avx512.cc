// AVX-512 VNNI kernels (compiled with -mavx512f -mavx512bw -mavx512vl
// -mavx512vnni; called only when the CPU has them).
//
// Pointwise convs: a register tile of MR pixels x NB blocks of 16 outputs
// (MR * NB = 24 or 16 accumulators). Per run of 4 inputs, each pixel's 4
// bytes are broadcast (the unsigned operand) and vpdpbusd adds their
// products with the packed weights (the signed operand, 16 outputs x 4
// inputs per zmm) into each output's int32 lane. The products and their
// sums are exact integers; intermediate sums wrap modulo 2^32 at worst and
// the final value fits in int32 (checked per layer when it is planned), so
// the result is the exact sum. Biased int8 activations (u = v + 128) are
// corrected by the folded bias (bias - 128 * sum_i w_i), exact as well.
//
// Depthwise convs: vpdpbusd as well, on 4 taps per dword: the 4 taps' bytes
// of 64 channels of one output (or of 16 channels of 4 outputs, one per
// 128-bit lane) are interleaved with vpunpck{l,h}bw and vpunpck{l,h}wd,
// which puts the channels in a fixed order that the packed weights and
// biases follow and a 4 x 4 transpose of 128-bit lanes undoes. Taps
// outside the map read the code of 0, whose products the folded bias
// cancels.
//
// Epilogues (detector_kernels.h): the fast path multiplies even and odd
// channels' int32 values into int64 lanes (vpmuldq), rounds there and
// merges back; the general path runs 8 channels at a time in int64 lanes.
//
// Only plain data and intrinsics here (see detector_kernels.h): no inline
// code that the linker could share with files built for baseline x86-64.
//
// GCC 12 warns (-Wmaybe-uninitialized at -O2 and up, -Wuninitialized at
// -O1) that the "undefined" pass-through operand of unmasked intrinsics
// such as _mm512_srav_epi64 (_mm512_undefined_epi32) is used
// uninitialized; it is not used (the mask is all ones). GCC 13 no longer
// warns.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "backends/cpu/detector/detector_kernels.h"

#if !defined(__AVX512F__) || !defined(__AVX512BW__) || \
    !defined(__AVX512VL__) || !defined(__AVX512VNNI__)
#error "build with -mavx512f -mavx512bw -mavx512vl -mavx512vnni"
#endif

namespace fxserve::backends::cpu::detector_internal {
namespace {

inline int MinInt(int a, int b) { return a < b ? a : b; }

// Keeps v in a register: GCC would otherwise fuse a vpmov* narrowing with
// the store that follows into its memory-destination form, which some
// CPUs (AMD Zen 4) run several times slower than the two instructions.
template <class V>
inline V InRegister(V v) {
  __asm__("" : "+v"(v));
  return v;
}

// One requantization's registers for 8 channels.
struct Rq {
  __m512i rsh, mask, half, lsh, plo, phi, lo, hi;
};

// An epilogue's registers for 8 channels.
struct Epi8 {
  __m512i mult;
  Rq r1;
  __m512i p3, p6;
  Rq r2;
};

inline __m512i LoadRow(const EpilogueTable& t, int row, int c) {
  return _mm512_loadu_si512(t.rows + static_cast<size_t>(row) * t.c_pad + c);
}

inline Rq LoadRq(const EpilogueTable& t, int first, int c, bool left) {
  Rq r;
  r.rsh = LoadRow(t, first + 0, c);
  r.mask = LoadRow(t, first + 1, c);
  r.half = LoadRow(t, first + 2, c);
  // first + 3 is AVX2's qbias.
  if (left) {
    r.lsh = LoadRow(t, first + 4, c);
    r.plo = LoadRow(t, first + 5, c);
    r.phi = LoadRow(t, first + 6, c);
  } else {
    r.lsh = r.plo = r.phi = _mm512_setzero_si512();
  }
  r.lo = LoadRow(t, first + 7, c);
  r.hi = LoadRow(t, first + 8, c);
  return r;
}

// Channels [c, c + 8) of t (c + 8 <= c_pad).
inline Epi8 LoadEpi8(const EpilogueTable& t, int c) {
  Epi8 e;
  e.mult = LoadRow(t, kRowMult, c);
  e.r1 = LoadRq(t, kRowRsh1, c, t.left1);
  if (t.hswish) {
    e.p3 = LoadRow(t, kRowP3, c);
    e.p6 = LoadRow(t, kRowP6, c);
    e.r2 = LoadRq(t, kRowRsh2, c, t.left2);
  } else {
    e.p3 = e.p6 = _mm512_setzero_si512();
    e.r2 = e.r1;
  }
  return e;
}

inline __m512i Requant(__m512i v, const Rq& r, bool left) {
  const __m512i one = _mm512_set1_epi64(1);
  if (left) v = _mm512_min_epi64(_mm512_max_epi64(v, r.plo), r.phi);
  __m512i q = _mm512_srav_epi64(v, r.rsh);
  const __m512i rb =
      _mm512_add_epi64(_mm512_and_si512(v, r.mask), _mm512_and_si512(q, one));
  const __mmask8 up = _mm512_cmpgt_epi64_mask(rb, r.half);
  q = _mm512_mask_add_epi64(q, up, q, one);
  if (left) q = _mm512_sllv_epi64(q, r.lsh);
  return _mm512_min_epi64(_mm512_max_epi64(q, r.lo), r.hi);
}

// x: 8 values sign-extended to int64.
inline __m512i Apply(__m512i x, const Epi8& e, const EpilogueTable& t) {
  const __m512i v = _mm512_mul_epi32(x, e.mult);
  __m512i y = Requant(v, e.r1, t.left1);
  if (t.hswish) {
    const __m512i r = _mm512_min_epi64(
        _mm512_max_epi64(_mm512_add_epi64(y, e.p3), _mm512_setzero_si512()),
        e.p6);
    const __m512i hr = _mm512_mul_epi32(y, r);  // |h r| < 2^31.
    y = Requant(_mm512_mul_epi32(hr, _mm512_set1_epi64(2730)), e.r2, t.left2);
  }
  return y;
}

// Stores 8 results (int64 lanes) at channel c of row y, lanes in `mask`.
inline void Store8(const EpilogueTable& t, uint8_t* y, int c, __mmask8 mask,
                   __m512i v) {
  if (t.out_kind == kOutInt16) {
    _mm_mask_storeu_epi16(reinterpret_cast<int16_t*>(y) + c, mask,
                          InRegister(_mm512_cvtepi64_epi16(v)));
  } else {
    _mm_mask_storeu_epi8(y + c, mask,
                         InRegister(_mm512_cvtepi64_epi8(_mm512_add_epi64(
                             v, _mm512_set1_epi64(t.offset)))));
  }
}

// The general epilogue of 16 int32 values (channels [c, c + 16), `n` of
// them valid) with both halves' registers loaded.
inline void FinishGeneral16(const EpilogueTable& t, const Epi8& lo,
                            const Epi8& hi, __m512i acc, uint8_t* y, int c,
                            int n) {
  const __mmask8 mlo = static_cast<__mmask8>(n >= 8 ? 0xFF : (1u << n) - 1);
  Store8(t, y, c, mlo,
         Apply(_mm512_cvtepi32_epi64(_mm512_castsi512_si256(acc)), lo, t));
  if (n > 8) {
    const __mmask8 mhi =
        static_cast<__mmask8>(n >= 16 ? 0xFF : (1u << (n - 8)) - 1);
    Store8(
        t, y, c + 8, mhi,
        Apply(_mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(acc, 1)), hi, t));
  }
}

inline __mmask16 Mask16(int n) {
  return static_cast<__mmask16>(n >= 16 ? 0xFFFF : (1u << n) - 1);
}

// The fast path's registers for 16 channels (detector_kernels.h).
struct Fast16 {
  __m512i m, mo, se, so, he, ho, lo1, hi1;
  __m512i p3, p6, s2e, s2o, h2e, h2o, lo2, hi2;
};

// Either path's registers for channels [c, c + 16).
struct Params16 {
  Fast16 f;
  Epi8 lo, hi;
};

inline __m512i FastEntry(const EpilogueTable& t, int c, int e) {
  return _mm512_loadu_si512(
      t.fast + (static_cast<size_t>(c / 16) * kFastEntries + e) * 16);
}

// c: a multiple of 16 (the fast path's blocks), or any channel (general).
inline void LoadParams16(const EpilogueTable& t, int c, Params16* p) {
  if (t.fast == nullptr) {
    p->lo = LoadEpi8(t, c);
    p->hi = LoadEpi8(t, c + 8);
    return;
  }
  Fast16& f = p->f;
  f.m = FastEntry(t, c, kFastM);
  f.mo = _mm512_srli_epi64(f.m, 32);
  f.se = FastEntry(t, c, kFastSe);
  f.so = FastEntry(t, c, kFastSo);
  f.he = FastEntry(t, c, kFastHe);
  f.ho = FastEntry(t, c, kFastHo);
  f.lo1 = FastEntry(t, c, kFastLo1);
  f.hi1 = FastEntry(t, c, kFastHi1);
  if (t.hswish) {
    f.p3 = FastEntry(t, c, kFastP3);
    f.p6 = FastEntry(t, c, kFastP6);
    f.s2e = FastEntry(t, c, kFastS2e);
    f.s2o = FastEntry(t, c, kFastS2o);
    f.h2e = FastEntry(t, c, kFastH2e);
    f.h2o = FastEntry(t, c, kFastH2o);
    f.lo2 = FastEntry(t, c, kFastLo2);
    f.hi2 = FastEntry(t, c, kFastHi2);
  }
}

// rne(v / 2^s) for |v| < 2^48, 1 <= s <= 49: (v + hm1 + ((v >> s) & 1)) >> s.
inline __m512i Round64(__m512i v, __m512i s, __m512i hm1) {
  const __m512i odd =
      _mm512_and_si512(_mm512_srav_epi64(v, s), _mm512_set1_epi64(1));
  return _mm512_srav_epi64(_mm512_add_epi64(_mm512_add_epi64(v, hm1), odd), s);
}

// clamp(rne(x * m / 2^s)) of 16 int32 lanes: even and odd lanes multiply
// into int64 (vpmuldq reads each 64-bit lane's low half), round, and merge
// back (each result fits in int32).
inline __m512i Stage16(__m512i x, __m512i m, __m512i mo, __m512i se, __m512i so,
                       __m512i he, __m512i ho, __m512i lo, __m512i hi) {
  const __m512i e = Round64(_mm512_mul_epi32(x, m), se, he);
  const __m512i o =
      Round64(_mm512_mul_epi32(_mm512_srli_epi64(x, 32), mo), so, ho);
  const __m512i r =
      _mm512_mask_blend_epi32(0xAAAA, e, _mm512_slli_epi64(o, 32));
  return _mm512_min_epi32(_mm512_max_epi32(r, lo), hi);
}

inline void FinishFast16(const EpilogueTable& t, const Fast16& f, __m512i acc,
                         uint8_t* y, int c, int n) {
  __m512i v = Stage16(acc, f.m, f.mo, f.se, f.so, f.he, f.ho, f.lo1, f.hi1);
  if (t.hswish) {
    const __m512i r = _mm512_min_epi32(
        _mm512_max_epi32(_mm512_add_epi32(v, f.p3), _mm512_setzero_si512()),
        f.p6);
    const __m512i sixth = _mm512_set1_epi32(2730);
    v = Stage16(_mm512_mullo_epi32(v, r), sixth, sixth, f.s2e, f.s2o, f.h2e,
                f.h2o, f.lo2, f.hi2);
  }
  if (t.out_kind == kOutInt16) {
    const __m256i w = InRegister(_mm512_cvtepi32_epi16(v));
    int16_t* out = reinterpret_cast<int16_t*>(y) + c;
    if (n >= 16) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), w);
    } else {
      _mm256_mask_storeu_epi16(out, Mask16(n), w);
    }
  } else {
    const __m128i b = InRegister(
        _mm512_cvtepi32_epi8(_mm512_add_epi32(v, _mm512_set1_epi32(t.offset))));
    if (n >= 16) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(y + c), b);
    } else {
      _mm_mask_storeu_epi8(y + c, Mask16(n), b);
    }
  }
}

// The epilogue of 16 int32 values (channels [c, c + 16), n of them valid)
// into output row y.
inline void Finish16(const EpilogueTable& t, const Params16& p, __m512i acc,
                     uint8_t* y, int c, int n) {
  if (t.fast != nullptr) {
    FinishFast16(t, p.f, acc, y, c, n);
  } else {
    FinishGeneral16(t, p.lo, p.hi, acc, y, c, n);
  }
}

inline __m512i Broadcast4(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof(v));
  return _mm512_set1_epi32(v);
}

// Output group `g` (blocks 4g .. 4g + NB - 1) for all rows.
template <int NB, int MR>
void GemmGroup(const GemmArgs& a, int g) {
  const int k4 = (a.k + 3) & ~3;
  const int runs = k4 / 4;
  const int8_t* w =
      static_cast<const int8_t*>(a.w_packed) + static_cast<size_t>(g) * k4 * 64;
  const int c_base = g * 64;
  __m512i bias[NB];
  for (int b = 0; b < NB; ++b) {
    bias[b] = _mm512_loadu_si512(a.bias_folded + c_base + 16 * b);
  }
  for (int m = 0; m < a.rows; m += MR) {
    // The accumulators are indexed by constants only (fully unrolled), so
    // they stay in registers; the epilogue reads a copy.
    __m512i acc[MR][NB];
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 4
      for (int b = 0; b < NB; ++b) acc[i][b] = bias[b];
    }
    const uint8_t* x = a.x + m * a.x_stride;
    const int8_t* wj = w;
    for (int j = 0; j < runs; ++j, wj += NB * 64) {
      __m512i wv[NB];
#pragma GCC unroll 4
      for (int b = 0; b < NB; ++b) wv[b] = _mm512_loadu_si512(wj + b * 64);
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) {
        const __m512i xb = Broadcast4(x + i * a.x_stride + 4 * j);
#pragma GCC unroll 4
        for (int b = 0; b < NB; ++b) {
          acc[i][b] = _mm512_dpbusd_epi32(acc[i][b], xb, wv[b]);
        }
      }
    }
    __m512i out[MR][NB];
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 4
      for (int b = 0; b < NB; ++b) out[i][b] = acc[i][b];
    }
    const int valid = MinInt(MR, a.rows - m);
    for (int b = 0; b < NB; ++b) {
      const int c = c_base + 16 * b;
      const int n = MinInt(16, a.n - c);
      if (n <= 0) break;
      Params16 params;
      LoadParams16(a.epi, c, &params);
      for (int i = 0; i < valid; ++i) {
        Finish16(a.epi, params, out[i][b], a.y + (m + i) * a.y_stride, c, n);
      }
    }
  }
}

void GemmAvx512(const GemmArgs& a) {
  const int blocks = (a.n + 15) / 16;
  for (int g = 0; 4 * g < blocks; ++g) {
    switch (MinInt(4, blocks - 4 * g)) {
      case 4:
        GemmGroup<4, 6>(a, g);
        break;
      case 3:
        GemmGroup<3, 8>(a, g);
        break;
      case 2:
        GemmGroup<2, 12>(a, g);
        break;
      default:
        GemmGroup<1, 16>(a, g);
        break;
    }
  }
}

// 16 bytes at p (n valid) as int32 values minus offset.
inline __m512i LoadValues(const uint8_t* p, int n, __m512i offset) {
  const __m128i b = _mm_maskz_loadu_epi8(Mask16(n), p);
  return _mm512_sub_epi32(_mm512_cvtepu8_epi32(b), offset);
}

// The tap pointers (channel 0) of outputs (oy, ox0 .. ox0 + 3), `stride`
// per pixel: taps outside the map, past k * k or of pixels past the row
// point at the padding codes. `offsets`: each tap's offset from the
// window's first pixel, for windows inside the map.
inline void BlockTaps(const DepthwiseArgs& a, int oy, int ox0, int stride,
                      const ptrdiff_t* offsets, const uint8_t** taps) {
  const int iy0 = oy * a.stride - a.pad_y;
  const int kk = a.k * a.k;
  const bool rows_inside = iy0 >= 0 && iy0 + a.k <= a.h;
  for (int p = 0; p < 4; ++p) {
    const uint8_t** t = taps + p * stride;
    const int ox = ox0 + p;
    const int ix0 = ox * a.stride - a.pad_x;
    int i = 0;
    if (ox >= a.ow) {
      // No output: every tap pads.
    } else if (rows_inside && ix0 >= 0 && ix0 + a.k <= a.w) {
      const uint8_t* base = a.x + (static_cast<size_t>(iy0) * a.w + ix0) * a.c;
      for (; i < kk; ++i) t[i] = base + offsets[i];
    } else {
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
    }
    for (; i < stride; ++i) t[i] = a.pad;
  }
}

// q_j's 128-bit lane L holds item L's 4 values j (channels 4 j .. 4 j + 3
// of a chunk of 16): transpose the 4 x 4 lanes so that n[L] holds item L's
// 16 channels in order.
inline void Transpose4x4Lanes(__m512i q0, __m512i q1, __m512i q2, __m512i q3,
                              __m512i* n) {
  const __m512i t0 = _mm512_shuffle_i64x2(q0, q1, _MM_SHUFFLE(1, 0, 1, 0));
  const __m512i t1 = _mm512_shuffle_i64x2(q2, q3, _MM_SHUFFLE(1, 0, 1, 0));
  const __m512i t2 = _mm512_shuffle_i64x2(q0, q1, _MM_SHUFFLE(3, 2, 3, 2));
  const __m512i t3 = _mm512_shuffle_i64x2(q2, q3, _MM_SHUFFLE(3, 2, 3, 2));
  n[0] = _mm512_shuffle_i64x2(t0, t1, _MM_SHUFFLE(2, 0, 2, 0));
  n[1] = _mm512_shuffle_i64x2(t0, t1, _MM_SHUFFLE(3, 1, 3, 1));
  n[2] = _mm512_shuffle_i64x2(t2, t3, _MM_SHUFFLE(2, 0, 2, 0));
  n[3] = _mm512_shuffle_i64x2(t2, t3, _MM_SHUFFLE(3, 1, 3, 1));
}

// Four taps' 64 byte vectors to vpdpbusd's 4 dword vectors (each dword: the
// 4 taps' bytes of one channel; see detector_kernels.h) and accumulated.
inline void Quad(__m512i ta, __m512i tb, __m512i tc, __m512i td, __m512i w0,
                 __m512i w1, __m512i w2, __m512i w3, __m512i* q) {
  const __m512i ab_lo = _mm512_unpacklo_epi8(ta, tb);
  const __m512i ab_hi = _mm512_unpackhi_epi8(ta, tb);
  const __m512i cd_lo = _mm512_unpacklo_epi8(tc, td);
  const __m512i cd_hi = _mm512_unpackhi_epi8(tc, td);
  q[0] = _mm512_dpbusd_epi32(q[0], _mm512_unpacklo_epi16(ab_lo, cd_lo), w0);
  q[1] = _mm512_dpbusd_epi32(q[1], _mm512_unpackhi_epi16(ab_lo, cd_lo), w1);
  q[2] = _mm512_dpbusd_epi32(q[2], _mm512_unpacklo_epi16(ab_hi, cd_hi), w2);
  q[3] = _mm512_dpbusd_epi32(q[3], _mm512_unpackhi_epi16(ab_hi, cd_hi), w3);
}

// 16 bytes of channel c of 4 pixels' tap pointers, one per 128-bit lane.
inline __m512i Load4Pixels(const uint8_t* const* taps, int stride, int c) {
  __m512i v = _mm512_castsi128_si512(
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(taps[0] + c)));
  v = _mm512_inserti32x4(
      v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(taps[stride] + c)),
      1);
  v = _mm512_inserti32x4(
      v,
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(taps[2 * stride] + c)),
      2);
  v = _mm512_inserti32x4(
      v,
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(taps[3 * stride] + c)),
      3);
  return v;
}

inline __m512i Broadcast16(const int8_t* p) {
  return _mm512_broadcast_i32x4(
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

void DepthwiseAvx512(const DepthwiseArgs& a) {
  const size_t elem = a.epi.out_kind == kOutInt16 ? 2 : 1;
  const size_t pixel_bytes = a.c * elem;
  const int quads = (a.k * a.k + 3) / 4;
  const int stride = 4 * quads;  // Tap pointers per pixel.
  const int groups = a.c / 64;
  const int8_t* w_chunks = static_cast<const int8_t*>(a.w_packed) +
                           static_cast<size_t>(groups) * quads * 256;
  // a.taps: the tap offsets, then 4 pixels' tap pointers.
  ptrdiff_t* offsets = reinterpret_cast<ptrdiff_t*>(a.taps);
  for (int ky = 0, i = 0; ky < a.k; ++ky) {
    for (int kx = 0; kx < a.k; ++kx, ++i) {
      offsets[i] = (static_cast<ptrdiff_t>(ky) * a.w + kx) * a.c;
    }
  }
  const uint8_t** taps = a.taps + kMaxDepthwiseTaps;
  for (int oy = a.oy_begin; oy < a.oy_end; ++oy) {
    uint8_t* row = a.y + static_cast<size_t>(oy) * a.ow * pixel_bytes;
    for (int ox0 = 0; ox0 < a.ow; ox0 += 4) {
      BlockTaps(a, oy, ox0, stride, offsets, taps);
      const int pixels = MinInt(4, a.ow - ox0);
      // Whole groups of 64 channels, one pixel at a time.
      for (int g = 0; g < groups; ++g) {
        const int c0 = 64 * g;
        Params16 epi[4];
        __m512i bias[4];
        for (int j = 0; j < 4; ++j) {
          bias[j] = _mm512_loadu_si512(a.bias_packed + 64 * g + 16 * j);
          LoadParams16(a.epi, c0 + 16 * j, &epi[j]);
        }
        const int8_t* w0 = static_cast<const int8_t*>(a.w_packed) +
                           static_cast<size_t>(g) * quads * 256;
        for (int p = 0; p < pixels; ++p) {
          const uint8_t* const* t = taps + p * stride;
          __m512i q[4] = {bias[0], bias[1], bias[2], bias[3]};
          const int8_t* w = w0;
          for (int j = 0; j < quads; ++j, t += 4, w += 256) {
            Quad(_mm512_loadu_si512(t[0] + c0), _mm512_loadu_si512(t[1] + c0),
                 _mm512_loadu_si512(t[2] + c0), _mm512_loadu_si512(t[3] + c0),
                 _mm512_loadu_si512(w), _mm512_loadu_si512(w + 64),
                 _mm512_loadu_si512(w + 128), _mm512_loadu_si512(w + 192), q);
          }
          __m512i n[4];
          Transpose4x4Lanes(q[0], q[1], q[2], q[3], n);
          uint8_t* y = row + (ox0 + p) * pixel_bytes;
          for (int j = 0; j < 4; ++j) {
            Finish16(a.epi, epi[j], n[j], y, c0 + 16 * j, 16);
          }
        }
      }
      // The remaining chunks of 16 channels, the 4 pixels at once (one per
      // 128-bit lane).
      for (int c = 64 * groups, i = 0; c < a.c; c += 16, ++i) {
        const int n_valid = MinInt(16, a.c - c);
        Params16 epi;
        LoadParams16(a.epi, c, &epi);
        __m512i q[4];
        for (int j = 0; j < 4; ++j) {
          q[j] = _mm512_loadu_si512(a.bias_packed + 64 * (groups + i) + 16 * j);
        }
        const uint8_t* const* t = taps;
        const int8_t* w = w_chunks + static_cast<size_t>(i) * quads * 64;
        for (int j = 0; j < quads; ++j, t += 4, w += 64) {
          Quad(Load4Pixels(t, stride, c), Load4Pixels(t + 1, stride, c),
               Load4Pixels(t + 2, stride, c), Load4Pixels(t + 3, stride, c),
               Broadcast16(w), Broadcast16(w + 16), Broadcast16(w + 32),
               Broadcast16(w + 48), q);
        }
        __m512i n[4];
        Transpose4x4Lanes(q[0], q[1], q[2], q[3], n);
        for (int p = 0; p < pixels; ++p) {
          Finish16(a.epi, epi, n[p], row + (ox0 + p) * pixel_bytes, c, n_valid);
        }
      }
    }
  }
}

void MapAvx512(const MapArgs& a) {
  const __m512i offset = _mm512_set1_epi32(a.x_offset);
  for (int i = 0; i < a.c; i += 16) {
    const int n = MinInt(16, a.c - i);
    Params16 params;
    LoadParams16(a.epi, i, &params);
    uint8_t* y = a.y + (a.epi.out_kind == kOutInt16 ? 2 : 1) * a.c0;
    for (int p = 0; p < a.pixels; ++p) {
      const __m512i v = LoadValues(a.x + p * a.x_stride + i, n, offset);
      Finish16(a.epi, params, v, y + p * a.y_stride, i, n);
    }
  }
}

void AddAvx512(const AddArgs& a) {
  const size_t elem = a.epi.out_kind == kOutInt16 ? 2 : 1;
  const __m512i oa = _mm512_set1_epi32(a.a_offset);
  const __m512i ob = _mm512_set1_epi32(a.b_offset);
  for (int c = 0; c < a.c; c += 16) {
    const int n = MinInt(16, a.c - c);
    Params16 params;
    LoadParams16(a.epi, c, &params);
    const __m512i sa = _mm512_loadu_si512(a.sa + c);
    const __m512i sb = _mm512_loadu_si512(a.sb + c);
    for (int p = 0; p < a.pixels; ++p) {
      const size_t at = static_cast<size_t>(p) * a.c + c;
      const __m512i va = _mm512_sllv_epi32(LoadValues(a.a + at, n, oa), sa);
      const __m512i vb = _mm512_sllv_epi32(LoadValues(a.b + at, n, ob), sb);
      Finish16(a.epi, params, _mm512_add_epi32(va, vb),
               a.y + static_cast<size_t>(p) * a.c * elem, c, n);
    }
  }
}

void ResizeAvx512(const ResizeArgs& a) {
  const size_t elem = a.epi.out_kind == kOutInt16 ? 2 : 1;
  const __m512i offset = _mm512_set1_epi32(a.x_offset);
  const int ow = 2 * a.w;
  for (int oy = a.oy_begin; oy < a.oy_end; ++oy) {
    const int y0 = oy >> 1, y1 = MinInt(y0 + 1, a.h - 1), dy = oy & 1;
    const uint8_t* r0 = a.x + static_cast<size_t>(y0) * a.w * a.c;
    const uint8_t* r1 = a.x + static_cast<size_t>(y1) * a.w * a.c;
    for (int c = 0; c < a.c; c += 16) {
      const int n = MinInt(16, a.c - c);
      Params16 params;
      LoadParams16(a.epi, c, &params);
      for (int ox = 0; ox < ow; ++ox) {
        const int x0 = ox >> 1, x1 = MinInt(x0 + 1, a.w - 1), dx = ox & 1;
        const size_t o0 = static_cast<size_t>(x0) * a.c + c;
        const size_t o1 = static_cast<size_t>(x1) * a.c + c;
        // Weights in halves: (2 - d, d) per axis.
        __m512i top = LoadValues(r0 + o0, n, offset);
        top = dx ? _mm512_add_epi32(top, LoadValues(r0 + o1, n, offset))
                 : _mm512_slli_epi32(top, 1);
        __m512i acc;
        if (dy) {
          __m512i bottom = LoadValues(r1 + o0, n, offset);
          bottom = dx ? _mm512_add_epi32(bottom, LoadValues(r1 + o1, n, offset))
                      : _mm512_slli_epi32(bottom, 1);
          acc = _mm512_add_epi32(top, bottom);
        } else {
          acc = _mm512_slli_epi32(top, 1);
        }
        Finish16(a.epi, params, acc,
                 a.y + (static_cast<size_t>(oy) * ow + ox) * a.c * elem, c, n);
      }
    }
  }
}

}  // namespace

const Kernels& Avx512VnniKernels() {
  static const Kernels kernels{GemmAvx512, DepthwiseAvx512, MapAvx512,
                               AddAvx512, ResizeAvx512};
  return kernels;
}

}  // namespace fxserve::backends::cpu::detector_internal
