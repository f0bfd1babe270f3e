// ap_fixed_base<W, I, S, Q, O, N>: a W-bit fixed-point number with I integer
// bits (I may be negative or larger than W), so W - I fractional bits. The
// value is raw * 2^-(W-I) where raw is a W-bit two's-complement (S) or
// unsigned integer. Quantization (Q) and overflow (O, with N saturation bits
// for AP_WRAP) apply whenever a value is converted into this type.
//
// Do not include this file directly: include <ap_fixed.h>.
#ifndef FXSERVE_KERNELS_HLS_TYPES_FXHLS_AP_FIXED_BASE_H_
#define FXSERVE_KERNELS_HLS_TYPES_FXHLS_AP_FIXED_BASE_H_

#include <string>
#include <type_traits>

#include <ap_int.h>

#include "fxhls/quantize.h"

template <int W, int I, ap_q_mode Q, ap_o_mode O, int N>
class ap_fixed;
template <int W, int I, ap_q_mode Q, ap_o_mode O, int N>
class ap_ufixed;

namespace fxhls {

// The user-facing type of a result: ap_fixed or ap_ufixed, default modes.
template <int W, int I, bool S>
using FixedOf = std::conditional_t<S, ap_fixed<W, I, AP_TRN, AP_WRAP, 0>,
                                   ap_ufixed<W, I, AP_TRN, AP_WRAP, 0>>;

// Result types of binary operators, as Vitis HLS defines them: wide enough
// for the exact result (division keeps the dividend's fractional bits).
template <int W1, int I1, bool S1, int W2, int I2, bool S2>
struct FixedResult {
  static constexpr int kF1 = W1 - I1;
  static constexpr int kF2 = W2 - I2;
  static constexpr int kCommonI = Max(I1 + (S2 && !S1), I2 + (S1 && !S2));
  static constexpr int kCommonF = Max(kF1, kF2);
  using mult = FixedOf<W1 + W2, I1 + I2, S1 || S2>;
  using plus = FixedOf<kCommonI + 1 + kCommonF, kCommonI + 1, S1 || S2>;
  using minus = FixedOf<kCommonI + 1 + kCommonF, kCommonI + 1, true>;
  using logic = FixedOf<kCommonI + kCommonF, kCommonI, S1 || S2>;
  using div = FixedOf<S2 + W1 + Max(kF2, 0), S2 + I1 + kF2, S1 || S2>;
};

// The left shift bound for ToFixedBits when converting F2 -> F fractional
// bits into W bits: beyond W + 1 the value overflows anyway.
constexpr int LeftShiftBound(int target_frac, int source_frac, int width) {
  return Min(Max(target_frac - source_frac, 0), width + 1);
}

}  // namespace fxhls

template <int W, int I, bool S, ap_q_mode Q = AP_TRN, ap_o_mode O = AP_WRAP,
          int N = 0>
class ap_fixed_base {
  static_assert(W >= 1, "ap_fixed width must be at least 1");
  static_assert(N >= 0, "saturation bits N must not be negative");

 public:
  using Raw = ap_int_base<W, S>;
  static constexpr int kFrac = W - I;
  static const int width = W;
  static const int iwidth = I;
  static const ap_q_mode qmode = Q;
  static const ap_o_mode omode = O;

#if defined(FXSERVE_HLS_POISON_INIT) && FXSERVE_HLS_POISON_INIT
  // Arbitrary raw bits from raw_'s own default constructor (see ap_int_base).
  ap_fixed_base() : raw_() {}
#else
  // Zero (AMD's headers leave it indeterminate).
  ap_fixed_base() = default;
#endif
  // Zero in every build; for the type layer itself (see fxhls::ZeroInit).
  explicit ap_fixed_base(fxhls::ZeroInit) {}

  template <int W2, int I2, bool S2, ap_q_mode Q2, ap_o_mode O2, int N2>
  ap_fixed_base(  // NOLINT: implicit like the vendor type.
      const ap_fixed_base<W2, I2, S2, Q2, O2, N2>& other) {
    raw_.set_raw_bits(
        fxhls::ToFixedBits<W, I, S, Q, O, N, W2,
                           fxhls::LeftShiftBound(W - I, W2 - I2, W)>(
            other.raw().raw_bits(), S2, W2 - I2));
  }

