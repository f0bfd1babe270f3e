// x2 resize (kernels/detect/resize2x.h) against the contract's legacy
// bilinear rule in integers: single rows and columns, odd and even sizes
// (the last row and column are repeated), F(y) around F(x) and at the
// contract's ends, so outputs tie, saturate and shift left exactly; F per
// channel or per tensor; int8 and uint8 inputs and outputs (the head's
// resizes read an int8 sum into a uint8 concat input).
#include "kernels/detect/resize2x.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "tests/kernels/detect/detect_reference.h"

namespace fxserve::kernels::detect_test {
namespace {

template <int kH, int kW, int kC, int kP = 1, class In = act8_t,
          class Out = act8_t>
struct Cfg {
  using in_t = In;
  using out_t = Out;
  static constexpr int kHeight = kH;
  static constexpr int kWidth = kW;
  static constexpr int kChannels = kC;
  static constexpr int kPe = kP;
};

// y[oy][ox][c] from i0 = oy >> 1, i1 = min(i0 + 1, H - 1), weights 2 - f
// and f (the same in x), acc = sum x wy wx, requant_8(acc, F(x) + 2 - F(y)).
std::vector<int64_t> ResizeRef(const std::vector<int64_t>& x, int h, int w,
                               int ch, const std::vector<int64_t>& f_x,
                               const std::vector<int64_t>& f_y,
                               CodeRange out = kInt8Codes) {
  std::vector<int64_t> y(static_cast<size_t>(4) * h * w * ch);
  for (int oy = 0; oy < 2 * h; ++oy) {
    const int iy[2] = {oy >> 1, std::min((oy >> 1) + 1, h - 1)};
    const int wy[2] = {2 - (oy & 1), oy & 1};
    for (int ox = 0; ox < 2 * w; ++ox) {
      const int ix[2] = {ox >> 1, std::min((ox >> 1) + 1, w - 1)};
      const int wx[2] = {2 - (ox & 1), ox & 1};
      for (int c = 0; c < ch; ++c) {
        int64_t acc = 0;
        for (int a = 0; a < 2; ++a) {
          for (int b = 0; b < 2; ++b) {
            acc += x[(iy[a] * w + ix[b]) * ch + c] * wy[a] * wx[b];
          }
        }
        y[(oy * 2 * w + ox) * ch + c] =
            RequantTo(acc, static_cast<int>(f_x[c] + 2 - f_y[c]), out);
      }
    }
  }
  return y;
}

template <class Config>
void CheckConfig(unsigned seed, int trials = 8) {
  constexpr int kH = Config::kHeight;
  constexpr int kW = Config::kWidth;
  constexpr int kC = Config::kChannels;
  std::mt19937 rng(seed);
  for (int t = 0; t < trials; ++t) {
    using in_t = typename Config::in_t;
    using out_t = typename Config::out_t;
    const CodeRange in_codes =
        CodeTraits<in_t>::kUnsigned ? kUint8Codes : kInt8Codes;
    const CodeRange out_codes =
        CodeTraits<out_t>::kUnsigned ? kUint8Codes : kInt8Codes;
    const std::vector<int64_t> x =
        RandomCodes(rng, kH * kW * kC, in_codes.least, in_codes.most);
    // F(y) around F(x) (ties when equal), sometimes at the range's ends;
    // even trials per tensor.
    const bool per_tensor = t % 2 == 0;
    const std::vector<int64_t> f_x = RandomFracs(rng, kC, per_tensor);
    std::vector<int64_t> f_y(kC);
    const int64_t d = Uniform(rng, -1, 2);
    for (int c = 0; c < kC; ++c) {
      const int64_t pick = Uniform(rng, 0, 5);
      f_y[c] = pick == 0 ? kFracMin
               : pick == 1
                   ? kFracMax
                   : std::clamp<int64_t>(
                         f_x[c] + (per_tensor ? d : Uniform(rng, -1, 2)),
                         kFracMin, kFracMax);
      if (per_tensor && c > 0) f_y[c] = f_y[0];
    }
    frac_reg_t fx[kC], fy[kC];
    FillFracs<kC>(f_x, fx);
    FillFracs<kC>(f_y, fy);
    PixelStream<in_t, kC> in;
    PixelStream<out_t, kC> out;
    PushMap(x, in);
    detect::Resize2x<Config>(in, fx, fy, out);
    EXPECT_EQ(in.size(), 0u);
    ExpectSameMap(PopMap(out, 4 * kH * kW),
                  ResizeRef(x, kH, kW, kC, f_x, f_y, out_codes), 2 * kW, kC,
                  "trial " + std::to_string(t));
    if (::testing::Test::HasFailure()) return;
  }
}

TEST(Resize2x, MatchesTheLegacyRule) {
  RefCoverage().Reset();
  CheckConfig<Cfg<1, 1, 3>>(1);
  CheckConfig<Cfg<1, 5, 2, 2>>(2);
  CheckConfig<Cfg<4, 1, 2>>(3);
  CheckConfig<Cfg<4, 3, 4, 4>>(4);
  CheckConfig<Cfg<7, 8, 3, 3>>(5);
  CheckConfig<Cfg<2, 2, 8, 8>>(6);
  ExpectTiesAndSaturation();
}

TEST(Resize2x, Uint8InputsAndOutputs) {
  RefCoverage().Reset();
  CheckConfig<Cfg<3, 4, 4, 2, act8_t, uact8_t>>(11);
  CheckConfig<Cfg<4, 3, 3, 1, uact8_t, uact8_t>>(12);
  CheckConfig<Cfg<2, 5, 2, 2, uact8_t, act8_t>>(13);
  CheckConfig<Cfg<1, 1, 4, 4, uact8_t, uact8_t>>(14);
  ExpectTiesAndSaturation();
}

TEST(Resize2x, OneByOneRepeats) {
  // A 1 x 1 map: every output is 4 x / 4 = x when F(y) = F(x).
  PixelStream<act8_t, 1> in, out;
  PushMap(std::vector<int64_t>{-77}, in);
  const frac_reg_t f[1] = {3};
  detect::Resize2x<Cfg<1, 1, 1>>(in, f, f, out);
  EXPECT_EQ(PopMap(out, 4), (std::vector<int64_t>{-77, -77, -77, -77}));
}

}  // namespace
}  // namespace fxserve::kernels::detect_test
