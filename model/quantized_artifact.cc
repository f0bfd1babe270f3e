#include "model/quantized_artifact.h"

#include <fstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "model/artifact_io.h"
#include "model/safetensors.h"
#include "nlohmann/json.hpp"

namespace fxserve::model {
namespace {

using Json = nlohmann::json;

void AddLayerNorm(ArtifactTensors& list, const std::string& name,
                  const QuantizedLayerNorm& q) {
  list.Add(name + ".gamma", DType::kI32, {static_cast<int64_t>(q.gamma.size())},
           q.gamma);
  list.Add(name + ".beta", DType::kI32, {static_cast<int64_t>(q.beta.size())},
           q.beta);
  list.AddScalar(name + ".out_shift", q.out_shift);
}

absl::Status ReadLayerNorm(ArtifactReader& r, const std::string& name, int n,
                           QuantizedLayerNorm& q) {
  absl::Status s = r.Read(name + ".gamma", DType::kI32, {n}, q.gamma);
  if (s.ok()) s = r.Read(name + ".beta", DType::kI32, {n}, q.beta);
  if (s.ok()) s = r.Scalar(name + ".out_shift", q.out_shift);
  return s;
}

Json ConfigJson(const Gpt2Config& c) {
  return Json{
      {"model_type", "gpt2"},
      {"vocab_size", c.vocab_size},
      {"n_positions", c.n_positions},
      {"n_embd", c.n_embd},
      {"n_layer", c.n_layer},
      {"n_head", c.n_head},
      {"n_inner", c.n_inner},
      {"layer_norm_epsilon", c.layer_norm_epsilon},
      {"activation_function", c.gelu == GeluKind::kTanh ? "gelu_new" : "gelu"}};
}

}  // namespace

bool IsQuantizedArtifact(const std::string& dir) {
  return static_cast<bool>(std::ifstream(ArtifactPath(dir)));
}

absl::Status SaveQuantizedGpt2(const QuantizedGpt2& model,
                               const std::string& dir) {
  const Gpt2Config& c = model.config;
  ArtifactTensors list;
  list.Add("wte", DType::kI16, {c.vocab_size, c.n_embd}, model.wte);
  list.Add("wpe", DType::kI16, {c.n_positions, c.n_embd}, model.wpe);
  for (size_t l = 0; l < model.layers.size(); ++l) {
    const QuantizedLayer& q = model.layers[l];
    const std::string h = absl::StrCat("h.", l, ".");
    AddLayerNorm(list, h + "ln_1", q.ln_1);
    list.AddLinear(h + "attn.c_attn", q.qkv);
    list.AddScalar(h + "attn.score_frac", q.score_frac);
    list.AddScalar(h + "attn.ctx_shift", q.ctx_shift);
    list.AddLinear(h + "attn.c_proj", q.attn_proj);
    AddLayerNorm(list, h + "ln_2", q.ln_2);
    list.AddLinear(h + "mlp.c_fc", q.fc);
    list.AddScalar(h + "mlp.gelu_shift", q.gelu_shift);
    list.AddLinear(h + "mlp.c_proj", q.mlp_proj);
  }
  AddLayerNorm(list, "ln_f", model.ln_f);
  list.AddLinear("lm_head", model.lm_head);

  Json quantization{{"weight_bits", model.weight_bits},
                    {"lm_head_bits", 8},
                    {"scales", ScaleKindName(model.scales)},
                    {"activation_frac", model.activation_frac}};
  return WriteArtifact(dir, kArtifactFormat, kArtifactFormatVersion, list,
                       {{"config", ConfigJson(c).dump()},
                        {"quantization", quantization.dump()}});
}

absl::StatusOr<QuantizedGpt2> LoadQuantizedGpt2(const std::string& dir) {
  const std::string path = ArtifactPath(dir);
  absl::StatusOr<SafetensorsFile> file =
      OpenArtifact(dir, kArtifactFormat, kArtifactFormatVersion,
                   "fxtool quantize --model DIR --calib FILE --out " + dir);
  if (!file.ok()) return file.status();
  const auto& meta = file->metadata();
  auto field = [&](const char* key) -> std::string {
    auto it = meta.find(key);
    return it == meta.end() ? "" : it->second;
  };
  QuantizedGpt2 q;
  Json config_json = Json::parse(field("config"), nullptr, false);
  Json quantization = Json::parse(field("quantization"), nullptr, false);
  if (config_json.is_discarded() || quantization.is_discarded() ||
      !quantization.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": the config or quantization metadata is not valid JSON"));
  }
  auto config = Gpt2Config::FromJson(config_json.dump(), path + " (config)");
  if (!config.ok()) return config.status();
  q.config = *config;
  const Gpt2Config& c = q.config;
  if (absl::Status st =
          ReadWeightFormat(path, quantization.dump(), q.weight_bits, q.scales);
      !st.ok()) {
    return st;
  }
  const Json fracs = quantization.value("activation_frac", Json::object());
  for (const auto& [name, value] : fracs.items()) {
    if (value.is_number_integer()) q.activation_frac[name] = value.get<int>();
  }

  const bool fixed = q.scales == ScaleKind::kFixed;
  const int e = c.n_embd, wb = q.weight_bits;
  ArtifactReader r(*file, path);
  absl::Status s = r.Read("wte", DType::kI16, {c.vocab_size, e}, q.wte);
  if (s.ok()) s = r.Read("wpe", DType::kI16, {c.n_positions, e}, q.wpe);
  q.layers.resize(c.n_layer);
  for (int l = 0; s.ok() && l < c.n_layer; ++l) {
    QuantizedLayer& ql = q.layers[l];
    const std::string h = absl::StrCat("h.", l, ".");
    s = ReadLayerNorm(r, h + "ln_1", e, ql.ln_1);
    if (s.ok()) s = r.Linear(h + "attn.c_attn", e, 3 * e, wb, fixed, ql.qkv);
    if (s.ok()) s = r.Scalar(h + "attn.score_frac", ql.score_frac);
    if (s.ok()) s = r.Scalar(h + "attn.ctx_shift", ql.ctx_shift);
    if (s.ok()) s = r.Linear(h + "attn.c_proj", e, e, wb, fixed, ql.attn_proj);
    if (s.ok()) s = ReadLayerNorm(r, h + "ln_2", e, ql.ln_2);
    if (s.ok()) s = r.Linear(h + "mlp.c_fc", e, c.n_inner, wb, fixed, ql.fc);
    if (s.ok()) s = r.Scalar(h + "mlp.gelu_shift", ql.gelu_shift);
    if (s.ok()) {
      s = r.Linear(h + "mlp.c_proj", c.n_inner, e, wb, fixed, ql.mlp_proj);
    }
  }
  if (s.ok()) s = ReadLayerNorm(r, "ln_f", e, q.ln_f);
  if (s.ok()) s = r.Linear("lm_head", e, c.vocab_size, 8, fixed, q.lm_head);
  if (!s.ok()) return s;
  return q;
}

}  // namespace fxserve::model
