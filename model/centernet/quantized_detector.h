// The CenterNet detector quantized to kernels/detect/NUMERICS.md: the
// lowered layers (detector_graph.h) with integer weights and registers in
// place of float filters, and the binary point of every tensor. The
// quantizer makes it, the artifact stores it, the integer reference, the
// kernels and the CPU backend run it.
#ifndef FXSERVE_MODEL_CENTERNET_QUANTIZED_DETECTOR_H_
#define FXSERVE_MODEL_CENTERNET_QUANTIZED_DETECTOR_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/centernet/detector_graph.h"
#include "model/quantized_gpt2.h"

namespace fxserve::model::centernet {

struct QuantizedDetectorLayer {
  // Kind, tensor names, conv geometry and epilogue; the float filters and
  // biases are empty.
  Layer layer;
  // kConv, and kSqueezeExcite's reducing 1x1: [out][k * k * in] codes
  // (depthwise: [c][k * k]), ky, kx, then input channel; the shifts
  // include the output's binary point (P for hard-swish, 8 for logits).
  QuantizedLinear conv;
  QuantizedLinear expand;  // kSqueezeExcite's expanding 1x1.
};

struct QuantizedDetector {
  int weight_bits = 8;  // Of the convs between the stem and the heads.
  ScaleKind scales = ScaleKind::kPow2;
  std::string input;
  std::vector<QuantizedDetectorLayer> layers;
  std::string keypoint_logits;
  std::string wh_logits;
  // F of every int8 tensor and P of every 16-bit pre-activation, per
  // channel, by the names RunFloatLayers observes (layer outputs;
  // hard-swish inputs and squeeze-excite gate inputs by their conv node;
  // "<se output>#mean").
  std::map<std::string, std::vector<int>> frac;
  // The int8 tensors that are non-negative by construction (relu outputs
  // and what is computed from them only) and so held as uint8 UQ(8, F).
  std::set<std::string> unsigned_tensors;
  std::vector<std::string> class_names;  // By class id (COCO's 80).

  // The binary points of `name`'s channels (zeros where none is recorded:
  // the input is UQ(8, 0)).
  std::vector<int> Frac(const std::string& name, int channels) const;
};

inline constexpr char kDetectorArtifactFormat[] = "fxserve.centernet.quantized";
inline constexpr int kDetectorArtifactFormatVersion = 1;

// Writes the artifact folder `dir` (kernels/detect/NUMERICS.md, "The model
// artifact").
absl::Status SaveQuantizedDetector(const QuantizedDetector& model,
                                   const std::string& dir);

// Reads and checks it: DataLoss for a checksum mismatch, InvalidArgument
// for anything else (another format or version, a missing or misshapen
// tensor, a layer that reads a tensor no earlier layer makes).
absl::StatusOr<QuantizedDetector> LoadQuantizedDetector(const std::string& dir);

}  // namespace fxserve::model::centernet

#endif  // FXSERVE_MODEL_CENTERNET_QUANTIZED_DETECTOR_H_
