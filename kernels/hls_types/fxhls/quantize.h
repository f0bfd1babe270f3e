// The one place where a value becomes an ap_fixed: quantization (dropping
// fractional bits under an ap_q_mode) and overflow handling (ap_o_mode).
// Every conversion into ap_fixed_base, from another ap_fixed, an integer or
// a double, comes through ToFixedBits.
#ifndef FXSERVE_KERNELS_HLS_TYPES_FXHLS_QUANTIZE_H_
#define FXSERVE_KERNELS_HLS_TYPES_FXHLS_QUANTIZE_H_

#include "fxhls/modes.h"
#include "fxhls/wide_int.h"

namespace fxhls {

// Whether to add one LSB after dropping bits. `half` is the first dropped
// bit, `sticky` any dropped bit below it, `negative` the source's sign and
// `lsb` the kept LSB.
template <ap_q_mode Q>
constexpr bool RoundUp(bool half, bool sticky, bool negative, bool lsb) {
  switch (Q) {
    case AP_RND:
      return half;
    case AP_RND_ZERO:
      return half && (sticky || negative);
    case AP_RND_MIN_INF:
      return half && sticky;
    case AP_RND_INF:
      return half && (sticky || !negative);
    case AP_RND_CONV:
      return half && (sticky || lsb);
    case AP_TRN_ZERO:
      return negative && (half || sticky);
    case AP_TRN:
      return false;
  }
  return false;
}

// Converts the integer `src` (a W2-bit value, signed if src_signed) scaled
// by 2^-src_frac into the raw bits of ap_fixed_base<W, I, S, Q, O, N>.
// kMaxLeft bounds the left shift that needs exact bits: a larger shift of a
// non-zero value overflows whatever the target, so it is not computed.
template <int W, int I, bool S, ap_q_mode Q, ap_o_mode O, int N, int W2,
          int kMaxLeft>
Wide<LimbsFor(W)> ToFixedBits(const Wide<LimbsFor(W2)>& src, bool src_signed,
                              int src_frac) {
  static_assert(O != AP_WRAP_SM,
                "AP_WRAP_SM is not supported by fxserve's HLS emulation");
  static_assert(kMaxLeft >= 0, "kMaxLeft bounds a left shift");
  constexpr int F = W - I;
  constexpr int M = LimbsFor(W2 + kMaxLeft + 3);
  const Wide<M> value = Resize<M>(src, src_signed);
  const bool negative = src_signed && IsNegative(value);
  const int shift_left = F - src_frac;

  Wide<M> q;  // The quantized value, exact unless `beyond_range`.
  bool beyond_range = false;
  if (shift_left >= 0) {
    if (shift_left > kMaxLeft) {
      beyond_range = !IsZero(value);  // Low W bits of q are all zero.
    } else {
      q = ShiftLeft(value, static_cast<unsigned>(shift_left));
    }
  } else {
    const int dropped = -shift_left;
    const unsigned capped = dropped < 64 * M ? dropped : 64 * M;
    q = ShiftRight(value, capped, true);  // Floor: value is sign-extended.
    if constexpr (Q != AP_TRN) {
      const bool half = GetBit(value, dropped - 1, true);
      const bool sticky = AnyLowBits(value, dropped - 1, true);
      if (RoundUp<Q>(half, sticky, negative, GetBit(q, 0))) {
        q = AddSmall(q, 1);
      }
    }
  }

  bool overflow = false, underflow = false;
  if (beyond_range) {
    overflow = !negative;
    underflow = negative;
  } else {
    Wide<M> fitted = q;
    Normalize(fitted, W, S);
    if (!Equal(fitted, q)) {
      underflow = IsNegative(q);
      overflow = !underflow;
    }
  }
  // AP_SAT_SYM keeps signed results off the most negative code, but, as in
  // AMD's headers, only when the source's integer part is at least as wide.
  const int src_int = W2 - src_frac;
  if constexpr (O == AP_SAT_SYM && S) {
    if (src_signed && I <= src_int && !overflow && !underflow &&
        IsNegative(q)) {
      Wide<M> min_code = ShiftLeft(FromInt64<M>(-1), W - 1);
      underflow = Equal(q, min_code);
    }
  }

  Wide<LimbsFor(W)> r = Resize<LimbsFor(W)>(q, true);
  Normalize(r, W, S);
  if (!overflow && !underflow) return r;

  if constexpr (O == AP_WRAP) {
    if constexpr (N > 0) {
      // Wrap, then force the top N bits: the sign keeps the source's sign
      // and the next N-1 bits repeat its opposite (saturated high bits).
      if constexpr (S) {
        SetBit(r, W - 1, underflow);
        for (int b = W - N; b <= W - 2; ++b) {
          if (b >= 0) SetBit(r, b, !underflow);
        }
      } else {
        for (int b = W - N; b <= W - 1; ++b) {
          if (b >= 0) SetBit(r, b, true);
        }
      }
      Normalize(r, W, S);
    }
    return r;
  } else if constexpr (O == AP_SAT_ZERO) {
    return Wide<LimbsFor(W)>{};
  } else {  // AP_SAT and AP_SAT_SYM.
    Wide<LimbsFor(W)> sat;
    if constexpr (S) {
      // Max is 0111..1; min is 1000..0, or 1000..01 under AP_SAT_SYM (for
      // W == 1 that sets the only bit again, as AMD's headers do).
      sat = ShiftLeft(FromInt64<LimbsFor(W)>(-1), W - 1);
      if (overflow) sat = BitNot(sat);
      if (underflow && O == AP_SAT_SYM) SetBit(sat, 0, true);
    } else if (overflow) {
      sat = FromInt64<LimbsFor(W)>(-1);
    }
    Normalize(sat, W, S);
    return sat;
  }
}

}  // namespace fxhls

#endif  // FXSERVE_KERNELS_HLS_TYPES_FXHLS_QUANTIZE_H_
