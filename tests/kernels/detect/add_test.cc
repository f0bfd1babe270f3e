// Add (kernels/detect/add.h) against the contract: both inputs aligned to
// M = max(F(a), F(b)) exactly, one rounding into F(y); every F(a), F(b),
// F(y) of the contract's range (the alignment reaches 2^24), random maps
// with the registers per channel or per tensor; int8 and uint8 inputs and
// outputs in every combination.
#include "kernels/detect/add.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "tests/kernels/detect/detect_reference.h"

namespace fxserve::kernels::detect_test {
namespace {

int64_t AddRef(int64_t a, int64_t b, int f_a, int f_b, int f_y,
               CodeRange out = kInt8Codes) {
  const int m = std::max(f_a, f_b);
  return RequantTo((Int128{a} << (m - f_a)) + (Int128{b} << (m - f_b)), m - f_y,
                   out);
}

template <class T>
CodeRange RangeOf() {
  return CodeTraits<T>::kUnsigned ? kUint8Codes : kInt8Codes;
}

// AddOne with codes of types A, B into Out, every F triple.
template <class A, class B, class Out>
void CheckEveryFracTriple(unsigned seed) {
  std::mt19937 rng(seed);
  const CodeRange ra = RangeOf<A>(), rb = RangeOf<B>(), ry = RangeOf<Out>();
  for (int f_a = kFracMin; f_a <= kFracMax; ++f_a) {
    for (int f_b = kFracMin; f_b <= kFracMax; ++f_b) {
      for (int f_y = kFracMin; f_y <= kFracMax; ++f_y) {
        for (int i = 0; i < 8; ++i) {
          const int64_t a = RandomCode(rng, ra.least, ra.most);
          const int64_t b = RandomCode(rng, rb.least, rb.most);
          const int m = std::max(f_a, f_b);
          ASSERT_EQ(detect::AddOne<Out>(A(a), B(b), m - f_a, m - f_b,
                                        conv_shift_t(m - f_y))
                        .to_int64(),
                    AddRef(a, b, f_a, f_b, f_y, ry))
              << a << " + " << b << " F " << f_a << " " << f_b << " -> " << f_y;
        }
      }
    }
  }
}

TEST(Add, EveryFracTripleOnExtremesAndRandomCodes) {
  RefCoverage().Reset();
  std::mt19937 rng(1);
  for (int f_a = kFracMin; f_a <= kFracMax; ++f_a) {
    for (int f_b = kFracMin; f_b <= kFracMax; ++f_b) {
      for (int f_y = kFracMin; f_y <= kFracMax; ++f_y) {
        for (int i = 0; i < 24; ++i) {
          const int64_t a = RandomCode(rng, -128, 127);
          const int64_t b = RandomCode(rng, -128, 127);
          const int fa = f_a, fb = f_b, fy = f_y;
          const int m = std::max(fa, fb);
          ASSERT_EQ(detect::AddOne(act8_t(a), act8_t(b), m - fa, m - fb,
                                   conv_shift_t(m - fy))
                        .to_int64(),
                    AddRef(a, b, fa, fb, fy))
              << a << " + " << b << " F " << fa << " " << fb << " -> " << fy;
        }
      }
    }
  }
  ExpectTiesAndSaturation();
}

TEST(Add, Uint8CodesEveryFracTriple) {
  RefCoverage().Reset();
  CheckEveryFracTriple<uact8_t, uact8_t, uact8_t>(11);
  CheckEveryFracTriple<uact8_t, act8_t, act8_t>(12);
  CheckEveryFracTriple<act8_t, uact8_t, uact8_t>(13);
  CheckEveryFracTriple<act8_t, act8_t, uact8_t>(14);
  ExpectTiesAndSaturation();
}

template <int kH, int kW, int kC, int kP = 1, class A = act8_t,
          class B = act8_t, class Out = act8_t>
struct Cfg {
  using a_t = A;
  using b_t = B;
  using out_t = Out;
  static constexpr int kHeight = kH;
  static constexpr int kWidth = kW;
  static constexpr int kChannels = kC;
  static constexpr int kPe = kP;
};

template <class Config>
void CheckConfig(unsigned seed, int trials = 8) {
  constexpr int kN = Config::kHeight * Config::kWidth * Config::kChannels;
  std::mt19937 rng(seed);
  for (int t = 0; t < trials; ++t) {
    const CodeRange ra = RangeOf<typename Config::a_t>();
    const CodeRange rb = RangeOf<typename Config::b_t>();
    const std::vector<int64_t> a = RandomCodes(rng, kN, ra.least, ra.most);
    const std::vector<int64_t> b = RandomCodes(rng, kN, rb.least, rb.most);
    // F(b) near F(a) and F(y) at or below the finer of the two; even
    // trials per tensor.
    const bool per_tensor = t % 2 == 0;
    const int kC = Config::kChannels;
    const std::vector<int64_t> f_a = RandomFracs(rng, kC, per_tensor);
    std::vector<int64_t> f_b(kC), f_y(kC);
    for (int c = 0; c < kC; ++c) {
      if (per_tensor && c > 0) {
        f_b[c] = f_b[0];
        f_y[c] = f_y[0];
        continue;
      }
      f_b[c] =
          std::clamp<int64_t>(f_a[c] + Uniform(rng, -3, 3), kFracMin, kFracMax);
      f_y[c] = std::clamp<int64_t>(
          std::max(f_a[c], f_b[c]) - Uniform(rng, 0, 2), kFracMin, kFracMax);
    }
    frac_reg_t fa[Config::kChannels], fb[Config::kChannels],
        fy[Config::kChannels];
    FillFracs<Config::kChannels>(f_a, fa);
    FillFracs<Config::kChannels>(f_b, fb);
    FillFracs<Config::kChannels>(f_y, fy);
    PixelStream<typename Config::a_t, Config::kChannels> in_a;
    PixelStream<typename Config::b_t, Config::kChannels> in_b;
    PixelStream<typename Config::out_t, Config::kChannels> out;
    PushMap(a, in_a);
    PushMap(b, in_b);
    detect::Add<Config>(in_a, in_b, fa, fb, fy, out);
    std::vector<int64_t> want(kN);
    for (int i = 0; i < kN; ++i) {
      const int c = i % kC;
      want[i] =
          AddRef(a[i], b[i], static_cast<int>(f_a[c]), static_cast<int>(f_b[c]),
                 static_cast<int>(f_y[c]), RangeOf<typename Config::out_t>());
    }
    ExpectSameMap(PopMap(out, Config::kHeight * Config::kWidth), want,
                  Config::kWidth, Config::kChannels,
                  "trial " + std::to_string(t));
    if (::testing::Test::HasFailure()) return;
  }
}

TEST(Add, Maps) {
  CheckConfig<Cfg<3, 5, 4, 2>>(1);
  CheckConfig<Cfg<1, 1, 8, 8>>(2);
  CheckConfig<Cfg<6, 2, 3, 3>>(3);
}

TEST(Add, Uint8Maps) {
  CheckConfig<Cfg<3, 4, 4, 2, uact8_t, uact8_t, uact8_t>>(4);
  CheckConfig<Cfg<2, 3, 6, 3, act8_t, uact8_t, act8_t>>(5);
  CheckConfig<Cfg<4, 2, 2, 1, uact8_t, act8_t, uact8_t>>(6);
}

}  // namespace
}  // namespace fxserve::kernels::detect_test
