#include "backends/fpga/gpt2_device_image.h"

#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace fxserve::backends::fpga {
namespace {

constexpr int kVocabAlign = 64;  // kernels/top/gpt2_numerics.h.

// Named shapes the kernels are built for (kernels/top/gpt2_numerics.h).
struct NamedShape {
  const char* name;
  int vocab, positions, embd, layers, heads, inner;
};
constexpr NamedShape kShapes[] = {
    {"tiny", 50257, 256, 128, 4, 4, 512},
    {"small", 50257, 1024, 768, 12, 12, 3072},
};

void PutInt32(std::vector<uint8_t>& buf, uint64_t at, int32_t value) {
  const uint32_t u = static_cast<uint32_t>(value);
  for (int b = 0; b < 4; ++b) buf[at + b] = static_cast<uint8_t>(u >> (8 * b));
}

void PutInt16(std::vector<uint8_t>& buf, uint64_t at, int32_t value) {
  const uint32_t u = static_cast<uint32_t>(value);
  buf[at] = static_cast<uint8_t>(u);
  buf[at + 1] = static_cast<uint8_t>(u >> 8);
}

absl::Status OutOfRange(const std::string& name, size_t index, long long value,
                        long long lo, long long hi) {
  return absl::InvalidArgumentError(
      absl::StrCat(name, "[", index, "] = ", value, " is outside [", lo, ", ",
                   hi, "], the range the FPGA kernels store"));
}

absl::Status CheckScalar(const std::string& name, int value, int lo, int hi) {
  if (value < lo || value > hi) return OutOfRange(name, 0, value, lo, hi);
  return absl::OkStatus();
}

// Writes a linear; rows beyond q.out (the LM head's padding) stay zero.
absl::Status PackLinear(const model::QuantizedLinear& q, int in, int out,
                        int bits, bool fixed, const device::LinearLayout& l,
                        const std::string& name, std::vector<uint8_t>& buf) {
  if (q.in != in || q.out > out || q.bits != bits ||
      q.weight.size() != size_t(q.in) * q.out ||
      q.bias.size() != size_t(q.out) || q.shift.size() != size_t(q.out) ||
      (fixed && q.mult.size() != size_t(q.out))) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " is ", q.in, " -> ", q.out, " int", q.bits,
                     " (or its arrays have other lengths); the build expects ",
                     in, " -> ", out, " int", bits));
  }
  const int wmax = (1 << (bits - 1)) - 1;
  for (int o = 0; o < q.out; ++o) {
    for (int i = 0; i < in; ++i) {
      const size_t k = size_t(o) * in + i;
      const int code = q.weight[k];
      if (code < -wmax - 1 || code > wmax) {
        return OutOfRange(name + ".weight", k, code, -wmax - 1, wmax);
      }
      if (bits == 8) {
        buf[l.weights + k] = static_cast<uint8_t>(code);
      } else {
        uint8_t& pair = buf[l.weights + size_t(o / 2) * in + i];
        pair |= static_cast<uint8_t>((code & 0xF) << (o % 2 == 0 ? 0 : 4));
      }
    }
    if (q.shift[o] < -64 || q.shift[o] > 63) {
      return OutOfRange(name + ".shift", o, q.shift[o], -64, 63);
    }
    PutInt32(buf, l.bias + 4ull * o, q.bias[o]);
    buf[l.shift + o] = static_cast<uint8_t>(q.shift[o]);
    PutInt16(buf, l.mult + 2ull * o, fixed ? q.mult[o] : 0);
  }
  return absl::OkStatus();
}

absl::Status PackLayerNorm(const model::QuantizedLayerNorm& q, int n,
                           const device::LayerNormLayout& l,
                           const std::string& name, std::vector<uint8_t>& buf) {
  if (q.gamma.size() != size_t(n) || q.beta.size() != size_t(n)) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " has ", q.gamma.size(), " gammas and ",
                     q.beta.size(), " betas, expected ", n));
  }
  constexpr int kMax = (1 << 23) - 1;
  for (int i = 0; i < n; ++i) {
    if (q.gamma[i] < -kMax - 1 || q.gamma[i] > kMax) {
      return OutOfRange(name + ".gamma", i, q.gamma[i], -kMax - 1, kMax);
    }
    if (q.beta[i] < -kMax - 1 || q.beta[i] > kMax) {
      return OutOfRange(name + ".beta", i, q.beta[i], -kMax - 1, kMax);
    }
    PutInt32(buf, l.gamma + 4ull * i, q.gamma[i]);
    PutInt32(buf, l.beta + 4ull * i, q.beta[i]);
  }
  if (absl::Status s = CheckScalar(name + ".out_shift", q.out_shift, -64, 63);
      !s.ok()) {
    return s;
  }
  PutInt32(buf, l.out_shift, q.out_shift);
  return absl::OkStatus();
}

