#include "model/gpt2_weights.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace fxserve::model {
namespace {

// Finds tensors by their GPT2Model name, with or without "transformer.".
class TensorReader {
 public:
  explicit TensorReader(const SafetensorsFile& file) : file_(file) {
    prefix_ = file.Find("wte.weight") == nullptr &&
                      file.Find("transformer.wte.weight") != nullptr
                  ? "transformer."
                  : "";
  }

  absl::Status Read(const std::string& name, std::vector<int64_t> shape,
                    std::vector<float>& out) const {
    const TensorInfo* t = file_.Find(prefix_ + name);
    if (t == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "model.safetensors: tensor ", prefix_ + name,
          " is missing (is this a GPT-2 checkpoint matching config.json?)"));
    }
    if (t->shape != shape) {
      return absl::InvalidArgumentError(absl::StrCat(
          "model.safetensors: tensor ", t->name, " has shape ",
          t->ShapeString(), ", expected [", absl::StrJoin(shape, ", "), "]"));
    }
    absl::StatusOr<std::vector<float>> values = SafetensorsFile::ToFloat(*t);
    if (!values.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("model.safetensors: ", values.status().message()));
    }
    out = *std::move(values);
    return absl::OkStatus();
  }

 private:
  const SafetensorsFile& file_;
  std::string prefix_;
};

}  // namespace

absl::StatusOr<Gpt2Weights> Gpt2WeightsFromSafetensors(
    const Gpt2Config& config, const SafetensorsFile& file) {
  const TensorReader reader(file);
  const int64_t e = config.n_embd, inner = config.n_inner;
  Gpt2Weights w;
  w.config = config;
  struct Item {
    std::string name;
    std::vector<int64_t> shape;
    std::vector<float>* out;
  };
  std::vector<Item> items = {
      {"wte.weight", {config.vocab_size, e}, &w.wte},
      {"wpe.weight", {config.n_positions, e}, &w.wpe},
      {"ln_f.weight", {e}, &w.ln_f_weight},
      {"ln_f.bias", {e}, &w.ln_f_bias},
  };
  w.layers.resize(config.n_layer);
  for (int i = 0; i < config.n_layer; ++i) {
    Gpt2LayerWeights& l = w.layers[i];
    const std::string h = absl::StrCat("h.", i, ".");
    items.push_back({h + "ln_1.weight", {e}, &l.ln_1_weight});
    items.push_back({h + "ln_1.bias", {e}, &l.ln_1_bias});
    items.push_back({h + "attn.c_attn.weight", {e, 3 * e}, &l.attn_qkv_weight});
    items.push_back({h + "attn.c_attn.bias", {3 * e}, &l.attn_qkv_bias});
    items.push_back({h + "attn.c_proj.weight", {e, e}, &l.attn_proj_weight});
    items.push_back({h + "attn.c_proj.bias", {e}, &l.attn_proj_bias});
    items.push_back({h + "ln_2.weight", {e}, &l.ln_2_weight});
    items.push_back({h + "ln_2.bias", {e}, &l.ln_2_bias});
    items.push_back({h + "mlp.c_fc.weight", {e, inner}, &l.mlp_fc_weight});
    items.push_back({h + "mlp.c_fc.bias", {inner}, &l.mlp_fc_bias});
    items.push_back({h + "mlp.c_proj.weight", {inner, e}, &l.mlp_proj_weight});
    items.push_back({h + "mlp.c_proj.bias", {e}, &l.mlp_proj_bias});
  }
  for (const Item& item : items) {
    if (absl::Status s = reader.Read(item.name, item.shape, *item.out);
        !s.ok()) {
      return s;
    }
  }
  return w;
}

absl::StatusOr<Gpt2Weights> LoadGpt2(const std::string& dir) {
  absl::StatusOr<Gpt2Config> config =
      Gpt2Config::FromFile(absl::StrCat(dir, "/config.json"));
  if (!config.ok()) return config.status();
  absl::StatusOr<SafetensorsFile> file =
      SafetensorsFile::Open(absl::StrCat(dir, "/model.safetensors"));
  if (!file.ok()) return file.status();
  return Gpt2WeightsFromSafetensors(*config, *file);
}

}  // namespace fxserve::model
