// The CPU backend's native-integer operations against the kernels
// themselves (the C-simulation golden model), bit for bit: Requantize
// against kernels::RequantizeOne, LayerNorm against kernels::LayerNorm +
// LayerNormStage's requantization, GELU against kernels::GeluOne on every
// input code, attention against kernels::AttentionHeadStep +
// AttentionStage's requantization, for both GPT-2 shapes. Both the codes
// before the int8 requantization (*Codes, GeluCode) and the int8 outputs are
// compared, on every code path this CPU runs (IntOpsPath: baseline, AVX2).
// CpuIntOpsSpeed prints ns per call against the kernels (no assertion on
// times). Under sanitizers (FXSERVE_SANITIZED) the exhaustive
// loops run on a sample.
#include "backends/cpu/int_ops.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "kernels/attention/attention_head.h"
#include "kernels/nonlinear/gelu.h"
#include "kernels/norm/layer_norm.h"
#include "kernels/quant/requantize.h"
#include "kernels/top/gpt2_block.h"
#include "kernels/top/gpt2_numerics.h"

namespace fxserve::backends::cpu {
namespace {

namespace kn = ::fxserve::kernels;
namespace gpt2 = ::fxserve::kernels::gpt2;

using Tiny = gpt2::Gpt2Config<gpt2::Gpt2TinyShape, 8, kn::ScaleMode::kPow2>;
using Small = gpt2::Gpt2Config<gpt2::Gpt2SmallShape, 8, kn::ScaleMode::kPow2>;

#ifdef FXSERVE_SANITIZED
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

// The raw code of an ap_ value as a signed integer, and back.
template <class T>
int64_t Raw(const T& x) {
  ap_int<T::width> r;
  r = x.range(T::width - 1, 0);
  return r.to_int64();
}
template <class T>
T FromRaw(int64_t raw) {
  T x;
  x.range(T::width - 1, 0) = ap_int<T::width>(raw);
  return x;
}

// kernels::RequantizeOne from a kAccW-bit code into kOutW bits, with the
// linears' 7-bit shift register.
template <int kAccW, int kOutW>
struct RequantTypes {
  using acc_t = ap_int<kAccW>;
  using output_t = ap_int<kOutW>;
  using shift_t = kn::linear_shift_t;
};
template <int kAccW, int kOutW>
int64_t KernelRequantize(int64_t value, int shift) {
  return kn::RequantizeOne<RequantTypes<kAccW, kOutW>>(
             ap_int<kAccW>(value), kn::linear_shift_t(shift))
      .to_int64();
}

// What the tops do after LayerNorm, GELU and attention: the raw code of a
// kW-bit format into act_t by the calibrated shift.
template <int kW>
int8_t KernelToAct(int64_t code, int shift) {
  return static_cast<int8_t>(kn::RequantizeOne<gpt2::ToActivation<kW>>(
                                 ap_int<kW>(code), kn::linear_shift_t(shift))
                                 .to_int());
}

// The code paths this CPU can run; each check runs on every one.
std::vector<IntOpsPath> Paths() {
  std::vector<IntOpsPath> paths;
  for (IntOpsPath path : {IntOpsPath::kBaseline, IntOpsPath::kAvx2}) {
    if (IntOpsPathSupported(path)) paths.push_back(path);
  }
  return paths;
}

const char* PathName(IntOpsPath path) {
  return path == IntOpsPath::kAvx2 ? "avx2" : "baseline";
}

// Restores the path in use when it goes out of scope.
class PathScope {
 public:
  PathScope() : saved_(ActiveIntOpsPath()) {}
  ~PathScope() { SetIntOpsPathForTesting(saved_); }

