// Multiply-accumulate unit: the dot product of an activation vector and a
// weight vector, with each product kept at full precision and summed into
// an accumulator type whose quantization and overflow modes the config
// chooses. It is the inner loop of every linear layer.
#ifndef FXSERVE_KERNELS_LINALG_MAC_H_
#define FXSERVE_KERNELS_LINALG_MAC_H_

#include <ap_fixed.h>
#include <ap_int.h>

namespace fxserve::kernels {

// Example of the config a MAC unit takes; kernels define their own.
struct MacConfigW8A8 {
  using input_t = ap_int<8>;          // Activation element.
  using weight_t = ap_int<8>;         // Weight element.
  using accum_t = ap_int<32>;         // Running sum; its modes apply per add.
  static constexpr int kLength = 64;  // Elements per dot product.
  static constexpr int kUnroll = 8;   // Multipliers working in parallel.
};

// Returns sum_i input[i] * weight[i], accumulated in Config::accum_t.
template <class Config>
typename Config::accum_t DotProduct(
    const typename Config::input_t input[Config::kLength],
    const typename Config::weight_t weight[Config::kLength]) {
  static_assert(Config::kLength % Config::kUnroll == 0,
                "kLength must be a multiple of kUnroll");
  typename Config::accum_t sum = 0;
mac_loop:
  for (int i = 0; i < Config::kLength; ++i) {
#pragma HLS UNROLL factor = Config::kUnroll
    // The product keeps every bit (W_in + W_w); only the add quantizes.
    sum += input[i] * weight[i];
  }
  return sum;
}

}  // namespace fxserve::kernels

#endif  // FXSERVE_KERNELS_LINALG_MAC_H_
