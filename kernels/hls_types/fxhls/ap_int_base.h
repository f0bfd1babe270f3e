// ap_int_base<W, S>: a W-bit two's-complement (S) or unsigned integer with
// the arithmetic of AMD Vitis HLS: + - * / % & | ^ return a type wide enough
// for the exact result; assignment wraps to the destination width.
//
// Do not include this file directly: include <ap_int.h>.
#ifndef FXSERVE_KERNELS_HLS_TYPES_FXHLS_AP_INT_BASE_H_
#define FXSERVE_KERNELS_HLS_TYPES_FXHLS_AP_INT_BASE_H_

#include <cmath>
#include <cstdint>
#include <cstring>
#include <ostream>
#include <string>
#include <type_traits>

#include "fxhls/error.h"
#include "fxhls/modes.h"
#include "fxhls/wide_int.h"

template <int W, bool S>
class ap_int_base;
template <int W>
class ap_int;
template <int W>
class ap_uint;
template <int W, int I, bool S, ap_q_mode Q, ap_o_mode O, int N>
class ap_fixed_base;

namespace fxhls {

// The user-facing type of a result: ap_int<W> or ap_uint<W>.
template <int W, bool S>
using IntOf = std::conditional_t<S, ap_int<W>, ap_uint<W>>;

// A C integer type seen as an ap type (bool is ap_uint<1>).
template <class T>
struct CIntTraits {
  static constexpr int width = std::is_same_v<T, bool> ? 1 : 8 * sizeof(T);
  static constexpr bool is_signed = std::is_signed_v<T>;
  using type = ap_int_base<width, is_signed>;
};

template <class T>
using EnableIfCInt = std::enable_if_t<std::is_integral_v<T>, int>;
template <class T>
using EnableIfFloat = std::enable_if_t<std::is_floating_point_v<T>, int>;

// Result types of binary operators, as Vitis HLS defines them.
template <int W1, bool S1, int W2, bool S2>
struct IntResult {
  // Bits to hold either operand once both share one signedness.
  static constexpr int kCommon = Max(W1 + (S2 && !S1), W2 + (S1 && !S2));
  using mult = IntOf<W1 + W2, S1 || S2>;
  using plus = IntOf<kCommon + 1, S1 || S2>;
  using minus = IntOf<kCommon + 1, true>;
  using div = IntOf<W1 + S2, S1 || S2>;
  using mod = IntOf<Min(W1, W2 + (!S2 && S1)), S1>;
  using logic = IntOf<kCommon, S1 || S2>;
};

// Splits a finite or infinite double into sign * mantissa * 2^exponent with
// an integer mantissa. Like AMD's headers, infinities and NaNs read as the
// mantissa with its hidden bit times 2^1024 (so they saturate or wrap).
struct DoubleParts {
  bool negative = false;
  uint64_t mantissa = 0;  // Zero only for +-0.0.
  int exponent = 0;       // Of the mantissa's least significant bit.
};

inline DoubleParts SplitDouble(double d) {
  uint64_t bits = 0;
  std::memcpy(&bits, &d, sizeof bits);
  DoubleParts p;
  p.negative = (bits >> 63) != 0;
  const int biased = static_cast<int>((bits >> 52) & 0x7ff);
  const uint64_t fraction = bits & ((uint64_t{1} << 52) - 1);
  if (biased == 0) {  // Zero or subnormal.
    p.mantissa = fraction;
    p.exponent = -1074;
  } else {
    p.mantissa = fraction | (uint64_t{1} << 52);
    p.exponent = biased - 1075;
  }
  return p;
}

// Rounds a non-negative integer magnitude times 2^exponent to the nearest
// double (ties to even): the conversion of to_double() and to_float().
template <int N>
double MagnitudeToDouble(const Wide<N>& magnitude, int exponent) {
  const int top = HighestSetBit(magnitude);
  if (top < 0) return 0.0;
  if (top < 53)
    return std::ldexp(static_cast<double>(magnitude.limb[0]), exponent);
  const int drop = top - 52;
  uint64_t kept = ShiftRight(magnitude, drop, false).limb[0];
  const bool half = GetBit(magnitude, drop - 1);
  const bool sticky = AnyLowBits(magnitude, drop - 1, false);
  if (half && (sticky || (kept & 1))) ++kept;  // May carry into bit 53: fine.
  return std::ldexp(static_cast<double>(kept), exponent + drop);
}

template <int W, bool S>
class RangeRef;
template <int W, bool S>
class BitRef;

// Tag of the zero constructor that the type layer uses for its own
// temporaries: zero in every build, and no draw from the poison generator
// below. AMD's headers have no such constructor: kernels must not use it.
struct ZeroInit {
  explicit ZeroInit() = default;
};
inline constexpr ZeroInit kZeroInit{};

#if defined(FXSERVE_HLS_POISON_INIT) && FXSERVE_HLS_POISON_INIT
#ifndef FXSERVE_HLS_POISON_SEED
#define FXSERVE_HLS_POISON_SEED 1ULL  // CMake passes its cache value.
#endif
// Poison build (see README.md): AMD's types and the hardware leave a
// default-constructed value undefined, so here it takes bits from a
// splitmix64 stream instead of zero. One state per thread, constant-
// initialized (no TLS guard), so a thread's values depend only on the seed
// and the order of its default constructions.
inline thread_local uint64_t poison_state = FXSERVE_HLS_POISON_SEED;

// Restarts this thread's stream, e.g. to replay a run.
inline void SetPoisonSeed(uint64_t seed) { poison_state = seed; }

inline uint64_t NextPoisonBits() {
  uint64_t z = (poison_state += 0x9e3779b97f4a7c15);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  return z ^ (z >> 31);
}
#endif

}  // namespace fxhls

