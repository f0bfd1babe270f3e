#include "backends/cpu/cpu_backend.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "backends/cpu/int8_matmul.h"
#include "backends/cpu/int_ops.h"
#include "backends/cpu/thread_pool.h"
#include "backends/kv_block_table.h"

namespace fxserve::backends::cpu {
namespace {

// Formats of NUMERICS.md the backend needs (widths and binary points).
constexpr int kResidBits = 32;           // Q(32, 16) residual, logits, deltas.
constexpr int kGeluBits = 20;            // Q(20, 12) MLP pre-activation.
constexpr int kEmbeddingToResidual = 5;  // Q(16, 11) -> Q(32, 16).
// Tokens per MatMul call (weights are re-read once per group).
constexpr int kTokenGroup = 32;

int64_t SaturateResidual(int64_t value) {
  constexpr int64_t kMax = (int64_t{1} << (kResidBits - 1)) - 1;
  return std::clamp(value, -kMax - 1, kMax);
}

// One quantized linear layer in the CPU's layout.
struct Linear {
  std::optional<PackedWeights> weights;  // Set by MakeLinear.
  std::vector<int32_t> bias;
  std::vector<int8_t> shift;
  std::vector<uint16_t> mult;  // Empty for pow2 scales.
  int out_bits = 8;
};

struct LayerNorm {
  std::vector<int32_t> gamma, beta;
  int out_shift = 0;
};

struct Layer {
  LayerNorm ln_1;
  Linear qkv;
  int score_frac = 0;
  int ctx_shift = 0;
  Linear attn_proj;
  LayerNorm ln_2;
  Linear fc;
  int gelu_shift = 0;
  Linear mlp_proj;
};

absl::StatusOr<Linear> MakeLinear(const model::QuantizedLinear& q, bool fixed,
                                  int out_bits, const std::string& name) {
  auto packed = PackedWeights::Pack(q.weight, q.out, q.in, q.bits);
  if (!packed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": ", packed.status().message()));
  }
  if (static_cast<int>(q.bias.size()) != q.out ||
      static_cast<int>(q.shift.size()) != q.out ||
      (fixed && static_cast<int>(q.mult.size()) != q.out)) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": bias, shift or mult has the wrong length"));
  }
  for (int8_t s : q.shift) {
    if (s < -64 || s > 63) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": shift ", s, " is outside -64..63"));
    }
  }
  Linear linear;
  linear.weights.emplace(*std::move(packed));
  linear.bias = q.bias;
  linear.shift = q.shift;
  if (fixed) linear.mult = q.mult;
  linear.out_bits = out_bits;
  return linear;
}

class CpuBackend final : public Backend {
 public:
  CpuBackend(const model::QuantizedGpt2& model, BackendCapabilities caps,
             Isa isa, int threads)
      : config_(model.config),
        caps_(std::move(caps)),
        isa_(isa),
        pool_(threads),
        table_(caps_.kv_blocks, caps_.kv_block_tokens, caps_.max_context) {}

