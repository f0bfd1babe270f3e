#include "model/centernet/detector_graph.h"

#include <algorithm>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "model/tfjs/graph_executor.h"
#include "model/tfjs/graph_ops.h"

namespace fxserve::model::centernet {
namespace {

using tfjs::GraphModel;
using tfjs::Node;
using tfjs::Tensor;
namespace ops = tfjs::ops;

// float16(1/6), the graph's hard-swish and hard-sigmoid constant.
constexpr float kSixth = 0.1666259765625f;
constexpr char kKeypoints[] = "tower_0/keypoints";
constexpr char kWh[] = "tower_0/wh";

bool IsConvOp(const std::string& op) {
  return op == "_FusedConv2D" || op == "Conv2D" ||
         op == "FusedDepthwiseConv2dNative" || op == "DepthwiseConv2dNative";
}

std::string ProducerOf(const std::string& ref) {
  return ref.substr(0, ref.find(':'));
}

class Lowerer {
 public:
  explicit Lowerer(const GraphModel& model) : model_(model) {
    for (const Node& node : model.nodes) {
      nodes_[node.name] = &node;
      for (const std::string& in : node.inputs) {
        consumers_[ProducerOf(in)].push_back(&node);
      }
    }
  }

  absl::StatusOr<DetectorGraph> Lower();

 private:
  const Node* NodeOf(const std::string& ref) const {
    auto it = nodes_.find(ProducerOf(ref));
    return it == nodes_.end() ? nullptr : it->second;
  }
  const Tensor* ConstOf(const std::string& ref) const {
    auto it = model_.weights.find(ProducerOf(ref));
    return it == model_.weights.end() ? nullptr : &it->second;
  }
  bool IsScalar(const std::string& ref, float value) const {
    const Tensor* t = ConstOf(ref);
    return t != nullptr && t->floats.size() == 1 && t->floats[0] == value;
  }
  const std::vector<const Node*>& Consumers(const std::string& name) const {
    static const std::vector<const Node*> kNone;
    auto it = consumers_.find(name);
    return it == consumers_.end() ? kNone : it->second;
  }
  // The single consumer of `name` if it runs `op`.
  const Node* OnlyConsumer(const std::string& name,
                           const std::string& op) const {
    const std::vector<const Node*>& c = Consumers(name);
    return c.size() == 1 && c[0]->op == op ? c[0] : nullptr;
  }
  // The other input of a binary node, given one of them.
  static std::optional<std::string> OtherInput(const Node& node,
                                               const std::string& one) {
    if (node.inputs.size() != 2) return std::nullopt;
    if (ProducerOf(node.inputs[0]) == one) return node.inputs[1];
    if (ProducerOf(node.inputs[1]) == one) return node.inputs[0];
    return std::nullopt;
  }

  absl::Status Order(const std::string& name, std::set<std::string>& seen);
  absl::StatusOr<ConvLayer> ParseConv(const Node& node) const;
  std::optional<std::string> MatchHardSwish(const std::string& x);
  std::optional<std::string> MatchHardSigmoid(const std::string& z);
  absl::Status LowerNode(const Node& node);
  absl::Status LowerConv(const Node& node);
  absl::Status LowerSqueezeExcite(const Node& mean);
  absl::Status LowerConcat(const Node& node);
  absl::Status Unsupported(const Node& node, const std::string& why) const {
    return absl::UnimplementedError(absl::StrCat(
        "CenterNet lowering: node ", node.name, " (", node.op, ") ", why));
  }

