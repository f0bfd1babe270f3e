// The quantizer's choices and the model artifact: round trips, and clear
// errors for corrupt, foreign or outdated files.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "model/checksum.h"
#include "model/gpt2_weights.h"
#include "model/quantized_artifact.h"
#include "model/safetensors.h"
#include "model/safetensors_writer.h"
#include "tests/model/test_checkpoint.h"
#include "tools/quantize/gpt2_quantizer.h"

namespace fxserve::quantize {
namespace {

using model::QuantizedGpt2;
using model::ScaleKind;

const model::testing::TinyShape kShape;  // vocab 97, 16 positions, d 16.

model::Gpt2Weights Weights() {
  static const std::string dir = model::testing::WriteModelDir(
      kShape, model::testing::RandomGpt2(kShape, 11));
  auto weights = model::LoadGpt2(dir);
  EXPECT_TRUE(weights.ok()) << weights.status();
  return *std::move(weights);
}

std::vector<int> Tokens(int n) {
  std::mt19937 rng(3);
  std::vector<int> tokens(n);
  for (int& t : tokens) t = static_cast<int>(rng() % kShape.vocab);
  return tokens;
}

QuantizedGpt2 Quantize(int bits, ScaleKind scales) {
  QuantizeOptions options;
  options.weight_bits = bits;
  options.scales = scales;
  auto q = QuantizeGpt2(Weights(), Tokens(40), options);
  EXPECT_TRUE(q.ok()) << q.status();
  return *std::move(q);
}

std::string TempDir() {
  char pattern[] = "/tmp/fxserve_artifact_XXXXXX";
  return mkdtemp(pattern);
}

void ExpectSameLinear(const model::QuantizedLinear& a,
                      const model::QuantizedLinear& b) {
  EXPECT_EQ(a.in, b.in);
  EXPECT_EQ(a.out, b.out);
  EXPECT_EQ(a.bits, b.bits);
  EXPECT_EQ(a.weight, b.weight);
  EXPECT_EQ(a.bias, b.bias);
  EXPECT_EQ(a.shift, b.shift);
  EXPECT_EQ(a.mult, b.mult);
}

void ExpectSameLayerNorm(const model::QuantizedLayerNorm& a,
                         const model::QuantizedLayerNorm& b) {
  EXPECT_EQ(a.gamma, b.gamma);
  EXPECT_EQ(a.beta, b.beta);
  EXPECT_EQ(a.out_shift, b.out_shift);
}

void ExpectSame(const QuantizedGpt2& a, const QuantizedGpt2& b) {
  EXPECT_EQ(a.config.vocab_size, b.config.vocab_size);
  EXPECT_EQ(a.config.n_positions, b.config.n_positions);
  EXPECT_EQ(a.config.n_embd, b.config.n_embd);
  EXPECT_EQ(a.config.n_layer, b.config.n_layer);
  EXPECT_EQ(a.config.n_head, b.config.n_head);
  EXPECT_EQ(a.config.n_inner, b.config.n_inner);
  EXPECT_EQ(a.weight_bits, b.weight_bits);
  EXPECT_EQ(a.scales, b.scales);
  EXPECT_EQ(a.wte, b.wte);
  EXPECT_EQ(a.wpe, b.wpe);
  ASSERT_EQ(a.layers.size(), b.layers.size());
  for (size_t l = 0; l < a.layers.size(); ++l) {
    ExpectSameLayerNorm(a.layers[l].ln_1, b.layers[l].ln_1);
    ExpectSameLinear(a.layers[l].qkv, b.layers[l].qkv);
    EXPECT_EQ(a.layers[l].score_frac, b.layers[l].score_frac);
    EXPECT_EQ(a.layers[l].ctx_shift, b.layers[l].ctx_shift);
    ExpectSameLinear(a.layers[l].attn_proj, b.layers[l].attn_proj);
    ExpectSameLayerNorm(a.layers[l].ln_2, b.layers[l].ln_2);
    ExpectSameLinear(a.layers[l].fc, b.layers[l].fc);
    EXPECT_EQ(a.layers[l].gelu_shift, b.layers[l].gelu_shift);
    ExpectSameLinear(a.layers[l].mlp_proj, b.layers[l].mlp_proj);
  }
  ExpectSameLayerNorm(a.ln_f, b.ln_f);
  ExpectSameLinear(a.lm_head, b.lm_head);
  EXPECT_EQ(a.activation_frac, b.activation_frac);
}

std::vector<uint8_t> ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void WriteBytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

TEST(Quantizer, WeightsFollowTheFloatModelPerChannel) {
  const model::Gpt2Weights w = Weights();
  for (ScaleKind scales : {ScaleKind::kPow2, ScaleKind::kFixed}) {
    for (int bits : {8, 4}) {
      const QuantizedGpt2 q = Quantize(bits, scales);
      const model::QuantizedLinear& fc = q.layers[1].fc;
      const int e = kShape.embd, inner = 4 * kShape.embd;
      ASSERT_EQ(fc.weight.size(), static_cast<size_t>(e) * inner);
      // Each channel's codes use the range: the largest |code| is near the
      // top (clipping candidates allowed) and within the type.
      const int qmax = (1 << (bits - 1)) - 1;
      for (int o = 0; o < inner; ++o) {
        int largest = 0;
        for (int i = 0; i < e; ++i) {
          const int code = fc.weight[static_cast<size_t>(o) * e + i];
          ASSERT_GE(code, -qmax - 1);
          ASSERT_LE(code, qmax);
          largest = std::max(largest, std::abs(code));
        }
        EXPECT_GE(largest, qmax / 2) << "channel " << o << " wastes range";
      }
      // The shift register matches the calibrated binary points: in pow2
      // mode shift = F(in) + e - F(out), so 2^-(shift - F(in) + F(out)) is
      // the channel's scale; it must be near max|w| / qmax.
      if (scales == ScaleKind::kPow2) {
        const int f_in = q.activation_frac.at("h.1.ln_2");
        for (int o = 0; o < inner; ++o) {
          const double scale = std::ldexp(1.0, -(fc.shift[o] - f_in + 12));
          double max_abs = 0;
          for (int i = 0; i < e; ++i) {
            max_abs = std::max<double>(
                max_abs, std::abs(w.layers[1].mlp_fc_weight[i * inner + o]));
          }
          EXPECT_LE(scale, 2 * max_abs / qmax + 1e-12);
          EXPECT_GE(scale, max_abs / qmax / 4);
        }
      } else {
        for (uint16_t m : fc.mult) EXPECT_GE(m, 32768);
      }
      for (const model::QuantizedLayer& layer : q.layers) {
        EXPECT_GE(layer.score_frac, 0);
        EXPECT_LE(layer.score_frac, 31);
      }
    }
  }
}

TEST(Quantizer, CalibratedBinaryPointFitsTheActivations) {
  const QuantizedGpt2 q = Quantize(8, ScaleKind::kPow2);
  // 29 int8 tensors for 2 layers: 7 per layer + ln_f.
  EXPECT_EQ(q.activation_frac.size(), 2u * 7 + 1);
  // LayerNorm outputs of a random model are O(1): F near 4..6 (int8 holds
  // +-128 / 2^F), never a degenerate extreme.
  for (const char* name : {"h.0.ln_1", "h.1.ln_2", "ln_f"}) {
    const int f = q.activation_frac.at(name);
    EXPECT_GE(f, 2) << name;
    EXPECT_LE(f, 8) << name;
  }
}

TEST(Quantizer, RejectsWhatTheHardwareCannotRun) {
  model::Gpt2Weights w = Weights();
  QuantizeOptions options;
  options.weight_bits = 3;
  EXPECT_EQ(QuantizeGpt2(w, Tokens(8), options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.weight_bits = 8;
  EXPECT_FALSE(QuantizeGpt2(w, Tokens(1), options).ok());
  w.config.layer_norm_epsilon = 1e-6f;
  auto eps = QuantizeGpt2(w, Tokens(8), options);
  EXPECT_NE(std::string(eps.status().message()).find("layer_norm_epsilon"),
            std::string::npos);
  w = Weights();
  w.config.gelu = model::GeluKind::kErf;
  EXPECT_FALSE(QuantizeGpt2(w, Tokens(8), options).ok());
}

TEST(QuantizedArtifact, RoundTripsEveryBuild) {
  for (ScaleKind scales : {ScaleKind::kPow2, ScaleKind::kFixed}) {
    for (int bits : {8, 4}) {
      const QuantizedGpt2 q = Quantize(bits, scales);
      const std::string dir = TempDir();
      ASSERT_TRUE(model::SaveQuantizedGpt2(q, dir).ok());
      EXPECT_TRUE(model::IsQuantizedArtifact(dir));
      auto loaded = model::LoadQuantizedGpt2(dir);
      ASSERT_TRUE(loaded.ok()) << loaded.status();
      ExpectSame(q, *loaded);
    }
  }
}

TEST(QuantizedArtifact, CorruptDataIsDataLoss) {
  const std::string dir = TempDir();
  ASSERT_TRUE(
      model::SaveQuantizedGpt2(Quantize(8, ScaleKind::kPow2), dir).ok());
  const std::string path = dir + "/" + model::kArtifactFileName;
  std::vector<uint8_t> bytes = ReadBytes(path);
  bytes[bytes.size() - 100] ^= 0x10;  // One bit of tensor data.
  WriteBytes(path, bytes);
  auto loaded = model::LoadQuantizedGpt2(dir);
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(std::string(loaded.status().message()).find("is corrupt"),
            std::string::npos)
      << loaded.status();
}

TEST(QuantizedArtifact, TruncatedFileIsAnErrorNotACrash) {
  const std::string dir = TempDir();
  ASSERT_TRUE(
      model::SaveQuantizedGpt2(Quantize(4, ScaleKind::kFixed), dir).ok());
  const std::string path = dir + "/" + model::kArtifactFileName;
  const std::vector<uint8_t> bytes = ReadBytes(path);
  for (size_t keep : {size_t{0}, size_t{7}, size_t{100}, bytes.size() / 2,
                      bytes.size() - 1}) {
    WriteBytes(path, std::vector<uint8_t>(bytes.begin(), bytes.begin() + keep));
    auto loaded = model::LoadQuantizedGpt2(dir);
    EXPECT_FALSE(loaded.ok()) << "kept " << keep << " bytes";
  }
}

TEST(QuantizedArtifact, ForeignAndNewerFilesAreExplained) {
  const std::string dir = TempDir();
  const std::string path = dir + "/" + model::kArtifactFileName;
  const std::vector<uint8_t> one = {1, 2, 3, 4};
  const std::vector<model::TensorToWrite> tensors = {
      {"x", model::DType::kU8, {4}, one}};
  ASSERT_TRUE(model::WriteSafetensors(path, tensors, {}).ok());
  auto foreign = model::LoadQuantizedGpt2(dir);
  EXPECT_NE(std::string(foreign.status().message())
                .find("not an fxserve model artifact"),
            std::string::npos)
      << foreign.status();
  ASSERT_TRUE(model::WriteSafetensors(
                  path, tensors,
                  {{"format", model::kArtifactFormat}, {"format_version", "2"}})
                  .ok());
  auto newer = model::LoadQuantizedGpt2(dir);
  EXPECT_NE(std::string(newer.status().message()).find("format version '2'"),
            std::string::npos)
      << newer.status();
}

TEST(QuantizedArtifact, MissingTensorIsNamed) {
  // A valid artifact re-written without one tensor (checksum recomputed so
  // that the missing tensor, not the CRC, is what fails).
  const std::string dir = TempDir();
  ASSERT_TRUE(
      model::SaveQuantizedGpt2(Quantize(8, ScaleKind::kPow2), dir).ok());
  const std::string path = dir + "/" + model::kArtifactFileName;
  auto file = model::SafetensorsFile::Open(path);
  ASSERT_TRUE(file.ok());
  std::vector<model::TensorToWrite> tensors;
  for (const model::TensorInfo& t : file->tensors()) {
    if (t.name == "h.1.mlp.c_fc.bias") continue;
    tensors.push_back({t.name, t.dtype, t.shape, t.bytes});
  }
  std::map<std::string, std::string> metadata = file->metadata();
  char crc[16];
  std::snprintf(crc, sizeof crc, "%08x",
                model::Crc32(model::SafetensorsDataSection(tensors)));
  metadata["data_crc32"] = crc;
  const std::string dir2 = TempDir();
  ASSERT_TRUE(model::WriteSafetensors(dir2 + "/" + model::kArtifactFileName,
                                      tensors, metadata)
                  .ok());
  auto loaded = model::LoadQuantizedGpt2(dir2);
  EXPECT_NE(std::string(loaded.status().message())
                .find("tensor h.1.mlp.c_fc.bias is missing"),
            std::string::npos)
      << loaded.status();
}

}  // namespace
}  // namespace fxserve::quantize
