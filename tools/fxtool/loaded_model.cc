#include "tools/fxtool/loaded_model.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "backends/backend.h"
#include "model/gpt2_reference.h"
#include "model/gpt2_weights.h"
#include "model/quantized_artifact.h"
#include "tools/fxtool/fpga_flags.h"

namespace fxserve::fxtool {
namespace {

class FloatModel final : public LoadedModel {
 public:
  explicit FloatModel(model::Gpt2Weights weights)
      : reference_(std::move(weights)), cache_(reference_.NewCache()) {}
  const model::Gpt2Config& config() const override {
    return reference_.config();
  }
  std::string Describe() const override { return "float32 reference"; }
  void Reset() override { cache_ = reference_.NewCache(); }
  int length() const override { return cache_.length; }
  absl::StatusOr<std::vector<float>> Forward(absl::Span<const int> tokens,
                                             bool all_positions) override {
    return reference_.Forward(cache_, tokens, all_positions);
  }

 private:
  model::Gpt2Reference reference_;
  model::Gpt2Reference::KvCache cache_;
};

// A quantized artifact on a backend, as one sequence.
class QuantizedModel final : public LoadedModel {
 public:
  QuantizedModel(std::unique_ptr<backends::Backend> backend, std::string what)
      : backend_(std::move(backend)), what_(std::move(what)) {}
  const model::Gpt2Config& config() const override {
    return backend_->config();
  }
  std::string Describe() const override { return what_; }
  void Reset() override { backend_->FreeSequence(kSequence); }
  int length() const override { return backend_->SequenceLength(kSequence); }
  absl::StatusOr<std::vector<float>> Forward(absl::Span<const int> tokens,
                                             bool all_positions) override {
    const backends::SequenceInput input{kSequence, tokens, all_positions};
    backends::StepOutput output;
    if (absl::Status s = backend_->Step({&input, 1}, output); !s.ok()) {
      return s;
    }
    const std::vector<int32_t>& raw = output.logits[0];
    std::vector<float> logits(raw.size());
    constexpr float kScale = 1.0f / (1 << backends::kLogitFracBits);
    for (size_t i = 0; i < raw.size(); ++i) {
      logits[i] = static_cast<float>(raw[i]) * kScale;
    }
    return logits;
  }

 private:
  static constexpr backends::SequenceId kSequence = 1;
  std::unique_ptr<backends::Backend> backend_;
  std::string what_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<LoadedModel>> LoadModelDir(
    const std::string& dir, const std::string& backend_name) {
  if (model::IsQuantizedArtifact(dir)) {
    auto quantized = model::LoadQuantizedGpt2(dir);
    if (!quantized.ok()) return quantized.status();
    backends::BackendOptions options;
    options.max_batch = 1;
    ApplyFpgaFlags(options);
    auto backend = backends::CreateBackend(backend_name, *quantized, options);
    if (!backend.ok()) return backend.status();
    const std::string how = backend_name == "csim" ? "kernel C-simulation"
                                                   : backend_name + " backend";
    return std::make_unique<QuantizedModel>(
        *std::move(backend),
        absl::StrCat("W", quantized->weight_bits, "A8 ",
                     model::ScaleKindName(quantized->scales), " artifact, ",
                     how));
  }
  auto weights = model::LoadGpt2(dir);
  if (!weights.ok()) return weights.status();
  return std::make_unique<FloatModel>(*std::move(weights));
}

}  // namespace fxserve::fxtool
