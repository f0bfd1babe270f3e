// Exhaustive ap_fixed arithmetic: every pair of codes of narrow operand
// types through + - * / & | ^ and comparisons, against exact GMP values;
// then every sum and product assigned into every quantization x overflow
// mode. Also checks the Vitis result types.
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include <ap_fixed.h>

#include "tests/hls_types/convert_check.h"
#include "tests/hls_types/reference.h"

namespace fxhls_test {
namespace {

mpz_class Align(const mpz_class& raw, int from_frac, int to_frac) {
  return raw * Pow2(to_frac - from_frac);
}

template <class A, class B>
void CheckAllPairs() {
  constexpr int W1 = A::width, W2 = B::width;
  constexpr int F1 = kFrac<A>, F2 = kFrac<B>;
  constexpr bool S1 = kSigned<A>, S2 = kSigned<B>;
  using Sum = decltype(A() + B());
  using Diff = decltype(A() - B());
  using Prod = decltype(A() * B());
  using Quot = decltype(A() / B());
  using Logic = decltype(A() & B());
  constexpr int kIntBits = (A::iwidth + (S2 && !S1)) > (B::iwidth + (S1 && !S2))
                               ? A::iwidth + (S2 && !S1)
                               : B::iwidth + (S1 && !S2);
  constexpr int kFracBits = F1 > F2 ? F1 : F2;
  static_assert(Sum::width == kIntBits + 1 + kFracBits);
  static_assert(Sum::iwidth == kIntBits + 1);
  static_assert(kSigned<Diff>);
  static_assert(Prod::width == W1 + W2 &&
                Prod::iwidth == A::iwidth + B::iwidth);
  static_assert(Logic::width == kIntBits + kFracBits);
  static_assert(Quot::width == S2 + W1 + (F2 > 0 ? F2 : 0));
  static_assert(Quot::iwidth == S2 + A::iwidth + F2);

  constexpr int kDivShift = F2 > 0 ? F2 : 0;
  constexpr int kDivWidth = (W1 + kDivShift + (S2 && !S1)) > (W2 + (S1 && !S2))
                                ? W1 + kDivShift + (S2 && !S1)
                                : W2 + (S1 && !S2);
  for (long ca = 0; ca < (1L << W1); ++ca) {
    for (long cb = 0; cb < (1L << W2); ++cb) {
      const A a = FromRaw<A>(ca);
      const B b = FromRaw<B>(cb);
      const mpz_class x = RawOf(a), y = RawOf(b);
      SCOPED_TRACE("raw a=" + x.get_str() + " raw b=" + y.get_str());
      const mpz_class xs = Align(x, F1, kFracBits),
                      ys = Align(y, F2, kFracBits);
      ASSERT_EQ(RawOf(a + b), xs + ys);
      ASSERT_EQ(RawOf(a - b), xs - ys);
      ASSERT_EQ(RawOf(a * b), x * y);
      ASSERT_EQ(RawOf(a & b), Wrap(xs & ys, Logic::width, S1 || S2));
      ASSERT_EQ(RawOf(a | b), Wrap(xs | ys, Logic::width, S1 || S2));
      ASSERT_EQ(RawOf(a ^ b), Wrap(xs ^ ys, Logic::width, S1 || S2));
      if (y != 0) {
        // Raw (a << max(F2, 0)) / b, truncated, formed in kDivWidth bits.
        mpz_class q;
        const mpz_class dividend = x * Pow2(kDivShift);
        mpz_tdiv_q(q.get_mpz_t(), dividend.get_mpz_t(), y.get_mpz_t());
        ASSERT_EQ(RawOf(a / b),
                  Wrap(Wrap(q, kDivWidth, S1 || S2), Quot::width, S1 || S2));
      } else {
        ASSERT_THROW(a / b, fxhls::EmulationError);
      }
      ASSERT_EQ(a == b, xs == ys);
      ASSERT_EQ(a != b, xs != ys);
      ASSERT_EQ(a < b, xs < ys);
      ASSERT_EQ(a <= b, xs <= ys);
      ASSERT_EQ(a > b, xs > ys);
      ASSERT_EQ(a >= b, xs >= ys);
    }
  }
}

TEST(ApFixedArith, SignedBySigned) {
  CheckAllPairs<ap_fixed<7, 3>, ap_fixed<6, 1>>();
}
TEST(ApFixedArith, UnsignedBySigned) {
  CheckAllPairs<ap_ufixed<6, 2>, ap_fixed<5, 3>>();
}
TEST(ApFixedArith, NegativeAndLargeIntegerBits) {
  CheckAllPairs<ap_fixed<5, 8>, ap_ufixed<6, -1>>();
  CheckAllPairs<ap_fixed<6, -2>, ap_fixed<5, 7>>();
}
TEST(ApFixedArith, UnsignedByUnsigned) {
  CheckAllPairs<ap_ufixed<8, 4>, ap_ufixed<5, 5>>();
}

// Every sum and every product of two ap_fixed<6, 3>, assigned into
// ap_fixed<6, 3> and ap_ufixed<5, 2> under every mode.
TEST(ApFixedArith, ResultsIntoEveryMode) {
  using A = ap_fixed<6, 3>;
  using Sum = decltype(A() + A());
  using Prod = decltype(A() * A());
  std::set<long> sums, products;
  for (long ca = 0; ca < 64; ++ca) {
    for (long cb = 0; cb < 64; ++cb) {
      const A a = FromRaw<A>(ca), b = FromRaw<A>(cb);
      sums.insert(RawOf(a + b).get_si());
      products.insert(RawOf(a * b).get_si());
    }
  }
  const std::vector<long> sum_raws(sums.begin(), sums.end());
  const std::vector<long> product_raws(products.begin(), products.end());
  CheckShape<Sum, 6, 3, true>(sum_raws);
  CheckShape<Sum, 5, 2, false>(sum_raws);
  CheckShape<Prod, 6, 3, true>(product_raws);
  CheckShape<Prod, 5, 2, false>(product_raws);
}

// Compound assignment: the exact result, then this type's modes.
TEST(ApFixedArith, CompoundAssignmentQuantizesIntoTheLeftType) {
  ap_fixed<8, 4, AP_RND, AP_SAT> acc = 1.25;
  acc *= ap_fixed<8, 2>(0.3125);  // 0.390625 rounds to 0.375.
  EXPECT_EQ(acc.to_double(), 0.375);
  acc += 100;  // Saturates.
  EXPECT_EQ(acc.to_double(), 7.9375);
  acc -= ap_fixed<8, 4>(-8);  // Still saturated.
  EXPECT_EQ(acc.to_double(), 7.9375);
  ap_fixed<8, 4> wrapping = 7.5;
  wrapping += 1;  // Wraps.
  EXPECT_EQ(wrapping.to_double(), -7.5);
  ++wrapping;
  EXPECT_EQ(wrapping.to_double(), -6.5);
}

}  // namespace
}  // namespace fxhls_test
