#include "tools/quantize/centernet_quantizer.h"

#include <algorithm>
#include <cmath>
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

using Fracs = std::map<std::string, std::vector<int>>;

// Tensors with a fixed format, not calibrated: the logits.
std::set<std::string> FixedFormat(const DetectorGraph& graph) {
  std::set<std::string> names = {graph.keypoint_logits, graph.wh_logits};
  for (const Layer& l : graph.layers) {
    if (l.kind == LayerKind::kSqueezeExcite && l.gate == Gate::kSigmoid) {
      names.insert(l.expand.node);
    }
  }
  return names;
}

// Per tensor and channel, the error of every candidate binary point over
// the calibration photos.
absl::StatusOr<std::map<std::string, std::vector<FractionSearch>>> Calibrate(
    const DetectorGraph& graph,
    const std::vector<model::image::RgbImage>& images,
    const DetectorQuantizeOptions& options) {
  const std::set<std::string> pre = PreActivations(graph);
  const std::set<std::string> fixed = FixedFormat(graph);
  std::map<std::string, std::vector<FractionSearch>> searches;
  const model::centernet::TensorObserver observer =
      [&](const std::string& name, const model::tfjs::Tensor& t) {
        if (fixed.count(name)) return;
        const size_t channels = static_cast<size_t>(t.shape.back());
        std::vector<FractionSearch>& s = searches[name];
        if (s.empty()) {
          const bool wide = pre.count(name) > 0;
          s.assign(channels,
                   FractionSearch(wide ? 16 : 8, wide ? kMinPre : kMinFrac,
                                  wide ? kMaxPre : kMaxFrac));
        }
        for (size_t i = 0; i < t.floats.size(); ++i) {
          s[i % channels].Add(t.floats[i]);
        }
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
  return searches;
}

// The binary point of every calibrated channel; concat inputs take their
// output's, so the concat is a copy.
Fracs ChooseFracs(
    const DetectorGraph& graph,
    const std::map<std::string, std::vector<FractionSearch>>& searches) {
  Fracs frac;
  for (const auto& [name, channels] : searches) {
    for (const FractionSearch& s : channels) frac[name].push_back(s.Best());
  }
  for (const Layer& l : graph.layers) {
    if (l.kind != LayerKind::kConcat) continue;
    const std::vector<int>& out = frac[l.output];
    const size_t split = frac[l.inputs[0]].size();
    frac[l.inputs[0]].assign(out.begin(), out.begin() + split);
    frac[l.inputs[1]].assign(out.begin() + split, out.end());
  }
  return frac;
}

std::vector<int> FracOf(const Fracs& frac, const std::string& name,
                        int channels) {
  auto it = frac.find(name);
  return it == frac.end() ? std::vector<int>(channels, 0) : it->second;
}

// A full conv reads channels of different binary points: 2^(Fmax - F_i)
// folds into input channel i's weights so that the sum is at Fmax. A
// depthwise conv reads one channel per output: its own F.
absl::StatusOr<model::QuantizedLinear> QuantizeConv(
    const ConvLayer& c, int bits, model::ScaleKind scales,
    const std::vector<int>& in_frac, const std::vector<int>& out_frac) {
  const int k2 = c.kernel * c.kernel;
  const float* bias = c.bias.floats.empty() ? nullptr : c.bias.floats.data();
  const std::vector<float>* bias_vector = bias ? &c.bias.floats : nullptr;
  if (c.depthwise) {
    return QuantizeLinear(c.node, c.filter.floats, bias_vector, k2,
                          c.out_channels, /*out_major=*/false, bits, scales,
                          in_frac, out_frac);
  }
  const int f_max = *std::max_element(in_frac.begin(), in_frac.end());
  std::vector<float> folded = c.filter.floats;  // [k][k][in][out].
  for (size_t i = 0; i < folded.size(); ++i) {
    const int ci = static_cast<int>(i / c.out_channels) % c.in_channels;
    folded[i] = std::ldexp(folded[i], f_max - in_frac[ci]);
  }
  return QuantizeLinear(c.node, folded, bias_vector, k2 * c.in_channels,
                        c.out_channels, /*out_major=*/false, bits, scales,
                        f_max, out_frac);
}

// The output binary points a conv's shifts aim at.
std::vector<int> ConvTarget(const ConvLayer& c, const Fracs& frac,
                            const std::string& output) {
  switch (c.epilogue) {
    case Epilogue::kHardSwish:
      return FracOf(frac, c.node, c.out_channels);  // P.
    case Epilogue::kLogits:
      return std::vector<int>(c.out_channels, kLogitFrac);
    default:
      return FracOf(frac, output, c.out_channels);
  }
}

absl::Status QuantizeLayer(const Layer& l, const DetectorGraph& graph,
                           const DetectorQuantizeOptions& options,
                           QuantizedDetector& q, QuantizedDetectorLayer& ql) {
  const Fracs& frac = q.frac;
  if (l.kind == LayerKind::kConv) {
    // The stem and the head outputs keep int8 weights in every build.
    const bool edge =
        l.inputs[0] == graph.input || l.conv.epilogue == Epilogue::kLogits;
    absl::StatusOr<model::QuantizedLinear> w =
        QuantizeConv(l.conv, edge ? 8 : options.weight_bits, options.scales,
                     FracOf(frac, l.inputs[0], l.conv.in_channels),
                     ConvTarget(l.conv, frac, l.output));
    if (!w.ok()) return w.status();
    ql.conv = *std::move(w);
  } else if (l.kind == LayerKind::kSqueezeExcite) {
    const int c = l.conv.in_channels, r = l.conv.out_channels;
    const std::vector<int> gate_target = l.gate == Gate::kSigmoid
                                             ? std::vector<int>(c, kLogitFrac)
                                             : FracOf(frac, l.expand.node, c);
    absl::StatusOr<model::QuantizedLinear> reduce = QuantizeConv(
        l.conv, options.weight_bits, options.scales,
        FracOf(frac, l.output + "#mean", c), FracOf(frac, l.conv.node, r));
    if (!reduce.ok()) return reduce.status();
    absl::StatusOr<model::QuantizedLinear> expand =
        QuantizeConv(l.expand, options.weight_bits, options.scales,
                     FracOf(frac, l.conv.node, r), gate_target);
    if (!expand.ok()) return expand.status();
    ql.conv = *std::move(reduce);
    ql.expand = *std::move(expand);
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
  absl::StatusOr<std::map<std::string, std::vector<FractionSearch>>> searches =
      Calibrate(graph, calibration_images, options);
  if (!searches.ok()) return searches.status();
  QuantizedDetector q;
  q.weight_bits = options.weight_bits;
  q.scales = options.scales;
  q.input = graph.input;
  q.keypoint_logits = graph.keypoint_logits;
  q.wh_logits = graph.wh_logits;
  q.frac = ChooseFracs(graph, *searches);
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
