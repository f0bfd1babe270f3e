// The conv output stage (kernels/conv/conv_epilogue.h) against the
// contract's formulas: relu6(h + 3) and hard-swish for every 16-bit
// pre-activation and every P, and each epilogue in both scale modes on
// random accumulators, biases, multipliers and every shift register value
// (-64 .. 63, so exact left shifts and saturation too); the same into a
// uint8 tensor (saturating to 0 .. 255).
#include "kernels/conv/conv_epilogue.h"

#include <gtest/gtest.h>

#include <random>

#include "tests/kernels/detect/conv_reference.h"

namespace fxserve::kernels::detect_test {
namespace {

TEST(ConvEpilogue, Relu6Plus3EveryCodeAndP) {
  for (int p = 0; p <= 12; ++p) {
    for (int h = -32768; h <= 32767; ++h) {
      ASSERT_EQ(Relu6Plus3(pre16_t(h), frac_reg_t(p)).to_int64(),
                Relu6Plus3Ref(h, p))
          << "h " << h << " P " << p;
    }
  }
}

TEST(ConvEpilogue, HardSwishEveryCode) {
  RefCoverage().Reset();
  for (int p = 0; p <= 12; ++p) {
    // F(y) from the contract's ends (the last shift is 2P + 14 - F(y), so
    // F(y) = 16 with P = 0 is a left shift) and around P.
    for (int f_y : {-8, p - 1, p + 2, 16}) {
      if (f_y < -8 || f_y > 16) continue;
      for (int h = -32768; h <= 32767; ++h) {
        const int64_t want = RequantRef(Int128{h} * Relu6Plus3Ref(h, p) * 2730,
                                        2 * p + 14 - f_y, 8);
        ASSERT_EQ(
            HardSwishOne(pre16_t(h), frac_reg_t(p), frac_reg_t(f_y)).to_int64(),
            want)
            << "h " << h << " P " << p << " F(y) " << f_y;
      }
    }
  }
  ExpectTiesAndSaturation();
}

template <ConvEpilogue kE, ScaleMode kMode, class Act = act8_t>
void CheckRandomEpilogue(unsigned seed) {
  std::mt19937 rng(seed);
  for (int i = 0; i < 200000; ++i) {
    // Accumulators of every magnitude up to the model's bound, below 2^31.
    const int bits = static_cast<int>(Uniform(rng, 0, 31));
    const int64_t acc =
        Uniform(rng, -(int64_t{1} << bits) + 1, (int64_t{1} << bits) - 1);
    const int64_t bias = Uniform(rng, 0, 3) == 0
                             ? RandomCode(rng, INT32_MIN, INT32_MAX)
                             : Uniform(rng, -1000, 1000);
    const int shift = Uniform(rng, 0, 3) == 0
                          ? static_cast<int>(Uniform(rng, -64, 63))
                          : static_cast<int>(Uniform(rng, -2, 40));
    const int64_t mult = RandomMult(rng, 1)[0];
    const int p = static_cast<int>(Uniform(rng, 0, 12));
    const int f_y = static_cast<int>(Uniform(rng, -8, 16));
    const int64_t want =
        EpilogueRef(kE, kMode, acc, bias, shift, mult, p, f_y, CodesOf<Act>());
    const int64_t got =
        ConvEpilogueOne<kE, kMode, Act>(conv_acc_t(acc), conv_bias_t(bias),
                                        conv_shift_t(shift), conv_mult_t(mult),
                                        frac_reg_t(p), frac_reg_t(f_y))
            .to_int64();
    ASSERT_EQ(got, want) << "acc " << acc << " bias " << bias << " shift "
                         << shift << " mult " << mult << " P " << p << " F(y) "
                         << f_y;
  }
}

TEST(ConvEpilogue, EveryEpilogueRandomRegisters) {
  using E = ConvEpilogue;
  using M = ScaleMode;
  RefCoverage().Reset();
  CheckRandomEpilogue<E::kNone, M::kPow2>(1);
  CheckRandomEpilogue<E::kNone, M::kFixed>(2);
  CheckRandomEpilogue<E::kRelu, M::kPow2>(3);
  CheckRandomEpilogue<E::kRelu, M::kFixed>(4);
  CheckRandomEpilogue<E::kHardSwish, M::kPow2>(5);
  CheckRandomEpilogue<E::kHardSwish, M::kFixed>(6);
  CheckRandomEpilogue<E::kLogits, M::kPow2>(7);
  CheckRandomEpilogue<E::kLogits, M::kFixed>(8);
  ExpectTiesAndSaturation();
}

TEST(ConvEpilogue, Uint8OutputsRandomRegisters) {
  using E = ConvEpilogue;
  using M = ScaleMode;
  RefCoverage().Reset();
  CheckRandomEpilogue<E::kNone, M::kPow2, uact8_t>(11);
  CheckRandomEpilogue<E::kNone, M::kFixed, uact8_t>(12);
  CheckRandomEpilogue<E::kRelu, M::kPow2, uact8_t>(13);
  CheckRandomEpilogue<E::kRelu, M::kFixed, uact8_t>(14);
  CheckRandomEpilogue<E::kHardSwish, M::kPow2, uact8_t>(15);
  CheckRandomEpilogue<E::kHardSwish, M::kFixed, uact8_t>(16);
  // Logits ignore the code type.
  CheckRandomEpilogue<E::kLogits, M::kFixed, uact8_t>(17);
  ExpectTiesAndSaturation();
}

TEST(ConvEpilogue, HardSwishIntoUint8EveryCode) {
  for (int p : {0, 5, 12}) {
    for (int f_y : {-8, p, p + 3, 16}) {
      for (int h = -32768; h <= 32767; ++h) {
        const int64_t want = RequantTo(Int128{h} * Relu6Plus3Ref(h, p) * 2730,
                                       2 * p + 14 - f_y, kUint8Codes);
        ASSERT_EQ(
            HardSwishOne<uact8_t>(pre16_t(h), frac_reg_t(p), frac_reg_t(f_y))
                .to_int64(),
            want)
            << "h " << h << " P " << p << " F(y) " << f_y;
      }
    }
  }
}

TEST(ConvEpilogue, Uint8SaturatesAtZeroAnd255) {
  using E = ConvEpilogue;
  using M = ScaleMode;
  const auto none = [](int64_t sum, int shift) {
    return ConvEpilogueOne<E::kNone, M::kPow2, uact8_t>(conv_acc_t(sum), 0,
                                                        shift, 0, 0, 0)
        .to_int();
  };
  EXPECT_EQ(none(5, 1), 2);      // 2.5 -> 2 (even).
  EXPECT_EQ(none(509, 1), 254);  // 254.5 -> 254.
  EXPECT_EQ(none(511, 1), 255);  // 255.5 -> 256, saturated.
  EXPECT_EQ(none(255, 0), 255);  // Above int8's 127.
  EXPECT_EQ(none(4000, 0), 255);
  EXPECT_EQ(none(-1, 1), 0);  // -0.5 -> 0.
  EXPECT_EQ(none(-3, 1), 0);  // -1.5 -> -2, saturated at 0.
  EXPECT_EQ(none(-4000, -5), 0);
  EXPECT_EQ(none(7, -5), 224);
  const auto relu = [](int64_t sum, int shift) {
    return ConvEpilogueOne<E::kRelu, M::kFixed, uact8_t>(
               conv_acc_t(sum), 0, shift, conv_mult_t(1 << 15), 0, 0)
        .to_int();
  };
  EXPECT_EQ(relu(400, 16), 200);
  EXPECT_EQ(relu(600, 16), 255);
  EXPECT_EQ(relu(-600, 16), 0);
}

TEST(ConvEpilogue, TiesGoToEven) {
  using E = ConvEpilogue;
  using M = ScaleMode;
  const auto none = [](int64_t sum, int shift) {
    return ConvEpilogueOne<E::kNone, M::kPow2>(conv_acc_t(sum), 0, shift, 0, 0,
                                               0)
        .to_int();
  };
  EXPECT_EQ(none(5, 1), 2);    // 2.5
  EXPECT_EQ(none(7, 1), 4);    // 3.5
  EXPECT_EQ(none(-5, 1), -2);  // -2.5
  EXPECT_EQ(none(-7, 1), -4);  // -3.5
  EXPECT_EQ(none(255, 1), 127);
  EXPECT_EQ(none(-257, 1), -128);
  EXPECT_EQ(none(3, -5), 96);
  EXPECT_EQ(none(4, -5), 127);
  // Fixed: (3 * 2^15) / 2^16 = 1.5 -> 2; (5 * 2^15) / 2^16 = 2.5 -> 2.
  const auto fixed = [](int64_t sum, int shift, int64_t mult) {
    return ConvEpilogueOne<E::kNone, M::kFixed>(conv_acc_t(sum), 0, shift,
                                                conv_mult_t(mult), 0, 0)
        .to_int();
  };
  EXPECT_EQ(fixed(3, 16, 1 << 15), 2);
  EXPECT_EQ(fixed(5, 16, 1 << 15), 2);
  EXPECT_EQ(fixed(-5, 16, 1 << 15), -2);
  // Relu after rounding: -0.5 rounds to 0 (even), -1.5 to -2 then 0.
  const auto relu = [](int64_t sum, int shift) {
    return ConvEpilogueOne<E::kRelu, M::kPow2>(conv_acc_t(sum), 0, shift, 0, 0,
                                               0)
        .to_int();
  };
  EXPECT_EQ(relu(-1, 1), 0);
  EXPECT_EQ(relu(-3, 1), 0);
  EXPECT_EQ(relu(3, 1), 2);
}

}  // namespace
}  // namespace fxserve::kernels::detect_test
