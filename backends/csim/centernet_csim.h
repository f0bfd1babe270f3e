// The quantized CenterNet by C-simulation of the detector's dataflow top
// (kernels/top/centernet_top.h): the HLS units themselves, compiled for the
// host, computing exactly the keypoints and detections bytes of the plain
// integer reference (model/centernet/int_reference.h). One top per weight
// width (int8, int4) and scale kind (pow2, fixed), as on hardware; the
// model's layers must be the ones the tops are built for
// (kernels/top/centernet_layers.h).
#ifndef FXSERVE_BACKENDS_CSIM_CENTERNET_CSIM_H_
#define FXSERVE_BACKENDS_CSIM_CENTERNET_CSIM_H_

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "model/centernet/int_reference.h"
#include "model/centernet/quantized_detector.h"

namespace fxserve::backends::csim {

class CenternetCsim {
 public:
  // Packs the model into its top's parameter block. InvalidArgument when
  // its layers, tensors or signedness differ from the table, for a weight
  // width or scale kind without a build, or for a code or register outside
  // its hardware field.
  static absl::StatusOr<std::unique_ptr<CenternetCsim>> Create(
      const model::centernet::QuantizedDetector& model);

  virtual ~CenternetCsim() = default;

  // `input`: 512 * 512 * 3 bytes from model::centernet::ResizeToInput
  // (InvalidArgument for another size). Thread-safe: each call has its own
  // streams and frames (about 40 MB beyond the streams' maps).
  absl::StatusOr<model::centernet::IntDetectorOutput> Run(
      absl::Span<const uint8_t> input) const;

 protected:
  CenternetCsim() = default;
  // Runs the top on a validated input.
  virtual absl::StatusOr<model::centernet::IntDetectorOutput> RunTop(
      const uint8_t* input) const = 0;
};

}  // namespace fxserve::backends::csim

#endif  // FXSERVE_BACKENDS_CSIM_CENTERNET_CSIM_H_