template <int W, bool S>
class ap_int_base {
  static_assert(W >= 1, "ap_int width must be at least 1");
  static_assert(W <= 4096, "ap_int width is limited to 4096 bits");

 public:
  static constexpr int kLimbs = fxhls::LimbsFor(W);
  using Storage = fxhls::Wide<kLimbs>;
  // C type of the implicit conversion, as in AMD's headers.
  using RetType =
      std::conditional_t<(W <= 32), std::conditional_t<S, int, unsigned int>,
                         std::conditional_t<S, long long, unsigned long long>>;
  static const int width = W;
  static const bool sign_flag = S;

#if defined(FXSERVE_HLS_POISON_INIT) && FXSERVE_HLS_POISON_INIT
  // An arbitrary valid value, as the hardware may hold: W random bits,
  // normalized like any other value of this type.
  ap_int_base() {
    for (uint64_t& limb : bits_.limb) limb = fxhls::NextPoisonBits();
    fxhls::Normalize(bits_, W, S);
  }
#else
  // Unlike AMD's headers, a default-constructed value is zero, so emulation
  // never reads indeterminate bits.
  ap_int_base() = default;
#endif
  // Zero in every build; for the type layer itself (see fxhls::ZeroInit).
  explicit ap_int_base(fxhls::ZeroInit) {}

  template <class T, fxhls::EnableIfCInt<T> = 0>
  ap_int_base(T value) {  // NOLINT: implicit like the vendor type.
    if constexpr (std::is_signed_v<T>) {
      bits_ = fxhls::FromInt64<kLimbs>(static_cast<int64_t>(value));
    } else {
      bits_ = fxhls::FromUint64<kLimbs>(static_cast<uint64_t>(value));
    }
    fxhls::Normalize(bits_, W, S);
  }

  // Truncates towards zero, then wraps to W bits.
  ap_int_base(double value) {  // NOLINT: implicit like the vendor type.
    const fxhls::DoubleParts p = fxhls::SplitDouble(value);
    using Work = fxhls::Wide<kLimbs + 1>;
    Work m = fxhls::FromUint64<kLimbs + 1>(p.mantissa);
    m = p.exponent >= 0
            ? fxhls::ShiftLeft(m, static_cast<unsigned>(p.exponent))
            : fxhls::ShiftRight(m, static_cast<unsigned>(-p.exponent), false);
    if (p.negative) m = fxhls::Negate(m);
    bits_ = fxhls::Resize<kLimbs>(m, false);
    fxhls::Normalize(bits_, W, S);
  }
  ap_int_base(float value)  // NOLINT: implicit like the vendor type.
      : ap_int_base(static_cast<double>(value)) {}

