// The CenterNet graph lowered to layers (kernels/detect/NUMERICS.md, "The
// integer graph"): each TF pattern (a conv with its fused or unfused
// activation, a squeeze-excite block, a residual add, a x2 resize, a concat
// with its relu) becomes one layer, the unit that the quantizer calibrates
// and the kernels and CPU backend implement. RunFloatLayers runs them in
// float with the graph's exact operation order, so its tensors equal the
// graph executor's; the quantizer observes them.
#ifndef FXSERVE_MODEL_CENTERNET_DETECTOR_GRAPH_H_
#define FXSERVE_MODEL_CENTERNET_DETECTOR_GRAPH_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/tfjs/graph_model.h"

namespace fxserve::model::centernet {

enum class Epilogue {
  kNone,
  kRelu,
  kHardSwish,  // x * c * relu6(x + 3), c = float16(1/6).
  kLogits,     // A head output, kept in 16 bits.
};

enum class Gate { kHardSigmoid, kSigmoid };

struct ConvLayer {
  std::string node;  // The TF conv node (its output is the pre-activation).
  int kernel = 1;
  int stride = 1;
  bool depthwise = false;
  int in_channels = 0;
  int out_channels = 0;
  Epilogue epilogue = Epilogue::kNone;
  tfjs::Tensor filter;  // [k, k, in, out]; depthwise [k, k, c, 1].
  tfjs::Tensor bias;    // [out], or no elements.
};

enum class LayerKind { kConv, kAdd, kSqueezeExcite, kResize2x, kConcat };

struct Layer {
  LayerKind kind = LayerKind::kConv;
  std::string output;               // Tensor name: the TF node it equals.
  std::vector<std::string> inputs;  // Tensor names.
  ConvLayer conv;    // kConv; kSqueezeExcite: the reducing 1x1 (relu).
  ConvLayer expand;  // kSqueezeExcite: the expanding 1x1 (gate input).
  Gate gate = Gate::kHardSigmoid;  // kSqueezeExcite.
};

struct DetectorGraph {
  std::string input;            // [1, 512, 512, 3] RGB 0..255.
  std::vector<Layer> layers;    // In an order that computes inputs first.
  std::string keypoint_logits;  // [1, 128, 128, 80], before the sigmoid.
  std::string wh_logits;        // [1, 128, 128, 4], before the * 16.
};

// Pattern-matches the CenterNet TF.js graph; a node that fits no pattern
// is UNIMPLEMENTED, naming it.
absl::StatusOr<DetectorGraph> LowerDetector(const tfjs::GraphModel& model);

// Called for every tensor a layer computes: each layer's output by its
// name, and the pre-activations that the integer graph keeps in 16 bits
// (hard-swish inputs and squeeze-excite gate inputs) by their TF node's
// name.
using TensorObserver =
    std::function<void(const std::string& name, const tfjs::Tensor& value)>;

// The layers in float; returns the tensors named in `keep` (and always the
// two logits).
absl::StatusOr<std::map<std::string, tfjs::Tensor>> RunFloatLayers(
    const DetectorGraph& graph, const tfjs::Tensor& input,
    const std::vector<std::string>& keep = {},
    const TensorObserver& observer = nullptr);

}  // namespace fxserve::model::centernet

#endif  // FXSERVE_MODEL_CENTERNET_DETECTOR_GRAPH_H_
