// The CenterNet graph lowered to layers: the layer census of the numerics
// contract (kernels/detect/NUMERICS.md), clear errors for a graph that
// departs from its patterns, and the layers in float computing exactly the
// graph's own tensors on a darknet photo.
#include "model/centernet/detector_graph.h"

#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/image/image.h"
#include "model/tfjs/graph_executor.h"
#include "model/tfjs/graph_ops.h"

namespace fxserve::model::centernet {
namespace {

using ::testing::HasSubstr;

const tfjs::GraphModel& Model() {
  static const tfjs::GraphModel* model = [] {
    absl::StatusOr<tfjs::GraphModel> m =
        tfjs::LoadGraphModel(FXSERVE_CENTERNET_DIR "/centernet.json");
    EXPECT_TRUE(m.ok()) << m.status();
    return new tfjs::GraphModel(*std::move(m));
  }();
  return *model;
}

TEST(LowerDetector, LayerCensusOfTheContract) {
  absl::StatusOr<DetectorGraph> graph = LowerDetector(Model());
  ASSERT_TRUE(graph.ok()) << graph.status();
  std::map<LayerKind, int> kinds;
  std::map<Epilogue, int> epilogues;
  int depthwise = 0, strided = 0, hard_sigmoid_gates = 0;
  for (const Layer& layer : graph->layers) {
    ++kinds[layer.kind];
    if (layer.kind == LayerKind::kConv) {
      ++epilogues[layer.conv.epilogue];
      depthwise += layer.conv.depthwise;
      strided += layer.conv.stride == 2;
    }
    if (layer.kind == LayerKind::kSqueezeExcite) {
      hard_sigmoid_gates += layer.gate == Gate::kHardSigmoid;
    }
  }
  // The graph's 89 convs less the squeeze-excite blocks' 1x1 pairs; 20 of
  // them carry a hard-swish.
  EXPECT_EQ(kinds[LayerKind::kConv], 71);
  EXPECT_EQ(epilogues[Epilogue::kHardSwish], 20);
  EXPECT_EQ(kinds[LayerKind::kSqueezeExcite], 9);
  EXPECT_EQ(hard_sigmoid_gates, 8);  // The head's is a real sigmoid.
  EXPECT_EQ(kinds[LayerKind::kAdd], 13);
  EXPECT_EQ(kinds[LayerKind::kResize2x], 3);
  EXPECT_EQ(kinds[LayerKind::kConcat], 3);
  EXPECT_EQ(epilogues[Epilogue::kLogits], 2);
  EXPECT_EQ(depthwise, 26);
  EXPECT_EQ(strided, 5);
  EXPECT_EQ(graph->input, "tower_0/images");
  EXPECT_EQ(graph->keypoint_logits,
            "tower_0/CenternetHead/centernet_cls_output/BiasAdd");
}

TEST(LowerDetector, NamesTheNodeOutsideThePatterns) {
  tfjs::GraphModel broken = Model();
  // hard-swish's "+ 3" of the stem becomes "+ 4": no longer hard-swish.
  broken.weights.at("tower_0/MobilenetV3/Conv/hard_swish/add/y").floats = {4};
  absl::StatusOr<DetectorGraph> graph = LowerDetector(broken);
  ASSERT_FALSE(graph.ok());
  EXPECT_EQ(graph.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(graph.status().message(),
              HasSubstr("MobilenetV3/Conv/hard_swish/"));
}

TEST(LowerDetector, RefusesAnotherGraph) {
  tfjs::GraphModel other = Model();
  other.nodes.erase(other.nodes.begin() + 1);  // Not a CenterNet any more.
  for (tfjs::Node& node : other.nodes) {
    if (node.name == "tower_0/keypoints") node.inputs = {"tower_0/images"};
  }
  absl::StatusOr<DetectorGraph> graph = LowerDetector(other);
  ASSERT_FALSE(graph.ok());
  EXPECT_THAT(graph.status().message(), HasSubstr("not the CenterNet graph"));
}

// Every layer output and both logits, bit for bit the graph executor's.
TEST(RunFloatLayers, EqualsTheGraphOnAPhoto) {
  absl::StatusOr<DetectorGraph> graph = LowerDetector(Model());
  ASSERT_TRUE(graph.ok()) << graph.status();
  absl::StatusOr<image::RgbImage> photo =
      image::ReadImage(FXSERVE_TEST_PHOTOS_DIR "/dog.jpg");
  ASSERT_TRUE(photo.ok()) << photo.status();
  tfjs::Tensor pixels;
  pixels.shape = {1, photo->height, photo->width, 3};
  pixels.floats.assign(photo->pixels.begin(), photo->pixels.end());
  absl::StatusOr<tfjs::Tensor> input =
      tfjs::ops::ResizeBilinear(pixels, 512, 512);
  ASSERT_TRUE(input.ok());

  std::vector<std::string> names;
  for (const Layer& layer : graph->layers) names.push_back(layer.output);
  int observed = 0;
  absl::StatusOr<std::map<std::string, tfjs::Tensor>> layers = RunFloatLayers(
      *graph, *input, names,
      [&](const std::string&, const tfjs::Tensor&) { ++observed; });
  ASSERT_TRUE(layers.ok()) << layers.status();
  // Outputs, hard-swish inputs, and per squeeze-excite its mean, reduced
  // and gate-input tensors.
  EXPECT_GT(observed, static_cast<int>(names.size()) + 27);
  absl::StatusOr<tfjs::TensorMap> want =
      tfjs::RunGraph(Model(), {{graph->input, *input}}, names);
  ASSERT_TRUE(want.ok()) << want.status();
  for (const std::string& name : names) {
    ASSERT_EQ(layers->at(name).shape, want->at(name).shape) << name;
    ASSERT_EQ(layers->at(name).floats, want->at(name).floats) << name;
  }
  EXPECT_EQ(layers->at(graph->keypoint_logits).shape,
            (std::vector<int64_t>{1, 128, 128, 80}));
}

}  // namespace
}  // namespace fxserve::model::centernet
