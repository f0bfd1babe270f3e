// Bit-exact native-integer GPT-2 operations; see int_ops.h. The kernel
// headers are included only for their compile-time constants and tables
// (the same constexpr arrays the hardware holds) and for static_asserts that
// tie the widths below to the kernel configs: no ap_ type is used at run
// time.
#include "backends/cpu/int_ops.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "kernels/attention/attention_head.h"
#include "kernels/common/constexpr_math.h"
#include "kernels/nonlinear/gelu.h"
#include "kernels/nonlinear/softmax.h"
#include "kernels/norm/layer_norm.h"
#include "kernels/norm/rsqrt_lut.h"
#include "kernels/top/gpt2_numerics.h"

namespace fxserve::backends::cpu {
namespace {

namespace gpt2 = ::fxserve::kernels::gpt2;
namespace cmath = ::fxserve::kernels::cmath;

__extension__ typedef __int128 Int128;
__extension__ typedef unsigned __int128 Uint128;

// ---------------------------------------------------------------------------
// Code paths. The operations are written once, as plain loops; on x86-64
// they are compiled a second time inside a target("avx2") function (every
// call flattened into it, so the compiler vectorises them with AVX2), and
// the AVX2 copy runs when the CPU has AVX2. The integer results cannot
// differ; the tests run both.

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define FXSERVE_INT_OPS_AVX2 1
#else
#define FXSERVE_INT_OPS_AVX2 0
#endif

bool CpuHasAvx2() {
#if FXSERVE_INT_OPS_AVX2
  return __builtin_cpu_supports("avx2");
#else
  return false;
#endif
}

// The path in use; -1 until the first call chooses the default.
std::atomic<int> g_path{-1};

IntOpsPath ChosenPath() {
  int path = g_path.load(std::memory_order_relaxed);
  if (path < 0) {
    const char* isa = std::getenv("FXSERVE_CPU_ISA");
    const bool scalar = isa != nullptr && std::string_view(isa) == "scalar";
    path = static_cast<int>(!scalar && CpuHasAvx2() ? IntOpsPath::kAvx2
                                                    : IntOpsPath::kBaseline);
    g_path.store(path, std::memory_order_relaxed);
  }
  return static_cast<IntOpsPath>(path);
}

#if FXSERVE_INT_OPS_AVX2
template <class F>
__attribute__((target("avx2"), flatten)) void RunAvx2(const F& f) {
  f();
}
#endif

// Runs f() on the chosen path.
template <class F>
void Run(const F& f) {
#if FXSERVE_INT_OPS_AVX2
  if (ChosenPath() == IntOpsPath::kAvx2) {
    RunAvx2(f);
    return;
  }
#endif
  f();
}

template <class T>
constexpr int FracBits() {
  return T::width - T::iwidth;
}

// ---------------------------------------------------------------------------
// Shared integer helpers.

// v * 2^-s rounded half to even, for 1 <= s <= 62 and |v| < 2^62 - 2^s.
inline int64_t RoundShift(int64_t v, int s) {
  const int64_t half_minus_one = (int64_t{1} << (s - 1)) - 1;
  return (v + half_minus_one + ((v >> s) & 1)) >> s;
}

inline int64_t Clamp(int64_t v, int64_t lo, int64_t hi) {
  return std::min(hi, std::max(lo, v));
}

// A 7-bit shift register's value (ap_int<7>: -64 .. 63), as the kernels'
// linear_shift_t conversion reads it.
inline int WrapShift(int shift) { return ((shift + 64) & 127) - 64; }

// Requantize(v, s, 8) for |v| < 2^40, s in [-64, 63] (the hot loops' form).
inline int8_t RequantizeInt8(int64_t v, int s) {
  int64_t q;
  if (s > 0) {
    // |v| < 2^40: a shift by more than 41 rounds to 0 either way.
    q = RoundShift(v, std::min(s, 42));
  } else {
    // Any nonzero v saturates once shifted left by 8 or more.
    q = Clamp(v, -256, 256) * (int64_t{1} << std::min(-s, 8));
  }
  return static_cast<int8_t>(Clamp(q, -128, 127));
}

// ---------------------------------------------------------------------------
// LayerNorm constants (kernels/norm/README.md), from the GPT-2 config.

using LnConfig = gpt2::LayerNormConfig<gpt2::Gpt2SmallShape>;
using LnConfigTiny = gpt2::LayerNormConfig<gpt2::Gpt2TinyShape>;
static_assert(LnConfig::kGuardBits == LnConfigTiny::kGuardBits &&
                  LnConfig::kRsqrtLutBits == LnConfigTiny::kRsqrtLutBits &&
                  LnConfig::kRsqrtFracBits == LnConfigTiny::kRsqrtFracBits &&
                  LnConfig::kEpsilon == LnConfigTiny::kEpsilon,
              "one LayerNorm datapath for both shapes");

constexpr int kLnInW = LnConfig::input_t::width;          // 32.
constexpr int kLnInF = FracBits<LnConfig::input_t>();     // 16.
constexpr int kLnG = LnConfig::kGuardBits;                // 4.
constexpr int kLnFy = LnConfig::kRsqrtFracBits;           // 22.
constexpr int kLnFm = kLnFy + 2;                          // 24.
constexpr int kLnL = LnConfig::kRsqrtLutBits;             // 10.
constexpr int kLnNormW = LnConfig::norm_t::width;         // 24.
constexpr int kLnNormF = FracBits<LnConfig::norm_t>();    // 16.
constexpr int kLnGammaF = FracBits<LnConfig::gamma_t>();  // 16.
constexpr int kLnBetaF = FracBits<LnConfig::beta_t>();    // 16.
constexpr int kLnOutW = LnConfig::output_t::width;        // 24.
constexpr int kLnOutF = FracBits<LnConfig::output_t>();   // 14.
constexpr int64_t kLnEpsRaw =
    cmath::RoundToInt(LnConfig::kEpsilon * cmath::Pow2(2 * (kLnInF + kLnG)));
// Fraction bits of z * gamma + beta (exact).
constexpr int kLnAccF = std::max(kLnNormF + kLnGammaF, kLnBetaF);
// Fraction bits of m * y0^2.
constexpr int kLnHf = kLnFm + 2 * kLnFy;

static_assert(kLnEpsRaw ==
              kernels::layer_norm_internal::Derived<LnConfig>::kEpsRaw);
static_assert(kLnInW == 32, "x codes are int32");
static_assert(kLnFy > kLnNormF, "z's rounding is a right shift");
static_assert(kLnAccF > kLnOutF, "y's rounding is a right shift");
static_assert(kLnFy + kLnHf + 2 <= 127, "Newton step fits 128 bits");
// |D| < 2^(W+G) = 2^36 and y < 2^(Fy+2): D * y < 2^62 fits int64.
static_assert(kLnInW + kLnG + kLnFy + 2 <= 62, "D * y fits int64");
// |z| < 2^23, |gamma| < 2^23, |beta| < 2^23.
static_assert(kLnNormW + 23 + 1 < 62 && kLnAccF - kLnBetaF + 24 < 62,
              "z * gamma + beta fits int64");

constexpr const auto& kLnLut = kernels::kRsqrtLut<kLnL, kLnFy>;

// ---------------------------------------------------------------------------
// GELU constants (kernels/nonlinear/README.md).

using GeluConfig = gpt2::GeluConfig<gpt2::Gpt2SmallShape>;
using GeluConfigTiny = gpt2::GeluConfig<gpt2::Gpt2TinyShape>;
static_assert(GeluConfig::kRangeLog2 == GeluConfigTiny::kRangeLog2 &&
                  GeluConfig::kLutBits == GeluConfigTiny::kLutBits &&
                  GeluConfig::kTableFrac == GeluConfigTiny::kTableFrac,
              "one GELU datapath for both shapes");

constexpr int kGeluR = GeluConfig::kRangeLog2;                // 3.
constexpr int kGeluB = GeluConfig::kLutBits;                  // 8.
constexpr int kGeluT = GeluConfig::kTableFrac;                // 16.
constexpr int kGeluInW = GeluConfig::input_t::width;          // 20.
constexpr int kGeluInF = FracBits<GeluConfig::input_t>();     // 12.
constexpr int kGeluOutW = GeluConfig::output_t::width;        // 20.
constexpr int kGeluOutF = FracBits<GeluConfig::output_t>();   // 12.
constexpr int kGeluUWidth = kGeluR + 1 + kGeluInF;            // 16.
constexpr int kGeluTBits = kGeluUWidth - kGeluB;              // 8.
constexpr int kGeluYShift = kGeluT + kGeluTBits - kGeluOutF;  // 12.
static_assert(kGeluYShift >= 1, "the output rounds");
static_assert(kGeluInW <= 32 && kGeluOutW <= 32, "codes fit int32");
static_assert(kGeluInF == kGeluOutF, "identity region keeps the code");

// Segment k: y = base[k] + slope[k] * t at 2^-(T + 8) for t in [0, 256),
// with base = G[k] * 2^8 and slope = G[k+1] - G[k] (the kernel's table G).
struct GeluSegments {
  std::array<int32_t, (1 << kGeluB)> base;
  std::array<int32_t, (1 << kGeluB)> slope;
};
// Table entries lie in [-2^(T+R+1), 2^(T+R+1)) (checked below), so base and
// slope * t fit int32, and the interpolated code never saturates.
static_assert(kGeluT + kGeluR + 1 + kGeluTBits + 1 < 31, "y fits int32");
static_assert(kGeluT + kGeluR + 1 + kGeluTBits - kGeluYShift < kGeluOutW - 1,
              "interpolated GELU codes never saturate");

constexpr GeluSegments MakeGeluSegments() {
  constexpr auto kWide = kernels::MakeGeluTable<kGeluR, kGeluB, kGeluT>();
  for (int k = 0; k <= (1 << kGeluB); ++k) {
    // The kernel reads an entry into ap_fixed<T + R + 2, R + 2>: no bits
    // may be lost there (a throw here fails the compile).
    if (kWide[k] >= (1LL << (kGeluT + kGeluR + 1)) ||
        kWide[k] < -(1LL << (kGeluT + kGeluR + 1))) {
      throw "GELU table entry out of range";
    }
  }
  GeluSegments segments{};
  for (int k = 0; k < (1 << kGeluB); ++k) {
    segments.base[k] = static_cast<int32_t>(kWide[k] * (1LL << kGeluTBits));
    segments.slope[k] = static_cast<int32_t>(kWide[k + 1] - kWide[k]);
  }
  return segments;
}
constexpr GeluSegments kGeluSegments = MakeGeluSegments();

// ---------------------------------------------------------------------------
// Attention constants (attention_head.h, softmax.h).

using AttnConfig = gpt2::AttentionConfig<gpt2::Gpt2SmallShape>;
using SmConfig = AttnConfig::Softmax;
using SmConfigTiny = gpt2::AttentionConfig<gpt2::Gpt2TinyShape>::Softmax;
static_assert(SmConfig::kExpFracBits == SmConfigTiny::kExpFracBits &&
                  SmConfig::kExpBits == SmConfigTiny::kExpBits &&
                  SmConfig::kLog2eBits == SmConfigTiny::kLog2eBits &&
                  SmConfig::kRecipBits == SmConfigTiny::kRecipBits,
              "one softmax datapath for both shapes");
static_assert(kMaxScoreFrac == kernels::kMaxScoreFrac);
static_assert(AttnConfig::qkv_t::width == 8, "q, k, v are int8");

constexpr int kScoreW = SmConfig::input_t::width;       // 18.
constexpr int kScoreF = FracBits<SmConfig::input_t>();  // 10.
constexpr int kSmB = SmConfig::kExpFracBits;            // 10.
constexpr int kSmE = SmConfig::kExpBits;                // 20.
constexpr int kSmL = SmConfig::kLog2eBits;              // 20.
constexpr int kSmK = SmConfig::kRecipBits;              // 24.
constexpr int kProbW = SmConfig::output_t::width;       // 16.
constexpr int kProbF = FracBits<SmConfig::output_t>();  // 15.
constexpr int kCtxW = AttnConfig::out_t::width;         // 16.
constexpr int kCtxF = FracBits<AttnConfig::out_t>();    // 8.
// w = z * log2e is ap_ufixed<kWInt + B, kWInt>, kWInt = dist_t's I + 1.
constexpr int kSmWInt = SmConfig::input_t::iwidth + 2;  // 10.
constexpr int kSmWShift = kScoreF + kSmL - kSmB;        // 20.
// recip = floor(2^K * 2^(E-1) / S) with S the sum at 2^-(E-1).
constexpr int kSmRecipNumLog2 = kSmK + kSmE - 1;  // 43.
// p = e * r at 2^-(E-1+K), into prob_t.
constexpr int kSmProbShift = kSmE - 1 + kSmK - kProbF;  // 28.
// The weighted sum is at prob_t's LSB; ctx_t keeps kCtxF of its bits.
constexpr int kCtxShift = kProbF - kCtxF;  // 7.
constexpr uint32_t kLog2eRaw =
    static_cast<uint32_t>(cmath::RoundToInt(cmath::kLog2E * cmath::Pow2(kSmL)));
static_assert(kSmWShift >= 1 && kSmProbShift >= 1 && kCtxShift >= 1,
              "every conversion rounds by a right shift");
static_assert(kSmRecipNumLog2 <= 62, "the reciprocal's dividend fits int64");
static_assert(kSmE <= 31, "exp entries fit int32");

constexpr std::array<long long, (1 << kSmB)> kExpTable64 =
    kernels::MakeExp2Table<kSmB, kSmE>();
constexpr std::array<int32_t, (1 << kSmB)> MakeExpTable32() {
  std::array<int32_t, (1 << kSmB)> table{};
  for (int k = 0; k < (1 << kSmB); ++k) {
    table[k] = static_cast<int32_t>(kExpTable64[k]);
  }
  return table;
}
constexpr std::array<int32_t, (1 << kSmB)> kExpTable = MakeExpTable32();

constexpr int kMaxHeadDim = 256;  // attention_head.h's kDotW bound.
constexpr int kStackRow = 2048;   // Scores kept on the stack up to this.

// q . k over kD elements (kD = 0: the run-time head_dim), q widened to
// int16 beforehand: a 16 x 16 -> 32-bit dot product (pmaddwd).
template <int kD>
inline int32_t Dot(const int16_t* q, const int8_t* k, int d) {
  const int n = kD > 0 ? kD : d;
  int32_t sum = 0;
  for (int j = 0; j < n; ++j) {
    sum += static_cast<int32_t>(q[j]) *
           static_cast<int32_t>(static_cast<int16_t>(k[j]));
  }
  return sum;
}

// acc[j] += p * v[j] over kD elements, for 0 <= p < 2^15: a 16 x 16-bit
// product widened to 32 bits (pmullw / pmulhw, or vpmovsxbw + vpmulld).
template <int kD>
inline void Axpy(int16_t p, const int8_t* v, int32_t* acc, int d) {
  const int n = kD > 0 ? kD : d;
  for (int j = 0; j < n; ++j) {
    acc[j] += static_cast<int32_t>(p) *
              static_cast<int32_t>(static_cast<int16_t>(v[j]));
  }
}

// acc[j] += p * v[j] for any p < 2^23 (p = 2^15, i.e. 1.0, in practice).
template <int kD>
inline void AxpyWide(int32_t p, const int8_t* v, int32_t* acc, int d) {
  const int n = kD > 0 ? kD : d;
  for (int j = 0; j < n; ++j) acc[j] += p * static_cast<int32_t>(v[j]);
}

// The head's Q(16,8) output codes, o_j passed to sink(j, o_j). Requires
// valid arguments (see AttentionDispatch); row holds `length` int32.
template <int kD, class Sink>
void AttentionHead(const int8_t* q, const int8_t* const* keys,
                   const int8_t* const* values, int length, int head_dim,
                   int score_frac, int32_t* row, Sink sink) {
  const int d = kD > 0 ? kD : head_dim;
  int16_t q16[kD > 0 ? kD : kMaxHeadDim];
  for (int j = 0; j < d; ++j) q16[j] = q[j];

  // Exact dot products: |dot| <= 256 * 2^14 = 2^22.
  for (int t = 0; t < length; ++t) row[t] = Dot<kD>(q16, keys[t], head_dim);

  // Scores in Q(18,10): dot * 2^-score_frac rounded half to even and
  // saturated; and the row's maximum (the kernel's row_max over t < length).
  constexpr int32_t kScoreMax = (int32_t{1} << (kScoreW - 1)) - 1;
  constexpr int32_t kScoreMin = -(int32_t{1} << (kScoreW - 1));
  int32_t row_max = kScoreMin;
  if (score_frac <= kScoreF) {
    // A dot beyond the score range saturates however far it is shifted up,
    // so clamping it first keeps the shift inside int32.
    const int up = kScoreF - score_frac;
    for (int t = 0; t < length; ++t) {
      const int32_t dot = std::min(std::max(row[t], kScoreMin), kScoreMax);
      const int32_t s =
          std::min(std::max(dot * (1 << up), kScoreMin), kScoreMax);
      row[t] = s;
      row_max = std::max(row_max, s);
    }
  } else {
    const int down = score_frac - kScoreF;  // 1 .. 21.
    const int32_t h = (int32_t{1} << (down - 1)) - 1;
    for (int t = 0; t < length; ++t) {
      const int32_t dot = row[t];
      const int32_t r = (dot + h + ((dot >> down) & 1)) >> down;
      const int32_t s = std::min(std::max(r, kScoreMin), kScoreMax);
      row[t] = s;
      row_max = std::max(row_max, s);
    }
  }

  // e_t = X[f_t] >> n_t with w_t = n_t 2^B + f_t = rne(z_t log2e) (into the
  // saturating ap_ufixed w), z_t = max - s_t in [0, 2^18).
  constexpr uint64_t kWMax = (uint64_t{1} << (kSmWInt + kSmB)) - 1;
  constexpr uint64_t kWHalfMinusOne = (uint64_t{1} << (kSmWShift - 1)) - 1;
  int64_t sum = 0;
  for (int t = 0; t < length; ++t) {
    const uint32_t z = static_cast<uint32_t>(row_max - row[t]);
    const uint64_t zl = static_cast<uint64_t>(z) * kLog2eRaw;  // < 2^40.
    const uint64_t w = std::min(
        (zl + kWHalfMinusOne + ((zl >> kSmWShift) & 1)) >> kSmWShift, kWMax);
    // Entries are at most 2^(E-1): a shift by E or more gives 0, as by 31.
    const uint32_t n = std::min(static_cast<uint32_t>(w >> kSmB), 31u);
    const int32_t e = kExpTable[w & ((1 << kSmB) - 1)] >> n;
    row[t] = e;
    sum += e;
  }

  // One reciprocal per row, truncated; sum >= 2^(E-1) (the max's term), so
  // recip <= 2^K; p_t = e_t * recip into prob_t, at most 2^(E-1+K-28) = 2^15.
  const uint64_t recip =
      (uint64_t{1} << kSmRecipNumLog2) / static_cast<uint64_t>(sum);
  constexpr uint64_t kProbMax = (uint64_t{1} << kProbW) - 1;
  constexpr uint64_t kPHalfMinusOne = (uint64_t{1} << (kSmProbShift - 1)) - 1;
  for (int t = 0; t < length; ++t) {
    const uint64_t pr = static_cast<uint64_t>(static_cast<uint32_t>(row[t])) *
                        recip;  // < 2^44.
    row[t] = static_cast<int32_t>(std::min(
        (pr + kPHalfMinusOne + ((pr >> kSmProbShift) & 1)) >> kSmProbShift,
        kProbMax));
  }

  // Weighted sum of v at prob_t's LSB: |acc| <= 128 * sum_t p_t
  // <= 128 * (2^15 + length / 2) < 2^24, so int32 is exact.
  alignas(64) int32_t acc[kD > 0 ? kD : kMaxHeadDim] = {};
  for (int t = 0; t < length; ++t) {
    const int32_t p = row[t];
    if (p == 0) continue;
    if (p < 32768) {
      Axpy<kD>(static_cast<int16_t>(p), values[t], acc, head_dim);
    } else {
      AxpyWide<kD>(p, values[t], acc, head_dim);
    }
  }

  constexpr int64_t kCtxMax = (int64_t{1} << (kCtxW - 1)) - 1;
  constexpr int64_t kCtxMin = -(int64_t{1} << (kCtxW - 1));
  for (int j = 0; j < d; ++j) {
    sink(j, Clamp(RoundShift(acc[j], kCtxShift), kCtxMin, kCtxMax));
  }
}

// Checks the arguments like the kernel (invalid: every o_j is 0), picks
// the row buffer and the head_dim specialisation.
template <class Sink>
void AttentionDispatch(const int8_t* q, const int8_t* const* keys,
                       const int8_t* const* values, int length, int head_dim,
                       int score_frac, Sink sink) {
  if (head_dim < 1) return;
  if (head_dim > kMaxHeadDim || length < 1 || length > kMaxAttentionLength ||
      score_frac < 0 || score_frac > kMaxScoreFrac) {
    for (int j = 0; j < head_dim; ++j) sink(j, 0);
    return;
  }
  int32_t stack_row[kStackRow];
  int32_t* row = stack_row;
  if (length > kStackRow) {
    thread_local std::vector<int32_t> heap_row;
    if (static_cast<int>(heap_row.size()) < length) heap_row.resize(length);
    row = heap_row.data();
  }
  Run([&] {
    switch (head_dim) {
      case 32:
        AttentionHead<32>(q, keys, values, length, head_dim, score_frac, row,
                          sink);
        break;
      case 64:
        AttentionHead<64>(q, keys, values, length, head_dim, score_frac, row,
                          sink);
        break;
      default:
        AttentionHead<0>(q, keys, values, length, head_dim, score_frac, row,
                         sink);
        break;
    }
  });
}

// LayerNorm's Q(24,14) output codes, y_i passed to sink(i, y_i).
template <class Sink>
void LayerNormImpl(const int32_t* x, int n, const int32_t* gamma,
                   const int32_t* beta, Sink sink) {
  if (n < 1) return;
  // 1. One pass: the exact sum of X_i and of X_i^2, the latter from the
  // 16-bit halves X = h 2^16 + l (h signed, l unsigned) so that every
  // product fits 32 bits and the loop vectorises.
  int64_t sum = 0, sum_hh = 0, sum_hl = 0;
  uint64_t sum_ll = 0;
  for (int i = 0; i < n; ++i) {
    const int32_t h = x[i] >> 16;                              // [-2^15, 2^15).
    const uint32_t l = static_cast<uint32_t>(x[i]) & 0xffffu;  // [0, 2^16).
    sum += x[i];
    sum_hh += h * h;                        // <= 2^30.
    sum_hl += h * static_cast<int32_t>(l);  // |.| < 2^31.
    sum_ll += l * l;                        // < 2^32.
  }
  const Int128 sum_sq = Int128{sum_hh} * (Int128{1} << 32) +
                        Int128{sum_hl} * (Int128{1} << 17) +
                        Int128{static_cast<int64_t>(sum_ll)};

  // 2. Mean at 2^-(F+G), rounded half to even, sign-symmetric.
  const int64_t num = sum * (int64_t{1} << kLnG);
  const uint64_t mag = num < 0 ? uint64_t{0} - static_cast<uint64_t>(num)
                               : static_cast<uint64_t>(num);
  const uint64_t un = static_cast<uint64_t>(n);
  uint64_t qm = mag / un;
  const uint64_t rm = mag % un;
  if (2 * rm > un || (2 * rm == un && (qm & 1) != 0)) ++qm;
  const int64_t mean =
      num < 0 ? -static_cast<int64_t>(qm) : static_cast<int64_t>(qm);

  // 3-4. D_i = X_i 2^G - mean (|D_i| < 2^36) and var = floor(sum D_i^2 / n),
  // with sum D_i^2 = 2^2G sum X_i^2 - 2^(G+1) mean sum X_i + n mean^2.
  const Int128 ssq = sum_sq * (Int128{1} << (2 * kLnG)) -
                     Int128{mean} * sum * (Int128{1} << (kLnG + 1)) +
                     Int128{mean} * mean * n;
  const Uint128 v = static_cast<Uint128>(ssq) / un +
                    static_cast<Uint128>(kLnEpsRaw);  // >= 1.

  // 5. v = m 4^half, m in [1, 4) at 2^-Fm (truncated); LUT seed; Newton.
  const uint64_t v_hi = static_cast<uint64_t>(v >> 64);
  const int lead = v_hi != 0 ? 127 - __builtin_clzll(v_hi)
                             : 63 - __builtin_clzll(static_cast<uint64_t>(v));
  const int k = lead & ~1;
  const int half = k >> 1;
  const uint64_t m =
      static_cast<uint64_t>(k >= kLnFm ? v >> (k - kLnFm) : v << (kLnFm - k));
  const int index =
      static_cast<int>(m >> (kLnFm + 2 - kLnL)) - (1 << (kLnL - 2));
  const Uint128 y0 = kLnLut[index];
  // 3 - m y0^2 at 2^-Hf (near 2: positive), halved into one more bit, times
  // y0, rounded half to even into Fy fraction bits.
  const Uint128 c = (Uint128{3} << kLnHf) - Uint128{m} * y0 * y0;
  const Uint128 prod = y0 * c;  // < 2^(Fy + Hf + 2).
  constexpr int kYShift = kLnHf + 1;
  Uint128 yq = prod >> kYShift;
  const Uint128 rest = prod & ((Uint128{1} << kYShift) - 1);
  const Uint128 y_half = Uint128{1} << (kYShift - 1);
  if (rest > y_half || (rest == y_half && (yq & 1) != 0)) ++yq;
  const int64_t y = static_cast<int64_t>(yq);  // < 2^(Fy + 2).

  // 6. z_i = D_i y 2^-half into norm_t, y_i = z_i gamma_i + beta_i into
  // output_t.
  const int z_shift = kLnFy - kLnNormF + half;
  constexpr int64_t kNormMax = (int64_t{1} << (kLnNormW - 1)) - 1;
  constexpr int64_t kNormMin = -(int64_t{1} << (kLnNormW - 1));
  constexpr int64_t kOutMax = (int64_t{1} << (kLnOutW - 1)) - 1;
  constexpr int64_t kOutMin = -(int64_t{1} << (kLnOutW - 1));
  constexpr int kGammaUp = kLnAccF - kLnNormF - kLnGammaF;
  constexpr int kBetaUp = kLnAccF - kLnBetaF;
  constexpr int kOutShift = kLnAccF - kLnOutF;
  for (int i = 0; i < n; ++i) {
    const int64_t d = x[i] * (int64_t{1} << kLnG) - mean;
    const int64_t z = Clamp(RoundShift(d * y, z_shift), kNormMin, kNormMax);
    // z and gamma fit int32: a 32 x 32 -> 64-bit product.
    const int64_t acc =
        int64_t{static_cast<int32_t>(z)} * gamma[i] * (int64_t{1} << kGammaUp) +
        int64_t{beta[i]} * (int64_t{1} << kBetaUp);
    sink(i, Clamp(RoundShift(acc, kOutShift), kOutMin, kOutMax));
  }
}

// GELU's Q(20,12) output code for one input code (its low 20 bits).
inline int32_t GeluOneCode(int32_t x) {
  constexpr int kSext = 32 - kGeluInW;
  constexpr int32_t kOffset = int32_t{1} << (kGeluR + kGeluInF);  // 2^R.
  constexpr int32_t kUMax = (int32_t{1} << kGeluUWidth) - 1;      // < 2^(R+1).
  constexpr int32_t kTMask = (int32_t{1} << kGeluTBits) - 1;
  constexpr int32_t kHalfMinusOne = (int32_t{1} << (kGeluYShift - 1)) - 1;
  // The low 20 bits as a signed code (the kernel's raw -> gelu_t).
  const int32_t xc =
      static_cast<int32_t>(static_cast<uint32_t>(x) << kSext) >> kSext;
  const int32_t u = xc + kOffset;
  // Interpolate at u clamped into the table, then select with masks (no
  // branches, so that the loops vectorise): zero below, identity above.
  const int32_t uc = std::min(std::max(u, 0), kUMax);
  const int k = uc >> kGeluTBits;
  const int32_t y =
      kGeluSegments.base[k] + kGeluSegments.slope[k] * (uc & kTMask);
  const int32_t g =
      (y + kHalfMinusOne + ((y >> kGeluYShift) & 1)) >> kGeluYShift;
  const int32_t inside = -static_cast<int32_t>(u == uc);
  const int32_t above = -static_cast<int32_t>(u > kUMax);
  return (g & inside) | (xc & above);
}

// Requantize(g, s, 8) for s in [1, 30], |g| < 2^30 and h = 2^(s-1) - 1
// (callers cap larger shifts where every code already rounds to 0).
inline int8_t RequantizeRightInt8(int32_t g, int s, int32_t h) {
  const int32_t q = (g + h + ((g >> s) & 1)) >> s;
  return static_cast<int8_t>(std::min(std::max(q, -128), 127));
}

// Requantize(g, -ls, 8) for ls in [0, 64]: any nonzero g saturates once
// shifted by 8 or more, so g is clamped to [-256, 256] and ls to 8 first.
inline int8_t RequantizeLeftInt8(int32_t g, int ls) {
  const int32_t q = std::min(std::max(g, -256), 256) << std::min(ls, 8);
  return static_cast<int8_t>(std::min(std::max(q, -128), 127));
}

// GELU then Requantize(g, shift, 8) of n values (shift in [-64, 63]).
inline void GeluLoop(const int32_t* x, int n, int shift, int8_t* out) {
  if (shift > 0) {
    // |g| < 2^20: a shift of 21 or more rounds every code to 0, like 21.
    const int s = std::min(shift, kGeluOutW + 1);
    const int32_t h = (int32_t{1} << (s - 1)) - 1;
    for (int i = 0; i < n; ++i) {
      out[i] = RequantizeRightInt8(GeluOneCode(x[i]), s, h);
    }
  } else {
    for (int i = 0; i < n; ++i) {
      out[i] = RequantizeLeftInt8(GeluOneCode(x[i]), -shift);
    }
  }
}

}  // namespace

int64_t Requantize(int64_t value, int shift, int out_bits) {
  const int s = WrapShift(shift);
  const Int128 max = (Int128{1} << (out_bits - 1)) - 1;
  const Int128 min = -max - 1;
  Int128 q;
  if (s <= 0) {
    q = Int128{value} * (Int128{1} << -s);  // Exact: |q| <= 2^127.
  } else {
    int64_t r = value >> s;  // Floor.
    const uint64_t rest =
        static_cast<uint64_t>(value) & ((uint64_t{1} << s) - 1);
    const uint64_t half = uint64_t{1} << (s - 1);
    if (rest > half || (rest == half && (r & 1) != 0)) ++r;
    q = r;
  }
  return static_cast<int64_t>(std::min(max, std::max(min, q)));
}

void LayerNormToInt8(const int32_t* x, int n, const int32_t* gamma,
                     const int32_t* beta, int out_shift, int8_t* out) {
  const int shift = WrapShift(out_shift);
  Run([&] {
    LayerNormImpl(x, n, gamma, beta, [out, shift](int i, int64_t y) {
      out[i] = RequantizeInt8(y, shift);
    });
  });
}

void LayerNormCodes(const int32_t* x, int n, const int32_t* gamma,
                    const int32_t* beta, int32_t* y) {
  Run([&] {
    LayerNormImpl(x, n, gamma, beta, [y](int i, int64_t code) {
      y[i] = static_cast<int32_t>(code);
    });
  });
}

void GeluToInt8(const int32_t* x, int n, int out_shift, int8_t* out) {
  const int shift = WrapShift(out_shift);
  Run([=] { GeluLoop(x, n, shift, out); });
}

int32_t GeluCode(int32_t x) { return GeluOneCode(x); }

void AttentionHeadToInt8(const int8_t* q, const int8_t* const* keys,
                         const int8_t* const* values, int length, int head_dim,
                         int score_frac, int ctx_shift, int8_t* out) {
  const int shift = WrapShift(ctx_shift);
  AttentionDispatch(
      q, keys, values, length, head_dim, score_frac,
      [out, shift](int j, int64_t o) { out[j] = RequantizeInt8(o, shift); });
}

void AttentionHeadCodes(const int8_t* q, const int8_t* const* keys,
                        const int8_t* const* values, int length, int head_dim,
                        int score_frac, int32_t* out) {
  AttentionDispatch(
      q, keys, values, length, head_dim, score_frac,
      [out](int j, int64_t o) { out[j] = static_cast<int32_t>(o); });
}

bool IntOpsPathSupported(IntOpsPath path) {
  return path == IntOpsPath::kBaseline || CpuHasAvx2();
}

IntOpsPath ActiveIntOpsPath() { return ChosenPath(); }

bool SetIntOpsPathForTesting(IntOpsPath path) {
  if (!IntOpsPathSupported(path)) return false;
  g_path.store(static_cast<int>(path), std::memory_order_relaxed);
  return true;
}

}  // namespace fxserve::backends::cpu
