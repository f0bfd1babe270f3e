// fxserve's bit-exact emulation of AMD Vitis HLS fixed-point types:
// ap_fixed<W, I, Q, O, N> (signed) and ap_ufixed<W, I, Q, O, N> (unsigned).
// Kernels include it as <ap_fixed.h>, exactly as Vitis HLS code does; see
// README.md here for the semantics.
#ifndef FXSERVE_KERNELS_HLS_TYPES_AP_FIXED_H_
#define FXSERVE_KERNELS_HLS_TYPES_AP_FIXED_H_

#include <ap_int.h>

#include "fxhls/ap_fixed_base.h"

template <int W, int I, ap_q_mode Q = AP_TRN, ap_o_mode O = AP_WRAP, int N = 0>
class ap_fixed : public ap_fixed_base<W, I, true, Q, O, N> {
 public:
  using Base = ap_fixed_base<W, I, true, Q, O, N>;
  using Base::Base;
  ap_fixed() = default;
  ap_fixed(const Base& other) : Base(other) {}  // NOLINT: implicit.
};

template <int W, int I, ap_q_mode Q = AP_TRN, ap_o_mode O = AP_WRAP, int N = 0>
class ap_ufixed : public ap_fixed_base<W, I, false, Q, O, N> {
 public:
  using Base = ap_fixed_base<W, I, false, Q, O, N>;
  using Base::Base;
  ap_ufixed() = default;
  ap_ufixed(const Base& other) : Base(other) {}  // NOLINT: implicit.
};

#include "fxhls/ap_fixed_ops.h"

#endif  // FXSERVE_KERNELS_HLS_TYPES_AP_FIXED_H_
