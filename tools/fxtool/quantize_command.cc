#include "tools/fxtool/quantize_command.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "model/centernet/detector.h"
#include "model/centernet/detector_graph.h"
#include "model/centernet/quantized_detector.h"
#include "model/gpt2_weights.h"
#include "model/image/image.h"
#include "model/quantized_artifact.h"
#include "model/tfjs/graph_model.h"
#include "model/tokenizer/gpt2_tokenizer.h"
#include "tools/fxtool/model_commands.h"
#include "tools/quantize/centernet_quantizer.h"
#include "tools/quantize/gpt2_quantizer.h"

ABSL_DECLARE_FLAG(std::string, model);
ABSL_DECLARE_FLAG(std::string, out);
ABSL_FLAG(std::string, calib, "",
          "quantize: calibration text file (plain UTF-8 text, like what the "
          "model will serve).");
ABSL_FLAG(std::string, weights, "int8",
          "quantize: weight width of the transformer blocks, int8 or int4 "
          "(the LM head stays int8).");
ABSL_FLAG(std::string, scales, "pow2",
          "quantize: per-channel weight scales, pow2 (multiplier-free "
          "shifts) or fixed (16-bit multipliers).");
ABSL_FLAG(int, calib_tokens, 8192,
          "quantize: calibration tokens used at most.");
ABSL_FLAG(std::string, calib_images, "",
          "quantize (detector): folder of calibration photos (.jpg, .png), "
          "like what the model will see; every one is used.");

namespace fxserve::fxtool {
namespace {

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "fxtool: %s\n", std::string(status.message()).c_str());
  return 1;
}

int Usage(const std::string& text) {
  std::fprintf(stderr, "fxtool: %s\n", text.c_str());
  return 2;
}

// The photos of --calib-images, in name order.
absl::StatusOr<std::vector<model::image::RgbImage>> ReadCalibrationImages(
    const std::string& dir) {
  std::error_code error;
  std::vector<std::filesystem::path> paths;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    const std::string ext = entry.path().extension().string();
    if (ext == ".jpg" || ext == ".jpeg" || ext == ".png") {
      paths.push_back(entry.path());
    }
  }
  if (error) {
    return absl::NotFoundError(absl::StrCat("cannot list --calib-images ", dir,
                                            ": ", error.message()));
  }
  if (paths.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--calib-images ", dir, " holds no .jpg or .png file"));
  }
  std::sort(paths.begin(), paths.end());
  std::vector<model::image::RgbImage> images;
  for (const auto& path : paths) {
    absl::StatusOr<model::image::RgbImage> image =
        model::image::ReadImage(path.string());
    if (!image.ok()) return image.status();
    images.push_back(*std::move(image));
  }
  return images;
}

// A TF.js CenterNet folder (centernet.json) into a detector artifact.
int QuantizeDetectorCommand(const std::string& model_dir,
                            const std::string& out,
                            const quantize::QuantizeOptions& gpt2_options,
                            const std::string& scales_name) {
  const std::string calib_dir = absl::GetFlag(FLAGS_calib_images);
  if (calib_dir.empty()) {
    return Usage(model_dir +
                 " is a detector: give it photos with --calib-images DIR");
  }
  absl::StatusOr<model::tfjs::GraphModel> tfjs =
      model::tfjs::LoadGraphModel(model_dir + "/centernet.json");
  if (!tfjs.ok()) return Fail(tfjs.status());
  absl::StatusOr<model::centernet::DetectorGraph> graph =
      model::centernet::LowerDetector(*tfjs);
  if (!graph.ok()) return Fail(graph.status());
  absl::StatusOr<std::vector<model::image::RgbImage>> images =
      ReadCalibrationImages(calib_dir);
  if (!images.ok()) return Fail(images.status());
  gpt2_options.progress(absl::StrCat("calibration: ", images->size(),
                                     " photos from ", calib_dir));
  quantize::DetectorQuantizeOptions options;
  options.weight_bits = gpt2_options.weight_bits;
  options.scales = gpt2_options.scales;
  options.progress = gpt2_options.progress;
  absl::StatusOr<model::centernet::QuantizedDetector> quantized =
      quantize::QuantizeDetector(*graph, *images, options);
  if (!quantized.ok()) return Fail(quantized.status());
  absl::StatusOr<std::vector<std::string>> names =
      model::centernet::ReadClassNames(model_dir + "/coco.names");
  if (!names.ok()) return Fail(names.status());
  quantized->class_names = *std::move(names);
  if (absl::Status s = model::centernet::SaveQuantizedDetector(*quantized, out);
      !s.ok()) {
    return Fail(s);
  }
  options.progress(absl::StrCat("wrote ", out, "/", model::kArtifactFileName,
                                " (CenterNet W", quantized->weight_bits, "A8, ",
                                scales_name, " scales)"));
  return 0;
}

}  // namespace

