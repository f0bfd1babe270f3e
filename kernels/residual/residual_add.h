// Residual connection: out[i] = a[i] + b[i]. The sum is exact (ap_fixed
// addition widens as needed) and is converted once into out_t, whose
// quantization and overflow modes (e.g. AP_RND_CONV, AP_SAT) decide the
// result; a and b may have different formats.
#ifndef FXSERVE_KERNELS_RESIDUAL_RESIDUAL_ADD_H_
#define FXSERVE_KERNELS_RESIDUAL_RESIDUAL_ADD_H_

#include <ap_fixed.h>

namespace fxserve::kernels {

// Example configuration; layers define their own.
struct ResidualAddConfigExample {
  using a_t = ap_fixed<16, 6>;  // Residual stream element.
  using b_t = ap_fixed<16, 6>;  // Sublayer output element.
  using out_t = ap_fixed<16, 6, AP_RND_CONV, AP_SAT>;  // Sum, its modes apply.
  static constexpr int kN = 768;     // Elements per call (multiple of kUnroll).
  static constexpr int kUnroll = 8;  // Adders working in parallel.
};

// One element: out_t(a + b), the sum taken at full precision.
template <class Config>
typename Config::out_t ResidualAddOne(const typename Config::a_t& a,
                                      const typename Config::b_t& b) {
  return typename Config::out_t(a + b);
}

// out[i] = ResidualAddOne(a[i], b[i]) for Config::kN elements.
template <class Config>
void ResidualAdd(const typename Config::a_t a[Config::kN],
                 const typename Config::b_t b[Config::kN],
                 typename Config::out_t out[Config::kN]) {
  static_assert(Config::kN % Config::kUnroll == 0,
                "kN must be a multiple of kUnroll");
residual_loop:
  for (int i = 0; i < Config::kN; ++i) {
#pragma HLS PIPELINE II = 1
#pragma HLS UNROLL factor = Config::kUnroll
    out[i] = ResidualAddOne<Config>(a[i], b[i]);
  }
}

}  // namespace fxserve::kernels

#endif  // FXSERVE_KERNELS_RESIDUAL_RESIDUAL_ADD_H_