  // Sign- or zero-extends by the source's signedness, then wraps to W bits.
  template <int W2, bool S2>
  ap_int_base(const ap_int_base<W2, S2>& other)  // NOLINT: implicit.
      : bits_(fxhls::Resize<kLimbs>(other.raw_bits(), S2)) {
    fxhls::Normalize(bits_, W, S);
  }

  // Integer part, truncated towards zero like a C cast; defined in
  // ap_fixed_base.h.
  template <int W2, int I2, bool S2, ap_q_mode Q2, ap_o_mode O2, int N2>
  ap_int_base(  // NOLINT: implicit like the vendor type.
      const ap_fixed_base<W2, I2, S2, Q2, O2, N2>& other);

  // Parses "123", "-42", "0x7f", "0b101", "0o17" (radix 0 guesses from the
  // prefix), or digits in the given radix. Wraps to W bits.
  ap_int_base(const char* text, int radix = 0) {  // NOLINT
    ParseInto(text, radix);
  }

  // --- Raw access for the rest of the type layer. ---------------------
  const Storage& raw_bits() const { return bits_; }
  void set_raw_bits(const Storage& bits) {
    bits_ = bits;
    fxhls::Normalize(bits_, W, S);
  }
  template <int N2>
  static ap_int_base FromWide(const fxhls::Wide<N2>& bits, bool sign_extend) {
    ap_int_base r(fxhls::kZeroInit);
    r.set_raw_bits(fxhls::Resize<kLimbs>(bits, sign_extend));
    return r;
  }

  // --- Conversions. ---------------------------------------------------
  operator RetType() const {  // NOLINT: implicit like the vendor type.
    return static_cast<RetType>(bits_.limb[0]);
  }
  bool to_bool() const { return !fxhls::IsZero(bits_); }
  char to_char() const { return static_cast<char>(bits_.limb[0]); }
  int to_int() const { return static_cast<int>(bits_.limb[0]); }
  unsigned to_uint() const { return static_cast<unsigned>(bits_.limb[0]); }
  long to_long() const { return static_cast<long>(bits_.limb[0]); }
  unsigned long to_ulong() const {
    return static_cast<unsigned long>(bits_.limb[0]);
  }
  long long to_int64() const { return static_cast<long long>(bits_.limb[0]); }
  unsigned long long to_uint64() const { return bits_.limb[0]; }
  // Nearest double, ties to even.
  double to_double() const {
    const auto v = fxhls::Resize<fxhls::LimbsFor(W + 1)>(bits_, S);
    const double magnitude =
        fxhls::MagnitudeToDouble(fxhls::Magnitude(v, S), 0);
    return (S && fxhls::IsNegative(bits_)) ? -magnitude : magnitude;
  }
  float to_float() const { return static_cast<float>(to_double()); }

  int length() const { return W; }

  // --- Unary operators. -----------------------------------------------
  fxhls::IntOf<W, S> operator+() const { return *this; }
  typename fxhls::IntResult<1, false, W, S>::minus operator-() const;
  fxhls::IntOf<W, S> operator~() const {
    fxhls::IntOf<W, S> r(fxhls::kZeroInit);
    r.set_raw_bits(fxhls::BitNot(bits_));
    return r;
  }
  bool operator!() const { return fxhls::IsZero(bits_); }

  ap_int_base& operator++() { return *this = *this + 1; }
  ap_int_base& operator--() { return *this = *this - 1; }
  ap_int_base operator++(int) {
    ap_int_base old = *this;
    ++*this;
    return old;
  }
  ap_int_base operator--(int) {
    ap_int_base old = *this;
    --*this;
    return old;
  }

