// The plain integer reference of kernels/detect/NUMERICS.md: the host
// resize, the sigmoid table, the rows back to floats, the artifact, and a
// whole run of a small hand-made detector whose outputs follow from the
// contract by hand (constant heat maps: every pixel is a peak, so the top
// 100 are the lowest flat indices, class fastest).
#include "model/centernet/int_reference.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/artifact_io.h"
#include "model/centernet/quantized_detector.h"

namespace fxserve::model::centernet {
namespace {

using ::testing::HasSubstr;

TEST(ResizeToInput, IdentityConstantAndInterpolation) {
  image::RgbImage same{512, 512, std::vector<uint8_t>(512 * 512 * 3)};
  for (size_t i = 0; i < same.pixels.size(); ++i) same.pixels[i] = i * 7 % 251;
  EXPECT_EQ(ResizeToInput(same), same.pixels);

  image::RgbImage one{1, 1, {10, 20, 30}};
  const std::vector<uint8_t> ones = ResizeToInput(one);
  for (size_t i = 0; i < ones.size(); ++i)
    ASSERT_EQ(ones[i], one.pixels[i % 3]);

  // Two columns, black and white: column d samples 2d / 512 of the way.
  image::RgbImage ramp{2, 1, {0, 0, 0, 255, 255, 255}};
  const std::vector<uint8_t> r = ResizeToInput(ramp);
  auto at = [&](int x) { return r[static_cast<size_t>(x) * 3]; };
  EXPECT_EQ(at(0), 0);
  EXPECT_EQ(at(64), 64);                     // 255 * 128 / 512 = 63.75.
  EXPECT_EQ(at(128), 128);                   // 127.5 rounds half up.
  EXPECT_EQ(at(255), 254);                   // 255 * 510 / 512 = 254.0.
  EXPECT_EQ(at(256), 255);                   // Past the last column: clamped.
  EXPECT_EQ(r[(511 * 512 + 128) * 3], 128);  // Every row alike.
}

TEST(SigmoidTable, ValuesSymmetryAndOrder) {
  const std::vector<uint16_t>& t = SigmoidTable();
  ASSERT_EQ(t.size(), 4096u);
  EXPECT_EQ(t[2048], 16384);        // sigmoid(0) = 1/2.
  EXPECT_EQ(t[0], 11);              // 2^15 / (1 + e^8) = 10.99.
  EXPECT_EQ(t[2048 + 256], 23955);  // 2^15 sigmoid(1) = 23954.6.
  for (int i = 1; i < 2048; ++i) {
    ASSERT_EQ(t[2048 + i] + t[2048 - i], 32768) << i;
    ASSERT_LE(t[i - 1], t[i]) << i;
  }
}

TEST(DetectionRowsToFloat, Units) {
  const std::vector<float> f =
      DetectionRowsToFloat(std::vector<int32_t>{160, -8, 320, 240, 16384, 7});
  EXPECT_EQ(f, (std::vector<float>{10, -0.5f, 20, 15, 0.5f, 7}));
}

QuantizedLinear ZeroLinear(int in, int out, int32_t bias, int8_t shift) {
  QuantizedLinear q;
  q.in = in;
  q.out = out;
  q.weight.assign(static_cast<size_t>(in) * out, 0);
  q.bias.assign(out, bias);
  q.shift.assign(out, shift);
  return q;
}

QuantizedDetectorLayer Conv(const std::string& in, const std::string& out,
                            int k, int s, int cin, int cout, Epilogue e,
                            QuantizedLinear w) {
  QuantizedDetectorLayer l;
  l.layer.kind = LayerKind::kConv;
  l.layer.inputs = {in};
  l.layer.output = out;
  l.layer.conv = {out, k, s, false, cin, cout, e, {}, {}};
  l.conv = std::move(w);
  return l;
}

// 512 -> 256 -> 128, then the two heads: zero weights, so every logit is
// its bias (shift 0: the bias code is the Q(16, 8) logit).
QuantizedDetector ToyDetector() {
  QuantizedDetector q;
  q.input = "images";
  q.keypoint_logits = "cls";
  q.wh_logits = "wh";
  q.class_names.assign(80, "thing");
  q.layers.push_back(Conv("images", "a", 3, 2, 3, 8, Epilogue::kRelu,
                          ZeroLinear(27, 8, 0, 0)));
  q.layers.push_back(
      Conv("a", "b", 1, 2, 8, 8, Epilogue::kNone, ZeroLinear(8, 8, 0, 0)));
  q.layers.push_back(Conv("b", "cls", 1, 1, 8, 80, Epilogue::kLogits,
                          ZeroLinear(8, 80, 256, 0)));  // Logit 1.0.
  q.layers.push_back(Conv("b", "wh", 1, 1, 8, 4, Epilogue::kLogits,
                          ZeroLinear(8, 4, 32, 0)));  // 2 px each way.
  q.frac["a"] = std::vector<int>(8, 3);
  q.frac["b"] = std::vector<int>(8, 3);
  q.unsigned_tensors = {"a"};
  return q;
}

TEST(RunIntReference, ConstantHeadsDecodeByTheContract) {
  const QuantizedDetector q = ToyDetector();
  absl::StatusOr<IntDetectorOutput> out =
      RunIntReference(q, std::vector<uint8_t>(512 * 512 * 3, 100));
  ASSERT_TRUE(out.ok()) << out.status();
  const uint16_t k = SigmoidTable()[2048 + 256];
  ASSERT_EQ(out->keypoints.size(), 128u * 128 * 80);
  for (uint16_t v : out->keypoints) ASSERT_EQ(v, k);
  ASSERT_EQ(out->detections.size(), 600u);
  for (int r = 0; r < 100; ++r) {
    const int c = r % 80, x = r / 80;  // Flat index r; y = 0.
    const std::vector<int32_t> want = {
        (x << 6) - 32, -32, (x << 6) + 32, 32, k, c};
    const std::vector<int32_t> got(out->detections.begin() + 6 * r,
                                   out->detections.begin() + 6 * r + 6);
    ASSERT_EQ(got, want) << "row " << r;
  }
}

TEST(RunIntReference, RefusesWrongInputsAndShapes) {
  QuantizedDetector q = ToyDetector();
  EXPECT_THAT(RunIntReference(q, std::vector<uint8_t>(100)).status().message(),
              HasSubstr("512 x 512 x 3 bytes"));
  q.layers[1].layer.conv.stride = 1;  // The heads become 256 x 256.
  EXPECT_THAT(RunIntReference(q, std::vector<uint8_t>(512 * 512 * 3))
                  .status()
                  .message(),
              HasSubstr("128 x 128"));
}

// Each test its own folder: ctest runs them in parallel processes.
class DetectorArtifact : public ::testing::Test {
 protected:
  std::string dir_ =
      ::testing::TempDir() + "/toy-detector-" +
      ::testing::UnitTest::GetInstance()->current_test_info()->name();
};

TEST_F(DetectorArtifact, RoundTripsAndRefusesCorruption) {
  const QuantizedDetector q = ToyDetector();
  ASSERT_TRUE(SaveQuantizedDetector(q, dir_).ok());
  absl::StatusOr<QuantizedDetector> back = LoadQuantizedDetector(dir_);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->frac, q.frac);
  EXPECT_EQ(back->unsigned_tensors, q.unsigned_tensors);
  EXPECT_EQ(back->class_names, q.class_names);
  ASSERT_EQ(back->layers.size(), q.layers.size());
  EXPECT_EQ(back->layers[2].conv.bias, q.layers[2].conv.bias);
  EXPECT_EQ(back->layers[0].layer.conv.epilogue, Epilogue::kRelu);
  const std::vector<uint8_t> input(512 * 512 * 3, 7);
  EXPECT_EQ(RunIntReference(*back, input)->detections,
            RunIntReference(q, input)->detections);

