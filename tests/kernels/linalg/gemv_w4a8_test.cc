// W4A8 GEMV with two weights per multiply: exactly the plain integer
// product, on random data and on the extremes that fill the packed fields.
#include "kernels/linalg/gemv_w4a8.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

namespace fxserve::kernels {
namespace {

template <int kInputs, int kOutputs, int kChunk>
struct TestConfig {
  static constexpr int kIn = kInputs;
  static constexpr int kOut = kOutputs;
  static constexpr int kChunkLog2 = kChunk;
  static constexpr int kUnroll = 2;
  using acc_t = ap_int<32>;
};

// Fills x and W from `pick(row, i)` / `pick_x(i)` and checks y exactly.
template <class Config, class PickX, class PickW>
void CheckAgainstPlainProduct(PickX pick_x, PickW pick_w) {
  static ap_int<8> x[Config::kIn];
  static ap_uint<8> w[Config::kOut / 2][Config::kIn];
  std::vector<std::vector<int>> plain(Config::kOut,
                                      std::vector<int>(Config::kIn));
  for (int i = 0; i < Config::kIn; ++i) x[i] = pick_x(i);
  for (int o = 0; o < Config::kOut; ++o) {
    for (int i = 0; i < Config::kIn; ++i) {
      const int v = pick_w(o, i);  // In [-8, 7].
      plain[o][i] = v;
      w[o / 2][i].range(o % 2 == 0 ? 3 : 7, o % 2 == 0 ? 0 : 4) = v & 0xF;
    }
  }
  typename Config::acc_t y[Config::kOut];
  GemvW4A8<Config>(x, w, y);
  for (int o = 0; o < Config::kOut; ++o) {
    int64_t expected = 0;
    for (int i = 0; i < Config::kIn; ++i) {
      expected += int64_t{x[i].to_int()} * plain[o][i];
    }
    ASSERT_EQ(y[o].to_int64(), expected) << "row " << o;
  }
}

TEST(GemvW4A8, RandomMatchesPlainProduct) {
  std::mt19937 rng(5);
  for (int trial = 0; trial < 5; ++trial) {
    CheckAgainstPlainProduct<TestConfig<768, 16, 8>>(
        [&](int) { return static_cast<int>(rng() % 256) - 128; },
        [&](int, int) { return static_cast<int>(rng() % 16) - 8; });
  }
}

TEST(GemvW4A8, ExtremesFillThePackedFields) {
  // Every product +1024 (the low field's largest sum), every product
  // -1016 (-128 * 7), and alternating signs between the paired rows.
  CheckAgainstPlainProduct<TestConfig<4096, 4, 10>>(
      [](int) { return -128; }, [](int, int) { return -8; });
  CheckAgainstPlainProduct<TestConfig<4096, 4, 10>>([](int) { return -128; },
                                                    [](int, int) { return 7; });
  CheckAgainstPlainProduct<TestConfig<2048, 4, 10>>(
      [](int) { return 127; }, [](int o, int) { return o % 2 == 0 ? -8 : 7; });
  CheckAgainstPlainProduct<TestConfig<512, 4, 4>>(
      [](int i) { return i % 2 == 0 ? -128 : 127; },
      [](int o, int i) { return (o + i) % 2 == 0 ? -8 : 7; });
}

TEST(GemvW4A8, PackedOperandFitsADsp) {
  using Widest = TestConfig<4096, 4, 10>;
  static_assert(PackShift<Widest>() + 5 == 27);
  // The most negative operand: both weights -8.
  EXPECT_EQ(PackWeights<Widest>(-8, -8).to_int64(),
            -8 - 8 * (int64_t{1} << 22));
  EXPECT_EQ(PackWeights<Widest>(7, -8).to_int64(),
            7 - 8 * (int64_t{1} << 22));
}

}  // namespace
}  // namespace fxserve::kernels
