// kernels/top/centernet_layers.h, the layer table the dataflow top is built
// from, against what it was written from: LowerDetector on the shipped
// CenterNet (kind, tensors read and written, conv geometry, epilogue, gate,
// map sizes), and the signedness rule of kernels/detect/NUMERICS.md
// ("Unsigned tensors") applied to that graph. A mismatch prints the row as
// the table spells it.
#include "kernels/top/centernet_layers.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "model/centernet/detector_graph.h"
#include "model/tfjs/graph_model.h"

namespace fxserve::model::centernet {
namespace {

namespace kc = kernels::centernet;

const DetectorGraph& Graph() {
  static const DetectorGraph* graph = [] {
    absl::StatusOr<tfjs::GraphModel> m =
        tfjs::LoadGraphModel(FXSERVE_CENTERNET_DIR "/centernet.json");
    EXPECT_TRUE(m.ok()) << m.status();
    if (!m.ok()) return new DetectorGraph();
    absl::StatusOr<DetectorGraph> g = LowerDetector(*m);
    EXPECT_TRUE(g.ok()) << g.status();
    return new DetectorGraph(g.ok() ? *std::move(g) : DetectorGraph());
  }();
  return *graph;
}

// The contract's rule: relu outputs, every squeeze-excite reduction, every
// concat output, a concat's inputs when the concat is their only reader,
// and squeeze-excite (with its mean), resize and add of unsigned inputs
// only. Names as QuantizedDetector::unsigned_tensors has them.
std::set<std::string> UnsignedByTheContract(const DetectorGraph& g) {
  std::set<std::string> out = {g.input};  // The image, UQ(8, 0).
  std::map<std::string, int> readers, concat_readers;
  for (const Layer& l : g.layers) {
    for (const std::string& in : l.inputs) {
      ++readers[in];
      if (l.kind == LayerKind::kConcat) ++concat_readers[in];
    }
  }
  for (const auto& [name, n] : concat_readers) {
    if (readers[name] == n) out.insert(name);
  }
  for (const Layer& l : g.layers) {
    const bool all_unsigned =
        std::all_of(l.inputs.begin(), l.inputs.end(),
                    [&](const std::string& n) { return out.count(n) > 0; });
    switch (l.kind) {
      case LayerKind::kConv:
        if (l.conv.epilogue == Epilogue::kRelu) out.insert(l.output);
        break;
      case LayerKind::kConcat:
        out.insert(l.output);
        break;
      case LayerKind::kSqueezeExcite:
        out.insert(l.conv.node);
        if (all_unsigned) out.insert({l.output, l.output + "#mean"});
        break;
      case LayerKind::kResize2x:
      case LayerKind::kAdd:
        if (all_unsigned) out.insert(l.output);
        break;
    }
  }
  return out;
}

const char* ActName(Epilogue e) {
  switch (e) {
    case Epilogue::kNone:
      return "A::kNone";
    case Epilogue::kRelu:
      return "A::kRelu";
    case Epilogue::kHardSwish:
      return "A::kHardSwish";
    case Epilogue::kLogits:
      return "A::kLogits";
  }
  return "?";
}

const char* Bool(bool v) { return v ? "true" : "false"; }

// Layer l as the table's row (its inputs at `in`, input map h x w, the
// first input's and the second's channels c0, c1).
std::string Row(const Layer& l, const std::vector<int>& in, int out, int h,
                int w, int c0, int c1, const std::set<std::string>& u) {
  switch (l.kind) {
    case LayerKind::kConv:
      if (l.conv.depthwise) {
        return absl::StrCat("Depthwise(", out, ", ", in[0], ", ", h, ", ", w,
                            ", ", l.conv.in_channels, ", ", l.conv.kernel, ", ",
                            l.conv.stride, ", ", ActName(l.conv.epilogue), ")");
      }
      return absl::StrCat("Conv(", out, ", ", in[0], ", ", h, ", ", w, ", ",
                          l.conv.in_channels, ", ", l.conv.out_channels, ", ",
                          l.conv.kernel, ", ", l.conv.stride, ", ",
                          ActName(l.conv.epilogue), ")");
    case LayerKind::kAdd:
      return absl::StrCat("Add(", out, ", ", in[0], ", ", in[1], ", ", h, ", ",
                          w, ", ", c0, ")");
    case LayerKind::kSqueezeExcite:
      return absl::StrCat(
          "SqueezeExcite(", out, ", ", in[0], ", ", h, ", ", w, ", ",
          l.conv.in_channels, ", ", l.conv.out_channels, ", ",
          l.gate == Gate::kSigmoid ? "G::kSigmoid" : "G::kHardSigmoid", ", ",
          Bool(u.count(l.output + "#mean") > 0), ", ",
          Bool(u.count(l.conv.node) > 0), ")");
    case LayerKind::kResize2x:
      return absl::StrCat("Resize2x(", out, ", ", in[0], ", ", h, ", ", w, ", ",
                          c0, ")");
    case LayerKind::kConcat:
      return absl::StrCat("Concat(", out, ", ", in[0], ", ", in[1], ", ", h,
                          ", ", w, ", ", c0, ", ", c1, ")");
  }
  return "?";
}

// The same row from the table.
std::string TableRow(const kc::LayerSpec& s) {
  const auto act = [](kc::Act a) {
    return ActName(static_cast<Epilogue>(static_cast<int>(a)));
  };
  switch (s.op) {
    case kc::LayerOp::kConv:
      if (s.depthwise) {
        return absl::StrCat("Depthwise(", s.out, ", ", s.in0, ", ", s.height,
                            ", ", s.width, ", ", s.in_channels, ", ", s.kernel,
                            ", ", s.stride, ", ", act(s.epilogue), ")");
      }
      return absl::StrCat("Conv(", s.out, ", ", s.in0, ", ", s.height, ", ",
                          s.width, ", ", s.in_channels, ", ", s.out_channels,
                          ", ", s.kernel, ", ", s.stride, ", ", act(s.epilogue),
                          ")");
    case kc::LayerOp::kAdd:
      return absl::StrCat("Add(", s.out, ", ", s.in0, ", ", s.in1, ", ",
                          s.height, ", ", s.width, ", ", s.in_channels, ")");
    case kc::LayerOp::kSqueezeExcite:
      return absl::StrCat(
          "SqueezeExcite(", s.out, ", ", s.in0, ", ", s.height, ", ", s.width,
          ", ", s.in_channels, ", ", s.squeeze_channels, ", ",
          s.gate == kc::Gate::kSigmoid ? "G::kSigmoid" : "G::kHardSigmoid",
          ", ", Bool(s.mean_unsigned), ", ", Bool(s.squeeze_unsigned), ")");
    case kc::LayerOp::kResize2x:
      return absl::StrCat("Resize2x(", s.out, ", ", s.in0, ", ", s.height, ", ",
                          s.width, ", ", s.in_channels, ")");
    case kc::LayerOp::kConcat:
      return absl::StrCat("Concat(", s.out, ", ", s.in0, ", ", s.in1, ", ",
                          s.height, ", ", s.width, ", ", s.in_channels, ", ",
                          s.out_channels - s.in_channels, ")");
  }
  return "?";
}

TEST(CenternetLayers, TableEqualsTheLoweredGraph) {
  const DetectorGraph& g = Graph();
  ASSERT_EQ(static_cast<int>(g.layers.size()), kc::kLayerCount);
  const std::set<std::string> u = UnsignedByTheContract(g);
  // Tensor index and shape by name, propagated from the 512 x 512 image.
  std::map<std::string, int> index = {{g.input, kc::kImageTensor}};
  struct Shape {
    int h, w, c;
  };
  std::vector<Shape> shapes = {{512, 512, 3}};
  std::vector<std::string> names = {g.input};
  for (int i = 0; i < kc::kLayerCount; ++i) {
    const Layer& l = g.layers[i];
    std::vector<int> in;
    for (const std::string& name : l.inputs) {
      auto it = index.find(name);
      ASSERT_NE(it, index.end()) << l.output << " reads " << name;
      in.push_back(it->second);
    }
    ASSERT_GE(in.size(), 1u);
    const Shape x = shapes[in[0]];
    const int c1 = in.size() > 1 ? shapes[in[1]].c : 0;
    Shape y = x;
    switch (l.kind) {
      case LayerKind::kConv:
        y = {(x.h + l.conv.stride - 1) / l.conv.stride,
             (x.w + l.conv.stride - 1) / l.conv.stride, l.conv.out_channels};
        break;
      case LayerKind::kSqueezeExcite:
        // The expanding 1 x 1 gates every channel of x.
        EXPECT_EQ(l.expand.in_channels, l.conv.out_channels) << l.output;
        EXPECT_EQ(l.expand.out_channels, x.c) << l.output;
        EXPECT_EQ(l.conv.epilogue, Epilogue::kRelu) << l.output;
        break;
      case LayerKind::kResize2x:
        y = {2 * x.h, 2 * x.w, x.c};
        break;
      case LayerKind::kConcat:
        y.c = x.c + c1;
        break;
      case LayerKind::kAdd:
        break;
    }
    const int out = i + 1;
    EXPECT_EQ(TableRow(kc::kLayers[i]), Row(l, in, out, x.h, x.w, x.c, c1, u))
        << "layer " << i << " (" << l.output << ")";
    const kc::TensorSpec& t = kc::kTensors[out];
    EXPECT_TRUE(t.height == y.h && t.width == y.w && t.channels == y.c &&
                t.is_unsigned == (u.count(l.output) > 0))
        << "tensor " << out << " (" << l.output << ") is {" << y.h << ", "
        << y.w << ", " << y.c << ", " << Bool(u.count(l.output) > 0) << "}";
    index[l.output] = out;
    shapes.push_back(y);
    names.push_back(l.output);
  }
  EXPECT_TRUE(kc::kTensors[0].is_unsigned);
  EXPECT_EQ(names[kc::kKeypointLogits], g.keypoint_logits);
  EXPECT_EQ(names[kc::kWhLogits], g.wh_logits);
}

TEST(CenternetLayers, ReadersAndWeightWidths) {
  // Tensors read twice (a residual's skip, a branch point) need a fork.
  int forks = 0;
  for (int t = 0; t < kc::kTensorCount; ++t) forks += kc::ReaderCount(t) == 2;
  EXPECT_EQ(forks, 17);
  EXPECT_EQ(kc::ReaderCount(1), 2);  // The stem's: a conv and a residual.
  EXPECT_EQ(kc::ReaderSlot(1, 0), 0);
  EXPECT_EQ(kc::ReaderSlot(3, 1), 1);
  // int8 in every build: the stem and the two head outputs.
  int int8 = 0;
  for (const kc::LayerSpec& l : kc::kLayers) int8 += kc::KeepsInt8Weights(l);
  EXPECT_EQ(int8, 3);
  EXPECT_TRUE(kc::KeepsInt8Weights(kc::kLayers[0]));
  EXPECT_TRUE(kc::KeepsInt8Weights(kc::kLayers[kc::kKeypointLogits - 1]));
  EXPECT_TRUE(kc::KeepsInt8Weights(kc::kLayers[kc::kWhLogits - 1]));
}

}  // namespace
}  // namespace fxserve::model::centernet
