// AVX2 kernels (compiled with -mavx2 -mfma; called only when the CPU has
// them). Exact without VNNI:
//   int8: the unsigned codes (0..255) are zero-extended to 16 bits (in
//         place: even bytes by a mask, odd bytes by a shift) and multiplied
//         by sign-extended inputs with vpmaddwd (i16 x i16, pairs summed
//         into i32: no saturation). vpmaddubsw is not used: its 16-bit pair
//         sums of 0..255 x -128..127 products saturate.
//   int4: the nibbles are 0..15, so vpmaddubsw's pair sums stay within
//         +-3840 and two of them within +-7680: exact in i16; vpmaddwd with
//         ones then widens to i32.
//
// Only plain data and intrinsics here (see KernelArgs): no inline code
// that the linker could share with files built for baseline x86-64.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "backends/cpu/int8_matmul.h"

#if !defined(__AVX2__)
#error "build with -mavx2 -mfma"
#endif

namespace fxserve::backends::cpu::int8_matmul_internal {
namespace {

constexpr int kRows = PackedWeights::kPanelRows;
// Tokens per pass over a panel (register budget: 16 ymm); more tokens make
// more passes over the same panel, which is then in L1/L2.
constexpr int kMaxTokens = 4;

// Software prefetch distance along the weight stream (which runs on from
// one panel into the next): worth 10-15% of DRAM bandwidth here; past the
// end of the weights it is a harmless hint.
constexpr int kPrefetchBytes = 4096;

// Prefetches kPrefetchBytes past p; address arithmetic in integers, as the
// target may lie past the end of the weights.
inline void PrefetchAhead(const uint8_t* p) {
  _mm_prefetch(reinterpret_cast<const char*>(reinterpret_cast<uintptr_t>(p) +
                                             kPrefetchBytes),
               _MM_HINT_T0);
}

inline int32_t Load4(const void* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// sums[2 t], sums[2 t + 1]: rows 0..7 and 8..15 of token t's biased dot
// products over the panel. A 32-byte load holds 8 rows x 4 inputs; masking
// and shifting its 16-bit lanes zero-extends the even bytes (inputs 0, 2)
// and the odd bytes (inputs 1, 3) in place, so two vpmaddwd against
// (x0, x2) and (x1, x3) give each row's 4-input sum in its own i32 lane.
template <int kTokens>
void PanelInt8(const uint8_t* w, int padded_in, const int16_t* x16,
               int x_stride, __m256i* sums) {
  __m256i acc[kTokens][2];  // Rows 0..7, 8..15.
  for (int t = 0; t < kTokens; ++t) {
    acc[t][0] = _mm256_setzero_si256();
    acc[t][1] = _mm256_setzero_si256();
  }
  const __m256i low_bytes = _mm256_set1_epi16(0x00FF);
  const int groups = padded_in / 4;
  for (int g = 0; g < groups; ++g) {
    PrefetchAhead(w + g * 64);
    __m256i even[kTokens];  // (x0, x2) repeated, as i16.
    __m256i odd[kTokens];   // (x1, x3).
    for (int t = 0; t < kTokens; ++t) {
      const int16_t* xg = x16 + t * x_stride + 4 * g;
      even[t] = _mm256_set1_epi32(Load4(xg));
      odd[t] = _mm256_set1_epi32(Load4(xg + 2));
    }
    for (int h = 0; h < 2; ++h) {
      const __m256i v = _mm256_loadu_si256(
          reinterpret_cast<const __m256i*>(w + g * 64 + 32 * h));
      const __m256i w_even = _mm256_and_si256(v, low_bytes);
      const __m256i w_odd = _mm256_srli_epi16(v, 8);
      for (int t = 0; t < kTokens; ++t) {
        acc[t][h] = _mm256_add_epi32(
            acc[t][h], _mm256_add_epi32(_mm256_madd_epi16(w_even, even[t]),
                                        _mm256_madd_epi16(w_odd, odd[t])));
      }
    }
  }
  for (int t = 0; t < kTokens; ++t) {
    sums[2 * t] = acc[t][0];
    sums[2 * t + 1] = acc[t][1];
  }
}

template <int kTokens>
void PanelInt4(const uint8_t* w, int padded_in, const int8_t* x, int x_stride,
               __m256i* sums) {
  __m256i acc[kTokens][2];  // Rows 0..7, 8..15.
  for (int t = 0; t < kTokens; ++t) {
    acc[t][0] = _mm256_setzero_si256();
    acc[t][1] = _mm256_setzero_si256();
  }
  const __m256i nibble = _mm256_set1_epi8(0x0F);
  const __m256i ones = _mm256_set1_epi16(1);
  const int chunks = padded_in / 8;
  for (int j = 0; j < chunks; ++j) {
    PrefetchAhead(w + j * 64);
    for (int h = 0; h < 2; ++h) {
      const __m256i v = _mm256_loadu_si256(
          reinterpret_cast<const __m256i*>(w + j * 64 + 32 * h));
      const __m256i lo = _mm256_and_si256(v, nibble);
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), nibble);
      for (int t = 0; t < kTokens; ++t) {
        const int8_t* xj = x + t * x_stride + 8 * j;
        const __m256i pairs = _mm256_add_epi16(
            _mm256_maddubs_epi16(lo, _mm256_set1_epi32(Load4(xj))),
            _mm256_maddubs_epi16(hi, _mm256_set1_epi32(Load4(xj + 4))));
        acc[t][h] = _mm256_add_epi32(acc[t][h], _mm256_madd_epi16(pairs, ones));
      }
    }
  }
  for (int t = 0; t < kTokens; ++t) {
    sums[2 * t] = acc[t][0];
    sums[2 * t + 1] = acc[t][1];
  }
}

void PanelTokens(int bits, int tokens, const uint8_t* w, int padded_in,
                 const int8_t* x, const int16_t* x16, int x_stride,
                 __m256i* sums) {
  if (bits == 8) {
    switch (tokens) {
      case 1:
        return PanelInt8<1>(w, padded_in, x16, x_stride, sums);
      case 2:
        return PanelInt8<2>(w, padded_in, x16, x_stride, sums);
      case 3:
        return PanelInt8<3>(w, padded_in, x16, x_stride, sums);
      default:
        return PanelInt8<4>(w, padded_in, x16, x_stride, sums);
    }
  }
  switch (tokens) {
    case 1:
      return PanelInt4<1>(w, padded_in, x, x_stride, sums);
    case 2:
      return PanelInt4<2>(w, padded_in, x, x_stride, sums);
    case 3:
      return PanelInt4<3>(w, padded_in, x, x_stride, sums);
    default:
      return PanelInt4<4>(w, padded_in, x, x_stride, sums);
  }
}

}  // namespace

