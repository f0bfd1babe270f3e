// The TF.js graph-model loader on small hand-written models: nodes,
// attributes and weights (float32, float16, int32) come out as written;
// every kind of bad file is a clear error naming what is wrong.
#include "model/tfjs/graph_model.h"

#include <cmath>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fxserve::model::tfjs {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A two-node graph: a float16 Const [2] feeding Relu6 with an int32 Const
// beside it; "a.bin" holds 2 x float16 then 1 x int32.
constexpr char kModel[] = R"({
  "format": "graph-model",
  "modelTopology": {"node": [
    {"name": "w", "op": "Const", "attr": {"dtype": {"type": "DT_FLOAT"}}},
    {"name": "k", "op": "Const", "attr": {"dtype": {"type": "DT_INT32"}}},
    {"name": "x", "op": "Placeholder",
     "attr": {"shape": {"shape": {"dim": [{"size": "1"}, {"size": "2"}]}}}},
    {"name": "y", "op": "Relu6", "input": ["x", "w:0", "^k"],
     "attr": {"padding": {"s": "U0FNRQ=="},
              "strides": {"list": {"i": ["1", "2", "2", "1"]}},
              "fused_ops": {"list": {"s": ["Qmlhc0FkZA=="]}},
              "epsilon": {"f": 0.5}, "keep_dims": {"b": true},
              "num_args": {"i": "1"}}}
  ]},
  "signature": {"inputs": {"x": {}}, "outputs": {"y": {}}},
  "weightsManifest": [{"paths": ["a.bin"], "weights": [
    {"name": "w", "shape": [2], "dtype": "float32",
     "quantization": {"dtype": "float16", "original_dtype": "float32"}},
    {"name": "k", "shape": [], "dtype": "int32"}]}]
})";

std::string Shard() {
  const uint16_t halves[2] = {0x3c00, 0xc200};  // 1.0, -3.0
  const int32_t k = -7;
  std::string bytes(8, '\0');
  std::memcpy(bytes.data(), halves, 4);
  std::memcpy(bytes.data() + 4, &k, 4);
  return bytes;
}

ShardReader Shards(std::map<std::string, std::string> shards) {
  return [shards](const std::string& path) -> absl::StatusOr<std::string> {
    auto it = shards.find(path);
    if (it == shards.end()) {
      return absl::NotFoundError(absl::StrCat("no shard ", path));
    }
    return it->second;
  };
}

TEST(GraphModel, ReadsNodesAttributesAndWeights) {
  absl::StatusOr<GraphModel> model =
      ParseGraphModel(kModel, Shards({{"a.bin", Shard()}}));
  ASSERT_TRUE(model.ok()) << model.status();
  ASSERT_EQ(model->nodes.size(), 4u);
  const Node* y = model->FindNode("y");
  ASSERT_NE(y, nullptr);
  EXPECT_EQ(y->op, "Relu6");
  EXPECT_THAT(y->inputs, ElementsAre("x", "w:0"));  // ^k is control only.
  EXPECT_EQ(y->attrs.at("padding").s, "SAME");
  EXPECT_THAT(y->attrs.at("strides").list_i, ElementsAre(1, 2, 2, 1));
  EXPECT_THAT(y->attrs.at("fused_ops").list_s, ElementsAre("BiasAdd"));
  EXPECT_EQ(y->attrs.at("epsilon").f, 0.5f);
  EXPECT_EQ(y->attrs.at("keep_dims").b, true);
  EXPECT_EQ(y->attrs.at("num_args").i, 1);
  EXPECT_THAT(*model->FindNode("x")->attrs.at("shape").shape,
              ElementsAre(1, 2));
  EXPECT_EQ(model->FindNode("w")->attrs.at("dtype").type, DataType::kFloat32);
  const Tensor& w = model->weights.at("w");
  EXPECT_THAT(w.shape, ElementsAre(2));
  EXPECT_THAT(w.floats, ElementsAre(1.0f, -3.0f));
  const Tensor& k = model->weights.at("k");
  EXPECT_EQ(k.dtype, DataType::kInt32);
  EXPECT_EQ(k.elements(), 1);
  EXPECT_THAT(k.ints, ElementsAre(-7));
  EXPECT_THAT(model->inputs, ElementsAre("x"));
  EXPECT_THAT(model->outputs, ElementsAre("y"));
}

