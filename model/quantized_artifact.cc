#include "model/quantized_artifact.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "model/checksum.h"
#include "model/safetensors.h"
#include "model/safetensors_writer.h"
#include "nlohmann/json.hpp"

namespace fxserve::model {
namespace {

using Json = nlohmann::json;

std::string ArtifactPath(const std::string& dir) {
  return dir + "/" + kArtifactFileName;
}

// Collects tensors to write; owns their bytes until written.
class TensorList {
 public:
  template <class T>
  void Add(const std::string& name, DType dtype, std::vector<int64_t> shape,
           const std::vector<T>& values) {
    auto bytes =
        std::make_unique<std::vector<uint8_t>>(values.size() * sizeof(T));
    if (!values.empty())
      std::memcpy(bytes->data(), values.data(), bytes->size());
    tensors_.push_back({name, dtype, std::move(shape), *bytes});
    storage_.push_back(std::move(bytes));
  }
  void AddScalar(const std::string& name, int value) {
    Add(name, DType::kI32, {1}, std::vector<int32_t>{value});
  }
  void AddLinear(const std::string& name, const QuantizedLinear& q) {
    Add(name + ".weight", DType::kI8, {q.out, q.in}, q.weight);
    Add(name + ".bias", DType::kI32, {q.out}, q.bias);
    Add(name + ".shift", DType::kI8, {q.out}, q.shift);
    if (!q.mult.empty()) {
      Add(name + ".mult", DType::kI32, {q.out},
          std::vector<int32_t>(q.mult.begin(), q.mult.end()));
    }
  }
  void AddLayerNorm(const std::string& name, const QuantizedLayerNorm& q) {
    Add(name + ".gamma", DType::kI32, {static_cast<int64_t>(q.gamma.size())},
        q.gamma);
    Add(name + ".beta", DType::kI32, {static_cast<int64_t>(q.beta.size())},
        q.beta);
    AddScalar(name + ".out_shift", q.out_shift);
  }
  const std::vector<TensorToWrite>& tensors() const { return tensors_; }

 private:
  std::vector<TensorToWrite> tensors_;
  std::vector<std::unique_ptr<std::vector<uint8_t>>> storage_;
};

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

// Reads the artifact's tensors back, checking dtype and shape.
class TensorReader {
 public:
  TensorReader(const SafetensorsFile& file, std::string path)
      : file_(file), path_(std::move(path)) {}

  template <class T>
  absl::Status Read(const std::string& name, DType dtype,
                    const std::vector<int64_t>& shape, std::vector<T>& out) {
    const TensorInfo* t = file_.Find(name);
    if (t == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(path_, ": tensor ", name, " is missing"));
    }
    if (t->dtype != dtype || t->shape != shape) {
      TensorInfo want{name, dtype, shape, {}};
      return absl::InvalidArgumentError(
          absl::StrCat(path_, ": tensor ", name, " is ", DTypeName(t->dtype),
                       " ", t->ShapeString(), ", expected ", DTypeName(dtype),
                       " ", want.ShapeString()));
    }
    out.resize(t->NumElements());
    if (!out.empty()) std::memcpy(out.data(), t->bytes.data(), t->bytes.size());
    return absl::OkStatus();
  }
  absl::Status Scalar(const std::string& name, int& value) {
    std::vector<int32_t> v;
    if (absl::Status s = Read(name, DType::kI32, {1}, v); !s.ok()) return s;
    value = v[0];
    return absl::OkStatus();
  }
  absl::Status Linear(const std::string& name, int in, int out, int bits,
                      bool fixed, QuantizedLinear& q) {
    q.in = in;
    q.out = out;
    q.bits = bits;
    absl::Status s = Read(name + ".weight", DType::kI8, {out, in}, q.weight);
    if (s.ok()) s = Read(name + ".bias", DType::kI32, {out}, q.bias);
    if (s.ok()) s = Read(name + ".shift", DType::kI8, {out}, q.shift);
    if (s.ok() && fixed) {
      std::vector<int32_t> mult;
      s = Read(name + ".mult", DType::kI32, {out}, mult);
      for (size_t i = 0; s.ok() && i < mult.size(); ++i) {
        if (mult[i] < 0 || mult[i] > 65535) {
          s = absl::InvalidArgumentError(
              absl::StrCat(path_, ": ", name, ".mult[", i, "] = ", mult[i],
                           " is not a 16-bit multiplier"));
        }
        q.mult.push_back(static_cast<uint16_t>(mult[i]));
      }
    }
    return s;
  }
  absl::Status LayerNorm(const std::string& name, int n,
                         QuantizedLayerNorm& q) {
    absl::Status s = Read(name + ".gamma", DType::kI32, {n}, q.gamma);
    if (s.ok()) s = Read(name + ".beta", DType::kI32, {n}, q.beta);
    if (s.ok()) s = Scalar(name + ".out_shift", q.out_shift);
    return s;
  }

 private:
  const SafetensorsFile& file_;
  std::string path_;
};

}  // namespace

bool IsQuantizedArtifact(const std::string& dir) {
  return static_cast<bool>(std::ifstream(ArtifactPath(dir)));
}

