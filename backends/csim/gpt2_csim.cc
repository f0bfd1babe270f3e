#include "backends/csim/gpt2_csim.h"

#include <algorithm>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "backends/csim/gpt2_csim_impl.h"

namespace fxserve::backends::csim {

// Defined in gpt2_csim_tiny.cc and gpt2_csim_small.cc (compiled apart:
// each holds four instantiations of the whole model).
absl::StatusOr<std::unique_ptr<Gpt2CSim>> CreateTiny(
    const model::QuantizedGpt2& q);
absl::StatusOr<std::unique_ptr<Gpt2CSim>> CreateSmall(
    const model::QuantizedGpt2& q);

static_assert(kLogitFracBits == kgpt2::kLogitFrac);

absl::Status CheckScalar(int value, int lo, int hi, const std::string& name) {
  if (value < lo || value > hi) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " = ", value, " is outside [", lo, ", ", hi, "]"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Gpt2CSim>> Gpt2CSim::Create(
    const model::QuantizedGpt2& model) {
  const model::Gpt2Config& c = model.config;
  if (ShapeMatches<kgpt2::Gpt2TinyShape>(c)) return CreateTiny(model);
  if (ShapeMatches<kgpt2::Gpt2SmallShape>(c)) return CreateSmall(model);
  return absl::InvalidArgumentError(absl::StrCat(
      "no kernel build for this model's shape (vocab ", c.vocab_size,
      ", context ", c.n_positions, ", n_embd ", c.n_embd, ", ", c.n_layer,
      " layers, ", c.n_head, " heads, n_inner ", c.n_inner,
      "); builds exist for the tiny model (50257, 256, 128, 4, 4, 512) and "
      "GPT-2 124M (50257, 1024, 768, 12, 12, 3072)"));
}

absl::StatusOr<std::vector<int32_t>> Gpt2CSim::ForwardRaw(
    Sequence& sequence, absl::Span<const int> tokens,
    bool all_positions) const {
  const int count = static_cast<int>(tokens.size());
  if (count == 0) return absl::InvalidArgumentError("no tokens to run");
  if (sequence.length() + count > config_.n_positions) {
    return absl::InvalidArgumentError(absl::StrCat(
        sequence.length(), " tokens in context plus ", count,
        " new ones exceed the model's context of ", config_.n_positions));
  }
  for (int t = 0; t < count; ++t) {
    if (tokens[t] < 0 || tokens[t] >= config_.vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "token id ", tokens[t], " at position ", t,
          " is outside the vocabulary [0, ", config_.vocab_size, ")"));
    }
  }
  const size_t vocab = config_.vocab_size;
  std::vector<int32_t> logits(static_cast<size_t>(count) * vocab);
  for (int begin = 0; begin < count; begin += kgpt2::kPrefillTokens) {
    const int n = std::min(kgpt2::kPrefillTokens, count - begin);
    RunTops(sequence, tokens.data() + begin, n, logits.data() + begin * vocab);
    Advance(sequence, n);
  }
  if (!all_positions) {
    logits.erase(logits.begin(), logits.end() - vocab);
  }
  return logits;
}

absl::StatusOr<std::vector<float>> Gpt2CSim::Forward(
    Sequence& sequence, absl::Span<const int> tokens,
    bool all_positions) const {
  auto raw = ForwardRaw(sequence, tokens, all_positions);
  if (!raw.ok()) return raw.status();
  std::vector<float> logits(raw->size());
  constexpr float kScale = 1.0f / (1 << kLogitFracBits);
  for (size_t i = 0; i < raw->size(); ++i) {
    logits[i] = static_cast<float>((*raw)[i]) * kScale;
  }
  return logits;
}

}  // namespace fxserve::backends::csim