 private:
  IntOpsPath saved_;
};

int64_t Uniform(std::mt19937_64& rng, int64_t lo, int64_t hi) {
  return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
}

// ---------------------------------------------------------------------------
// Requantize.

// Values around every power of two (ties and their neighbours included),
// the int64 extremes, and random values of every bit length.
std::vector<int64_t> RequantizeValues(int random_count) {
  std::vector<int64_t> values = {0,
                                 1,
                                 -1,
                                 2,
                                 -2,
                                 3,
                                 -3,
                                 std::numeric_limits<int64_t>::max(),
                                 std::numeric_limits<int64_t>::min(),
                                 std::numeric_limits<int64_t>::max() - 1,
                                 std::numeric_limits<int64_t>::min() + 1};
  for (int k = 1; k < 63; ++k) {
    const int64_t p = int64_t{1} << k;
    for (int64_t base : {p, p + (p >> 1), p - (p >> 1), 3 * (p >> 1)}) {
      for (int64_t delta : {-1, 0, 1}) {
        values.push_back(base + delta);
        values.push_back(-(base + delta));
      }
    }
  }
  std::mt19937_64 rng(11);
  for (int i = 0; i < random_count; ++i) {
    const int bits = static_cast<int>(Uniform(rng, 1, 64));
    const uint64_t r = rng();
    values.push_back(bits == 64 ? static_cast<int64_t>(r)
                                : static_cast<int64_t>(r >> (64 - bits)) -
                                      (int64_t{1} << (bits - 1)));
  }
  return values;
}

template <int kOutW>
void CheckRequantizeWidth(const std::vector<int64_t>& values) {
  for (int shift = -64; shift <= 63; ++shift) {
    for (int64_t v : values) {
      ASSERT_EQ(Requantize(v, shift, kOutW),
                (KernelRequantize<64, kOutW>(v, shift)))
          << "value " << v << " shift " << shift << " bits " << kOutW;
    }
  }
}

TEST(CpuRequantize, MatchesKernelForEveryShiftAndWidth) {
  const std::vector<int64_t> values = RequantizeValues(kSanitized ? 40 : 400);
  CheckRequantizeWidth<8>(values);
  CheckRequantizeWidth<1>(values);
  CheckRequantizeWidth<2>(values);
  CheckRequantizeWidth<16>(values);
  CheckRequantizeWidth<20>(values);
  CheckRequantizeWidth<24>(values);
  CheckRequantizeWidth<32>(values);
  CheckRequantizeWidth<48>(values);
  CheckRequantizeWidth<63>(values);
}

TEST(CpuRequantize, SixtyFourBitOutput) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  EXPECT_EQ(Requantize(kMax, 0, 64), kMax);
  EXPECT_EQ(Requantize(kMin, 0, 64), kMin);
  EXPECT_EQ(Requantize(kMax, -1, 64), kMax);
  EXPECT_EQ(Requantize(kMin, -64, 64), kMin);
  EXPECT_EQ(Requantize(-1, -63, 64), kMin);  // Exactly -2^63.
  EXPECT_EQ(Requantize(1, -63, 64), kMax);
  EXPECT_EQ(Requantize(kMax, 63, 64), 1);              // 0.99999... rounds up.
  EXPECT_EQ(Requantize(kMin, 63, 64), -1);             // Exactly -1.
  EXPECT_EQ(Requantize(int64_t{1} << 62, 63, 64), 0);  // Tie to even.
  EXPECT_EQ(Requantize(-(int64_t{1} << 62), 63, 64), 0);  // Tie to even.
  EXPECT_EQ(Requantize((int64_t{1} << 62) + 1, 63, 64), 1);
}

TEST(CpuRequantize, MatchesTheTopsConversions) {
  // The formats the tops requantize into int8: LayerNorm's Q(24,14), GELU's
  // Q(20,12), the head's Q(16,8); every shift, every code or a sample.
  const int64_t step24 = kSanitized ? 4099 : 257;
  for (int shift = -64; shift <= 63; ++shift) {
    for (int64_t c = -(1 << 23); c < (1 << 23); c += step24) {
      ASSERT_EQ(Requantize(c, shift, 8), KernelToAct<24>(c, shift));
    }
    for (int64_t c = -(1 << 19); c < (1 << 19); c += step24 / 16 + 1) {
      ASSERT_EQ(Requantize(c, shift, 8), KernelToAct<20>(c, shift));
    }
    for (int64_t c = -(1 << 15); c < (1 << 15); c += kSanitized ? 7 : 1) {
      ASSERT_EQ(Requantize(c, shift, 8), KernelToAct<16>(c, shift));
    }
  }
}

TEST(CpuRequantize, ShiftWrapsLikeTheSevenBitRegister) {
  for (int shift : {64, 65, 100, 127, -65, -100, -128}) {
    for (int64_t v :
         {int64_t{1}, int64_t{-1}, int64_t{1000}, int64_t{-77777}}) {
      EXPECT_EQ(Requantize(v, shift, 8), KernelToAct<24>(v, shift))
          << v << " " << shift;
    }
  }
}

// ---------------------------------------------------------------------------
// LayerNorm.

struct LnCase {
  std::vector<int32_t> x, gamma, beta;
  int out_shift = 0;
};

int32_t ClampToInt32(double v) {
  if (v >= 2147483647.0) return std::numeric_limits<int32_t>::max();
  if (v <= -2147483648.0) return std::numeric_limits<int32_t>::min();
  return static_cast<int32_t>(std::llround(v));
}

int32_t ClampTo24(double v) {
  return static_cast<int32_t>(
      std::clamp<double>(std::llround(v), -(1 << 23), (1 << 23) - 1));
}

// A random LayerNorm problem of kind `kind`: ordinary, constant (variance
// 0), full int32 range, two extremes (largest variance), one-LSB spreads,
// outliers, GPT-2-like channels; gains and biases ordinary, full-range
// (saturating outputs), zero or extreme; shifts as calibrated or anywhere.
LnCase RandomLnCase(int n, int kind, std::mt19937_64& rng) {
  LnCase c;
  c.x.resize(n);
  c.gamma.resize(n);
  c.beta.resize(n);
  std::normal_distribution<double> normal(0.0, 1.0);
  const double scale = 65536.0;
  switch (kind % 9) {
    case 0: {  // N(mu, sigma), sigma from 2^-16 to 2^14.
      const double sigma =
          std::ldexp(1.0, static_cast<int>(Uniform(rng, -16, 14)));
      const double mu =
          normal(rng) * std::ldexp(1.0, static_cast<int>(Uniform(rng, -4, 14)));
      for (auto& v : c.x) v = ClampToInt32((mu + sigma * normal(rng)) * scale);
      break;
    }
    case 1: {  // Constant: variance 0.
      const int32_t values[] = {0,
                                1,
                                -1,
                                std::numeric_limits<int32_t>::max(),
                                std::numeric_limits<int32_t>::min(),
                                static_cast<int32_t>(rng())};
      const int32_t v = values[Uniform(rng, 0, 5)];
      for (auto& e : c.x) e = v;
      break;
    }
    case 2:  // Uniform over int32.
      for (auto& v : c.x) v = static_cast<int32_t>(rng());
      break;
    case 3:  // Only the two extremes: the largest variance.
      for (auto& v : c.x) {
        v = (rng() & 1) ? std::numeric_limits<int32_t>::max()
                        : std::numeric_limits<int32_t>::min();
      }
      break;
    case 4: {  // A constant and a few one-LSB deviations.
      const int32_t base = static_cast<int32_t>(rng()) >> Uniform(rng, 0, 31);
      for (auto& v : c.x) v = base;
      const int count = static_cast<int>(Uniform(rng, 1, 3));
      for (int i = 0; i < count; ++i) {
        int32_t& e = c.x[Uniform(rng, 0, n - 1)];
        e = (rng() & 1)
                ? (e == std::numeric_limits<int32_t>::max() ? e - 1 : e + 1)
                : (e == std::numeric_limits<int32_t>::min() ? e + 1 : e - 1);
      }
      break;
    }
    case 5: {  // N(0, 1) plus one huge outlier.
      for (auto& v : c.x) v = ClampToInt32(normal(rng) * scale);
      c.x[Uniform(rng, 0, n - 1)] =
          (rng() & 1) ? (1 << 30) + 12345 : -(1 << 30);
      break;
    }
    case 6: {  // GPT-2-like: small channels and a few in the hundreds.
      for (auto& v : c.x) v = ClampToInt32(0.5 * normal(rng) * scale);
      for (int i = 0; i < 4; ++i) {
        c.x[Uniform(rng, 0, n - 1)] = ClampToInt32(300.0 * normal(rng) * scale);
      }
      break;
    }
    case 7: {  // All at the minimum but one.
      for (auto& v : c.x) v = std::numeric_limits<int32_t>::min();
      c.x[Uniform(rng, 0, n - 1)] = static_cast<int32_t>(rng());
      break;
    }
    default: {  // Tiny magnitudes: a few LSBs around 0.
      for (auto& v : c.x) v = static_cast<int32_t>(Uniform(rng, -3, 3));
      break;
    }
  }
  const int gamma_kind = static_cast<int>(Uniform(rng, 0, 5));
  for (int i = 0; i < n; ++i) {
    switch (gamma_kind) {
      case 0:
      case 1:
        c.gamma[i] = ClampTo24((1.0 + 0.25 * normal(rng)) * scale);
        c.beta[i] = ClampTo24(0.1 * normal(rng) * scale);
        break;
      case 2:  // Full range: saturating outputs.
        c.gamma[i] =
            static_cast<int32_t>(Uniform(rng, -(1 << 23), (1 << 23) - 1));
        c.beta[i] =
            static_cast<int32_t>(Uniform(rng, -(1 << 23), (1 << 23) - 1));
        break;
      case 3:  // Zero gain: beta alone.
        c.gamma[i] = 0;
        c.beta[i] =
            static_cast<int32_t>(Uniform(rng, -(1 << 23), (1 << 23) - 1));
        break;
      case 4:  // The extremes.
        c.gamma[i] = (rng() & 1) ? (1 << 23) - 1 : -(1 << 23);
        c.beta[i] = (rng() & 1) ? (1 << 23) - 1 : -(1 << 23);
        break;
      default:  // Large gains (outlier channels of GPT-2's ln_f).
        c.gamma[i] = ClampTo24(8.0 * normal(rng) * scale);
        c.beta[i] = ClampTo24(normal(rng) * scale);
        break;
    }
  }
  // 14 - F for F in [-8, 24], or any register value.
  c.out_shift = (rng() % 4 == 0) ? static_cast<int>(Uniform(rng, -64, 63))
                                 : static_cast<int>(Uniform(rng, -10, 22));
  return c;
}

// kernels::LayerNorm for config C; the raw Q(24,14) codes.
template <class C>
std::vector<int32_t> KernelLayerNormCodes(const LnCase& c) {
  constexpr int kN = C::kN;
  std::vector<typename C::input_t> in(kN);
  std::vector<typename C::gamma_t> gamma(kN);
  std::vector<typename C::beta_t> beta(kN);
  std::vector<typename C::output_t> out(kN);
  for (int i = 0; i < kN; ++i) {
    in[i] = gpt2::FromRawBits<typename C::input_t>(gpt2::resid_raw_t(c.x[i]));
    gamma[i] = FromRaw<typename C::gamma_t>(c.gamma[i]);
    beta[i] = FromRaw<typename C::beta_t>(c.beta[i]);
  }
  kn::LayerNorm<C>(in.data(), gamma.data(), beta.data(), out.data());
  std::vector<int32_t> codes(kN);
  for (int i = 0; i < kN; ++i) {
    codes[i] = static_cast<int32_t>(
        gpt2::RawBits<gpt2::ln_out_raw_t>(out[i]).to_int64());
  }
  return codes;
}

template <class C>
void CheckLayerNorm(int cases, uint64_t seed) {
  constexpr int kN = C::kN;
  PathScope scope;
  std::mt19937_64 rng(seed);
  std::vector<int32_t> codes(kN);
  std::vector<int8_t> out(kN);
  for (int t = 0; t < cases; ++t) {
    const LnCase c = RandomLnCase(kN, t, rng);
    const std::vector<int32_t> expected = KernelLayerNormCodes<C>(c);
    for (IntOpsPath path : Paths()) {
      SetIntOpsPathForTesting(path);
      LayerNormCodes(c.x.data(), kN, c.gamma.data(), c.beta.data(),
                     codes.data());
      LayerNormToInt8(c.x.data(), kN, c.gamma.data(), c.beta.data(),
                      c.out_shift, out.data());
      for (int i = 0; i < kN; ++i) {
        ASSERT_EQ(codes[i], expected[i])
            << PathName(path) << " n " << kN << " case " << t << " kind "
            << t % 9 << " i " << i;
        ASSERT_EQ(out[i], KernelToAct<24>(expected[i], c.out_shift))
            << PathName(path) << " n " << kN << " case " << t << " i " << i
            << " shift " << c.out_shift;
      }
    }
  }
}

TEST(CpuLayerNorm, MatchesKernelTiny) {
  CheckLayerNorm<gpt2::LayerNormConfig<Tiny>>(kSanitized ? 1000 : 4000, 1);
}

TEST(CpuLayerNorm, MatchesKernelSmall) {
  CheckLayerNorm<gpt2::LayerNormConfig<Small>>(kSanitized ? 400 : 2000, 2);
}

// GPT-2's LayerNorm datapath with another vector length.
template <int kLength>
struct LayerNormConfigN : gpt2::LayerNormConfig<Tiny> {
  static constexpr int kN = kLength;
  static constexpr int kUnroll = 1;
};

TEST(CpuLayerNorm, MatchesKernelForOtherLengths) {
  const int cases = kSanitized ? 100 : 300;
  CheckLayerNorm<LayerNormConfigN<1>>(cases, 3);
  CheckLayerNorm<LayerNormConfigN<2>>(cases, 4);
  CheckLayerNorm<LayerNormConfigN<3>>(cases, 5);
  CheckLayerNorm<LayerNormConfigN<12>>(cases, 6);
  CheckLayerNorm<LayerNormConfigN<100>>(cases, 7);
  CheckLayerNorm<LayerNormConfigN<1000>>(cases / 3, 8);
  CheckLayerNorm<LayerNormConfigN<4096>>(cases / 10, 9);
}

// ---------------------------------------------------------------------------
// GELU.

template <class M>
int64_t KernelGeluCode(int32_t code) {
  const gpt2::gelu_t x =
      gpt2::FromRawBits<gpt2::gelu_t>(gpt2::gelu_raw_t(code));
  return gpt2::RawBits<gpt2::gelu_raw_t>(kn::GeluOne<gpt2::GeluConfig<M>>(x))
      .to_int64();
}

template <class M>
void CheckGelu(int step) {
  // Every code (or every step-th, plus both ends of every table segment
  // and the cut-offs) as a sign-extended 20-bit value.
  std::vector<int32_t> inputs;
  for (int32_t c = -(1 << 19); c < (1 << 19); c += step) inputs.push_back(c);
  if (step > 1) {
    for (int32_t u = 0; u <= (1 << 16); u += 256) {
      for (int32_t d = -2; d <= 2; ++d) inputs.push_back(u - (1 << 15) + d);
    }
    for (int32_t c : {-(1 << 19), -(1 << 19) + 1, (1 << 19) - 1, (1 << 19) - 2})
      inputs.push_back(c);
  }
  std::vector<int64_t> expected(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    expected[i] = KernelGeluCode<M>(inputs[i]);
    ASSERT_EQ(GeluCode(inputs[i]), expected[i]) << "x " << inputs[i];
    // Bits above the 20th are ignored, as the raw -> gelu_t conversion does.
    ASSERT_EQ(GeluCode(inputs[i] ^ static_cast<int32_t>(0xABC00000u)),
              expected[i]);
  }
  std::vector<int8_t> out(inputs.size());
  PathScope scope;
  for (IntOpsPath path : Paths()) {
    SetIntOpsPathForTesting(path);
    // 12 - F for F in {-8, 0, 3, 5, 8, 12, 20, 24}, and the register's ends.
    for (int shift : {20, 12, 9, 7, 4, 0, -8, -12, 63, -64}) {
      GeluToInt8(inputs.data(), static_cast<int>(inputs.size()), shift,
                 out.data());
      for (size_t i = 0; i < inputs.size(); ++i) {
        ASSERT_EQ(out[i], KernelToAct<20>(expected[i], shift))
            << PathName(path) << " x " << inputs[i] << " shift " << shift;
      }
    }
  }
}

TEST(CpuGelu, MatchesKernelOnEveryCodeTiny) {
  CheckGelu<Tiny>(kSanitized ? 7 : 1);
}

TEST(CpuGelu, MatchesKernelOnEveryCodeSmall) {
  CheckGelu<Small>(kSanitized ? 11 : 1);
}

// ---------------------------------------------------------------------------
// Attention.

// Rows of int8 codes scattered over one pool, as in a paged KV cache.
struct PagedRows {
  std::vector<int8_t> pool;
  std::vector<const int8_t*> rows;
};

// A head's problem: q, and k / v rows 0 .. length-1.
struct HeadCase {
  std::vector<int8_t> q;
  std::vector<std::vector<int8_t>> k, v;
  int score_frac = 0;
  int ctx_shift = 0;
};

int8_t Int8(int64_t v) {
  return static_cast<int8_t>(std::clamp<int64_t>(v, -128, 127));
}

constexpr int kHeadKinds = 7;

// Kinds: uniform; Gaussian q/k of random spread with a matching score_frac;
// extreme q/k (saturating scores, many ties); keys from 2-3 distinct rows
// (exact ties); extreme v (ctx saturation); peaked (one dominant key);
// anti-aligned keys (scores saturated at the minimum, often all of them).
HeadCase RandomHeadCase(int d, int length, int kind, std::mt19937_64& rng) {
  HeadCase c;
  std::normal_distribution<double> normal(0.0, 1.0);
  auto uniform8 = [&rng] { return static_cast<int8_t>(rng() & 0xff); };
  auto gaussian8 = [&](double sigma) {
    return Int8(std::llround(sigma * normal(rng)));
  };
  c.q.resize(d);
  c.k.assign(length, std::vector<int8_t>(d));
  c.v.assign(length, std::vector<int8_t>(d));
  double typical_dot = 1.0;
  switch (kind % kHeadKinds) {
    case 0:
      for (auto& x : c.q) x = uniform8();
      for (auto& row : c.k) {
        for (auto& x : row) x = uniform8();
      }
      typical_dot = 74.0 * 74.0 * std::sqrt(static_cast<double>(d));
      break;
    case 1: {
      const double sq = std::ldexp(1.0, static_cast<int>(Uniform(rng, 0, 6)));
      const double sk = std::ldexp(1.0, static_cast<int>(Uniform(rng, 0, 6)));
      for (auto& x : c.q) x = gaussian8(sq);
      for (auto& row : c.k) {
        for (auto& x : row) x = gaussian8(sk);
      }
      typical_dot = sq * sk * std::sqrt(static_cast<double>(d));
      break;
    }
    case 2:
      for (auto& x : c.q) x = (rng() & 1) ? 127 : -128;
      for (auto& row : c.k) {
        for (auto& x : row) x = (rng() % 3 == 0) ? 127 : -128;
      }
      typical_dot = 128.0 * 128.0 * d;
      break;
    case 3: {
      std::vector<std::vector<int8_t>> distinct(Uniform(rng, 1, 3),
                                                std::vector<int8_t>(d));
      for (auto& row : distinct) {
        for (auto& x : row) x = gaussian8(20);
      }
      for (auto& x : c.q) x = gaussian8(20);
      for (auto& row : c.k) {
        row = distinct[Uniform(rng, 0,
                               static_cast<int64_t>(distinct.size()) - 1)];
      }
      typical_dot = 400.0 * std::sqrt(static_cast<double>(d));
      break;
    }
    case 4:
      for (auto& x : c.q) x = gaussian8(10);
      for (auto& row : c.k) {
        for (auto& x : row) x = gaussian8(10);
      }
      typical_dot = 100.0 * std::sqrt(static_cast<double>(d));
      break;
    case 5:
      for (auto& x : c.q) x = gaussian8(30);
      for (auto& row : c.k) {
        for (auto& x : row) x = gaussian8(3);
      }
      c.k[Uniform(rng, 0, length - 1)] = c.q;
      typical_dot = 90.0 * std::sqrt(static_cast<double>(d));
      break;
    default: {
      // k = -q at full scale: dot = -sum q_j^2 * 128/127-ish, far below the
      // score range for small score_frac. Half the time one row is q itself.
      for (auto& x : c.q) x = (rng() & 1) ? 127 : -128;
      for (auto& row : c.k) {
        for (int j = 0; j < d; ++j) row[j] = c.q[j] < 0 ? 127 : -128;
      }
      if (rng() & 1) c.k[Uniform(rng, 0, length - 1)] = c.q;
      typical_dot = 1.0;  // score_frac near 0: everything saturates.
      break;
    }
  }
  if (kind % kHeadKinds == 4) {  // Extreme values: ctx saturates at -128.0.
    const int8_t e = (rng() & 1) ? 127 : -128;
    for (auto& row : c.v) {
      for (auto& x : row) x = (rng() % 8 == 0) ? uniform8() : e;
    }
  } else {
    for (auto& row : c.v) {
      for (auto& x : row) x = uniform8();
    }
  }
  // Scores of a few units (score_frac ~ log2(typical dot)), or anywhere.
  const int natural = static_cast<int>(std::lround(std::log2(typical_dot)));
  c.score_frac =
      (rng() % 3 == 0)
          ? static_cast<int>(Uniform(rng, 0, kn::kMaxScoreFrac))
          : std::clamp(natural + static_cast<int>(Uniform(rng, -4, 3)), 0,
                       kn::kMaxScoreFrac);
  // 8 + F(v) - F(ctx), F in [-8, 24]; or the register's whole range.
  c.ctx_shift = (rng() % 5 == 0) ? static_cast<int>(Uniform(rng, -64, 63))
                                 : static_cast<int>(Uniform(rng, -8, 20));
  return c;
}

PagedRows Scatter(const std::vector<std::vector<int8_t>>& rows, int d,
                  std::mt19937_64& rng) {
  PagedRows paged;
  const int n = static_cast<int>(rows.size());
  std::vector<int> slot(n + n / 2 + 1);
  std::iota(slot.begin(), slot.end(), 0);
  std::shuffle(slot.begin(), slot.end(), rng);
  paged.pool.assign(slot.size() * d, 0);
  for (auto& x : paged.pool) x = static_cast<int8_t>(rng() & 0xff);
  paged.rows.resize(n);
  for (int t = 0; t < n; ++t) {
    std::copy(rows[t].begin(), rows[t].end(), paged.pool.begin() + slot[t] * d);
    paged.rows[t] = paged.pool.data() + slot[t] * d;
  }
  return paged;
}

// The kernel with its own KV cache (kept across calls: rows past the
// current position hold stale data, which must not matter).
template <class C>
class KernelHead {
 public:
  static constexpr int kD = C::kHeadDim;
  static constexpr int kP = C::kMaxPositions;

