// Between centernet_csim.cc and the four per-build files: the model's layers
// checked and laid out as the units take them, and each build's factory.
// The builds are compiled apart (each instantiates the whole top).
#ifndef FXSERVE_BACKENDS_CSIM_CENTERNET_CSIM_BUILDS_H_
#define FXSERVE_BACKENDS_CSIM_CENTERNET_CSIM_BUILDS_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "backends/csim/centernet_csim.h"
#include "model/centernet/quantized_detector.h"

namespace fxserve::backends::csim::centernet_csim_internal {

// A conv's weights in the unit's order (HWIO: [ky][kx][cin][cout];
// depthwise [ky][kx][c]) and its per-output-channel registers; P and F(y)
// are hard-swish's (zeros otherwise), mult zeros in pow2 builds.
struct PackedConv {
  std::vector<int> w;
  std::vector<int64_t> bias;
  std::vector<int> shift, mult, p, f_y;
};

// One layer's values, every one inside its hardware field. Convs: conv;
// squeeze-excite: conv (reducing, w as [C][C']) and expand ([C'][C]).
// F registers per channel as the layer's unit names them (f_a, f_b: add
// and concat inputs; f_x: resize and squeeze-excite input; f_m, p:
// squeeze-excite mean and gate P; f_y: the output).
struct PackedLayer {
  PackedConv conv, expand;
  std::vector<int> f_a, f_b, f_x, f_m, p, f_y;
};

// Checks the model against kernels/top/centernet_layers.h (layer kinds,
// tensors read and written, geometry, epilogues, gates, signedness, weight
// widths) and every code and register against its field; InvalidArgument
// naming the layer otherwise.
absl::StatusOr<std::vector<PackedLayer>> PackDetector(
    const model::centernet::QuantizedDetector& q);

// The builds (centernet_csim_<weights>_<scales>.cc).
std::unique_ptr<CenternetCsim> CreateInt8Pow2(
    const std::vector<PackedLayer>& layers);
std::unique_ptr<CenternetCsim> CreateInt8Fixed(
    const std::vector<PackedLayer>& layers);
std::unique_ptr<CenternetCsim> CreateInt4Pow2(
    const std::vector<PackedLayer>& layers);
std::unique_ptr<CenternetCsim> CreateInt4Fixed(
    const std::vector<PackedLayer>& layers);

}  // namespace fxserve::backends::csim::centernet_csim_internal

#endif  // FXSERVE_BACKENDS_CSIM_CENTERNET_CSIM_BUILDS_H_
