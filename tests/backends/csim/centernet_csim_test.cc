// The detector's dataflow top in C-simulation (backends/csim/
// centernet_csim.h) against the plain integer reference, byte for byte:
// the W8A8 fixed-scale artifact fxtool quantize makes (tests/tools) and a
// W4A8 pow2 model quantized here, on darknet's photos (release stage: a
// run takes seconds). Everywhere: Create's checks of a model against the
// layer table, on a model made from the table itself.
#include "backends/csim/centernet_csim.h"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernels/top/centernet_layers.h"
#include "model/centernet/detector_graph.h"
#include "model/centernet/int_reference.h"
#include "model/centernet/quantized_detector.h"
#include "model/image/image.h"
#include "model/tfjs/graph_model.h"
#include "tools/quantize/centernet_quantizer.h"

namespace fxserve::backends::csim {
namespace {

namespace kc = kernels::centernet;
using model::centernet::ConvLayer;
using model::centernet::Epilogue;
using model::centernet::Gate;
using model::centernet::IntDetectorOutput;
using model::centernet::LayerKind;
using model::centernet::QuantizedDetector;
using model::centernet::QuantizedDetectorLayer;
using ::testing::HasSubstr;

std::vector<uint8_t> Photo(const std::string& name) {
  absl::StatusOr<model::image::RgbImage> photo =
      model::image::ReadImage(std::string(FXSERVE_TEST_PHOTOS_DIR "/") + name);
  EXPECT_TRUE(photo.ok()) << photo.status();
  if (!photo.ok()) return {};
  return model::centernet::ResizeToInput(*photo);
}

// The first few differences of two vectors, by index.
template <class T>
void ExpectSameBytes(const std::vector<T>& got, const std::vector<T>& want,
                     const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  int reported = 0;
  size_t differing = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i] == want[i]) continue;
    ++differing;
    if (reported++ < 5) {
      ADD_FAILURE() << what << "[" << i << "]: top " << got[i] << ", reference "
                    << want[i];
    }
  }
  EXPECT_EQ(differing, 0u) << what << ": values that differ";
}

// The top and the reference on each photo: the same bytes.
void ExpectTopEqualsReference(const QuantizedDetector& q,
                              const std::vector<std::string>& photos) {
  absl::StatusOr<std::unique_ptr<CenternetCsim>> sim = CenternetCsim::Create(q);
  ASSERT_TRUE(sim.ok()) << sim.status();
  for (const std::string& name : photos) {
    const std::vector<uint8_t> input = Photo(name);
    ASSERT_FALSE(input.empty());
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<IntDetectorOutput> want =
        model::centernet::RunIntReference(q, input);
    const auto middle = std::chrono::steady_clock::now();
    ASSERT_TRUE(want.ok()) << want.status();
    absl::StatusOr<IntDetectorOutput> got = (*sim)->Run(input);
    const auto end = std::chrono::steady_clock::now();
    ASSERT_TRUE(got.ok()) << got.status();
    const std::chrono::duration<double> reference_s = middle - start,
                                        top_s = end - middle;
    std::printf("%s: reference %.1f s, C-simulated top %.1f s\n", name.c_str(),
                reference_s.count(), top_s.count());
    ExpectSameBytes(got->keypoints, want->keypoints, name + " keypoints");
    ExpectSameBytes(got->detections, want->detections, name + " detections");
    // Not a degenerate pass: the photos have confident detections.
    ASSERT_EQ(got->detections.size(), 600u);
    std::printf(
        "%s: top score %.3f (class %d), keypoints and detections "
        "equal\n",
        name.c_str(), got->detections[4] / 32768.0, got->detections[5]);
    EXPECT_GT(got->detections[4], 32768 / 10) << name;
  }
}

TEST(CenternetCsim, EqualsTheIntReferenceOnTheArtifact) {
  absl::StatusOr<QuantizedDetector> q =
      model::centernet::LoadQuantizedDetector(FXSERVE_ARTIFACT);
  ASSERT_TRUE(q.ok()) << q.status();
  ASSERT_EQ(q->weight_bits, 8);
  ASSERT_EQ(q->scales, model::ScaleKind::kFixed);
  ExpectTopEqualsReference(*q, {"dog.jpg", "person.jpg"});
}

