#include "tools/fxtool/loaded_model.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "backends/csim/gpt2_csim.h"
#include "model/gpt2_reference.h"
#include "model/gpt2_weights.h"
#include "model/quantized_artifact.h"

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

class CSimModel final : public LoadedModel {
 public:
  CSimModel(std::unique_ptr<backends::csim::Gpt2CSim> sim, std::string what)
      : sim_(std::move(sim)),
        sequence_(sim_->NewSequence()),
        what_(std::move(what)) {}
  const model::Gpt2Config& config() const override { return sim_->config(); }
  std::string Describe() const override { return what_; }
  void Reset() override { sequence_ = sim_->NewSequence(); }
  int length() const override { return sequence_->length(); }
  absl::StatusOr<std::vector<float>> Forward(absl::Span<const int> tokens,
                                             bool all_positions) override {
    return sim_->Forward(*sequence_, tokens, all_positions);
  }

 private:
  std::unique_ptr<backends::csim::Gpt2CSim> sim_;
  std::unique_ptr<backends::csim::Gpt2CSim::Sequence> sequence_;
  std::string what_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<LoadedModel>> LoadModelDir(
    const std::string& dir) {
  if (model::IsQuantizedArtifact(dir)) {
    auto quantized = model::LoadQuantizedGpt2(dir);
    if (!quantized.ok()) return quantized.status();
    auto sim = backends::csim::Gpt2CSim::Create(*quantized);
    if (!sim.ok()) return sim.status();
    return std::make_unique<CSimModel>(
        *std::move(sim), absl::StrCat("W", quantized->weight_bits, "A8 ",
                                      model::ScaleKindName(quantized->scales),
                                      " artifact, kernel C-simulation"));
  }
  auto weights = model::LoadGpt2(dir);
  if (!weights.ok()) return weights.status();
  return std::make_unique<FloatModel>(*std::move(weights));
}

}  // namespace fxserve::fxtool
