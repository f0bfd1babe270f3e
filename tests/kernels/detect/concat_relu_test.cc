// Concat + relu (kernels/detect/concat_relu.h): a's channels then b's, each
// requantized from its own F into F(y) and clamped at 0; the quantizer's
// case (equal F: a copy and a relu) and unequal ones; int8 and uint8
// inputs and outputs (the quantizer's concats are uint8 throughout).
#include "kernels/detect/concat_relu.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "tests/kernels/detect/detect_reference.h"

namespace fxserve::kernels::detect_test {
namespace {

template <int kH, int kW, int kA, int kB, int kP = 1, class A = act8_t,
          class B = act8_t, class Out = act8_t>
struct Cfg {
  using a_t = A;
  using b_t = B;
  using out_t = Out;
  static constexpr int kHeight = kH;
  static constexpr int kWidth = kW;
  static constexpr int kChannelsA = kA;
  static constexpr int kChannelsB = kB;
  static constexpr int kPe = kP;
};

template <class Config>
void CheckConfig(unsigned seed, int trials = 12) {
  constexpr int kPixels = Config::kHeight * Config::kWidth;
  constexpr int kA = Config::kChannelsA;
  constexpr int kB = Config::kChannelsB;
  std::mt19937 rng(seed);
  for (int t = 0; t < trials; ++t) {
    using a_t = typename Config::a_t;
    using b_t = typename Config::b_t;
    using out_t = typename Config::out_t;
    const auto range = [](bool is_unsigned) {
      return is_unsigned ? kUint8Codes : kInt8Codes;
    };
    const CodeRange ra = range(CodeTraits<a_t>::kUnsigned);
    const CodeRange rb = range(CodeTraits<b_t>::kUnsigned);
    const CodeRange ry = range(CodeTraits<out_t>::kUnsigned);
    const std::vector<int64_t> a =
        RandomCodes(rng, kPixels * kA, ra.least, ra.most);
    const std::vector<int64_t> b =
        RandomCodes(rng, kPixels * kB, rb.least, rb.most);
    // Even trials: the quantizer's case, every F equal (a copy and a
    // relu); odd ones: each channel its own F.
    const bool same = t % 2 == 0;
    const std::vector<int64_t> f_y = RandomFracs(rng, kA + kB, same);
    std::vector<int64_t> f_a(kA), f_b(kB);
    for (int c = 0; c < kA; ++c) {
      f_a[c] = same ? f_y[c] : Uniform(rng, kFracMin, kFracMax);
    }
    for (int c = 0; c < kB; ++c) {
      f_b[c] = same ? f_y[kA + c]
                    : std::clamp<int64_t>(f_y[kA + c] + Uniform(rng, -2, 2),
                                          kFracMin, kFracMax);
    }
    frac_reg_t fa[kA], fb[kB], fy[kA + kB];
    FillFracs<kA>(f_a, fa);
    FillFracs<kB>(f_b, fb);
    FillFracs<kA + kB>(f_y, fy);
    PixelStream<a_t, kA> in_a;
    PixelStream<b_t, kB> in_b;
    PixelStream<out_t, kA + kB> out;
    PushMap(a, in_a);
    PushMap(b, in_b);
    detect::ConcatRelu<Config>(in_a, in_b, fa, fb, fy, out);
    std::vector<int64_t> want;
    for (int i = 0; i < kPixels; ++i) {
      for (int c = 0; c < kA; ++c) {
        want.push_back(std::max<int64_t>(
            RequantTo(a[i * kA + c], static_cast<int>(f_a[c] - f_y[c]), ry),
            0));
      }
      for (int c = 0; c < kB; ++c) {
        want.push_back(std::max<int64_t>(
            RequantTo(b[i * kB + c], static_cast<int>(f_b[c] - f_y[kA + c]),
                      ry),
            0));
      }
    }
    if (same) {  // A copy and a relu.
      for (int i = 0; i < kPixels * kA; ++i) {
        ASSERT_EQ(want[i / kA * (kA + kB) + i % kA],
                  std::clamp<int64_t>(a[i], 0, ry.most));
      }
    }
    ExpectSameMap(PopMap(out, kPixels), want, Config::kWidth, kA + kB,
                  "trial " + std::to_string(t));
    if (::testing::Test::HasFailure()) return;
  }
}

TEST(ConcatRelu, Maps) {
  RefCoverage().Reset();
  CheckConfig<Cfg<3, 4, 4, 6, 2>>(1);
  CheckConfig<Cfg<1, 1, 1, 1>>(2);
  CheckConfig<Cfg<5, 3, 8, 3>>(3);
  ExpectTiesAndSaturation();
}

TEST(ConcatRelu, Uint8Maps) {
  RefCoverage().Reset();
  CheckConfig<Cfg<3, 4, 4, 6, 2, uact8_t, uact8_t, uact8_t>>(4);
  CheckConfig<Cfg<2, 2, 3, 5, 1, act8_t, uact8_t, uact8_t>>(5);
  CheckConfig<Cfg<4, 1, 2, 2, 2, uact8_t, act8_t, act8_t>>(6);
  ExpectTiesAndSaturation();
}

}  // namespace
}  // namespace fxserve::kernels::detect_test