  KernelHead()
      : k_cache_(new gpt2::act_t[kP][kD]), v_cache_(new gpt2::act_t[kP][kD]) {
    std::mt19937_64 rng(99);
    for (int t = 0; t < kP; ++t) {
      for (int j = 0; j < kD; ++j) {
        k_cache_[t][j] = static_cast<int>(rng() & 0xff) - 128;
        v_cache_[t][j] = static_cast<int>(rng() & 0xff) - 128;
      }
    }
  }

  // Rows 0 .. length-2 into the cache, the step at pos = length - 1.
  void Run(const HeadCase& c, std::vector<int32_t>* codes,
           std::vector<int8_t>* out8) {
    Fill(c);
    Step(c, codes, out8);
  }

  void Fill(const HeadCase& c) {
    const int length = static_cast<int>(c.k.size());
    for (int t = 0; t + 1 < length; ++t) {
      for (int j = 0; j < kD; ++j) {
        k_cache_[t][j] = c.k[t][j];
        v_cache_[t][j] = c.v[t][j];
      }
    }
  }

  void Step(const HeadCase& c, std::vector<int32_t>* codes,
            std::vector<int8_t>* out8) {
    const int length = static_cast<int>(c.k.size());
    gpt2::act_t q[kD], k[kD], v[kD];
    for (int j = 0; j < kD; ++j) {
      q[j] = c.q[j];
      k[j] = c.k[length - 1][j];
      v[j] = c.v[length - 1][j];
    }
    typename C::out_t out[kD];
    kn::AttentionHeadStep<C>(q, k, v, k_cache_.get(), v_cache_.get(),
                             length - 1, c.score_frac, out);
    codes->resize(kD);
    out8->resize(kD);
    for (int j = 0; j < kD; ++j) {
      (*codes)[j] = static_cast<int32_t>(Raw(out[j]));
      (*out8)[j] = KernelToAct<C::out_t::width>((*codes)[j], c.ctx_shift);
    }
  }

