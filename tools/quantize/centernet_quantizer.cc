#include "tools/quantize/centernet_quantizer.h"

#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "model/centernet/int_reference.h"
#include "tools/quantize/scales.h"

namespace fxserve::quantize {
namespace {

using model::centernet::ConvLayer;
using model::centernet::DetectorGraph;
using model::centernet::Epilogue;
using model::centernet::Gate;
using model::centernet::Layer;
using model::centernet::LayerKind;
using model::centernet::QuantizedDetector;
using model::centernet::QuantizedDetectorLayer;

// Binary points the calibration considers (NUMERICS.md, "The quantizer").
constexpr int kMinFrac = -8, kMaxFrac = 16;  // int8 tensors.
constexpr int kMinPre = 0, kMaxPre = 12;     // 16-bit pre-activations.
constexpr int kLogitFrac = 8;

// The 16-bit pre-activations: hard-swish inputs, hard-sigmoid gate inputs.
std::set<std::string> PreActivations(const DetectorGraph& graph) {
  std::set<std::string> names;
  for (const Layer& l : graph.layers) {
    if (l.kind == LayerKind::kConv && l.conv.epilogue == Epilogue::kHardSwish) {
      names.insert(l.conv.node);
    }
    if (l.kind == LayerKind::kSqueezeExcite && l.gate == Gate::kHardSigmoid) {
      names.insert(l.expand.node);
    }
  }
  return names;
}

absl::StatusOr<std::map<std::string, Reservoir>> Calibrate(
    const DetectorGraph& graph,
    const std::vector<model::image::RgbImage>& images,
    const DetectorQuantizeOptions& options) {
  std::map<std::string, Reservoir> samples;
  const model::centernet::TensorObserver observer =
      [&](const std::string& name, const model::tfjs::Tensor& t) {
        Reservoir& r = samples[name];
        for (float v : t.floats) r.Add(v);
      };
  for (size_t i = 0; i < images.size(); ++i) {
    // The float layers see the very pixels the integer graph will get.
    const std::vector<uint8_t> pixels =
        model::centernet::ResizeToInput(images[i]);
    model::tfjs::Tensor input;
    input.shape = {1, 512, 512, 3};
    input.floats.assign(pixels.begin(), pixels.end());
    absl::StatusOr<std::map<std::string, model::tfjs::Tensor>> out =
        model::centernet::RunFloatLayers(graph, input, {}, observer);
    if (!out.ok()) return out.status();
    if (options.progress) {
      options.progress(absl::StrCat("calibrating: image ", i + 1, "/",
                                    images.size(),
                                    " through the float layers"));
    }
  }
  return samples;
}

// The binary point of every calibrated tensor; concat inputs share their
// output's, so the concat is a copy.
std::map<std::string, int> ChooseFracs(
    const DetectorGraph& graph,
    const std::map<std::string, Reservoir>& samples) {
  const std::set<std::string> pre = PreActivations(graph);
  std::set<std::string> fixed_logits = {graph.keypoint_logits, graph.wh_logits};
  for (const Layer& l : graph.layers) {
    if (l.kind == LayerKind::kSqueezeExcite && l.gate == Gate::kSigmoid) {
      fixed_logits.insert(l.expand.node);
    }
  }
  std::map<std::string, int> frac;
  for (const auto& [name, reservoir] : samples) {
    if (fixed_logits.count(name)) continue;
    frac[name] = pre.count(name)
                     ? BestFraction(reservoir.values(), 16, kMinPre, kMaxPre)
                     : BestFraction(reservoir.values(), 8, kMinFrac, kMaxFrac);
  }
  for (const Layer& l : graph.layers) {
    if (l.kind != LayerKind::kConcat) continue;
    for (const std::string& in : l.inputs) frac[in] = frac[l.output];
  }
  return frac;
}

int FracOf(const std::map<std::string, int>& frac, const std::string& name) {
  auto it = frac.find(name);
  return it == frac.end() ? 0 : it->second;
}

absl::StatusOr<model::QuantizedLinear> QuantizeConv(const ConvLayer& c,
                                                    int bits,
                                                    model::ScaleKind scales,
                                                    int in_frac, int out_frac) {
  const int per_channel =
      c.kernel * c.kernel * (c.depthwise ? 1 : c.in_channels);
  return QuantizeLinear(
      c.node, c.filter.floats, c.bias.floats.empty() ? nullptr : &c.bias.floats,
      per_channel, c.out_channels, /*out_major=*/false, bits, scales, in_frac,
      std::vector<int>(c.out_channels, out_frac));
}

// The output binary point a conv's shifts aim at.
int ConvTarget(const ConvLayer& c, const std::map<std::string, int>& frac,
               const std::string& output) {
  switch (c.epilogue) {
    case Epilogue::kHardSwish:
      return FracOf(frac, c.node);  // P.
    case Epilogue::kLogits:
      return kLogitFrac;
    default:
      return FracOf(frac, output);
  }
}

absl::Status QuantizeLayer(const Layer& l, const DetectorGraph& graph,
                           const DetectorQuantizeOptions& options,
                           QuantizedDetector& q, QuantizedDetectorLayer& ql) {
  const auto& frac = q.frac;
  if (l.kind == LayerKind::kConv) {
    // The stem and the head outputs keep int8 weights in every build.
    const bool edge =
        l.inputs[0] == graph.input || l.conv.epilogue == Epilogue::kLogits;
    absl::StatusOr<model::QuantizedLinear> w = QuantizeConv(
        l.conv, edge ? 8 : options.weight_bits, options.scales,
        FracOf(frac, l.inputs[0]), ConvTarget(l.conv, frac, l.output));
    if (!w.ok()) return w.status();
    ql.conv = *std::move(w);
  } else if (l.kind == LayerKind::kSqueezeExcite) {
    const int gate_target =
        l.gate == Gate::kSigmoid ? kLogitFrac : FracOf(frac, l.expand.node);
    absl::StatusOr<model::QuantizedLinear> r = QuantizeConv(
        l.conv, options.weight_bits, options.scales,
        FracOf(frac, l.output + "#mean"), FracOf(frac, l.conv.node));
    if (!r.ok()) return r.status();
    absl::StatusOr<model::QuantizedLinear> e =
        QuantizeConv(l.expand, options.weight_bits, options.scales,
                     FracOf(frac, l.conv.node), gate_target);
    if (!e.ok()) return e.status();
    ql.conv = *std::move(r);
    ql.expand = *std::move(e);
  }
  ql.layer = l;
  for (ConvLayer* c : {&ql.layer.conv, &ql.layer.expand}) {
    c->filter = {};
    c->bias = {};
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<QuantizedDetector> QuantizeDetector(
    const DetectorGraph& graph,
    const std::vector<model::image::RgbImage>& calibration_images,
    const DetectorQuantizeOptions& options) {
  if (options.weight_bits != 8 && options.weight_bits != 4) {
    return absl::InvalidArgumentError(
        absl::StrCat("weight bits must be 8 or 4, got ", options.weight_bits));
  }
  if (calibration_images.empty()) {
    return absl::InvalidArgumentError("no calibration images");
  }
  absl::StatusOr<std::map<std::string, Reservoir>> samples =
      Calibrate(graph, calibration_images, options);
  if (!samples.ok()) return samples.status();
  QuantizedDetector q;
  q.weight_bits = options.weight_bits;
  q.scales = options.scales;
  q.input = graph.input;
  q.keypoint_logits = graph.keypoint_logits;
  q.wh_logits = graph.wh_logits;
  q.frac = ChooseFracs(graph, *samples);
  if (options.progress) {
    options.progress(absl::StrCat("calibrated the binary points of ",
                                  q.frac.size(), " tensors"));
  }
  for (const Layer& l : graph.layers) {
    QuantizedDetectorLayer ql;
    if (absl::Status s = QuantizeLayer(l, graph, options, q, ql); !s.ok()) {
      return s;
    }
    q.layers.push_back(std::move(ql));
  }
  if (options.progress) {
    options.progress(absl::StrCat("quantized ", q.layers.size(), " layers"));
  }
  return q;
}

}  // namespace fxserve::quantize
