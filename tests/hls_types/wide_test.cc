// Randomized tests of wide types (up to 128-bit operands, 256-bit
// products) against GMP: integer arithmetic, shifts, comparisons (with C's
// mixed-sign rule above 32 bits), and fixed-point conversions in every mode.
#include <gtest/gtest.h>

#include <random>

#include <ap_fixed.h>
#include <ap_int.h>

#include "tests/hls_types/reference.h"
#include "tests/hls_types/type_lists.h"

namespace fxhls_test {
namespace {

constexpr int kTrials = 4000;

// Random raw values with every magnitude, plus edge codes.
template <class T>
class RawSource {
 public:
  explicit RawSource(uint64_t seed) : rng_(seed) {}
  mpz_class Next() {
    const int pick = static_cast<int>(rng_() % 8);
    if (pick == 0) return MinOf(T::width, kSigned<T>);
    if (pick == 1) return MaxOf(T::width, kSigned<T>);
    if (pick == 2) return kSigned<T> ? -1 : 1;
    mpz_class raw = 0;
    for (int limb = 0; limb < 3; ++limb) {
      raw = raw * Pow2(64) + mpz_class(std::to_string(rng_()));
    }
    raw = FloorShift(raw, static_cast<int>(rng_() % (3 * 64)));
    return Wrap(raw, T::width, kSigned<T>);
  }

 private:
  std::mt19937_64 rng_;
};

template <class A, class B>
void CheckIntPairs(uint64_t seed) {
  constexpr int W1 = A::width, W2 = B::width;
  constexpr bool S1 = kSigned<A>, S2 = kSigned<B>;
  RawSource<A> source_a(seed);
  RawSource<B> source_b(seed + 1);
  std::mt19937 shifts(static_cast<uint32_t>(seed));
  for (int i = 0; i < kTrials; ++i) {
    const mpz_class x = source_a.Next(), y = source_b.Next();
    const A a = FromRaw<A>(x);
    const B b = FromRaw<B>(y);
    SCOPED_TRACE("a=" + x.get_str() + " b=" + y.get_str());
    ASSERT_EQ(RawOf(a + b), x + y);
    ASSERT_EQ(RawOf(a - b), x - y);
    ASSERT_EQ(RawOf(a * b), x * y);
    ASSERT_EQ(RawOf(a ^ b), Wrap(x ^ y, decltype(a ^ b)::width, S1 || S2));
    ASSERT_EQ(a == b, x == y);
    // Mixed signedness above 32 bits compares like C: unsigned wins when
    // the unsigned operand is at least as wide.
    const bool unsigned_wins =
        S1 != S2 && !(W1 < 32 && W2 < 32) && (S1 ? W2 >= W1 : W1 >= W2);
    const int common = (W1 > W2 ? W1 : W2) + 1;
    const bool less = unsigned_wins ? Mod2(x, common) < Mod2(y, common) : x < y;
    ASSERT_EQ(a < b, less);
    ASSERT_EQ(a >= b, !less);
    if (y != 0 && S1 == S2) {
      mpz_class q, r;
      mpz_tdiv_qr(q.get_mpz_t(), r.get_mpz_t(), x.get_mpz_t(), y.get_mpz_t());
      ASSERT_EQ(RawOf(a / b), Wrap(q, decltype(a / b)::width, S1));
      ASSERT_EQ(RawOf(a % b), Wrap(r, decltype(a % b)::width, S1));
    }
    const int shift = static_cast<int>(shifts() % (W1 + 8));
    ASSERT_EQ(RawOf(a << shift), Wrap(x * Pow2(shift), W1, S1));
    ASSERT_EQ(RawOf(a >> shift), FloorShift(x, shift));
  }
}

TEST(WideTypes, Int128ByInt128) { CheckIntPairs<ap_int<128>, ap_int<128>>(1); }
TEST(WideTypes, Uint128ByUint64) {
  CheckIntPairs<ap_uint<128>, ap_uint<64>>(2);
}
TEST(WideTypes, MixedSignAbove32Bits) {
  CheckIntPairs<ap_uint<100>, ap_int<77>>(3);
  CheckIntPairs<ap_int<48>, ap_uint<33>>(4);
  CheckIntPairs<ap_uint<40>, ap_int<40>>(5);
  CheckIntPairs<ap_int<65>, ap_int<3>>(6);
}

template <class Source, class Target>
void CheckWideConversions(uint64_t seed) {
  RawSource<Source> source(seed);
  for (int i = 0; i < kTrials / 4; ++i) {
    const Source s = FromRaw<Source>(source.Next());
    const Target t = s;
    ASSERT_EQ(RawOf(t), RefConvertFrom<Target>(s))
        << RawOf(s).get_str() << " into " << SpecOf<Target>().Name();
  }
}

template <class Source, int W, int I, bool S>
void CheckWideShape(uint64_t seed) {
  ForEachMode<W, I, S>(
      [seed]<class Target>() { CheckWideConversions<Source, Target>(seed); });
}

TEST(WideTypes, FixedConversionsEveryMode) {
  CheckWideShape<ap_fixed<128, 50>, 40, 12, true>(7);
  CheckWideShape<ap_fixed<128, 5>, 70, 3, true>(8);
  CheckWideShape<ap_fixed<96, 80>, 64, 64, false>(9);
  CheckWideShape<ap_ufixed<100, 10>, 128, 60, true>(10);
}

TEST(WideTypes, FixedProductsKeepAllBits) {
  RawSource<ap_fixed<128, 40>> source_a(11);
  RawSource<ap_ufixed<96, 70>> source_b(12);
  for (int i = 0; i < kTrials; ++i) {
    const auto a = FromRaw<ap_fixed<128, 40>>(source_a.Next());
    const auto b = FromRaw<ap_ufixed<96, 70>>(source_b.Next());
    const auto product = a * b;
    static_assert(decltype(product)::width == 224);
    ASSERT_EQ(RawOf(product), RawOf(a) * RawOf(b));
    const auto sum = a + b;
    ASSERT_EQ(RawOf(sum), RawOf(a) + RawOf(b) * Pow2(88 - 26));
  }
}

}  // namespace
}  // namespace fxhls_test
