#include "model/centernet/detector.h"

#include <algorithm>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "model/tfjs/graph_executor.h"
#include "model/tfjs/graph_ops.h"

namespace fxserve::model::centernet {
namespace {

constexpr char kInput[] = "tower_0/images";
constexpr char kDetections[] = "tower_0/detections";
constexpr char kKeypoints[] = "tower_0/keypoints";

}  // namespace

float IoU(const Detection& a, const Detection& b) {
  const float w = std::min(a.x2, b.x2) - std::max(a.x1, b.x1);
  const float h = std::min(a.y2, b.y2) - std::max(a.y1, b.y1);
  if (w <= 0 || h <= 0) return 0;
  const float overlap = w * h;
  const float area_a = (a.x2 - a.x1) * (a.y2 - a.y1);
  const float area_b = (b.x2 - b.x1) * (b.y2 - b.y1);
  return overlap / (area_a + area_b - overlap);
}

std::vector<Detection> Postprocess(absl::Span<const float> rows, int width,
                                   int height, const DetectOptions& options,
                                   const std::vector<std::string>& names) {
  const float sx = static_cast<float>(width) / kInputSize;
  const float sy = static_cast<float>(height) / kInputSize;
  std::vector<Detection> candidates;
  for (size_t r = 0; r + 6 <= rows.size(); r += 6) {
    const float* row = &rows[r];
    if (!(row[4] >= options.score_threshold)) continue;
    Detection d;
    d.class_id = static_cast<int>(row[5]);
    d.class_name =
        d.class_id >= 0 && d.class_id < static_cast<int>(names.size())
            ? names[d.class_id]
            : absl::StrCat("class ", d.class_id);
    d.score = row[4];
    d.x1 = std::clamp(row[0] * sx, 0.0f, static_cast<float>(width));
    d.y1 = std::clamp(row[1] * sy, 0.0f, static_cast<float>(height));
    d.x2 = std::clamp(row[2] * sx, 0.0f, static_cast<float>(width));
    d.y2 = std::clamp(row[3] * sy, 0.0f, static_cast<float>(height));
    candidates.push_back(std::move(d));
  }
  std::stable_sort(
      candidates.begin(), candidates.end(),
      [](const Detection& a, const Detection& b) { return a.score > b.score; });
  if (!options.nms_iou) return candidates;
  std::vector<Detection> kept;
  for (Detection& d : candidates) {
    const bool overlaps =
        std::any_of(kept.begin(), kept.end(), [&](const Detection& k) {
          return k.class_id == d.class_id && IoU(k, d) > *options.nms_iou;
        });
    if (!overlaps) kept.push_back(std::move(d));
  }
  return kept;
}

absl::StatusOr<std::vector<std::string>> ReadClassNames(
    const std::string& path) {
  std::ifstream file(path);
  if (!file) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::vector<std::string> names;
  std::string line;
  while (std::getline(file, line)) {
    const std::string name(absl::StripAsciiWhitespace(line));
    if (!name.empty()) names.push_back(name);
  }
  if (names.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " has no class names"));
  }
  return names;
}

absl::StatusOr<std::unique_ptr<FloatDetector>> FloatDetector::Load(
    const std::string& model_json, const std::string& names_path) {
  absl::StatusOr<tfjs::GraphModel> graph = tfjs::LoadGraphModel(model_json);
  if (!graph.ok()) return graph.status();
  if (graph->FindNode(kInput) == nullptr ||
      graph->FindNode(kDetections) == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(model_json, " is not the CenterNet detector (no ", kInput,
                     " or ", kDetections, ")"));
  }
  absl::StatusOr<std::vector<std::string>> names = ReadClassNames(names_path);
  if (!names.ok()) return names.status();
  return std::unique_ptr<FloatDetector>(
      new FloatDetector(*std::move(graph), *std::move(names)));
}

absl::StatusOr<GraphRun> FloatDetector::Run(
    const image::RgbImage& image) const {
  tfjs::Tensor pixels;
  pixels.shape = {1, image.height, image.width, 3};
  pixels.floats.assign(image.pixels.begin(), image.pixels.end());
  absl::StatusOr<tfjs::Tensor> input =
      tfjs::ops::ResizeBilinear(pixels, kInputSize, kInputSize);
  if (!input.ok()) return input.status();
  GraphRun run;
  run.input = input->floats;
  absl::StatusOr<tfjs::TensorMap> out =
      tfjs::RunGraph(graph_, {{kInput, *std::move(input)}},
                     {std::string(kDetections), std::string(kKeypoints)});
  if (!out.ok()) return out.status();
  run.detections = std::move(out->at(kDetections).floats);
  run.keypoints = std::move(out->at(kKeypoints).floats);
  return run;
}

absl::StatusOr<std::vector<Detection>> FloatDetector::Detect(
    const image::RgbImage& image, const DetectOptions& options) const {
  absl::StatusOr<GraphRun> run = Run(image);
  if (!run.ok()) return run.status();
  return Postprocess(run->detections, image.width, image.height, options,
                     names_);
}

}  // namespace fxserve::model::centernet
