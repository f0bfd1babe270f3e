// The quantized detector in plain integer C++, written from
// kernels/detect/NUMERICS.md line by line for clarity, not speed: the
// yardstick that the HLS kernels (C-simulation) and the CPU backend must
// equal byte for byte, and the quantizer's accuracy check. Also the host's
// parts that every backend shares: the integer resize of an image to the
// network's input, and the rows of `detections` back to floats.
#ifndef FXSERVE_MODEL_CENTERNET_INT_REFERENCE_H_
#define FXSERVE_MODEL_CENTERNET_INT_REFERENCE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "model/centernet/quantized_detector.h"
#include "model/image/image.h"

namespace fxserve::model::centernet {

inline constexpr int kGrid = 128;    // Output map: 512 / 4.
inline constexpr int kClasses = 80;  // COCO.
inline constexpr int kDetectionFields = 6;

// The contract's host resize: `image` to 512 x 512 x 3 UQ(8, 0) pixels with
// the legacy bilinear rule in integers.
std::vector<uint8_t> ResizeToInput(const image::RgbImage& image);

struct IntDetectorOutput {
  std::vector<uint16_t> keypoints;  // [128][128][80], UQ(16, 15) codes.
  std::vector<int32_t> detections;  // [100][6]: Q(32, 4) box, score, class.
};

// Sees each layer's output codes (NHWC) with each channel's binary point,
// for per-layer error reports.
using IntTensorObserver =
    std::function<void(const std::string& name, absl::Span<const int64_t> codes,
                       const std::vector<int>& frac)>;

// `input`: 512 * 512 * 3 bytes from ResizeToInput. InvalidArgument for
// another size or a model whose layers do not fit the shapes they get.
absl::StatusOr<IntDetectorOutput> RunIntReference(
    const QuantizedDetector& model, absl::Span<const uint8_t> input,
    const IntTensorObserver& observer = nullptr);

// `detections` rows as the float graph has them (x1 y1 x2 y2 in 512-px
// units, score in 0..1, class), for Postprocess.
std::vector<float> DetectionRowsToFloat(absl::Span<const int32_t> rows);

// The contract's sigmoid table: 4096 UQ(16, 15) entries over Q(16, 8)
// inputs -8 .. 8 - 1/256.
const std::vector<uint16_t>& SigmoidTable();

}  // namespace fxserve::model::centernet

#endif  // FXSERVE_MODEL_CENTERNET_INT_REFERENCE_H_
