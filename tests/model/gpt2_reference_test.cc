// The float reference against an independent double-precision computation
// (tests/model/test_checkpoint.cc): prefill, token-by-token decode with the
// KV cache, name prefixes, a full GPT-2-124M-shaped file, and bad inputs.
#include "model/gpt2_reference.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "model/gpt2_weights.h"
#include "tests/model/test_checkpoint.h"

namespace fxserve::model {
namespace {

using testing::NaiveLogits;
using testing::RandomGpt2;
using testing::TinyShape;
using testing::WriteModelDir;

// Largest |a - b| relative to the largest |b|.
double RelativeError(const std::vector<float>& a,
                     const std::vector<double>& b) {
  double max_diff = 0, max_ref = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    max_diff = std::max(max_diff, std::abs(a[i] - b[i]));
    max_ref = std::max(max_ref, std::abs(b[i]));
  }
  return max_diff / max_ref;
}

Gpt2Reference LoadOrDie(const std::string& dir) {
  absl::StatusOr<Gpt2Weights> w = LoadGpt2(dir);
  EXPECT_TRUE(w.ok()) << w.status();
  return Gpt2Reference(*std::move(w));
}

TEST(Gpt2Reference, PrefillMatchesIndependentComputation) {
  const TinyShape shape;
  const auto w = RandomGpt2(shape, 1);
  const Gpt2Reference model = LoadOrDie(WriteModelDir(shape, w));
  const std::vector<int> tokens = {5, 17, 96, 0, 42, 42, 3};
  auto cache = model.NewCache();
  const auto logits = model.Forward(cache, tokens);
  ASSERT_TRUE(logits.ok()) << logits.status();
  EXPECT_LT(RelativeError(*logits, NaiveLogits(shape, w, tokens)), 1e-4);
}

TEST(Gpt2Reference, DecodeWithKvCacheMatchesRecomputation) {
  const TinyShape shape;
  const auto w = RandomGpt2(shape, 2);
  const Gpt2Reference model =
      LoadOrDie(WriteModelDir(shape, w, "transformer."));
  std::vector<int> tokens = {1, 2, 3, 4};
  auto cache = model.NewCache();
  ASSERT_TRUE(model.Forward(cache, tokens).ok());
  for (int step = 0; step < shape.positions - 4; ++step) {
    const int next = (step * 31 + 7) % shape.vocab;
    tokens.push_back(next);
    const auto logits = model.Forward(cache, {next});
    ASSERT_TRUE(logits.ok()) << logits.status();
    ASSERT_LT(RelativeError(*logits, NaiveLogits(shape, w, tokens)), 1e-4)
        << "step " << step;
  }
  EXPECT_EQ(cache.length, shape.positions);
  // The context is full now: one more token is a clear error.
  const auto overflow = model.Forward(cache, {1});
  EXPECT_EQ(overflow.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(overflow.status().message().find("exceed"), std::string::npos);
}

TEST(Gpt2Reference, AllPositionsReturnsEveryRow) {
  const TinyShape shape;
  const auto w = RandomGpt2(shape, 3);
  const Gpt2Reference model = LoadOrDie(WriteModelDir(shape, w));
  const std::vector<int> tokens = {9, 8, 7};
  auto cache = model.NewCache();
  const auto all = model.Forward(cache, tokens, /*all_positions=*/true);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u * shape.vocab);
  for (int t = 1; t <= 3; ++t) {
    const std::vector<float> row(all->begin() + (t - 1) * shape.vocab,
                                 all->begin() + t * shape.vocab);
    const std::vector<int> prefix(tokens.begin(), tokens.begin() + t);
    EXPECT_LT(RelativeError(row, NaiveLogits(shape, w, prefix)), 1e-4);
  }
}

TEST(Gpt2Reference, RejectsBadTokens) {
  const TinyShape shape;
  const Gpt2Reference model =
      LoadOrDie(WriteModelDir(shape, RandomGpt2(shape, 4)));
  auto cache = model.NewCache();
  EXPECT_EQ(model.Forward(cache, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  const auto bad = model.Forward(cache, {1, shape.vocab});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("outside the vocabulary"),
            std::string::npos);
  EXPECT_EQ(cache.length, 0);  // Nothing was run.
}

TEST(Gpt2Weights, WrongShapeNamesTheTensor) {
  TinyShape shape;
  auto w = RandomGpt2(shape, 5);
  const std::string dir = WriteModelDir(shape, w);
  shape.embd = 20;  // config.json now disagrees with the weights.
  shape.heads = 4;
  std::ofstream(dir + "/config.json") << testing::ConfigJson(shape);
  const auto loaded = LoadGpt2(dir);
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().message().find("wte.weight has shape [97, 16], "
                                           "expected [97, 20]"),
            std::string::npos)
      << loaded.status();
}

TEST(Gpt2Weights, MissingFilesAndTensorsAreClearErrors) {
  EXPECT_EQ(LoadGpt2("/nonexistent/model").status().code(),
            absl::StatusCode::kNotFound);
  const TinyShape shape;
  auto w = RandomGpt2(shape, 6);
  w.erase("h.1.mlp.c_fc.bias");
  const auto loaded = LoadGpt2(WriteModelDir(shape, w));
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().message().find("h.1.mlp.c_fc.bias is missing"),
            std::string::npos)
      << loaded.status();
}

// A synthetic file of GPT-2-124M's exact shape (about 500 MB of F32).
TEST(Gpt2Reference, FullSizeGpt2Shape) {
  const TinyShape shape{50257, 1024, 768, 12, 12};
  const auto w = RandomGpt2(shape, 7);
  const std::string dir = WriteModelDir(shape, w);
  const Gpt2Reference model = LoadOrDie(dir);
  std::filesystem::remove_all(dir);
  const std::vector<int> tokens = {50256, 464, 3290, 318};
  auto cache = model.NewCache();
  const auto logits = model.Forward(cache, tokens);
  ASSERT_TRUE(logits.ok()) << logits.status();
  EXPECT_LT(RelativeError(*logits, NaiveLogits(shape, w, tokens)), 1e-4);
}

}  // namespace
}  // namespace fxserve::model
