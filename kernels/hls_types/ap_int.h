// fxserve's bit-exact emulation of AMD Vitis HLS arbitrary-precision
// integers: ap_int<W> (signed) and ap_uint<W> (unsigned). Kernels include it
// as <ap_int.h>, exactly as Vitis HLS code does; see README.md here for the
// semantics. Like AMD's header, it also brings in ap_fixed.
#ifndef FXSERVE_KERNELS_HLS_TYPES_AP_INT_H_
#define FXSERVE_KERNELS_HLS_TYPES_AP_INT_H_

#include "fxhls/ap_int_base.h"

template <int W>
class ap_int : public ap_int_base<W, true> {
 public:
  using Base = ap_int_base<W, true>;
  using Base::Base;
  ap_int() = default;
  ap_int(const Base& other) : Base(other) {}  // NOLINT: implicit.
};

template <int W>
class ap_uint : public ap_int_base<W, false> {
 public:
  using Base = ap_int_base<W, false>;
  using Base::Base;
  ap_uint() = default;
  ap_uint(const Base& other) : Base(other) {}  // NOLINT: implicit.
};

#include "fxhls/ap_int_ops.h"
#include "fxhls/ap_int_refs.h"

#include <ap_fixed.h>

#endif  // FXSERVE_KERNELS_HLS_TYPES_AP_INT_H_
