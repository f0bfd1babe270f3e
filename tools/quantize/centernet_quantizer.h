// Post-training quantization of the float CenterNet into
// kernels/detect/NUMERICS.md: calibrated binary points for every int8
// tensor and 16-bit pre-activation (from the float layers run on
// calibration photos through the same integer resize as at inference),
// per-channel weight scales, and the registers that follow.
#ifndef FXSERVE_TOOLS_QUANTIZE_CENTERNET_QUANTIZER_H_
#define FXSERVE_TOOLS_QUANTIZE_CENTERNET_QUANTIZER_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/centernet/detector_graph.h"
#include "model/centernet/quantized_detector.h"
#include "model/image/image.h"

namespace fxserve::quantize {

struct DetectorQuantizeOptions {
  // The convs between the stem and the two head outputs; those stay int8.
  int weight_bits = 8;
  model::ScaleKind scales = model::ScaleKind::kPow2;
  std::function<void(const std::string&)> progress;  // May be empty.
};

// InvalidArgument for options out of range, no calibration images, or a
// scale no register can express (naming the layer).
absl::StatusOr<model::centernet::QuantizedDetector> QuantizeDetector(
    const model::centernet::DetectorGraph& graph,
    const std::vector<model::image::RgbImage>& calibration_images,
    const DetectorQuantizeOptions& options);

}  // namespace fxserve::quantize

#endif  // FXSERVE_TOOLS_QUANTIZE_CENTERNET_QUANTIZER_H_