  const GraphModel& model_;
  std::map<std::string, const Node*> nodes_;
  std::map<std::string, std::vector<const Node*>> consumers_;
  std::vector<const Node*> order_;  // Producers first.
  std::set<std::string> absorbed_;  // Nodes inside an earlier layer.
  DetectorGraph graph_;
};

// Depth-first from the heads: every node the logits need, producers first.
absl::Status Lowerer::Order(const std::string& name,
                            std::set<std::string>& seen) {
  if (!seen.insert(name).second) return absl::OkStatus();
  const Node* node = NodeOf(name);
  if (node == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("no node ", name));
  }
  if (node->op == "Const") return absl::OkStatus();
  for (const std::string& in : node->inputs) {
    if (absl::Status s = Order(ProducerOf(in), seen); !s.ok()) return s;
  }
  order_.push_back(node);
  return absl::OkStatus();
}

absl::StatusOr<ConvLayer> Lowerer::ParseConv(const Node& node) const {
  const bool depthwise = node.op.find("Depthwise") != std::string::npos;
  absl::StatusOr<ops::ConvSpec> spec = tfjs::ConvSpecOf(node, depthwise);
  if (!spec.ok())
    return Unsupported(node, std::string(spec.status().message()));
  const bool fused = node.op[0] == '_' || node.op.rfind("Fused", 0) == 0;
  const Tensor* filter =
      node.inputs.size() >= 2 ? ConstOf(node.inputs[1]) : nullptr;
  const Tensor* bias =
      fused && node.inputs.size() == 3 ? ConstOf(node.inputs[2]) : nullptr;
  if (filter == nullptr || filter->shape.size() != 4 || (fused && !bias) ||
      filter->shape[0] != filter->shape[1]) {
    return Unsupported(node, "needs a constant square filter (and bias)");
  }
  ConvLayer conv;
  conv.node = node.name;
  conv.kernel = static_cast<int>(filter->shape[0]);
  conv.stride = spec->stride;
  conv.depthwise = depthwise;
  conv.in_channels = static_cast<int>(filter->shape[2]);
  conv.out_channels =
      static_cast<int>(depthwise ? filter->shape[2] : filter->shape[3]);
  if ((depthwise && filter->shape[3] != 1) ||
      (spec->padding == ops::Padding::kValid && conv.kernel != 1) ||
      spec->activation == ops::Activation::kRelu6) {
    return Unsupported(node, "is a conv outside the numerics contract");
  }
  conv.epilogue = spec->activation == ops::Activation::kRelu ? Epilogue::kRelu
                                                             : Epilogue::kNone;
  conv.filter = *filter;
  if (bias != nullptr) conv.bias = *bias;
  return conv;
}

// x * c * relu6(x + 3) as the graph spells it: Mul(c, x), Add(x, 3), Relu6,
// Mul. Returns the last Mul's name.
std::optional<std::string> Lowerer::MatchHardSwish(const std::string& x) {
  const std::vector<const Node*>& uses = Consumers(x);
  if (uses.size() != 2) return std::nullopt;
  const Node* mul = uses[0]->op == "Mul" ? uses[0] : uses[1];
  const Node* add = uses[0]->op == "Add" ? uses[0] : uses[1];
  if (mul->op != "Mul" || add->op != "Add") return std::nullopt;
  std::optional<std::string> c = OtherInput(*mul, x);
  std::optional<std::string> three = OtherInput(*add, x);
  if (!c || !three || !IsScalar(*c, kSixth) || !IsScalar(*three, 3)) {
    return std::nullopt;
  }
  const Node* relu6 = OnlyConsumer(add->name, "Relu6");
  if (relu6 == nullptr) return std::nullopt;
  const Node* out = OnlyConsumer(relu6->name, "Mul");
  if (out == nullptr || OtherInput(*out, relu6->name) != mul->name) {
    return std::nullopt;
  }
  absorbed_.insert({mul->name, add->name, relu6->name, out->name});
  return out->name;
}

// c * relu6(z + 3): Add(z, 3), Relu6, Mul(c, .). Returns the Mul's name.
std::optional<std::string> Lowerer::MatchHardSigmoid(const std::string& z) {
  const Node* add = OnlyConsumer(z, "Add");
  if (add == nullptr) return std::nullopt;
  std::optional<std::string> three = OtherInput(*add, z);
  const Node* relu6 = OnlyConsumer(add->name, "Relu6");
  if (!three || !IsScalar(*three, 3) || relu6 == nullptr) return std::nullopt;
  const Node* mul = OnlyConsumer(relu6->name, "Mul");
  if (mul == nullptr) return std::nullopt;
  std::optional<std::string> c = OtherInput(*mul, relu6->name);
  if (!c || !IsScalar(*c, kSixth)) return std::nullopt;
  absorbed_.insert({add->name, relu6->name, mul->name});
  return mul->name;
}

absl::Status Lowerer::LowerConv(const Node& node) {
  absl::StatusOr<ConvLayer> conv = ParseConv(node);
  if (!conv.ok()) return conv.status();
  Layer layer;
  layer.kind = LayerKind::kConv;
  layer.inputs = {ProducerOf(node.inputs[0])};
  layer.output = node.name;
  if (node.name == graph_.keypoint_logits || node.name == graph_.wh_logits) {
    if (conv->epilogue != Epilogue::kNone) {
      return Unsupported(node, "is a head conv with an activation");
    }
    conv->epilogue = Epilogue::kLogits;
  } else if (std::optional<std::string> hs = MatchHardSwish(node.name)) {
    if (conv->epilogue != Epilogue::kNone) {
      return Unsupported(node, "has both a fused activation and hard-swish");
    }
    conv->epilogue = Epilogue::kHardSwish;
    layer.output = *hs;
  }
  layer.conv = *std::move(conv);
  graph_.layers.push_back(std::move(layer));
  return absl::OkStatus();
}

// Mean(x) -> 1x1 conv + relu -> 1x1 conv -> gate -> Mul(gate, x).
absl::Status Lowerer::LowerSqueezeExcite(const Node& mean) {
  const std::string x = ProducerOf(mean.inputs.at(0));
  const Tensor* axes =
      mean.inputs.size() == 2 ? ConstOf(mean.inputs[1]) : nullptr;
  if (axes == nullptr || axes->ints != std::vector<int32_t>{1, 2}) {
    return Unsupported(mean, "is a mean other than over height and width");
  }
  const std::vector<const Node*>& after_mean = Consumers(mean.name);
  const Node* reduce = after_mean.size() == 1 ? after_mean[0] : nullptr;
  const std::vector<const Node*>* after_reduce =
      reduce ? &Consumers(reduce->name) : nullptr;
  const Node* expand =
      after_reduce && after_reduce->size() == 1 ? (*after_reduce)[0] : nullptr;
  if (!reduce || !expand || !IsConvOp(reduce->op) || !IsConvOp(expand->op)) {
    return Unsupported(mean, "does not start a squeeze-excite block");
  }
  Layer layer;
  layer.kind = LayerKind::kSqueezeExcite;
  layer.inputs = {x};
  absl::StatusOr<ConvLayer> r = ParseConv(*reduce);
  absl::StatusOr<ConvLayer> e = ParseConv(*expand);
  if (!r.ok()) return r.status();
  if (!e.ok()) return e.status();
  if (r->kernel != 1 || r->epilogue != Epilogue::kRelu || e->kernel != 1 ||
      e->epilogue != Epilogue::kNone) {
    return Unsupported(mean, "starts a squeeze-excite of another shape");
  }
  std::string gate;
  if (const Node* sigmoid = OnlyConsumer(expand->name, "Sigmoid")) {
    layer.gate = Gate::kSigmoid;
    gate = sigmoid->name;
    absorbed_.insert(gate);
  } else if (std::optional<std::string> hs = MatchHardSigmoid(expand->name)) {
    layer.gate = Gate::kHardSigmoid;
    gate = *hs;
  } else {
    return Unsupported(*expand,
                       "gates a squeeze-excite with neither "
                       "sigmoid nor hard-sigmoid");
  }
  const Node* out = OnlyConsumer(gate, "Mul");
  if (out == nullptr || !OtherInput(*out, gate) ||
      ProducerOf(*OtherInput(*out, gate)) != x) {
    return Unsupported(mean,
                       "ends its squeeze-excite in something but x * gate");
  }
  absorbed_.insert({reduce->name, expand->name, out->name});
  layer.output = out->name;
  layer.conv = *std::move(r);
  layer.expand = *std::move(e);
  graph_.layers.push_back(std::move(layer));
  return absl::OkStatus();
}

absl::Status Lowerer::LowerConcat(const Node& node) {
  const Tensor* axis =
      node.inputs.size() == 3 ? ConstOf(node.inputs[2]) : nullptr;
  const Node* relu = OnlyConsumer(node.name, "Relu");
  if (axis == nullptr || axis->ints.size() != 1 ||
      (axis->ints[0] != 3 && axis->ints[0] != -1) || relu == nullptr) {
    return Unsupported(node, "is not a channel concat of two followed by relu");
  }
  absorbed_.insert(relu->name);
  Layer layer;
  layer.kind = LayerKind::kConcat;
  layer.inputs = {ProducerOf(node.inputs[0]), ProducerOf(node.inputs[1])};
  layer.output = relu->name;
  graph_.layers.push_back(std::move(layer));
  return absl::OkStatus();
}

absl::Status Lowerer::LowerNode(const Node& node) {
  if (absorbed_.count(node.name) || node.name == graph_.input) {
    return absl::OkStatus();
  }
  if (IsConvOp(node.op)) return LowerConv(node);
  if (node.op == "Mean") return LowerSqueezeExcite(node);
  if (node.op == "ConcatV2") return LowerConcat(node);
  const bool binary = node.inputs.size() == 2 && !ConstOf(node.inputs[0]) &&
                      !ConstOf(node.inputs[1]);
  Layer layer;
  layer.output = node.name;
  if (node.op == "Add" && binary) {
    layer.kind = LayerKind::kAdd;
    layer.inputs = {ProducerOf(node.inputs[0]), ProducerOf(node.inputs[1])};
  } else if (node.op == "ResizeBilinear" && node.inputs.size() == 2) {
    layer.kind = LayerKind::kResize2x;
    layer.inputs = {ProducerOf(node.inputs[0])};
  } else {
    return Unsupported(node, "fits no layer of the numerics contract");
  }
  graph_.layers.push_back(std::move(layer));
  return absl::OkStatus();
}

absl::StatusOr<DetectorGraph> Lowerer::Lower() {
  // The heads: keypoints = Sigmoid(conv), wh = Mul(conv, 16).
  const Node* keypoints = NodeOf(kKeypoints);
  const Node* wh = NodeOf(kWh);
  const Node* sigmoid = keypoints ? NodeOf(keypoints->inputs.at(0)) : nullptr;
  const Node* times16 = wh ? NodeOf(wh->inputs.at(0)) : nullptr;
  std::optional<std::string> wh_conv;
  if (times16 != nullptr && times16->op == "Mul") {
    for (const std::string& in : times16->inputs) {
      if (IsScalar(in, 16)) wh_conv = OtherInput(*times16, ProducerOf(in));
    }
  }
  if (sigmoid == nullptr || sigmoid->op != "Sigmoid" || !wh_conv ||
      model_.inputs.size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("not the CenterNet graph: expected one input, ",
                     kKeypoints, " = Sigmoid(conv) and ", kWh, " = conv * 16"));
  }
  graph_.input = model_.inputs[0];
  graph_.keypoint_logits = ProducerOf(sigmoid->inputs.at(0));
  graph_.wh_logits = ProducerOf(*wh_conv);
  std::set<std::string> seen;
  for (const std::string& head : {graph_.keypoint_logits, graph_.wh_logits}) {
    if (absl::Status s = Order(head, seen); !s.ok()) return s;
  }
  for (const Node* node : order_) {
    if (absl::Status s = LowerNode(*node); !s.ok()) return s;
  }
  // Every layer reads the input or an earlier layer's output.
  std::set<std::string> defined = {graph_.input};
  for (const Layer& layer : graph_.layers) {
    for (const std::string& in : layer.inputs) {
      if (!defined.count(in)) {
        return absl::UnimplementedError(
            absl::StrCat("CenterNet lowering: layer ", layer.output, " reads ",
                         in, ", which is inside another layer"));
      }
    }
    defined.insert(layer.output);
  }
  return std::move(graph_);
}

