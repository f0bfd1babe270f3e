// Softmax kernel: random rows against double precision with a measured
// error bound, masking beyond `length`, exact cases (one element, equal
// scores), monotonic exp, and pinned golden outputs.
#include "kernels/nonlinear/softmax.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

namespace fxserve::kernels {
namespace {

using Config = SoftmaxConfigExample;
using input_t = Config::input_t;
using output_t = Config::output_t;
constexpr double kOutLsb = 1.0 / (1 << 15);  // output_t: 15 fraction bits.

std::vector<double> SoftmaxReference(const input_t* in, int length) {
  double max_score = in[0].to_double();
  for (int i = 1; i < length; ++i)
    max_score = std::max(max_score, in[i].to_double());
  std::vector<double> p(length);
  double sum = 0;
  for (int i = 0; i < length; ++i)
    sum += p[i] = std::exp(in[i].to_double() - max_score);
  for (double& v : p) v /= sum;
  return p;
}

TEST(SoftmaxKernel, RandomRowsWithinErrorBound) {
  std::mt19937 rng(11);
  double max_error = 0;
  for (int trial = 0; trial < 300; ++trial) {
    const int length = 1 + static_cast<int>(rng() % Config::kN);
    const double spread = 0.5 + (rng() % 16);  // Flat to peaked rows.
    std::uniform_real_distribution<double> dist(-spread, spread);
    input_t in[Config::kN];
    output_t out[Config::kN];
    for (int i = 0; i < Config::kN; ++i) in[i] = dist(rng);
    Softmax<Config>(in, out, length);
    const auto expected = SoftmaxReference(in, length);
    for (int i = 0; i < Config::kN; ++i) {
      if (i >= length) {
        ASSERT_EQ(out[i].to_double(), 0.0) << "masked position " << i;
        continue;
      }
      const double error = std::abs(out[i].to_double() - expected[i]);
      max_error = std::max(max_error, error);
      // Bound: table and log2(e) rounding (relative ~2^-9 of each term from
      // 8-bit f), reciprocal truncation and output rounding.
      ASSERT_LE(error, 4 * kOutLsb + expected[i] * 0.003)
          << "trial " << trial << " i " << i << " expected " << expected[i];
    }
  }
  std::printf("softmax max abs error %.2f output LSB\n", max_error / kOutLsb);
}

TEST(SoftmaxKernel, ExactCases) {
  input_t in[Config::kN];
  output_t out[Config::kN];
  in[0] = 3.25;
  Softmax<Config>(in, out, 1);
  EXPECT_EQ(out[0].to_double(), 1.0);  // e = 1, sum = 1, 1/sum = 1.
  for (int i = 0; i < 4; ++i) in[i] = -2.5;
  Softmax<Config>(in, out, 4);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(out[i].to_double(), 0.25);
  // Far below the maximum: e^-40 underflows to exactly 0.
  in[0] = 20;
  in[1] = -20;
  Softmax<Config>(in, out, 2);
  EXPECT_EQ(out[0].to_double(), 1.0);
  EXPECT_EQ(out[1].to_double(), 0.0);
}

TEST(SoftmaxKernel, ExpIsMonotonic) {
  using dist_t = ap_ufixed<17, 7>;
  double previous = 2.0;
  for (int code = 0; code < (1 << 17); ++code) {
    dist_t z;
    z.range(16, 0) = code;
    const double e = ExpNegative<Config>(z).to_double();
    ASSERT_LE(e, previous) << "z = " << z.to_double();
    ASSERT_NEAR(e, std::exp(-z.to_double()),
                std::exp(-z.to_double()) * 0.003 + 1.0 / (1 << 17));
    previous = e;
  }
}

TEST(SoftmaxKernel, GoldenOutputsArePinned) {
  const double scores[8] = {1.5, -0.25, 3.0, 0.0, 2.75, -4.0, 3.0, 0.5};
  // Raw output codes (x 2^-15), pinned from this kernel's spec.
  const int kGolden[8] = {2303, 401, 10323, 514, 8047, 9, 10323, 848};
  input_t in[Config::kN];
  output_t out[Config::kN];
  for (int i = 0; i < 8; ++i) in[i] = scores[i];
  Softmax<Config>(in, out, 8);
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(out[i].range(15, 0).to_int(), kGolden[i]) << "element " << i;
  }
}

}  // namespace
}  // namespace fxserve::kernels