  absl::Status Load(const model::QuantizedGpt2& q) {
    const model::Gpt2Config& c = config_;
    const bool fixed = q.scales == model::ScaleKind::kFixed;
    if (q.wte.size() != static_cast<size_t>(c.vocab_size) * c.n_embd ||
        q.wpe.size() != static_cast<size_t>(c.n_positions) * c.n_embd ||
        static_cast<int>(q.layers.size()) != c.n_layer) {
      return absl::InvalidArgumentError(
          "the quantized model's tables do not match its config");
    }
    wte_ = q.wte;
    wpe_ = q.wpe;
    auto norm = [&](const model::QuantizedLayerNorm& n) {
      return LayerNorm{n.gamma, n.beta, n.out_shift};
    };
    for (int l = 0; l < c.n_layer; ++l) {
      const model::QuantizedLayer& ql = q.layers[l];
      const std::string h = absl::StrCat("h.", l, ".");
      Layer layer;
      layer.ln_1 = norm(ql.ln_1);
      layer.ln_2 = norm(ql.ln_2);
      layer.score_frac = ql.score_frac;
      layer.ctx_shift = ql.ctx_shift;
      layer.gelu_shift = ql.gelu_shift;
      auto qkv = MakeLinear(ql.qkv, fixed, 8, h + "attn.c_attn");
      if (!qkv.ok()) return qkv.status();
      layer.qkv = *std::move(qkv);
      auto proj =
          MakeLinear(ql.attn_proj, fixed, kResidBits, h + "attn.c_proj");
      if (!proj.ok()) return proj.status();
      layer.attn_proj = *std::move(proj);
      auto fc = MakeLinear(ql.fc, fixed, kGeluBits, h + "mlp.c_fc");
      if (!fc.ok()) return fc.status();
      layer.fc = *std::move(fc);
      auto mlp_proj =
          MakeLinear(ql.mlp_proj, fixed, kResidBits, h + "mlp.c_proj");
      if (!mlp_proj.ok()) return mlp_proj.status();
      layer.mlp_proj = *std::move(mlp_proj);
      for (const LayerNorm* n : {&layer.ln_1, &layer.ln_2}) {
        if (static_cast<int>(n->gamma.size()) != c.n_embd ||
            static_cast<int>(n->beta.size()) != c.n_embd) {
          return absl::InvalidArgumentError(h + "LayerNorm has a wrong size");
        }
      }
      layers_.push_back(std::move(layer));
    }
    ln_f_ = norm(q.ln_f);
    auto head = MakeLinear(q.lm_head, fixed, kResidBits, "lm_head");
    if (!head.ok()) return head.status();
    lm_head_ = *std::move(head);
    block_bytes_ = static_cast<size_t>(c.n_layer) * 2 * c.n_head *
                   caps_.kv_block_tokens * c.head_dim();
    kv_.assign(block_bytes_ * caps_.kv_blocks, 0);
    return absl::OkStatus();
  }

  const BackendCapabilities& capabilities() const override { return caps_; }
  const model::Gpt2Config& config() const override { return config_; }
  int FreeKvBlocks() const override { return table_.free_blocks(); }
  int SequenceLength(SequenceId id) const override { return table_.Length(id); }
  void FreeSequence(SequenceId id) override { table_.Free(id); }

  absl::Status Step(absl::Span<const SequenceInput> inputs,
                    StepOutput& output) override;

 private:
  // One token of the step: which input, and its position.
  struct TokenSlot {
    int input;
    int position;
    int token;
  };

  // Start of the int8 row of (layer, k or v, head, position) of a sequence.
  int8_t* KvRow(const std::vector<int>& blocks, int layer, int kind, int head,
                int position) {
    const model::Gpt2Config& c = config_;
    const int bt = caps_.kv_block_tokens;
    const size_t block = blocks[position / bt];
    const size_t offset =
        ((((static_cast<size_t>(layer) * 2 + kind) * c.n_head + head) * bt) +
         position % bt) *
        c.head_dim();
    return kv_.data() + block * block_bytes_ + offset;
  }

  // y[t][o] = requantize(x[t] W^T + bias) for `tokens` rows of x.
  void RunLinear(const Linear& linear, const int8_t* x, int tokens, int32_t* y);
  void RunLayerNorm(const LayerNorm& norm, const int32_t* h, int tokens,
                    int8_t* out);

  model::Gpt2Config config_;
  BackendCapabilities caps_;
  Isa isa_;
  ThreadPool pool_;
  KvBlockTable table_;
  std::vector<int16_t> wte_, wpe_;
  std::vector<Layer> layers_;
  LayerNorm ln_f_;
  Linear lm_head_;
  size_t block_bytes_ = 0;
  std::vector<int8_t> kv_;
};