 private:
  std::unique_ptr<gpt2::act_t[][kD]> k_cache_, v_cache_;
};

// Every key equal (equal scores: p = 1/length as rounded, the structured
// case where the probability's rounding ties), or two distinct keys.
HeadCase FewKeysCase(int d, int length, int distinct, std::mt19937_64& rng) {
  HeadCase c = RandomHeadCase(d, length, 4, rng);
  std::vector<std::vector<int8_t>> keys(distinct, std::vector<int8_t>(d));
  for (auto& row : keys) {
    for (auto& x : row) x = static_cast<int8_t>(rng() & 0xff);
  }
  for (auto& row : c.k) row = keys[Uniform(rng, 0, distinct - 1)];
  for (auto& row : c.v) {
    for (auto& x : row) x = static_cast<int8_t>(rng() & 0xff);
  }
  c.score_frac = static_cast<int>(Uniform(rng, 10, 20));
  c.ctx_shift = static_cast<int>(Uniform(rng, -8, 20));
  return c;
}

// kind < 0: FewKeysCase with -kind distinct keys.
template <class C>
void CheckAttention(const std::vector<int>& lengths, uint64_t seed,
                    int kind_override = 0) {
  constexpr int kD = C::kHeadDim;
  PathScope scope;
  KernelHead<C> kernel;
  std::mt19937_64 rng(seed);
  std::vector<int32_t> expected_codes, codes(kD);
  std::vector<int8_t> expected8, out8(kD);
  int case_index = 0;
  for (int length : lengths) {
    const int kind = kind_override < 0 ? kind_override : case_index++;
    const HeadCase c = kind < 0 ? FewKeysCase(kD, length, -kind, rng)
                                : RandomHeadCase(kD, length, kind, rng);
    kernel.Run(c, &expected_codes, &expected8);
    const PagedRows keys = Scatter(c.k, kD, rng);
    const PagedRows values = Scatter(c.v, kD, rng);
    for (IntOpsPath path : Paths()) {
      SetIntOpsPathForTesting(path);
      AttentionHeadCodes(c.q.data(), keys.rows.data(), values.rows.data(),
                         length, kD, c.score_frac, codes.data());
      AttentionHeadToInt8(c.q.data(), keys.rows.data(), values.rows.data(),
                          length, kD, c.score_frac, c.ctx_shift, out8.data());
      for (int j = 0; j < kD; ++j) {
        ASSERT_EQ(codes[j], expected_codes[j])
            << PathName(path) << " d " << kD << " length " << length << " kind "
            << kind << " score_frac " << c.score_frac << " j " << j;
        ASSERT_EQ(out8[j], expected8[j])
            << PathName(path) << " d " << kD << " length " << length
            << " ctx_shift " << c.ctx_shift << " j " << j;
      }
    }
  }
}

// Every length 1 .. max_length; under sanitizers, the short ones, a few
// around powers of two, the longest, and random ones.
std::vector<int> Lengths(int max_length, int sanitized_random, uint64_t seed) {
  std::vector<int> lengths;
  if (!kSanitized) {
    for (int l = 1; l <= max_length; ++l) lengths.push_back(l);
    return lengths;
  }
  for (int l : {1,
                2,
                3,
                4,
                5,
                6,
                7,
                8,
                9,
                10,
                11,
                12,
                31,
                32,
                33,
                63,
                64,
                65,
                max_length / 2,
                max_length - 1,
                max_length}) {
    if (l >= 1 && l <= max_length) lengths.push_back(l);
  }
  std::mt19937_64 rng(seed);
  for (int i = 0; i < sanitized_random; ++i) {
    lengths.push_back(static_cast<int>(Uniform(rng, 1, max_length)));
  }
  return lengths;
}

TEST(CpuAttention, MatchesKernelTinyEveryLength) {
  // head_dim 32, lengths 1 .. 256, twice.
  CheckAttention<gpt2::AttentionConfig<Tiny>>(Lengths(256, 60, 1), 21);
  CheckAttention<gpt2::AttentionConfig<Tiny>>(Lengths(256, 60, 2), 22);
}

TEST(CpuAttention, MatchesKernelSmallEveryLength) {
  // head_dim 64, lengths 1 .. 1024.
  CheckAttention<gpt2::AttentionConfig<Small>>(Lengths(1024, 30, 3), 23);
}

TEST(CpuAttention, MatchesKernelEqualAndTwoLevelScores) {
  CheckAttention<gpt2::AttentionConfig<Tiny>>(Lengths(256, 60, 7), 31, -1);
  CheckAttention<gpt2::AttentionConfig<Tiny>>(Lengths(256, 60, 8), 32, -2);
  CheckAttention<gpt2::AttentionConfig<Small>>(Lengths(1024, 30, 9), 33, -1);
  CheckAttention<gpt2::AttentionConfig<Small>>(Lengths(1024, 30, 10), 34, -2);
}

// GPT-2's attention datapath with another head size and cache length: the
// generic head_dim path (48, 1, 256) and rows longer than the stack buffer.
template <int kHeadDimValue, int kPositionsValue>
struct HeadShape {
  static constexpr int kHeadDim = kHeadDimValue;
  static constexpr int kPositions = kPositionsValue;
};

TEST(CpuAttention, MatchesKernelOtherHeadDims) {
  CheckAttention<gpt2::AttentionConfig<HeadShape<48, 64>>>(Lengths(64, 10, 4),
                                                           24);
  CheckAttention<gpt2::AttentionConfig<HeadShape<1, 32>>>(Lengths(32, 10, 5),
                                                          25);
  CheckAttention<gpt2::AttentionConfig<HeadShape<256, 16>>>(Lengths(16, 10, 6),
                                                            26);
}

TEST(CpuAttention, MatchesKernelLongRows) {
  std::vector<int> lengths = {2047, 2048, 2049, 4096, 3000};
  if (!kSanitized) {
    for (int i = 0; i < 20; ++i) lengths.push_back(2049 + 97 * i);
  }
  CheckAttention<gpt2::AttentionConfig<HeadShape<8, 4096>>>(lengths, 27);
}

TEST(CpuIntOpsPath, BaselineAlwaysRuns) {
  PathScope scope;
  EXPECT_TRUE(IntOpsPathSupported(IntOpsPath::kBaseline));
  for (IntOpsPath path : Paths()) {
    EXPECT_TRUE(SetIntOpsPathForTesting(path));
    EXPECT_EQ(ActiveIntOpsPath(), path);
  }
  std::printf("code paths on this CPU: baseline%s\n",
              IntOpsPathSupported(IntOpsPath::kAvx2) ? ", avx2" : "");
}

TEST(CpuAttention, OutOfRangeScoreFracGivesZeros) {
  // As the kernel: score_frac outside 0..31 writes zeros.
  constexpr int kD = 32;
  std::vector<int8_t> q(kD, 5), row(kD, 7), out(kD, 1);
  const int8_t* rows[] = {row.data()};
  for (int score_frac : {-1, 32, 1000}) {
    AttentionHeadToInt8(q.data(), rows, rows, 1, kD, score_frac, 0, out.data());
    for (int8_t o : out) EXPECT_EQ(o, 0);
  }
  // One row: p = 1, o = v (at 2^-8; ctx_shift 8 brings it back to v).
  AttentionHeadToInt8(q.data(), rows, rows, 1, kD, 5, 8, out.data());
  for (int8_t o : out) EXPECT_EQ(o, 7);
  // Lengths the softmax cannot take also give zeros.
  AttentionHeadToInt8(q.data(), rows, rows, 0, kD, 5, 8, out.data());
  for (int8_t o : out) EXPECT_EQ(o, 0);
  std::vector<int32_t> codes(kD, 1);
  AttentionHeadCodes(q.data(), rows, rows, kMaxAttentionLength + 1, kD, 5,
                     codes.data());
  for (int32_t o : codes) EXPECT_EQ(o, 0);
}

// ---------------------------------------------------------------------------
// Speed (printed, not asserted).

template <class F>
double NsPerCall(F&& f, double min_seconds) {
  using Clock = std::chrono::steady_clock;
  f();  // Warm-up.
  int64_t calls = 0;
  const auto start = Clock::now();
  double elapsed = 0;
  do {
    f();
    ++calls;
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  } while (elapsed < min_seconds);
  return elapsed * 1e9 / static_cast<double>(calls);
}

// ns per call of f on every code path, e.g. "baseline 5000 ns, avx2 2000".
template <class F>
std::string NativeTimes(F&& f, double seconds, double* best) {
  PathScope scope;
  std::string text;
  *best = 1e300;
  for (IntOpsPath path : Paths()) {
    SetIntOpsPathForTesting(path);
    const double ns = NsPerCall(f, seconds);
    *best = std::min(*best, ns);
    char buffer[64];
    std::snprintf(buffer, sizeof(buffer), "%s%s %.0f ns",
                  text.empty() ? "" : ", ", PathName(path), ns);
    text += buffer;
  }
  return text;
}

TEST(CpuIntOpsSpeed, PrintsNsPerCall) {
  const double seconds = kSanitized ? 0.02 : 0.3;
  std::mt19937_64 rng(5);
  volatile int sink = 0;
  double best = 0;

  {  // LayerNorm, n = 768.
    using C = gpt2::LayerNormConfig<Small>;
    constexpr int kN = C::kN;
    const LnCase c = RandomLnCase(kN, 6, rng);
    std::vector<int8_t> out(kN);
    const std::string native = NativeTimes(
        [&] {
          LayerNormToInt8(c.x.data(), kN, c.gamma.data(), c.beta.data(),
                          c.out_shift, out.data());
          sink = sink + out[0];
        },
        seconds, &best);
    std::vector<gpt2::resid_t> in(kN);
    std::vector<gpt2::ln_param_t> gamma(kN), beta(kN);
    std::vector<gpt2::ln_out_t> y(kN);
    for (int i = 0; i < kN; ++i) {
      in[i] = FromRaw<gpt2::resid_t>(c.x[i]);
      gamma[i] = FromRaw<gpt2::ln_param_t>(c.gamma[i]);
      beta[i] = FromRaw<gpt2::ln_param_t>(c.beta[i]);
    }
    const kn::linear_shift_t shift = c.out_shift;
    const double kernel = NsPerCall(
        [&] {
          kn::LayerNorm<C>(in.data(), gamma.data(), beta.data(), y.data());
          for (int i = 0; i < kN; ++i) {
            out[i] = static_cast<int8_t>(
                kn::RequantizeOne<gpt2::ToActivation<24>>(
                    gpt2::RawBits<gpt2::ln_out_raw_t>(y[i]), shift)
                    .to_int());
          }
          sink = sink + out[0];
        },
        seconds);
    std::printf("LayerNorm(768): %s; kernel %.0f ns (%.0fx the best)\n",
                native.c_str(), kernel, kernel / best);
  }

  {  // GELU, n = 3072.
    constexpr int kN = Small::kInner;
    std::vector<int32_t> x(kN);
    std::normal_distribution<double> normal(0.0, 1.0);
    for (auto& v : x) {
      v = static_cast<int32_t>(std::llround(2.0 * normal(rng) * 4096));
    }
    std::vector<int8_t> out(kN);
    const std::string native = NativeTimes(
        [&] {
          GeluToInt8(x.data(), kN, 8, out.data());
          sink = sink + out[0];
        },
        seconds, &best);
    std::vector<gpt2::gelu_t> in(kN), y(kN);
    for (int i = 0; i < kN; ++i) in[i] = FromRaw<gpt2::gelu_t>(x[i]);
    const kn::linear_shift_t shift = 8;
    const double kernel = NsPerCall(
        [&] {
          kn::Gelu<gpt2::GeluConfig<Small>>(in.data(), y.data());
          for (int i = 0; i < kN; ++i) {
            out[i] = static_cast<int8_t>(
                kn::RequantizeOne<gpt2::ToActivation<20>>(
                    gpt2::RawBits<gpt2::gelu_raw_t>(y[i]), shift)
                    .to_int());
          }
          sink = sink + out[0];
        },
        seconds);
    std::printf("GELU(3072): %s; kernel %.0f ns (%.0fx the best)\n",
                native.c_str(), kernel, kernel / best);
  }

  // Attention, length 1024, head_dim 64: q, k ~ N(0, 30^2) codes with
  // score_frac 15 (scores of order 1: every probability nonzero).
  {
    using C = gpt2::AttentionConfig<Small>;
    constexpr int kD = C::kHeadDim;
    constexpr int kLength = 1024;
    HeadCase c = RandomHeadCase(kD, kLength, 1, rng);
    std::normal_distribution<double> normal(0.0, 1.0);
    for (auto& x : c.q) x = Int8(std::llround(30 * normal(rng)));
    for (auto& row : c.k) {
      for (auto& x : row) x = Int8(std::llround(30 * normal(rng)));
    }
    c.score_frac = 15;
    c.ctx_shift = 8;
    const PagedRows keys = Scatter(c.k, kD, rng);
    const PagedRows values = Scatter(c.v, kD, rng);
    std::vector<int8_t> out(kD);
    const std::string native = NativeTimes(
        [&] {
          AttentionHeadToInt8(c.q.data(), keys.rows.data(), values.rows.data(),
                              kLength, kD, c.score_frac, c.ctx_shift,
                              out.data());
          sink = sink + out[0];
        },
        seconds, &best);
    KernelHead<C> kernel_head;
    std::vector<int32_t> codes;
    kernel_head.Fill(c);
    const double kernel = NsPerCall(
        [&] {
          kernel_head.Step(c, &codes, &out);
          sink = sink + out[0];
        },
        seconds);
    std::printf("Attention(1024, d 64): %s; kernel %.0f ns (%.0fx the best)\n",
                native.c_str(), kernel, kernel / best);
  }
}

}  // namespace
}  // namespace fxserve::backends::cpu