absl::Status SaveQuantizedGpt2(const QuantizedGpt2& model,
                               const std::string& dir) {
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return absl::PermissionDeniedError(absl::StrCat(
        "cannot create the folder ", dir, ": ", std::strerror(errno)));
  }
  const Gpt2Config& c = model.config;
  TensorList list;
  list.Add("wte", DType::kI16, {c.vocab_size, c.n_embd}, model.wte);
  list.Add("wpe", DType::kI16, {c.n_positions, c.n_embd}, model.wpe);
  for (size_t l = 0; l < model.layers.size(); ++l) {
    const QuantizedLayer& q = model.layers[l];
    const std::string h = absl::StrCat("h.", l, ".");
    list.AddLayerNorm(h + "ln_1", q.ln_1);
    list.AddLinear(h + "attn.c_attn", q.qkv);
    list.AddScalar(h + "attn.score_frac", q.score_frac);
    list.AddScalar(h + "attn.ctx_shift", q.ctx_shift);
    list.AddLinear(h + "attn.c_proj", q.attn_proj);
    list.AddLayerNorm(h + "ln_2", q.ln_2);
    list.AddLinear(h + "mlp.c_fc", q.fc);
    list.AddScalar(h + "mlp.gelu_shift", q.gelu_shift);
    list.AddLinear(h + "mlp.c_proj", q.mlp_proj);
  }
  list.AddLayerNorm("ln_f", model.ln_f);
  list.AddLinear("lm_head", model.lm_head);

  Json quantization{{"weight_bits", model.weight_bits},
                    {"lm_head_bits", 8},
                    {"scales", ScaleKindName(model.scales)},
                    {"activation_frac", model.activation_frac}};
  char crc[16];
  std::snprintf(crc, sizeof crc, "%08x",
                Crc32(SafetensorsDataSection(list.tensors())));
  const std::map<std::string, std::string> metadata = {
      {"format", kArtifactFormat},
      {"format_version", std::to_string(kArtifactFormatVersion)},
      {"config", ConfigJson(c).dump()},
      {"quantization", quantization.dump()},
      {"data_crc32", crc}};
  return WriteSafetensors(ArtifactPath(dir), list.tensors(), metadata);
}

absl::StatusOr<QuantizedGpt2> LoadQuantizedGpt2(const std::string& dir) {
  const std::string path = ArtifactPath(dir);
  auto file = SafetensorsFile::Open(path);
  if (!file.ok()) return file.status();
  const auto& meta = file->metadata();
  auto field = [&](const char* key) -> std::string {
    auto it = meta.find(key);
    return it == meta.end() ? "" : it->second;
  };
  if (field("format") != kArtifactFormat) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, " is not an fxserve model artifact (metadata format is '",
        field("format"), "', expected '", kArtifactFormat,
        "'); make one with: fxtool quantize --model DIR --calib FILE --out ",
        dir));
  }
  const std::string version = field("format_version");
  if (version != std::to_string(kArtifactFormatVersion)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " has artifact format version '", version,
                     "'; this fxserve reads version ", kArtifactFormatVersion,
                     ": quantize the model again with this fxserve"));
  }
  char crc[16];
  std::snprintf(crc, sizeof crc, "%08x", Crc32(file->data_section()));
  if (field("data_crc32") != crc) {
    return absl::DataLossError(
        absl::StrCat(path, " is corrupt: its tensor data has CRC-32 ", crc,
                     " but the header records '", field("data_crc32"),
                     "'; copy or quantize the model again"));
  }

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
  const Json bits = quantization.value("weight_bits", Json());
  const Json scales = quantization.value("scales", Json());
  if (!bits.is_number_integer() || (bits != 8 && bits != 4) ||
      !scales.is_string() || (scales != "pow2" && scales != "fixed")) {
    return absl::InvalidArgumentError(
        absl::StrCat(path,
                     ": quantization metadata needs weight_bits 8|4 and scales "
                     "pow2|fixed, got ",
                     quantization.dump()));
  }
  q.weight_bits = bits.get<int>();
  q.scales = scales == "pow2" ? ScaleKind::kPow2 : ScaleKind::kFixed;
  const Json fracs = quantization.value("activation_frac", Json::object());
  for (const auto& [name, value] : fracs.items()) {
    if (value.is_number_integer()) q.activation_frac[name] = value.get<int>();
  }

  const bool fixed = q.scales == ScaleKind::kFixed;
  const int e = c.n_embd, wb = q.weight_bits;
  TensorReader r(*file, path);
  absl::Status s = r.Read("wte", DType::kI16, {c.vocab_size, e}, q.wte);
  if (s.ok()) s = r.Read("wpe", DType::kI16, {c.n_positions, e}, q.wpe);
  q.layers.resize(c.n_layer);
  for (int l = 0; s.ok() && l < c.n_layer; ++l) {
    QuantizedLayer& ql = q.layers[l];
    const std::string h = absl::StrCat("h.", l, ".");
    s = r.LayerNorm(h + "ln_1", e, ql.ln_1);
    if (s.ok()) s = r.Linear(h + "attn.c_attn", e, 3 * e, wb, fixed, ql.qkv);
    if (s.ok()) s = r.Scalar(h + "attn.score_frac", ql.score_frac);
    if (s.ok()) s = r.Scalar(h + "attn.ctx_shift", ql.ctx_shift);
    if (s.ok()) s = r.Linear(h + "attn.c_proj", e, e, wb, fixed, ql.attn_proj);
    if (s.ok()) s = r.LayerNorm(h + "ln_2", e, ql.ln_2);
    if (s.ok()) s = r.Linear(h + "mlp.c_fc", e, c.n_inner, wb, fixed, ql.fc);
    if (s.ok()) s = r.Scalar(h + "mlp.gelu_shift", ql.gelu_shift);
    if (s.ok()) {
      s = r.Linear(h + "mlp.c_proj", c.n_inner, e, wb, fixed, ql.mlp_proj);
    }
  }
  if (s.ok()) s = r.LayerNorm("ln_f", e, q.ln_f);
  if (s.ok()) s = r.Linear("lm_head", e, c.vocab_size, 8, fixed, q.lm_head);
  if (!s.ok()) return s;
  return q;
}

}  // namespace fxserve::model
