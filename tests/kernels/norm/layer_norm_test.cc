// The integer LayerNorm kernel against (1) a double-precision LayerNorm, with
// a measured error bound in output LSBs, (2) an independent integer model of
// the spec in kernels/norm/README.md written with plain 128-bit integers and
// libm's sqrt, bit for bit, and (3) golden raw outputs pinned in this file.
#include "kernels/norm/layer_norm.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

#include "kernels/norm/rsqrt_lut.h"

namespace {

using fxserve::kernels::kRsqrtLut;
using fxserve::kernels::LayerNorm;
using fxserve::kernels::LayerNormConfigGpt2;
using fxserve::kernels::RsqrtLutSize;

__extension__ typedef __int128 i128;

// The LUT is a compile-time constant: these fail the build, not the run.
static_assert(kRsqrtLut<10, 22>.size() == 768);
static_assert(kRsqrtLut<10, 22>[0] == 4190214);    // 2^22/sqrt(1 + 2^-9).
static_assert(kRsqrtLut<10, 22>[767] == 2097664);  // 2^22/sqrt(4 - 2^-9).
static_assert(kRsqrtLut<10, 18>[0] == 261888);     // 2^18/sqrt(1 + 2^-9).
static_assert(kRsqrtLut<6, 12>[0] == 4033);        // 2^12/sqrt(1 + 2^-5).

// d_model 128, a coarser LUT (8 bits), 10 guard bits, 8 lanes.
struct Config128 {
  using input_t = ap_fixed<16, 6>;                        // x_i.
  using gamma_t = ap_fixed<16, 4>;                        // gamma_i.
  using beta_t = ap_fixed<16, 4>;                         // beta_i.
  using norm_t = ap_fixed<20, 5, AP_RND_CONV, AP_SAT>;    // z_i.
  using output_t = ap_fixed<16, 6, AP_RND_CONV, AP_SAT>;  // y_i.
  static constexpr int kN = 128;                          // Elements.
  static constexpr int kGuardBits = 10;                   // Mean guard bits.
  static constexpr int kRsqrtLutBits = 8;                 // LUT index bits.
  static constexpr int kRsqrtFracBits = 16;               // 1/sqrt bits.
  static constexpr double kEpsilon = 1e-5;                // eps.
  static constexpr int kUnroll = 8;                       // Lanes.
};

// Small config for golden vectors: kN = 12 (not a power of two, so the
// mean's division rounds), 8-bit types, eps = 1 LSB of the variance.
struct Config12 {
  using input_t = ap_fixed<8, 4>;                        // x_i, 2^-4.
  using gamma_t = ap_fixed<8, 2>;                        // gamma_i, 2^-6.
  using beta_t = ap_fixed<8, 2>;                         // beta_i, 2^-6.
  using norm_t = ap_fixed<16, 4, AP_RND_CONV, AP_SAT>;   // z_i, 2^-12.
  using output_t = ap_fixed<8, 3, AP_RND_CONV, AP_SAT>;  // y_i, 2^-5.
  static constexpr int kN = 12;                          // Elements.
  static constexpr int kGuardBits = 4;                   // Mean guard bits.
  static constexpr int kRsqrtLutBits = 6;                // LUT index bits.
  static constexpr int kRsqrtFracBits = 12;              // 1/sqrt bits.
  static constexpr double kEpsilon = 1e-5;               // -> 1 * 2^-16.
  static constexpr int kUnroll = 2;                      // Lanes.
};

// Config12 with one guard bit: kN = 4 * 3 has more factors of 2 than
// kGuardBits, so the mean's division can tie (2 * remainder == kN) and its
// half-to-even rule is observable. eps = 2^-10 exactly (1 LSB).
struct Config12Tie {
  using input_t = ap_fixed<8, 4>;                        // x_i, 2^-4.
  using gamma_t = ap_fixed<8, 2>;                        // gamma_i, 2^-6.
  using beta_t = ap_fixed<8, 2>;                         // beta_i, 2^-6.
  using norm_t = ap_fixed<16, 4, AP_RND_CONV, AP_SAT>;   // z_i, 2^-12.
  using output_t = ap_fixed<8, 3, AP_RND_CONV, AP_SAT>;  // y_i, 2^-5.
  static constexpr int kN = 12;                          // Elements.
  static constexpr int kGuardBits = 1;                   // Mean at 2^-5.
  static constexpr int kRsqrtLutBits = 6;                // LUT index bits.
  static constexpr int kRsqrtFracBits = 12;              // 1/sqrt bits.
  static constexpr double kEpsilon = 0.0009765625;       // 2^-10.
  static constexpr int kUnroll = 4;                      // Lanes.
};

template <class T>
constexpr int FracBits() {
  return T::width - T::iwidth;
}

// The raw code of an ap_fixed as a signed 64-bit integer.
template <class T>
int64_t Raw(T x) {
  ap_int<T::width> r;
  r = x.range(T::width - 1, 0);
  return r.to_int64();
}

// An ap_fixed with the given raw code.
template <class T>
T FromRaw(int64_t raw) {
  T x;
  x.range(T::width - 1, 0) = ap_int<T::width>(raw);
  return x;
}

// floor(a / 2^s) rounded half to even, for s >= 0.
i128 RoundShiftEven(i128 a, int s) {
  if (s <= 0) return a * (i128{1} << -s);
  const i128 one = i128{1} << s;
  i128 q = a >> s;  // Floor (arithmetic shift).
  const i128 r = a - q * one;
  const i128 half = one >> 1;
  if (r > half || (r == half && (q & 1) != 0)) ++q;
  return q;
}

i128 Clamp(i128 v, int width) {
  const i128 hi = (i128{1} << (width - 1)) - 1;
  const i128 lo = -(i128{1} << (width - 1));
  return std::min(hi, std::max(lo, v));
}

// An independent model of the spec (README.md): raw integers only, LUT
// from libm's sqrt, no ap types. Returns the raw output codes.
template <class Config>
std::vector<int64_t> IntegerModel(const std::vector<int64_t>& x,
                                  const std::vector<int64_t>& g,
                                  const std::vector<int64_t>& b) {
  const int n = Config::kN;
  const int f_in = FracBits<typename Config::input_t>();
  const int guard = Config::kGuardBits;
  const int fy = Config::kRsqrtFracBits;
  const int fm = fy + 2;
  const int lut_bits = Config::kRsqrtLutBits;
  const int fz = FracBits<typename Config::norm_t>();
  const int fg = FracBits<typename Config::gamma_t>();
  const int fb = FracBits<typename Config::beta_t>();
  const int fo = FracBits<typename Config::output_t>();
  const i128 eps = static_cast<i128>(
      std::llround(Config::kEpsilon * std::ldexp(1.0, 2 * (f_in + guard))));
  // 1. Sum.  2. Mean, half to even, sign-symmetric.
  i128 sum = 0;
  for (int64_t v : x) sum += v;
  const i128 num = sum * (i128{1} << guard);
  const i128 mag = num < 0 ? -num : num;
  i128 q = mag / n;
  const i128 r = mag % n;
  if (2 * r > n || (2 * r == n && (q & 1) != 0)) ++q;
  const i128 mean = num < 0 ? -q : q;
  // 3-4. d_i, variance floored.
  std::vector<i128> d(n);
  i128 ssq = 0;
  for (int i = 0; i < n; ++i) {
    d[i] = x[i] * (i128{1} << guard) - mean;
    ssq += d[i] * d[i];
  }
  const i128 v = ssq / n + eps;
  // 5. v = m * 2^k, k even, m in [1, 4) kept at 2^-fm (truncated).
  int lead = 0;
  while ((v >> (lead + 1)) != 0) ++lead;
  const int k = lead & ~1;
  const i128 m = k >= fm ? v >> (k - fm) : v << (fm - k);
  const int index =
      static_cast<int>(m >> (fm + 2 - lut_bits)) - (1 << (lut_bits - 2));
  const double mid = 1.0 + (index + 0.5) * std::ldexp(1.0, 2 - lut_bits);
  const i128 y0 =
      static_cast<i128>(std::round(std::ldexp(1.0, fy) / std::sqrt(mid)));
  const int hf = fm + 2 * fy;  // Fraction bits of m * y0^2.
  const i128 c = 3 * (i128{1} << hf) - m * y0 * y0;
  const i128 y = RoundShiftEven(y0 * c, hf + 1);
  // 6. z_i at 2^-fz, then y_i.
  const int fc = std::max(fz + fg, fb);
  std::vector<int64_t> out(n);
  for (int i = 0; i < n; ++i) {
    const i128 z =
        Clamp(RoundShiftEven(d[i] * y, fy + k / 2 - fz), Config::norm_t::width);
    const i128 acc = z * g[i] * (i128{1} << (fc - fz - fg)) +
                     i128{b[i]} * (i128{1} << (fc - fb));
    out[i] = static_cast<int64_t>(
        Clamp(RoundShiftEven(acc, fc - fo), Config::output_t::width));
  }
  return out;
}

// One LayerNorm problem: ap-typed arrays plus their raw codes.
template <class Config>
struct Problem {
  std::vector<typename Config::input_t> in;
  std::vector<typename Config::gamma_t> gamma;
  std::vector<typename Config::beta_t> beta;
  std::vector<typename Config::output_t> out;

