// What the process boundary costs a step (backends/process/): the same
// decode steps on the CPU backend in this process and in a worker
// process; the difference is the socket round trip and the logits copy.
// Run: build/ci/bench/process_backend_bench
#include <string>
#include <vector>

#include "backends/backend.h"
#include "benchmark/benchmark.h"
#include "model/quantized_artifact.h"

namespace fxserve::backends {
namespace {

const model::QuantizedGpt2& Model() {
  static const model::QuantizedGpt2* model = [] {
    auto m = model::LoadQuantizedGpt2(FXSERVE_BENCH_ARTIFACT);
    if (!m.ok()) std::abort();
    return new model::QuantizedGpt2(*std::move(m));
  }();
  return *model;
}

// Decode steps of `batch` sequences (state.range(0)), prefilled with one
// token; args: batch, own process (0/1).
void BM_DecodeStep(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  auto backend = CreateBackend("cpu", Model(),
                               {.threads = 1,
                                .max_batch = batch,
                                .own_process = state.range(1) != 0,
                                .artifact_dir = FXSERVE_BENCH_ARTIFACT});
  if (!backend.ok()) {
    state.SkipWithError(std::string(backend.status().message()).c_str());
    return;
  }
  std::vector<int> token = {464};
  std::vector<SequenceInput> inputs;
  for (int i = 0; i < batch; ++i) {
    inputs.push_back({.id = static_cast<SequenceId>(i + 1), .tokens = token});
  }
  StepOutput out;
  int steps = 0;
  for (auto _ : state) {
    if (!(*backend)->Step(inputs, out).ok()) {
      state.SkipWithError("step failed");
      return;
    }
    if (++steps == Model().config.n_positions) {  // Stay inside it.
      state.PauseTiming();
      for (const SequenceInput& in : inputs) (*backend)->FreeSequence(in.id);
      steps = 0;
      state.ResumeTiming();
    }
  }
  state.counters["logit_MB_per_step"] =
      4.0 * batch * Model().config.vocab_size / 1e6;
}
BENCHMARK(BM_DecodeStep)
    ->ArgsProduct({{1, 8, 32}, {0, 1}})
    ->ArgNames({"batch", "own_process"})
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace fxserve::backends

BENCHMARK_MAIN();
