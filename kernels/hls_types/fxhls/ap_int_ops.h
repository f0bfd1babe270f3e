// Binary operators and comparisons of ap_int_base, and its out-of-line
// members. Do not include this file directly: include <ap_int.h>.
#ifndef FXSERVE_KERNELS_HLS_TYPES_FXHLS_AP_INT_OPS_H_
#define FXSERVE_KERNELS_HLS_TYPES_FXHLS_AP_INT_OPS_H_

#include <algorithm>
#include <string>

#include "fxhls/ap_int_base.h"
#include "fxhls/ap_int_refs.h"

namespace fxhls {

// Both operands extended by their own signedness to R's limbs, combined by
// `op`, and wrapped to R. Exact whenever R is the Vitis result type.
template <class R, int W1, bool S1, int W2, bool S2, class Op>
R CombineInts(const ap_int_base<W1, S1>& a, const ap_int_base<W2, S2>& b,
              Op op) {
  constexpr int K = R::kLimbs;
  R r(fxhls::kZeroInit);
  r.set_raw_bits(op(Resize<K>(a.raw_bits(), S1), Resize<K>(b.raw_bits(), S2)));
  return r;
}

// Division as AMD's headers and C do it: both operands are first converted
// to a common type, as wide as the wider operand plus a sign bit, signed
// unless the wider (or, at equal width, every) operand is unsigned. The
// quotient truncates towards zero. The remainder takes the dividend's sign
// when the dividend is signed, and is the unsigned remainder of the common
// type's bit patterns otherwise. The result then wraps to R.
template <class R, bool kRemainder, int W1, bool S1, int W2, bool S2>
R DivideInts(const ap_int_base<W1, S1>& a, const ap_int_base<W2, S2>& b) {
  constexpr int kWidth = Max(W1, W2) + (S1 || S2);
  constexpr bool kSigned = W1 > W2 ? S1 : (W2 > W1 ? S2 : (S1 || S2));
  constexpr int K = LimbsFor(kWidth + 1);
  const ap_int_base<kWidth, kSigned> common_a(a), common_b(b);
  if (common_b.is_zero()) Fail("ap_int division by zero");
  const bool as_signed = kRemainder ? S1 && kSigned : kSigned;
  Wide<K> x = Resize<K>(common_a.raw_bits(), kSigned);
  Wide<K> y = Resize<K>(common_b.raw_bits(), kSigned);
  if (!as_signed) {  // Read the common type's bit patterns as unsigned.
    Normalize(x, kWidth, false);
    Normalize(y, kWidth, false);
  }
  const bool x_negative = as_signed && IsNegative(x);
  const bool y_negative = as_signed && IsNegative(y);
  Wide<K> quotient, remainder;
  DivModUnsigned(Magnitude(x, as_signed), Magnitude(y, as_signed), quotient,
                 remainder);
  Wide<K> result = kRemainder ? remainder : quotient;
  const bool negate = kRemainder ? x_negative : x_negative != y_negative;
  if (negate) result = Negate(result);
  R r(fxhls::kZeroInit);
  r.set_raw_bits(Resize<R::kLimbs>(result, true));
  return r;
}

// -1, 0 or 1 as a is less than, equal to or greater than b. Equality is
// exact. Ordering follows C, as AMD's headers do: exact when the signedness
// agrees or both are narrower than int (C promotes them to int); otherwise,
// when the unsigned operand is at least as wide, both are compared as
// unsigned bit patterns (so ap_uint<32>(1) > ap_int<32>(-1) is false).
template <int W1, bool S1, int W2, bool S2>
int CompareInts(const ap_int_base<W1, S1>& a, const ap_int_base<W2, S2>& b) {
  constexpr int kWidth = Max(W1, W2) + 1;
  constexpr int K = LimbsFor(kWidth);
  Wide<K> x = Resize<K>(a.raw_bits(), S1);
  Wide<K> y = Resize<K>(b.raw_bits(), S2);
  if (Equal(x, y)) return 0;
  constexpr bool kUnsignedWins =
      S1 != S2 && !(W1 < 32 && W2 < 32) && (S1 ? W2 >= W1 : W1 >= W2);
  if constexpr (kUnsignedWins) {
    Normalize(x, kWidth, false);
    Normalize(y, kWidth, false);
  }
  return Less(x, y, !kUnsignedWins) ? -1 : 1;
}

}  // namespace fxhls

