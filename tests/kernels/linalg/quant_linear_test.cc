// The quantized linear layer against an independent reference written with
// int64 / __int128 arithmetic (sum = bias + dot; pow2: round half to even of
// sum * 2^-shift; fixed: the same on sum * mult; saturate into out_t), for
// int8 and int4 weights, one token (GEMV) and several (GEMM), pow2 and fixed
// scales and several output widths; the decode and prefill paths giving the
// same rows; exact ties and saturation; golden vectors; and the error
// against a floating-point layer within a stated bound.
#include "kernels/linalg/quant_linear.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace fxserve::kernels {
namespace {

__extension__ typedef __int128 Int128;

constexpr int64_t kInt32Min = std::numeric_limits<int32_t>::min();
constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();

template <int kT, int kBits, ScaleMode kMode, class Out, int kI = 64,
          int kO = 32, int kBlock = 8, int kTile = 4, int kU = 8,
          int kChunk = 4>
struct TestConfig {
  static constexpr int kTokens = kT;
  static constexpr int kIn = kI;
  static constexpr int kOut = kO;
  static constexpr int kWeightBits = kBits;
  static constexpr ScaleMode kScaleMode = kMode;
  static constexpr int kBlockOut = kBlock;
  static constexpr int kTileOut = kTile;
  static constexpr int kUnroll = kU;
  static constexpr int kChunkLog2 = kChunk;
  using out_t = Out;
};

// ---------------------------------------------------------------------------
// The reference: plain integers, floor division and an explicit tie rule.

// round_half_even(v * 2^-shift), saturated to a signed out_bits-bit range.
// shift <= 0 multiplies by 2^-shift (exact in 128 bits for |v| < 2^50).
int64_t RoundShiftSaturate(Int128 v, int shift, int out_bits) {
  Int128 q;
  if (shift <= 0) {
    q = v * (Int128{1} << -shift);
  } else {
    const Int128 d = Int128{1} << shift;
    q = v / d;  // Truncates toward zero...
    Int128 r = v % d;
    if (r < 0) {  // ... so step down to the floor, 0 <= r < d.
      q -= 1;
      r += d;
    }
    if (2 * r > d || (2 * r == d && (q & 1) != 0)) q += 1;
  }
  const Int128 most = (Int128{1} << (out_bits - 1)) - 1;
  const Int128 least = -(Int128{1} << (out_bits - 1));
  return static_cast<int64_t>(std::clamp(q, least, most));
}

int64_t Reference(int64_t dot, int64_t bias, int shift, int64_t mult,
                  ScaleMode mode, int out_bits) {
  Int128 sum = Int128{bias} + dot;
  if (mode == ScaleMode::kFixed) sum *= mult;
  return RoundShiftSaturate(sum, shift, out_bits);
}

// ---------------------------------------------------------------------------
// A layer in plain integers, run through QuantLinear<Config>.

struct Layer {
  int in = 0, out = 0;
  std::vector<int64_t> w;  // out x in, int8 or int4 values.
  std::vector<int64_t> bias, shift, mult;
  int64_t W(int o, int i) const { return w[o * in + i]; }
};

using Tokens = std::vector<std::vector<int64_t>>;  // Each of length in.

template <class Config>
struct Buffers {
  ap_int<8> x[Config::kTokens][Config::kIn];
  QuantLinearWeight<Config> w[QuantLinearWeightRows<Config>()][Config::kIn];
  linear_bias_t bias[Config::kOut];
  linear_shift_t shift[Config::kOut];
  linear_mult_t mult[Config::kOut];
  typename Config::out_t y[Config::kTokens][Config::kOut];
};

// y rows (as int64) of QuantLinear<Config> on Config::kTokens tokens.
template <class Config>
Tokens RunLayer(const Layer& layer, const Tokens& tokens) {
  EXPECT_EQ(layer.in, Config::kIn);
  EXPECT_EQ(layer.out, Config::kOut);
  EXPECT_EQ(static_cast<int>(tokens.size()), Config::kTokens);
  auto b = std::make_unique<Buffers<Config>>();
  for (int t = 0; t < Config::kTokens; ++t) {
    for (int i = 0; i < Config::kIn; ++i) b->x[t][i] = tokens[t][i];
  }
  for (int r = 0; r < QuantLinearWeightRows<Config>(); ++r) {
    for (int i = 0; i < Config::kIn; ++i) {
      if constexpr (Config::kWeightBits == 8) {
        b->w[r][i] = layer.W(r, i);
      } else {
        // W[2r] in the low nibble, W[2r+1] in the high one.
        const unsigned low = static_cast<unsigned>(layer.W(2 * r, i)) & 0xFu;
        const unsigned high =
            static_cast<unsigned>(layer.W(2 * r + 1, i)) & 0xFu;
        b->w[r][i] = (high << 4) | low;
      }
    }
  }
  for (int o = 0; o < Config::kOut; ++o) {
    b->bias[o] = layer.bias[o];
    b->shift[o] = layer.shift[o];
    b->mult[o] = layer.mult[o];
  }
  QuantLinear<Config>(b->x, b->w, b->bias, b->shift, b->mult, b->y);
  Tokens y(Config::kTokens, std::vector<int64_t>(Config::kOut));
  for (int t = 0; t < Config::kTokens; ++t) {
    for (int o = 0; o < Config::kOut; ++o) y[t][o] = b->y[t][o].to_int64();
  }
  return y;
}

// The reference's rows for the same layer and tokens.
Tokens ReferenceRows(const Layer& layer, const Tokens& tokens, ScaleMode mode,
                     int out_bits) {
  Tokens y(tokens.size(), std::vector<int64_t>(layer.out));
  for (size_t t = 0; t < tokens.size(); ++t) {
    for (int o = 0; o < layer.out; ++o) {
      int64_t dot = 0;
      for (int i = 0; i < layer.in; ++i) dot += tokens[t][i] * layer.W(o, i);
      y[t][o] = Reference(dot, layer.bias[o], static_cast<int>(layer.shift[o]),
                          layer.mult[o], mode, out_bits);
    }
  }
  return y;
}

int64_t RandomIn(std::mt19937& rng, int64_t least, int64_t most) {
  const uint64_t span = static_cast<uint64_t>(most - least) + 1;
  const uint64_t draw = (uint64_t{rng()} << 32) | rng();
  return least + static_cast<int64_t>(draw % span);
}

// Random int8 tokens, each with a -128 and a 127.
Tokens RandomTokens(std::mt19937& rng, int count, int in) {
  Tokens tokens(count, std::vector<int64_t>(in));
  for (auto& token : tokens) {
    for (auto& v : token) v = RandomIn(rng, -128, 127);
    token[RandomIn(rng, 0, in - 1)] = -128;
    token[RandomIn(rng, 0, in - 1)] = 127;
  }
  return tokens;
}

// Random weights (every code), shifts in [shift_least, shift_most], mults in
// [0, 65535] and biases by channel: the int32 extremes, 0, small, any int32.
Layer RandomLayer(std::mt19937& rng, int in, int out, int bits,
                  int shift_least = -8, int shift_most = 40) {
  Layer layer;
  layer.in = in;
  layer.out = out;
  const int64_t w_most = (int64_t{1} << (bits - 1)) - 1;
  layer.w.resize(in * out);
  for (auto& v : layer.w) v = RandomIn(rng, -w_most - 1, w_most);
  for (int o = 0; o < out; ++o) {
    switch (o % 4) {
      case 0:
        layer.bias.push_back(o % 8 == 0 ? kInt32Min : kInt32Max);
        break;
      case 1:
        layer.bias.push_back(0);
        break;
      case 2:
        layer.bias.push_back(RandomIn(rng, -4096, 4096));
        break;
      default:
        layer.bias.push_back(RandomIn(rng, kInt32Min, kInt32Max));
    }
    layer.shift.push_back(RandomIn(rng, shift_least, shift_most));
    layer.mult.push_back(RandomIn(rng, 0, 65535));
  }
  return layer;
}

// How many outputs landed strictly inside out_t's range and off zero, and
// how many saturated at each end: the random cases must reach all three.
struct Coverage {
  int inside = 0, at_most = 0, at_least = 0;
};

template <class Config>
void CheckRandomAgainstReference(uint32_t seed, int trials) {
  constexpr int kOutBits = Config::out_t::width;
  const int64_t most = (int64_t{1} << (kOutBits - 1)) - 1;
  std::mt19937 rng(seed);
  Coverage coverage;
  for (int trial = 0; trial < trials; ++trial) {
    const Layer layer =
        RandomLayer(rng, Config::kIn, Config::kOut, Config::kWeightBits);
    const Tokens tokens = RandomTokens(rng, Config::kTokens, Config::kIn);
    const Tokens y = RunLayer<Config>(layer, tokens);
    const Tokens expected =
        ReferenceRows(layer, tokens, Config::kScaleMode, kOutBits);
    for (int t = 0; t < Config::kTokens; ++t) {
      for (int o = 0; o < Config::kOut; ++o) {
        ASSERT_EQ(y[t][o], expected[t][o])
            << "seed " << seed << " trial " << trial << " token " << t
            << " output " << o << " bias " << layer.bias[o] << " shift "
            << layer.shift[o] << " mult " << layer.mult[o];
        const int64_t v = y[t][o];
        coverage.at_most += v == most;
        coverage.at_least += v == -most - 1;
        coverage.inside += v != 0 && v < most && v > -most - 1;
      }
    }
  }
  EXPECT_GT(coverage.inside, 0);
  EXPECT_GT(coverage.at_most, 0);
  EXPECT_GT(coverage.at_least, 0);
}

template <int kBits, ScaleMode kMode>
void CheckRandomAllShapes(uint32_t seed) {
  constexpr int kTrials = 40;
  // kTokens = 1 runs the GEMV kernels, 4 the GEMM ones.
  CheckRandomAgainstReference<TestConfig<1, kBits, kMode, ap_int<8>>>(seed + 0,
                                                                      kTrials);
  CheckRandomAgainstReference<TestConfig<1, kBits, kMode, ap_int<20>>>(seed + 1,
                                                                       kTrials);
  CheckRandomAgainstReference<TestConfig<1, kBits, kMode, ap_int<32>>>(seed + 2,
                                                                       kTrials);
  CheckRandomAgainstReference<TestConfig<4, kBits, kMode, ap_int<8>>>(seed + 3,
                                                                      kTrials);
  CheckRandomAgainstReference<TestConfig<4, kBits, kMode, ap_int<20>>>(seed + 4,
                                                                       kTrials);
  CheckRandomAgainstReference<TestConfig<4, kBits, kMode, ap_int<32>>>(seed + 5,
                                                                       kTrials);
}

TEST(QuantLinear, Int8Pow2MatchesReference) {
  CheckRandomAllShapes<8, ScaleMode::kPow2>(100);
}

TEST(QuantLinear, Int8FixedMatchesReference) {
  CheckRandomAllShapes<8, ScaleMode::kFixed>(200);
}

TEST(QuantLinear, Int4Pow2MatchesReference) {
  CheckRandomAllShapes<4, ScaleMode::kPow2>(300);
}

TEST(QuantLinear, Int4FixedMatchesReference) {
  CheckRandomAllShapes<4, ScaleMode::kFixed>(400);
}

// ---------------------------------------------------------------------------
// The output stage alone, over every shift linear_shift_t holds.

template <class Config>
void CheckOutputStage(std::mt19937& rng) {
  constexpr int kOutBits = Config::out_t::width;
  // Accumulators: any int32 (wider than any dot product QuantLinear makes).
  const int64_t accs[] = {0,
                          1,
                          -1,
                          5,
                          -5,
                          kInt32Max,
                          kInt32Min,
                          int64_t{1} << 26,
                          -(int64_t{1} << 26)};
  const int64_t biases[] = {0, 1, -1, kInt32Max, kInt32Min};
  const int64_t mults[] = {0, 1, 65535, 32768};
  for (int shift = -64; shift <= 63; ++shift) {
    for (int draw = 0; draw < 96; ++draw) {
      const int64_t acc = draw < 9 ? accs[draw]
                                   : RandomIn(rng, kInt32Min, kInt32Max) >>
                                         RandomIn(rng, 0, 31);
      const int64_t bias = draw % 3 == 0 ? biases[draw % 5]
                                         : RandomIn(rng, kInt32Min, kInt32Max);
      const int64_t mult =
          draw % 2 == 0 ? mults[draw % 4] : RandomIn(rng, 0, 65535);
      const auto y = QuantLinearOutput<Config>(acc, bias, shift, mult);
      ASSERT_EQ(y.to_int64(),
                Reference(acc, bias, shift, mult, Config::kScaleMode, kOutBits))
          << "acc " << acc << " bias " << bias << " shift " << shift << " mult "
          << mult;
    }
  }
}

TEST(QuantLinearOutput, MatchesReferenceOverEveryShift) {
  std::mt19937 rng(7);
  CheckOutputStage<TestConfig<1, 8, ScaleMode::kPow2, ap_int<8>>>(rng);
  CheckOutputStage<TestConfig<1, 8, ScaleMode::kPow2, ap_int<20>>>(rng);
  CheckOutputStage<TestConfig<1, 8, ScaleMode::kPow2, ap_int<32>>>(rng);
  CheckOutputStage<TestConfig<1, 8, ScaleMode::kFixed, ap_int<8>>>(rng);
  CheckOutputStage<TestConfig<1, 8, ScaleMode::kFixed, ap_int<20>>>(rng);
  CheckOutputStage<TestConfig<1, 8, ScaleMode::kFixed, ap_int<32>>>(rng);
}

// ---------------------------------------------------------------------------
// Decode and prefill: the same token gives the same row, whichever path and
// whichever other tokens share its batch.

template <int kBits, ScaleMode kMode, class Out>
void CheckDecodeEqualsPrefill(uint32_t seed) {
  using Decode = TestConfig<1, kBits, kMode, Out>;
  using Prefill = TestConfig<4, kBits, kMode, Out>;
  std::mt19937 rng(seed);
  // Shifts that keep most of the sum: outputs carry almost all its bits.
  const int shift_least = kMode == ScaleMode::kPow2 ? 0 : 12;
  const int shift_most = kMode == ScaleMode::kPow2 ? 6 : 20;
  const Layer layer = RandomLayer(rng, Decode::kIn, Decode::kOut, kBits,
                                  shift_least, shift_most);
  constexpr int kPool = 8;
  const Tokens pool = RandomTokens(rng, kPool, Decode::kIn);
  Tokens decoded;
  for (const auto& token : pool) {
    decoded.push_back(RunLayer<Decode>(layer, {token})[0]);
  }
  // The decode rows are right in themselves.
  EXPECT_EQ(decoded, ReferenceRows(layer, pool, kMode, Out::width));
  // Batches of 4 where every pool token sits in every row, next to
  // different tokens; and one batch of the same token four times.
  std::vector<std::vector<int>> batches;
  for (const int step : {1, 3}) {
    for (int start = 0; start < kPool; ++start) {
      std::vector<int> batch;
      for (int k = 0; k < 4; ++k) batch.push_back((start + k * step) % kPool);
      batches.push_back(batch);
    }
  }
  batches.push_back({5, 5, 5, 5});
  for (const auto& batch : batches) {
    Tokens tokens;
    for (const int p : batch) tokens.push_back(pool[p]);
    const Tokens y = RunLayer<Prefill>(layer, tokens);
    for (int row = 0; row < 4; ++row) {
      ASSERT_EQ(y[row], decoded[batch[row]])
          << "pool token " << batch[row] << " in row " << row;
    }
  }
}

TEST(QuantLinear, DecodeAndPrefillGiveIdenticalRows) {
  CheckDecodeEqualsPrefill<8, ScaleMode::kPow2, ap_int<32>>(1);
  CheckDecodeEqualsPrefill<8, ScaleMode::kFixed, ap_int<32>>(2);
  CheckDecodeEqualsPrefill<4, ScaleMode::kPow2, ap_int<32>>(3);
  CheckDecodeEqualsPrefill<4, ScaleMode::kFixed, ap_int<32>>(4);
  CheckDecodeEqualsPrefill<4, ScaleMode::kPow2, ap_int<8>>(5);
  CheckDecodeEqualsPrefill<4, ScaleMode::kFixed, ap_int<20>>(6);
}

// ---------------------------------------------------------------------------
// Ties and saturation.

TEST(QuantLinearOutput, TiesRoundHalfToEven) {
  using Pow2 = TestConfig<1, 8, ScaleMode::kPow2, ap_int<8>>;
  using Fixed = TestConfig<1, 8, ScaleMode::kFixed, ap_int<8>>;
  struct Case {
    int64_t acc, bias;
    int shift;
    int64_t expected;
  };
  const Case pow2_cases[] = {
      {5, 0, 1, 2},     // 2.5 -> 2
      {7, 0, 1, 4},     // 3.5 -> 4
      {-5, 0, 1, -2},   // -2.5 -> -2
      {-7, 0, 1, -4},   // -3.5 -> -4
      {1, 0, 1, 0},     // 0.5 -> 0
      {-1, 0, 1, 0},    // -0.5 -> 0
      {3, 0, 1, 2},     // 1.5 -> 2
      {-3, 0, 1, -2},   // -1.5 -> -2
      {20, 0, 3, 2},    // 2.5 -> 2
      {28, 0, 3, 4},    // 3.5 -> 4
      {-20, 0, 3, -2},  // -2.5 -> -2
      {21, 0, 3, 3},    // 2.625: not a tie
      {19, 0, 3, 2},    // 2.375: not a tie
      {2, 3, 1, 2},     // acc + bias = 5: 2.5 -> 2
      {-9, 2, 1, -4},   // -7: -3.5 -> -4
      // 2^31 / 2^32 = 0.5 -> 0 and 3 * 2^30 / 2^31 = 1.5 -> 2, with the
      // bias at its largest.
      {1, kInt32Max, 32, 0},
      {(int64_t{1} << 30) + 1, kInt32Max, 31, 2},
  };
  for (const Case& c : pow2_cases) {
    EXPECT_EQ(QuantLinearOutput<Pow2>(c.acc, c.bias, c.shift, 0).to_int64(),
              c.expected)
        << "acc " << c.acc << " bias " << c.bias << " shift " << c.shift;
  }
  struct FixedCase {
    int64_t acc, bias;
    int64_t mult;
    int shift;
    int64_t expected;
  };
  const FixedCase fixed_cases[] = {
      {5, 0, 3, 1, 8},         // 15 / 2 = 7.5 -> 8
      {3, 0, 3, 1, 4},         // 9 / 2 = 4.5 -> 4
      {-3, 0, 3, 1, -4},       // -4.5 -> -4
      {-5, 0, 3, 1, -8},       // -7.5 -> -8
      {1, 0, 32768, 16, 0},    // 0.5 -> 0
      {3, 0, 32768, 16, 2},    // 1.5 -> 2
      {-1, 0, 32768, 16, 0},   // -0.5 -> 0
      {-3, 0, 32768, 16, -2},  // -1.5 -> -2
      {1, 0, 65535, 16, 1},    // 0.99998 -> 1
      {0, 1, 49152, 15, 2},    // 1.5 -> 2 (sum from the bias alone)
      {7, -2, 13107, 16, 1},   // 65535 / 65536 -> 1
      {100, 0, 0, -20, 0},     // mult 0
  };
  for (const FixedCase& c : fixed_cases) {
    EXPECT_EQ(
        QuantLinearOutput<Fixed>(c.acc, c.bias, c.shift, c.mult).to_int64(),
        c.expected)
        << "acc " << c.acc << " bias " << c.bias << " mult " << c.mult
        << " shift " << c.shift;
  }
}

TEST(QuantLinearOutput, SaturatesAtBothEnds) {
  using Out8 = TestConfig<1, 8, ScaleMode::kPow2, ap_int<8>>;
  using Out20 = TestConfig<1, 8, ScaleMode::kPow2, ap_int<20>>;
  using Out32 = TestConfig<1, 8, ScaleMode::kPow2, ap_int<32>>;
  using Fixed32 = TestConfig<1, 8, ScaleMode::kFixed, ap_int<32>>;
  auto out8 = [](int64_t acc, int64_t bias, int shift) {
    return QuantLinearOutput<Out8>(acc, bias, shift, 0).to_int64();
  };
  EXPECT_EQ(out8(127, 0, 0), 127);
  EXPECT_EQ(out8(128, 0, 0), 127);
  EXPECT_EQ(out8(-128, 0, 0), -128);
  EXPECT_EQ(out8(-129, 0, 0), -128);
  EXPECT_EQ(out8(253, 0, 1), 126);    // 126.5 -> 126
  EXPECT_EQ(out8(255, 0, 1), 127);    // 127.5 -> 128, saturated
  EXPECT_EQ(out8(-255, 0, 1), -128);  // -127.5 -> -128
  EXPECT_EQ(out8(-257, 0, 1), -128);  // -128.5 -> -128, in range
  EXPECT_EQ(out8(-259, 0, 1), -128);  // -129.5 -> -130, saturated
  EXPECT_EQ(out8(15, 0, -3), 120);
  EXPECT_EQ(out8(16, 0, -3), 127);  // 128 by a left shift
  EXPECT_EQ(out8(-16, 0, -3), -128);
  EXPECT_EQ(out8(-17, 0, -3), -128);
  EXPECT_EQ(out8(1, 0, -64), 127);
  EXPECT_EQ(out8(-1, 0, -64), -128);
  EXPECT_EQ(out8(kInt32Max, kInt32Max, -64), 127);
  EXPECT_EQ(out8(kInt32Min, kInt32Min, -64), -128);
  EXPECT_EQ(out8(kInt32Max, kInt32Max, 63), 0);
  EXPECT_EQ(out8(kInt32Min, kInt32Min, 63), 0);
  EXPECT_EQ(out8(kInt32Min, kInt32Min, 25), -128);  // -2^32 / 2^25
  EXPECT_EQ(out8(kInt32Min, kInt32Min, 26), -64);

  auto out20 = [](int64_t acc, int64_t bias, int shift) {
    return QuantLinearOutput<Out20>(acc, bias, shift, 0).to_int64();
  };
  EXPECT_EQ(out20(524287, 0, 0), 524287);
  EXPECT_EQ(out20(524288, 0, 0), 524287);
  EXPECT_EQ(out20(-524288, 0, 0), -524288);
  EXPECT_EQ(out20(-524289, 0, 0), -524288);
  EXPECT_EQ(out20(kInt32Max, 0, 12), 524287);  // 524288 - 2^-12 -> 524288

  auto out32 = [](int64_t acc, int64_t bias, int shift) {
    return QuantLinearOutput<Out32>(acc, bias, shift, 0).to_int64();
  };
  EXPECT_EQ(out32(kInt32Max, 0, 0), kInt32Max);
  EXPECT_EQ(out32(kInt32Max, 1, 0), kInt32Max);  // 2^31, saturated
  EXPECT_EQ(out32(kInt32Min, -1, 0), kInt32Min);
  EXPECT_EQ(out32(kInt32Max, kInt32Max, 1), kInt32Max);  // 2^31 - 1 exactly
  EXPECT_EQ(out32(kInt32Min, kInt32Min, 1), kInt32Min);  // -2^31 exactly
  EXPECT_EQ(out32(kInt32Min, kInt32Min, 2), -(int64_t{1} << 30));
  EXPECT_EQ(out32(1, 0, -30), int64_t{1} << 30);
  EXPECT_EQ(out32(1, 0, -31), kInt32Max);
  EXPECT_EQ(out32(-1, 0, -31), kInt32Min);

  // Fixed: the largest product, (2^32 - 2) * 65535, and its negative.
  auto fixed32 = [](int64_t acc, int64_t bias, int64_t mult, int shift) {
    return QuantLinearOutput<Fixed32>(acc, bias, shift, mult).to_int64();
  };
  EXPECT_EQ(fixed32(kInt32Max, kInt32Max, 65535, 0), kInt32Max);
  EXPECT_EQ(fixed32(kInt32Min, kInt32Min, 65535, 0), kInt32Min);
  EXPECT_EQ(fixed32(kInt32Max, kInt32Max, 65535, 17), 2147450879);
  EXPECT_EQ(fixed32(kInt32Min, kInt32Min, 65535, 17), -2147450880);
  EXPECT_EQ(fixed32(kInt32Min, kInt32Min, 65535, 16), kInt32Min);
}

// Through the whole layer, on both paths: W[o][0] = 1 and the rest 0, so
// channel o's sum is x[t][0] + bias[o]. The expected outputs are worked out
// by hand (sum * 2^-shift, ties to even, saturated to [-128, 127]).
template <int kTokens, int kBits>
void CheckTiesThroughLayer() {
  using Config = TestConfig<kTokens, kBits, ScaleMode::kPow2, ap_int<8>, 16, 8,
                            4, 2, 4, 4>;
  Layer layer;
  layer.in = 16;
  layer.out = 8;
  layer.w.assign(16 * 8, 0);
  for (int o = 0; o < 8; ++o) layer.w[o * 16] = 1;
  layer.bias = {0, 0, 1, 11, 250, -252, 1, 2147483643};
  layer.shift = {1, 0, 2, 2, 1, 1, -5, 32};
  layer.mult.assign(8, 0);
  const int64_t first_input[4] = {5, 7, -5, -7};
  const int64_t expected[4][8] = {
      // sum / 2^shift for x[0] = 5: 2.5, 5, 1.5, 4, 127.5, -123.5, 192,
      // 2^31 / 2^32 = 0.5.
      {2, 5, 2, 4, 127, -124, 127, 0},
      // x[0] = 7: 3.5, 7, 2, 4.5, 128.5, -122.5, 256, 0.5 + 2^-31.
      {4, 7, 2, 4, 127, -122, 127, 1},
      // x[0] = -5: -2.5, -5, -1, 1.5, 122.5, -128.5, -128, 0.5 - 5 * 2^-31.
      {-2, -5, -1, 2, 122, -128, -128, 0},
      // x[0] = -7: -3.5, -7, -1.5, 1, 121.5, -129.5, -192, 0.5 - 6 * 2^-31.
      {-4, -7, -2, 1, 122, -128, -128, 0},
  };
  for (int t0 = 0; t0 < 4; t0 += kTokens) {
    Tokens tokens;
    for (int t = t0; t < t0 + kTokens; ++t) {
      std::vector<int64_t> token(16);
      for (int i = 1; i < 16; ++i) token[i] = (i * 37 + t) % 256 - 128;
      token[0] = first_input[t];
      tokens.push_back(token);
    }
    const Tokens y = RunLayer<Config>(layer, tokens);
    for (int t = t0; t < t0 + kTokens; ++t) {
      for (int o = 0; o < 8; ++o) {
        EXPECT_EQ(y[t - t0][o], expected[t][o])
            << "x[0] " << first_input[t] << " channel " << o;
      }
    }
  }
}

TEST(QuantLinear, TiesAndSaturationThroughTheLayer) {
  CheckTiesThroughLayer<1, 8>();
  CheckTiesThroughLayer<4, 8>();
  CheckTiesThroughLayer<1, 4>();
  CheckTiesThroughLayer<4, 4>();
}

// ---------------------------------------------------------------------------
// Golden vectors: 2 tokens, 4 inputs, 4 outputs, weights within int4 so the
// same literals run through int8 and packed int4 weights, and through
// decode (one token at a time) and prefill (both at once).
//
//   x0 = {1, 2, 3, 4}          W0 = { 1,  1, 1,  1}
//   x1 = {-128, 127, -1, 0}    W1 = { 2, -1, 0,  3}
//                              W2 = {-8,  0, 0,  0}
//                              W3 = { 0,  1, 0, -1}
//   dot(x0, W) = {10, 12, -8, -2}    dot(x1, W) = {-2, -383, 1024, 127}
//   bias = {5, 1, 3, -2}
//   sum0 = {15, 13, -5, -4}          sum1 = {3, -382, 1027, 125}
// Expected outputs derived by hand from these sums (and confirmed by the
// reference above), per channel as written next to them.

Tokens GoldenX() { return {{1, 2, 3, 4}, {-128, 127, -1, 0}}; }

Layer GoldenLayer() {
  Layer layer;
  layer.in = 4;
  layer.out = 4;
  layer.w = {1, 1, 1, 1, 2, -1, 0, 3, -8, 0, 0, 0, 0, 1, 0, -1};
  layer.bias = {5, 1, 3, -2};
  layer.mult = {0, 0, 0, 0};
  return layer;
}

template <int kTokens, int kBits, ScaleMode kMode, class Out>
void CheckGolden(const Layer& layer, const int64_t (&expected)[2][4]) {
  using Config = TestConfig<kTokens, kBits, kMode, Out, 4, 4, 2, 2, 2, 2>;
  for (int t0 = 0; t0 < 2; t0 += kTokens) {
    const Tokens x = GoldenX();
    const Tokens tokens(x.begin() + t0, x.begin() + t0 + kTokens);
    const Tokens y = RunLayer<Config>(layer, tokens);
    for (int t = t0; t < t0 + kTokens; ++t) {
      for (int o = 0; o < 4; ++o) {
        EXPECT_EQ(y[t - t0][o], expected[t][o])
            << "token " << t << " output " << o << " (kTokens " << kTokens
            << ", int" << kBits << ")";
      }
    }
  }
}

template <ScaleMode kMode, class Out>
void CheckGoldenAllPaths(const Layer& layer, const int64_t (&expected)[2][4]) {
  // The literals agree with the reference, then with every kernel path.
  EXPECT_EQ(
      ReferenceRows(layer, GoldenX(), kMode, Out::width),
      (Tokens{
          {expected[0][0], expected[0][1], expected[0][2], expected[0][3]},
          {expected[1][0], expected[1][1], expected[1][2], expected[1][3]}}));
  CheckGolden<2, 8, kMode, Out>(layer, expected);
  CheckGolden<1, 8, kMode, Out>(layer, expected);
  CheckGolden<2, 4, kMode, Out>(layer, expected);
  CheckGolden<1, 4, kMode, Out>(layer, expected);
}

TEST(QuantLinear, GoldenVectorsPow2) {
  Layer layer = GoldenLayer();
  layer.shift = {1, 1, 1, -3};
  // out_t = ap_int<8>:
  //   sum0 * 2^-shift = {7.5, 6.5, -2.5, -32}  -> {8, 6, -2, -32}
  //   sum1 * 2^-shift = {1.5, -191, 513.5, 1000}
  //                                            -> {2, -128, 127, 127}
  const int64_t expected[2][4] = {{8, 6, -2, -32}, {2, -128, 127, 127}};
  CheckGoldenAllPaths<ScaleMode::kPow2, ap_int<8>>(layer, expected);
}

TEST(QuantLinear, GoldenVectorsFixed) {
  Layer layer = GoldenLayer();
  layer.mult = {3, 65535, 1000, 7};
  layer.shift = {1, 16, 10, -2};
  // out_t = ap_int<20>, y = sum * mult * 2^-shift:
  //   token 0: 45/2 = 22.5 -> 22; 851955/65536 = 12.9998 -> 13;
  //            -5000/1024 = -4.88 -> -5; -4*7*4 = -112
  //   token 1: 9/2 = 4.5 -> 4; -25034370/65536 = -381.994 -> -382;
  //            1027000/1024 = 1002.93 -> 1003; 125*7*4 = 3500
  const int64_t expected[2][4] = {{22, 13, -5, -112}, {4, -382, 1003, 3500}};
  CheckGoldenAllPaths<ScaleMode::kFixed, ap_int<20>>(layer, expected);
}

// ---------------------------------------------------------------------------
// Against a floating-point layer y = W x + b (double precision).
//
// x is quantized with scale 2^-7 (x_q = round(x * 2^7)), row o of W with a
// per-channel power of two 2^-e[o] (the largest e with max|W[o]| * 2^e <=
// 127, or 7 for int4), b[o] at the accumulator's scale 2^-(7 + e[o]), and
// the output has scale 2^-F, so shift[o] = 7 + e[o] - F. With x^ and W^ the
// quantized values, |x - x^| <= 2^-8 and |W - W^| <= 2^-(e[o] + 1), and
//   x W - x^ W^ = (x - x^) W + x^ (W - W^),
// so, the integer sum being exact and rounded once,
//   |y_out * 2^-F - y| <= 2^-(F+1)                          (output rounding)
//                        + sum_i (2^-8 |W[o][i]| + |x^_i| 2^-(e[o]+1))
//                        + 2^-(7 + e[o] + 1)                  (bias rounding)
// (no saturation: checked), plus 1e-9 for double arithmetic.

template <int kTokens, int kBits>
void CheckAgainstFloat(uint32_t seed, double* worst_ratio) {
  constexpr int kIn = 128, kOut = 16, kF = 8;
  using Config = TestConfig<kTokens, kBits, ScaleMode::kPow2, ap_int<16>, kIn,
                            kOut, 8, 4, 8, 5>;
  const double q_most = (1 << (kBits - 1)) - 1;
  std::mt19937 rng(seed);
  auto uniform = [&](double least, double most) {
    return least + (most - least) * (rng() / 4294967296.0);
  };
  std::vector<std::vector<double>> x(kTokens, std::vector<double>(kIn));
  for (auto& token : x) {
    for (auto& v : token) v = uniform(-127.0 / 128, 127.0 / 128);
  }
  std::vector<std::vector<double>> w(kOut, std::vector<double>(kIn));
  std::vector<double> b(kOut);
  std::vector<int> e(kOut);
  Layer layer;
  layer.in = kIn;
  layer.out = kOut;
  layer.w.resize(kIn * kOut);
  for (int o = 0; o < kOut; ++o) {
    const double gain = std::ldexp(1.0, o % 5 - 3);  // 1/8 .. 2 by channel.
    double largest = 0;
    for (auto& v : w[o]) {
      v = gain * uniform(-1, 1);
      largest = std::max(largest, std::fabs(v));
    }
    e[o] = -20;
    while (std::ldexp(largest, e[o] + 1) <= q_most) ++e[o];
    for (int i = 0; i < kIn; ++i) {
      layer.w[o * kIn + i] =
          static_cast<int64_t>(std::nearbyint(std::ldexp(w[o][i], e[o])));
    }
    b[o] = uniform(-2, 2);
    layer.bias.push_back(
        static_cast<int64_t>(std::nearbyint(std::ldexp(b[o], 7 + e[o]))));
    layer.shift.push_back(7 + e[o] - kF);
    layer.mult.push_back(0);
    ASSERT_GE(layer.shift.back(), -64);
    ASSERT_LE(layer.shift.back(), 63);
  }
  Tokens x_q(kTokens, std::vector<int64_t>(kIn));
  for (int t = 0; t < kTokens; ++t) {
    for (int i = 0; i < kIn; ++i) {
      x_q[t][i] = static_cast<int64_t>(std::nearbyint(std::ldexp(x[t][i], 7)));
    }
  }
  const Tokens y = RunLayer<Config>(layer, x_q);
  for (int t = 0; t < kTokens; ++t) {
    for (int o = 0; o < kOut; ++o) {
      double exact = b[o];
      double bound =
          std::ldexp(1.0, -(kF + 1)) + std::ldexp(1.0, -(8 + e[o])) + 1e-9;
      for (int i = 0; i < kIn; ++i) {
        exact += x[t][i] * w[o][i];
        bound += std::ldexp(std::fabs(w[o][i]), -8) +
                 std::ldexp(std::fabs(x_q[t][i] / 128.0), -(e[o] + 1));
      }
      ASSERT_LT(std::fabs(exact) + bound, std::ldexp(1.0, 15 - kF) - 1)
          << "the output would saturate";
      const double error =
          std::fabs(std::ldexp(static_cast<double>(y[t][o]), -kF) - exact);
      EXPECT_LE(error, bound) << "token " << t << " output " << o;
      *worst_ratio = std::max(*worst_ratio, error / bound);
    }
  }
}

TEST(QuantLinear, FloatReferenceWithinBound) {
  double worst_ratio = 0;
  for (uint32_t seed = 1; seed <= 4; ++seed) {
    CheckAgainstFloat<1, 8>(seed, &worst_ratio);
    CheckAgainstFloat<4, 8>(seed + 10, &worst_ratio);
    CheckAgainstFloat<1, 4>(seed + 20, &worst_ratio);
    CheckAgainstFloat<4, 4>(seed + 30, &worst_ratio);
  }
  // The bound is a worst case; typical errors use a fraction of it.
  RecordProperty("worst_error_over_bound", std::to_string(worst_ratio));
  EXPECT_GT(worst_ratio, 0.0);
}

}  // namespace
}  // namespace fxserve::kernels