void MatMulAvx2(const KernelArgs& a) {
  const int first_panel = a.o_begin / kRows;
  const int last_panel = (a.o_end - 1) / kRows;
  for (int p = first_panel; p <= last_panel; ++p) {
    const uint8_t* panel = a.weights + static_cast<size_t>(p) * a.panel_bytes;
    const int o0 = p * kRows;
    const int r_begin = a.o_begin > o0 ? a.o_begin - o0 : 0;
    const int r_end = a.o_end - o0 < kRows ? a.o_end - o0 : kRows;
    for (int t0 = 0; t0 < a.tokens; t0 += kMaxTokens) {
      const int n = a.tokens - t0 < kMaxTokens ? a.tokens - t0 : kMaxTokens;
      __m256i sums[2 * kMaxTokens];
      const size_t offset = static_cast<size_t>(t0) * a.padded_in;
      PanelTokens(a.bits, n, panel, a.padded_in, a.x + offset,
                  a.bits == 8 ? a.x16 + offset : nullptr, a.padded_in, sums);
      for (int t = 0; t < n; ++t) {
        const __m256i correction = _mm256_set1_epi32(a.correction[t0 + t]);
        const __m256i r0 = _mm256_sub_epi32(sums[2 * t], correction);
        const __m256i r1 = _mm256_sub_epi32(sums[2 * t + 1], correction);
        int32_t* out = a.acc + static_cast<size_t>(t0 + t) * a.acc_stride + o0;
        if (r_begin == 0 && r_end == kRows) {
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), r0);
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 8), r1);
        } else {
          alignas(32) int32_t rows[kRows];
          _mm256_store_si256(reinterpret_cast<__m256i*>(rows), r0);
          _mm256_store_si256(reinterpret_cast<__m256i*>(rows + 8), r1);
          for (int r = r_begin; r < r_end; ++r) out[r] = rows[r];
        }
      }
    }
  }
}

}  // namespace fxserve::backends::cpu::int8_matmul_internal
