// Gpt2CSim for one kernel build M (shape x weight bits x scale kind):
// loads a QuantizedGpt2 into the tops' arrays and calls the tops. Included
// only by the per-shape instantiation files.
#ifndef FXSERVE_BACKENDS_CSIM_GPT2_CSIM_IMPL_H_
#define FXSERVE_BACKENDS_CSIM_GPT2_CSIM_IMPL_H_

#include <algorithm>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "backends/csim/gpt2_csim.h"
#include "kernels/top/gpt2_model.h"

namespace fxserve::backends::csim {

namespace kgpt2 = kernels::gpt2;

// Checks that every value of `values` lies in [lo, hi].
template <class T>
absl::Status CheckRange(const std::vector<T>& values, size_t size, long long lo,
                        long long hi, const std::string& name) {
  if (values.size() != size) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " has ", values.size(), " values, expected ", size));
  }
  for (size_t i = 0; i < size; ++i) {
    if (values[i] < lo || values[i] > hi) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, "[", i, "] = ", static_cast<long long>(values[i]),
                       " is outside [", lo, ", ", hi, "]"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckScalar(int value, int lo, int hi, const std::string& name);

// Copies a linear layer; rows beyond q.out (LM head padding) are zero.
template <int kIn, int kOut, int kBits>
absl::Status LoadLinear(const model::QuantizedLinear& q, bool fixed_scales,
                        const std::string& name,
                        kgpt2::LinearParams<kIn, kOut, kBits>& p) {
  if (q.in != kIn || q.out > kOut || q.bits != kBits) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, " is ", q.in, " -> ", q.out, " with int", q.bits,
        " weights; this build expects ", kIn, " -> ", kOut, " int", kBits));
  }
  const size_t out = q.out;
  const int wmax = (1 << (kBits - 1)) - 1;
  if (auto s =
          CheckRange(q.weight, out * kIn, -wmax - 1, wmax, name + ".weight");
      !s.ok())
    return s;
  if (auto s = CheckRange(q.bias, out, INT32_MIN, INT32_MAX, name + ".bias");
      !s.ok())
    return s;
  if (auto s = CheckRange(q.shift, out, -64, 63, name + ".shift"); !s.ok())
    return s;
  if (fixed_scales) {
    if (auto s = CheckRange(q.mult, out, 0, 65535, name + ".mult"); !s.ok())
      return s;
  }
  for (int o = 0; o < kOut; ++o) {
    const bool real = o < q.out;
    for (int i = 0; i < kIn; ++i) {
      const int code = real ? q.weight[static_cast<size_t>(o) * kIn + i] : 0;
      if constexpr (kBits == 8) {
        p.w[o][i] = code;
      } else {
        ap_uint<8>& pair = p.w[o / 2][i];
        if (o % 2 == 0) {
          pair.range(3, 0) = ap_uint<4>(code & 0xF);
        } else {
          pair.range(7, 4) = ap_uint<4>(code & 0xF);
        }
      }
    }
    p.bias[o] = real ? q.bias[o] : 0;
    p.shift[o] = real ? q.shift[o] : 0;
    p.mult[o] = real && fixed_scales ? q.mult[o] : 0;
  }
  return absl::OkStatus();
}

template <int kN>
absl::Status LoadLayerNorm(const model::QuantizedLayerNorm& q,
                           const std::string& name,
                           kgpt2::LayerNormParams<kN>& p) {
  constexpr long long kMax = (1LL << 23) - 1;
  if (auto s = CheckRange(q.gamma, kN, -kMax - 1, kMax, name + ".gamma");
      !s.ok())
    return s;
  if (auto s = CheckRange(q.beta, kN, -kMax - 1, kMax, name + ".beta"); !s.ok())
    return s;
  if (auto s = CheckScalar(q.out_shift, -64, 63, name + ".out_shift"); !s.ok())
    return s;
  for (int i = 0; i < kN; ++i) {
    p.gamma[i] = kgpt2::FromRawBits<kgpt2::ln_param_t>(ap_int<24>(q.gamma[i]));
    p.beta[i] = kgpt2::FromRawBits<kgpt2::ln_param_t>(ap_int<24>(q.beta[i]));
  }
  p.out_shift = q.out_shift;
  return absl::OkStatus();
}

template <class M>
class Gpt2CSimImpl final : public Gpt2CSim {
 public:
  static absl::StatusOr<std::unique_ptr<Gpt2CSim>> Create(
      const model::QuantizedGpt2& q) {
    auto sim = std::unique_ptr<Gpt2CSimImpl>(new Gpt2CSimImpl(q.config));
    if (absl::Status s = sim->Load(q); !s.ok()) return s;
    return std::unique_ptr<Gpt2CSim>(std::move(sim));
  }

  std::unique_ptr<Sequence> NewSequence() const override {
    return std::make_unique<SequenceImpl>();
  }

 private:
  struct SequenceImpl : Sequence {
    std::unique_ptr<kgpt2::KvCache<M>> cache =
        std::make_unique<kgpt2::KvCache<M>>();
  };

  explicit Gpt2CSimImpl(const model::Gpt2Config& config)
      : Gpt2CSim(config), params_(std::make_unique<kgpt2::ModelParams<M>>()) {}