TEST(GraphModel, AnEmptyWeightIsEmpty) {
  const std::string text = absl::StrReplaceAll(
      kModel,
      {{"{\"name\": \"k\", \"op\"",
        "{\"name\": \"e\", \"op\": \"Const\"}, {\"name\": \"k\", \"op\""},
       {"{\"name\": \"k\", \"shape\"",
        "{\"name\": \"e\", \"shape\": [3, 0], \"dtype\": \"float32\"}, "
        "{\"name\": \"k\", \"shape\""}});
  absl::StatusOr<GraphModel> model =
      ParseGraphModel(text, Shards({{"a.bin", Shard()}}));
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->weights.at("e").elements(), 0);
  EXPECT_TRUE(model->weights.at("e").floats.empty());
  EXPECT_THAT(model->weights.at("k").ints, ElementsAre(-7));
}

TEST(GraphModel, HalfToFloatIsExact) {
  EXPECT_EQ(HalfToFloat(0x0000), 0.0f);
  EXPECT_TRUE(std::signbit(HalfToFloat(0x8000)));
  EXPECT_EQ(HalfToFloat(0x3555), 0.333251953125f);
  // c = float16(1/6), the hard-swish constant of the detector graph.
  EXPECT_EQ(HalfToFloat(0x3155), 0.1666259765625f);
  EXPECT_EQ(HalfToFloat(0x7bff), 65504.0f);
  EXPECT_EQ(HalfToFloat(0x0001), std::ldexp(1.0f, -24));  // Subnormal.
  EXPECT_EQ(HalfToFloat(0x03ff), std::ldexp(1023.0f, -24));
  EXPECT_TRUE(std::isinf(HalfToFloat(0xfc00)) && HalfToFloat(0xfc00) < 0);
  EXPECT_TRUE(std::isnan(HalfToFloat(0x7e00)));
}

// Each case edits kModel (or the shards) and names what the error says.
TEST(GraphModel, BadFilesSayWhatIsWrong) {
  struct Case {
    std::string from, to;
    std::map<std::string, std::string> shards;
    std::string expected;
  };
  const std::string shard = Shard();
  const std::vector<Case> cases = {
      {"", "", {}, "no shard a.bin"},
      {"", "", {{"a.bin", shard.substr(0, 6)}}, "a shard is missing or short"},
      {"", "", {{"a.bin", shard + "xx"}}, "the shards hold 10"},
      {"\"op\": \"Relu6\"",
       "\"op\": \"Erf\"",
       {{"a.bin", shard}},
       "node y has op Erf"},
      {"\"x\", \"w:0\"",
       "\"x\", \"nothere\"",
       {{"a.bin", shard}},
       "node y reads nothere, which no node makes"},
      {"\"graph-model\"",
       "\"layers-model\"",
       {{"a.bin", shard}},
       "not \"graph-model\""},
      {"\"float16\", \"original",
       "\"uint8\", \"original",
       {{"a.bin", shard}},
       "quantization to uint8 is not supported"},
      {"\"shape\": [2]",
       "\"shape\": [-2]",
       {{"a.bin", shard}},
       "weight w: bad shape"},
      {"\"U0FNRQ==\"",
       "\"@@@\"",
       {{"a.bin", shard}},
       "node y, attribute padding: expected a base64 string"},
      {"\"weightsManifest\": [",
       "\"weightsManifest\": [7, ",
       {{"a.bin", shard}},
       "unexpected structure"},
      {"{\"name\": \"k\", \"shape\"",
       "{\"name\": 3, \"shape\"",
       {{"a.bin", shard}},
       "a weight has no string \"name\""},
      {"\"signature\": {\"inputs\": {\"x\"",
       "\"signature\": {\"inputs\": {\"q\"",
       {{"a.bin", shard}},
       "signature input q is not a node"},
  };
  for (const Case& c : cases) {
    const std::string text =
        c.from.empty() ? kModel : absl::StrReplaceAll(kModel, {{c.from, c.to}});
    absl::StatusOr<GraphModel> model = ParseGraphModel(text, Shards(c.shards));
    ASSERT_FALSE(model.ok()) << c.expected;
    EXPECT_THAT(model.status().message(), HasSubstr(c.expected))
        << model.status();
  }
  EXPECT_FALSE(ParseGraphModel("{not json", Shards({})).ok());
  EXPECT_FALSE(ParseGraphModel("[]", Shards({})).ok());
}

TEST(GraphModel, LoadNamesTheFile) {
  absl::StatusOr<GraphModel> missing =
      LoadGraphModel("/nonexistent/model.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("/nonexistent/model.json"));
}

TEST(GraphModel, SupportsTheDetectorsOps) {
  for (const char* op : {"_FusedConv2D", "FusedDepthwiseConv2dNative",
                         "ResizeBilinear", "TopKV2", "MaxPool", "Mean"}) {
    bool found = false;
    for (std::string_view supported : SupportedOps()) found |= supported == op;
    EXPECT_TRUE(found) << op;
  }
}

}  // namespace
}  // namespace fxserve::model::tfjs
