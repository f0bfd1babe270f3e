#include "tools/fxtool/bench_command.h"

#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "backends/backend.h"
#include "model/centernet/quantized_detector.h"
#include "model/quantized_artifact.h"
#include "tools/fxtool/detector_bench.h"
#include "tools/fxtool/fpga_flags.h"

ABSL_DECLARE_FLAG(std::string, model);
ABSL_DECLARE_FLAG(std::string, backend);
ABSL_FLAG(int, prompt_tokens, 128, "bench: prompt length (prefill tokens).");
ABSL_FLAG(int, decode_steps, 32, "bench: decode steps per batch size.");
ABSL_FLAG(std::string, batch_sizes, "",
          "bench: batch sizes, comma-separated (LLM decode: 1,4,16 by "
          "default; detector images: 1,4,8).");
ABSL_FLAG(int, threads, 0,
          "bench, detect: backend threads; 0 = one per core (bench on a "
          "detector: 1 and one per core).");

namespace fxserve::fxtool {
namespace {

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "fxtool: %s\n", std::string(status.message()).c_str());
  return 1;
}

double Seconds(absl::Time start) {
  return absl::ToDoubleSeconds(absl::Now() - start);
}

// STREAM triad a[i] = b[i] + s c[i] over arrays far larger than any cache,
// split over `threads`; best of 5, counting 3 arrays of traffic per pass
// as STREAM does. Bytes per second.
double TriadBandwidth(int threads) {
  constexpr size_t kN = size_t{1} << 24;  // 128 MiB per array.
  std::vector<double> a(kN, 0.0), b(kN, 1.0), c(kN, 2.0);
  double best = 0;
  for (int pass = 0; pass < 5; ++pass) {
    const absl::Time start = absl::Now();
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        const size_t begin = kN * t / threads, end = kN * (t + 1) / threads;
        for (size_t i = begin; i < end; ++i) a[i] = b[i] + 3.0 * c[i];
      });
    }
    for (std::thread& w : workers) w.join();
    best = std::max(best, 3.0 * sizeof(double) * kN / Seconds(start));
  }
  if (a[kN / 2] != 7.0) std::fprintf(stderr, "triad: wrong result\n");
  return best;
}

// Bytes of weights one step reads (each weight once per step).
double WeightBytes(const model::QuantizedGpt2& q) {
  double bytes = 0;
  auto linear = [&](const model::QuantizedLinear& l) {
    bytes += static_cast<double>(l.out) * l.in * l.bits / 8;
  };
  for (const model::QuantizedLayer& layer : q.layers) {
    linear(layer.qkv);
    linear(layer.attn_proj);
    linear(layer.fc);
    linear(layer.mlp_proj);
  }
  linear(q.lm_head);
  return bytes;
}

}  // namespace

