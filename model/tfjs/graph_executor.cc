#include "model/tfjs/graph_executor.h"

#include <functional>
#include <set>

#include "absl/strings/str_cat.h"
#include "model/tfjs/graph_ops.h"

namespace fxserve::model::tfjs {
namespace {

// Evaluates nodes on demand, each once.
class Evaluation {
 public:
  Evaluation(const GraphModel& model, const TensorMap& inputs)
      : model_(model), values_(inputs) {
    for (const Node& node : model.nodes) nodes_[node.name] = &node;
  }

  // The tensor "node" or "node:k", evaluating what it needs.
  absl::StatusOr<const Tensor*> Get(const std::string& ref);

 private:
  absl::StatusOr<std::vector<Tensor>> Run(const Node& node);
  absl::StatusOr<std::vector<const Tensor*>> Inputs(const Node& node);

  const GraphModel& model_;
  std::map<std::string, const Node*> nodes_;
  TensorMap values_;
  std::set<std::string> running_;  // To report a cycle, not overflow.
};

absl::StatusOr<const Tensor*> Evaluation::Get(const std::string& input) {
  // "node:0" is "node": each output is kept once.
  const bool first =
      input.size() > 2 && input.compare(input.size() - 2, 2, ":0") == 0;
  const std::string ref = first ? input.substr(0, input.size() - 2) : input;
  if (auto it = values_.find(ref); it != values_.end()) return &it->second;
  const std::string name = ref.substr(0, ref.find(':'));
  auto node = nodes_.find(name);
  if (node == nodes_.end()) {
    return absl::NotFoundError(absl::StrCat("no node makes ", ref));
  }
  if (node->second->op == "Placeholder") {
    return absl::InvalidArgumentError(
        absl::StrCat("input ", name, " was not given"));
  }
  if (!running_.insert(name).second) {
    return absl::InvalidArgumentError(absl::StrCat("a cycle through ", name));
  }
  absl::StatusOr<std::vector<Tensor>> outputs = Run(*node->second);
  running_.erase(name);
  if (!outputs.ok()) {
    return absl::Status(outputs.status().code(),
                        absl::StrCat("node ", name, " (", node->second->op,
                                     "): ", outputs.status().message()));
  }
  for (size_t k = 0; k < outputs->size(); ++k) {
    values_[k == 0 ? name : absl::StrCat(name, ":", k)] =
        std::move((*outputs)[k]);
  }
  auto it = values_.find(ref);
  if (it == values_.end()) {
    return absl::NotFoundError(absl::StrCat("node ", name, " has no ", ref));
  }
  return &it->second;
}

absl::StatusOr<std::vector<const Tensor*>> Evaluation::Inputs(
    const Node& node) {
  std::vector<const Tensor*> inputs;
  for (const std::string& ref : node.inputs) {
    absl::StatusOr<const Tensor*> t = Get(ref);
    if (!t.ok()) return t.status();
    inputs.push_back(*t);
  }
  return inputs;
}

// Attribute helpers: defaults where TensorFlow has them.
std::string AttrString(const Node& node, const std::string& key) {
  auto it = node.attrs.find(key);
  return it != node.attrs.end() && it->second.s ? *it->second.s : "";
}
int64_t AttrInt(const Node& node, const std::string& key, int64_t fallback) {
  auto it = node.attrs.find(key);
  return it != node.attrs.end() && it->second.i ? *it->second.i : fallback;
}
bool AttrBool(const Node& node, const std::string& key, bool fallback) {
  auto it = node.attrs.find(key);
  return it != node.attrs.end() && it->second.b ? *it->second.b : fallback;
}
std::vector<int64_t> AttrInts(const Node& node, const std::string& key) {
  auto it = node.attrs.find(key);
  return it != node.attrs.end() ? it->second.list_i : std::vector<int64_t>{};
}
std::vector<std::string> AttrStrings(const Node& node, const std::string& key) {
  auto it = node.attrs.find(key);
  return it != node.attrs.end() ? it->second.list_s
                                : std::vector<std::string>{};
}

absl::StatusOr<std::vector<int64_t>> IntValues(const Tensor& t) {
  if (t.dtype != DataType::kInt32) {
    return absl::InvalidArgumentError("expected an int32 tensor");
  }
  return std::vector<int64_t>(t.ints.begin(), t.ints.end());
}

}  // namespace

absl::StatusOr<ops::ConvSpec> ConvSpecOf(const Node& node, bool depthwise) {
  ops::ConvSpec spec;
  spec.depthwise = depthwise;
  const std::vector<int64_t> strides = AttrInts(node, "strides");
  const std::vector<int64_t> dilations = AttrInts(node, "dilations");
  if (AttrString(node, "data_format") != "NHWC" || strides.size() != 4 ||
      strides[1] != strides[2] ||
      (!dilations.empty() && (dilations[1] != 1 || dilations[2] != 1))) {
    return absl::UnimplementedError(
        "only NHWC convs with equal strides and no dilation are supported");
  }
  spec.stride = static_cast<int>(strides[1]);
  const std::string padding = AttrString(node, "padding");
  if (padding != "SAME" && padding != "VALID") {
    return absl::UnimplementedError(absl::StrCat("padding ", padding));
  }
  spec.padding = padding == "SAME" ? ops::Padding::kSame : ops::Padding::kValid;
  const std::vector<std::string> fused = AttrStrings(node, "fused_ops");
  for (size_t i = 0; i < fused.size(); ++i) {
    if (i == 0 && fused[i] == "BiasAdd") continue;
    if (i == 1 && fused[i] == "Relu") {
      spec.activation = ops::Activation::kRelu;
    } else if (i == 1 && fused[i] == "Relu6") {
      spec.activation = ops::Activation::kRelu6;
    } else {
      return absl::UnimplementedError(
          absl::StrCat("fused op ", fused[i], " at position ", i));
    }
  }
  return spec;
}

namespace {

using Outputs = absl::StatusOr<std::vector<Tensor>>;

Outputs One(absl::StatusOr<Tensor> t) {
  if (!t.ok()) return t.status();
  std::vector<Tensor> out;
  out.push_back(*std::move(t));
  return out;
}

Outputs RunConv(const Node& node, const std::vector<const Tensor*>& in) {
  const bool depthwise = node.op.find("Depthwise") != std::string::npos;
  absl::StatusOr<ops::ConvSpec> spec = ConvSpecOf(node, depthwise);
  if (!spec.ok()) return spec.status();
  const bool fused = node.op[0] == '_' || node.op.rfind("Fused", 0) == 0;
  if (in.size() != (fused ? 3u : 2u)) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected ", fused ? 3 : 2, " inputs"));
  }
  return One(ops::Conv2D(*in[0], *in[1], fused ? in[2] : nullptr, *spec));
}

Outputs RunShapeOp(const Node& node, const std::vector<const Tensor*>& in) {
  if (node.op == "Reshape" || node.op == "ExpandDims") {
    absl::StatusOr<std::vector<int64_t>> v = IntValues(*in.at(1));
    if (!v.ok()) return v.status();
    if (node.op == "Reshape") return One(ops::Reshape(*in[0], *v));
    return One(ops::ExpandDims(*in[0], static_cast<int>(v->at(0))));
  }
  if (node.op == "ConcatV2") {
    absl::StatusOr<std::vector<int64_t>> axis = IntValues(*in.back());
    if (!axis.ok()) return axis.status();
    const std::vector<const Tensor*> parts(in.begin(), in.end() - 1);
    return One(ops::Concat(parts, static_cast<int>(axis->at(0))));
  }
  if (node.op == "StridedSlice") {
    if (AttrInt(node, "ellipsis_mask", 0) ||
        AttrInt(node, "new_axis_mask", 0)) {
      return absl::UnimplementedError("ellipsis or new-axis masks");
    }
    ops::SliceSpec spec;
    for (auto [index, field] :
         {std::pair{1, &spec.begin}, {2, &spec.end}, {3, &spec.strides}}) {
      absl::StatusOr<std::vector<int64_t>> v = IntValues(*in.at(index));
      if (!v.ok()) return v.status();
      *field = *v;
    }
    spec.begin_mask = AttrInt(node, "begin_mask", 0);
    spec.end_mask = AttrInt(node, "end_mask", 0);
    spec.shrink_axis_mask = AttrInt(node, "shrink_axis_mask", 0);
    return One(ops::StridedSlice(*in[0], spec));
  }
  // GatherV2.
  if (AttrInt(node, "batch_dims", 0) != 0) {
    return absl::UnimplementedError("batch_dims != 0");
  }
  absl::StatusOr<std::vector<int64_t>> axis = IntValues(*in.at(2));
  if (!axis.ok()) return axis.status();
  return One(ops::Gather(*in[0], *in[1], static_cast<int>(axis->at(0))));
}

Outputs RunOther(const Node& node, const std::vector<const Tensor*>& in) {
  if (node.op == "Mean") {
    absl::StatusOr<std::vector<int64_t>> axes = IntValues(*in.at(1));
    if (!axes.ok()) return axes.status();
    return One(ops::Mean(*in[0], std::vector<int>(axes->begin(), axes->end()),
                         AttrBool(node, "keep_dims", false)));
  }
  if (node.op == "ResizeBilinear") {
    if (AttrBool(node, "align_corners", false) ||
        AttrBool(node, "half_pixel_centers", false)) {
      return absl::UnimplementedError("align_corners or half_pixel_centers");
    }
    absl::StatusOr<std::vector<int64_t>> size = IntValues(*in.at(1));
    if (!size.ok() || size->size() != 2) {
      return absl::InvalidArgumentError("size must be 2 int32 values");
    }
    return One(ops::ResizeBilinear(*in[0], static_cast<int>((*size)[0]),
                                   static_cast<int>((*size)[1])));
  }
  if (node.op == "MaxPool") {
    const std::vector<int64_t> k = AttrInts(node, "ksize");
    const std::vector<int64_t> s = AttrInts(node, "strides");
    if (k.size() != 4 || s.size() != 4 || k[1] != k[2] || s[1] != s[2]) {
      return absl::UnimplementedError("only square NHWC pooling");
    }
    return One(ops::MaxPool(
        *in.at(0), static_cast<int>(k[1]), static_cast<int>(s[1]),
        AttrString(node, "padding") == "VALID" ? ops::Padding::kValid
                                               : ops::Padding::kSame));
  }
  if (node.op == "TopKV2") {
    absl::StatusOr<std::vector<int64_t>> k = IntValues(*in.at(1));
    if (!k.ok()) return k.status();
    auto top = ops::TopK(*in[0], static_cast<int>(k->at(0)));
    if (!top.ok()) return top.status();
    std::vector<Tensor> out;
    out.push_back(std::move(top->first));
    out.push_back(std::move(top->second));
    return out;
  }
  if (node.op == "Cast") {
    auto to = node.attrs.find("DstT");
    if (to == node.attrs.end() || !to->second.type) {
      return absl::InvalidArgumentError("Cast without DstT");
    }
    return One(ops::Cast(*in.at(0), *to->second.type));
  }
  return RunShapeOp(node, in);
}

Outputs Evaluation::Run(const Node& node) {
  if (node.op == "Const") return One(model_.weights.at(node.name));
  absl::StatusOr<std::vector<const Tensor*>> in = Inputs(node);
  if (!in.ok()) return in.status();
  static const std::map<std::string, ops::Binary> kBinary = {
      {"Add", ops::Binary::kAdd},
      {"Sub", ops::Binary::kSub},
      {"Mul", ops::Binary::kMul},
      {"FloorDiv", ops::Binary::kFloorDiv},
      {"FloorMod", ops::Binary::kFloorMod},
      {"Equal", ops::Binary::kEqual}};
  static const std::map<std::string, ops::Unary> kUnary = {
      {"Relu", ops::Unary::kRelu},
      {"Relu6", ops::Unary::kRelu6},
      {"Sigmoid", ops::Unary::kSigmoid},
      {"Identity", ops::Unary::kIdentity}};
  if (auto b = kBinary.find(node.op); b != kBinary.end()) {
    if (in->size() != 2) return absl::InvalidArgumentError("expected 2 inputs");
    return One(ops::BinaryOp(b->second, *(*in)[0], *(*in)[1]));
  }
  if (auto u = kUnary.find(node.op); u != kUnary.end()) {
    if (in->empty()) return absl::InvalidArgumentError("expected an input");
    return One(ops::UnaryOp(u->second, *(*in)[0]));
  }
  if (node.op.find("Conv2D") != std::string::npos ||
      node.op.find("Depthwise") != std::string::npos) {
    return RunConv(node, *in);
  }
  if (in->empty()) return absl::InvalidArgumentError("expected inputs");
  return RunOther(node, *in);
}

}  // namespace

absl::StatusOr<TensorMap> RunGraph(const GraphModel& model,
                                   const TensorMap& inputs,
                                   absl::Span<const std::string> outputs) {
  Evaluation evaluation(model, inputs);
  TensorMap results;
  for (const std::string& name : outputs) {
    absl::StatusOr<const Tensor*> t = evaluation.Get(name);
    if (!t.ok()) return t.status();
    results[name] = **t;
  }
  return results;
}

}  // namespace fxserve::model::tfjs
