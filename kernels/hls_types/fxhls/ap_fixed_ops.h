// Binary operators and comparisons of ap_fixed_base, and its out-of-line
// members. Do not include this file directly: include <ap_fixed.h>.
#ifndef FXSERVE_KERNELS_HLS_TYPES_FXHLS_AP_FIXED_OPS_H_
#define FXSERVE_KERNELS_HLS_TYPES_FXHLS_AP_FIXED_OPS_H_

#include <algorithm>
#include <ostream>
#include <string>

#include "fxhls/ap_fixed_base.h"

namespace fxhls {

// An ap_int or C integer seen as an ap_fixed with no fractional bits.
template <int W, bool S>
using IntAsFixed = ap_fixed_base<W, W, S, AP_TRN, AP_WRAP, 0>;

// Raw bits of `x` rescaled to kToFrac fractional bits (kToFrac >= x's) in
// K limbs: exact, since K is chosen wide enough by the caller.
template <int K, int kToFrac, int W, int I, bool S, ap_q_mode Q, ap_o_mode O,
          int N>
Wide<K> Align(const ap_fixed_base<W, I, S, Q, O, N>& x) {
  static_assert(kToFrac >= W - I, "Align only adds fractional bits");
  return ShiftLeft(Resize<K>(x.raw().raw_bits(), S), kToFrac - (W - I));
}

// Adds, subtracts or combines bitwise in the result type R, whose
// fractional bits cover both operands'.
template <class R, int W1, int I1, bool S1, ap_q_mode Q1, ap_o_mode O1, int N1,
          int W2, int I2, bool S2, ap_q_mode Q2, ap_o_mode O2, int N2, class Op>
R CombineFixed(const ap_fixed_base<W1, I1, S1, Q1, O1, N1>& a,
               const ap_fixed_base<W2, I2, S2, Q2, O2, N2>& b, Op op) {
  constexpr int K = R::Raw::kLimbs;
  const Wide<K> sum = op(Align<K, R::kFrac>(a), Align<K, R::kFrac>(b));
  return R::FromRaw(R::Raw::FromWide(sum, true));
}

// (a << max(F2, 0)) / b on raw integers, truncated towards zero; the
// quotient keeps a's fractional bits. As in AMD's headers the quotient is
// formed in an intermediate width (the shifted dividend's, plus a bit when
// only the divisor is signed) and wraps there, e.g. for min / -1.
template <class R, int W1, int I1, bool S1, ap_q_mode Q1, ap_o_mode O1, int N1,
          int W2, int I2, bool S2, ap_q_mode Q2, ap_o_mode O2, int N2>
R DivideFixed(const ap_fixed_base<W1, I1, S1, Q1, O1, N1>& a,
              const ap_fixed_base<W2, I2, S2, Q2, O2, N2>& b) {
  constexpr int kShift = Max(W2 - I2, 0);
  constexpr int kWidth = Max(W1 + kShift + (S2 && !S1), W2 + (S1 && !S2));
  constexpr bool kSigned = S1 || S2;
  const ap_int_base<kWidth, kSigned> dividend = ap_int_base<kWidth, S1>(a.raw())
                                                << kShift;
  const ap_int_base<kWidth, kSigned> divisor = ap_int_base<kWidth, S2>(b.raw());
  const ap_int_base<kWidth, kSigned> quotient = dividend / divisor;
  return R::FromRaw(typename R::Raw(quotient));
}

// -1, 0 or 1 comparing the exact values.
template <int W1, int I1, bool S1, ap_q_mode Q1, ap_o_mode O1, int N1, int W2,
          int I2, bool S2, ap_q_mode Q2, ap_o_mode O2, int N2>
int CompareFixed(const ap_fixed_base<W1, I1, S1, Q1, O1, N1>& a,
                 const ap_fixed_base<W2, I2, S2, Q2, O2, N2>& b) {
  constexpr int kFrac = Max(W1 - I1, W2 - I2);
  constexpr int kBits = Max(W1 + kFrac - (W1 - I1), W2 + kFrac - (W2 - I2)) + 2;
  constexpr int K = LimbsFor(kBits);
  const Wide<K> x = Align<K, kFrac>(a);
  const Wide<K> y = Align<K, kFrac>(b);
  if (Equal(x, y)) return 0;
  return Less(x, y, true) ? -1 : 1;
}

}  // namespace fxhls

// Each operator comes for two ap_fixed types, and for an ap_fixed with an
// ap_int or a C integer on either side (seen as an ap_fixed with I == W).
#define FXHLS_FIXED_PARAMS(n) \
  int W##n, int I##n, bool S##n, ap_q_mode Q##n, ap_o_mode O##n, int N##n
