#include "tools/quantize/gpt2_quantizer.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "kernels/attention/attention_head.h"
#include "kernels/top/gpt2_numerics.h"
#include "model/gpt2_reference.h"
#include "tools/quantize/scales.h"

namespace fxserve::quantize {
namespace {

namespace kgpt2 = kernels::gpt2;
// Fraction bits the calibration considers for an int8 activation.
constexpr int kMinFrac = -8, kMaxFrac = 24;
using model::ActivationPoint;
using model::QuantizedLinear;
using model::ScaleKind;

std::vector<int32_t> ToLnParam(const std::vector<float>& values) {
  constexpr int kFrac = kgpt2::ln_param_t::width - kgpt2::ln_param_t::iwidth;
  constexpr long long kMax = (1LL << (kgpt2::ln_param_t::width - 1)) - 1;
  std::vector<int32_t> raw(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    raw[i] = static_cast<int32_t>(
        Clamp(Rne(std::ldexp(values[i], kFrac)), -kMax - 1, kMax));
  }
  return raw;
}

std::vector<int16_t> ToEmbedding(const std::vector<float>& values) {
  constexpr int kFrac = kgpt2::emb_t::width - kgpt2::emb_t::iwidth;
  std::vector<int16_t> raw(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    raw[i] = static_cast<int16_t>(
        Clamp(Rne(std::ldexp(values[i], kFrac)), -32768, 32767));
  }
  return raw;
}

model::QuantizedLayerNorm QuantizeLayerNorm(const std::vector<float>& gamma,
                                            const std::vector<float>& beta,
                                            int out_frac) {
  return {ToLnParam(gamma), ToLnParam(beta), kgpt2::kLnOutFrac - out_frac};
}

// Calibration: a reservoir per int8 activation tensor.
struct Calibration {
  std::map<std::string, Reservoir> tensors;

  int Frac(const std::string& name) const {
    auto it = tensors.find(name);
    return it == tensors.end()
               ? 0
               : BestFraction(it->second.values(), 8, kMinFrac, kMaxFrac);
  }
};

void Observe(const model::Gpt2Config& c, ActivationPoint point, int layer,
             absl::Span<const float> values, Calibration& calibration) {
  const std::string h = absl::StrCat("h.", layer, ".");
  auto add_all = [&](const std::string& name) {
    Reservoir& r = calibration.tensors[name];
    for (float v : values) r.Add(v);
  };
  switch (point) {
    case ActivationPoint::kLn1Out:
      return add_all(h + "ln_1");
    case ActivationPoint::kLn2Out:
      return add_all(h + "ln_2");
    case ActivationPoint::kAttnOut:
      return add_all(h + "attn.ctx");
    case ActivationPoint::kGeluOut:
      return add_all(h + "mlp.gelu");
    case ActivationPoint::kLnFOut:
      return add_all("ln_f");
    case ActivationPoint::kQkv: {
      const int e = c.n_embd;
      const float q_scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim()));
      Reservoir& q = calibration.tensors[h + "attn.q"];
      Reservoir& k = calibration.tensors[h + "attn.k"];
      Reservoir& v = calibration.tensors[h + "attn.v"];
      for (size_t i = 0; i < values.size(); ++i) {
        const int col = static_cast<int>(i % (3 * e));
        if (col < e) {
          q.Add(values[i] * q_scale);
        } else if (col < 2 * e) {
          k.Add(values[i]);
        } else {
          v.Add(values[i]);
        }
      }
      return;
    }
    case ActivationPoint::kFcOut:
    case ActivationPoint::kResidual:
      return;  // Fixed formats: nothing to calibrate.
  }
}

}  // namespace