void CpuBackend::RunLinear(const Linear& linear, const int8_t* x, int tokens,
                           int32_t* y) {
  const int out = linear.weights->out();
  const int in = linear.weights->in();
  // Row chunks: enough for every thread, each a multiple of 16 rows.
  const int chunks = std::min(out / 16 + 1, pool_.size() * 8);
  const int rows_per_chunk = ((out + chunks - 1) / chunks + 15) / 16 * 16;
  const int used_chunks = (out + rows_per_chunk - 1) / rows_per_chunk;
  std::vector<int32_t> acc(static_cast<size_t>(std::min(tokens, kTokenGroup)) *
                           out);
  for (int t0 = 0; t0 < tokens; t0 += kTokenGroup) {
    const int group = std::min(kTokenGroup, tokens - t0);
    pool_.ParallelFor(used_chunks, [&](int chunk) {
      const int o0 = chunk * rows_per_chunk;
      const int o1 = std::min(out, o0 + rows_per_chunk);
      MatMul(isa_, *linear.weights, x + static_cast<size_t>(t0) * in, group, o0,
             o1, acc.data(), out);
      for (int t = 0; t < group; ++t) {
        const int32_t* a = acc.data() + static_cast<size_t>(t) * out;
        int32_t* row = y + static_cast<size_t>(t0 + t) * out;
        for (int o = o0; o < o1; ++o) {
          int64_t sum = int64_t{a[o]} + linear.bias[o];
          if (!linear.mult.empty()) sum *= linear.mult[o];
          row[o] = RequantizeNarrow(sum, linear.shift[o], linear.out_bits);
        }
      }
    });
  }
}

void CpuBackend::RunLayerNorm(const LayerNorm& norm, const int32_t* h,
                              int tokens, int8_t* out) {
  const int e = config_.n_embd;
  pool_.ParallelFor(tokens, [&](int t) {
    LayerNormToInt8(h + static_cast<size_t>(t) * e, e, norm.gamma.data(),
                    norm.beta.data(), norm.out_shift,
                    out + static_cast<size_t>(t) * e);
  });
}