// Each operator comes for two ap types, and for an ap type with a C integer
// on either side (the C integer acts as an ap type of its own width).
#define FXHLS_INT_OPERATOR(OP, KIND, ...)                             \
  template <int W1, bool S1, int W2, bool S2>                         \
  inline typename fxhls::IntResult<W1, S1, W2, S2>::KIND operator OP( \
      const ap_int_base<W1, S1>& a, const ap_int_base<W2, S2>& b) {   \
    using R = typename fxhls::IntResult<W1, S1, W2, S2>::KIND;        \
    __VA_ARGS__                                                       \
  }                                                                   \
  template <int W1, bool S1, class T, fxhls::EnableIfCInt<T> = 0>     \
  inline auto operator OP(const ap_int_base<W1, S1>& a, T b) {        \
    return a OP typename fxhls::CIntTraits<T>::type(b);               \
  }                                                                   \
  template <int W2, bool S2, class T, fxhls::EnableIfCInt<T> = 0>     \
  inline auto operator OP(T a, const ap_int_base<W2, S2>& b) {        \
    return typename fxhls::CIntTraits<T>::type(a) OP b;               \
  }

FXHLS_INT_OPERATOR(+, plus, {
  return fxhls::CombineInts<R>(a, b,
                               [](auto x, auto y) { return fxhls::Add(x, y); });
})
FXHLS_INT_OPERATOR(-, minus, {
  return fxhls::CombineInts<R>(a, b,
                               [](auto x, auto y) { return fxhls::Sub(x, y); });
})
FXHLS_INT_OPERATOR(*, mult, {
  return fxhls::CombineInts<R>(a, b,
                               [](auto x, auto y) { return fxhls::Mul(x, y); });
})
FXHLS_INT_OPERATOR(&, logic, {
  return fxhls::CombineInts<R>(
      a, b, [](auto x, auto y) { return fxhls::BitAnd(x, y); });
})
FXHLS_INT_OPERATOR(|, logic, {
  return fxhls::CombineInts<R>(
      a, b, [](auto x, auto y) { return fxhls::BitOr(x, y); });
})
FXHLS_INT_OPERATOR(^, logic, {
  return fxhls::CombineInts<R>(
      a, b, [](auto x, auto y) { return fxhls::BitXor(x, y); });
})
FXHLS_INT_OPERATOR(/, div, { return fxhls::DivideInts<R, false>(a, b); })
FXHLS_INT_OPERATOR(%, mod, { return fxhls::DivideInts<R, true>(a, b); })
#undef FXHLS_INT_OPERATOR

// With a float or double the ap value is first converted to its C integer
// RetType, as AMD's headers do, and C arithmetic follows.
#define FXHLS_INT_FLOAT_OPERATOR(OP)                                 \
  template <int W, bool S, class T, fxhls::EnableIfFloat<T> = 0>     \
  inline T operator OP(const ap_int_base<W, S>& a, T b) {            \
    return static_cast<typename ap_int_base<W, S>::RetType>(a) OP b; \
  }                                                                  \
  template <int W, bool S, class T, fxhls::EnableIfFloat<T> = 0>     \
  inline T operator OP(T a, const ap_int_base<W, S>& b) {            \
    return a OP static_cast<typename ap_int_base<W, S>::RetType>(b); \
  }
FXHLS_INT_FLOAT_OPERATOR(+)
FXHLS_INT_FLOAT_OPERATOR(-)
FXHLS_INT_FLOAT_OPERATOR(*)
FXHLS_INT_FLOAT_OPERATOR(/)
#undef FXHLS_INT_FLOAT_OPERATOR

