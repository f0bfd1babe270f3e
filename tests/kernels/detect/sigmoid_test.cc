// The sigmoid table and map (kernels/detect/sigmoid.h): the compile-time
// table equals the contract's formula evaluated with libm, every Q(16, 8)
// input reads the clamped entry, the error against the real sigmoid is
// below 2^-10 as the contract states, and the map kernel applies it to
// every element.
#include "kernels/detect/sigmoid.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "tests/kernels/detect/detect_reference.h"

namespace fxserve::kernels::detect_test {
namespace {

using detect::MakeSigmoidTable;
using detect::sigmoid_t;
using detect::SigmoidOne;

constexpr auto kTable = MakeSigmoidTable();
static_assert(kTable[2048] == 16384, "sigmoid(0) = 1/2 exactly");
static_assert(kTable[0] == 11 && kTable[4095] == 32757, "the ends");

TEST(Sigmoid, TableMatchesTheFormula) {
  int fragile = 0;
  for (int i = 0; i < detect::kSigmoidEntries; ++i) {
    ASSERT_EQ(kTable[i], SigmoidTableRef(i)) << "entry " << i;
    // Entries whose exact value is this close to .5 would depend on the
    // last bits of exp; there are none, so any correct exp gives the table.
    const long double v = 32768.0L / (1.0L + std::exp(-(i - 2048) / 256.0L));
    if (std::fabs(v - std::floor(v) - 0.5L) < 1e-6L) ++fragile;
    if (i > 0) {
      EXPECT_LE(kTable[i - 1], kTable[i]) << "monotonic at " << i;
    }
  }
  EXPECT_EQ(fragile, 0);
}

TEST(Sigmoid, EveryInputCode) {
  double worst = 0;
  for (int z = -32768; z <= 32767; ++z) {
    const int64_t got = SigmoidOne(pre16_t(z)).to_int64();
    ASSERT_EQ(got, SigmoidRef(z)) << "z " << z;
    const double exact = 1.0 / (1.0 + std::exp(-z / 256.0));
    worst = std::max(worst, std::fabs(got / 32768.0 - exact));
  }
  std::printf("sigmoid max error %.3g (2^-10 = %.3g)\n", worst,
              std::ldexp(1.0, -10));
  EXPECT_LT(worst, std::ldexp(1.0, -10));
}

struct MapCfg {
  static constexpr int kHeight = 3;
  static constexpr int kWidth = 5;
  static constexpr int kChannels = 12;
  static constexpr int kPe = 4;
};

TEST(Sigmoid, MapKernel) {
  std::mt19937 rng(7);
  const std::vector<int64_t> z = RandomCodes(
      rng, MapCfg::kHeight * MapCfg::kWidth * MapCfg::kChannels, -32768, 32767);
  PixelStream<pre16_t, MapCfg::kChannels> in;
  PushMap(z, in);
  PixelStream<sigmoid_t, MapCfg::kChannels> out;
  detect::SigmoidMap<MapCfg>(in, out);
  std::vector<int64_t> want(z.size());
  for (size_t i = 0; i < z.size(); ++i) want[i] = SigmoidRef(z[i]);
  ExpectSameMap(PopMap(out, MapCfg::kHeight * MapCfg::kWidth), want,
                MapCfg::kWidth, MapCfg::kChannels, "keypoints");
}

}  // namespace
}  // namespace fxserve::kernels::detect_test
