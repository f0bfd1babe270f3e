// Multiplier-free requantization (QFX-style power-of-two scales): a wide
// accumulator becomes a narrow activation by a per-channel shift, rounding
// half to even, and saturation. scale = 2^-shift; a negative shift scales
// up (left shift, saturating). No multiplier is used.
#ifndef FXSERVE_KERNELS_QUANT_REQUANTIZE_H_
#define FXSERVE_KERNELS_QUANT_REQUANTIZE_H_

#include <ap_int.h>

namespace fxserve::kernels {

// Example configuration; layers define their own.
struct RequantizeConfigExample {
  using acc_t = ap_int<32>;      // Accumulator from a linear layer.
  using output_t = ap_int<8>;    // Next layer's activation.
  using shift_t = ap_int<6>;     // Per-channel shift, -31 .. 31.
  static constexpr int kN = 64;  // Channels per call.
  static constexpr int kUnroll = 8;
};

// round_half_even(acc * 2^-shift), saturated to the signed output_t's range.
template <class Config>
typename Config::output_t RequantizeOne(const typename Config::acc_t& acc,
                                        const typename Config::shift_t& shift) {
  using acc_t = typename Config::acc_t;
  using output_t = typename Config::output_t;
  constexpr int kW = acc_t::width;
  // Wide enough for acc shifted left by the largest shift_t value.
  using wide_t = ap_int<kW + (1 << (Config::shift_t::width - 1))>;
  const int s = shift.to_int();
  wide_t q;
  if (s <= 0) {
    q = wide_t(acc) << -s;  // Exact: wide_t has the room.
  } else {
    q = wide_t(acc) >> s;  // Floor.
    const wide_t rest = wide_t(acc) - (q << s);
    const wide_t half = wide_t(1) << (s - 1);
    if (rest > half || (rest == half && q[0])) ++q;  // Ties to even.
  }
  constexpr long long kMax = (1LL << (output_t::width - 1)) - 1;
  constexpr long long kMin = -(1LL << (output_t::width - 1));
  if (q > kMax) return output_t(kMax);
  if (q < kMin) return output_t(kMin);
  return output_t(q);
}

// out[c] = RequantizeOne(acc[c], shift[c]) for Config::kN channels.
template <class Config>
void Requantize(const typename Config::acc_t acc[Config::kN],
                const typename Config::shift_t shift[Config::kN],
                typename Config::output_t out[Config::kN]) {
requantize_loop:
  for (int c = 0; c < Config::kN; ++c) {
#pragma HLS PIPELINE II = 1
#pragma HLS UNROLL factor = Config::kUnroll
    out[c] = RequantizeOne<Config>(acc[c], shift[c]);
  }
}

}  // namespace fxserve::kernels

#endif  // FXSERVE_KERNELS_QUANT_REQUANTIZE_H_
