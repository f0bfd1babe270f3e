// fxtool: fxserve's command-line entry point, one subcommand per task (see
// kUsage). Flags may be written --max-tokens or --max_tokens.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/str_cat.h"
#include "build_info.h"
#include "tools/fxtool/bench_command.h"
#include "tools/fxtool/detect_command.h"
#include "tools/fxtool/devices_command.h"
#include "tools/fxtool/fpga_flags.h"
#include "tools/fxtool/model_commands.h"
#include "tools/fxtool/quantize_command.h"

namespace {

constexpr char kUsage[] =
    "fxserve command-line tool.\n"
    "\n"
    "Usage: fxtool <command> [flags]\n"
    "\n"
    "Commands:\n"
    "  version     Print the fxserve version and how this binary was built.\n"
    "  generate    Generate text from a prompt:\n"
    "                fxtool generate [--model DIR] [--max-tokens N]\n"
    "                  [--temperature T] [--top-k K] [--top-p P] [--seed S] "
    "\"prompt\"\n"
    "  logits      Print the last position's logits, space-separated:\n"
    "                fxtool logits [--model DIR] (--prompt \"text\" | "
    "--tokens \"ids\") [--out F.npy]\n"
    "  perplexity  Perplexity of a text file:\n"
    "                fxtool perplexity [--model DIR] [--eval-tokens N] FILE\n"
    "  quantize    Quantize a float GPT-2 or CenterNet into an fxserve model\n"
    "              artifact (a detector calibrates on --calib-images DIR):\n"
    "                fxtool quantize --model DIR (--calib FILE | "
    "--calib-images DIR)\n"
    "                  --weights int8|int4\n"
    "                  --scales pow2|fixed --out DIR2 [--calib-tokens N]\n"
    "  bench       Prefill and batched decode speed of an LLM artifact vs\n"
    "              memory bandwidth, or a detector's images/s:\n"
    "                fxtool bench --model DIR2 [--backend cpu] [--threads N]\n"
    "                  [--prompt-tokens N] [--decode-steps N] "
    "[--batch-sizes 1,4,16]\n"
    "  detect      Objects in JPEG/PNG images (CenterNet, COCO's 80 "
    "classes):\n"
    "                fxtool detect [--model DIR] [--backend cpu|csim|reference]\n"
    "                  [--threshold 0.3] [--nms-iou 0.5|none] [--json]\n"
    "                  [--draw OUT.png] IMAGE...\n"
    "  tokenize    GPT-2 token ids of a text: fxtool tokenize \"text\"\n"
    "  devices     FPGA devices and an xclbin's kernels, arguments, banks:\n"
    "                fxtool devices [--fpga-emulation] [--xclbin FILE]\n"
    "\n"
    "--model defaults to the shipped tiny model (models/tiny-gpt2; for "
    "detect,\n"
    "the CenterNet that tools/install-deps.sh fetches). A float\n"
    "folder runs the float reference; a quantized artifact runs on\n"
    "--backend (cpu: default, bit-exact and fast; csim: the HLS kernels in\n"
    "C-simulation; fpga: a card with --xclbin FILE, or the emulated card\n"
    "with --fpga-emulation).\n"
    "\n"
    "Run 'fxtool --helpfull' for every flag.";

std::string VersionText() {
  return absl::StrCat("fxserve ", fxserve::kVersion, " (",
                      fxserve::kGitDescribe, ", ", fxserve::kBuildType,
                      " build, HLS types: ", fxserve::kHlsTypes, ")");
}

int RunVersion() {
  std::printf("%s\n", VersionText().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Plain help exits 0 with the command list (absl's --help lists flags and
  // exits 1).
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h" || arg == "help") {
      std::printf("%s\n", kUsage);
      return 0;
    }
  }
  // absl flag names use underscores; accept the dashed spelling too.
  std::vector<std::string> normalized(argv, argv + argc);
  for (std::string& arg : normalized) {
    if (arg.rfind("--", 0) != 0) continue;
    const size_t end = std::min(arg.find('='), arg.size());
    std::replace(arg.begin() + 2, arg.begin() + end, '-', '_');
  }
  std::vector<char*> normalized_argv;
  for (std::string& arg : normalized) normalized_argv.push_back(arg.data());
  absl::SetProgramUsageMessage(kUsage);
  absl::FlagsUsageConfig config;
  config.version_string = [] { return VersionText() + "\n"; };
  absl::SetFlagsUsageConfig(config);
  const std::vector<char*> args = absl::ParseCommandLine(
      static_cast<int>(normalized_argv.size()), normalized_argv.data());

  if (args.size() < 2) {
    std::fprintf(stderr, "fxtool: no command given.\n\n%s\n", kUsage);
    return 2;
  }
  if (absl::Status s = fxserve::fxtool::StartFpgaFlags(argv); !s.ok()) {
    std::fprintf(stderr, "fxtool: --fpga-emulation: %s\n",
                 s.ToString().c_str());
    return 1;
  }
  const std::string command = args[1];
  const std::vector<std::string> rest(args.begin() + 2, args.end());
  if (command == "version") return RunVersion();
  if (command == "generate") return fxserve::fxtool::RunGenerate(rest);
  if (command == "logits") return fxserve::fxtool::RunLogits(rest);
  if (command == "perplexity") return fxserve::fxtool::RunPerplexity(rest);
  if (command == "tokenize") return fxserve::fxtool::RunTokenize(rest);
  if (command == "quantize") return fxserve::fxtool::RunQuantize(rest);
  if (command == "bench") return fxserve::fxtool::RunBench(rest);
  if (command == "detect") return fxserve::fxtool::RunDetect(rest);
  if (command == "devices") return fxserve::fxtool::RunDevices(rest);
  std::fprintf(stderr, "fxtool: unknown command '%s'.\n\n%s\n", command.c_str(),
               kUsage);
  return 2;
}