// Comparisons are exact across widths and signedness; against a float or
// double they compare to_double().
#define FXHLS_INT_COMPARISON(OP)                                   \
  template <int W1, bool S1, int W2, bool S2>                      \
  inline bool operator OP(const ap_int_base<W1, S1>& a,            \
                          const ap_int_base<W2, S2>& b) {          \
    return fxhls::CompareInts(a, b) OP 0;                          \
  }                                                                \
  template <int W1, bool S1, class T, fxhls::EnableIfCInt<T> = 0>  \
  inline bool operator OP(const ap_int_base<W1, S1>& a, T b) {     \
    return a OP typename fxhls::CIntTraits<T>::type(b);            \
  }                                                                \
  template <int W2, bool S2, class T, fxhls::EnableIfCInt<T> = 0>  \
  inline bool operator OP(T a, const ap_int_base<W2, S2>& b) {     \
    return typename fxhls::CIntTraits<T>::type(a) OP b;            \
  }                                                                \
  template <int W1, bool S1, class T, fxhls::EnableIfFloat<T> = 0> \
  inline bool operator OP(const ap_int_base<W1, S1>& a, T b) {     \
    return a.to_double() OP b;                                     \
  }                                                                \
  template <int W2, bool S2, class T, fxhls::EnableIfFloat<T> = 0> \
  inline bool operator OP(T a, const ap_int_base<W2, S2>& b) {     \
    return a OP b.to_double();                                     \
  }
FXHLS_INT_COMPARISON(==)
FXHLS_INT_COMPARISON(!=)
FXHLS_INT_COMPARISON(<)
FXHLS_INT_COMPARISON(<=)
FXHLS_INT_COMPARISON(>)
FXHLS_INT_COMPARISON(>=)
#undef FXHLS_INT_COMPARISON

// Concatenation with the comma operator: (high, low).
template <int W1, bool S1, int W2, bool S2>
inline ap_uint<W1 + W2> operator,(const ap_int_base<W1, S1>& high,
                                  const ap_int_base<W2, S2>& low) {
  return high.concat(low);
}

template <int W, bool S>
std::ostream& operator<<(std::ostream& os, const ap_int_base<W, S>& x) {
  const auto base = os.flags() & std::ios_base::basefield;
  if (base == std::ios_base::hex) return os << x.to_string(16, false);
  if (base == std::ios_base::oct) return os << x.to_string(8, false);
  return os << x.to_string(10);
}

// --- Out-of-line members. --------------------------------------------------

template <int W, bool S>
typename fxhls::IntResult<1, false, W, S>::minus ap_int_base<W, S>::operator-()
    const {
  return ap_int_base<1, false>(0) - *this;
}

template <int W, bool S>
ap_uint<W> ap_int_base<W, S>::get_range(int hi, int lo) const {
  CheckIndex(hi);
  CheckIndex(lo);
  ap_uint<W> r(fxhls::kZeroInit);
  if (hi >= lo) {
    Storage bits = fxhls::ShiftRight(bits_, lo, false);
    fxhls::Normalize(bits, hi - lo + 1, false);
    r.set_raw_bits(bits);
  } else {
    // Reversed: result bit k is bit lo - k.
    Storage bits;
    for (int k = 0; k <= lo - hi; ++k) {
      fxhls::SetBit(bits, k, fxhls::GetBit(bits_, lo - k));
    }
    r.set_raw_bits(bits);
  }
  return r;
}

