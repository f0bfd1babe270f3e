// A GPT-2 model's shape, read from a Hugging Face config.json.
#ifndef FXSERVE_MODEL_GPT2_CONFIG_H_
#define FXSERVE_MODEL_GPT2_CONFIG_H_

#include <string>

#include "absl/status/statusor.h"

namespace fxserve::model {

enum class GeluKind {
  kTanh,  // "gelu_new" (GPT-2's): 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))).
  kErf,   // "gelu": 0.5x(1 + erf(x / sqrt(2))).
};

struct Gpt2Config {
  int vocab_size = 50257;
  int n_positions = 1024;  // Longest context.
  int n_embd = 768;
  int n_layer = 12;
  int n_head = 12;
  int n_inner = 3072;  // MLP width; config's null means 4 * n_embd.
  float layer_norm_epsilon = 1e-5f;
  GeluKind gelu = GeluKind::kTanh;

  int head_dim() const { return n_embd / n_head; }

  // Sizes must be positive and consistent (n_embd divisible by n_head...).
  absl::Status Validate() const;

  // Parses config.json text; `origin` names it in errors.
  static absl::StatusOr<Gpt2Config> FromJson(const std::string& text,
                                             const std::string& origin);
  static absl::StatusOr<Gpt2Config> FromFile(const std::string& path);
};

}  // namespace fxserve::model

#endif  // FXSERVE_MODEL_GPT2_CONFIG_H_
