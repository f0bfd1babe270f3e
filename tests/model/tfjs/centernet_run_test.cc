// The float executor on the real CenterNet: output shapes and ranges, and
// the graph's own decode (3x3 peak test, top-100 over (y, x, class), boxes
// from `wh`) against a decode written here from `keypoints` and `wh`.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "model/tfjs/graph_executor.h"
#include "model/tfjs/graph_model.h"

namespace fxserve::model::tfjs {
namespace {

constexpr int kGrid = 128, kClasses = 80, kTop = 100;

// A 512x512 RGB test card: gradients and a bright square.
Tensor TestImage() {
  Tensor image;
  image.shape = {1, 512, 512, 3};
  image.floats.resize(512 * 512 * 3);
  for (int y = 0; y < 512; ++y) {
    for (int x = 0; x < 512; ++x) {
      float* px = &image.floats[(y * 512 + x) * 3];
      const bool square = x > 150 && x < 350 && y > 200 && y < 400;
      px[0] = square ? 250 : (x * 7 + y * 3) % 256;
      px[1] = square ? 240 : y / 2;
      px[2] = square ? 20 : 255 - x / 2;
    }
  }
  return image;
}

// Peak-masked scores as the graph defines them: a score survives where it
// equals the maximum of its 3x3 neighbourhood (same class), else 0.
std::vector<float> Peaks(const std::vector<float>& k) {
  std::vector<float> peaks(k.size());
  for (int y = 0; y < kGrid; ++y) {
    for (int x = 0; x < kGrid; ++x) {
      for (int c = 0; c < kClasses; ++c) {
        const float v = k[(y * kGrid + x) * kClasses + c];
        float m = v;
        for (int dy = -1; dy <= 1; ++dy) {
          for (int dx = -1; dx <= 1; ++dx) {
            const int yy = y + dy, xx = x + dx;
            if (yy < 0 || yy >= kGrid || xx < 0 || xx >= kGrid) continue;
            m = std::max(m, k[(yy * kGrid + xx) * kClasses + c]);
          }
        }
        peaks[(y * kGrid + x) * kClasses + c] = v == m ? v : 0;
      }
    }
  }
  return peaks;
}

TEST(CenterNetRun, DetectionsAreTheDecodeOfKeypointsAndWh) {
  absl::StatusOr<GraphModel> model =
      LoadGraphModel(std::string(FXSERVE_CENTERNET_DIR) + "/centernet.json");
  ASSERT_TRUE(model.ok()) << model.status();
  const std::vector<std::string> names = {"tower_0/keypoints", "tower_0/wh",
                                          "tower_0/detections"};
  absl::StatusOr<TensorMap> out =
      RunGraph(*model, {{"tower_0/images", TestImage()}}, names);
  ASSERT_TRUE(out.ok()) << out.status();
  const Tensor& keypoints = out->at(names[0]);
  const Tensor& wh = out->at(names[1]);
  const Tensor& detections = out->at(names[2]);
  ASSERT_EQ(keypoints.shape, (std::vector<int64_t>{1, kGrid, kGrid, kClasses}));
  ASSERT_EQ(wh.shape, (std::vector<int64_t>{1, kGrid, kGrid, 4}));
  ASSERT_EQ(detections.shape, (std::vector<int64_t>{1, kTop, 6}));
  for (float v : keypoints.floats) ASSERT_TRUE(v >= 0 && v <= 1) << v;
  EXPECT_GT(detections.floats[4], 0);  // Something to decode.

  const std::vector<float> peaks = Peaks(keypoints.floats);
  std::vector<int> order(peaks.size());
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(
      order.begin(), order.begin() + kTop, order.end(), [&](int a, int b) {
        return peaks[a] > peaks[b] || (peaks[a] == peaks[b] && a < b);
      });
  for (int i = 0; i < kTop; ++i) {
    const int cell = order[i] / kClasses, c = order[i] % kClasses;
    const float x = 4.0f * (cell % kGrid), y = 4.0f * (cell / kGrid);
    const float* box = &wh.floats[cell * 4];
    const float* row = &detections.floats[i * 6];
    const float want[6] = {x - box[0], y - box[1],      x + box[2],
                           y + box[3], peaks[order[i]], static_cast<float>(c)};
    for (int j = 0; j < 6; ++j) {
      EXPECT_FLOAT_EQ(row[j], want[j]) << "detection " << i << " field " << j;
    }
  }
}

}  // namespace
}  // namespace fxserve::model::tfjs
