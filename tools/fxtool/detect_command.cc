#include "tools/fxtool/detect_command.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "model/centernet/detector.h"
#include "model/centernet/int_reference.h"
#include "model/centernet/quantized_detector.h"
#include "model/image/image.h"
#include "model/quantized_artifact.h"
#include "nlohmann/json.hpp"
#include "tools/fxtool/detector_backends.h"
#include "tools/fxtool/draw_detections.h"

ABSL_DECLARE_FLAG(std::string, model);
ABSL_DECLARE_FLAG(std::string, backend);
ABSL_DECLARE_FLAG(int, threads);
ABSL_FLAG(float, threshold, 0.3f, "detect: lowest score reported.");
ABSL_FLAG(std::string, nms_iou, "0.5",
          "detect: drop a box overlapping a better one of its class by more "
          "than this IoU; 'none' keeps every box.");
ABSL_FLAG(bool, json, false,
          "detect: one JSON object per image (image, width, height, "
          "detections: [{class, class_id, score, box: [x1, y1, x2, y2]}]).");
ABSL_FLAG(std::string, draw, "",
          "detect: write the image with labelled boxes to this PNG; with "
          "several images, OUT.png becomes OUT-<image name>.png.");
ABSL_FLAG(std::string, dump_tensors, "",
          "detect: write the graph's input, keypoints and detections of each "
          "image as raw float32 files <name>.{input,keypoints,detections}.f32 "
          "in this folder (to check other runtimes against; "
          "tools/onnx/README.md).");

namespace fxserve::fxtool {
namespace {

namespace fs = std::filesystem;
using model::centernet::Detection;
using model::centernet::DetectOptions;
using model::centernet::FloatDetector;
using model::centernet::GraphRun;

// --model's default is the LLM's; detect defaults to the cached detector.
std::string DetectorDir() {
  const std::string flag = absl::GetFlag(FLAGS_model);
  return flag == FXSERVE_DEFAULT_MODEL_DIR ? FXSERVE_CENTERNET_DIR : flag;
}

absl::StatusOr<DetectOptions> ParseOptions() {
  DetectOptions options;
  options.score_threshold = absl::GetFlag(FLAGS_threshold);
  if (!(options.score_threshold >= 0 && options.score_threshold <= 1)) {
    return absl::InvalidArgumentError("--threshold must be within [0, 1]");
  }
  const std::string nms = absl::GetFlag(FLAGS_nms_iou);
  float iou = 0;
  if (nms == "none") {
    options.nms_iou = std::nullopt;
  } else if (absl::SimpleAtof(nms, &iou) && iou >= 0 && iou <= 1) {
    options.nms_iou = iou;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "--nms-iou must be a number within [0, 1] or 'none', not '", nms, "'"));
  }
  return options;
}

// One way of running the detector on an image: the float graph, or a
// quantized artifact on a backend.
struct Runner {
  std::vector<std::string> class_names;
  std::function<absl::StatusOr<GraphRun>(const model::image::RgbImage&)> run;
};

absl::StatusOr<Runner> FloatRunner(const std::string& dir) {
  const std::string backend = absl::GetFlag(FLAGS_backend);
  // A float folder runs the float graph, as for GPT-2; asking for the
  // kernels on it is a mistake worth saying.
  if (backend != "float" && backend != "cpu") {
    return absl::InvalidArgumentError(absl::StrCat(
        dir,
        " is the float detector, which runs on --backend float; --backend ",
        backend, " runs a quantized detector artifact (fxtool quantize)"));
  }
  absl::StatusOr<std::unique_ptr<FloatDetector>> detector =
      FloatDetector::Load((fs::path(dir) / "centernet.json").string(),
                          (fs::path(dir) / "coco.names").string());
  if (!detector.ok()) return detector.status();
  std::shared_ptr<FloatDetector> shared = *std::move(detector);
  return Runner{shared->class_names(),
                [shared](const model::image::RgbImage& image) {
                  return shared->Run(image);
                }};
}

// A quantized artifact on --backend (detector_backends.h).
absl::StatusOr<Runner> QuantizedRunner(const std::string& dir) {
  absl::StatusOr<model::centernet::QuantizedDetector> q =
      model::centernet::LoadQuantizedDetector(dir);
  if (!q.ok()) return q.status();
  auto model =
      std::make_shared<model::centernet::QuantizedDetector>(*std::move(q));
  absl::StatusOr<IntDetector> detector = MakeIntDetector(
      model, absl::GetFlag(FLAGS_backend), absl::GetFlag(FLAGS_threads));
  if (!detector.ok()) return detector.status();
  auto run = detector->run;
  return Runner{
      model->class_names,
      [run](const model::image::RgbImage& image) -> absl::StatusOr<GraphRun> {
        const std::vector<uint8_t> pixels =
            model::centernet::ResizeToInput(image);
        absl::StatusOr<model::centernet::IntDetectorOutput> out = run(pixels);
        if (!out.ok()) return out.status();
        GraphRun graph_run;
        graph_run.input.assign(pixels.begin(), pixels.end());
        graph_run.keypoints.reserve(out->keypoints.size());
        for (uint16_t k : out->keypoints) {
          graph_run.keypoints.push_back(k / 32768.0f);
        }
        graph_run.detections =
            model::centernet::DetectionRowsToFloat(out->detections);
        return graph_run;
      }};
}

