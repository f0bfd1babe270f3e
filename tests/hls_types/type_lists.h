// Walks every quantization and overflow mode of a fixed-point shape, calling
// a generic lambda once per concrete type: f.template operator()<T>().
#ifndef FXSERVE_TESTS_HLS_TYPES_TYPE_LISTS_H_
#define FXSERVE_TESTS_HLS_TYPES_TYPE_LISTS_H_

#include <type_traits>

#include <ap_fixed.h>

namespace fxhls_test {

template <int W, int I, bool S, ap_q_mode Q, ap_o_mode O, int N>
using FixedT =
    std::conditional_t<S, ap_fixed<W, I, Q, O, N>, ap_ufixed<W, I, Q, O, N>>;

// Every overflow mode: AP_SAT, AP_SAT_ZERO, AP_SAT_SYM, and AP_WRAP with 0,
// 1 and 2 saturation bits (and W bits when W > 2).
template <int W, int I, bool S, ap_q_mode Q, class F>
void ForEachOverflowMode(F& f) {
  f.template operator()<FixedT<W, I, S, Q, AP_SAT, 0>>();
  f.template operator()<FixedT<W, I, S, Q, AP_SAT_ZERO, 0>>();
  f.template operator()<FixedT<W, I, S, Q, AP_SAT_SYM, 0>>();
  f.template operator()<FixedT<W, I, S, Q, AP_WRAP, 0>>();
  f.template operator()<FixedT<W, I, S, Q, AP_WRAP, 1>>();
  if constexpr (W >= 2) f.template operator()<FixedT<W, I, S, Q, AP_WRAP, 2>>();
  if constexpr (W > 2) f.template operator()<FixedT<W, I, S, Q, AP_WRAP, W>>();
}

// Every quantization mode times every overflow mode.
template <int W, int I, bool S, class F>
void ForEachMode(F&& f) {
  ForEachOverflowMode<W, I, S, AP_RND>(f);
  ForEachOverflowMode<W, I, S, AP_RND_ZERO>(f);
  ForEachOverflowMode<W, I, S, AP_RND_MIN_INF>(f);
  ForEachOverflowMode<W, I, S, AP_RND_INF>(f);
  ForEachOverflowMode<W, I, S, AP_RND_CONV>(f);
  ForEachOverflowMode<W, I, S, AP_TRN>(f);
  ForEachOverflowMode<W, I, S, AP_TRN_ZERO>(f);
}

// Every code of a type of at most 16 bits, as the raw integer it holds.
template <class T, class F>
void ForEachCode(F&& f) {
  static_assert(T::width <= 16, "exhaustive only for narrow types");
  for (long code = 0; code < (1L << T::width); ++code) f(code);
}

}  // namespace fxhls_test

#endif  // FXSERVE_TESTS_HLS_TYPES_TYPE_LISTS_H_