  Problem()
      : in(Config::kN), gamma(Config::kN), beta(Config::kN), out(Config::kN) {}

  void Run() {
    LayerNorm<Config>(in.data(), gamma.data(), beta.data(), out.data());
  }
  std::vector<int64_t> RawIn() const { return Raws(in); }
  std::vector<int64_t> RawGamma() const { return Raws(gamma); }
  std::vector<int64_t> RawBeta() const { return Raws(beta); }
  std::vector<int64_t> RawOut() const { return Raws(out); }
  std::vector<int64_t> Model() const {
    return IntegerModel<Config>(RawIn(), RawGamma(), RawBeta());
  }

  template <class T>
  static std::vector<int64_t> Raws(const std::vector<T>& v) {
    std::vector<int64_t> r;
    for (const T& e : v) r.push_back(Raw(e));
    return r;
  }
};

// Largest finite value of an ap_fixed type, as a double.
template <class T>
double MaxOf() {
  return std::ldexp(std::ldexp(1.0, T::width - 1) - 1, -FracBits<T>());
}
template <class T>
double MinOf() {
  return -std::ldexp(1.0, T::iwidth - 1);
}

// Errors of the kernel against double LayerNorm, in output LSBs. The
// reference is clamped to output_t's range (the kernel saturates).
struct ErrorStats {
  double max_lsb = 0;
  double sum_lsb = 0;
  int count = 0;
};

template <class Config>
void AccumulateError(const Problem<Config>& p, ErrorStats* stats) {
  using Out = typename Config::output_t;
  const int n = Config::kN;
  double mean = 0;
  for (const auto& v : p.in) mean += v.to_double();
  mean /= n;
  double var = 0;
  for (const auto& v : p.in)
    var += (v.to_double() - mean) * (v.to_double() - mean);
  var /= n;
  const double rstd = 1.0 / std::sqrt(var + Config::kEpsilon);
  const double lsb = std::ldexp(1.0, -FracBits<Out>());
  for (int i = 0; i < n; ++i) {
    double ref = (p.in[i].to_double() - mean) * rstd * p.gamma[i].to_double() +
                 p.beta[i].to_double();
    ref = std::min(MaxOf<Out>(), std::max(MinOf<Out>(), ref));
    const double err = std::abs(p.out[i].to_double() - ref) / lsb;
    stats->max_lsb = std::max(stats->max_lsb, err);
    stats->sum_lsb += err;
    ++stats->count;
  }
}

enum class Dist { kNormal, kShiftedWide, kUniformFull, kNarrow, kOutliers };

// Random inputs of one distribution and GPT-2-like gamma/beta.
template <class Config>
Problem<Config> RandomProblem(Dist dist, uint32_t seed) {
  using In = typename Config::input_t;
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> uniform(MinOf<In>(), MaxOf<In>());
  Problem<Config> p;
  const int outlier_channel = static_cast<int>(rng() % Config::kN);
  for (int i = 0; i < Config::kN; ++i) {
    double x = 0;
    switch (dist) {
      case Dist::kNormal:
        x = normal(rng);
        break;
      case Dist::kShiftedWide:
        x = 2.0 + 4.0 * normal(rng);
        break;
      case Dist::kUniformFull:
        x = uniform(rng);
        break;
      case Dist::kNarrow:
        x = 0.3 + 0.02 * normal(rng);
        break;
      case Dist::kOutliers:
        x = 0.5 * normal(rng) + (i == outlier_channel ? 28.0 : 0.0);
        break;
    }
    x = std::min(MaxOf<In>(), std::max(MinOf<In>(), x));
    p.in[i] = x;
    // GPT-2's ln gains sit near 1 with a spread and a few large channels;
    // its biases are small.
    const double g = (i % 97 == 5) ? 3.5 : 0.9 + 0.25 * normal(rng);
    p.gamma[i] = g;
    p.beta[i] = 0.1 * normal(rng);
  }
  return p;
}

// Asserted bounds on |y - y_double| in output LSBs (README.md, "Error"):
// the final rounding's 0.5 plus what the measurements showed, with margin.
constexpr double kMaxErrorLsbGpt2 = 0.52;  // LUT 10 bits, 22-bit 1/sqrt.
constexpr double kMaxErrorLsb128 = 0.60;   // LUT 8 bits, 16-bit 1/sqrt.

template <class Config>
ErrorStats MeasureAgainstDouble(const char* name, double bound) {
  ErrorStats all;
  for (Dist dist : {Dist::kNormal, Dist::kShiftedWide, Dist::kUniformFull,
                    Dist::kNarrow, Dist::kOutliers}) {
    ErrorStats s;
    for (uint32_t seed = 0; seed < 40; ++seed) {
      Problem<Config> p = RandomProblem<Config>(
          dist, seed * 7919u + static_cast<uint32_t>(dist));
      p.Run();
      AccumulateError(p, &s);
    }
    std::printf("%s dist %d: max %.4f LSB, mean %.4f LSB over %d outputs\n",
                name, static_cast<int>(dist), s.max_lsb, s.sum_lsb / s.count,
                s.count);
    EXPECT_LE(s.max_lsb, bound) << name << " dist " << static_cast<int>(dist);
    all.max_lsb = std::max(all.max_lsb, s.max_lsb);
    all.sum_lsb += s.sum_lsb;
    all.count += s.count;
  }
  std::printf("%s all: max %.4f LSB, mean %.4f LSB\n", name, all.max_lsb,
              all.sum_lsb / all.count);
  return all;
}

// Every entry of a table equals libm's correctly rounded sqrt, rounded.
template <int kBits, int kFrac>
void ExpectLutMatchesLibm() {
  const auto& lut = kRsqrtLut<kBits, kFrac>;
  ASSERT_EQ(static_cast<int>(lut.size()), 3 << (kBits - 2));
  for (int j = 0; j < RsqrtLutSize(kBits); ++j) {
    const double mid = 1.0 + (j + 0.5) * std::ldexp(1.0, 2 - kBits);
    EXPECT_EQ(lut[j], std::lround(std::ldexp(1.0, kFrac) / std::sqrt(mid)))
        << kBits << "/" << kFrac << " entry " << j;
  }
}

TEST(RsqrtLut, EntriesAreLibmRoundedToNearest) {
  ExpectLutMatchesLibm<10, 22>();
  ExpectLutMatchesLibm<10, 18>();
  ExpectLutMatchesLibm<8, 16>();
  ExpectLutMatchesLibm<6, 12>();
}

TEST(LayerNormDouble, Gpt2Config768WithinBound) {
  const ErrorStats s =
      MeasureAgainstDouble<LayerNormConfigGpt2>("kN=768", kMaxErrorLsbGpt2);
  EXPECT_LE(s.max_lsb, kMaxErrorLsbGpt2);
  EXPECT_LE(s.sum_lsb / s.count, 0.26);
  EXPECT_GT(s.count, 0);
}

TEST(LayerNormDouble, Config128WithinBound) {
  const ErrorStats s =
      MeasureAgainstDouble<Config128>("kN=128", kMaxErrorLsb128);
  EXPECT_LE(s.max_lsb, kMaxErrorLsb128);
  EXPECT_LE(s.sum_lsb / s.count, 0.26);
}

template <class Config>
void ExpectMatchesModel(Dist dist, uint32_t seed) {
  Problem<Config> p = RandomProblem<Config>(dist, seed);
  p.Run();
  EXPECT_EQ(p.RawOut(), p.Model())
      << "dist " << static_cast<int>(dist) << " seed " << seed;
}

TEST(LayerNormModel, BitExactOnRandomInputs) {
  for (Dist dist : {Dist::kNormal, Dist::kShiftedWide, Dist::kUniformFull,
                    Dist::kNarrow, Dist::kOutliers}) {
    for (uint32_t seed = 100; seed < 110; ++seed) {
      ExpectMatchesModel<LayerNormConfigGpt2>(dist, seed);
      ExpectMatchesModel<Config128>(dist, seed);
      ExpectMatchesModel<Config12>(dist, seed);
      ExpectMatchesModel<Config12Tie>(dist, seed);
    }
  }
}

// Golden vectors for Config12: raw input codes (2^-4), gamma and beta codes
// (2^-6), and the expected raw output codes (2^-5). The outputs were printed
// once by IntegerModel (not the kernel) and checked by hand against the
// real-valued LayerNorm (e.g. ramp: sigma = 0.4315, 11/16 -> z = 1.593,
// 32 z = 50.98 -> 51; third vector: mean 100/16 exactly, z = 1.7254 ->
// 55.2 -> 55; -14/16 with gain 127/64 saturates at -4.0 = -128).
struct Golden {
  int64_t x[12];
  int64_t g[12];
  int64_t b[12];
  int64_t y[12];
};

const Golden kGolden[] = {
    // A ramp, unit gain, no bias.
    {{-11, -9, -7, -5, -3, -1, 1, 3, 5, 7, 9, 11},
     {64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64},
     {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
     {-51, -42, -32, -23, -14, -5, 5, 14, 23, 32, 42, 51}},
    // Mixed values whose mean is not a multiple of 2^-8, mixed gains.
    {{3, -7, 12, 0, 5, -2, 9, -14, 1, 6, -3, 4},
     {64, 32, -48, 100, 64, 10, -64, 127, 64, 80, 20, 64},
     {0, 5, -10, 32, 0, -64, 16, 0, 8, -8, 0, 127},
     {9, -17, -43, 7, 18, -34, -29, -128, 3, 24, -6, 77}},
    // Small spread around a large offset (tests guard bits and eps).
    {{100, 101, 100, 99, 100, 100, 101, 100, 100, 99, 100, 100},
     {64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64},
     {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
     {0, 55, 0, -55, 0, 0, 55, 0, 0, -55, 0, 0}},
};

TEST(LayerNormGolden, PinnedRawOutputs) {
  for (const Golden& gold : kGolden) {
    Problem<Config12> p;
    for (int i = 0; i < 12; ++i) {
      p.in[i] = FromRaw<Config12::input_t>(gold.x[i]);
      p.gamma[i] = FromRaw<Config12::gamma_t>(gold.g[i]);
      p.beta[i] = FromRaw<Config12::beta_t>(gold.b[i]);
    }
    p.Run();
    const std::vector<int64_t> expected(gold.y, gold.y + 12);
    EXPECT_EQ(p.RawOut(), expected);
    EXPECT_EQ(p.Model(), expected);  // The model is pinned too.
  }
}

// Config12Tie: sums of raw codes S with S mod 6 == 3 make 2 S / 12 end in
// exactly .5, so the mean rounds to even: 9 -> 1.5 -> 2, -3 -> -0.5 -> 0,
// -9 -> -1.5 -> -2. Ties up, down, towards or away from zero each change
// at least one of these.
const Golden kGoldenTies[] = {
    {{5, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
     {64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64},
     {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
     {74, 55, -18, -18, -18, -18, -18, -18, -18, -18, -18, -18}},
    {{-3, 1, -1, 0, 0, 2, -2, 0, 0, 0, 0, 0},
     {64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64},
     {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
     {-73, 24, -24, 0, 0, 48, -48, 0, 0, 0, 0, 0}},
    {{-5, -5, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0},
     {64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64},
     {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
     {-64, -64, 32, 16, 16, 16, 16, 16, 16, 16, 16, 16}},
};

TEST(LayerNormGolden, MeanTiesRoundToEven) {
  for (const Golden& gold : kGoldenTies) {
    Problem<Config12Tie> p;
    for (int i = 0; i < 12; ++i) {
      p.in[i] = FromRaw<Config12Tie::input_t>(gold.x[i]);
      p.gamma[i] = FromRaw<Config12Tie::gamma_t>(gold.g[i]);
      p.beta[i] = FromRaw<Config12Tie::beta_t>(gold.b[i]);
    }
    p.Run();
    const std::vector<int64_t> expected(gold.y, gold.y + 12);
    EXPECT_EQ(p.RawOut(), expected);
    EXPECT_EQ(p.Model(), expected);
  }
}

TEST(LayerNormEdge, ConstantInputGivesBeta) {
  for (double c : {0.0, 1.5, -31.0, 31.999}) {
    Problem<LayerNormConfigGpt2> p;
    for (int i = 0; i < LayerNormConfigGpt2::kN; ++i) {
      p.in[i] = c;
      p.gamma[i] = 2.0;
      p.beta[i] = 0.01 * (i % 13) - 0.05;
    }
    p.Run();
    for (int i = 0; i < LayerNormConfigGpt2::kN; ++i) {
      const LayerNormConfigGpt2::output_t expect = p.beta[i];
      ASSERT_EQ(Raw(p.out[i]), Raw(expect)) << "c " << c << " i " << i;
    }
    EXPECT_EQ(p.RawOut(), p.Model());
  }
}

TEST(LayerNormEdge, ExtremesSaturateOutput) {
  using Out = Config128::output_t;
  using In = Config128::input_t;
  // One element at the input max, the rest at the min: z = sqrt(127) ~ 11.3
  // for it, so a gain of 7.99 drives it past output_t's max, and a negative
  // gain past its min.
  for (double gain : {7.99, -7.99}) {
    Problem<Config128> p;
    for (int i = 0; i < Config128::kN; ++i) {
      p.in[i] = i == 17 ? MaxOf<In>() : MinOf<In>();
      p.gamma[i] = gain;
      p.beta[i] = 0;
    }
    p.Run();
    EXPECT_EQ(p.out[17].to_double(), gain > 0 ? MaxOf<Out>() : MinOf<Out>());
    EXPECT_EQ(p.RawOut(), p.Model());
    ErrorStats s;
    AccumulateError(p, &s);
    EXPECT_LE(s.max_lsb, kMaxErrorLsb128);
  }
  // Half max, half min: z = +-1 exactly (var >> eps), output = +-gain.
  Problem<Config128> p;
  for (int i = 0; i < Config128::kN; ++i) {
    p.in[i] = i % 2 ? MaxOf<In>() : MinOf<In>();
    p.gamma[i] = 1.0;
    p.beta[i] = 0;
  }
  p.Run();
  for (int i = 0; i < Config128::kN; ++i) {
    EXPECT_EQ(p.out[i].to_double(), i % 2 ? 1.0 : -1.0) << i;
  }
}

TEST(LayerNormEdge, SingleLargeOutlier) {
  ErrorStats s;
  for (double outlier : {31.5, -32.0, 12.0}) {
    Problem<LayerNormConfigGpt2> p;
    std::mt19937 rng(5);
    std::normal_distribution<double> normal(0.0, 0.05);
    for (int i = 0; i < LayerNormConfigGpt2::kN; ++i) {
      p.in[i] = i == 300 ? outlier : normal(rng);
      p.gamma[i] = 1.0;
      p.beta[i] = 0;
    }
    p.Run();
    AccumulateError(p, &s);
    EXPECT_EQ(p.RawOut(), p.Model());
    // The outlier lands near sign * sqrt(767) = 27.7 (the others' spread
    // pulls it slightly in).
    EXPECT_GT(std::abs(p.out[300].to_double()), 27.0);
  }
  EXPECT_LE(s.max_lsb, kMaxErrorLsbGpt2);
}

}  // namespace