absl::StatusOr<model::QuantizedGpt2> QuantizeGpt2(
    const model::Gpt2Weights& weights, absl::Span<const int> calibration_tokens,
    const QuantizeOptions& options) {
  const model::Gpt2Config& c = weights.config;
  auto progress = [&](const std::string& line) {
    if (options.progress) options.progress(line);
  };
  if (options.weight_bits != 8 && options.weight_bits != 4) {
    return absl::InvalidArgumentError(
        absl::StrCat("weight bits must be 8 or 4, got ", options.weight_bits));
  }
  if (std::abs(c.layer_norm_epsilon - kgpt2::kLayerNormEpsilon) > 1e-12) {
    return absl::InvalidArgumentError(
        absl::StrCat("layer_norm_epsilon is ", c.layer_norm_epsilon,
                     "; the LayerNorm hardware is built for 1e-05"));
  }
  if (c.gelu != model::GeluKind::kTanh) {
    return absl::InvalidArgumentError(
        "the model uses erf GELU; the GELU unit computes GPT-2's tanh form "
        "(gelu_new)");
  }
  const int total =
      std::min<int>(calibration_tokens.size(), options.max_calibration_tokens);
  if (total < 2) {
    return absl::InvalidArgumentError(
        "the calibration text must have at least 2 tokens");
  }

  // 1. Calibration: the float model over windows of the full context.
  Calibration calibration;
  {
    model::Gpt2Reference reference(weights);
    const model::ActivationObserver observer =
        [&](ActivationPoint point, int layer, absl::Span<const float> values) {
          Observe(c, point, layer, values, calibration);
        };
    const int windows = (total + c.n_positions - 1) / c.n_positions;
    const int report_every = std::max(1, windows / 10);
    for (int w = 0; w < windows; ++w) {
      const int begin = w * c.n_positions;
      const int n = std::min(c.n_positions, total - begin);
      auto cache = reference.NewCache();
      auto logits = reference.Forward(
          cache, calibration_tokens.subspan(begin, n), false, &observer);
      if (!logits.ok()) return logits.status();
      if ((w + 1) % report_every == 0 || w + 1 == windows) {
        progress(absl::StrCat("calibrating: ", begin + n, "/", total,
                              " tokens through the float model"));
      }
    }
  }

  // 2. Binary points of the int8 activations.
  model::QuantizedGpt2 q;
  q.config = c;
  q.weight_bits = options.weight_bits;
  q.scales = options.scales;
  for (const auto& [name, reservoir] : calibration.tensors) {
    q.activation_frac[name] =
        BestFraction(reservoir.values(), 8, kMinFrac, kMaxFrac);
  }
  // q . k * 2^-(Fq + Fk) is the score: keep the sum in the attention
  // unit's range by giving up resolution on the finer of the two.
  for (int l = 0; l < c.n_layer; ++l) {
    const std::string h = absl::StrCat("h.", l, ".");
    int& fq = q.activation_frac[h + "attn.q"];
    int& fk = q.activation_frac[h + "attn.k"];
    while (fq + fk > kernels::kMaxScoreFrac) --(fq > fk ? fq : fk);
    while (fq + fk < 0) ++(fq < fk ? fq : fk);
  }
  progress("calibrated the binary points of " +
           std::to_string(q.activation_frac.size()) + " activation tensors");

  // 3. Weights, biases and registers.
  const int e = c.n_embd;
  const std::vector<double> ones_e(e, 1.0), ones_inner(c.n_inner, 1.0);
  q.wte = ToEmbedding(weights.wte);
  q.wpe = ToEmbedding(weights.wpe);
  for (int l = 0; l < c.n_layer; ++l) {
    const model::Gpt2LayerWeights& w = weights.layers[l];
    const std::string h = absl::StrCat("h.", l, ".");
    auto frac = [&](const std::string& name) {
      return q.activation_frac.at(h + name);
    };
    model::QuantizedLayer ql;
    const int f_ln1 = frac("ln_1"), f_q = frac("attn.q"), f_k = frac("attn.k"),
              f_v = frac("attn.v"), f_ctx = frac("attn.ctx"),
              f_ln2 = frac("ln_2"), f_gelu = frac("mlp.gelu");
    ql.ln_1 = QuantizeLayerNorm(w.ln_1_weight, w.ln_1_bias, f_ln1);
    std::vector<int> qkv_frac(3 * e);
    std::vector<double> qkv_scale(3 * e, 1.0);
    for (int o = 0; o < 3 * e; ++o) {
      qkv_frac[o] = o < e ? f_q : o < 2 * e ? f_k : f_v;
      if (o < e) qkv_scale[o] = 1.0 / std::sqrt(double{1.0} * c.head_dim());
    }
    auto qkv = QuantizeLinear(
        h + "attn.c_attn", w.attn_qkv_weight, &w.attn_qkv_bias, e, 3 * e, false,
        options.weight_bits, options.scales, f_ln1, qkv_frac, qkv_scale);
    if (!qkv.ok()) return qkv.status();
    ql.qkv = *std::move(qkv);
    ql.score_frac = f_q + f_k;
    ql.ctx_shift = kgpt2::kCtxFrac + f_v - f_ctx;
    auto proj =
        QuantizeLinear(h + "attn.c_proj", w.attn_proj_weight, &w.attn_proj_bias,
                       e, e, false, options.weight_bits, options.scales, f_ctx,
                       std::vector<int>(e, kgpt2::kResidFrac), ones_e);
    if (!proj.ok()) return proj.status();
    ql.attn_proj = *std::move(proj);
    ql.ln_2 = QuantizeLayerNorm(w.ln_2_weight, w.ln_2_bias, f_ln2);
    auto fc = QuantizeLinear(
        h + "mlp.c_fc", w.mlp_fc_weight, &w.mlp_fc_bias, e, c.n_inner, false,
        options.weight_bits, options.scales, f_ln2,
        std::vector<int>(c.n_inner, kgpt2::kGeluFrac), ones_inner);
    if (!fc.ok()) return fc.status();
    ql.fc = *std::move(fc);
    ql.gelu_shift = kgpt2::kGeluFrac - f_gelu;
    auto mlp_proj =
        QuantizeLinear(h + "mlp.c_proj", w.mlp_proj_weight, &w.mlp_proj_bias,
                       c.n_inner, e, false, options.weight_bits, options.scales,
                       f_gelu, std::vector<int>(e, kgpt2::kResidFrac), ones_e);
    if (!mlp_proj.ok()) return mlp_proj.status();
    ql.mlp_proj = *std::move(mlp_proj);
    q.layers.push_back(std::move(ql));
    progress(absl::StrCat("quantized layer ", l + 1, "/", c.n_layer));
  }
  const int f_lnf = q.activation_frac.at("ln_f");
  q.ln_f = QuantizeLayerNorm(weights.ln_f_weight, weights.ln_f_bias, f_lnf);
  auto head = QuantizeLinear("lm_head", weights.wte, nullptr, e, c.vocab_size,
                             /*out_major=*/true, 8, options.scales, f_lnf,
                             std::vector<int>(c.vocab_size, kgpt2::kLogitFrac),
                             std::vector<double>(c.vocab_size, 1.0));
  if (!head.ok()) return head.status();
  q.lm_head = *std::move(head);
  progress("quantized the LM head");
  return q;
}

}  // namespace fxserve::quantize
