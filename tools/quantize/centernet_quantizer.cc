#include "tools/quantize/centernet_quantizer.h"

#include <algorithm>
#include <cmath>
#include <functional>
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
// A channel's F clips at most this share of its calibration values:
// measured on the darknet photos, the least-squares F clips 0.1 to 0.5% of
// the largest activations, which are the objects (W8A8 max score drift
// 0.19 -> 0.13 with this bound; 1e-3 and 1e-5 do worse).
constexpr double kMaxClipped = 1e-4;

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

// The tensors that are non-negative by construction: relu outputs, and
// squeeze-excite, resize and add of non-negative inputs only.
std::set<std::string> NonNegative(const DetectorGraph& graph) {
  std::set<std::string> out;
  // A concat's inputs too when the concat (and its relu) is their only
  // reader: clamping them at 0 where they are made is that relu.
  std::map<std::string, int> readers, concat_readers;
  for (const Layer& l : graph.layers) {
    for (const std::string& in : l.inputs) {
      ++readers[in];
      if (l.kind == LayerKind::kConcat) ++concat_readers[in];
    }
  }
  for (const auto& [name, n] : concat_readers) {
    if (readers[name] == n) out.insert(name);
  }
  auto all = [&](const std::vector<std::string>& names) {
    return std::all_of(names.begin(), names.end(),
                       [&](const std::string& n) { return out.count(n) > 0; });
  };
  for (const Layer& l : graph.layers) {
    switch (l.kind) {
      case LayerKind::kConv:
        if (l.conv.epilogue == Epilogue::kRelu) out.insert(l.output);
        break;
      case LayerKind::kConcat:
        out.insert(l.output);
        break;
      case LayerKind::kSqueezeExcite:
        out.insert(l.conv.node);  // The relu'd reduction.
        if (all(l.inputs)) out.insert({l.output, l.output + "#mean"});
        break;
      case LayerKind::kResize2x:
      case LayerKind::kAdd:
        if (all(l.inputs)) out.insert(l.output);
        break;
    }
  }
  return out;
}

// What calibration learns per tensor and channel: the error of every
// candidate binary point, and the mean (for bias correction).
struct Statistics {
  std::map<std::string, std::vector<FractionSearch>> searches;
  std::map<std::string, std::vector<double>> sums;
  std::map<std::string, double> counts;  // Values per channel.

  void AddMean(const std::string& name, const std::vector<float>& values,
               size_t channels) {
    std::vector<double>& sum = sums[name];
    sum.resize(channels, 0);
    for (size_t i = 0; i < values.size(); ++i) sum[i % channels] += values[i];
    counts[name] += static_cast<double>(values.size() / channels);
  }
  std::vector<double> Mean(const std::string& name, int channels) const {
    auto it = sums.find(name);
    if (it == sums.end()) return std::vector<double>(channels, 0);
    std::vector<double> mean = it->second;
    for (double& m : mean) m /= counts.at(name);
    return mean;
  }
};