  template <int W2, bool S2>
  ap_fixed_base(const ap_int_base<W2, S2>& value) {  // NOLINT: implicit.
    raw_.set_raw_bits(fxhls::ToFixedBits<W, I, S, Q, O, N, W2,
                                         fxhls::LeftShiftBound(W - I, 0, W)>(
        value.raw_bits(), S2, 0));
  }

  template <class T, fxhls::EnableIfCInt<T> = 0>
  ap_fixed_base(T value)  // NOLINT: implicit like the vendor type.
      : ap_fixed_base(typename fxhls::CIntTraits<T>::type(value)) {}

  // Exact value of the double, then quantized and overflow-handled.
  ap_fixed_base(double value) {  // NOLINT: implicit like the vendor type.
    const fxhls::DoubleParts p = fxhls::SplitDouble(value);
    if (p.mantissa == 0) return;
    const int64_t signed_mantissa = p.negative
                                        ? -static_cast<int64_t>(p.mantissa)
                                        : static_cast<int64_t>(p.mantissa);
    // A 54-bit signed mantissa, as AMD's headers read a double.
    raw_.set_raw_bits(fxhls::ToFixedBits<W, I, S, Q, O, N, 54, W + 1>(
        fxhls::FromInt64<1>(signed_mantissa), true, -p.exponent));
  }
  ap_fixed_base(float value)  // NOLINT: implicit like the vendor type.
      : ap_fixed_base(static_cast<double>(value)) {}

  // --- Raw bits. -------------------------------------------------------
  const Raw& raw() const { return raw_; }
  static ap_fixed_base FromRaw(const Raw& raw) {
    ap_fixed_base r(fxhls::kZeroInit);
    r.raw_ = raw;
    return r;
  }

  // --- Conversions. --------------------------------------------------
  // Nearest double, ties to even.
  double to_double() const {
    constexpr int K = fxhls::LimbsFor(W + 1);
    const auto v = fxhls::Resize<K>(raw_.raw_bits(), S);
    const double magnitude =
        fxhls::MagnitudeToDouble(fxhls::Magnitude(v, S), -kFrac);
    return (S && fxhls::IsNegative(v)) ? -magnitude : magnitude;
  }
  float to_float() const { return static_cast<float>(to_double()); }
  operator double() const { return to_double(); }       // NOLINT: implicit.
  operator float() const { return to_float(); }         // NOLINT: implicit.
  operator long double() const { return to_double(); }  // NOLINT

  // The integer part, truncated towards zero like a C cast.
  ap_int_base<fxhls::Max(I, 1), S> to_ap_int_base() const {
    constexpr int K = fxhls::LimbsFor(W + fxhls::Max(-kFrac, 0) + 2);
    auto v = fxhls::Resize<K>(raw_.raw_bits(), S);
    if constexpr (kFrac > 0) {
      const bool negative = S && fxhls::IsNegative(v);
      const bool has_fraction = fxhls::AnyLowBits(v, kFrac, S);
      v = fxhls::ShiftRight(v, kFrac, true);
      if (negative && has_fraction) v = fxhls::AddSmall(v, 1);
    } else {
      v = fxhls::ShiftLeft(v, -kFrac);
    }
    return ap_int_base<fxhls::Max(I, 1), S>::FromWide(v, true);
  }
  char to_char() const { return to_ap_int_base().to_char(); }
  int to_int() const { return to_ap_int_base().to_int(); }
  unsigned to_uint() const { return to_ap_int_base().to_uint(); }
  long to_long() const { return to_ap_int_base().to_long(); }
  unsigned long to_ulong() const { return to_ap_int_base().to_ulong(); }
  long long to_int64() const { return to_ap_int_base().to_int64(); }
  unsigned long long to_uint64() const { return to_ap_int_base().to_uint64(); }
  bool to_bool() const { return !raw_.is_zero(); }

  // Radix 10 prints the exact value ("-1.375"); radix 2, 8 and 16 print
  // "0b"/"0o"/"0x" with the digits of the magnitude and a point ("-0b1.011").
  std::string to_string(int radix = 2, bool sign = S) const;

