// The reference the HLS type tests compare against: the semantics of
// ap_int / ap_fixed written again, plainly, with GMP integers (exact values,
// floor division, explicit ranges) and no code shared with kernels/hls_types.
#ifndef FXSERVE_TESTS_HLS_TYPES_REFERENCE_H_
#define FXSERVE_TESTS_HLS_TYPES_REFERENCE_H_

#include <gmpxx.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>

#include <ap_fixed.h>
#include <ap_int.h>

namespace fxhls_test {

inline mpz_class Pow2(int n) {
  mpz_class r = 1;
  mpz_mul_2exp(r.get_mpz_t(), r.get_mpz_t(), n);
  return r;
}

// Floor division by 2^n.
inline mpz_class FloorShift(const mpz_class& v, int n) {
  mpz_class r;
  mpz_fdiv_q_2exp(r.get_mpz_t(), v.get_mpz_t(), n);
  return r;
}

inline mpz_class Mod2(const mpz_class& v, int n) {  // In [0, 2^n).
  mpz_class r;
  mpz_fdiv_r_2exp(r.get_mpz_t(), v.get_mpz_t(), n);
  return r;
}

// v reduced to a width-bit two's-complement or unsigned value.
inline mpz_class Wrap(const mpz_class& v, int width, bool is_signed) {
  mpz_class r = Mod2(v, width);
  if (is_signed && r >= Pow2(width - 1)) r -= Pow2(width);
  return r;
}

inline mpz_class MinOf(int width, bool is_signed) {
  return is_signed ? mpz_class(-Pow2(width - 1)) : mpz_class(0);
}
inline mpz_class MaxOf(int width, bool is_signed) {
  return is_signed ? mpz_class(Pow2(width - 1) - 1)
                   : mpz_class(Pow2(width) - 1);
}

// --- Reading and writing the types' bits. -----------------------------------
template <class T>
struct IsFixed : std::false_type {};
template <int W, int I, bool S, ap_q_mode Q, ap_o_mode O, int N>
struct IsFixed<ap_fixed_base<W, I, S, Q, O, N>> : std::true_type {};

template <int W, bool S>
constexpr bool SignedOf(const ap_int_base<W, S>*) {
  return S;
}
template <int W, int I, bool S, ap_q_mode Q, ap_o_mode O, int N>
constexpr bool SignedOf(const ap_fixed_base<W, I, S, Q, O, N>*) {
  return S;
}
template <int W, bool S>
constexpr int FracOf(const ap_int_base<W, S>*) {
  return 0;
}
template <int W, int I, bool S, ap_q_mode Q, ap_o_mode O, int N>
constexpr int FracOf(const ap_fixed_base<W, I, S, Q, O, N>*) {
  return W - I;
}

template <class T>
constexpr bool kSigned = SignedOf(static_cast<const T*>(nullptr));
template <class T>
constexpr int kFrac = FracOf(static_cast<const T*>(nullptr));

template <int W, bool S>
const auto& LimbsOf(const ap_int_base<W, S>& x) {
  return x.raw_bits();
}
template <int W, int I, bool S, ap_q_mode Q, ap_o_mode O, int N>
const auto& LimbsOf(const ap_fixed_base<W, I, S, Q, O, N>& x) {
  return x.raw().raw_bits();
}

// The integer the type's W bits hold (the value times 2^frac).
template <class T>
mpz_class RawOf(const T& x) {
  const auto& limbs = LimbsOf(x);
  mpz_class r;
  mpz_import(r.get_mpz_t(), sizeof(limbs.limb) / sizeof(limbs.limb[0]),
             -1 /* least significant limb first */, sizeof(limbs.limb[0]),
             0 /* native endianness */, 0, limbs.limb);
  return Wrap(r, T::width, kSigned<T>);
}

// A T whose W bits hold `raw` (wrapped).
template <class T>
T FromRaw(const mpz_class& raw) {
  mpz_class pattern = Mod2(raw, T::width);
  T x;
  for (int lo = 0; lo < T::width; lo += 32) {
    const int hi = lo + 31 < T::width ? lo + 31 : T::width - 1;
    const mpz_class chunk = Mod2(FloorShift(pattern, lo), hi - lo + 1);
    x.range(hi, lo) = static_cast<unsigned>(chunk.get_ui());
  }
  return x;
}

// --- Conversion into a fixed-point type. ------------------------------------
struct FixedSpec {
  int width;
  int int_bits;
  bool is_signed;
  ap_q_mode q;
  ap_o_mode o;
  int n;
  std::string Name() const {
    return std::string(is_signed ? "ap_fixed<" : "ap_ufixed<") +
           std::to_string(width) + "," + std::to_string(int_bits) + ",q" +
           std::to_string(q) + ",o" + std::to_string(o) + "," +
           std::to_string(n) + ">";
  }
};

template <int W, int I, bool S, ap_q_mode Q, ap_o_mode O, int N>
constexpr int SaturationBitsOf(const ap_fixed_base<W, I, S, Q, O, N>*) {
  return N;
}

template <class T>
FixedSpec SpecOf() {
  return FixedSpec{
      T::width, T::iwidth, kSigned<T>,
      T::qmode, T::omode,  SaturationBitsOf(static_cast<const T*>(nullptr))};
}

// The raw result of converting the value raw * 2^-src_frac (held in a
// src_width-bit type of signedness src_signed) into `t`.
inline mpz_class RefConvert(const mpz_class& raw, int src_frac, int src_width,
                            bool src_signed, const FixedSpec& t) {
  const int frac = t.width - t.int_bits;
  const bool negative = raw < 0;
  mpz_class q;
  if (frac >= src_frac) {
    q = raw * Pow2(frac - src_frac);
  } else {
    const int dropped = src_frac - frac;
    const mpz_class step = Pow2(dropped);
    const mpz_class floor = FloorShift(raw, dropped);
    const mpz_class twice_rest = 2 * (raw - floor * step);  // In [0, 2*step).
    const bool above_half = twice_rest > step;
    const bool at_half = twice_rest == step;
    const bool exact = twice_rest == 0;
    bool up = false;
    switch (t.q) {
      case AP_TRN:
        up = false;
        break;
      case AP_TRN_ZERO:
        up = negative && !exact;
        break;
      case AP_RND:
        up = above_half || at_half;
        break;
      case AP_RND_ZERO:
        up = above_half || (at_half && negative);
        break;
      case AP_RND_MIN_INF:
        up = above_half;
        break;
      case AP_RND_INF:
        up = above_half || (at_half && !negative);
        break;
      case AP_RND_CONV:
        up = above_half || (at_half && mpz_odd_p(floor.get_mpz_t()));
        break;
    }
    q = up ? mpz_class(floor + 1) : floor;
  }

  const mpz_class lo = MinOf(t.width, t.is_signed);
  const mpz_class hi = MaxOf(t.width, t.is_signed);
  bool overflow = q > hi, underflow = q < lo;
  // Symmetric saturation never yields the most negative code, when the
  // source's integer part is at least as wide as the target's.
  if (t.o == AP_SAT_SYM && t.is_signed && src_signed &&
      t.int_bits <= src_width - src_frac && q == lo) {
    underflow = true;
  }
  if (!overflow && !underflow) return q;

  switch (t.o) {
    case AP_SAT_ZERO:
      return 0;
    case AP_SAT:
      return overflow ? hi : lo;
    case AP_SAT_SYM:
      if (overflow) return hi;
      if (!t.is_signed) return 0;
      return t.width == 1 ? lo : mpz_class(lo + 1);
    case AP_WRAP: {
      mpz_class pattern = Mod2(q, t.width);
      if (t.n > 0) {
        // Force the top N bits: signed keeps the source's sign on top and
        // its opposite below; unsigned sets them all.
        for (int b = t.width - t.n; b < t.width; ++b) {
          if (b < 0) continue;
          bool bit = true;
          if (t.is_signed) bit = (b == t.width - 1) ? underflow : !underflow;
          if (bit) {
            mpz_setbit(pattern.get_mpz_t(), b);
          } else {
            mpz_clrbit(pattern.get_mpz_t(), b);
          }
        }
      }
      return Wrap(pattern, t.width, t.is_signed);
    }
    default:
      return 0;
  }
}

// Converts `from` to type To and returns the reference raw result.
template <class To, class From>
mpz_class RefConvertFrom(const From& from) {
  return RefConvert(RawOf(from), kFrac<From>, From::width, kSigned<From>,
                    SpecOf<To>());
}

// A finite double as raw * 2^-frac with raw < 2^53.
struct DoubleAsRaw {
  mpz_class raw;
  int frac;
};
inline DoubleAsRaw SplitDouble(double d) {
  int exponent = 0;
  const double mantissa = std::frexp(d, &exponent);  // d = m * 2^e, |m| < 1.
  const double scaled = std::ldexp(mantissa, 53);    // Exact integer.
  return DoubleAsRaw{mpz_class(scaled), 53 - exponent};
}

// The nearest double (ties to even) to raw * 2^-frac, for normal results.
inline double RefToDouble(const mpz_class& raw, int frac) {
  if (raw == 0) return 0.0;
  mpz_class magnitude = abs(raw);
  const int bits = static_cast<int>(mpz_sizeinbase(magnitude.get_mpz_t(), 2));
  int scale = -frac;
  if (bits > 53) {
    const int dropped = bits - 53;
    const mpz_class step = Pow2(dropped);
    mpz_class kept = FloorShift(magnitude, dropped);
    const mpz_class twice_rest = 2 * (magnitude - kept * step);
    if (twice_rest > step ||
        (twice_rest == step && mpz_odd_p(kept.get_mpz_t()))) {
      kept += 1;
    }
    magnitude = kept;
    scale += dropped;
  }
  const double m = magnitude.get_d();  // Exact: at most 2^53.
  const double result = std::ldexp(m, scale);
  return raw < 0 ? -result : result;
}

}  // namespace fxhls_test

#endif  // FXSERVE_TESTS_HLS_TYPES_REFERENCE_H_