  absl::Status Load(const model::QuantizedGpt2& q) {
    const bool fixed = q.scales == model::ScaleKind::kFixed;
    kgpt2::ModelParams<M>& p = *params_;
    constexpr int kC = M::kEmbd;
    if (auto s =
            CheckRange(q.wte, size_t{M::kVocab} * kC, -32768, 32767, "wte");
        !s.ok())
      return s;
    if (auto s =
            CheckRange(q.wpe, size_t{M::kPositions} * kC, -32768, 32767, "wpe");
        !s.ok())
      return s;
    for (int v = 0; v < M::kVocab; ++v) {
      for (int i = 0; i < kC; ++i) {
        p.wte[v][i] = kgpt2::FromRawBits<kgpt2::emb_t>(
            ap_int<16>(q.wte[static_cast<size_t>(v) * kC + i]));
      }
    }
    for (int t = 0; t < M::kPositions; ++t) {
      for (int i = 0; i < kC; ++i) {
        p.wpe[t][i] = kgpt2::FromRawBits<kgpt2::emb_t>(
            ap_int<16>(q.wpe[static_cast<size_t>(t) * kC + i]));
      }
    }
    if (static_cast<int>(q.layers.size()) != M::kLayers) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the model has ", q.layers.size(), " layers, expected ", M::kLayers));
    }
    for (int l = 0; l < M::kLayers; ++l) {
      const model::QuantizedLayer& ql = q.layers[l];
      kgpt2::LayerParams<M>& pl = p.layers[l];
      const std::string h = absl::StrCat("h.", l, ".");
      absl::Status s = LoadLayerNorm(ql.ln_1, h + "ln_1", pl.ln_1);
      if (s.ok()) s = LoadLinear(ql.qkv, fixed, h + "attn.c_attn", pl.qkv);
      if (s.ok()) {
        s = CheckScalar(ql.score_frac, 0, kernels::kMaxScoreFrac,
                        h + "attn.score_frac");
      }
      if (s.ok()) s = CheckScalar(ql.ctx_shift, -64, 63, h + "attn.ctx_shift");
      if (s.ok()) {
        s = LoadLinear(ql.attn_proj, fixed, h + "attn.c_proj", pl.attn_proj);
      }
      if (s.ok()) s = LoadLayerNorm(ql.ln_2, h + "ln_2", pl.ln_2);
      if (s.ok()) s = LoadLinear(ql.fc, fixed, h + "mlp.c_fc", pl.fc);
      if (s.ok()) s = CheckScalar(ql.gelu_shift, -64, 63, h + "mlp.gelu_shift");
      if (s.ok()) {
        s = LoadLinear(ql.mlp_proj, fixed, h + "mlp.c_proj", pl.mlp_proj);
      }
      if (!s.ok()) return s;
      pl.score_frac = ql.score_frac;
      pl.ctx_shift = ql.ctx_shift;
      pl.gelu_shift = ql.gelu_shift;
    }
    if (auto s = LoadLayerNorm(q.ln_f, "ln_f", p.ln_f); !s.ok()) return s;
    if (q.lm_head.out != M::kVocab) {
      return absl::InvalidArgumentError(absl::StrCat(
          "lm_head has ", q.lm_head.out, " outputs, expected ", M::kVocab));
    }
    return LoadLinear(q.lm_head, fixed, "lm_head", p.lm_head);
  }

  void RunTops(Sequence& sequence, const int* tokens, int n,
               int32_t* logits) const override {
    auto& seq = static_cast<SequenceImpl&>(sequence);
    const int start = sequence.length();
    auto out = std::make_unique<kgpt2::logit_raw_t[][M::kVocabPadded]>(
        kgpt2::kPrefillTokens);
    if (n == 1) {
      kgpt2::Gpt2Decode<M>(params_.get(), seq.cache.get(), tokens[0], start,
                           out.get());
    } else {
      int chunk[kgpt2::kPrefillTokens] = {};
      std::copy(tokens, tokens + n, chunk);
      kgpt2::Gpt2Prefill<M>(params_.get(), seq.cache.get(), chunk, start, n,
                            out.get());
    }
    for (int t = 0; t < n; ++t) {
      for (int v = 0; v < M::kVocab; ++v) {
        logits[static_cast<size_t>(t) * M::kVocab + v] = out[t][v].to_int();
      }
    }
  }

  std::unique_ptr<kgpt2::ModelParams<M>> params_;
};

// Matches the model against Shape's three builds per weight width.
template <class Shape>
bool ShapeMatches(const model::Gpt2Config& c) {
  return c.vocab_size == Shape::kVocab && c.n_positions == Shape::kPositions &&
         c.n_embd == Shape::kEmbd && c.n_layer == Shape::kLayers &&
         c.n_head == Shape::kHeads && c.n_inner == Shape::kInner;
}

template <class Shape>
absl::StatusOr<std::unique_ptr<Gpt2CSim>> CreateForShape(
    const model::QuantizedGpt2& q) {
  using kernels::ScaleMode;
  const bool fixed = q.scales == model::ScaleKind::kFixed;
  if (q.weight_bits == 8) {
    if (fixed) {
      return Gpt2CSimImpl<
          kgpt2::Gpt2Config<Shape, 8, ScaleMode::kFixed>>::Create(q);
    }
    return Gpt2CSimImpl<kgpt2::Gpt2Config<Shape, 8, ScaleMode::kPow2>>::Create(
        q);
  }
  if (q.weight_bits == 4) {
    if (fixed) {
      return Gpt2CSimImpl<
          kgpt2::Gpt2Config<Shape, 4, ScaleMode::kFixed>>::Create(q);
    }
    return Gpt2CSimImpl<kgpt2::Gpt2Config<Shape, 4, ScaleMode::kPow2>>::Create(
        q);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "weight_bits is ", q.weight_bits, "; builds exist for 8 and 4"));
}

}  // namespace fxserve::backends::csim

#endif  // FXSERVE_BACKENDS_CSIM_GPT2_CSIM_IMPL_H_
