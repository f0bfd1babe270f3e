// W8A8 GEMM: exactly the plain int64 triple loop, with and without bias, on
// random data and on the extremes, for a small tiled shape and a GPT-2
// shape; a bias that pushes the sum past int32 wraps like int32 arithmetic.
#include "kernels/linalg/gemm_w8a8.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <vector>

namespace fxserve::kernels {
namespace {

template <int kT, int kI, int kO, int kTile, int kU>
struct TestConfig {
  static constexpr int kTokens = kT;
  static constexpr int kIn = kI;
  static constexpr int kOut = kO;
  static constexpr int kTileOut = kTile;
  static constexpr int kUnroll = kU;
  using acc_t = ap_int<32>;
};

using Small = TestConfig<5, 64, 12, 4, 8>;
using Gpt2Qkv = TestConfig<2, 768, 2304, 8, 8>;

// The value of v in two's complement int32 (the wrap of an ap_int<32>).
int64_t WrapToInt32(int64_t v) {
  const uint64_t low = static_cast<uint64_t>(v) & 0xFFFFFFFFu;
  return low >= 0x80000000u ? static_cast<int64_t>(low) - (int64_t{1} << 32)
                            : static_cast<int64_t>(low);
}

// Fills X, W (and bias when use_bias) from the pickers, runs the kernel and
// compares every output with a plain int64 triple loop.
template <class Config, class PickX, class PickW, class PickBias>
void CheckAgainstPlainProduct(PickX pick_x, PickW pick_w, bool use_bias,
                              PickBias pick_bias) {
  using acc_t = typename Config::acc_t;
  static ap_int<8> x[Config::kTokens][Config::kIn];
  static ap_int<8> w[Config::kOut][Config::kIn];
  static acc_t bias[Config::kOut];
  static acc_t y[Config::kTokens][Config::kOut];
  std::vector<int64_t> plain_x(Config::kTokens * Config::kIn);
  std::vector<int64_t> plain_w(Config::kOut * Config::kIn);
  std::vector<int64_t> plain_bias(Config::kOut, 0);
  for (int t = 0; t < Config::kTokens; ++t) {
    for (int i = 0; i < Config::kIn; ++i) {
      const int v = pick_x(t, i);  // In [-128, 127].
      x[t][i] = v;
      plain_x[t * Config::kIn + i] = v;
    }
  }
  for (int o = 0; o < Config::kOut; ++o) {
    for (int i = 0; i < Config::kIn; ++i) {
      const int v = pick_w(o, i);
      w[o][i] = v;
      plain_w[o * Config::kIn + i] = v;
    }
    if (use_bias) {
      const int32_t b = pick_bias(o);
      bias[o] = b;
      plain_bias[o] = b;
    }
  }
  if (use_bias) {
    GemmW8A8<Config>(x, w, bias, y);
  } else {
    GemmW8A8<Config>(x, w, y);
  }
  for (int t = 0; t < Config::kTokens; ++t) {
    for (int o = 0; o < Config::kOut; ++o) {
      int64_t expected = plain_bias[o];
      for (int i = 0; i < Config::kIn; ++i) {
        expected += plain_x[t * Config::kIn + i] * plain_w[o * Config::kIn + i];
      }
      ASSERT_EQ(y[t][o].to_int64(), WrapToInt32(expected))
          << "token " << t << " output " << o;
    }
  }
}

template <class Config>
void CheckRandom(uint32_t seed, bool use_bias) {
  std::mt19937 rng(seed);
  auto int8 = [&](int, int) { return static_cast<int>(rng() % 256) - 128; };
  auto bias = [&](int) {
    return static_cast<int32_t>(rng() % (1u << 26)) - (1 << 25);
  };
  CheckAgainstPlainProduct<Config>(int8, int8, use_bias, bias);
}

TEST(GemmW8A8, RandomMatchesPlainProduct) {
  for (uint32_t seed = 1; seed <= 5; ++seed) {
    CheckRandom<Small>(seed, /*use_bias=*/false);
    CheckRandom<Small>(seed + 100, /*use_bias=*/true);
  }
  // Tile and unroll equal to the whole shape, and the smallest ones.
  CheckRandom<TestConfig<3, 64, 12, 12, 64>>(7, true);
  CheckRandom<TestConfig<3, 64, 12, 1, 1>>(8, true);
}

TEST(GemmW8A8, Gpt2ShapeMatchesPlainProduct) {
  CheckRandom<Gpt2Qkv>(11, /*use_bias=*/false);
  CheckRandom<Gpt2Qkv>(12, /*use_bias=*/true);
}

TEST(GemmW8A8, ExtremesMatchPlainProduct) {
  const auto zero_bias = [](int) { return int32_t{0}; };
  for (const int xv : {-128, 127}) {
    for (const int wv : {-128, 127}) {
      const auto pick_x = [xv](int, int) { return xv; };
      const auto pick_w = [wv](int, int) { return wv; };
      CheckAgainstPlainProduct<Small>(pick_x, pick_w, false, zero_bias);
      CheckAgainstPlainProduct<Gpt2Qkv>(pick_x, pick_w, false, zero_bias);
      // Bias at the int32 extremes, pulling against the dot product.
      const auto far_bias = [xv, wv](int o) {
        const bool positive_dot = (xv > 0) == (wv > 0);
        if (o % 3 == 0) return int32_t{0};
        return positive_dot ? std::numeric_limits<int32_t>::min()
                            : std::numeric_limits<int32_t>::max();
      };
      CheckAgainstPlainProduct<Small>(pick_x, pick_w, true, far_bias);
      CheckAgainstPlainProduct<Gpt2Qkv>(pick_x, pick_w, true, far_bias);
    }
  }
  // Alternating signs per token and per row.
  CheckAgainstPlainProduct<Small>(
      [](int t, int i) { return (t + i) % 2 == 0 ? -128 : 127; },
      [](int o, int i) { return (o * 3 + i) % 2 == 0 ? -128 : 127; }, true,
      [](int o) { return o % 2 == 0 ? 1 : -1; });
}

TEST(GemmW8A8, BiasPastInt32WrapsLikeInt32) {
  // 64 products of +16384 = 2^20 on top of INT32_MAX - 5: the exact sum
  // does not fit int32, and ap_int<32> wraps it modulo 2^32.
  CheckAgainstPlainProduct<Small>(
      [](int, int) { return -128; }, [](int, int) { return -128; }, true,
      [](int) { return std::numeric_limits<int32_t>::max() - 5; });
  static ap_int<8> x[Small::kTokens][Small::kIn];
  static ap_int<8> w[Small::kOut][Small::kIn];
  static ap_int<32> bias[Small::kOut];
  static ap_int<32> y[Small::kTokens][Small::kOut];
  for (auto& row : x) {
    for (auto& v : row) v = -128;
  }
  for (auto& row : w) {
    for (auto& v : row) v = -128;
  }
  for (auto& b : bias) b = std::numeric_limits<int32_t>::max();
  GemmW8A8<Small>(x, w, bias, y);
  EXPECT_EQ(y[0][0].to_int64(),
            std::numeric_limits<int32_t>::min() + (int64_t{1} << 20) - 1);
}

// The largest sum of n products, n * 2^14 (all -128 x -128), fits a signed
// GemmW8A8SumBits(n)-bit number and not one bit fewer.
template <int kN>
void CheckSumBits() {
  constexpr int kBits = GemmW8A8SumBits(kN);
  const int64_t largest = int64_t{kN} << 14;
  EXPECT_EQ(ap_int<kBits>(largest).to_int64(), largest) << "n = " << kN;
  EXPECT_NE(ap_int<kBits - 1>(largest).to_int64(), largest) << "n = " << kN;
}

TEST(GemmW8A8, SumBitsIsTight) {
  CheckSumBits<1>();
  CheckSumBits<3>();
  CheckSumBits<64>();
  CheckSumBits<768>();
  CheckSumBits<1023>();
  CheckSumBits<1024>();
  CheckSumBits<3072>();
  static_assert(GemmW8A8SumBits(768) == 25);
  static_assert(GemmW8A8SumBits(1024) == 26);
}

}  // namespace
}  // namespace fxserve::kernels
