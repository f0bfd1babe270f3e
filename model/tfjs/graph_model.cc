#include "model/tfjs/graph_model.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"

namespace fxserve::model::tfjs {
namespace {

using Json = nlohmann::json;

// Far above any real graph model; keeps a corrupt manifest from asking
// for absurd allocations.
constexpr int64_t kMaxWeightBytes = int64_t{1} << 31;

constexpr std::string_view kSupportedOps[] = {"Add",
                                              "Cast",
                                              "ConcatV2",
                                              "Const",
                                              "Conv2D",
                                              "DepthwiseConv2dNative",
                                              "Equal",
                                              "ExpandDims",
                                              "FloorDiv",
                                              "FloorMod",
                                              "FusedDepthwiseConv2dNative",
                                              "GatherV2",
                                              "Identity",
                                              "MaxPool",
                                              "Mean",
                                              "Mul",
                                              "Placeholder",
                                              "Relu",
                                              "Relu6",
                                              "Reshape",
                                              "ResizeBilinear",
                                              "Sigmoid",
                                              "StridedSlice",
                                              "Sub",
                                              "TopKV2",
                                              "_FusedConv2D"};

absl::StatusOr<DataType> ParseDataType(const std::string& name) {
  if (name == "DT_FLOAT" || name == "float32") return DataType::kFloat32;
  if (name == "DT_INT32" || name == "int32") return DataType::kInt32;
  if (name == "DT_BOOL" || name == "bool") return DataType::kBool;
  return absl::InvalidArgumentError(
      absl::StrCat("data type ", name,
                   " is not supported (float32, int32, "
                   "bool are)"));
}

// TensorFlow's JSON writes int64 as strings; accept numbers too.
absl::StatusOr<int64_t> ParseInt(const Json& value) {
  if (value.is_number_integer()) return value.get<int64_t>();
  int64_t parsed = 0;
  if (value.is_string() &&
      absl::SimpleAtoi(value.get<std::string>(), &parsed)) {
    return parsed;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("expected an integer, got ", value.dump()));
}

absl::StatusOr<std::string> ParseBase64(const Json& value) {
  std::string decoded;
  if (!value.is_string() ||
      !absl::Base64Unescape(value.get<std::string>(), &decoded)) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected a base64 string, got ", value.dump()));
  }
  return decoded;
}

absl::StatusOr<std::vector<int64_t>> ParseShape(const Json& shape) {
  std::vector<int64_t> dims;
  if (!shape.is_object() || !shape.contains("dim")) return dims;  // Scalar.
  for (const Json& dim : shape["dim"]) {
    absl::StatusOr<int64_t> size = ParseInt(dim.value("size", Json("0")));
    if (!size.ok()) return size.status();
    dims.push_back(*size);
  }
  return dims;
}

absl::StatusOr<AttrValue> ParseAttr(const Json& json) {
  AttrValue attr;
  if (!json.is_object()) {
    return absl::InvalidArgumentError("an attribute is not an object");
  }
  if (json.contains("i")) {
    absl::StatusOr<int64_t> i = ParseInt(json["i"]);
    if (!i.ok()) return i.status();
    attr.i = *i;
  }
  if (json.contains("f")) {
    if (!json["f"].is_number()) {
      return absl::InvalidArgumentError("attribute f is not a number");
    }
    attr.f = json["f"].get<float>();
  }
  if (json.contains("b")) {
    if (!json["b"].is_boolean()) {
      return absl::InvalidArgumentError("attribute b is not a boolean");
    }
    attr.b = json["b"].get<bool>();
  }
  if (json.contains("s")) {
    absl::StatusOr<std::string> s = ParseBase64(json["s"]);
    if (!s.ok()) return s.status();
    attr.s = *s;
  }
  if (json.contains("type")) {
    if (!json["type"].is_string()) {
      return absl::InvalidArgumentError("attribute type is not a string");
    }
    absl::StatusOr<DataType> type = ParseDataType(json["type"]);
    if (!type.ok()) return type.status();
    attr.type = *type;
  }
  if (json.contains("shape")) {
    absl::StatusOr<std::vector<int64_t>> shape = ParseShape(json["shape"]);
    if (!shape.ok()) return shape.status();
    attr.shape = *shape;
  }
  if (json.contains("list") && json["list"].is_object()) {
    const Json& list = json["list"];
    for (const Json& i : list.value("i", Json::array())) {
      absl::StatusOr<int64_t> value = ParseInt(i);
      if (!value.ok()) return value.status();
      attr.list_i.push_back(*value);
    }
    for (const Json& s : list.value("s", Json::array())) {
      absl::StatusOr<std::string> value = ParseBase64(s);
      if (!value.ok()) return value.status();
      attr.list_s.push_back(*value);
    }
  }
  return attr;
}

absl::StatusOr<Node> ParseNode(const Json& json) {
  if (!json.is_object() || !json.contains("name") ||
      !json["name"].is_string() || !json.contains("op") ||
      !json["op"].is_string()) {
    return absl::InvalidArgumentError(
        "a node has no string \"name\" and \"op\"");
  }
  Node node;
  node.name = json["name"];
  node.op = json["op"];
  for (const Json& input : json.value("input", Json::array())) {
    if (!input.is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat("node ", node.name, ": an input is not a string"));
    }
    const std::string name = input;
    if (!name.empty() && name[0] != '^') node.inputs.push_back(name);
  }
  if (json.contains("attr") && json["attr"].is_object()) {
    for (const auto& [key, value] : json["attr"].items()) {
      absl::StatusOr<AttrValue> attr = ParseAttr(value);
      if (!attr.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("node ", node.name, ", attribute ", key, ": ",
                         attr.status().message()));
      }
      node.attrs.emplace(key, *std::move(attr));
    }
  }
  return node;
}

