// The CenterNet detector in float: an image in, labelled boxes in the
// image's own pixels out. Preprocessing (RGB 0..255 resized to 512x512
// with the graph's legacy bilinear rule), the graph (model/tfjs), then the
// host's part: score threshold, class-aware NMS, boxes mapped back.
#ifndef FXSERVE_MODEL_CENTERNET_DETECTOR_H_
#define FXSERVE_MODEL_CENTERNET_DETECTOR_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "model/image/image.h"
#include "model/tfjs/graph_model.h"

namespace fxserve::model::centernet {

inline constexpr int kInputSize = 512;  // The graph's input, square.
inline constexpr int kMaxDetections = 100;

struct Detection {
  int class_id = 0;
  std::string class_name{};
  float score = 0;
  float x1 = 0, y1 = 0, x2 = 0, y2 = 0;  // Source pixels.
};

struct DetectOptions {
  float score_threshold = 0.3f;
  // Boxes of one class overlapping a better one by more than this IoU are
  // dropped; nullopt keeps them all.
  std::optional<float> nms_iou = 0.5f;
};

float IoU(const Detection& a, const Detection& b);

// The graph's `detections` rows (x1, y1, x2, y2, score, class in 512-px
// coordinates, best first) to detections in a width x height image: score
// threshold, boxes scaled and clipped, class-aware NMS.
std::vector<Detection> Postprocess(absl::Span<const float> rows, int width,
                                   int height, const DetectOptions& options,
                                   const std::vector<std::string>& names);

// One class name per line (darknet's coco.names).
absl::StatusOr<std::vector<std::string>> ReadClassNames(
    const std::string& path);

// What the graph computes for one image, for checks against other
// runtimes: its 512x512 input and two of its outputs, all float32 NHWC.
struct GraphRun {
  std::vector<float> input;       // [1, 512, 512, 3], RGB 0..255.
  std::vector<float> keypoints;   // [1, 128, 128, 80], class heat maps.
  std::vector<float> detections;  // [1, 100, 6], x1 y1 x2 y2 score class.
};

class FloatDetector {
 public:
  // `model_json`: the TF.js graph (centernet.json); `names`: coco.names.
  static absl::StatusOr<std::unique_ptr<FloatDetector>> Load(
      const std::string& model_json, const std::string& names);

  absl::StatusOr<std::vector<Detection>> Detect(
      const image::RgbImage& image, const DetectOptions& options) const;

  // The graph alone, on the image resized to 512x512.
  absl::StatusOr<GraphRun> Run(const image::RgbImage& image) const;

  const std::vector<std::string>& class_names() const { return names_; }

 private:
  FloatDetector(tfjs::GraphModel graph, std::vector<std::string> names)
      : graph_(std::move(graph)), names_(std::move(names)) {}

  tfjs::GraphModel graph_;
  std::vector<std::string> names_;
};

}  // namespace fxserve::model::centernet

#endif  // FXSERVE_MODEL_CENTERNET_DETECTOR_H_
