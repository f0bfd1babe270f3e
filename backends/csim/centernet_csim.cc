#include "backends/csim/centernet_csim.h"

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "backends/csim/centernet_csim_builds.h"
#include "kernels/top/centernet_layers.h"

namespace fxserve::backends::csim {

namespace kcn = kernels::centernet;
using centernet_csim_internal::PackedConv;
using centernet_csim_internal::PackedLayer;
using model::centernet::ConvLayer;
using model::centernet::Epilogue;
using model::centernet::Gate;
using model::centernet::Layer;
using model::centernet::LayerKind;
using model::centernet::QuantizedDetector;
using model::centernet::QuantizedDetectorLayer;

namespace {

// The fields the kernels hold registers in (kernels/conv/feature_map.h).
constexpr int kFracMin = -8, kFracMax = 16;  // F of an 8-bit tensor.
constexpr int kPreMin = 0, kPreMax = 12;     // P of a 16-bit one.
constexpr int kShiftMin = -64, kShiftMax = 63;

static_assert(static_cast<int>(LayerKind::kConcat) ==
                  static_cast<int>(kcn::LayerOp::kConcat) &&
              static_cast<int>(LayerKind::kSqueezeExcite) ==
                  static_cast<int>(kcn::LayerOp::kSqueezeExcite));
static_assert(static_cast<int>(Epilogue::kLogits) ==
                  static_cast<int>(kcn::Act::kLogits) &&
              static_cast<int>(Epilogue::kHardSwish) ==
                  static_cast<int>(kcn::Act::kHardSwish));
static_assert(static_cast<int>(Gate::kSigmoid) ==
              static_cast<int>(kcn::Gate::kSigmoid));

template <class T>
absl::Status CheckValues(const std::vector<T>& values, long long lo,
                         long long hi, const std::string& what) {
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i] < lo || values[i] > hi) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, "[", i, "] = ", static_cast<long long>(values[i]),
                       " is outside [", lo, ", ", hi, "]"));
    }
  }
  return absl::OkStatus();
}

// One layer being checked: errors name it.
class LayerChecker {
 public:
  LayerChecker(const QuantizedDetector& q, int index)
      : q_(q), index_(index), ql_(q.layers[index]) {}

  absl::Status Bad(const std::string& what) const {
    return absl::InvalidArgumentError(
        absl::StrCat("layer ", index_, " (", ql_.layer.output, "): ", what,
                     "; the detector's tops are built for "
                     "kernels/top/centernet_layers.h"));
  }

  // F (or P) of `name`'s `channels` channels, each in [lo, hi].
  absl::StatusOr<std::vector<int>> Frac(const std::string& name, int channels,
                                        int lo = kFracMin,
                                        int hi = kFracMax) const {
    std::vector<int> f = q_.Frac(name, channels);
    if (absl::Status s = CheckValues(f, lo, hi, "binary point of " + name);
        !s.ok()) {
      return Bad(std::string(s.message()));
    }
    return f;
  }

  // The conv's codes and registers, weights transposed to HWIO.
  absl::StatusOr<PackedConv> Conv(const ConvLayer& g,
                                  const model::QuantizedLinear& w,
                                  int bits) const {
    const int k = g.kernel, cin = g.in_channels, cout = g.out_channels;
    const int taps = k * k * (g.depthwise ? 1 : cin);
    const std::string what = "conv " + g.node;
    if (w.bits != bits) {
      return Bad(absl::StrCat(what, " has int", w.bits,
                              " weights, this build int", bits));
    }
    if (w.weight.size() != static_cast<size_t>(cout) * taps ||
        w.bias.size() != static_cast<size_t>(cout) ||
        w.shift.size() != static_cast<size_t>(cout) ||
        (Fixed() && w.mult.size() != static_cast<size_t>(cout))) {
      return Bad(absl::StrCat(what,
                              ": weights, bias, shift or mult of the "
                              "wrong size"));
    }
    const long long wmax = (1LL << (bits - 1)) - 1;
    absl::Status s = CheckValues(w.weight, -wmax - 1, wmax, what + " weight");
    if (s.ok()) s = CheckValues(w.shift, kShiftMin, kShiftMax, what + " shift");
    if (!s.ok()) return Bad(std::string(s.message()));
    PackedConv p;
    p.w.resize(w.weight.size());
    for (int o = 0; o < cout; ++o) {
      for (int t = 0; t < k * k; ++t) {
        if (g.depthwise) {
          // [c][ky][kx] -> [ky][kx][c].
          p.w[static_cast<size_t>(t) * cout + o] =
              w.weight[static_cast<size_t>(o) * taps + t];
          continue;
        }
        for (int i = 0; i < cin; ++i) {
          // [cout][ky][kx][cin] -> [ky][kx][cin][cout].
          p.w[(static_cast<size_t>(t) * cin + i) * cout + o] =
              w.weight[static_cast<size_t>(o) * taps + t * cin + i];
        }
      }
    }
    p.bias.assign(w.bias.begin(), w.bias.end());
    p.shift.assign(w.shift.begin(), w.shift.end());
    p.mult.assign(cout, 0);
    if (Fixed()) p.mult.assign(w.mult.begin(), w.mult.end());
    p.p.assign(cout, 0);
    p.f_y.assign(cout, 0);
    return p;
  }

