// Fixed-size two's-complement integers made of 64-bit limbs.
//
// This is the arithmetic core under ap_int_base and ap_fixed_base. A
// Wide<N> is an integer modulo 2^(64*N); whether its top bit is a sign is
// decided by the caller. Every function is a small loop over a compile-time
// limb count, so a Wide<1> compiles to plain 64-bit instructions.
#ifndef FXSERVE_KERNELS_HLS_TYPES_FXHLS_WIDE_INT_H_
#define FXSERVE_KERNELS_HLS_TYPES_FXHLS_WIDE_INT_H_

#include <cstdint>

#include "fxhls/error.h"

namespace fxhls {

// GCC and Clang's 128-bit integer; __extension__ keeps -Wpedantic quiet.
__extension__ typedef unsigned __int128 Uint128;

// Number of 64-bit limbs that hold `bits` bits (at least one).
constexpr int LimbsFor(int bits) { return bits <= 64 ? 1 : (bits + 63) / 64; }

constexpr int Max(int a, int b) { return a > b ? a : b; }
constexpr int Min(int a, int b) { return a < b ? a : b; }

template <int N>
struct Wide {
  static_assert(N >= 1, "a Wide integer has at least one limb");
  uint64_t limb[N] = {};  // Little-endian: limb[0] holds bits 0..63.
};

template <int N>
constexpr bool IsNegative(const Wide<N>& x) {
  return (x.limb[N - 1] >> 63) != 0;
}

template <int N>
constexpr Wide<N> FromUint64(uint64_t v) {
  Wide<N> r;
  r.limb[0] = v;
  return r;
}

template <int N>
constexpr Wide<N> FromInt64(int64_t v) {
  Wide<N> r;
  r.limb[0] = static_cast<uint64_t>(v);
  const uint64_t fill = v < 0 ? ~uint64_t{0} : 0;
  for (int i = 1; i < N; ++i) r.limb[i] = fill;
  return r;
}

// Widens (sign- or zero-extending) or truncates to M limbs.
template <int M, int N>
constexpr Wide<M> Resize(const Wide<N>& x, bool sign_extend) {
  Wide<M> r;
  const uint64_t fill = (sign_extend && IsNegative(x)) ? ~uint64_t{0} : 0;
  for (int i = 0; i < M; ++i) r.limb[i] = i < N ? x.limb[i] : fill;
  return r;
}

// Makes bits at and above `width` copies of bit width-1 (signed) or zeros.
// Every Wide held by an ap_ type is kept in this canonical form.
template <int N>
constexpr void Normalize(Wide<N>& x, int width, bool is_signed) {
  if (width >= 64 * N) return;
  if (width <= 0) {  // No bits kept (e.g. the fraction of an integer).
    x = Wide<N>{};
    return;
  }
  if constexpr (N == 1) {  // Hot path: one shift pair, no branches.
    const int unused = 64 - width;
    const uint64_t up = x.limb[0] << unused;
    x.limb[0] = is_signed
                    ? static_cast<uint64_t>(static_cast<int64_t>(up) >> unused)
                    : up >> unused;
    return;
  }
  const int top = width / 64;  // Limb holding bit `width`.
  const int shift = width % 64;
  bool negative = false;
  if (is_signed) {
    const int sign_bit = width - 1;
    negative = ((x.limb[sign_bit / 64] >> (sign_bit % 64)) & 1) != 0;
  }
  const uint64_t fill = negative ? ~uint64_t{0} : 0;
  if (shift != 0) {
    const uint64_t low_mask = (uint64_t{1} << shift) - 1;
    x.limb[top] = (x.limb[top] & low_mask) | (fill & ~low_mask);
  } else {
    x.limb[top] = fill;
  }
  for (int i = top + 1; i < N; ++i) x.limb[i] = fill;
}

template <int N>
constexpr bool IsZero(const Wide<N>& x) {
  uint64_t any = 0;
  for (int i = 0; i < N; ++i) any |= x.limb[i];
  return any == 0;
}

template <int N>
constexpr bool Equal(const Wide<N>& a, const Wide<N>& b) {
  for (int i = 0; i < N; ++i) {
    if (a.limb[i] != b.limb[i]) return false;
  }
  return true;
}

// a < b, reading both as signed or both as unsigned.
template <int N>
constexpr bool Less(const Wide<N>& a, const Wide<N>& b, bool is_signed) {
  if (is_signed) {
    const bool na = IsNegative(a), nb = IsNegative(b);
    if (na != nb) return na;
  }
  for (int i = N - 1; i >= 0; --i) {
    if (a.limb[i] != b.limb[i]) return a.limb[i] < b.limb[i];
  }
  return false;
}

// Bit i; positions past the top read as the fill of a signed/unsigned value.
template <int N>
constexpr bool GetBit(const Wide<N>& x, int i, bool is_signed = false) {
  if (i < 0) return false;
  if (i >= 64 * N) return is_signed && IsNegative(x);
  return ((x.limb[i / 64] >> (i % 64)) & 1) != 0;
}

template <int N>
constexpr void SetBit(Wide<N>& x, int i, bool value) {
  if (i < 0 || i >= 64 * N) return;
  const uint64_t mask = uint64_t{1} << (i % 64);
  if (value) {
    x.limb[i / 64] |= mask;
  } else {
    x.limb[i / 64] &= ~mask;
  }
}

// True if any of bits [0, count) is set (bits past the top read as fill).
template <int N>
constexpr bool AnyLowBits(const Wide<N>& x, int count, bool is_signed) {
  if (count <= 0) return false;
  if (count > 64 * N) return !IsZero(x) || (is_signed && IsNegative(x));
  const int full = count / 64;
  for (int i = 0; i < full; ++i) {
    if (x.limb[i] != 0) return true;
  }
  const int rest = count % 64;
  if (rest == 0) return false;
  return (x.limb[full] & ((uint64_t{1} << rest) - 1)) != 0;
}

template <int N>
constexpr Wide<N> Add(const Wide<N>& a, const Wide<N>& b) {
  Wide<N> r;
  uint64_t carry = 0;
  for (int i = 0; i < N; ++i) {
    const uint64_t s = a.limb[i] + b.limb[i];
    const uint64_t c1 = s < a.limb[i] ? 1 : 0;
    r.limb[i] = s + carry;
    const uint64_t c2 = r.limb[i] < s ? 1 : 0;
    carry = c1 | c2;
  }
  return r;
}

template <int N>
constexpr Wide<N> Sub(const Wide<N>& a, const Wide<N>& b) {
  Wide<N> r;
  uint64_t borrow = 0;
  for (int i = 0; i < N; ++i) {
    const uint64_t d = a.limb[i] - b.limb[i];
    const uint64_t b1 = a.limb[i] < b.limb[i] ? 1 : 0;
    r.limb[i] = d - borrow;
    const uint64_t b2 = d < borrow ? 1 : 0;
    borrow = b1 | b2;
  }
  return r;
}

template <int N>
constexpr Wide<N> Negate(const Wide<N>& a) {
  return Sub(Wide<N>{}, a);
}

template <int N>
constexpr Wide<N> AddSmall(const Wide<N>& a, uint64_t v) {
  return Add(a, FromUint64<N>(v));
}

// Product modulo 2^(64N). Correct for signed operands too when both were
// sign-extended to N limbs first (two's complement ring arithmetic).
template <int N>
constexpr Wide<N> Mul(const Wide<N>& a, const Wide<N>& b) {
  if constexpr (N == 1) {
    return FromUint64<1>(a.limb[0] * b.limb[0]);
  } else {
    Wide<N> r;
    for (int i = 0; i < N; ++i) {
      if (a.limb[i] == 0) continue;
      Uint128 carry = 0;
      for (int j = 0; i + j < N; ++j) {
        const Uint128 t =
            static_cast<Uint128>(a.limb[i]) * b.limb[j] + r.limb[i + j] + carry;
        r.limb[i + j] = static_cast<uint64_t>(t);
        carry = t >> 64;
      }
    }
    return r;
  }
}

template <int N>
constexpr Wide<N> BitAnd(const Wide<N>& a, const Wide<N>& b) {
  Wide<N> r;
  for (int i = 0; i < N; ++i) r.limb[i] = a.limb[i] & b.limb[i];
  return r;
}

template <int N>
constexpr Wide<N> BitOr(const Wide<N>& a, const Wide<N>& b) {
  Wide<N> r;
  for (int i = 0; i < N; ++i) r.limb[i] = a.limb[i] | b.limb[i];
  return r;
}

template <int N>
constexpr Wide<N> BitXor(const Wide<N>& a, const Wide<N>& b) {
  Wide<N> r;
  for (int i = 0; i < N; ++i) r.limb[i] = a.limb[i] ^ b.limb[i];
  return r;
}

template <int N>
constexpr Wide<N> BitNot(const Wide<N>& a) {
  Wide<N> r;
  for (int i = 0; i < N; ++i) r.limb[i] = ~a.limb[i];
  return r;
}

// Left shift; shifting by 64N or more gives zero.
template <int N>
constexpr Wide<N> ShiftLeft(const Wide<N>& a, unsigned amount) {
  Wide<N> r;
  if (amount >= 64u * N) return r;
  const int limbs = static_cast<int>(amount / 64);
  const int bits = static_cast<int>(amount % 64);
  for (int i = N - 1; i >= limbs; --i) {
    uint64_t v = a.limb[i - limbs] << bits;
    if (bits != 0 && i - limbs - 1 >= 0) {
      v |= a.limb[i - limbs - 1] >> (64 - bits);
    }
    r.limb[i] = v;
  }
  return r;
}

// Right shift filling with the sign (arithmetic) or zeros (logical). Shifting
// by 64N or more gives the fill everywhere.
template <int N>
constexpr Wide<N> ShiftRight(const Wide<N>& a, unsigned amount,
                             bool arithmetic) {
  const uint64_t fill = (arithmetic && IsNegative(a)) ? ~uint64_t{0} : 0;
  Wide<N> r;
  if (amount >= 64u * N) {
    for (int i = 0; i < N; ++i) r.limb[i] = fill;
    return r;
  }
  const int limbs = static_cast<int>(amount / 64);
  const int bits = static_cast<int>(amount % 64);
  for (int i = 0; i < N; ++i) {
    const int src = i + limbs;
    const uint64_t lo = src < N ? a.limb[src] : fill;
    const uint64_t hi = src + 1 < N ? a.limb[src + 1] : fill;
    r.limb[i] = bits == 0 ? lo : (lo >> bits) | (hi << (64 - bits));
  }
  return r;
}

// Index of the highest set bit, or -1 for zero (unsigned reading).
template <int N>
constexpr int HighestSetBit(const Wide<N>& x) {
  for (int i = N - 1; i >= 0; --i) {
    if (x.limb[i] != 0) return 64 * i + 63 - __builtin_clzll(x.limb[i]);
  }
  return -1;
}

// Unsigned division with remainder. The divisor must be non-zero.
template <int N>
constexpr void DivModUnsigned(const Wide<N>& dividend, const Wide<N>& divisor,
                              Wide<N>& quotient, Wide<N>& remainder) {
  if (IsZero(divisor)) Fail("division by zero");
  if constexpr (N == 1) {
    quotient = FromUint64<1>(dividend.limb[0] / divisor.limb[0]);
    remainder = FromUint64<1>(dividend.limb[0] % divisor.limb[0]);
  } else if constexpr (N == 2) {
    const Uint128 a =
        (static_cast<Uint128>(dividend.limb[1]) << 64) | dividend.limb[0];
    const Uint128 b =
        (static_cast<Uint128>(divisor.limb[1]) << 64) | divisor.limb[0];
    const Uint128 q = a / b, m = a % b;
    quotient.limb[0] = static_cast<uint64_t>(q);
    quotient.limb[1] = static_cast<uint64_t>(q >> 64);
    remainder.limb[0] = static_cast<uint64_t>(m);
    remainder.limb[1] = static_cast<uint64_t>(m >> 64);
  } else {
    // Restoring long division, one bit at a time: only emulation uses
    // division this wide, and it is rare there.
    Wide<N> q, r;
    for (int bit = HighestSetBit(dividend); bit >= 0; --bit) {
      r = ShiftLeft(r, 1);
      r.limb[0] |= GetBit(dividend, bit) ? 1 : 0;
      if (!Less(r, divisor, false)) {
        r = Sub(r, divisor);
        SetBit(q, bit, true);
      }
    }
    quotient = q;
    remainder = r;
  }
}

// Magnitude of a value read as signed (if is_signed) or unsigned. Needs one
// spare bit so that the most negative value's magnitude fits.
template <int N>
constexpr Wide<N> Magnitude(const Wide<N>& x, bool is_signed) {
  return (is_signed && IsNegative(x)) ? Negate(x) : x;
}

}  // namespace fxhls

#endif  // FXSERVE_KERNELS_HLS_TYPES_FXHLS_WIDE_INT_H_
