#include "model/gpt2_config.h"

#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace fxserve::model {
namespace {

using nlohmann::json;

// Reads integer field `key` (or `fallback_key`) into `out` if present.
absl::Status ReadInt(const json& j, const char* key, const char* fallback_key,
                     const std::string& origin, int& out) {
  auto it = j.find(key);
  if (it == j.end() && fallback_key != nullptr) it = j.find(fallback_key);
  if (it == j.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_number_integer()) {
    return absl::InvalidArgumentError(
        absl::StrCat(origin, ": \"", key, "\" must be an integer"));
  }
  const int64_t v = it->get<int64_t>();
  if (v <= 0 || v > (int64_t{1} << 24)) {
    return absl::InvalidArgumentError(absl::StrCat(
        origin, ": \"", key, "\" is ", v, "; expected 1 .. 16777216"));
  }
  out = static_cast<int>(v);
  return absl::OkStatus();
}

}  // namespace

absl::Status Gpt2Config::Validate() const {
  if (n_embd % n_head != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "n_embd (", n_embd, ") must be a multiple of n_head (", n_head, ")"));
  }
  if (!(layer_norm_epsilon > 0.0f && layer_norm_epsilon < 1.0f)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "layer_norm_epsilon ", layer_norm_epsilon, " must be in (0, 1)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Gpt2Config> Gpt2Config::FromJson(const std::string& text,
                                                const std::string& origin) {
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(origin, ": not a JSON object"));
  }
  if (auto it = j.find("model_type");
      it != j.end() && (!it->is_string() || it->get<std::string>() != "gpt2")) {
    return absl::InvalidArgumentError(absl::StrCat(
        origin, ": model_type is ", it->dump(), "; fxserve reads \"gpt2\""));
  }
  Gpt2Config c;
  c.n_inner = 0;
  struct Field {
    const char* key;
    const char* fallback_key;  // Name used by newer configs, or null.
    int* value;
  };
  const Field fields[] = {{"vocab_size", nullptr, &c.vocab_size},
                          {"n_positions", "n_ctx", &c.n_positions},
                          {"n_embd", "hidden_size", &c.n_embd},
                          {"n_layer", "num_hidden_layers", &c.n_layer},
                          {"n_head", "num_attention_heads", &c.n_head},
                          {"n_inner", nullptr, &c.n_inner}};
  for (const Field& f : fields) {
    if (absl::Status s = ReadInt(j, f.key, f.fallback_key, origin, *f.value);
        !s.ok()) {
      return s;
    }
  }
  if (c.n_inner == 0) c.n_inner = 4 * c.n_embd;
  if (auto it = j.find("layer_norm_epsilon"); it != j.end()) {
    if (!it->is_number()) {
      return absl::InvalidArgumentError(
          absl::StrCat(origin, ": layer_norm_epsilon must be a number"));
    }
    c.layer_norm_epsilon = it->get<float>();
  }
  if (auto it = j.find("activation_function"); it != j.end()) {
    const std::string act = it->is_string() ? it->get<std::string>() : "";
    if (act == "gelu_new" || act == "gelu_pytorch_tanh") {
      c.gelu = GeluKind::kTanh;
    } else if (act == "gelu") {
      c.gelu = GeluKind::kErf;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(origin, ": activation_function ", it->dump(),
                       " is not supported (gelu_new or gelu)"));
    }
  }
  if (absl::Status s = c.Validate(); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ": ", s.message()));
  }
  return c;
}

absl::StatusOr<Gpt2Config> Gpt2Config::FromFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::stringstream text;
  text << in.rdbuf();
  return FromJson(text.str(), path);
}

}  // namespace fxserve::model