namespace fxserve::backends::cpu {
namespace {

// The inline fast path equals the exact one over its documented domain.
TEST(CpuRequantize, NarrowEqualsExact) {
  std::mt19937_64 rng(42);
  std::vector<int64_t> values = {0, 1, -1, 2, -2, 3, -3};
  for (int b = 1; b < 61; ++b) {
    const int64_t p = int64_t{1} << b;
    for (int64_t d : {-1, 0, 1}) {
      values.push_back(p + d);
      values.push_back(-p + d);
      values.push_back(p / 2 * 3 + d);  // Ties at several shifts.
    }
  }
  for (int i = 0; i < 2000; ++i) {
    const int bits = static_cast<int>(rng() % 61);
    values.push_back(static_cast<int64_t>(rng() >> (63 - bits)) *
                     (rng() % 2 ? 1 : -1));
  }
  for (int out_bits : {2, 8, 16, 20, 24, 32}) {
    for (int shift = -64; shift <= 63; ++shift) {
      for (int64_t v : values) {
        ASSERT_EQ(RequantizeNarrow(v, shift, out_bits),
                  Requantize(v, shift, out_bits))
            << v << " shift " << shift << " bits " << out_bits;
      }
    }
  }
}

}  // namespace
}  // namespace fxserve::backends::cpu
