// Speed of the GPT-2 dataflow tops in C-simulation (tokens/s, prefill and
// decode) for the shipped tiny model and a GPT-2-124M-shaped model with
// random weights, and the quantized 124M-shaped model's logit error
// against the float reference (a random model has no meaningful
// perplexity). One thread. Run:
//   build/ci/bench/gpt2_csim_bench [--shape=tiny|small|both]
//       [--prefill_tokens=32] [--decode_tokens=8]
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/time/clock.h"
#include "backends/csim/gpt2_csim.h"
#include "model/gpt2_reference.h"
#include "model/gpt2_weights.h"
#include "model/random_gpt2.h"
#include "tools/quantize/gpt2_quantizer.h"

ABSL_FLAG(std::string, shape, "both", "tiny, small (GPT-2 124M) or both");
ABSL_FLAG(int, prefill_tokens, 32, "tokens run by the prefill top");
ABSL_FLAG(int, decode_tokens, 8, "tokens run one by one by the decode top");

namespace {

using fxserve::backends::csim::Gpt2CSim;
using fxserve::model::Gpt2Weights;
using fxserve::model::ScaleKind;

std::vector<int> Tokens(int n, int vocab) {
  std::mt19937 rng(5);
  std::vector<int> t(n);
  for (int& x : t) x = static_cast<int>(rng() % vocab);
  return t;
}

double Seconds(absl::Time start) {
  return absl::ToDoubleSeconds(absl::Now() - start);
}

// Logit error of `q` against `f` (rows of `vocab`).
void ReportError(const std::vector<float>& f, const std::vector<float>& q,
                 int vocab) {
  double mean = 0;
  for (float v : f) mean += v;
  mean /= f.size();
  double err = 0, spread = 0, max_abs = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    err += (q[i] - f[i]) * (q[i] - f[i]);
    spread += (f[i] - mean) * (f[i] - mean);
    max_abs = std::max<double>(max_abs, std::abs(q[i] - f[i]));
  }
  const int rows = static_cast<int>(f.size() / vocab);
  int same_top = 0;
  for (int r = 0; r < rows; ++r) {
    const float* fr = &f[static_cast<size_t>(r) * vocab];
    const float* qr = &q[static_cast<size_t>(r) * vocab];
    same_top += std::max_element(fr, fr + vocab) - fr ==
                std::max_element(qr, qr + vocab) - qr;
  }
  std::printf(
      "    logits vs float: relative RMS error %.4f, max |error| %.4f "
      "(float logits' std %.4f), same top-1 token %d/%d\n",
      std::sqrt(err / spread), max_abs, std::sqrt(spread / f.size()), same_top,
      rows);
}

void Run(const std::string& name, const Gpt2Weights& weights,
         const std::vector<int>& calibration) {
  const int vocab = weights.config.vocab_size;
  const std::vector<int> prompt =
      Tokens(absl::GetFlag(FLAGS_prefill_tokens), vocab);
  const std::vector<int> decode =
      Tokens(absl::GetFlag(FLAGS_decode_tokens), vocab);
  std::vector<int> all = prompt;
  all.insert(all.end(), decode.begin(), decode.end());
  fxserve::model::Gpt2Reference reference(weights);
  auto cache = reference.NewCache();
  absl::Time start = absl::Now();
  const std::vector<float> float_logits = *reference.Forward(cache, all, true);
  std::printf("%s: float reference %.1f tokens/s (prefill of %zu)\n",
              name.c_str(), all.size() / Seconds(start), all.size());
  for (int bits : {8, 4}) {
    for (ScaleKind scales : {ScaleKind::kPow2, ScaleKind::kFixed}) {
      fxserve::quantize::QuantizeOptions options;
      options.weight_bits = bits;
      options.scales = scales;
      start = absl::Now();
      auto q = fxserve::quantize::QuantizeGpt2(weights, calibration, options);
      if (!q.ok()) {
        std::fprintf(stderr, "%s\n", std::string(q.status().message()).c_str());
        return;
      }
      const double quantize_s = Seconds(start);
      auto sim = Gpt2CSim::Create(*q);
      if (!sim.ok()) {
        std::fprintf(stderr, "%s\n",
                     std::string(sim.status().message()).c_str());
        return;
      }
      auto seq = (*sim)->NewSequence();
      start = absl::Now();
      std::vector<float> logits = *(*sim)->Forward(*seq, prompt, true);
      const double prefill_s = Seconds(start);
      start = absl::Now();
      for (int token : decode) {
        const std::vector<float> step = *(*sim)->Forward(*seq, {token});
        logits.insert(logits.end(), step.begin(), step.end());
      }
      const double decode_s = Seconds(start);
      std::printf(
          "  W%dA8 %-5s: C-sim prefill %.2f tokens/s, decode %.2f tokens/s "
          "(quantized in %.1f s)\n",
          bits, fxserve::model::ScaleKindName(scales),
          prompt.size() / prefill_s, decode.size() / decode_s, quantize_s);
      ReportError(float_logits, logits, vocab);
      std::fflush(stdout);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string shape = absl::GetFlag(FLAGS_shape);
  if (shape != "tiny" && shape != "small" && shape != "both") {
    std::fprintf(stderr, "--shape must be tiny, small or both\n");
    return 2;
  }
  if (shape != "small") {
    auto tiny = fxserve::model::LoadGpt2(FXSERVE_TINY_MODEL_DIR);
    if (!tiny.ok()) {
      std::fprintf(stderr, "%s\n",
                   std::string(tiny.status().message()).c_str());
      return 1;
    }
    Run("tiny (shipped, random tokens)", *tiny, Tokens(1024, 50257));
  }
  if (shape != "tiny") {
    Run("GPT-2 124M shape (random weights)",
        fxserve::model::RandomGpt2Weights(fxserve::model::Gpt2Config{}, 124),
        Tokens(512, 50257));
  }
  return 0;
}