absl::Status CpuBackend::Step(absl::Span<const SequenceInput> inputs,
                              StepOutput& output) {
  const model::Gpt2Config& c = config_;
  if (absl::Status s = table_.Check(inputs, c.vocab_size, caps_.max_batch);
      !s.ok()) {
    return s;
  }
  table_.Reserve(inputs);
  std::vector<TokenSlot> slots;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const int start = table_.Length(inputs[i].id);
    for (size_t j = 0; j < inputs[i].tokens.size(); ++j) {
      slots.push_back({static_cast<int>(i), start + static_cast<int>(j),
                       inputs[i].tokens[j]});
    }
  }
  std::vector<const std::vector<int>*> blocks(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    blocks[i] = &table_.Blocks(inputs[i].id);
  }
  const int tokens = static_cast<int>(slots.size());
  const int e = c.n_embd, d = c.head_dim(), inner = c.n_inner;
  const size_t te = static_cast<size_t>(tokens) * e;

  // Embedding: Q(16, 11) + Q(16, 11) -> Q(32, 16), exact.
  std::vector<int32_t> h(te);
  for (int t = 0; t < tokens; ++t) {
    const int16_t* tok = &wte_[static_cast<size_t>(slots[t].token) * e];
    const int16_t* pos = &wpe_[static_cast<size_t>(slots[t].position) * e];
    for (int i = 0; i < e; ++i) {
      h[t * e + i] = (int32_t{tok[i]} + pos[i]) * (1 << kEmbeddingToResidual);
    }
  }

  std::vector<int8_t> a(te), ctx(te), g(static_cast<size_t>(tokens) * inner);
  std::vector<int32_t> qkv(3 * te), delta(te),
      fc(static_cast<size_t>(tokens) * inner);
  std::vector<int8_t> qkv8(3 * te);
  for (int l = 0; l < c.n_layer; ++l) {
    const Layer& layer = layers_[l];
    RunLayerNorm(layer.ln_1, h.data(), tokens, a.data());
    RunLinear(layer.qkv, a.data(), tokens, qkv.data());
    for (size_t i = 0; i < qkv.size(); ++i) {
      qkv8[i] = static_cast<int8_t>(qkv[i]);
    }
    // Keys and values of every token of the step go into the cache first;
    // causality comes from each query's length (position + 1).
    for (int t = 0; t < tokens; ++t) {
      const int8_t* row = &qkv8[static_cast<size_t>(t) * 3 * e];
      for (int head = 0; head < c.n_head; ++head) {
        const std::vector<int>& b = *blocks[slots[t].input];
        std::copy_n(row + e + head * d, d,
                    KvRow(b, l, 0, head, slots[t].position));
        std::copy_n(row + 2 * e + head * d, d,
                    KvRow(b, l, 1, head, slots[t].position));
      }
    }
    pool_.ParallelFor(tokens * c.n_head, [&](int job) {
      const int t = job / c.n_head, head = job % c.n_head;
      const int length = slots[t].position + 1;
      const std::vector<int>& b = *blocks[slots[t].input];
      thread_local std::vector<const int8_t*> keys, values;
      keys.resize(length);
      values.resize(length);
      for (int p = 0; p < length; ++p) {
        keys[p] = KvRow(b, l, 0, head, p);
        values[p] = KvRow(b, l, 1, head, p);
      }
      AttentionHeadToInt8(&qkv8[static_cast<size_t>(t) * 3 * e + head * d],
                          keys.data(), values.data(), length, d,
                          layer.score_frac, layer.ctx_shift,
                          &ctx[static_cast<size_t>(t) * e + head * d]);
    });
    RunLinear(layer.attn_proj, ctx.data(), tokens, delta.data());
    for (size_t i = 0; i < te; ++i) {
      h[i] = static_cast<int32_t>(SaturateResidual(int64_t{h[i]} + delta[i]));
    }
    RunLayerNorm(layer.ln_2, h.data(), tokens, a.data());
    RunLinear(layer.fc, a.data(), tokens, fc.data());
    pool_.ParallelFor(tokens, [&](int t) {
      GeluToInt8(&fc[static_cast<size_t>(t) * inner], inner, layer.gelu_shift,
                 &g[static_cast<size_t>(t) * inner]);
    });
    RunLinear(layer.mlp_proj, g.data(), tokens, delta.data());
    for (size_t i = 0; i < te; ++i) {
      h[i] = static_cast<int32_t>(SaturateResidual(int64_t{h[i]} + delta[i]));
    }
  }

  // The rows that need logits: every token of an all_logits input, else
  // its last.
  std::vector<int> rows;
  for (int t = 0; t < tokens; ++t) {
    const bool last = t + 1 == tokens || slots[t + 1].input != slots[t].input;
    if (last || inputs[slots[t].input].all_logits) rows.push_back(t);
  }
  const int r = static_cast<int>(rows.size());
  std::vector<int32_t> picked(static_cast<size_t>(r) * e);
  for (int i = 0; i < r; ++i) {
    std::copy_n(&h[static_cast<size_t>(rows[i]) * e], e, &picked[i * e]);
  }
  std::vector<int8_t> normed(static_cast<size_t>(r) * e);
  RunLayerNorm(ln_f_, picked.data(), r, normed.data());
  const size_t vocab = c.vocab_size;
  std::vector<int32_t> logits(r * vocab);
  RunLinear(lm_head_, normed.data(), r, logits.data());

  output.vocab_size = c.vocab_size;
  output.logits.assign(inputs.size(), {});
  for (int i = 0; i < r; ++i) {
    std::vector<int32_t>& out = output.logits[slots[rows[i]].input];
    out.insert(out.end(), logits.begin() + i * vocab,
               logits.begin() + (i + 1) * vocab);
  }
  for (const SequenceInput& input : inputs) {
    table_.Advance(input.id, static_cast<int>(input.tokens.size()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Backend>> CreateCpuBackend(
    const model::QuantizedGpt2& model, const BackendOptions& options) {
  auto isa = SelectIsa();
  if (!isa.ok()) return isa.status();
  if (options.max_batch < 1 || options.kv_block_tokens < 1 ||
      options.kv_blocks < 0 || options.threads < 0) {
    return absl::InvalidArgumentError(
        "backend options: max_batch and kv_block_tokens must be >= 1, "
        "kv_blocks and threads >= 0");
  }
  const int threads =
      options.threads > 0
          ? options.threads
          : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  BackendCapabilities caps;
  caps.name = "cpu";
  caps.detail = absl::StrCat(IsaName(*isa), ", ", threads, " threads");
  caps.max_batch = options.max_batch;
  caps.max_context = model.config.n_positions;
  caps.kv_block_tokens = options.kv_block_tokens;
  caps.kv_blocks =
      options.kv_blocks > 0
          ? options.kv_blocks
          : options.max_batch * ((caps.max_context + caps.kv_block_tokens - 1) /
                                 caps.kv_block_tokens);
  auto backend =
      std::make_unique<CpuBackend>(model, std::move(caps), *isa, threads);
  if (absl::Status s = backend->Load(model); !s.ok()) return s;
  return backend;
}

}  // namespace fxserve::backends::cpu
