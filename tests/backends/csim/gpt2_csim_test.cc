// The GPT-2 dataflow tops in C-simulation: prefill and decode give the same
// bits, sequences do not affect each other, bad input is rejected, and the
// quantized model tracks the float one.
#include "backends/csim/gpt2_csim.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "model/gpt2_reference.h"
#include "model/gpt2_weights.h"
#include "model/tokenizer/gpt2_tokenizer.h"
#include "tests/model/test_checkpoint.h"
#include "tools/quantize/gpt2_quantizer.h"

namespace fxserve::backends::csim {
namespace {

using model::QuantizedGpt2;
using model::ScaleKind;

// A random float model of the tiny build's shape.
const model::Gpt2Weights& RandomTinyWeights() {
  static const model::Gpt2Weights* weights = [] {
    model::testing::TinyShape shape{
        .vocab = 50257, .positions = 256, .embd = 128, .layers = 4, .heads = 4};
    const std::string dir = model::testing::WriteModelDir(
        shape, model::testing::RandomGpt2(shape, 7));
    auto loaded = model::LoadGpt2(dir);
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    return new model::Gpt2Weights(*std::move(loaded));
  }();
  return *weights;
}

std::vector<int> RandomTokens(int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int> tokens(n);
  for (int& t : tokens) t = static_cast<int>(rng() % 50257);
  return tokens;
}

const QuantizedGpt2& Quantized(int bits, ScaleKind scales) {
  static std::map<std::pair<int, ScaleKind>, QuantizedGpt2> cache;
  auto it = cache.find({bits, scales});
  if (it == cache.end()) {
    quantize::QuantizeOptions options;
    options.weight_bits = bits;
    options.scales = scales;
    auto q = quantize::QuantizeGpt2(RandomTinyWeights(), RandomTokens(300, 1),
                                    options);
    EXPECT_TRUE(q.ok()) << q.status();
    it = cache.emplace(std::make_pair(bits, scales), *std::move(q)).first;
  }
  return it->second;
}

std::unique_ptr<Gpt2CSim> MakeSim(int bits, ScaleKind scales) {
  auto sim = Gpt2CSim::Create(Quantized(bits, scales));
  EXPECT_TRUE(sim.ok()) << sim.status();
  return sim.ok() ? *std::move(sim) : nullptr;
}

class Gpt2CSimBuilds
    : public ::testing::TestWithParam<std::pair<int, ScaleKind>> {};

// Prefill of kTokens tokens (20: chunks of 16 + 4), prefill in other
// chunks, and decode steps give identical raw logits at every position.
TEST_P(Gpt2CSimBuilds, PrefillAndDecodeGiveIdenticalBits) {
  auto sim = MakeSim(GetParam().first, GetParam().second);
  ASSERT_NE(sim, nullptr);
#ifdef FXSERVE_SANITIZED
  constexpr int kTokens = 6;  // Minutes per token under sanitizers.
#else
  constexpr int kTokens = 20;  // Crosses the 16-token prefill chunk.
#endif
  const std::vector<int> tokens = RandomTokens(kTokens, 2);
  const size_t vocab = sim->config().vocab_size;

  auto prefill_seq = sim->NewSequence();
  auto prefill = sim->ForwardRaw(*prefill_seq, tokens, true);
  ASSERT_TRUE(prefill.ok()) << prefill.status();
  ASSERT_EQ(prefill->size(), tokens.size() * vocab);
  EXPECT_EQ(prefill_seq->length(), kTokens);

  auto decode_seq = sim->NewSequence();
  auto chunked_seq = sim->NewSequence();
  std::vector<int32_t> chunked;
  for (int begin : {0, 5}) {
    const int n = begin == 0 ? 5 : kTokens - 5;
    auto part = sim->ForwardRaw(
        *chunked_seq, absl::MakeConstSpan(tokens).subspan(begin, n), true);
    ASSERT_TRUE(part.ok());
    chunked.insert(chunked.end(), part->begin(), part->end());
  }
  for (int t = 0; t < kTokens; ++t) {
    auto step = sim->ForwardRaw(*decode_seq, {tokens[t]});
    ASSERT_TRUE(step.ok());
    const std::vector<int32_t> row(prefill->begin() + t * vocab,
                                   prefill->begin() + (t + 1) * vocab);
    ASSERT_EQ(*step, row) << "decode differs from prefill at position " << t;
    const std::vector<int32_t> chunk_row(chunked.begin() + t * vocab,
                                         chunked.begin() + (t + 1) * vocab);
    ASSERT_EQ(chunk_row, row) << "chunking changed position " << t;
  }
  // Logits are not all equal (the model computed something).
  const auto [lo, hi] = std::minmax_element(prefill->begin(), prefill->end());
  EXPECT_LT(*lo, *hi);
}

INSTANTIATE_TEST_SUITE_P(
    AllBuilds, Gpt2CSimBuilds,
    ::testing::Values(std::make_pair(8, ScaleKind::kPow2),
                      std::make_pair(8, ScaleKind::kFixed),
                      std::make_pair(4, ScaleKind::kPow2),
                      std::make_pair(4, ScaleKind::kFixed)),
    [](const ::testing::TestParamInfo<std::pair<int, ScaleKind>>& build) {
      return absl::StrCat("W", build.param.first, "A8_",
                          model::ScaleKindName(build.param.second));
    });

TEST(Gpt2CSim, SequencesAreIndependent) {
  auto sim = MakeSim(8, ScaleKind::kPow2);
  ASSERT_NE(sim, nullptr);
  const std::vector<int> a = RandomTokens(6, 3), b = RandomTokens(9, 4);
  auto alone = sim->NewSequence();
  auto expected = sim->ForwardRaw(*alone, a, true);
  ASSERT_TRUE(expected.ok());

  auto seq_a = sim->NewSequence();
  auto seq_b = sim->NewSequence();
  std::vector<int32_t> interleaved;
  for (int t = 0; t < 6; ++t) {
    ASSERT_TRUE(sim->ForwardRaw(*seq_b, {b[t]}).ok());
    auto step = sim->ForwardRaw(*seq_a, {a[t]});
    ASSERT_TRUE(step.ok());
    interleaved.insert(interleaved.end(), step->begin(), step->end());
  }
  EXPECT_EQ(interleaved, *expected);
}

TEST(Gpt2CSim, RejectsBadInputWithoutChangingTheSequence) {
  auto sim = MakeSim(8, ScaleKind::kPow2);
  ASSERT_NE(sim, nullptr);
  auto seq = sim->NewSequence();
  auto empty = sim->ForwardRaw(*seq, {});
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kInvalidArgument);
  auto bad = sim->ForwardRaw(*seq, {1, 50257});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(bad.status().message()).find("50257"),
            std::string::npos);
  auto negative = sim->ForwardRaw(*seq, {-1});
  EXPECT_EQ(negative.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(seq->length(), 0);
  // Longer than the context: refused before anything runs.
  auto too_long = sim->ForwardRaw(*seq, RandomTokens(257, 6));
  EXPECT_EQ(too_long.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(too_long.status().message()).find("context of 256"),
            std::string::npos);
  EXPECT_EQ(seq->length(), 0);
  EXPECT_TRUE(sim->ForwardRaw(*seq, RandomTokens(6, 6)).ok());
}

TEST(Gpt2CSim, RejectsShapesWithoutABuild) {
  QuantizedGpt2 q = Quantized(8, ScaleKind::kPow2);
  q.config.n_layer = 3;
  auto sim = Gpt2CSim::Create(q);
  EXPECT_EQ(sim.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(sim.status().message()).find("no kernel build"),
            std::string::npos);
}

TEST(Gpt2CSim, RejectsCodesOutsideTheirFormat) {
  QuantizedGpt2 q = Quantized(4, ScaleKind::kPow2);
  q.layers[2].fc.weight[5] = 8;  // int4 holds -8..7.
  auto sim = Gpt2CSim::Create(q);
  EXPECT_EQ(sim.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(sim.status().message()).find("h.2.mlp.c_fc.weight"),
            std::string::npos);
  q = Quantized(8, ScaleKind::kPow2);
  q.layers[0].score_frac = 40;
  EXPECT_FALSE(Gpt2CSim::Create(q).ok());
}

// The quantized model follows the float one: logits close relative to
// their spread. (A random model's logits are nearly flat, so its top token
// is fragile; ShippedModelMeetsPerplexityTargets checks a trained model.)
TEST(Gpt2CSim, TracksTheFloatModel) {
  const std::vector<int> tokens = RandomTokens(12, 8);
  model::Gpt2Reference reference(RandomTinyWeights());
  auto cache = reference.NewCache();
  auto expected = reference.Forward(cache, tokens, true);
  ASSERT_TRUE(expected.ok());
  for (auto [bits, scales] : {std::make_pair(8, ScaleKind::kPow2),
                              std::make_pair(4, ScaleKind::kFixed)}) {
    auto sim = MakeSim(bits, scales);
    ASSERT_NE(sim, nullptr);
    auto seq = sim->NewSequence();
    auto logits = sim->Forward(*seq, tokens, true);
    ASSERT_TRUE(logits.ok());
    double err = 0, spread = 0, mean = 0;
    for (float v : *expected) mean += v;
    mean /= expected->size();
    for (size_t i = 0; i < logits->size(); ++i) {
      err += std::pow((*logits)[i] - (*expected)[i], 2);
      spread += std::pow((*expected)[i] - mean, 2);
    }
    const double relative_rms = std::sqrt(err / spread);
    // Measured 0.042 (W8A8 pow2) and 0.281 (W4A8 fixed).
    EXPECT_LT(relative_rms, bits == 8 ? 0.08 : 0.4)
        << "W" << bits << "A8 " << model::ScaleKindName(scales);
    std::printf("W%dA8 %s: relative RMS logit error %.4f\n", bits,
                model::ScaleKindName(scales), relative_rms);
  }
}

// Perplexity of the first window of held-out text.
template <class Forward>
double WindowPerplexity(const std::vector<int>& ids, Forward forward) {
  const std::vector<float> logits = forward(ids);
  const size_t vocab = 50257;
  double nll = 0;
  for (size_t t = 1; t < ids.size(); ++t) {
    const float* row = &logits[(t - 1) * vocab];
    const double max = *std::max_element(row, row + vocab);
    double sum = 0;
    for (size_t v = 0; v < vocab; ++v) sum += std::exp(row[v] - max);
    nll += std::log(sum) + max - row[ids[t]];
  }
  return std::exp(nll / (ids.size() - 1));
}

// The acceptance targets on the shipped model, on one 256-token window
// (docs/ and kernels/top/NUMERICS.md report the whole held-out file).
TEST(Gpt2CSim, ShippedModelMeetsPerplexityTargets) {
  auto weights = model::LoadGpt2(FXSERVE_TINY_MODEL_DIR);
  ASSERT_TRUE(weights.ok()) << weights.status();
  auto tokenizer = model::Gpt2Tokenizer::LoadFromDir(FXSERVE_TOKENIZER_DIR);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  auto read = [](const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  };
  const std::vector<int> calibration =
      (*tokenizer)->Encode(read(FXSERVE_TINY_MODEL_DIR "/calibration.txt"));
  std::vector<int> heldout =
      (*tokenizer)->Encode(read(FXSERVE_TINY_MODEL_DIR "/heldout.txt"));
  ASSERT_GT(heldout.size(), 256u);
  heldout.resize(256);

  model::Gpt2Reference reference(*weights);
  const double float_ppl = WindowPerplexity(heldout, [&](const auto& ids) {
    auto cache = reference.NewCache();
    return *reference.Forward(cache, ids, true);
  });
  for (auto [bits, target] :
       {std::make_pair(8, 0.03), std::make_pair(4, 0.10)}) {
    quantize::QuantizeOptions options;
    options.weight_bits = bits;
    options.max_calibration_tokens = 2048;
    auto q = quantize::QuantizeGpt2(*weights, calibration, options);
    ASSERT_TRUE(q.ok()) << q.status();
    auto sim = Gpt2CSim::Create(*q);
    ASSERT_TRUE(sim.ok()) << sim.status();
    const double ppl = WindowPerplexity(heldout, [&](const auto& ids) {
      auto seq = (*sim)->NewSequence();
      return *(*sim)->Forward(*seq, ids, true);
    });
    std::printf("float %.2f, W%dA8 pow2 %.2f\n", float_ppl, bits, ppl);
    EXPECT_LT(std::abs(ppl / float_ppl - 1), target) << "W" << bits << "A8";
  }
}

}  // namespace
}  // namespace fxserve::backends::csim