absl::StatusOr<Runner> LoadRunner() {
  const std::string dir = DetectorDir();
  if (fs::exists(fs::path(dir) / "centernet.json")) return FloatRunner(dir);
  if (model::IsQuantizedArtifact(dir)) return QuantizedRunner(dir);
  return absl::NotFoundError(absl::StrCat(
      dir,
      " holds no detector: expected centernet.json, centernet.bin and "
      "coco.names (tools/install-deps.sh puts them in .cache/centernet) "
      "or a quantized detector artifact (fxtool quantize)"));
}

absl::Status WriteFloats(const fs::path& path, const std::vector<float>& v) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(v.data()),
            static_cast<std::streamsize>(v.size() * sizeof(float)));
  if (!out) return absl::PermissionDeniedError("cannot write " + path.string());
  return absl::OkStatus();
}

absl::Status DumpTensors(const GraphRun& run, const std::string& image_path) {
  const fs::path dir = absl::GetFlag(FLAGS_dump_tensors);
  std::error_code error;
  fs::create_directories(dir, error);
  const std::string stem = fs::path(image_path).stem().string();
  for (const auto& [suffix, values] :
       {std::pair{".input.f32", &run.input},
        std::pair{".keypoints.f32", &run.keypoints},
        std::pair{".detections.f32", &run.detections}}) {
    if (absl::Status s = WriteFloats(dir / (stem + suffix), *values); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

std::string DrawPath(const std::string& image_path, size_t image_count) {
  const fs::path out = absl::GetFlag(FLAGS_draw);
  if (image_count == 1) return out.string();
  return (out.parent_path() / absl::StrCat(out.stem().string(), "-",
                                           fs::path(image_path).stem().string(),
                                           ".png"))
      .string();
}

// Short JSON numbers: boxes to 1/100 pixel, scores to 1e-4. (Dividing the
// rounded integer gives the double nearest the decimal, printed short.)
double Rounded(float v, double per_unit) {
  return std::round(v * per_unit) / per_unit;
}

void Print(const std::string& path, const model::image::RgbImage& image,
           const std::vector<Detection>& detections) {
  if (absl::GetFlag(FLAGS_json)) {
    nlohmann::json list = nlohmann::json::array();
    for (const Detection& d : detections) {
      list.push_back({{"class", d.class_name},
                      {"class_id", d.class_id},
                      {"score", Rounded(d.score, 1e4)},
                      {"box",
                       {Rounded(d.x1, 100), Rounded(d.y1, 100),
                        Rounded(d.x2, 100), Rounded(d.y2, 100)}}});
    }
    const nlohmann::json line = {{"image", path},
                                 {"width", image.width},
                                 {"height", image.height},
                                 {"detections", list}};
    std::printf("%s\n", line.dump().c_str());
    return;
  }
  std::printf("%s (%dx%d): %zu detection%s\n", path.c_str(), image.width,
              image.height, detections.size(),
              detections.size() == 1 ? "" : "s");
  for (const Detection& d : detections) {
    std::printf("  %-16s %.3f  [%4.0f %4.0f %4.0f %4.0f]\n",
                d.class_name.c_str(), d.score, d.x1, d.y1, d.x2, d.y2);
  }
}

absl::Status DetectOne(const Runner& runner, const DetectOptions& options,
                       const std::string& path, size_t image_count) {
  absl::StatusOr<model::image::RgbImage> image = model::image::ReadImage(path);
  if (!image.ok()) return image.status();
  absl::StatusOr<GraphRun> run = runner.run(*image);
  if (!run.ok()) return run.status();
  const std::vector<Detection> detections =
      model::centernet::Postprocess(run->detections, image->width,
                                    image->height, options, runner.class_names);
  Print(path, *image, detections);
  if (!absl::GetFlag(FLAGS_dump_tensors).empty()) {
    if (absl::Status s = DumpTensors(*run, path); !s.ok()) return s;
  }
  if (!absl::GetFlag(FLAGS_draw).empty()) {
    return DrawDetections(*image, detections, DrawPath(path, image_count));
  }
  return absl::OkStatus();
}

}  // namespace

int RunDetect(const std::vector<std::string>& args) {
  if (args.empty()) {
    std::fprintf(stderr, "fxtool: detect needs at least one image file.\n");
    return 2;
  }
  absl::StatusOr<DetectOptions> options = ParseOptions();
  if (!options.ok()) {
    std::fprintf(stderr, "fxtool: %s\n",
                 std::string(options.status().message()).c_str());
    return 2;
  }
  absl::StatusOr<Runner> runner = LoadRunner();
  if (!runner.ok()) {
    std::fprintf(stderr, "fxtool: %s\n",
                 std::string(runner.status().message()).c_str());
    return 1;
  }
  int exit_code = 0;
  for (const std::string& path : args) {
    if (absl::Status s = DetectOne(*runner, *options, path, args.size());
        !s.ok()) {
      std::fprintf(stderr, "fxtool: %s: %s\n", path.c_str(),
                   std::string(s.message()).c_str());
      exit_code = 1;
    }
    std::fflush(stdout);
  }
  return exit_code;
}

}  // namespace fxserve::fxtool
