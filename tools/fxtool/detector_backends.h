// The ways fxtool runs a quantized detector artifact, by --backend name:
// reference (the plain integer reference, model/centernet/int_reference.h),
// cpu (the fast bit-exact CPU detector, backends/cpu/detector/) and csim
// (the HLS dataflow top in C-simulation, backends/csim/). Every one gives
// the same bytes. (Serving goes through the backend registry instead:
// issue 15.)
#ifndef FXSERVE_TOOLS_FXTOOL_DETECTOR_BACKENDS_H_
#define FXSERVE_TOOLS_FXTOOL_DETECTOR_BACKENDS_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "model/centernet/int_reference.h"
#include "model/centernet/quantized_detector.h"

namespace fxserve::fxtool {

struct IntDetector {
  std::string description;  // E.g. "cpu (avx512vnni, 2 threads)".
  // 512 x 512 x 3 input bytes (ResizeToInput) to the graph's outputs.
  std::function<absl::StatusOr<model::centernet::IntDetectorOutput>(
      absl::Span<const uint8_t>)>
      run;
};

// `threads`: for cpu, 0 = one per core. InvalidArgument for an unknown
// backend, naming the ones there are.
absl::StatusOr<IntDetector> MakeIntDetector(
    std::shared_ptr<const model::centernet::QuantizedDetector> model,
    const std::string& backend, int threads);

}  // namespace fxserve::fxtool

#endif  // FXSERVE_TOOLS_FXTOOL_DETECTOR_BACKENDS_H_
