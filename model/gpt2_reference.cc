#include "model/gpt2_reference.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "model/matmul.h"

namespace fxserve::model {
namespace {

// Normalizes each of `rows` rows of x[rows, n] in place.
void LayerNorm(std::vector<float>& x, int rows, int n,
               const std::vector<float>& gain, const std::vector<float>& bias,
               float epsilon, std::vector<float>& out) {
  out.resize(x.size());
  for (int r = 0; r < rows; ++r) {
    const float* in = &x[static_cast<size_t>(r) * n];
    double mean = 0, var = 0;
    for (int i = 0; i < n; ++i) mean += in[i];
    mean /= n;
    for (int i = 0; i < n; ++i) var += (in[i] - mean) * (in[i] - mean);
    var /= n;
    const float inv = static_cast<float>(1.0 / std::sqrt(var + epsilon));
    float* o = &out[static_cast<size_t>(r) * n];
    for (int i = 0; i < n; ++i) {
      o[i] = static_cast<float>(in[i] - mean) * inv * gain[i] + bias[i];
    }
  }
}

float Gelu(float x, GeluKind kind) {
  if (kind == GeluKind::kErf) {
    return 0.5f * x * (1.0f + std::erf(x / std::sqrt(2.0f)));
  }
  const float k = std::sqrt(2.0f / static_cast<float>(M_PI));
  return 0.5f * x * (1.0f + std::tanh(k * (x + 0.044715f * x * x * x)));
}

}  // namespace

Gpt2Reference::Gpt2Reference(Gpt2Weights weights)
    : weights_(std::move(weights)) {}

Gpt2Reference::KvCache Gpt2Reference::NewCache() const {
  const Gpt2Config& c = config();
  KvCache cache;
  const size_t size = static_cast<size_t>(c.n_positions) * c.n_embd;
  cache.keys.assign(c.n_layer, std::vector<float>(size));
  cache.values.assign(c.n_layer, std::vector<float>(size));
  return cache;
}

void Gpt2Reference::Attention(int layer, KvCache& cache, int first, int count,
                              const std::vector<float>& qkv,
                              std::vector<float>& out) const {
  const Gpt2Config& c = config();
  const int e = c.n_embd, d = c.head_dim();
  std::vector<float>& keys = cache.keys[layer];
  std::vector<float>& values = cache.values[layer];
  // qkv rows are [q | k | v], each n_embd wide, heads side by side.
  for (int t = 0; t < count; ++t) {
    const float* row = &qkv[static_cast<size_t>(t) * 3 * e];
    std::copy(row + e, row + 2 * e, &keys[static_cast<size_t>(first + t) * e]);
    std::copy(row + 2 * e, row + 3 * e,
              &values[static_cast<size_t>(first + t) * e]);
  }
  out.assign(static_cast<size_t>(count) * e, 0.0f);
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  std::vector<float> scores;
  for (int t = 0; t < count; ++t) {
    const int pos = first + t;  // Attends to positions 0..pos (causal).
    for (int h = 0; h < c.n_head; ++h) {
      const float* q = &qkv[static_cast<size_t>(t) * 3 * e + h * d];
      scores.assign(pos + 1, 0.0f);
      float max_score = -INFINITY;
      for (int j = 0; j <= pos; ++j) {
        const float* k = &keys[static_cast<size_t>(j) * e + h * d];
        float dot = 0;
        for (int i = 0; i < d; ++i) dot += q[i] * k[i];
        scores[j] = dot * scale;
        max_score = std::max(max_score, scores[j]);
      }
      float sum = 0;
      for (float& s : scores) {
        s = std::exp(s - max_score);
        sum += s;
      }
      float* o = &out[static_cast<size_t>(t) * e + h * d];
      for (int j = 0; j <= pos; ++j) {
        const float p = scores[j] / sum;
        const float* v = &values[static_cast<size_t>(j) * e + h * d];
        for (int i = 0; i < d; ++i) o[i] += p * v[i];
      }
    }
  }
}

absl::StatusOr<std::vector<float>> Gpt2Reference::Forward(
    KvCache& cache, absl::Span<const int> tokens, bool all_positions,
    const ActivationObserver* observer) const {
  auto observe = [observer](ActivationPoint point, int layer,
                            const std::vector<float>& values) {
    if (observer != nullptr) (*observer)(point, layer, values);
  };
  const Gpt2Config& c = config();
  const int count = static_cast<int>(tokens.size());
  if (count == 0) return absl::InvalidArgumentError("no tokens to run");
  if (cache.length + count > c.n_positions) {
    return absl::InvalidArgumentError(absl::StrCat(
        cache.length, " tokens in context plus ", count,
        " new ones exceed the model's context of ", c.n_positions));
  }
  for (int t = 0; t < count; ++t) {
    if (tokens[t] < 0 || tokens[t] >= c.vocab_size) {
      return absl::InvalidArgumentError(
          absl::StrCat("token id ", tokens[t], " at position ", t,
                       " is outside the vocabulary [0, ", c.vocab_size, ")"));
    }
  }
  const int e = c.n_embd, first = cache.length;
  std::vector<float> x(static_cast<size_t>(count) * e);
  for (int t = 0; t < count; ++t) {
    for (int i = 0; i < e; ++i) {
      x[static_cast<size_t>(t) * e + i] =
          weights_.wte[static_cast<size_t>(tokens[t]) * e + i] +
          weights_.wpe[static_cast<size_t>(first + t) * e + i];
    }
  }
  std::vector<float> normed, qkv(static_cast<size_t>(count) * 3 * e), attn,
      projected(static_cast<size_t>(count) * e),
      hidden(static_cast<size_t>(count) * c.n_inner);
  for (int l = 0; l < c.n_layer; ++l) {
    const Gpt2LayerWeights& w = weights_.layers[l];
    LayerNorm(x, count, e, w.ln_1_weight, w.ln_1_bias, c.layer_norm_epsilon,
              normed);
    observe(ActivationPoint::kLn1Out, l, normed);
    MatMulF32(normed.data(), count, e, w.attn_qkv_weight.data(), 3 * e, false,
              w.attn_qkv_bias.data(), qkv.data());
    observe(ActivationPoint::kQkv, l, qkv);
    Attention(l, cache, first, count, qkv, attn);
    observe(ActivationPoint::kAttnOut, l, attn);
    MatMulF32(attn.data(), count, e, w.attn_proj_weight.data(), e, false,
              w.attn_proj_bias.data(), projected.data());
    for (size_t i = 0; i < x.size(); ++i) x[i] += projected[i];

    LayerNorm(x, count, e, w.ln_2_weight, w.ln_2_bias, c.layer_norm_epsilon,
              normed);
    observe(ActivationPoint::kLn2Out, l, normed);
    MatMulF32(normed.data(), count, e, w.mlp_fc_weight.data(), c.n_inner, false,
              w.mlp_fc_bias.data(), hidden.data());
    observe(ActivationPoint::kFcOut, l, hidden);
    for (float& v : hidden) v = Gelu(v, c.gelu);
    observe(ActivationPoint::kGeluOut, l, hidden);
    MatMulF32(hidden.data(), count, c.n_inner, w.mlp_proj_weight.data(), e,
              false, w.mlp_proj_bias.data(), projected.data());
    for (size_t i = 0; i < x.size(); ++i) x[i] += projected[i];
    observe(ActivationPoint::kResidual, l, x);
  }
  cache.length += count;

  LayerNorm(x, count, e, weights_.ln_f_weight, weights_.ln_f_bias,
            c.layer_norm_epsilon, normed);
  observe(ActivationPoint::kLnFOut, c.n_layer, normed);
  const int rows = all_positions ? count : 1;
  const float* final_rows = &normed[static_cast<size_t>(count - rows) * e];
  std::vector<float> logits(static_cast<size_t>(rows) * c.vocab_size);
  MatMulF32(final_rows, rows, e, weights_.wte.data(), c.vocab_size,
            /*b_transposed=*/true, nullptr, logits.data());
  return logits;
}

}  // namespace fxserve::model
