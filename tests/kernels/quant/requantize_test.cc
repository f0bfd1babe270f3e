// Requantization: every accumulator in a range and every shift against
// double-precision rounding (rint is ties-to-even), saturation, and the
// array kernel.
#include "kernels/quant/requantize.h"

#include <gtest/gtest.h>

#include <cfenv>
#include <cmath>

namespace fxserve::kernels {
namespace {

using Config = RequantizeConfigExample;

long long Reference(long long acc, int shift) {
  const double scaled = std::ldexp(static_cast<double>(acc), -shift);
  const double rounded = std::nearbyint(scaled);  // Ties to even (default).
  return static_cast<long long>(std::fmin(127.0, std::fmax(-128.0, rounded)));
}

TEST(Requantize, MatchesRoundHalfEvenAndSaturates) {
  ASSERT_EQ(std::fegetround(), FE_TONEAREST);
  for (int shift = -31; shift <= 31; ++shift) {
    for (long long acc = -70000; acc <= 70000; acc += (shift > 8 ? 1 : 37)) {
      const auto out = RequantizeOne<Config>(Config::acc_t(acc), shift);
      ASSERT_EQ(out.to_int(), Reference(acc, shift))
          << "acc " << acc << " shift " << shift;
    }
  }
}

TEST(Requantize, ExtremeAccumulators) {
  const long long kMost = (1LL << 31) - 1, kLeast = -(1LL << 31);
  for (int shift : {-31, -1, 0, 1, 24, 31}) {
    EXPECT_EQ(RequantizeOne<Config>(Config::acc_t(kMost), shift).to_int(),
              Reference(kMost, shift));
    EXPECT_EQ(RequantizeOne<Config>(Config::acc_t(kLeast), shift).to_int(),
              Reference(kLeast, shift));
  }
  // Ties: 2.5 -> 2, 3.5 -> 4, -2.5 -> -2.
  EXPECT_EQ(RequantizeOne<Config>(Config::acc_t(5), 1).to_int(), 2);
  EXPECT_EQ(RequantizeOne<Config>(Config::acc_t(7), 1).to_int(), 4);
  EXPECT_EQ(RequantizeOne<Config>(Config::acc_t(-5), 1).to_int(), -2);
}

TEST(Requantize, ArrayKernelUsesPerChannelShifts) {
  Config::acc_t acc[Config::kN];
  Config::shift_t shift[Config::kN];
  Config::output_t out[Config::kN];
  for (int c = 0; c < Config::kN; ++c) {
    acc[c] = (c - 32) * 1000;
    shift[c] = c % 12;
  }
  Requantize<Config>(acc, shift, out);
  for (int c = 0; c < Config::kN; ++c) {
    EXPECT_EQ(out[c].to_int(), Reference((c - 32) * 1000, c % 12)) << c;
  }
}

}  // namespace
}  // namespace fxserve::kernels