template <int W, bool S>
void ap_int_base<W, S>::set_range(int hi, int lo, const ap_uint<W>& value) {
  CheckIndex(hi);
  CheckIndex(lo);
  const int count = (hi >= lo ? hi - lo : lo - hi) + 1;
  if (hi >= lo) {
    // Whole limbs at a time: bits [lo, hi] = the low `count` bits of value.
    Storage field = value.raw_bits();
    fxhls::Normalize(field, count, false);
    Storage mask = fxhls::BitNot(Storage{});
    fxhls::Normalize(mask, count, false);
    bits_ = fxhls::BitOr(fxhls::BitAnd(bits_, fxhls::BitNot(fxhls::ShiftLeft(
                                                   mask, lo))),
                         fxhls::ShiftLeft(field, lo));
  } else {
    for (int k = 0; k < count; ++k) {
      fxhls::SetBit(bits_, lo - k, fxhls::GetBit(value.raw_bits(), k));
    }
  }
  fxhls::Normalize(bits_, W, S);
}

template <int W, bool S>
std::string ap_int_base<W, S>::to_string(int radix, bool sign) const {
  if (radix != 2 && radix != 8 && radix != 10 && radix != 16) {
    fxhls::Fail("to_string radix must be 2, 8, 10 or 16, got " +
                std::to_string(radix));
  }
  constexpr int K = fxhls::LimbsFor(W + 1);
  const bool negative = S && fxhls::IsNegative(bits_) && (sign || radix == 10);
  fxhls::Wide<K> magnitude = fxhls::Resize<K>(bits_, S);
  if (negative) {
    magnitude = fxhls::Negate(magnitude);
  } else {
    fxhls::Normalize(magnitude, W, false);  // The raw W-bit pattern.
  }
  std::string digits;
  const fxhls::Wide<K> base = fxhls::FromUint64<K>(radix);
  do {
    fxhls::Wide<K> quotient, remainder;
    fxhls::DivModUnsigned(magnitude, base, quotient, remainder);
    digits.push_back("0123456789abcdef"[remainder.limb[0]]);
    magnitude = quotient;
  } while (!fxhls::IsZero(magnitude));
  std::reverse(digits.begin(), digits.end());
  const char* prefix = radix == 2    ? "0b"
                       : radix == 8  ? "0o"
                       : radix == 16 ? "0x"
                                     : "";
  return (negative ? "-" : "") + std::string(prefix) + digits;
}

template <int W, bool S>
void ap_int_base<W, S>::ParseInto(const char* text, int radix) {
  if (text == nullptr) fxhls::Fail("ap_int from a null string");
  const std::string s(text);
  size_t pos = 0;
  bool negative = false;
  if (pos < s.size() && (s[pos] == '-' || s[pos] == '+')) {
    negative = s[pos] == '-';
    ++pos;
  }
  if (pos + 1 < s.size() && s[pos] == '0') {
    const char p = static_cast<char>(s[pos + 1] | 0x20);
    const int prefixed = p == 'b' ? 2 : p == 'o' ? 8 : p == 'x' ? 16 : 0;
    if (prefixed != 0 && (radix == 0 || radix == prefixed)) {
      radix = prefixed;
      pos += 2;
    }
  }
  if (radix == 0) radix = 10;
  if (radix != 2 && radix != 8 && radix != 10 && radix != 16) {
    fxhls::Fail("ap_int string radix must be 2, 8, 10 or 16");
  }
  if (pos >= s.size()) fxhls::Fail("ap_int from \"" + s + "\": no digits");
  using Work = fxhls::Wide<kLimbs>;
  Work value;
  const Work base = fxhls::FromUint64<kLimbs>(radix);
  for (; pos < s.size(); ++pos) {
    const char c = static_cast<char>(s[pos] | 0x20);
    int digit = -1;
    if (c >= '0' && c <= '9') digit = c - '0';
    if (c >= 'a' && c <= 'f') digit = 10 + c - 'a';
    if (digit < 0 || digit >= radix) {
      fxhls::Fail("ap_int from \"" + s + "\": '" + s[pos] + "' is not a base-" +
                  std::to_string(radix) + " digit");
    }
    value = fxhls::AddSmall(fxhls::Mul(value, base), digit);
  }
  if (negative) value = fxhls::Negate(value);
  set_raw_bits(value);
}

#endif  // FXSERVE_KERNELS_HLS_TYPES_FXHLS_AP_INT_OPS_H_
