// The MAC unit against plain 64-bit integer arithmetic: W8A8 and W4A8
// integer dot products, and a fixed-point one with a saturating
// accumulator, on random vectors and on extremes.
#include "kernels/linalg/mac.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

namespace {

using fxserve::kernels::DotProduct;

template <class Config>
struct Vectors {
  std::vector<typename Config::input_t> input;
  std::vector<typename Config::weight_t> weight;
  std::vector<int64_t> input_raw, weight_raw;
};

// Random raw codes (or all extremes), stored into the ap types bit by bit.
template <class Config>
Vectors<Config> MakeVectors(uint32_t seed, bool extremes) {
  constexpr int kInBits = Config::input_t::width;
  constexpr int kWBits = Config::weight_t::width;
  std::mt19937 rng(seed);
  Vectors<Config> v;
  for (int i = 0; i < Config::kLength; ++i) {
    const int64_t x = extremes ? -(int64_t{1} << (kInBits - 1))
                               : static_cast<int64_t>(rng() % (1u << kInBits)) -
                                     (int64_t{1} << (kInBits - 1));
    const int64_t w = extremes ? -(int64_t{1} << (kWBits - 1))
                               : static_cast<int64_t>(rng() % (1u << kWBits)) -
                                     (int64_t{1} << (kWBits - 1));
    typename Config::input_t in;
    typename Config::weight_t wt;
    in.range(kInBits - 1, 0) = static_cast<unsigned>(x);
    wt.range(kWBits - 1, 0) = static_cast<unsigned>(w);
    v.input.push_back(in);
    v.weight.push_back(wt);
    v.input_raw.push_back(x);
    v.weight_raw.push_back(w);
  }
  return v;
}

struct W8A8 {
  using input_t = ap_int<8>;
  using weight_t = ap_int<8>;
  using accum_t = ap_int<32>;
  static constexpr int kLength = 256;
  static constexpr int kUnroll = 8;
};

struct W4A8 {
  using input_t = ap_int<8>;
  using weight_t = ap_int<4>;
  using accum_t = ap_int<20>;
  static constexpr int kLength = 128;
  static constexpr int kUnroll = 4;
};

template <class Config>
void CheckIntegerDot(uint32_t seed, bool extremes) {
  const auto v = MakeVectors<Config>(seed, extremes);
  int64_t expected = 0;
  for (int i = 0; i < Config::kLength; ++i) {
    expected += v.input_raw[i] * v.weight_raw[i];
  }
  const auto sum = DotProduct<Config>(v.input.data(), v.weight.data());
  EXPECT_EQ(sum.to_int64(), expected);
}

TEST(MacKernel, W8A8MatchesIntegerDot) {
  for (uint32_t seed = 0; seed < 20; ++seed) CheckIntegerDot<W8A8>(seed, false);
  CheckIntegerDot<W8A8>(0, true);
}

TEST(MacKernel, W4A8MatchesIntegerDot) {
  for (uint32_t seed = 0; seed < 20; ++seed) CheckIntegerDot<W4A8>(seed, false);
  CheckIntegerDot<W4A8>(0, true);
}

// Products have 12 fractional bits, the accumulator 6: each add rounds
// half to even, then saturates.
struct FixedRoundSat {
  using input_t = ap_fixed<8, 3>;   // 5 fractional bits.
  using weight_t = ap_fixed<8, 1>;  // 7 fractional bits.
  using accum_t = ap_fixed<12, 6, AP_RND_CONV, AP_SAT>;
  static constexpr int kLength = 64;
  static constexpr int kUnroll = 8;
};

int64_t RoundHalfEvenShift(int64_t value, int shift) {
  const int64_t floor = value >> shift;  // Arithmetic: floor division.
  const int64_t rest = value - (floor << shift);
  const int64_t half = int64_t{1} << (shift - 1);
  if (rest > half || (rest == half && (floor & 1))) return floor + 1;
  return floor;
}

TEST(MacKernel, FixedAccumulatorRoundsAndSaturatesEachAdd) {
  for (uint32_t seed = 0; seed < 50; ++seed) {
    const auto v = MakeVectors<FixedRoundSat>(seed, seed == 0);
    int64_t acc = 0;  // In units of 2^-6.
    for (int i = 0; i < FixedRoundSat::kLength; ++i) {
      const int64_t product = v.input_raw[i] * v.weight_raw[i];  // 2^-12.
      acc = RoundHalfEvenShift((acc << 6) + product, 6);
      acc = std::clamp<int64_t>(acc, -2048, 2047);
    }
    const auto sum = DotProduct<FixedRoundSat>(v.input.data(), v.weight.data());
    EXPECT_EQ(sum.to_double(), static_cast<double>(acc) / 64.0)
        << "seed " << seed;
  }
}

}  // namespace