absl::Status PackLayer(const model::QuantizedLayer& q, const device::Dims& d,
                       bool fixed, int layer, Gpt2DeviceImage& image) {
  const device::AttnLayerLayout a = device::LayOutAttnLayer(d);
  const device::MlpLayerLayout m = device::LayOutMlpLayer(d);
  const std::string h = absl::StrCat("h.", layer, ".");
  std::vector<uint8_t> attn(a.bytes, 0), mlp(m.bytes, 0);
  const int bits = d.weight_bits;
  absl::Status s = PackLayerNorm(q.ln_1, d.embd, a.ln_1, h + "ln_1", attn);
  if (s.ok()) {
    s = PackLinear(q.qkv, d.embd, 3 * d.embd, bits, fixed, a.qkv,
                   h + "attn.c_attn", attn);
  }
  if (s.ok()) {
    s = PackLinear(q.attn_proj, d.embd, d.embd, bits, fixed, a.attn_proj,
                   h + "attn.c_proj", attn);
  }
  if (s.ok()) s = CheckScalar(h + "attn.score_frac", q.score_frac, 0, 31);
  if (s.ok()) s = CheckScalar(h + "attn.ctx_shift", q.ctx_shift, -64, 63);
  if (s.ok()) s = PackLayerNorm(q.ln_2, d.embd, m.ln_2, h + "ln_2", mlp);
  if (s.ok()) {
    s = PackLinear(q.fc, d.embd, d.inner, bits, fixed, m.fc, h + "mlp.c_fc",
                   mlp);
  }
  if (s.ok()) {
    s = PackLinear(q.mlp_proj, d.inner, d.embd, bits, fixed, m.mlp_proj,
                   h + "mlp.c_proj", mlp);
  }
  if (s.ok()) s = CheckScalar(h + "mlp.gelu_shift", q.gelu_shift, -64, 63);
  if (!s.ok()) return s;
  PutInt32(attn, a.scalars, q.score_frac);
  PutInt32(attn, a.scalars + 4, q.ctx_shift);
  PutInt32(mlp, m.scalars, q.gelu_shift);
  image.attn.insert(image.attn.end(), attn.begin(), attn.end());
  image.mlp.insert(image.mlp.end(), mlp.begin(), mlp.end());
  return absl::OkStatus();
}

absl::Status PackEmbeddings(const model::QuantizedGpt2& q,
                            Gpt2DeviceImage& image) {
  const device::Dims& d = image.dims;
  const device::EmbLayout l = device::LayOutEmb(d);
  if (q.wte.size() != size_t(d.vocab) * d.embd ||
      q.wpe.size() != size_t(d.positions) * d.embd) {
    return absl::InvalidArgumentError(
        "wte or wpe does not match the model's config");
  }
  image.emb.assign(l.bytes, 0);
  for (size_t i = 0; i < q.wte.size(); ++i) {
    PutInt16(image.emb, l.wte + 2 * i, q.wte[i]);
  }
  for (size_t i = 0; i < q.wpe.size(); ++i) {
    PutInt16(image.emb, l.wpe + 2 * i, q.wpe[i]);
  }
  return absl::OkStatus();
}

}  // namespace

device::Dims DimsOfModel(const model::QuantizedGpt2& model) {
  const model::Gpt2Config& c = model.config;
  device::Dims d;
  d.vocab = c.vocab_size;
  d.vocab_padded = (c.vocab_size + kVocabAlign - 1) / kVocabAlign * kVocabAlign;
  d.positions = c.n_positions;
  d.embd = c.n_embd;
  d.layers = c.n_layer;
  d.heads = c.n_head;
  d.inner = c.n_inner;
  d.weight_bits = model.weight_bits;
  return d;
}

absl::StatusOr<std::string> Gpt2BuildName(const model::QuantizedGpt2& model) {
  const model::Gpt2Config& c = model.config;
  std::string known;
  for (const NamedShape& s : kShapes) {
    if (c.vocab_size == s.vocab && c.n_positions == s.positions &&
        c.n_embd == s.embd && c.n_layer == s.layers && c.n_head == s.heads &&
        c.n_inner == s.inner) {
      if (model.weight_bits != 8 && model.weight_bits != 4) break;
      return absl::StrCat("gpt2-", s.name, "-w", model.weight_bits, "a8-",
                          model::ScaleKindName(model.scales));
    }
    absl::StrAppend(&known, known.empty() ? "" : ", ", s.name, " (", s.layers,
                    " layers, n_embd ", s.embd, ", context ", s.positions, ")");
  }
  return absl::NotFoundError(absl::StrCat(
      "no FPGA kernel build exists for this model (", c.n_layer,
      " layers, n_embd ", c.n_embd, ", n_head ", c.n_head, ", n_inner ",
      c.n_inner, ", context ", c.n_positions, ", int", model.weight_bits,
      " weights); builds exist for GPT-2 shapes ", known,
      " with int8 or int4 weights"));
}

absl::StatusOr<Gpt2DeviceImage> PackGpt2DeviceImage(
    const model::QuantizedGpt2& model) {
  Gpt2DeviceImage image;
  image.dims = DimsOfModel(model);
  const device::Dims& d = image.dims;
  const bool fixed = model.scales == model::ScaleKind::kFixed;
  if (static_cast<int>(model.layers.size()) != d.layers) {
    return absl::InvalidArgumentError(
        absl::StrCat("the model has ", model.layers.size(),
                     " layers, its config ", d.layers));
  }
  if (absl::Status s = PackEmbeddings(model, image); !s.ok()) return s;
  for (int l = 0; l < d.layers; ++l) {
    if (absl::Status s = PackLayer(model.layers[l], d, fixed, l, image);
        !s.ok()) {
      return s;
    }
  }
  const device::HeadLayout h = device::LayOutHead(d);
  image.head.assign(h.bytes, 0);
  if (absl::Status s =
          PackLayerNorm(model.ln_f, d.embd, h.ln_f, "ln_f", image.head);
      !s.ok()) {
    return s;
  }
  if (model.lm_head.out != d.vocab) {
    return absl::InvalidArgumentError(
        absl::StrCat("lm_head has ", model.lm_head.out,
                     " outputs, the vocabulary ", d.vocab));
  }
  if (absl::Status s = PackLinear(model.lm_head, d.embd, d.vocab_padded, 8,
                                  fixed, h.lm_head, "lm_head", image.head);
      !s.ok()) {
    return s;
  }
  return image;
}

}  // namespace fxserve::backends::fpga
