// GELU kernel: every input code against double-precision gelu_new with a
// measured error bound, pinned golden outputs, and the table built at
// compile time.
#include "kernels/nonlinear/gelu.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

namespace fxserve::kernels {
namespace {

using Config = GeluConfigExample;
constexpr double kOutLsb = 1.0 / (1 << 10);  // output_t has 10 fraction bits.

double GeluReference(double x) {
  return 0.5 * x *
         (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}

// The table is a compile-time constant (what the CPU backend will read).
constexpr auto kTable = MakeGeluTable<2, 7, 14>();
static_assert(kTable[64] == 0, "GELU(0) = 0");
static_assert(kTable[0] < 0 && kTable[0] > -8, "GELU(-4) is about -1.3e-4");

TEST(GeluKernel, EveryInputWithinOneOutputLsb) {
  double max_error = 0, sum_error = 0;
  for (int code = 0; code < (1 << 16); ++code) {
    Config::input_t x;
    x.range(15, 0) = code;
    const double got = GeluOne<Config>(x).to_double();
    const double expected = GeluReference(x.to_double());
    const double error = std::abs(got - expected);
    max_error = std::max(max_error, error);
    sum_error += error;
    // Saturation of output_t is not an error: both are clamped at 32.
    ASSERT_LE(error, kOutLsb) << "x = " << x.to_double();
  }
  std::printf("GELU max error %.3f LSB, mean %.3f LSB\n", max_error / kOutLsb,
              sum_error / (1 << 16) / kOutLsb);
}

TEST(GeluKernel, GoldenOutputsArePinned) {
  // Raw output codes (x 2^-10) for fixed inputs: any change to the table,
  // the interpolation or the rounding changes one of them.
  const struct {
    double in;
    int raw_out;
  } kGolden[] = {{0.0, 0},     {1.0, 861},      {-1.0, -163}, {0.5, 354},
                 {-0.5, -158}, {2.71875, 2775}, {-3.5, -1},   {3.96875, 4064},
                 {5.0, 5120},  {-6.0, 0},       {31.5, 32256}};
  for (const auto& g : kGolden) {
    const Config::input_t x = g.in;
    const auto y = GeluOne<Config>(x);
    EXPECT_EQ(static_cast<int16_t>(y.range(15, 0).to_uint()), g.raw_out)
        << "GELU(" << g.in << ") = " << y.to_double();
  }
}

TEST(GeluKernel, ArrayKernelAppliesElementwise) {
  Config::input_t in[Config::kN];
  Config::output_t out[Config::kN];
  for (int i = 0; i < Config::kN; ++i) in[i] = (i - 32) * 0.125;
  Gelu<Config>(in, out);
  for (int i = 0; i < Config::kN; ++i) {
    EXPECT_EQ(out[i].to_double(), GeluOne<Config>(in[i]).to_double());
  }
}

}  // namespace
}  // namespace fxserve::kernels
