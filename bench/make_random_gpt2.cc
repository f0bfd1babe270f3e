// Writes a GPT-2 checkpoint with random weights (GPT-2's initialization) in
// Hugging Face's layout (config.json + F32 model.safetensors), so the
// quantizer and `fxtool bench` can be run on a model of GPT-2 124M's shape
// without downloading one:
//   build/ci/bench/make_random_gpt2 --out /tmp/gpt2-random
//   fxtool quantize --model /tmp/gpt2-random --weights int8
//     --calib models/tiny-gpt2/calibration.txt --out /tmp/gpt2-random-w8
//   fxtool bench --model /tmp/gpt2-random-w8
#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "model/gpt2_config.h"
#include "model/random_gpt2.h"
#include "model/safetensors_writer.h"

ABSL_FLAG(std::string, out, "", "folder to write (created if missing)");
ABSL_FLAG(int, n_layer, 12, "layers");
ABSL_FLAG(int, n_embd, 768, "embedding width");
ABSL_FLAG(int, n_head, 12, "attention heads");
ABSL_FLAG(int, n_positions, 1024, "context length");
ABSL_FLAG(uint64_t, seed, 124, "random seed");

namespace {

using fxserve::model::DType;
using fxserve::model::TensorToWrite;

absl::Span<const uint8_t> Bytes(const std::vector<float>& v) {
  return {reinterpret_cast<const uint8_t*>(v.data()), v.size() * sizeof(float)};
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string out = absl::GetFlag(FLAGS_out);
  if (out.empty()) {
    std::fprintf(stderr, "usage: make_random_gpt2 --out DIR [--n-layer ...]\n");
    return 2;
  }
  fxserve::model::Gpt2Config c;
  c.n_layer = absl::GetFlag(FLAGS_n_layer);
  c.n_embd = absl::GetFlag(FLAGS_n_embd);
  c.n_head = absl::GetFlag(FLAGS_n_head);
  c.n_positions = absl::GetFlag(FLAGS_n_positions);
  c.n_inner = 4 * c.n_embd;
  if (absl::Status s = c.Validate(); !s.ok()) {
    std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
    return 2;
  }
  mkdir(out.c_str(), 0755);
  const fxserve::model::Gpt2Weights w =
      fxserve::model::RandomGpt2Weights(c, absl::GetFlag(FLAGS_seed));
  const int64_t e = c.n_embd, inner = c.n_inner;
  std::vector<TensorToWrite> t = {
      {"wte.weight", DType::kF32, {c.vocab_size, e}, Bytes(w.wte)},
      {"wpe.weight", DType::kF32, {c.n_positions, e}, Bytes(w.wpe)},
      {"ln_f.weight", DType::kF32, {e}, Bytes(w.ln_f_weight)},
      {"ln_f.bias", DType::kF32, {e}, Bytes(w.ln_f_bias)}};
  for (int l = 0; l < c.n_layer; ++l) {
    const auto& y = w.layers[l];
    const std::string h = absl::StrCat("h.", l, ".");
    t.push_back({h + "ln_1.weight", DType::kF32, {e}, Bytes(y.ln_1_weight)});
    t.push_back({h + "ln_1.bias", DType::kF32, {e}, Bytes(y.ln_1_bias)});
    t.push_back({h + "attn.c_attn.weight",
                 DType::kF32,
                 {e, 3 * e},
                 Bytes(y.attn_qkv_weight)});
    t.push_back(
        {h + "attn.c_attn.bias", DType::kF32, {3 * e}, Bytes(y.attn_qkv_bias)});
    t.push_back({h + "attn.c_proj.weight",
                 DType::kF32,
                 {e, e},
                 Bytes(y.attn_proj_weight)});
    t.push_back(
        {h + "attn.c_proj.bias", DType::kF32, {e}, Bytes(y.attn_proj_bias)});
    t.push_back({h + "ln_2.weight", DType::kF32, {e}, Bytes(y.ln_2_weight)});
    t.push_back({h + "ln_2.bias", DType::kF32, {e}, Bytes(y.ln_2_bias)});
    t.push_back({h + "mlp.c_fc.weight",
                 DType::kF32,
                 {e, inner},
                 Bytes(y.mlp_fc_weight)});
    t.push_back(
        {h + "mlp.c_fc.bias", DType::kF32, {inner}, Bytes(y.mlp_fc_bias)});
    t.push_back({h + "mlp.c_proj.weight",
                 DType::kF32,
                 {inner, e},
                 Bytes(y.mlp_proj_weight)});
    t.push_back(
        {h + "mlp.c_proj.bias", DType::kF32, {e}, Bytes(y.mlp_proj_bias)});
  }
  if (absl::Status s = fxserve::model::WriteSafetensors(
          out + "/model.safetensors", t, {{"format", "pt"}});
      !s.ok()) {
    std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
    return 1;
  }
  std::ofstream config(out + "/config.json");
  config << "{\"model_type\": \"gpt2\", \"vocab_size\": " << c.vocab_size
         << ", \"n_positions\": " << c.n_positions
         << ", \"n_ctx\": " << c.n_positions << ", \"n_embd\": " << c.n_embd
         << ", \"n_layer\": " << c.n_layer << ", \"n_head\": " << c.n_head
         << ", \"n_inner\": null, \"activation_function\": \"gelu_new\", "
            "\"layer_norm_epsilon\": 1e-05}\n";
  std::printf("wrote %s (config.json, model.safetensors)\n", out.c_str());
  return config ? 0 : 1;
}
