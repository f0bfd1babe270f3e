// GELU ("gelu_new", GPT-2's tanh form) in integer arithmetic: a table of the
// function at evenly spaced points of [-2^R, 2^R), linear interpolation
// between neighbours, identity above the range and zero below. The table is
// computed at compile time from the formula (kernels/common/constexpr_math.h),
// so the CPU backend reads exactly the table the hardware holds. The exact
// definition is in kernels/nonlinear/README.md.
#ifndef FXSERVE_KERNELS_NONLINEAR_GELU_H_
#define FXSERVE_KERNELS_NONLINEAR_GELU_H_

#include <ap_fixed.h>
#include <ap_int.h>

#include <array>

#include "kernels/common/constexpr_math.h"

namespace fxserve::kernels {

// Example configuration; layers define their own.
struct GeluConfigExample {
  using input_t = ap_fixed<16, 6>;                        // Pre-activation.
  using output_t = ap_fixed<16, 6, AP_RND_CONV, AP_SAT>;  // Activation.
  static constexpr int kRangeLog2 = 2;   // Table covers [-4, 4).
  static constexpr int kLutBits = 7;     // 128 segments of 1/16.
  static constexpr int kTableFrac = 14;  // Fractional bits of table entries.
  static constexpr int kN = 64;          // Elements per call.
  static constexpr int kUnroll = 8;      // Elements computed in parallel.
};

// GELU at the 2^kLutBits + 1 segment ends, as raw integers with kTableFrac
// fractional bits (round to nearest).
template <int kRangeLog2, int kLutBits, int kTableFrac>
constexpr std::array<long long, (1 << kLutBits) + 1> MakeGeluTable() {
  std::array<long long, (1 << kLutBits) + 1> table{};
  const double step = cmath::Pow2(kRangeLog2 + 1 - kLutBits);
  for (int k = 0; k <= (1 << kLutBits); ++k) {
    const double x = -cmath::Pow2(kRangeLog2) + k * step;
    table[k] = cmath::RoundToInt(cmath::GeluTanh(x) * cmath::Pow2(kTableFrac));
  }
  return table;
}

// GELU of one value.
template <class Config>
typename Config::output_t GeluOne(typename Config::input_t x) {
  constexpr int kR = Config::kRangeLog2;
  constexpr int kF = Config::input_t::width - Config::input_t::iwidth;
  static_assert(kF >= 0, "GELU inputs need a non-negative fraction width");
  // u = x + 2^R, in [0, 2^(R+1)) inside the table's range.
  constexpr int kUWidth = kR + 1 + kF;
  static_assert(kUWidth > Config::kLutBits,
                "the input must have bits below the table index");
  using table_t = ap_fixed<Config::kTableFrac + kR + 2, kR + 2>;
  using frac_t = ap_ufixed<kUWidth - Config::kLutBits, 0>;
  static constexpr std::array<long long, (1 << Config::kLutBits) + 1> kTable =
      MakeGeluTable<kR, Config::kLutBits, Config::kTableFrac>();

  const ap_fixed<Config::input_t::width + 1, Config::input_t::iwidth + 1>
      shifted = x + ap_int<kR + 2>(1 << kR);
  if (shifted < 0) return 0;                 // GELU(x) < 2^-12 here.
  if (shifted >= (1 << (kR + 1))) return x;  // GELU(x) = x to 2^-12.
  ap_ufixed<kUWidth, kR + 1> u = shifted;    // Exact: in range.
  const ap_uint<Config::kLutBits> index =
      u.range(kUWidth - 1, kUWidth - Config::kLutBits);
  frac_t t;  // Position inside the segment, in [0, 1).
  t.range(kUWidth - Config::kLutBits - 1, 0) =
      u.range(kUWidth - Config::kLutBits - 1, 0);
  table_t y0, y1;
  y0.range(table_t::width - 1, 0) = kTable[index.to_uint()];
  y1.range(table_t::width - 1, 0) = kTable[index.to_uint() + 1];
  // Exact interpolation; only the conversion into output_t rounds.
  return y0 + (y1 - y0) * t;
}

// out[i] = GELU(in[i]) for Config::kN elements.
template <class Config>
void Gelu(const typename Config::input_t in[Config::kN],
          typename Config::output_t out[Config::kN]) {
gelu_loop:
  for (int i = 0; i < Config::kN; ++i) {
#pragma HLS PIPELINE II = 1
#pragma HLS UNROLL factor = Config::kUnroll
    out[i] = GeluOne<Config>(in[i]);
  }
}

}  // namespace fxserve::kernels

#endif  // FXSERVE_KERNELS_NONLINEAR_GELU_H_
