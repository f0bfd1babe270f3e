// Sampling: greedy is argmax, seeds reproduce, top-k/top-p restrict the
// candidates, and temperature sampling follows the softmax distribution.
#include "model/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
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

}  // namespace
}  // namespace fxserve::model
