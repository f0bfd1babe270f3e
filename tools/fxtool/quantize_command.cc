#include "tools/fxtool/quantize_command.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "model/gpt2_weights.h"
#include "model/quantized_artifact.h"
#include "model/tokenizer/gpt2_tokenizer.h"
#include "tools/fxtool/model_commands.h"
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

}  // namespace

int RunQuantize(const std::vector<std::string>& args) {
  const std::string out = absl::GetFlag(FLAGS_out);
  constexpr char kUsage[] =
      "usage: fxtool quantize --model DIR --calib FILE --weights int8|int4 "
      "--scales pow2|fixed --out DIR2";
  if (!args.empty()) return Usage(kUsage);
  const std::string calib = absl::GetFlag(FLAGS_calib);
  if (calib.empty() || out.empty()) {
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

  const std::string model_dir = absl::GetFlag(FLAGS_model);
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
