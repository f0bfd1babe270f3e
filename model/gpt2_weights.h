// A GPT-2 checkpoint's weights in float32, loaded from a Hugging Face model
// folder (config.json + model.safetensors, F32/F16/BF16, with or without the
// "transformer." name prefix). Matrices keep Hugging Face's Conv1D layout:
// [in, out], row-major.
#ifndef FXSERVE_MODEL_GPT2_WEIGHTS_H_
#define FXSERVE_MODEL_GPT2_WEIGHTS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/gpt2_config.h"
#include "model/safetensors.h"

namespace fxserve::model {

struct Gpt2LayerWeights {
  std::vector<float> ln_1_weight, ln_1_bias;            // [n_embd]
  std::vector<float> attn_qkv_weight, attn_qkv_bias;    // [n_embd, 3n_embd]
  std::vector<float> attn_proj_weight, attn_proj_bias;  // [n_embd, n_embd]
  std::vector<float> ln_2_weight, ln_2_bias;            // [n_embd]
  std::vector<float> mlp_fc_weight, mlp_fc_bias;        // [n_embd, n_inner]
  std::vector<float> mlp_proj_weight, mlp_proj_bias;    // [n_inner, n_embd]
};

struct Gpt2Weights {
  Gpt2Config config;
  std::vector<float> wte;  // [vocab_size, n_embd]; also the (tied) LM head.
  std::vector<float> wpe;  // [n_positions, n_embd]
  std::vector<Gpt2LayerWeights> layers;
  std::vector<float> ln_f_weight, ln_f_bias;  // [n_embd]
};

// Loads `dir`/config.json and `dir`/model.safetensors.
absl::StatusOr<Gpt2Weights> LoadGpt2(const std::string& dir);

// Takes every tensor the config calls for from `file`, checking names and
// shapes. Errors name the tensor, e.g. "h.3.attn.c_attn.weight has shape
// [768, 2000], expected [768, 2304]".
absl::StatusOr<Gpt2Weights> Gpt2WeightsFromSafetensors(
    const Gpt2Config& config, const SafetensorsFile& file);

}  // namespace fxserve::model

#endif  // FXSERVE_MODEL_GPT2_WEIGHTS_H_
