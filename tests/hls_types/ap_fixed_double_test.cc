// Conversions between ap_fixed and double: doubles (ties, tiny, huge,
// random) into every mode of several shapes, and to_double() of every code
// of narrow types and of random wide values, against the GMP reference.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include <ap_fixed.h>

#include "tests/hls_types/reference.h"
#include "tests/hls_types/type_lists.h"

namespace fxhls_test {
namespace {

std::vector<double> TestDoubles() {
  std::vector<double> values = {0.0,
                                -0.0,
                                0.5,
                                -0.5,
                                0.25,
                                -0.25,
                                0.75,
                                -0.75,
                                1.5,
                                -1.5,
                                2.5,
                                -2.5,
                                3.5,
                                -3.5,
                                7.75,
                                -7.75,
                                8.0,
                                -8.0,
                                7.96875,
                                -7.96875,
                                100.0,
                                -100.0,
                                1e-300,
                                -1e-300,
                                1e300,
                                -1e300,
                                0.1,
                                -0.1,
                                1.0 / 3,
                                -2.0 / 3,
                                std::numeric_limits<double>::denorm_min(),
                                -std::numeric_limits<double>::denorm_min()};
  // Every multiple of 1/64 in [-10, 10]: exact ties for every shape below.
  for (int k = -640; k <= 640; ++k) values.push_back(k / 64.0);
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> dist(-20.0, 20.0);
  for (int i = 0; i < 300; ++i) values.push_back(dist(rng));
  return values;
}

template <class Target>
long FromDouble(double d) {
  const Target t = d;
  return RawOf(t).get_si();
}

void CheckDoubles(long (*convert)(double), const FixedSpec& target) {
  for (double d : TestDoubles()) {
    const DoubleAsRaw split = SplitDouble(d);
    // A double reads as a 54-bit signed mantissa.
    const mpz_class expected =
        RefConvert(split.raw, split.frac, 54, true, target);
    ASSERT_EQ(convert(d), expected.get_si())
        << "converting " << d << " into " << target.Name();
  }
}

template <int W, int I, bool S>
void CheckShapeFromDoubles() {
  ForEachMode<W, I, S>([]<class Target>() {
    CheckDoubles(&FromDouble<Target>, SpecOf<Target>());
  });
}

TEST(ApFixedDouble, IntoEveryModeOfSeveralShapes) {
  CheckShapeFromDoubles<8, 4, true>();
  CheckShapeFromDoubles<6, 2, false>();
  CheckShapeFromDoubles<5, 7, true>();
  CheckShapeFromDoubles<6, -1, true>();
  CheckShapeFromDoubles<40, 20, true>();
}

TEST(ApFixedDouble, InfinityAndNanSaturateOrWrapLikeVitis) {
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ((ap_fixed<8, 4, AP_TRN, AP_SAT>(inf).to_double()), 7.9375);
  EXPECT_EQ((ap_fixed<8, 4, AP_TRN, AP_SAT>(-inf).to_double()), -8.0);
  EXPECT_EQ((ap_fixed<8, 4>(inf).to_double()), 0.0);  // 2^1024 wraps to 0.
}

template <class T>
void CheckToDoubleEveryCode() {
  for (long code = 0; code < (1L << T::width); ++code) {
    const T x = FromRaw<T>(code);
    ASSERT_EQ(x.to_double(), RefToDouble(RawOf(x), kFrac<T>)) << code;
    ASSERT_EQ(static_cast<double>(x), x.to_double());
    ASSERT_EQ(x.to_float(), static_cast<float>(x.to_double()));
  }
}

TEST(ApFixedDouble, ToDoubleEveryCode) {
  CheckToDoubleEveryCode<ap_fixed<8, 3>>();
  CheckToDoubleEveryCode<ap_ufixed<8, 3>>();
  CheckToDoubleEveryCode<ap_fixed<7, -3>>();
  CheckToDoubleEveryCode<ap_fixed<6, 12>>();
}

template <class T>
void CheckToDoubleRandom() {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 5000; ++i) {
    mpz_class raw = 0;
    for (int limb = 0; limb < 3; ++limb) {
      raw = raw * Pow2(64) + mpz_class(std::to_string(rng()));
    }
    // Vary the magnitude so rounding sees every position.
    raw = FloorShift(raw, static_cast<int>(rng() % T::width));
    const T x = FromRaw<T>(raw);
    ASSERT_EQ(x.to_double(), RefToDouble(RawOf(x), kFrac<T>))
        << RawOf(x).get_str();
  }
}

TEST(ApFixedDouble, ToDoubleRoundsWideValuesToNearestEven) {
  CheckToDoubleRandom<ap_fixed<128, 40>>();
  CheckToDoubleRandom<ap_ufixed<100, 3>>();
  CheckToDoubleRandom<ap_int<128>>();
  CheckToDoubleRandom<ap_uint<77>>();
}

}  // namespace
}  // namespace fxhls_test