// --- Float execution -------------------------------------------------------

Tensor Scalar(float v) {
  Tensor t;
  t.floats = {v};
  return t;
}

absl::StatusOr<Tensor> Relu6(const Tensor& x) {
  return ops::UnaryOp(ops::Unary::kRelu6, x);
}

// c * relu6(z + 3), in the graph's order.
absl::StatusOr<Tensor> HardSigmoid(const Tensor& z) {
  absl::StatusOr<Tensor> a = ops::BinaryOp(ops::Binary::kAdd, z, Scalar(3));
  if (!a.ok()) return a.status();
  absl::StatusOr<Tensor> r = Relu6(*a);
  if (!r.ok()) return r.status();
  return ops::BinaryOp(ops::Binary::kMul, Scalar(kSixth), *r);
}

absl::StatusOr<Tensor> RunConv(const ConvLayer& conv, const Tensor& x,
                               const TensorObserver& observer) {
  ops::ConvSpec spec;
  spec.stride = conv.stride;
  spec.depthwise = conv.depthwise;
  spec.activation = conv.epilogue == Epilogue::kRelu ? ops::Activation::kRelu
                                                     : ops::Activation::kNone;
  absl::StatusOr<Tensor> y = ops::Conv2D(
      x, conv.filter, conv.bias.floats.empty() ? nullptr : &conv.bias, spec);
  if (!y.ok() || conv.epilogue != Epilogue::kHardSwish) return y;
  if (observer) observer(conv.node, *y);
  // Mul(c, x) * Relu6(Add(x, 3)).
  absl::StatusOr<Tensor> cx =
      ops::BinaryOp(ops::Binary::kMul, Scalar(kSixth), *y);
  absl::StatusOr<Tensor> a = ops::BinaryOp(ops::Binary::kAdd, *y, Scalar(3));
  if (!cx.ok()) return cx.status();
  if (!a.ok()) return a.status();
  absl::StatusOr<Tensor> r = Relu6(*a);
  if (!r.ok()) return r.status();
  return ops::BinaryOp(ops::Binary::kMul, *cx, *r);
}