  // One flipped byte of tensor data: DataLoss.
  const std::string path = ArtifactPath(dir_);
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(-3, std::ios::end);
    char c = 0;
    f.read(&c, 1);
    f.seekp(-3, std::ios::end);
    c ^= 0x10;
    f.write(&c, 1);
  }
  absl::StatusOr<QuantizedDetector> corrupt = LoadQuantizedDetector(dir_);
  EXPECT_EQ(corrupt.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(corrupt.status().message(), HasSubstr("is corrupt"));
}

TEST_F(DetectorArtifact, RefusesALayerReadingNothing) {
  QuantizedDetector q = ToyDetector();
  q.layers[1].layer.inputs = {"nowhere"};
  ASSERT_TRUE(SaveQuantizedDetector(q, dir_).ok());
  absl::StatusOr<QuantizedDetector> back = LoadQuantizedDetector(dir_);
  EXPECT_EQ(back.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(back.status().message(), HasSubstr("reads nowhere"));
}

TEST_F(DetectorArtifact, RefusesAGpt2Artifact) {
  ASSERT_TRUE(
      WriteArtifact(dir_, "fxserve.gpt2.quantized", 1, ArtifactTensors(), {})
          .ok());
  absl::StatusOr<QuantizedDetector> back = LoadQuantizedDetector(dir_);
  EXPECT_THAT(back.status().message(),
              HasSubstr("is not an fxserve model artifact"));
}

}  // namespace
}  // namespace fxserve::model::centernet
