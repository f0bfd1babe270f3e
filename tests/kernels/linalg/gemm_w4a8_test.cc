// W4A8 GEMM (prefill): exactly the plain int64 triple loop for random int4
// weights (every one of the 16 codes) and int8 activations (with the -128 and
// 127 extremes), for several token counts and tile shapes; the all-extreme
// worst cases; equal token by token to GemvW4A8 on the same packed weights;
// and a small golden case with the outputs written out by hand.
#include "kernels/linalg/gemm_w4a8.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "kernels/linalg/gemv_w4a8.h"

namespace fxserve::kernels {
namespace {

// One config for both kernels: GemmW4A8 reads kTokens, kIn, kOut, kTileOut,
// kUnroll; GemvW4A8 reads kIn, kOut, kChunkLog2, kUnroll.
template <int kT, int kI, int kO, int kTile, int kU, int kChunk = 4>
struct TestConfig {
  static constexpr int kTokens = kT;
  static constexpr int kIn = kI;
  static constexpr int kOut = kO;
  static constexpr int kTileOut = kTile;
  static constexpr int kUnroll = kU;
  static constexpr int kChunkLog2 = kChunk;
  using acc_t = ap_int<32>;
};

// A problem in plain integers plus the kernels' packed form of it.
template <class Config>
struct Problem {
  std::vector<int64_t> x;  // kTokens x kIn, in [-128, 127].
  std::vector<int64_t> w;  // kOut x kIn, in [-8, 7].
  ap_int<8> x_ap[Config::kTokens][Config::kIn];
  // w_packed[p][i]: W[2p][i] in the low nibble, W[2p+1][i] in the high one.
  ap_uint<8> w_packed[Config::kOut / 2][Config::kIn];