int RunQuantize(const std::vector<std::string>& args) {
  const std::string out = absl::GetFlag(FLAGS_out);
  constexpr char kUsage[] =
      "usage: fxtool quantize --model DIR (--calib FILE | --calib-images "
      "DIR) --weights int8|int4 --scales pow2|fixed --out DIR2";
  if (!args.empty()) return Usage(kUsage);
  const std::string calib = absl::GetFlag(FLAGS_calib);
  const std::string model_dir = absl::GetFlag(FLAGS_model);
  const bool detector = std::filesystem::exists(model_dir + "/centernet.json");
  if ((calib.empty() && !detector) || out.empty()) {
    return Usage(absl::StrCat(kUsage, " (--calib and --out are required)"));
  }
  quantize::QuantizeOptions options;
  const std::string weights_flag = absl::GetFlag(FLAGS_weights);
  if (weights_flag == "int8") {
    options.weight_bits = 8;
  } else if (weights_flag == "int4") {
    options.weight_bits = 4;
  } else {
    return Usage("--weights must be int8 or int4, got '" + weights_flag + "'");
  }
  const std::string scales_flag = absl::GetFlag(FLAGS_scales);
  if (scales_flag == "pow2") {
    options.scales = model::ScaleKind::kPow2;
  } else if (scales_flag == "fixed") {
    options.scales = model::ScaleKind::kFixed;
  } else {
    return Usage("--scales must be pow2 or fixed, got '" + scales_flag + "'");
  }
  options.max_calibration_tokens = absl::GetFlag(FLAGS_calib_tokens);
  if (options.max_calibration_tokens < 2) {
    return Usage("--calib-tokens must be at least 2");
  }
  const absl::Time start = absl::Now();
  options.progress = [start](const std::string& line) {
    std::fprintf(stderr, "[%6.1f s] %s\n",
                 absl::ToDoubleSeconds(absl::Now() - start), line.c_str());
  };

  if (detector) {
    return QuantizeDetectorCommand(model_dir, out, options, scales_flag);
  }
  if (model::IsQuantizedArtifact(model_dir)) {
    return Fail(absl::InvalidArgumentError(
        model_dir + " is already quantized; pass the float model's folder"));
  }
  auto weights = model::LoadGpt2(model_dir);
  if (!weights.ok()) return Fail(weights.status());
  std::ifstream in(calib, std::ios::binary);
  if (!in) return Fail(absl::NotFoundError("cannot open " + calib));
  std::stringstream text;
  text << in.rdbuf();
  auto tokenizer = LoadTokenizer(model_dir);
  if (!tokenizer.ok()) return Fail(tokenizer.status());
  const std::vector<int> ids = (*tokenizer)->Encode(text.str());
  options.progress(absl::StrCat("calibration text: ", ids.size(),
                                " tokens; using up to ",
                                options.max_calibration_tokens));

  auto quantized = quantize::QuantizeGpt2(*weights, ids, options);
  if (!quantized.ok()) return Fail(quantized.status());
  if (absl::Status s = model::SaveQuantizedGpt2(*quantized, out); !s.ok()) {
    return Fail(s);
  }
  options.progress(absl::StrCat("wrote ", out, "/", model::kArtifactFileName,
                                " (W", quantized->weight_bits, "A8, ",
                                scales_flag, " scales)"));
  return 0;
}

}  // namespace fxserve::fxtool
