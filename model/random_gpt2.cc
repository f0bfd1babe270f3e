#include "model/random_gpt2.h"

#include <cmath>
#include <random>
#include <utility>
#include <vector>

namespace fxserve::model {

Gpt2Weights RandomGpt2Weights(const Gpt2Config& config, uint64_t seed) {
  Gpt2Weights w;
  w.config = config;
  const Gpt2Config& c = w.config;
  std::mt19937_64 rng(seed);
  auto normal = [&](size_t n, float stddev) {
    std::normal_distribution<float> dist(0.0f, stddev);
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng);
    return v;
  };
  const size_t e = c.n_embd, inner = c.n_inner;
  const float proj = 0.02f / std::sqrt(2.0f * c.n_layer);
  w.wte = normal(static_cast<size_t>(c.vocab_size) * e, 0.02f);
  w.wpe = normal(static_cast<size_t>(c.n_positions) * e, 0.01f);
  for (int l = 0; l < c.n_layer; ++l) {
    Gpt2LayerWeights layer;
    layer.ln_1_weight.assign(e, 1.0f);
    layer.ln_1_bias.assign(e, 0.0f);
    layer.attn_qkv_weight = normal(e * 3 * e, 0.02f);
    layer.attn_qkv_bias.assign(3 * e, 0.0f);
    layer.attn_proj_weight = normal(e * e, proj);
    layer.attn_proj_bias.assign(e, 0.0f);
    layer.ln_2_weight.assign(e, 1.0f);
    layer.ln_2_bias.assign(e, 0.0f);
    layer.mlp_fc_weight = normal(e * inner, 0.02f);
    layer.mlp_fc_bias.assign(inner, 0.0f);
    layer.mlp_proj_weight = normal(inner * e, proj);
    layer.mlp_proj_bias.assign(e, 0.0f);
    w.layers.push_back(std::move(layer));
  }
  w.ln_f_weight.assign(e, 1.0f);
  w.ln_f_bias.assign(e, 0.0f);
  return w;
}

}  // namespace fxserve::model