absl::StatusOr<Tensor> RunSqueezeExcite(const Layer& layer, const Tensor& x,
                                        const TensorObserver& observer) {
  absl::StatusOr<Tensor> mean = ops::Mean(x, {1, 2}, /*keep_dims=*/true);
  if (!mean.ok()) return mean.status();
  if (observer) observer(layer.output + "#mean", *mean);
  absl::StatusOr<Tensor> r = RunConv(layer.conv, *mean, observer);
  if (!r.ok()) return r.status();
  if (observer) observer(layer.conv.node, *r);
  absl::StatusOr<Tensor> z = RunConv(layer.expand, *r, observer);
  if (!z.ok()) return z.status();
  if (observer) observer(layer.expand.node, *z);
  absl::StatusOr<Tensor> gate = layer.gate == Gate::kSigmoid
                                    ? ops::UnaryOp(ops::Unary::kSigmoid, *z)
                                    : HardSigmoid(*z);
  if (!gate.ok()) return gate.status();
  return ops::BinaryOp(ops::Binary::kMul, *gate, x);
}

absl::StatusOr<Tensor> RunLayer(const Layer& layer,
                                const std::vector<const Tensor*>& in,
                                const TensorObserver& observer) {
  switch (layer.kind) {
    case LayerKind::kConv:
      return RunConv(layer.conv, *in[0], observer);
    case LayerKind::kAdd:
      return ops::BinaryOp(ops::Binary::kAdd, *in[0], *in[1]);
    case LayerKind::kSqueezeExcite:
      return RunSqueezeExcite(layer, *in[0], observer);
    case LayerKind::kResize2x:
      return ops::ResizeBilinear(*in[0], static_cast<int>(in[0]->shape[1] * 2),
                                 static_cast<int>(in[0]->shape[2] * 2));
    case LayerKind::kConcat: {
      absl::StatusOr<Tensor> c = ops::Concat({in[0], in[1]}, 3);
      if (!c.ok()) return c.status();
      return ops::UnaryOp(ops::Unary::kRelu, *c);
    }
  }
  return absl::InternalError("unknown layer kind");
}

}  // namespace