  int64_t X(int t, int i) const { return x[t * Config::kIn + i]; }
  int64_t W(int o, int i) const { return w[o * Config::kIn + i]; }
};

// Fills a Problem from pick_x(t, i) and pick_w(o, i). Packs the nibbles with
// plain integer arithmetic, independently of the kernels' range() reads.
template <class Config, class PickX, class PickW>
std::unique_ptr<Problem<Config>> MakeProblem(PickX pick_x, PickW pick_w) {
  auto p = std::make_unique<Problem<Config>>();
  p->x.resize(Config::kTokens * Config::kIn);
  p->w.resize(Config::kOut * Config::kIn);
  for (int t = 0; t < Config::kTokens; ++t) {
    for (int i = 0; i < Config::kIn; ++i) {
      const int v = pick_x(t, i);
      p->x[t * Config::kIn + i] = v;
      p->x_ap[t][i] = v;
    }
  }
  for (int o = 0; o < Config::kOut; ++o) {
    for (int i = 0; i < Config::kIn; ++i)
      p->w[o * Config::kIn + i] = pick_w(o, i);
  }
  for (int q = 0; q < Config::kOut / 2; ++q) {
    for (int i = 0; i < Config::kIn; ++i) {
      const unsigned low = static_cast<unsigned>(p->W(2 * q, i)) & 0xFu;
      const unsigned high = static_cast<unsigned>(p->W(2 * q + 1, i)) & 0xFu;
      p->w_packed[q][i] = (high << 4) | low;
    }
  }
  return p;
}

// Runs GemmW4A8 and compares every output with the int64 triple loop.
template <class Config>
void CheckAgainstPlainProduct(const Problem<Config>& p) {
  static typename Config::acc_t y[Config::kTokens][Config::kOut];
  GemmW4A8<Config>(p.x_ap, p.w_packed, y);
  for (int t = 0; t < Config::kTokens; ++t) {
    for (int o = 0; o < Config::kOut; ++o) {
      int64_t expected = 0;
      for (int i = 0; i < Config::kIn; ++i) expected += p.X(t, i) * p.W(o, i);
      ASSERT_EQ(y[t][o].to_int64(), expected)
          << "token " << t << " output " << o;
    }
  }
}

// Random int8 activations with a few forced -128 / 127 per token, and
// uniform int4 weights; checks that all 16 weight codes and both activation
// extremes occur.
template <class Config>
std::unique_ptr<Problem<Config>> MakeRandomProblem(uint32_t seed) {
  std::mt19937 rng(seed);
  auto p = MakeProblem<Config>(
      [&](int, int i) {
        if (i % 7 == 0) return -128;
        if (i % 7 == 3) return 127;
        return static_cast<int>(rng() % 256) - 128;
      },
      [&](int, int) { return static_cast<int>(rng() % 16) - 8; });
  std::array<int, 16> code_count{};
  for (const int64_t v : p->w) ++code_count[v + 8];
  for (int code = 0; code < 16; ++code) {
    EXPECT_GT(code_count[code], 0) << "weight " << code - 8 << " never drawn";
  }
  int lowest = 0, highest = 0;
  for (const int64_t v : p->x) {
    lowest += v == -128;
    highest += v == 127;
  }
  EXPECT_GT(lowest, 0);
  EXPECT_GT(highest, 0);
  return p;
}

using OneToken = TestConfig<1, 64, 8, 2, 8>;
using ThreeTokens = TestConfig<3, 256, 12, 4, 8>;
using SixteenTokens = TestConfig<16, 768, 16, 8, 8, 8>;
using WholeTile = TestConfig<3, 32, 6, 6, 32, 5>;  // Tile = kOut, no split.
using SmallestTile = TestConfig<3, 32, 6, 2, 1, 5>;
using LongRow = TestConfig<3, 4096, 4, 2, 8, 10>;  // kIn at its limit.

TEST(GemmW4A8, RandomMatchesPlainProduct) {
  for (uint32_t seed = 1; seed <= 3; ++seed) {
    CheckAgainstPlainProduct(*MakeRandomProblem<OneToken>(seed));
    CheckAgainstPlainProduct(*MakeRandomProblem<ThreeTokens>(seed + 10));
  }
  CheckAgainstPlainProduct(*MakeRandomProblem<SixteenTokens>(21));
  CheckAgainstPlainProduct(*MakeRandomProblem<WholeTile>(22));
  CheckAgainstPlainProduct(*MakeRandomProblem<SmallestTile>(23));
  CheckAgainstPlainProduct(*MakeRandomProblem<LongRow>(24));
}

TEST(GemmW4A8, AllExtremesMatchPlainProduct) {
  // Every product at its largest (-128 x -8 = +1024) or most negative
  // (127 x -8 = -1016, -128 x 7 = -896) over 4096 inputs, the largest row
  // the kernels take; then signs alternating per input, token and row.
  for (const int xv : {-128, 127}) {
    for (const int wv : {-8, 7}) {
      const auto pick_x = [xv](int, int) { return xv; };
      const auto pick_w = [wv](int, int) { return wv; };
      CheckAgainstPlainProduct(*MakeProblem<LongRow>(pick_x, pick_w));
      CheckAgainstPlainProduct(*MakeProblem<SixteenTokens>(pick_x, pick_w));
    }
  }
  CheckAgainstPlainProduct(*MakeProblem<LongRow>(
      [](int t, int i) { return (t + i) % 2 == 0 ? -128 : 127; },
      [](int o, int i) { return (o + i) % 2 == 0 ? -8 : 7; }));
  // Paired rows of opposite extremes share a byte: 0x78 and 0x87.
  CheckAgainstPlainProduct(*MakeProblem<ThreeTokens>(
      [](int t, int) { return t % 2 == 0 ? -128 : 127; },
      [](int o, int i) { return (o + i / 5) % 2 == 0 ? -8 : 7; }));
}

// Same packed weights, same activations: GemmW4A8's row t equals GemvW4A8
// run on token t alone.
template <class Config>
void CheckEqualsGemvPerToken(const Problem<Config>& p) {
  static typename Config::acc_t y_gemm[Config::kTokens][Config::kOut];
  GemmW4A8<Config>(p.x_ap, p.w_packed, y_gemm);
  for (int t = 0; t < Config::kTokens; ++t) {
    typename Config::acc_t y_gemv[Config::kOut];
    GemvW4A8<Config>(p.x_ap[t], p.w_packed, y_gemv);
    for (int o = 0; o < Config::kOut; ++o) {
      ASSERT_EQ(y_gemm[t][o].to_int64(), y_gemv[o].to_int64())
          << "token " << t << " output " << o;
    }
  }
}

TEST(GemmW4A8, EqualsGemvTokenByToken) {
  CheckEqualsGemvPerToken(*MakeRandomProblem<OneToken>(31));
  CheckEqualsGemvPerToken(*MakeRandomProblem<ThreeTokens>(32));
  CheckEqualsGemvPerToken(*MakeRandomProblem<SixteenTokens>(33));
  CheckEqualsGemvPerToken(*MakeRandomProblem<LongRow>(34));
  CheckEqualsGemvPerToken(*MakeProblem<LongRow>([](int, int) { return -128; },
                                                [](int, int) { return -8; }));
}

TEST(GemmW4A8, GoldenVectors) {
  using Golden = TestConfig<2, 4, 4, 2, 2, 2>;
  // W (int4), rows 0..3:      packed bytes (high nibble = odd row):
  //   W0 = { 1, -2,  3, -8}   w[0] = {0x71, 0x0E, 0xF3, 0x28}
  //   W1 = { 7,  0, -1,  2}
  //   W2 = {-8, -8,  7,  7}   w[1] = {0x08, 0x18, 0xC7, 0x57}
  //   W3 = { 0,  1, -4,  5}
  const ap_int<8> x[2][4] = {{10, -3, 127, -128}, {-128, 127, 0, 1}};
  const ap_uint<8> w[2][4] = {{0x71, 0x0E, 0xF3, 0x28},
                              {0x08, 0x18, 0xC7, 0x57}};
  // By hand, e.g. y[0][0] = 10*1 + (-3)(-2) + 127*3 + (-128)(-8)
  //                       = 10 + 6 + 381 + 1024 = 1421.
  const int64_t expected[2][4] = {{1421, -313, -63, -1151},
                                  {-390, -894, 15, 132}};
  Golden::acc_t y[2][4];
  GemmW4A8<Golden>(x, w, y);
  for (int t = 0; t < 2; ++t) {
    for (int o = 0; o < 4; ++o) {
      EXPECT_EQ(y[t][o].to_int64(), expected[t][o])
          << "token " << t << " output " << o;
    }
  }
  // The decode kernel agrees on the same bytes.
  for (int t = 0; t < 2; ++t) {
    Golden::acc_t y_gemv[4];
    GemvW4A8<Golden>(x[t], w, y_gemv);
    for (int o = 0; o < 4; ++o) {
      EXPECT_EQ(y_gemv[o].to_int64(), expected[t][o])
          << "token " << t << " output " << o;
    }
  }
}

}  // namespace
}  // namespace fxserve::kernels