// Per tensor and channel, over the calibration photos.
absl::StatusOr<Statistics> Calibrate(
    const DetectorGraph& graph,
    const std::vector<model::image::RgbImage>& images,
    const DetectorQuantizeOptions& options) {
  const std::set<std::string> pre = PreActivations(graph);
  const std::set<std::string> fixed = FixedFormat(graph);
  const std::set<std::string> non_negative = NonNegative(graph);
  Statistics stats;
  const model::centernet::TensorObserver observer =
      [&](const std::string& name, const model::tfjs::Tensor& t) {
        const size_t channels = static_cast<size_t>(t.shape.back());
        stats.AddMean(name, t.floats, channels);
        if (fixed.count(name)) return;
        std::vector<FractionSearch>& s = stats.searches[name];
        if (s.empty()) {
          const bool wide = pre.count(name) > 0;
          s.assign(channels,
                   FractionSearch(wide ? 16 : 8, wide ? kMinPre : kMinFrac,
                                  wide ? kMaxPre : kMaxFrac,
                                  non_negative.count(name) > 0));
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
    stats.AddMean(graph.input, input.floats, 3);
    absl::StatusOr<std::map<std::string, model::tfjs::Tensor>> out =
        model::centernet::RunFloatLayers(graph, input, {}, observer);
    if (!out.ok()) return out.status();
    if (options.progress) {
      options.progress(absl::StrCat("calibrating: image ", i + 1, "/",
                                    images.size(),
                                    " through the float layers"));
    }
  }
  return stats;
}

// The binary point of every calibrated channel; concat inputs take their
// output's, so the concat is a copy.
Fracs ChooseFracs(
    const DetectorGraph& graph,
    const std::map<std::string, std::vector<FractionSearch>>& searches) {
  // A tensor that a full conv reads shares one F over its channels: folding
  // 2^(Fmax - F_i) into the weights would cost the weights' precision.
  std::set<std::string> shared;
  for (const Layer& l : graph.layers) {
    if (l.kind == LayerKind::kConv && !l.conv.depthwise) {
      shared.insert(l.inputs[0]);
    }
    if (l.kind == LayerKind::kSqueezeExcite) {
      shared.insert({l.output + "#mean", l.conv.node});
    }
  }
  Fracs frac;
  for (const auto& [name, channels] : searches) {
    if (shared.count(name)) {
      frac[name].assign(channels.size(), BestSharedFraction(channels));
      continue;
    }
    for (const FractionSearch& s : channels) {
      frac[name].push_back(s.BestClipping(kMaxClipped));
    }
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

// Bias correction (Nagel et al., "Data-Free Quantization", 2019): the
// rounded weights shift each output's mean by sum_i (w'_i - w_i) E[x_i];
// the bias takes that back. `weights` is [k][k][in][out] as quantized (after
// folding); mean_of(o, i) is E[x] at weight index i of output o in the same
// units.
void CorrectBias(const std::vector<float>& weights, const ConvLayer& c,
                 const std::vector<int>& in_frac,
                 const std::vector<int>& out_frac,
                 const std::function<double(int, int)>& mean_of,
                 model::QuantizedLinear& q) {
  for (int o = 0; o < q.out; ++o) {
    const int e = q.shift[o] - in_frac[o] + out_frac[o];
    const double scale =
        std::ldexp(q.mult.empty() ? 1.0 : q.mult[o], -e);  // Per code.
    double shift_of_mean = 0;
    for (int i = 0; i < q.in; ++i) {
      const double w = weights[static_cast<size_t>(i) * q.out + o];
      const double rounded =
          q.weight[static_cast<size_t>(o) * q.in + i] * scale;
      shift_of_mean += (rounded - w) * mean_of(o, i);
    }
    const double bias =
        (c.bias.floats.empty() ? 0.0 : c.bias.floats[o]) - shift_of_mean;
    q.bias[o] = static_cast<int32_t>(
        Clamp(Rne(std::ldexp(bias / scale, in_frac[o])), INT32_MIN, INT32_MAX));
  }
}

// A full conv reads channels of different binary points: 2^(Fmax - F_i)
// folds into input channel i's weights so that the sum is at Fmax. A
// depthwise conv reads one channel per output: its own F. `in_mean` is the
// input's mean per channel.
absl::StatusOr<model::QuantizedLinear> QuantizeConv(
    const ConvLayer& c, int bits, model::ScaleKind scales,
    const std::vector<int>& in_frac, const std::vector<int>& out_frac,
    const std::vector<double>& in_mean) {
  const int k2 = c.kernel * c.kernel;
  const std::vector<float>* bias =
      c.bias.floats.empty() ? nullptr : &c.bias.floats;
  if (c.depthwise) {
    absl::StatusOr<model::QuantizedLinear> q =
        QuantizeLinear(c.node, c.filter.floats, bias, k2, c.out_channels,
                       /*out_major=*/false, bits, scales, in_frac, out_frac);
    if (q.ok()) {
      CorrectBias(
          c.filter.floats, c, in_frac, out_frac,
          [&](int o, int) { return in_mean[o]; }, *q);
    }
    return q;
  }
  const int f_max = *std::max_element(in_frac.begin(), in_frac.end());
  std::vector<float> folded = c.filter.floats;  // [k][k][in][out].
  for (size_t i = 0; i < folded.size(); ++i) {
    const int ci = static_cast<int>(i / c.out_channels) % c.in_channels;
    folded[i] = std::ldexp(folded[i], f_max - in_frac[ci]);
  }
  absl::StatusOr<model::QuantizedLinear> q =
      QuantizeLinear(c.node, folded, bias, k2 * c.in_channels, c.out_channels,
                     /*out_major=*/false, bits, scales, f_max, out_frac);
  if (q.ok()) {
    // The folded input x_i 2^(F_i - Fmax) has that much of the mean too.
    CorrectBias(
        folded, c, std::vector<int>(c.out_channels, f_max), out_frac,
        [&](int, int i) {
          const int ci = i % c.in_channels;
          return std::ldexp(in_mean[ci], in_frac[ci] - f_max);
        },
        *q);
  }
  return q;
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
                           const Statistics& stats, QuantizedDetector& q,
                           QuantizedDetectorLayer& ql) {
  const Fracs& frac = q.frac;
  if (l.kind == LayerKind::kConv) {
    // The stem and the head outputs keep int8 weights in every build.
    const bool edge =
        l.inputs[0] == graph.input || l.conv.epilogue == Epilogue::kLogits;
    absl::StatusOr<model::QuantizedLinear> w =
        QuantizeConv(l.conv, edge ? 8 : options.weight_bits, options.scales,
                     FracOf(frac, l.inputs[0], l.conv.in_channels),
                     ConvTarget(l.conv, frac, l.output),
                     stats.Mean(l.inputs[0], l.conv.in_channels));
    if (!w.ok()) return w.status();
    ql.conv = *std::move(w);
  } else if (l.kind == LayerKind::kSqueezeExcite) {
    const int c = l.conv.in_channels, r = l.conv.out_channels;
    const std::vector<int> gate_target = l.gate == Gate::kSigmoid
                                             ? std::vector<int>(c, kLogitFrac)
                                             : FracOf(frac, l.expand.node, c);
    absl::StatusOr<model::QuantizedLinear> reduce = QuantizeConv(
        l.conv, options.weight_bits, options.scales,
        FracOf(frac, l.output + "#mean", c), FracOf(frac, l.conv.node, r),
        stats.Mean(l.output + "#mean", c));
    if (!reduce.ok()) return reduce.status();
    absl::StatusOr<model::QuantizedLinear> expand = QuantizeConv(
        l.expand, options.weight_bits, options.scales,
        FracOf(frac, l.conv.node, r), gate_target, stats.Mean(l.conv.node, r));
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
  absl::StatusOr<Statistics> stats =
      Calibrate(graph, calibration_images, options);
  if (!stats.ok()) return stats.status();
  QuantizedDetector q;
  q.weight_bits = options.weight_bits;
  q.scales = options.scales;
  q.input = graph.input;
  q.keypoint_logits = graph.keypoint_logits;
  q.wh_logits = graph.wh_logits;
  q.frac = ChooseFracs(graph, stats->searches);
  q.unsigned_tensors = NonNegative(graph);
  if (options.progress) {
    options.progress(absl::StrCat("calibrated the binary points of ",
                                  q.frac.size(), " tensors"));
  }
  for (const Layer& l : graph.layers) {
    QuantizedDetectorLayer ql;
    if (absl::Status s = QuantizeLayer(l, graph, options, *stats, q, ql);
        !s.ok()) {
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