absl::StatusOr<DetectorGraph> LowerDetector(const tfjs::GraphModel& model) {
  return Lowerer(model).Lower();
}

absl::StatusOr<std::map<std::string, tfjs::Tensor>> RunFloatLayers(
    const DetectorGraph& graph, const tfjs::Tensor& input,
    const std::vector<std::string>& keep, const TensorObserver& observer) {
  std::set<std::string> kept(keep.begin(), keep.end());
  kept.insert({graph.keypoint_logits, graph.wh_logits});
  // A tensor is dropped after its last reader unless it is kept.
  std::map<std::string, size_t> last_use;
  for (size_t i = 0; i < graph.layers.size(); ++i) {
    for (const std::string& in : graph.layers[i].inputs) last_use[in] = i;
  }
  std::map<std::string, Tensor> values = {{graph.input, input}};
  for (size_t i = 0; i < graph.layers.size(); ++i) {
    const Layer& layer = graph.layers[i];
    std::vector<const Tensor*> in;
    for (const std::string& name : layer.inputs) in.push_back(&values.at(name));
    absl::StatusOr<Tensor> out = RunLayer(layer, in, observer);
    if (!out.ok()) {
      return absl::Status(
          out.status().code(),
          absl::StrCat("layer ", layer.output, ": ", out.status().message()));
    }
    if (observer) observer(layer.output, *out);
    values[layer.output] = *std::move(out);
    for (const std::string& name : layer.inputs) {
      if (last_use[name] == i && !kept.count(name)) values.erase(name);
    }
  }
  std::map<std::string, Tensor> result;
  for (const std::string& name : kept) {
    auto it = values.find(name);
    if (it == values.end()) {
      return absl::NotFoundError(absl::StrCat("no layer computes ", name));
    }
    result[name] = std::move(it->second);
  }
  return result;
}

}  // namespace fxserve::model::centernet
