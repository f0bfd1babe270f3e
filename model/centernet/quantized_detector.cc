#include "model/centernet/quantized_detector.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "model/artifact_io.h"
#include "nlohmann/json.hpp"

namespace fxserve::model::centernet {
namespace {

using Json = nlohmann::json;

constexpr const char* kKinds[] = {"conv", "add", "squeeze_excite", "resize2x",
                                  "concat"};
constexpr const char* kEpilogues[] = {"none", "relu", "hard_swish", "logits"};
constexpr const char* kGates[] = {"hard_sigmoid", "sigmoid"};

template <class Enum, size_t N>
bool FromName(const Json& value, const char* const (&names)[N], Enum& out) {
  if (!value.is_string()) return false;
  for (size_t i = 0; i < N; ++i) {
    if (value == names[i]) {
      out = static_cast<Enum>(i);
      return true;
    }
  }
  return false;
}

int WeightsPerChannel(const ConvLayer& c) {
  return c.kernel * c.kernel * (c.depthwise ? 1 : c.in_channels);
}

Json ConvJson(const ConvLayer& c, int bits) {
  return {{"node", c.node},
          {"kernel", c.kernel},
          {"stride", c.stride},
          {"depthwise", c.depthwise},
          {"in", c.in_channels},
          {"out", c.out_channels},
          {"epilogue", kEpilogues[static_cast<int>(c.epilogue)]},
          {"bits", bits}};
}

Json GraphJson(const QuantizedDetector& q) {
  Json layers = Json::array();
  for (const QuantizedDetectorLayer& ql : q.layers) {
    const Layer& l = ql.layer;
    Json j = {{"kind", kKinds[static_cast<int>(l.kind)]},
              {"output", l.output},
              {"inputs", l.inputs}};
    if (l.kind == LayerKind::kConv || l.kind == LayerKind::kSqueezeExcite) {
      j["conv"] = ConvJson(l.conv, ql.conv.bits);
    }
    if (l.kind == LayerKind::kSqueezeExcite) {
      j["expand"] = ConvJson(l.expand, ql.expand.bits);
      j["gate"] = kGates[static_cast<int>(l.gate)];
    }
    layers.push_back(std::move(j));
  }
  return {{"input", q.input},
          {"keypoint_logits", q.keypoint_logits},
          {"wh_logits", q.wh_logits},
          {"layers", std::move(layers)}};
}

absl::Status ParseConv(const Json& j, const std::string& where, ConvLayer& c,
                       int& bits) {
  auto bad = [&](const std::string& what) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": ", what, " in ", j.dump()));
  };
  if (!j.is_object() || !j.value("node", Json()).is_string()) {
    return bad("no conv description");
  }
  c.node = j["node"].get<std::string>();
  for (auto [key, field] : {std::pair{"kernel", &c.kernel},
                            {"stride", &c.stride},
                            {"in", &c.in_channels},
                            {"out", &c.out_channels},
                            {"bits", &bits}}) {
    const Json v = j.value(key, Json());
    if (!v.is_number_integer()) return bad(absl::StrCat("no integer ", key));
    *field = v.get<int>();
  }
  const Json depthwise = j.value("depthwise", Json());
  if (!depthwise.is_boolean()) return bad("no depthwise flag");
  c.depthwise = depthwise.get<bool>();
  if (!FromName(j.value("epilogue", Json()), kEpilogues, c.epilogue)) {
    return bad("an unknown epilogue");
  }
  if ((c.kernel != 1 && c.kernel != 3 && c.kernel != 5) ||
      (c.stride != 1 && c.stride != 2) || c.in_channels < 1 ||
      c.in_channels > 4096 || c.out_channels < 1 || c.out_channels > 4096 ||
      (c.depthwise && c.in_channels != c.out_channels) ||
      (bits != 8 && bits != 4)) {
    return bad("a conv shape or width the numerics contract does not have");
  }
  return absl::OkStatus();
}