TEST(CenternetCsim, Int4Pow2EqualsTheIntReference) {
  absl::StatusOr<model::tfjs::GraphModel> m =
      model::tfjs::LoadGraphModel(FXSERVE_CENTERNET_DIR "/centernet.json");
  ASSERT_TRUE(m.ok()) << m.status();
  absl::StatusOr<model::centernet::DetectorGraph> graph =
      model::centernet::LowerDetector(*m);
  ASSERT_TRUE(graph.ok()) << graph.status();
  absl::StatusOr<model::image::RgbImage> calibration =
      model::image::ReadImage(FXSERVE_CALIBRATION_PHOTOS_DIR "/coins.png");
  ASSERT_TRUE(calibration.ok()) << calibration.status();
  quantize::DetectorQuantizeOptions options;
  options.weight_bits = 4;
  options.scales = model::ScaleKind::kPow2;
  absl::StatusOr<QuantizedDetector> q =
      quantize::QuantizeDetector(*graph, {*calibration}, options);
  ASSERT_TRUE(q.ok()) << q.status();
  // W4A8 pow2 finds little on its own calibration (NUMERICS.md,
  // "Accuracy"): only equality matters, so no score is asked for.
  absl::StatusOr<std::unique_ptr<CenternetCsim>> sim =
      CenternetCsim::Create(*q);
  ASSERT_TRUE(sim.ok()) << sim.status();
  const std::vector<uint8_t> input = Photo("dog.jpg");
  absl::StatusOr<IntDetectorOutput> want =
      model::centernet::RunIntReference(*q, input);
  absl::StatusOr<IntDetectorOutput> got = (*sim)->Run(input);
  ASSERT_TRUE(want.ok() && got.ok());
  ExpectSameBytes(got->keypoints, want->keypoints, "W4A8 keypoints");
  ExpectSameBytes(got->detections, want->detections, "W4A8 detections");
}

// ---------------------------------------------------------------------------
// Create's checks, on a model made from the table (tensor t named "t<t>").

std::string Name(int t) { return absl::StrCat("t", t); }

ConvLayer Conv(const std::string& node, int k, int s, bool depthwise, int cin,
               int cout, Epilogue e) {
  ConvLayer c;
  c.node = node;
  c.kernel = k;
  c.stride = s;
  c.depthwise = depthwise;
  c.in_channels = cin;
  c.out_channels = cout;
  c.epilogue = e;
  return c;
}

model::QuantizedLinear Weights(const ConvLayer& c, int bits, bool fixed,
                               std::mt19937& rng) {
  model::QuantizedLinear w;
  w.in = c.depthwise ? 1 : c.in_channels;
  w.out = c.out_channels;
  w.bits = bits;
  const int taps = c.kernel * c.kernel * w.in;
  std::uniform_int_distribution<int> code(-(1 << (bits - 1)),
                                          (1 << (bits - 1)) - 1);
  for (int i = 0; i < taps * w.out; ++i) {
    w.weight.push_back(static_cast<int8_t>(code(rng)));
  }
  w.bias.assign(w.out, 0);
  w.shift.assign(w.out, 8);
  if (fixed) w.mult.assign(w.out, 1 << 15);
  return w;
}

QuantizedDetector FromTable(int bits, model::ScaleKind scales) {
  std::mt19937 rng(1);
  const bool fixed = scales == model::ScaleKind::kFixed;
  QuantizedDetector q;
  q.weight_bits = bits;
  q.scales = scales;
  q.input = Name(kc::kImageTensor);
  q.keypoint_logits = Name(kc::kKeypointLogits);
  q.wh_logits = Name(kc::kWhLogits);
  for (int t = 1; t < kc::kTensorCount; ++t) {
    if (kc::kTensors[t].is_unsigned) q.unsigned_tensors.insert(Name(t));
  }
  for (int i = 0; i < kc::kLayerCount; ++i) {
    const kc::LayerSpec& s = kc::kLayers[i];
    QuantizedDetectorLayer ql;
    ql.layer.kind = static_cast<LayerKind>(static_cast<int>(s.op));
    ql.layer.output = Name(s.out);
    for (int j = 0; j < kc::InputCount(s); ++j) {
      ql.layer.inputs.push_back(Name(kc::InputOf(s, j)));
    }
    if (s.op == kc::LayerOp::kConv) {
      ql.layer.conv = Conv(Name(s.out) + "/conv", s.kernel, s.stride,
                           s.depthwise, s.in_channels, s.out_channels,
                           static_cast<Epilogue>(static_cast<int>(s.epilogue)));
      ql.conv = Weights(ql.layer.conv, kc::KeepsInt8Weights(s) ? 8 : bits,
                        fixed, rng);
    } else if (s.op == kc::LayerOp::kSqueezeExcite) {
      ql.layer.gate = static_cast<Gate>(static_cast<int>(s.gate));
      ql.layer.conv = Conv(Name(s.out) + "/reduce", 1, 1, false, s.in_channels,
                           s.squeeze_channels, Epilogue::kRelu);
      ql.layer.expand =
          Conv(Name(s.out) + "/expand", 1, 1, false, s.squeeze_channels,
               s.in_channels, Epilogue::kNone);
      ql.conv = Weights(ql.layer.conv, bits, fixed, rng);
      ql.expand = Weights(ql.layer.expand, bits, fixed, rng);
      q.unsigned_tensors.insert(ql.layer.conv.node);
      if (s.mean_unsigned) q.unsigned_tensors.insert(Name(s.out) + "#mean");
    }
    q.layers.push_back(std::move(ql));
  }
  return q;
}