  bool Fixed() const { return q_.scales == model::ScaleKind::kFixed; }
  bool Unsigned(const std::string& name) const {
    return q_.unsigned_tensors.count(name) > 0;
  }

 private:
  const QuantizedDetector& q_;
  int index_;
  const QuantizedDetectorLayer& ql_;
};

// The conv geometry the table gives layer `spec` (or a squeeze-excite's
// reducing or expanding 1 x 1).
bool SameConv(const ConvLayer& c, int k, int s, bool depthwise, int cin,
              int cout) {
  return c.kernel == k && c.stride == s && c.depthwise == depthwise &&
         c.in_channels == cin && c.out_channels == cout;
}

absl::StatusOr<PackedLayer> PackLayer(const QuantizedDetector& q, int i,
                                      const std::vector<std::string>& names) {
  const LayerChecker check(q, i);
  const QuantizedDetectorLayer& ql = q.layers[i];
  const Layer& l = ql.layer;
  const kcn::LayerSpec& spec = kcn::kLayers[i];
  if (static_cast<int>(l.kind) != static_cast<int>(spec.op)) {
    return check.Bad("another kind of layer than the table's");
  }
  const int inputs = kcn::InputCount(spec);
  if (static_cast<int>(l.inputs.size()) != inputs) {
    return check.Bad(absl::StrCat(l.inputs.size(), " inputs, not ", inputs));
  }
  for (int j = 0; j < inputs; ++j) {
    const int t = kcn::InputOf(spec, j);
    if (l.inputs[j] != names[t]) {
      return check.Bad(absl::StrCat("input ", j, " is ", l.inputs[j],
                                    ", the table's is tensor ", t, " (",
                                    names[t], ")"));
    }
  }
  if (check.Unsigned(l.output) != kcn::kTensors[spec.out].is_unsigned) {
    return check.Bad(absl::StrCat(
        "its output is ", check.Unsigned(l.output) ? "uint8" : "int8",
        ", the table's ",
        kcn::kTensors[spec.out].is_unsigned ? "uint8" : "int8"));
  }
  const int c_in = spec.in_channels, c_out = spec.out_channels;
  PackedLayer p;
  switch (l.kind) {
    case LayerKind::kConv: {
      if (!SameConv(l.conv, spec.kernel, spec.stride, spec.depthwise, c_in,
                    c_out) ||
          static_cast<int>(l.conv.epilogue) !=
              static_cast<int>(spec.epilogue)) {
        return check.Bad("a conv geometry or epilogue other than the table's");
      }
      const int bits = kcn::KeepsInt8Weights(spec) ? 8 : q.weight_bits;
      absl::StatusOr<PackedConv> conv = check.Conv(l.conv, ql.conv, bits);
      if (!conv.ok()) return conv.status();
      p.conv = *std::move(conv);
      if (l.conv.epilogue == Epilogue::kHardSwish) {
        absl::StatusOr<std::vector<int>> pre =
            check.Frac(l.conv.node, c_out, kPreMin, kPreMax);
        absl::StatusOr<std::vector<int>> f_y = check.Frac(l.output, c_out);
        if (!pre.ok()) return pre.status();
        if (!f_y.ok()) return f_y.status();
        p.conv.p = *std::move(pre);
        p.conv.f_y = *std::move(f_y);
      }
      return p;
    }
    case LayerKind::kAdd:
    case LayerKind::kConcat: {
      const int c_b = l.kind == LayerKind::kAdd ? c_in : c_out - c_in;
      absl::StatusOr<std::vector<int>> f_a = check.Frac(l.inputs[0], c_in);
      absl::StatusOr<std::vector<int>> f_b = check.Frac(l.inputs[1], c_b);
      absl::StatusOr<std::vector<int>> f_y = check.Frac(l.output, c_out);
      for (const auto* f : {&f_a, &f_b, &f_y}) {
        if (!f->ok()) return f->status();
      }
      p.f_a = *std::move(f_a);
      p.f_b = *std::move(f_b);
      p.f_y = *std::move(f_y);
      return p;
    }
    case LayerKind::kResize2x: {
      absl::StatusOr<std::vector<int>> f_x = check.Frac(l.inputs[0], c_in);
      absl::StatusOr<std::vector<int>> f_y = check.Frac(l.output, c_in);
      if (!f_x.ok()) return f_x.status();
      if (!f_y.ok()) return f_y.status();
      p.f_x = *std::move(f_x);
      p.f_y = *std::move(f_y);
      return p;
    }
    case LayerKind::kSqueezeExcite: {
      const int sq = spec.squeeze_channels;
      if (!SameConv(l.conv, 1, 1, false, c_in, sq) ||
          l.conv.epilogue != Epilogue::kRelu ||
          !SameConv(l.expand, 1, 1, false, sq, c_in) ||
          static_cast<int>(l.gate) != static_cast<int>(spec.gate)) {
        return check.Bad(
            "a squeeze-excite shape or gate other than the "
            "table's");
      }
      if (check.Unsigned(l.output + "#mean") != spec.mean_unsigned ||
          check.Unsigned(l.conv.node) != spec.squeeze_unsigned) {
        return check.Bad(
            "its mean or reduction has another signedness than "
            "the table's");
      }
      absl::StatusOr<PackedConv> reduce =
          check.Conv(l.conv, ql.conv, q.weight_bits);
      if (!reduce.ok()) return reduce.status();
      absl::StatusOr<PackedConv> expand =
          check.Conv(l.expand, ql.expand, q.weight_bits);
      if (!expand.ok()) return expand.status();
      p.conv = *std::move(reduce);
      p.expand = *std::move(expand);
      absl::StatusOr<std::vector<int>> f_x = check.Frac(l.inputs[0], c_in);
      absl::StatusOr<std::vector<int>> f_m =
          check.Frac(l.output + "#mean", c_in);
      absl::StatusOr<std::vector<int>> f_y = check.Frac(l.output, c_in);
      for (const auto* f : {&f_x, &f_m, &f_y}) {
        if (!f->ok()) return f->status();
      }
      p.f_x = *std::move(f_x);
      p.f_m = *std::move(f_m);
      p.f_y = *std::move(f_y);
      p.p.assign(c_in, 0);  // The sigmoid gate needs no P.
      if (l.gate == Gate::kHardSigmoid) {
        absl::StatusOr<std::vector<int>> pre =
            check.Frac(l.expand.node, c_in, kPreMin, kPreMax);
        if (!pre.ok()) return pre.status();
        p.p = *std::move(pre);
      }
      return p;
    }
  }
  return check.Bad("an unknown kind of layer");
}

}  // namespace

