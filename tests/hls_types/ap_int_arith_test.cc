// Exhaustive ap_int / ap_uint arithmetic: every pair of codes of narrow
// operand types through + - * / % & | ^, shifts, comparisons and negation,
// against GMP. Also checks the Vitis result widths.
#include <gtest/gtest.h>

#include <type_traits>

#include <ap_int.h>

#include "tests/hls_types/reference.h"

namespace fxhls_test {
namespace {

// C-style division in the common type AMD's headers use: as wide as the
// wider operand plus a sign bit, signed unless the wider (at equal widths:
// every) operand is unsigned.
struct CommonType {
  int width;
  bool is_signed;
};
CommonType CommonOf(int w1, bool s1, int w2, bool s2) {
  const int width = (w1 > w2 ? w1 : w2) + ((s1 || s2) ? 1 : 0);
  const bool is_signed = w1 > w2 ? s1 : (w2 > w1 ? s2 : (s1 || s2));
  return {width, is_signed};
}

mpz_class TruncDiv(const mpz_class& a, const mpz_class& b) {
  mpz_class q;
  mpz_tdiv_q(q.get_mpz_t(), a.get_mpz_t(), b.get_mpz_t());
  return q;
}
mpz_class TruncRem(const mpz_class& a, const mpz_class& b) {
  mpz_class r;
  mpz_tdiv_r(r.get_mpz_t(), a.get_mpz_t(), b.get_mpz_t());
  return r;
}

template <class A, class B>
void CheckAllPairs() {
  constexpr int W1 = A::width, W2 = B::width;
  constexpr bool S1 = kSigned<A>, S2 = kSigned<B>;
  constexpr int kCommon = (W1 + (S2 && !S1)) > (W2 + (S1 && !S2))
                              ? W1 + (S2 && !S1)
                              : W2 + (S1 && !S2);
  // Result widths and signedness, as Vitis HLS defines them.
  static_assert(decltype(A() * B())::width == W1 + W2);
  static_assert(decltype(A() + B())::width == kCommon + 1);
  static_assert(decltype(A() - B())::width == kCommon + 1);
  static_assert(kSigned<decltype(A() - B())>);
  static_assert(decltype(A() & B())::width == kCommon);
  static_assert(decltype(A() / B())::width == W1 + S2);
  static_assert(decltype(A() % B())::width ==
                (W1 < W2 + (!S2 && S1) ? W1 : W2 + (!S2 && S1)));
  static_assert(kSigned<decltype(A() * B())> == (S1 || S2));

  const CommonType common = CommonOf(W1, S1, W2, S2);
  for (long ca = 0; ca < (1L << W1); ++ca) {
    for (long cb = 0; cb < (1L << W2); ++cb) {
      const A a = FromRaw<A>(ca);
      const B b = FromRaw<B>(cb);
      const mpz_class x = RawOf(a), y = RawOf(b);
      SCOPED_TRACE("a=" + x.get_str() + " b=" + y.get_str());
      ASSERT_EQ(RawOf(a + b), x + y);
      ASSERT_EQ(RawOf(a - b), x - y);
      ASSERT_EQ(RawOf(a * b), x * y);
      ASSERT_EQ(RawOf(a & b), Wrap(x & y, kCommon, S1 || S2));
      ASSERT_EQ(RawOf(a | b), Wrap(x | y, kCommon, S1 || S2));
      ASSERT_EQ(RawOf(a ^ b), Wrap(x ^ y, kCommon, S1 || S2));
      const mpz_class cx = Wrap(x, common.width, common.is_signed);
      const mpz_class cy = Wrap(y, common.width, common.is_signed);
      if (y != 0) {
        ASSERT_EQ(RawOf(a / b), Wrap(TruncDiv(cx, cy), W1 + S2, S1 || S2));
        // A signed dividend's remainder takes its sign; otherwise the
        // remainder is of the common type's unsigned bit patterns.
        const mpz_class rem =
            (S1 && common.is_signed)
                ? TruncRem(cx, cy)
                : TruncRem(Mod2(cx, common.width), Mod2(cy, common.width));
        ASSERT_EQ(RawOf(a % b), Wrap(rem, decltype(a % b)::width, S1));
      } else {
        ASSERT_THROW(a / b, fxhls::EmulationError);
        ASSERT_THROW(a % b, fxhls::EmulationError);
      }
      // Both operands are narrower than int, so comparisons are exact.
      ASSERT_EQ(a == b, x == y);
      ASSERT_EQ(a != b, x != y);
      ASSERT_EQ(a < b, x < y);
      ASSERT_EQ(a <= b, x <= y);
      ASSERT_EQ(a > b, x > y);
      ASSERT_EQ(a >= b, x >= y);
    }
    const A a = FromRaw<A>(ca);
    const mpz_class x = RawOf(a);
    ASSERT_EQ(RawOf(-a), -x);
    ASSERT_EQ(RawOf(~a), Wrap(~x, W1, S1));
    ASSERT_EQ(!a, x == 0);
    for (int shift = -W1 - 2; shift <= W1 + 2; ++shift) {
      // Shifts keep the type; a negative amount shifts the other way.
      const mpz_class left =
          shift >= 0 ? mpz_class(x * Pow2(shift)) : FloorShift(x, -shift);
      const mpz_class right =
          shift >= 0 ? FloorShift(x, shift) : mpz_class(x * Pow2(-shift));
      ASSERT_EQ(RawOf(a << shift), Wrap(left, W1, S1)) << "shift " << shift;
      ASSERT_EQ(RawOf(a >> shift), Wrap(right, W1, S1)) << "shift " << shift;
    }
  }
}

TEST(ApIntArith, SignedBySigned) { CheckAllPairs<ap_int<8>, ap_int<8>>(); }
TEST(ApIntArith, UnsignedBySignedNarrower) {
  CheckAllPairs<ap_uint<8>, ap_int<6>>();
}
TEST(ApIntArith, SignedByUnsignedWider) {
  CheckAllPairs<ap_int<5>, ap_uint<7>>();
}
TEST(ApIntArith, UnsignedByUnsigned) {
  CheckAllPairs<ap_uint<4>, ap_uint<8>>();
}
TEST(ApIntArith, OneBitOperands) {
  CheckAllPairs<ap_int<1>, ap_uint<1>>();
  CheckAllPairs<ap_uint<1>, ap_int<3>>();
}

TEST(ApIntArith, CIntegersActAsApTypesOfTheirWidth) {
  const ap_int<8> a = -100;
  static_assert(decltype(a + 1)::width == 33);    // int is ap_int<32>.
  static_assert(decltype(a * 2u)::width == 40);   // unsigned: ap_uint<32>.
  static_assert(decltype(a + true)::width == 9);  // bool: ap_uint<1>.
  EXPECT_EQ((a * 3).to_int(), -300);
  EXPECT_EQ((5 - a).to_int(), 105);
  EXPECT_EQ((a / 7).to_int(), -14);
  EXPECT_EQ((a % 7).to_int(), -2);
  EXPECT_TRUE(a < 0);
  EXPECT_TRUE(-101 < a);
}

}  // namespace
}  // namespace fxhls_test