  int length() const { return W; }
  bool is_neg() const { return raw_.sign(); }

  // --- Unary operators. -----------------------------------------------
  ap_fixed_base operator+() const { return *this; }
  fxhls::FixedOf<W + 1, I + 1, true> operator-() const {
    const fxhls::FixedOf<W + 1, I + 1, true> wide = *this;
    return fxhls::FixedOf<W + 1, I + 1, true>::FromRaw(
        ap_int_base<W + 1, true>(-wide.raw()));
  }
  fxhls::FixedOf<W, I, S> operator~() const {
    return fxhls::FixedOf<W, I, S>::FromRaw(~raw_);
  }
  bool operator!() const { return raw_.is_zero(); }

  ap_fixed_base& operator++() { return *this += 1; }
  ap_fixed_base& operator--() { return *this -= 1; }
  ap_fixed_base operator++(int) {
    ap_fixed_base old = *this;
    ++*this;
    return old;
  }
  ap_fixed_base operator--(int) {
    ap_fixed_base old = *this;
    --*this;
    return old;
  }

  // --- Compound assignment: exact result, then this type's Q and O. -----
  template <class T>
  ap_fixed_base& operator+=(const T& v) {
    return *this = *this + v;
  }
  template <class T>
  ap_fixed_base& operator-=(const T& v) {
    return *this = *this - v;
  }
  template <class T>
  ap_fixed_base& operator*=(const T& v) {
    return *this = *this * v;
  }
  template <class T>
  ap_fixed_base& operator/=(const T& v) {
    return *this = *this / v;
  }
  template <class T>
  ap_fixed_base& operator&=(const T& v) {
    return *this = *this & v;
  }
  template <class T>
  ap_fixed_base& operator|=(const T& v) {
    return *this = *this | v;
  }
  template <class T>
  ap_fixed_base& operator^=(const T& v) {
    return *this = *this ^ v;
  }
  template <class T>
  ap_fixed_base& operator<<=(const T& v) {
    return *this = *this << v;
  }
  template <class T>
  ap_fixed_base& operator>>=(const T& v) {
    return *this = *this >> v;
  }

  // --- Shifts move the raw bits and keep the type (no quantization or
  // saturation, as in AMD's headers); a negative signed amount shifts the
  // other way. ---------------------------------------------------------
  template <class T>
  ap_fixed_base operator<<(const T& amount) const {
    return FromRaw(Raw(raw_ << amount));
  }
  template <class T>
  ap_fixed_base operator>>(const T& amount) const {
    return FromRaw(Raw(raw_ >> amount));
  }

  // --- Raw bits, indexed from the LSB. ------------------------------------
  bool operator[](int index) const { return raw_[index]; }
  fxhls::BitRef<W, S> operator[](int index) { return raw_[index]; }
  bool get_bit(int index) const { return raw_.get_bit(index); }
  void set_bit(int index, bool value) { raw_.set_bit(index, value); }
  ap_uint<W> range(int hi, int lo) const { return raw_.range(hi, lo); }
  ap_uint<W> range() const { return raw_.range(); }
  ap_uint<W> operator()(int hi, int lo) const { return raw_.range(hi, lo); }
  fxhls::RangeRef<W, S> range(int hi, int lo) { return raw_.range(hi, lo); }
  fxhls::RangeRef<W, S> range() { return raw_.range(); }
  fxhls::RangeRef<W, S> operator()(int hi, int lo) {
    return raw_.range(hi, lo);
  }
  int countLeadingZeros() const { return raw_.countLeadingZeros(); }
  bool and_reduce() const { return raw_.and_reduce(); }
  bool or_reduce() const { return raw_.or_reduce(); }
  bool xor_reduce() const { return raw_.xor_reduce(); }

 private:
#if defined(FXSERVE_HLS_POISON_INIT) && FXSERVE_HLS_POISON_INIT
  // Every constructor but the default one starts from zero and never
  // draws from the poison generator.
  Raw raw_{fxhls::kZeroInit};
#else
  Raw raw_;  // Zero: see ap_int_base().
#endif
};

#endif  // FXSERVE_KERNELS_HLS_TYPES_FXHLS_AP_FIXED_BASE_H_
