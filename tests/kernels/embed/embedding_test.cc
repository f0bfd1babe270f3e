// Token + position embedding: the exact sum when out_t can hold it, out_t's
// rounding and saturation when it cannot, and the out-of-range rule (clamp
// each index to its table, return false).
#include "kernels/embed/embedding.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <random>

namespace fxserve::kernels {
namespace {

template <class Out>
struct TestConfig {
  using wte_t = ap_fixed<10, 3>;  // Steps of 2^-7, [-4, 4).
  using wpe_t = ap_fixed<8, 2>;   // Steps of 2^-6, [-2, 2).
  using out_t = Out;
  static constexpr int kVocab = 37;
  static constexpr int kPositions = 11;
  static constexpr int kDim = 16;
  static constexpr int kUnroll = 4;
};

// Wide enough for every sum: [-6, 6) in steps of 2^-7.
using Exact = TestConfig<ap_fixed<12, 4>>;
// Steps of 2^-4 and range [-4, 4): round half to even, saturate.
using Narrow = TestConfig<ap_fixed<7, 3, AP_RND_CONV, AP_SAT>>;

template <class Config>
struct Tables {
  typename Config::wte_t wte[Config::kVocab][Config::kDim];
  typename Config::wpe_t wpe[Config::kPositions][Config::kDim];
};

// Random raw codes over each type's whole range.
template <class Config>
void FillRandom(Tables<Config>& t, uint32_t seed) {
  std::mt19937 rng(seed);
  for (auto& row : t.wte) {
    for (auto& v : row) v.range(9, 0) = static_cast<int>(rng() % 1024);
  }
  for (auto& row : t.wpe) {
    for (auto& v : row) v.range(7, 0) = static_cast<int>(rng() % 256);
  }
}

TEST(Embedding, ExactSumWhenOutHoldsIt) {
  static Tables<Exact> t;
  FillRandom(t, 3);
  Exact::out_t out[Exact::kDim];
  for (int token = 0; token < Exact::kVocab; ++token) {
    for (int pos = 0; pos < Exact::kPositions; ++pos) {
      ASSERT_TRUE(Embedding<Exact>(t.wte, t.wpe, token, pos, out));
      for (int d = 0; d < Exact::kDim; ++d) {
        // Both entries are multiples of 2^-7 below 4 in magnitude: the
        // double sum is exact.
        const double expected =
            t.wte[token][d].to_double() + t.wpe[pos][d].to_double();
        ASSERT_EQ(out[d].to_double(), expected)
            << "token " << token << " pos " << pos << " d " << d;
      }
    }
  }
}

// round_half_even(v * 16) / 16, clamped to [-4, 4 - 1/16].
double NarrowReference(double v) {
  const double rounded = std::nearbyint(v * 16) / 16;  // Default: to even.
  return std::min(std::max(rounded, -4.0), 4.0 - 1.0 / 16);
}

TEST(Embedding, NarrowOutRoundsAndSaturates) {
  static Tables<Narrow> t;
  FillRandom(t, 4);
  // Make sure both saturation directions and exact ties occur.
  t.wte[1][0] = 3.5;
  t.wpe[2][0] = 1.5;  // 5.0 -> 3.9375.
  t.wte[1][1] = -3.5;
  t.wpe[2][1] = -1.5;  // -5.0 -> -4.
  t.wte[1][2] = 0.03125;
  t.wpe[2][2] = 0;  // 1/32: a tie, to even -> 0.
  t.wte[1][3] = 0.09375;
  t.wpe[2][3] = 0;  // 3/32: a tie, to even -> 1/8.
  t.wte[1][4] = -0.03125;
  t.wpe[2][4] = -0.0625;  // -3/32: -> -1/8.
  Narrow::out_t out[Narrow::kDim];
  int saturated = 0;
  for (int token = 0; token < Narrow::kVocab; ++token) {
    for (int pos = 0; pos < Narrow::kPositions; ++pos) {
      ASSERT_TRUE(Embedding<Narrow>(t.wte, t.wpe, token, pos, out));
      for (int d = 0; d < Narrow::kDim; ++d) {
        const double sum =
            t.wte[token][d].to_double() + t.wpe[pos][d].to_double();
        if (sum >= 4 || sum < -4) ++saturated;
        ASSERT_EQ(out[d].to_double(), NarrowReference(sum))
            << "token " << token << " pos " << pos << " d " << d << " sum "
            << sum;
      }
    }
  }
  EXPECT_GT(saturated, 0);
  ASSERT_TRUE(Embedding<Narrow>(t.wte, t.wpe, 1, 2, out));
  EXPECT_EQ(out[0].to_double(), 3.9375);
  EXPECT_EQ(out[1].to_double(), -4.0);
  EXPECT_EQ(out[2].to_double(), 0.0);
  EXPECT_EQ(out[3].to_double(), 0.125);
  EXPECT_EQ(out[4].to_double(), -0.125);
}

TEST(Embedding, OutOfRangeIndicesAreClampedAndReported) {
  static Tables<Exact> t;
  FillRandom(t, 5);
  struct Case {
    int token, pos;  // Given.
    int row, col;    // Rows actually read.
    bool in_range;   // Returned.
  };
  constexpr int kV = Exact::kVocab, kP = Exact::kPositions;
  const Case cases[] = {
      {0, 0, 0, 0, true},
      {kV - 1, kP - 1, kV - 1, kP - 1, true},
      {-1, 3, 0, 3, false},
      {kV, 3, kV - 1, 3, false},
      {INT_MIN, 3, 0, 3, false},
      {INT_MAX, 3, kV - 1, 3, false},
      {5, -1, 5, 0, false},
      {5, kP, 5, kP - 1, false},
      {5, INT_MIN, 5, 0, false},
      {5, INT_MAX, 5, kP - 1, false},
      {-7, kP + 100, 0, kP - 1, false},
      {kV + 1, -2, kV - 1, 0, false},
  };
  for (const Case& c : cases) {
    Exact::out_t out[Exact::kDim];
    EXPECT_EQ(Embedding<Exact>(t.wte, t.wpe, c.token, c.pos, out), c.in_range)
        << "token " << c.token << " pos " << c.pos;
    for (int d = 0; d < Exact::kDim; ++d) {
      const double expected =
          t.wte[c.row][d].to_double() + t.wpe[c.col][d].to_double();
      ASSERT_EQ(out[d].to_double(), expected)
          << "token " << c.token << " pos " << c.pos << " d " << d;
    }
  }
  EXPECT_EQ(ClampEmbeddingIndex(-1, 10), 0);
  EXPECT_EQ(ClampEmbeddingIndex(0, 10), 0);
  EXPECT_EQ(ClampEmbeddingIndex(9, 10), 9);
  EXPECT_EQ(ClampEmbeddingIndex(10, 10), 9);
}

}  // namespace
}  // namespace fxserve::kernels