#define FXHLS_FIXED_TYPE(n) ap_fixed_base<W##n, I##n, S##n, Q##n, O##n, N##n>

#define FXHLS_FIXED_OPERATOR(OP, KIND, ...)                                   \
  template <FXHLS_FIXED_PARAMS(1), FXHLS_FIXED_PARAMS(2)>                     \
  inline typename fxhls::FixedResult<W1, I1, S1, W2, I2, S2>::KIND            \
  operator OP(const FXHLS_FIXED_TYPE(1) & a, const FXHLS_FIXED_TYPE(2) & b) { \
    using R = typename fxhls::FixedResult<W1, I1, S1, W2, I2, S2>::KIND;      \
    __VA_ARGS__                                                               \
  }                                                                           \
  template <FXHLS_FIXED_PARAMS(1), int W2, bool S2>                           \
  inline auto operator OP(const FXHLS_FIXED_TYPE(1) & a,                      \
                          const ap_int_base<W2, S2>& b) {                     \
    return a OP fxhls::IntAsFixed<W2, S2>(b);                                 \
  }                                                                           \
  template <FXHLS_FIXED_PARAMS(2), int W1, bool S1>                           \
  inline auto operator OP(const ap_int_base<W1, S1>& a,                       \
                          const FXHLS_FIXED_TYPE(2) & b) {                    \
    return fxhls::IntAsFixed<W1, S1>(a) OP b;                                 \
  }                                                                           \
  template <FXHLS_FIXED_PARAMS(1), class T, fxhls::EnableIfCInt<T> = 0>       \
  inline auto operator OP(const FXHLS_FIXED_TYPE(1) & a, T b) {               \
    return a OP typename fxhls::CIntTraits<T>::type(b);                       \
  }                                                                           \
  template <FXHLS_FIXED_PARAMS(2), class T, fxhls::EnableIfCInt<T> = 0>       \
  inline auto operator OP(T a, const FXHLS_FIXED_TYPE(2) & b) {               \
    return typename fxhls::CIntTraits<T>::type(a) OP b;                       \
  }

FXHLS_FIXED_OPERATOR(+, plus, {
  return fxhls::CombineFixed<R>(
      a, b, [](auto x, auto y) { return fxhls::Add(x, y); });
})
FXHLS_FIXED_OPERATOR(-, minus, {
  return fxhls::CombineFixed<R>(
      a, b, [](auto x, auto y) { return fxhls::Sub(x, y); });
})
FXHLS_FIXED_OPERATOR(&, logic, {
  return fxhls::CombineFixed<R>(
      a, b, [](auto x, auto y) { return fxhls::BitAnd(x, y); });
})
FXHLS_FIXED_OPERATOR(|, logic, {
  return fxhls::CombineFixed<R>(
      a, b, [](auto x, auto y) { return fxhls::BitOr(x, y); });
})
FXHLS_FIXED_OPERATOR(^, logic, {
  return fxhls::CombineFixed<R>(
      a, b, [](auto x, auto y) { return fxhls::BitXor(x, y); });
})
FXHLS_FIXED_OPERATOR(*, mult, {
  // The raw product already has F1 + F2 fractional bits.
  return R::FromRaw(typename R::Raw(a.raw() * b.raw()));
})
FXHLS_FIXED_OPERATOR(/, div, { return fxhls::DivideFixed<R>(a, b); })
#undef FXHLS_FIXED_OPERATOR

// Comparisons are exact; against a float or double they compare
// to_double(), as AMD's headers do.
#define FXHLS_FIXED_COMPARISON(OP)                                       \
  template <FXHLS_FIXED_PARAMS(1), FXHLS_FIXED_PARAMS(2)>                \
  inline bool operator OP(const FXHLS_FIXED_TYPE(1) & a,                 \
                          const FXHLS_FIXED_TYPE(2) & b) {               \
    return fxhls::CompareFixed(a, b) OP 0;                               \
  }                                                                      \
  template <FXHLS_FIXED_PARAMS(1), int W2, bool S2>                      \
  inline bool operator OP(const FXHLS_FIXED_TYPE(1) & a,                 \
                          const ap_int_base<W2, S2>& b) {                \
    return a OP fxhls::IntAsFixed<W2, S2>(b);                            \
  }                                                                      \
  template <FXHLS_FIXED_PARAMS(2), int W1, bool S1>                      \
  inline bool operator OP(const ap_int_base<W1, S1>& a,                  \
                          const FXHLS_FIXED_TYPE(2) & b) {               \
    return fxhls::IntAsFixed<W1, S1>(a) OP b;                            \
  }                                                                      \
  template <FXHLS_FIXED_PARAMS(1), class T, fxhls::EnableIfCInt<T> = 0>  \
  inline bool operator OP(const FXHLS_FIXED_TYPE(1) & a, T b) {          \
    return a OP typename fxhls::CIntTraits<T>::type(b);                  \
  }                                                                      \
  template <FXHLS_FIXED_PARAMS(2), class T, fxhls::EnableIfCInt<T> = 0>  \
  inline bool operator OP(T a, const FXHLS_FIXED_TYPE(2) & b) {          \
    return typename fxhls::CIntTraits<T>::type(a) OP b;                  \
  }                                                                      \
  template <FXHLS_FIXED_PARAMS(1), class T, fxhls::EnableIfFloat<T> = 0> \
  inline bool operator OP(const FXHLS_FIXED_TYPE(1) & a, T b) {          \
    return a.to_double() OP b;                                           \
  }                                                                      \
  template <FXHLS_FIXED_PARAMS(2), class T, fxhls::EnableIfFloat<T> = 0> \
  inline bool operator OP(T a, const FXHLS_FIXED_TYPE(2) & b) {          \
    return a OP b.to_double();                                           \
  }
