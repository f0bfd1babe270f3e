// AVX-512 VNNI kernels (compiled with -mavx512f -mavx512bw -mavx512vl
// -mavx512vnni; called only when the CPU has them). A panel group of 4
// inputs x 16 rows is one zmm of unsigned codes; vpdpbusd multiplies it by
// the token's 4 inputs broadcast (signed) and adds each row's 4 products
// into its int32 lane: exact, since |sum| < 2^31 for padded_in <= 8192.
// int4 chunks are split into their low and high nibbles (already unsigned
// 0..15), two vpdpbusd per 64 bytes.
//
// Only plain data and intrinsics here (see KernelArgs): no inline code
// that the linker could share with files built for baseline x86-64.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "backends/cpu/int8_matmul.h"

#if !defined(__AVX512F__) || !defined(__AVX512BW__) || \
    !defined(__AVX512VL__) || !defined(__AVX512VNNI__)
#error "build with -mavx512f -mavx512bw -mavx512vl -mavx512vnni"
#endif

namespace fxserve::backends::cpu::int8_matmul_internal {
namespace {

constexpr int kRows = PackedWeights::kPanelRows;
// Tokens per pass over a panel; more tokens make more passes over the same
// panel, which is then in L1/L2 (a panel is at most 128 KiB).
constexpr int kMaxTokens = 8;

// Software prefetch distance along the weight stream (which runs on from
// one panel into the next). The hardware prefetchers alone leave ~10% of
// the DRAM bandwidth unused here; past the end of the weights it is a
// harmless hint.
constexpr int kPrefetchBytes = 4096;

// Prefetches kPrefetchBytes past p; address arithmetic in integers, as the
// target may lie past the end of the weights.
inline void PrefetchAhead(const uint8_t* p) {
  _mm_prefetch(reinterpret_cast<const char*>(reinterpret_cast<uintptr_t>(p) +
                                             kPrefetchBytes),
               _MM_HINT_T0);
}

// The 4 signed inputs at p, broadcast to every lane.
inline __m512i Broadcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof(v));
  return _mm512_set1_epi32(v);
}

// sums[t] = the 16 rows' biased dot products for token t, over the panel.
// kUnroll independent accumulators per token hide vpdpbusd's latency when
// there are few tokens; group counts are multiples of 4 (kInAlign = 32).
template <int kBits, int kTokens, int kUnroll>
void Panel(const uint8_t* w, int padded_in, const int8_t* x, int x_stride,
           __m512i* sums) {
  __m512i acc[kTokens][kUnroll];
  for (int t = 0; t < kTokens; ++t) {
    for (int u = 0; u < kUnroll; ++u) acc[t][u] = _mm512_setzero_si512();
  }
  if constexpr (kBits == 8) {
    const int groups = padded_in / 4;
    for (int g = 0; g < groups; g += kUnroll) {
      for (int u = 0; u < kUnroll; ++u) {
        PrefetchAhead(w + (g + u) * 64);
        const __m512i wv = _mm512_loadu_si512(w + (g + u) * 64);
        for (int t = 0; t < kTokens; ++t) {
          acc[t][u] = _mm512_dpbusd_epi32(
              acc[t][u], wv, Broadcast4(x + t * x_stride + 4 * (g + u)));
        }
      }
    }
  } else {
    const __m512i nibble = _mm512_set1_epi8(0x0F);
    const int chunks = padded_in / 8;
    for (int j = 0; j < chunks; j += kUnroll) {
      for (int u = 0; u < kUnroll; ++u) {
        PrefetchAhead(w + (j + u) * 64);
        const __m512i v = _mm512_loadu_si512(w + (j + u) * 64);
        const __m512i lo = _mm512_and_si512(v, nibble);
        const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), nibble);
        for (int t = 0; t < kTokens; ++t) {
          const int8_t* xj = x + t * x_stride + 8 * (j + u);
          acc[t][u] = _mm512_dpbusd_epi32(acc[t][u], lo, Broadcast4(xj));
          acc[t][u] = _mm512_dpbusd_epi32(acc[t][u], hi, Broadcast4(xj + 4));
        }
      }
    }
  }
  for (int t = 0; t < kTokens; ++t) {
    __m512i s = acc[t][0];
    for (int u = 1; u < kUnroll; ++u) s = _mm512_add_epi32(s, acc[t][u]);
    sums[t] = s;
  }
}

template <int kBits>
void PanelTokens(int tokens, const uint8_t* w, int padded_in, const int8_t* x,
                 int x_stride, __m512i* sums) {
  switch (tokens) {
    case 1:
      return Panel<kBits, 1, 4>(w, padded_in, x, x_stride, sums);
    case 2:
      return Panel<kBits, 2, 2>(w, padded_in, x, x_stride, sums);
    case 3:
      return Panel<kBits, 3, 2>(w, padded_in, x, x_stride, sums);
    case 4:
      return Panel<kBits, 4, 1>(w, padded_in, x, x_stride, sums);
    case 5:
      return Panel<kBits, 5, 1>(w, padded_in, x, x_stride, sums);
    case 6:
      return Panel<kBits, 6, 1>(w, padded_in, x, x_stride, sums);
    case 7:
      return Panel<kBits, 7, 1>(w, padded_in, x, x_stride, sums);
    default:
      return Panel<kBits, 8, 1>(w, padded_in, x, x_stride, sums);
  }
}

template <int kBits>
void Run(const KernelArgs& a) {
  const int first_panel = a.o_begin / kRows;
  const int last_panel = (a.o_end - 1) / kRows;
  for (int p = first_panel; p <= last_panel; ++p) {
    const uint8_t* panel = a.weights + static_cast<size_t>(p) * a.panel_bytes;
    const int o0 = p * kRows;
    // Rows of this panel inside [o_begin, o_end).
    const int r_begin = a.o_begin > o0 ? a.o_begin - o0 : 0;
    const int r_end = a.o_end - o0 < kRows ? a.o_end - o0 : kRows;
    const __mmask16 rows =
        static_cast<__mmask16>(((1u << r_end) - 1u) & ~((1u << r_begin) - 1u));
    for (int t0 = 0; t0 < a.tokens; t0 += kMaxTokens) {
      const int n = a.tokens - t0 < kMaxTokens ? a.tokens - t0 : kMaxTokens;
      __m512i sums[kMaxTokens];
      PanelTokens<kBits>(n, panel, a.padded_in,
                         a.x + static_cast<size_t>(t0) * a.padded_in,
                         a.padded_in, sums);
      for (int t = 0; t < n; ++t) {
        const __m512i result =
            _mm512_sub_epi32(sums[t], _mm512_set1_epi32(a.correction[t0 + t]));
        _mm512_mask_storeu_epi32(
            a.acc + static_cast<size_t>(t0 + t) * a.acc_stride + o0, rows,
            result);
      }
    }
  }
}

}  // namespace

void MatMulAvx512Vnni(const KernelArgs& args) {
  if (args.bits == 8) {
    Run<8>(args);
  } else {
    Run<4>(args);
  }
}

}  // namespace fxserve::backends::cpu::int8_matmul_internal
