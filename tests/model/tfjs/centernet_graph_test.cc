// The loader on the real detector, the CenterNet fetched by
// tools/install-deps.sh: its graph, weights and signature as published.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/tfjs/graph_model.h"

namespace fxserve::model::tfjs {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

TEST(CenterNetGraph, LoadsTheShippedDetector) {
  absl::StatusOr<GraphModel> model =
      LoadGraphModel(std::string(FXSERVE_CENTERNET_DIR) + "/centernet.json");
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->nodes.size(), 544u);
  EXPECT_EQ(model->weights.size(), 267u);
  int64_t parameters = 0;
  for (const auto& [name, tensor] : model->weights) {
    parameters += tensor.elements();
  }
  EXPECT_EQ(parameters, 2015065);  // "2.0 M parameters".
  EXPECT_THAT(model->inputs, ElementsAre("tower_0/images"));
  EXPECT_THAT(model->outputs,
              UnorderedElementsAre("tower_0/keypoints", "tower_0/wh",
                                   "tower_0/detections"));
  EXPECT_THAT(*model->FindNode("tower_0/images")->attrs.at("shape").shape,
              ElementsAre(1, 512, 512, 3));
  EXPECT_THAT(
      model->weights.at("tower_0/MobilenetV3/Conv/Conv2D_weights").shape,
      ElementsAre(3, 3, 3, 16));
  // Hard-swish's 1/6 is stored as float16: not 1/6 exactly.
  EXPECT_EQ(
      model->weights.at("tower_0/extern1/hard_swish/mul_1/y").floats.at(0),
      0.1666259765625f);
  EXPECT_EQ(model->weights.at("tower_0/TopKV2/k").ints.at(0), 100);
  const Node* stem =
      model->FindNode("tower_0/MobilenetV3/Conv/BatchNorm/FusedBatchNorm");
  ASSERT_NE(stem, nullptr);
  EXPECT_EQ(stem->op, "_FusedConv2D");
  EXPECT_EQ(stem->attrs.at("padding").s, "SAME");
  EXPECT_THAT(stem->attrs.at("strides").list_i, ElementsAre(1, 2, 2, 1));
  EXPECT_THAT(stem->attrs.at("fused_ops").list_s, ElementsAre("BiasAdd"));
}

}  // namespace
}  // namespace fxserve::model::tfjs