namespace centernet_csim_internal {

absl::StatusOr<std::vector<PackedLayer>> PackDetector(
    const QuantizedDetector& q) {
  if (q.weight_bits != 8 && q.weight_bits != 4) {
    return absl::InvalidArgumentError(
        absl::StrCat("weight_bits is ", q.weight_bits,
                     "; detector builds exist for 8 and 4"));
  }
  if (static_cast<int>(q.layers.size()) != kcn::kLayerCount) {
    return absl::InvalidArgumentError(
        absl::StrCat("the model has ", q.layers.size(),
                     " layers; the detector's tops are built for the ",
                     kcn::kLayerCount, " of kernels/top/centernet_layers.h"));
  }
  // Tensor names by the table's index: the image, then layer outputs.
  std::vector<std::string> names = {q.input};
  for (const QuantizedDetectorLayer& ql : q.layers) {
    names.push_back(ql.layer.output);
  }
  std::vector<PackedLayer> layers;
  layers.reserve(kcn::kLayerCount);
  for (int i = 0; i < kcn::kLayerCount; ++i) {
    absl::StatusOr<PackedLayer> layer = PackLayer(q, i, names);
    if (!layer.ok()) return layer.status();
    layers.push_back(*std::move(layer));
  }
  if (q.keypoint_logits != names[kcn::kKeypointLogits] ||
      q.wh_logits != names[kcn::kWhLogits]) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the head logits are ", q.keypoint_logits, " and ", q.wh_logits,
        "; the table's are tensors ", kcn::kKeypointLogits, " (",
        names[kcn::kKeypointLogits], ") and ", kcn::kWhLogits, " (",
        names[kcn::kWhLogits], ")"));
  }
  return layers;
}

}  // namespace centernet_csim_internal

absl::StatusOr<std::unique_ptr<CenternetCsim>> CenternetCsim::Create(
    const QuantizedDetector& model) {
  absl::StatusOr<std::vector<PackedLayer>> layers =
      centernet_csim_internal::PackDetector(model);
  if (!layers.ok()) return layers.status();
  namespace builds = centernet_csim_internal;
  const bool fixed = model.scales == model::ScaleKind::kFixed;
  if (model.weight_bits == 8) {
    return fixed ? builds::CreateInt8Fixed(*layers)
                 : builds::CreateInt8Pow2(*layers);
  }
  return fixed ? builds::CreateInt4Fixed(*layers)
               : builds::CreateInt4Pow2(*layers);
}

absl::StatusOr<model::centernet::IntDetectorOutput> CenternetCsim::Run(
    absl::Span<const uint8_t> input) const {
  constexpr size_t kBytes = size_t{512} * 512 * 3;
  if (input.size() != kBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the detector takes 512 x 512 x 3 bytes, got ", input.size()));
  }
  return RunTop(input.data());
}

}  // namespace fxserve::backends::csim