  // --- Compound assignment: the exact result, wrapped to W bits. -------
  template <class T>
  ap_int_base& operator+=(const T& v) {
    return *this = *this + v;
  }
  template <class T>
  ap_int_base& operator-=(const T& v) {
    return *this = *this - v;
  }
  template <class T>
  ap_int_base& operator*=(const T& v) {
    return *this = *this * v;
  }
  template <class T>
  ap_int_base& operator/=(const T& v) {
    return *this = *this / v;
  }
  template <class T>
  ap_int_base& operator%=(const T& v) {
    return *this = *this % v;
  }
  template <class T>
  ap_int_base& operator&=(const T& v) {
    return *this = *this & v;
  }
  template <class T>
  ap_int_base& operator|=(const T& v) {
    return *this = *this | v;
  }
  template <class T>
  ap_int_base& operator^=(const T& v) {
    return *this = *this ^ v;
  }
  template <class T>
  ap_int_base& operator<<=(const T& v) {
    return *this = *this << v;
  }
  template <class T>
  ap_int_base& operator>>=(const T& v) {
    return *this = *this >> v;
  }

  // --- Shifts: the result keeps this type. A negative signed amount
  // shifts the other way; shifting past the width gives 0 (left) or the
  // sign fill (right). ---------------------------------------------------
  fxhls::IntOf<W, S> operator<<(int amount) const {
    return amount < 0 ? ShiftRightBy(-static_cast<long long>(amount))
                      : ShiftLeftBy(amount);
  }
  fxhls::IntOf<W, S> operator>>(int amount) const {
    return amount < 0 ? ShiftLeftBy(-static_cast<long long>(amount))
                      : ShiftRightBy(amount);
  }
  fxhls::IntOf<W, S> operator<<(unsigned amount) const {
    return ShiftLeftBy(amount);
  }
  fxhls::IntOf<W, S> operator>>(unsigned amount) const {
    return ShiftRightBy(amount);
  }
  template <class T, fxhls::EnableIfCInt<T> = 0>
  fxhls::IntOf<W, S> operator<<(T amount) const {
    return *this << ap_int_base<fxhls::CIntTraits<T>::width,
                                fxhls::CIntTraits<T>::is_signed>(amount);
  }
  template <class T, fxhls::EnableIfCInt<T> = 0>
  fxhls::IntOf<W, S> operator>>(T amount) const {
    return *this >> ap_int_base<fxhls::CIntTraits<T>::width,
                                fxhls::CIntTraits<T>::is_signed>(amount);
  }
  template <int W2, bool S2>
  fxhls::IntOf<W, S> operator<<(const ap_int_base<W2, S2>& amount) const {
    if (S2 && fxhls::IsNegative(amount.raw_bits())) {
      return ShiftRightBy(Clamp(-amount));
    }
    return ShiftLeftBy(Clamp(amount));
  }
  template <int W2, bool S2>
  fxhls::IntOf<W, S> operator>>(const ap_int_base<W2, S2>& amount) const {
    if (S2 && fxhls::IsNegative(amount.raw_bits())) {
      return ShiftLeftBy(Clamp(-amount));
    }
    return ShiftRightBy(Clamp(amount));
  }

  // --- Bits. --------------------------------------------------------------
  bool operator[](int index) const { return get_bit(index); }
  fxhls::BitRef<W, S> operator[](int index) {
    return fxhls::BitRef<W, S>(this, index);
  }
  bool bit(int index) const { return get_bit(index); }
  fxhls::BitRef<W, S> bit(int index) {
    return fxhls::BitRef<W, S>(this, index);
  }
  bool test(int index) const { return get_bit(index); }
  bool get_bit(int index) const {
    CheckIndex(index);
    return fxhls::GetBit(bits_, index);
  }
  void set_bit(int index, bool value) {
    CheckIndex(index);
    fxhls::SetBit(bits_, index, value);
    fxhls::Normalize(bits_, W, S);
  }
  void set(int index) { set_bit(index, true); }
  void set(int index, bool value) { set_bit(index, value); }
  void clear(int index) { set_bit(index, false); }
  void invert(int index) { set_bit(index, !get_bit(index)); }
  bool sign() const { return S && fxhls::IsNegative(bits_); }
  bool is_zero() const { return fxhls::IsZero(bits_); }
  bool iszero() const { return is_zero(); }