// A manifest entry's bytes in the shards and how to decode them.
struct WeightSpec {
  std::string name;
  DataType dtype = DataType::kFloat32;
  bool float16 = false;
  std::vector<int64_t> shape;
  int64_t elements = 1;
};

absl::StatusOr<WeightSpec> ParseWeightSpec(const Json& json) {
  WeightSpec spec;
  if (!json.is_object() || !json.contains("name") ||
      !json["name"].is_string()) {
    return absl::InvalidArgumentError("a weight has no string \"name\"");
  }
  spec.name = json["name"];
  const std::string where = absl::StrCat("weight ", spec.name, ": ");
  absl::StatusOr<DataType> dtype =
      ParseDataType(json.value("dtype", std::string("float32")));
  if (!dtype.ok() || *dtype == DataType::kBool) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, "dtype ", json.value("dtype", std::string("?")),
                     " is not supported (float32, int32 are)"));
  }
  spec.dtype = *dtype;
  for (const Json& dim : json.value("shape", Json::array())) {
    if (!dim.is_number_integer() || dim.get<int64_t>() < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "bad shape ", json["shape"].dump()));
    }
    spec.shape.push_back(dim.get<int64_t>());
    if (spec.shape.back() > 0 &&
        spec.elements > kMaxWeightBytes / spec.shape.back()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "shape ", json["shape"].dump(), " is too big"));
    }
    spec.elements *= spec.shape.back();
  }
  if (json.contains("quantization")) {
    const std::string stored =
        json["quantization"].value("dtype", std::string("?"));
    if (stored != "float16" || spec.dtype != DataType::kFloat32) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, "quantization to ", stored,
          " is not supported (only float32 stored as float16 is)"));
    }
    spec.float16 = true;
  }
  return spec;
}

int64_t StoredBytes(const WeightSpec& spec) {
  return spec.elements * (spec.float16 ? 2 : 4);
}

