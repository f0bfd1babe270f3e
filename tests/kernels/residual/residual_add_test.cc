// Residual add: every pair of 8-bit codes against a reference computed on
// the raw integers (sum, then the output's rounding and overflow rule).
#include "kernels/residual/residual_add.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace fxserve::kernels {
namespace {

template <class A, class B, class Out>
struct TestConfig {
  using a_t = A;
  using b_t = B;
  using out_t = Out;
  static constexpr int kN = 256;  // One call covers every b code.
  static constexpr int kUnroll = 8;
};

template <class T>
int RawOf(const T& v) {
  return static_cast<int8_t>(v.range(7, 0).to_uint());
}

// Runs the kernel on a = each code, b = all 256 codes, and compares each
// output's raw code with reference(a_code, b_code).
template <class Config, class Reference>
void CheckAllPairs(Reference reference) {
  typename Config::a_t a[Config::kN];
  typename Config::b_t b[Config::kN];
  typename Config::out_t out[Config::kN];
  for (int ca = -128; ca < 128; ++ca) {
    for (int i = 0; i < Config::kN; ++i) {
      a[i].range(7, 0) = ca & 0xFF;
      b[i].range(7, 0) = (i - 128) & 0xFF;
    }
    ResidualAdd<Config>(a, b, out);
    for (int i = 0; i < Config::kN; ++i) {
      const int cb = i - 128;
      ASSERT_EQ(RawOf(out[i]), reference(ca, cb))
          << "a code " << ca << " b code " << cb;
      ASSERT_EQ(RawOf(ResidualAddOne<Config>(a[i], b[i])), reference(ca, cb));
    }
  }
}

int Saturate8(int v) { return v > 127 ? 127 : (v < -128 ? -128 : v); }
int Wrap8(int v) { return ((v + 128) & 0xFF) - 128; }

TEST(ResidualAdd, SameFormatSaturates) {
  // Same LSB (2^-5) everywhere: the raw sum, clamped.
  using Q = ap_fixed<8, 3>;
  CheckAllPairs<TestConfig<Q, Q, ap_fixed<8, 3, AP_TRN, AP_SAT>>>(
      [](int ca, int cb) { return Saturate8(ca + cb); });
}

TEST(ResidualAdd, SameFormatWraps) {
  using Q = ap_fixed<8, 3>;
  CheckAllPairs<TestConfig<Q, Q, ap_fixed<8, 3, AP_TRN, AP_WRAP>>>(
      [](int ca, int cb) { return Wrap8(ca + cb); });
}

// Sum in units of 2^-5 (a: 2^-5, b: 2^-4), output in units of 2^-4.
int HalveToEven(int s) {
  int q = s >= 0 ? s / 2 : -((-s + 1) / 2);  // Floor of s / 2.
  if (s - 2 * q == 1 && (q & 1) != 0) ++q;   // A tie: to the even neighbour.
  return q;
}

int HalveTruncate(int s) { return s >= 0 ? s / 2 : -((-s + 1) / 2); }

TEST(ResidualAdd, MixedFormatsRoundToEvenThenSaturate) {
  CheckAllPairs<TestConfig<ap_fixed<8, 3>, ap_fixed<8, 4>,
                           ap_fixed<8, 4, AP_RND_CONV, AP_SAT>>>(
      [](int ca, int cb) { return Saturate8(HalveToEven(ca + 2 * cb)); });
}

TEST(ResidualAdd, MixedFormatsTruncateThenSaturate) {
  CheckAllPairs<TestConfig<ap_fixed<8, 3>, ap_fixed<8, 4>,
                           ap_fixed<8, 4, AP_TRN, AP_SAT>>>(
      [](int ca, int cb) { return Saturate8(HalveTruncate(ca + 2 * cb)); });
}

TEST(ResidualAdd, ReferenceSelfCheck) {
  EXPECT_EQ(HalveToEven(1), 0);
  EXPECT_EQ(HalveToEven(3), 2);
  EXPECT_EQ(HalveToEven(-1), 0);
  EXPECT_EQ(HalveToEven(-3), -2);
  EXPECT_EQ(HalveToEven(5), 2);
  EXPECT_EQ(HalveTruncate(-1), -1);
  EXPECT_EQ(Wrap8(128), -128);
  EXPECT_EQ(Saturate8(-300), -128);
}

}  // namespace
}  // namespace fxserve::kernels