  // Bits hi..lo as an unsigned value; hi < lo reads them reversed.
  ap_uint<W> get_range(int hi, int lo) const;
  void set_range(int hi, int lo, const ap_uint<W>& value);
  ap_uint<W> range(int hi, int lo) const { return get_range(hi, lo); }
  ap_uint<W> range() const { return get_range(W - 1, 0); }
  ap_uint<W> operator()(int hi, int lo) const { return get_range(hi, lo); }
  fxhls::RangeRef<W, S> range(int hi, int lo) {
    return fxhls::RangeRef<W, S>(this, hi, lo);
  }
  fxhls::RangeRef<W, S> range() { return range(W - 1, 0); }
  fxhls::RangeRef<W, S> operator()(int hi, int lo) { return range(hi, lo); }

  bool and_reduce() const {
    Storage zeros = fxhls::BitNot(bits_);
    fxhls::Normalize(zeros, W, false);
    return fxhls::IsZero(zeros);
  }
  bool or_reduce() const { return !fxhls::IsZero(bits_); }
  bool xor_reduce() const {
    int ones = 0;
    for (int i = 0; i < W; ++i) ones += fxhls::GetBit(bits_, i) ? 1 : 0;
    return (ones & 1) != 0;
  }
  bool nand_reduce() const { return !and_reduce(); }
  bool nor_reduce() const { return !or_reduce(); }
  bool xnor_reduce() const { return !xor_reduce(); }

  // Reverses the bit order in place.
  ap_int_base& reverse() {
    Storage r;
    for (int i = 0; i < W; ++i) fxhls::SetBit(r, W - 1 - i, GetBitRaw(i));
    set_raw_bits(r);
    return *this;
  }
  int countLeadingZeros() const {
    for (int i = W - 1; i >= 0; --i) {
      if (GetBitRaw(i)) return W - 1 - i;
    }
    return W;
  }

  // Radix 10 prints the value ("-5"); radix 2, 8, 16 print "0b", "0o", "0x"
  // and the W-bit pattern, or "-0x..." of the magnitude when `sign` is set
  // and the value is negative.
  std::string to_string(int radix = 2, bool sign = S) const;

  // Concatenation: this value's bits above `low`'s.
  template <int W2, bool S2>
  ap_uint<W + W2> concat(const ap_int_base<W2, S2>& low) const {
    const ap_uint<W + W2> high = ap_uint<W>(*this);
    return (high << W2) | ap_uint<W + W2>(ap_uint<W2>(low));
  }

 private:
  bool GetBitRaw(int index) const { return fxhls::GetBit(bits_, index); }
  static void CheckIndex(int index) {
    if (index < 0 || index >= W) {
      fxhls::Fail("bit index " + std::to_string(index) + " is outside ap_int<" +
                  std::to_string(W) + ">");
    }
  }
  // Shift amounts past the width behave alike, so clamp wide amounts.
  template <int W2, bool S2>
  static unsigned long long Clamp(const ap_int_base<W2, S2>& amount) {
    const ap_uint<W2 + 1> a = amount;
    if (ap_uint<W2 + 1>(a >> 20) != 0) return 1u << 20;
    return a.to_uint64();
  }
  fxhls::IntOf<W, S> ShiftLeftBy(unsigned long long amount) const {
    fxhls::IntOf<W, S> r(fxhls::kZeroInit);
    if (amount < static_cast<unsigned long long>(W)) {
      r.set_raw_bits(fxhls::ShiftLeft(bits_, static_cast<unsigned>(amount)));
    }
    return r;
  }
  fxhls::IntOf<W, S> ShiftRightBy(unsigned long long amount) const {
    fxhls::IntOf<W, S> r(fxhls::kZeroInit);
    const unsigned capped =
        amount < static_cast<unsigned long long>(W) ? amount : W;
    r.set_raw_bits(fxhls::ShiftRight(bits_, capped, S));
    return r;
  }
  void ParseInto(const char* text, int radix);

  Storage bits_;  // Normalized: see fxhls::Normalize.
};

#endif  // FXSERVE_KERNELS_HLS_TYPES_FXHLS_AP_INT_BASE_H_