Tensor DecodeWeight(const WeightSpec& spec, const char* data) {
  Tensor tensor;
  tensor.dtype = spec.dtype;
  tensor.shape = spec.shape;
  const size_t n = static_cast<size_t>(spec.elements);
  if (n == 0) return tensor;  // memcpy must not see an empty vector's null.
  if (spec.dtype == DataType::kInt32) {
    tensor.ints.resize(n);
    std::memcpy(tensor.ints.data(), data, 4 * n);  // Little-endian hosts.
  } else if (spec.float16) {
    tensor.floats.resize(n);
    for (size_t k = 0; k < n; ++k) {
      uint16_t half;
      std::memcpy(&half, data + 2 * k, 2);
      tensor.floats[k] = HalfToFloat(half);
    }
  } else {
    tensor.floats.resize(n);
    std::memcpy(tensor.floats.data(), data, 4 * n);
  }
  return tensor;
}

// Reads every shard of every manifest group and decodes its weights.
absl::Status ReadWeights(const Json& manifest, const ShardReader& read_shard,
                         GraphModel& model) {
  if (!manifest.is_array()) {
    return absl::InvalidArgumentError("weightsManifest is not a list");
  }
  for (const Json& group : manifest) {
    std::string bytes;
    for (const Json& path : group.value("paths", Json::array())) {
      if (!path.is_string()) {
        return absl::InvalidArgumentError("a shard path is not a string");
      }
      absl::StatusOr<std::string> shard = read_shard(path);
      if (!shard.ok()) return shard.status();
      if (static_cast<int64_t>(bytes.size() + shard->size()) >
          kMaxWeightBytes) {
        return absl::InvalidArgumentError("the weight shards are too big");
      }
      bytes += *shard;
    }
    int64_t offset = 0;
    for (const Json& entry : group.value("weights", Json::array())) {
      absl::StatusOr<WeightSpec> spec = ParseWeightSpec(entry);
      if (!spec.ok()) return spec.status();
      const int64_t size = StoredBytes(*spec);
      if (offset + size > static_cast<int64_t>(bytes.size())) {
        return absl::InvalidArgumentError(
            absl::StrCat("weight ", spec->name, " needs bytes ", offset, "..",
                         offset + size, " but the shards of its group hold ",
                         bytes.size(), " (a shard is missing or short?)"));
      }
      model.weights[spec->name] = DecodeWeight(*spec, bytes.data() + offset);
      offset += size;
    }
    if (offset != static_cast<int64_t>(bytes.size())) {
      return absl::InvalidArgumentError(
          absl::StrCat("the manifest describes ", offset,
                       " bytes of weights but the shards "
                       "hold ",
                       bytes.size()));
    }
  }
  return absl::OkStatus();
}

std::vector<std::string> SignatureNames(const Json& signature,
                                        const char* key) {
  std::vector<std::string> names;
  if (!signature.is_object() || !signature.contains(key) ||
      !signature[key].is_object()) {
    return names;
  }
  for (const auto& [name, value] : signature[key].items())
    names.push_back(name);
  return names;
}