absl::Status ParseLayer(const Json& j, const std::string& where,
                        QuantizedDetectorLayer& ql, int& conv_bits,
                        int& expand_bits) {
  Layer& l = ql.layer;
  if (!j.is_object() || !FromName(j.value("kind", Json()), kKinds, l.kind) ||
      !j.value("output", Json()).is_string() ||
      !j.value("inputs", Json()).is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": not a layer: ", j.dump()));
  }
  l.output = j["output"].get<std::string>();
  for (const Json& in : j["inputs"]) {
    if (!in.is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": an input that is not a name"));
    }
    l.inputs.push_back(in.get<std::string>());
  }
  const size_t want_inputs =
      l.kind == LayerKind::kAdd || l.kind == LayerKind::kConcat ? 2 : 1;
  if (l.inputs.size() != want_inputs) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": ", l.inputs.size(), " inputs, expected ", want_inputs));
  }
  if (l.kind == LayerKind::kConv || l.kind == LayerKind::kSqueezeExcite) {
    absl::Status s =
        ParseConv(j.value("conv", Json()), where, l.conv, conv_bits);
    if (!s.ok()) return s;
  }
  if (l.kind == LayerKind::kSqueezeExcite) {
    absl::Status s =
        ParseConv(j.value("expand", Json()), where, l.expand, expand_bits);
    if (!s.ok()) return s;
    if (!FromName(j.value("gate", Json()), kGates, l.gate)) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": unknown gate"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<int> QuantizedDetector::Frac(const std::string& name,
                                         int channels) const {
  auto it = frac.find(name);
  if (it == frac.end() || static_cast<int>(it->second.size()) != channels) {
    return std::vector<int>(channels, 0);
  }
  return it->second;
}

absl::Status SaveQuantizedDetector(const QuantizedDetector& model,
                                   const std::string& dir) {
  ArtifactTensors tensors;
  for (const QuantizedDetectorLayer& ql : model.layers) {
    const LayerKind kind = ql.layer.kind;
    if (kind == LayerKind::kConv || kind == LayerKind::kSqueezeExcite) {
      tensors.AddLinear(ql.layer.output + ".conv", ql.conv);
    }
    if (kind == LayerKind::kSqueezeExcite) {
      tensors.AddLinear(ql.layer.output + ".expand", ql.expand);
    }
  }
  const Json quantization = {{"weight_bits", model.weight_bits},
                             {"scales", ScaleKindName(model.scales)},
                             {"frac", model.frac},
                             {"unsigned", model.unsigned_tensors}};
  return WriteArtifact(dir, kDetectorArtifactFormat,
                       kDetectorArtifactFormatVersion, tensors,
                       {{"graph", GraphJson(model).dump()},
                        {"quantization", quantization.dump()},
                        {"class_names", Json(model.class_names).dump()}});
}

absl::StatusOr<QuantizedDetector> LoadQuantizedDetector(
    const std::string& dir) {
  const std::string path = ArtifactPath(dir);
  absl::StatusOr<SafetensorsFile> file = OpenArtifact(
      dir, kDetectorArtifactFormat, kDetectorArtifactFormatVersion,
      "fxtool quantize --model CENTERNET_DIR --calib-images DIR --out " + dir);
  if (!file.ok()) return file.status();
  auto field = [&](const char* key) {
    auto it = file->metadata().find(key);
    return Json::parse(it == file->metadata().end() ? "" : it->second, nullptr,
                       false);
  };
  const Json graph = field("graph");
  const Json quantization = field("quantization");
  if (!graph.is_object() || !quantization.is_object() ||
      !graph.value("layers", Json()).is_array()) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": the graph or quantization metadata is not valid JSON"));
  }
  QuantizedDetector q;
  if (absl::Status st =
          ReadWeightFormat(path, quantization.dump(), q.weight_bits, q.scales);
      !st.ok()) {
    return st;
  }
  const Json fracs = quantization.value("frac", Json::object());
  for (const auto& [name, values] : fracs.items()) {
    std::vector<int>& f = q.frac[name];
    for (const Json& value : values) {
      if (!value.is_number_integer() || value < -32 || value > 32) {
        return absl::InvalidArgumentError(absl::StrCat(
            path, ": a binary point of ", name, " is ", value.dump()));
      }
      f.push_back(value.get<int>());
    }
  }
  for (auto [key, out] : {std::pair{"input", &q.input},
                          {"keypoint_logits", &q.keypoint_logits},
                          {"wh_logits", &q.wh_logits}}) {
    if (!graph.value(key, Json()).is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": the graph metadata has no ", key));
    }
    *out = graph[key].get<std::string>();
  }
  const Json unsigned_tensors = quantization.value("unsigned", Json::array());
  for (const Json& name : unsigned_tensors) {
    if (!name.is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": an unsigned tensor that is not a name"));
    }
    q.unsigned_tensors.insert(name.get<std::string>());
  }
  const Json names = field("class_names");
  if (!names.is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": the class_names metadata is not a JSON list"));
  }
  for (const Json& name : names) {
    if (!name.is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": a class name that is not a string"));
    }
    q.class_names.push_back(name.get<std::string>());
  }
  ArtifactReader reader(*file, path);
  const bool fixed = q.scales == ScaleKind::kFixed;
  std::set<std::string> defined = {q.input};
  for (const Json& j : graph["layers"]) {
    const std::string where = absl::StrCat(path, ": layer ", q.layers.size());
    QuantizedDetectorLayer ql;
    int conv_bits = 8, expand_bits = 8;
    absl::Status s = ParseLayer(j, where, ql, conv_bits, expand_bits);
    for (size_t i = 0; s.ok() && i < ql.layer.inputs.size(); ++i) {
      if (!defined.count(ql.layer.inputs[i])) {
        s = absl::InvalidArgumentError(
            absl::StrCat(where, " reads ", ql.layer.inputs[i],
                         ", which no earlier layer makes"));
      }
    }
    const Layer& l = ql.layer;
    if (s.ok() &&
        (l.kind == LayerKind::kConv || l.kind == LayerKind::kSqueezeExcite)) {
      s = reader.Linear(l.output + ".conv", WeightsPerChannel(l.conv),
                        l.conv.out_channels, conv_bits, fixed, ql.conv);
    }
    if (s.ok() && l.kind == LayerKind::kSqueezeExcite) {
      s = reader.Linear(l.output + ".expand", WeightsPerChannel(l.expand),
                        l.expand.out_channels, expand_bits, fixed, ql.expand);
    }
    if (!s.ok()) return s;
    defined.insert(l.output);
    q.layers.push_back(std::move(ql));
  }
  if (!defined.count(q.keypoint_logits) || !defined.count(q.wh_logits)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": no layer makes the head logits"));
  }
  return q;
}

}  // namespace fxserve::model::centernet