TEST(CenternetCsim, CreatesEveryBuild) {
  for (int bits : {8, 4}) {
    for (model::ScaleKind scales :
         {model::ScaleKind::kPow2, model::ScaleKind::kFixed}) {
      absl::StatusOr<std::unique_ptr<CenternetCsim>> sim =
          CenternetCsim::Create(FromTable(bits, scales));
      EXPECT_TRUE(sim.ok()) << sim.status();
    }
  }
}

TEST(CenternetCsim, RunWantsTheNetworkInput) {
  absl::StatusOr<std::unique_ptr<CenternetCsim>> sim =
      CenternetCsim::Create(FromTable(8, model::ScaleKind::kPow2));
  ASSERT_TRUE(sim.ok()) << sim.status();
  const std::vector<uint8_t> small(100);
  absl::StatusOr<IntDetectorOutput> out = (*sim)->Run(small);
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(out.status().message(), HasSubstr("512 x 512 x 3"));
}

// Create on a model changed by `change`: InvalidArgument saying `message`.
template <class Change>
void ExpectRejected(Change change, const std::string& message) {
  QuantizedDetector q = FromTable(8, model::ScaleKind::kFixed);
  change(q);
  absl::StatusOr<std::unique_ptr<CenternetCsim>> sim = CenternetCsim::Create(q);
  ASSERT_FALSE(sim.ok()) << "accepted a model where " << message;
  EXPECT_EQ(sim.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(sim.status().message(), HasSubstr(message));
}

TEST(CenternetCsim, RejectsAModelOtherThanTheTable) {
  ExpectRejected([](QuantizedDetector& q) { q.layers.pop_back(); },
                 "the model has 98 layers");
  ExpectRejected(
      [](QuantizedDetector& q) { q.layers[5].layer.conv.kernel = 5; },
      "layer 5 (t6): a conv geometry or epilogue other than the table's");
  ExpectRejected(
      [](QuantizedDetector& q) {
        q.layers[1].layer.conv.epilogue = Epilogue::kNone;
      },
      "layer 1 (t2): a conv geometry or epilogue");
  ExpectRejected(
      [](QuantizedDetector& q) { q.layers[3].layer.inputs[1] = Name(2); },
      "layer 3 (t4): input 1 is t2, the table's is tensor 1");
  ExpectRejected(
      [](QuantizedDetector& q) { q.layers[3].layer.kind = LayerKind::kConcat; },
      "layer 3 (t4): another kind of layer");
  ExpectRejected(
      [](QuantizedDetector& q) { q.unsigned_tensors.erase(Name(2)); },
      "layer 1 (t2): its output is int8, the table's uint8");
  ExpectRejected(
      [](QuantizedDetector& q) { q.unsigned_tensors.insert(Name(3)); },
      "layer 2 (t3): its output is uint8, the table's int8");
  ExpectRejected(
      [](QuantizedDetector& q) {
        q.unsigned_tensors.erase(q.layers[16].layer.conv.node);
      },
      "layer 16 (t17): its mean or reduction has another signedness");
  ExpectRejected(
      [](QuantizedDetector& q) { q.layers[16].layer.gate = Gate::kSigmoid; },
      "layer 16 (t17): a squeeze-excite shape or gate");
  ExpectRejected([](QuantizedDetector& q) { q.wh_logits = Name(98); },
                 "the head logits are t97 and t98");
}

TEST(CenternetCsim, RejectsValuesOutsideTheirFields) {
  ExpectRejected([](QuantizedDetector& q) { q.weight_bits = 2; },
                 "weight_bits is 2");
  ExpectRejected(
      [](QuantizedDetector& q) { q.layers[0].conv.bits = 4; },
      "layer 0 (t1): conv t1/conv has int4 weights, this build int8");
  ExpectRejected(
      [](QuantizedDetector& q) { q.layers[4].conv.shift[3] = 64; },
      "layer 4 (t5): conv t5/conv shift[3] = 64 is outside [-64, 63]");
  ExpectRejected([](QuantizedDetector& q) { q.layers[4].conv.mult.clear(); },
                 "layer 4 (t5): conv t5/conv: weights, bias, shift or mult of "
                 "the wrong size");
  ExpectRejected(
      [](QuantizedDetector& q) { q.frac[Name(4)] = std::vector<int>(16, 17); },
      "layer 3 (t4): binary point of t4[0] = 17 is outside [-8, 16]");
  ExpectRejected(
      [](QuantizedDetector& q) {
        q.frac[q.layers[0].layer.conv.node] = std::vector<int>(16, 13);
      },
      "binary point of t1/conv[0] = 13 is outside [0, 12]");
  // An int4 model's codes must be int4.
  QuantizedDetector q = FromTable(4, model::ScaleKind::kPow2);
  q.layers[4].conv.weight[0] = 8;
  absl::StatusOr<std::unique_ptr<CenternetCsim>> sim = CenternetCsim::Create(q);
  EXPECT_THAT(sim.status().message(),
              HasSubstr("conv t5/conv weight[0] = 8 is outside [-8, 7]"));
}

}  // namespace
}  // namespace fxserve::backends::csim