// Every op supported, every input produced, every Const with its weight.
absl::Status CheckGraph(const GraphModel& model) {
  const std::set<std::string_view> supported(std::begin(kSupportedOps),
                                             std::end(kSupportedOps));
  std::set<std::string> names;
  for (const Node& node : model.nodes) {
    if (!names.insert(node.name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("two nodes are named ", node.name));
    }
  }
  for (const Node& node : model.nodes) {
    if (!supported.count(node.op)) {
      return absl::UnimplementedError(absl::StrCat(
          "node ", node.name, " has op ", node.op,
          ", which fxserve does not run; supported: ",
          absl::StrJoin(
              kSupportedOps, ", ",
              [](std::string* out, std::string_view op) { out->append(op); })));
    }
    for (const std::string& input : node.inputs) {
      const std::string producer = input.substr(0, input.find(':'));
      if (!names.count(producer)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "node ", node.name, " reads ", input, ", which no node makes"));
      }
    }
    if (node.op == "Const" && !model.weights.count(node.name)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Const node ", node.name, " has no weight in the manifest"));
    }
  }
  for (const std::string& name : model.inputs) {
    if (!names.count(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("signature input ", name, " is not a node"));
    }
  }
  for (const std::string& name : model.outputs) {
    if (!names.count(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("signature output ", name, " is not a node"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

const char* DataTypeName(DataType type) {
  switch (type) {
    case DataType::kFloat32:
      return "float32";
    case DataType::kInt32:
      return "int32";
    case DataType::kBool:
      return "bool";
  }
  return "?";
}

int64_t Tensor::elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

const Node* GraphModel::FindNode(std::string_view name) const {
  for (const Node& node : nodes) {
    if (node.name == name) return &node;
  }
  return nullptr;
}

absl::Span<const std::string_view> SupportedOps() { return kSupportedOps; }

float HalfToFloat(uint16_t half) {
  const uint32_t sign = static_cast<uint32_t>(half & 0x8000) << 16;
  const uint32_t exponent = (half >> 10) & 0x1f;
  uint32_t mantissa = half & 0x3ff;
  uint32_t bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000 | (mantissa << 13);  // Inf or NaN.
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;  // Zero.
  } else {
    // Subnormal: normalise; the value is mantissa * 2^-24.
    int shift = 0;
    while ((mantissa & 0x400) == 0) {
      mantissa <<= 1;
      ++shift;
    }
    bits = sign | ((113 - shift) << 23) | ((mantissa & 0x3ff) << 13);
  }
  float value;
  std::memcpy(&value, &bits, 4);
  return value;
}

namespace {

absl::StatusOr<GraphModel> ParseJson(std::string_view model_json,
                                     const ShardReader& read_shard) {
  const Json json =
      Json::parse(model_json, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return absl::InvalidArgumentError("model.json is not a JSON object");
  }
  if (json.value("format", std::string()) != "graph-model") {
    return absl::InvalidArgumentError(absl::StrCat(
        "format is \"", json.value("format", std::string()),
        "\", not \"graph-model\" (a TF.js layers model is not supported)"));
  }
  if (!json.contains("modelTopology") || !json["modelTopology"].is_object() ||
      !json["modelTopology"].contains("node") ||
      !json["modelTopology"]["node"].is_array()) {
    return absl::InvalidArgumentError("modelTopology.node is not a list");
  }
  GraphModel model;
  for (const Json& node_json : json["modelTopology"]["node"]) {
    absl::StatusOr<Node> node = ParseNode(node_json);
    if (!node.ok()) return node.status();
    model.nodes.push_back(*std::move(node));
  }
  if (absl::Status s = ReadWeights(json.value("weightsManifest", Json::array()),
                                   read_shard, model);
      !s.ok()) {
    return s;
  }
  const Json signature = json.value("signature", Json::object());
  model.inputs = SignatureNames(signature, "inputs");
  model.outputs = SignatureNames(signature, "outputs");
  if (absl::Status s = CheckGraph(model); !s.ok()) return s;
  return model;
}

}  // namespace

absl::StatusOr<GraphModel> ParseGraphModel(std::string_view model_json,
                                           const ShardReader& read_shard) {
  // nlohmann throws on a value of the wrong JSON type deep in the file;
  // that is bad input, not a crash.
  try {
    return ParseJson(model_json, read_shard);
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("model.json has an unexpected structure: ", e.what()));
  }
}

absl::StatusOr<GraphModel> LoadGraphModel(const std::string& model_json) {
  std::ifstream file(model_json, std::ios::binary);
  if (!file) {
    return absl::NotFoundError(absl::StrCat("cannot read ", model_json));
  }
  std::stringstream text;
  text << file.rdbuf();
  const std::filesystem::path folder =
      std::filesystem::path(model_json).parent_path();
  const ShardReader read_shard =
      [&folder](const std::string& path) -> absl::StatusOr<std::string> {
    const std::string full = (folder / path).string();
    std::ifstream shard(full, std::ios::binary);
    if (!shard) {
      return absl::NotFoundError(absl::StrCat("cannot read weight shard ", full,
                                              " (named in the manifest)"));
    }
    std::stringstream bytes;
    bytes << shard.rdbuf();
    return bytes.str();
  };
  absl::StatusOr<GraphModel> model = ParseGraphModel(text.str(), read_shard);
  if (!model.ok()) {
    return absl::Status(
        model.status().code(),
        absl::StrCat(model_json, ": ", model.status().message()));
  }
  return model;
}

}  // namespace fxserve::model::tfjs