FXHLS_FIXED_COMPARISON(==)
FXHLS_FIXED_COMPARISON(!=)
FXHLS_FIXED_COMPARISON(<)
FXHLS_FIXED_COMPARISON(<=)
FXHLS_FIXED_COMPARISON(>)
FXHLS_FIXED_COMPARISON(>=)
#undef FXHLS_FIXED_COMPARISON
#undef FXHLS_FIXED_TYPE
#undef FXHLS_FIXED_PARAMS

template <int W, int I, bool S, ap_q_mode Q, ap_o_mode O, int N>
std::ostream& operator<<(std::ostream& os,
                         const ap_fixed_base<W, I, S, Q, O, N>& x) {
  return os << x.to_string(10);
}

// --- Out-of-line members. --------------------------------------------------

template <int W, bool S>
template <int W2, int I2, bool S2, ap_q_mode Q2, ap_o_mode O2, int N2>
ap_int_base<W, S>::ap_int_base(const ap_fixed_base<W2, I2, S2, Q2, O2, N2>& x)
    : ap_int_base(x.to_ap_int_base()) {}

template <int W, int I, bool S, ap_q_mode Q, ap_o_mode O, int N>
std::string ap_fixed_base<W, I, S, Q, O, N>::to_string(int radix,
                                                       bool sign) const {
  if (radix != 2 && radix != 8 && radix != 10 && radix != 16) {
    fxhls::Fail("to_string radix must be 2, 8, 10 or 16, got " +
                std::to_string(radix));
  }
  // Work on the magnitude with at least one fractional and integer bit.
  constexpr int kFracBits = fxhls::Max(kFrac, 0);
  constexpr int K = fxhls::LimbsFor(W + fxhls::Max(-kFrac, 0) + 8);
  auto v = fxhls::Resize<K>(raw_.raw_bits(), S);
  const bool negative = S && fxhls::IsNegative(v) && (sign || radix == 10);
  if (negative) {
    v = fxhls::Negate(v);
  } else {
    fxhls::Normalize(v, W, false);
  }
  if constexpr (kFrac < 0) v = fxhls::ShiftLeft(v, -kFrac);
  auto integer = fxhls::ShiftRight(v, kFracBits, false);
  auto fraction = v;
  fxhls::Normalize(fraction, kFracBits, false);

  std::string digits;
  const auto base = fxhls::FromUint64<K>(radix);
  do {
    fxhls::Wide<K> quotient, remainder;
    fxhls::DivModUnsigned(integer, base, quotient, remainder);
    digits.push_back("0123456789abcdef"[remainder.limb[0]]);
    integer = quotient;
  } while (!fxhls::IsZero(integer));
  std::reverse(digits.begin(), digits.end());
  if (!fxhls::IsZero(fraction)) {
    // Each step multiplies the fraction by the radix and takes the digit
    // that crosses the binary point; it ends because radix is even.
    digits.push_back('.');
    while (!fxhls::IsZero(fraction)) {
      fraction = fxhls::Mul(fraction, base);
      const auto digit = fxhls::ShiftRight(fraction, kFracBits, false);
      digits.push_back("0123456789abcdef"[digit.limb[0]]);
      fxhls::Normalize(fraction, kFracBits, false);
    }
  }
  const char* prefix = radix == 2    ? "0b"
                       : radix == 8  ? "0o"
                       : radix == 16 ? "0x"
                                     : "";
  return (negative ? "-" : "") + std::string(prefix) + digits;
}

#endif  // FXSERVE_KERNELS_HLS_TYPES_FXHLS_AP_FIXED_OPS_H_
