// The detector's W4A8 top with fixed scales, C-simulated.
#include "backends/csim/centernet_csim_impl.h"

namespace fxserve::backends::csim::centernet_csim_internal {

std::unique_ptr<CenternetCsim> CreateInt4Fixed(
    const std::vector<PackedLayer>& layers) {
  return std::make_unique<
      CenternetCsimImpl<kcn::CenternetConfig<4, kernels::ScaleMode::kFixed>>>(
      layers);
}

}  // namespace fxserve::backends::csim::centernet_csim_internal
