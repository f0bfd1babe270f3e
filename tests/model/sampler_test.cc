// Sampling: greedy is argmax, seeds reproduce, top-k/top-p restrict the
// candidates, and temperature sampling follows the softmax distribution.
#include "model/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

namespace fxserve::model {
namespace {

const std::vector<float> kLogits = {0.5f, 2.0f, -1.0f, 2.0f, 1.0f};

TEST(Sampler, GreedyTakesTheFirstLargest) {
  Sampler greedy({.temperature = 0.0f});
  EXPECT_EQ(greedy.Sample(kLogits), 1);
}

TEST(Sampler, SameSeedSameTokens) {
  Sampler a({.temperature = 1.0f, .seed = 42});
  Sampler b({.temperature = 1.0f, .seed = 42});
  Sampler c({.temperature = 1.0f, .seed = 43});
  std::vector<int> ta, tb, tc;
  for (int i = 0; i < 200; ++i) {
    ta.push_back(a.Sample(kLogits));
    tb.push_back(b.Sample(kLogits));
    tc.push_back(c.Sample(kLogits));
  }
  EXPECT_EQ(ta, tb);
  EXPECT_NE(ta, tc);
}

TEST(Sampler, TopKAndTopPRestrictCandidates) {
  Sampler top1({.temperature = 1.0f, .top_k = 1, .seed = 1});
  Sampler top2({.temperature = 1.0f, .top_k = 2, .seed = 1});
  Sampler nucleus({.temperature = 1.0f, .top_p = 0.05f, .seed = 1});
  for (int i = 0; i < 300; ++i) {
    EXPECT_EQ(top1.Sample(kLogits), 1);
    const int t = top2.Sample(kLogits);
    EXPECT_TRUE(t == 1 || t == 3) << t;
    EXPECT_EQ(nucleus.Sample(kLogits), 1);
  }
}

TEST(Sampler, FrequenciesFollowTheSoftmax) {
  constexpr int kDraws = 200000;
  const float temperature = 0.7f;
  Sampler sampler({.temperature = temperature, .seed = 7});
  std::vector<int> counts(kLogits.size());
  for (int i = 0; i < kDraws; ++i) ++counts[sampler.Sample(kLogits)];
  double total = 0;
  for (float l : kLogits) total += std::exp(l / temperature);
  for (size_t i = 0; i < kLogits.size(); ++i) {
    const double p = std::exp(kLogits[i] / temperature) / total;
    const double sigma = std::sqrt(kDraws * p * (1 - p));
    EXPECT_NEAR(counts[i], kDraws * p, 5 * sigma + 1) << "token " << i;
  }
}

TEST(Sampler, OptionsAreValidated) {
  EXPECT_TRUE(SamplingOptions{}.Validate().ok());
  EXPECT_FALSE(SamplingOptions{.temperature = -1.0f}.Validate().ok());
  EXPECT_FALSE(SamplingOptions{.top_k = -3}.Validate().ok());
  EXPECT_FALSE(SamplingOptions{.top_p = 0.0f}.Validate().ok());
  EXPECT_FALSE(SamplingOptions{.top_p = 1.5f}.Validate().ok());
}

// The plain definition the sampler must reproduce draw for draw: every
// index sorted by (logit descending, index ascending), the first k kept,
// softmax weights at the temperature, the top-p prefix, one uniform draw
// from the same 53-bit generator.
int ReferenceSample(const std::vector<float>& logits,
                    const SamplingOptions& options, std::mt19937_64& rng) {
  const int n = static_cast<int>(logits.size());
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int a, int b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  });
  const int keep = options.top_k > 0 ? std::min(options.top_k, n) : n;
  std::vector<double> weights(keep);
  double total = 0;
  for (int i = 0; i < keep; ++i) {
    weights[i] =
        std::exp((logits[order[i]] - logits[order[0]]) / options.temperature);
    total += weights[i];
  }
  int cut = keep;
  if (options.top_p < 1.0f) {
    double mass = 0;
    for (int i = 0; i < keep; ++i) {
      mass += weights[i] / total;
      if (mass >= options.top_p) {
        cut = i + 1;
        break;
      }
    }
  }
  double cut_total = 0;
  for (int i = 0; i < cut; ++i) cut_total += weights[i];
  double target = static_cast<double>(rng() >> 11) * 0x1.0p-53 * cut_total;
  for (int i = 0; i < cut; ++i) {
    target -= weights[i];
    if (target < 0) return order[i];
  }
  return order[cut - 1];
}

TEST(Sampler, TopKDrawsEqualTheFullSortDefinition) {
  // Logits on a coarse grid, so ties are common (as with Q(32,16) codes).
  std::mt19937 values(5);
  std::uniform_int_distribution<int> grid(-40, 40);
  int checked = 0;
  for (const int n : {1, 17, 100, 1000, 50257}) {
    for (const int top_k : {0, 1, 5, 40, 100}) {
      for (const float top_p : {1.0f, 0.9f}) {
        const SamplingOptions options{
            .temperature = 0.8f, .top_k = top_k, .top_p = top_p, .seed = 9};
        Sampler sampler(options);
        std::mt19937_64 reference_rng(options.seed);
        for (int draw = 0; draw < (n > 1000 ? 3 : 30); ++draw) {
          std::vector<float> logits(n);
          for (float& l : logits) l = 0.25f * static_cast<float>(grid(values));
          ASSERT_EQ(sampler.Sample(logits),
                    ReferenceSample(logits, options, reference_rng))
              << "n " << n << " top_k " << top_k << " top_p " << top_p
              << " draw " << draw;
          ++checked;
        }
      }
    }
  }
  EXPECT_GT(checked, 1000);
}

}  // namespace
}  // namespace fxserve::model