int RunBench(const std::vector<std::string>& args) {
  if (!args.empty()) {
    std::fprintf(
        stderr,
        "fxtool: usage: fxtool bench --model ARTIFACT [--backend cpu] "
        "[--prompt-tokens N] [--decode-steps N] [--batch-sizes 1,4,16] "
        "[--threads N]\n");
    return 2;
  }
  const std::string dir = absl::GetFlag(FLAGS_model);
  if (!model::IsQuantizedArtifact(dir)) {
    return Fail(absl::InvalidArgumentError(
        dir + " is not a quantized artifact; make one with fxtool quantize"));
  }
  absl::StatusOr<std::string> format = model::ArtifactFormat(dir);
  if (!format.ok()) return Fail(format.status());
  const bool detector = *format == model::centernet::kDetectorArtifactFormat;
  std::string batch_sizes = absl::GetFlag(FLAGS_batch_sizes);
  if (batch_sizes.empty()) batch_sizes = detector ? "1,4,8" : "1,4,16";
  std::vector<int> batches;
  for (absl::string_view piece : absl::StrSplit(batch_sizes, ',')) {
    int b = 0;
    if (!absl::SimpleAtoi(piece, &b) || b < 1) {
      return Fail(absl::InvalidArgumentError(
          "--batch-sizes must be positive integers separated by commas"));
    }
    batches.push_back(b);
  }
  if (detector) {
    return RunDetectorBench(dir, absl::GetFlag(FLAGS_backend),
                            absl::GetFlag(FLAGS_threads), batches);
  }
  auto q = model::LoadQuantizedGpt2(dir);
  if (!q.ok()) return Fail(q.status());
  const int prompt = absl::GetFlag(FLAGS_prompt_tokens);
  const int steps = absl::GetFlag(FLAGS_decode_steps);
  const model::Gpt2Config& c = q->config;
  if (prompt < 1 || steps < 1 || prompt + steps > c.n_positions) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "--prompt-tokens + --decode-steps must be within the context (",
        c.n_positions, ") and both >= 1")));
  }
  backends::BackendOptions options;
  options.threads = absl::GetFlag(FLAGS_threads);
  options.max_batch = *std::max_element(batches.begin(), batches.end());
  ApplyFpgaFlags(options);
  auto backend =
      backends::CreateBackend(absl::GetFlag(FLAGS_backend), *q, options);
  if (!backend.ok()) return Fail(backend.status());
  backends::Backend& b = **backend;
  const int threads =
      options.threads > 0
          ? options.threads
          : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  std::printf("model: %s, n_embd %d, %d layers, W%dA8 %s\n", dir.c_str(),
              c.n_embd, c.n_layer, q->weight_bits,
              model::ScaleKindName(q->scales));
  std::printf("backend: %s (%s)\n", b.capabilities().name.c_str(),
              b.capabilities().detail.c_str());
  const double bandwidth = TriadBandwidth(threads);
  std::printf("memory bandwidth (STREAM triad, %d threads): %.2f GB/s\n",
              threads, bandwidth / 1e9);
  const double weight_bytes = WeightBytes(*q);

  std::mt19937 rng(1);
  auto random_tokens = [&](int n) {
    std::vector<int> t(n);
    for (int& x : t) x = static_cast<int>(rng() % c.vocab_size);
    return t;
  };
  backends::StepOutput out;
  {
    const std::vector<int> tokens = random_tokens(prompt);
    const backends::SequenceInput input{0, tokens, false};
    const absl::Time start = absl::Now();
    if (absl::Status s = b.Step({&input, 1}, out); !s.ok()) return Fail(s);
    std::printf("prefill: %d tokens in %.3f s = %.1f tokens/s\n", prompt,
                Seconds(start), prompt / Seconds(start));
    b.FreeSequence(0);
  }
  double batch1_rate = 0;
  for (int batch : batches) {
    std::vector<std::vector<int>> prompts;
    std::vector<backends::SequenceInput> inputs;
    for (int s = 0; s < batch; ++s) prompts.push_back(random_tokens(prompt));
    for (int s = 0; s < batch; ++s) {
      inputs.push_back(
          {static_cast<backends::SequenceId>(s + 1), prompts[s], false});
    }
    if (absl::Status s = b.Step(inputs, out); !s.ok()) return Fail(s);
    std::vector<int> next(batch, 0);
    const absl::Time start = absl::Now();
    for (int step = 0; step < steps; ++step) {
      for (int s = 0; s < batch; ++s) {
        next[s] = static_cast<int>(rng() % c.vocab_size);
        inputs[s].tokens = absl::MakeConstSpan(&next[s], 1);
      }
      if (absl::Status s = b.Step(inputs, out); !s.ok()) return Fail(s);
    }
    const double seconds = Seconds(start);
    const double rate = static_cast<double>(batch) * steps / seconds;
    // KV read per step: every sequence reads k and v of all its positions
    // in every layer (average context over the run).
    const double context = prompt + (steps + 1) / 2.0;
    const double kv_bytes =
        static_cast<double>(batch) * c.n_layer * 2 * c.n_embd * context;
    const double bound = batch * bandwidth / (weight_bytes + kv_bytes);
    std::printf(
        "decode batch %2d: %8.1f tokens/s (%.2f ms/step); reads %.1f MB/step "
        "(weights %.1f, KV %.1f) -> bandwidth bound %.1f tokens/s: %.0f%%",
        batch, rate, 1e3 * seconds / steps, (weight_bytes + kv_bytes) / 1e6,
        weight_bytes / 1e6, kv_bytes / 1e6, bound, 100 * rate / bound);
    if (batch == 1) batch1_rate = rate;
    if (batch > 1 && batch1_rate > 0) {
      std::printf(", x%.1f batch 1", rate / batch1_rate);
    }
    std::printf("\n");
    for (int s = 0; s < batch; ++s) b.FreeSequence(s + 1);
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  std::printf("peak memory (max RSS): %.1f MB\n", usage.ru_maxrss / 1024.0);
  return 0;
}

}  // namespace fxserve::fxtool
