// BpeMerger against a direct transcription of Encoder.js's bpe() loop, on
// hand-picked cases and on random vocabularies and words.
#include "model/tokenizer/bpe_merger.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace fxserve::model {
namespace {

struct TestRule {
  int left;
  int right;
  int rank;
  int merged;
};

// Encoder.js: find the lowest rank among adjacent pairs (the rightmost such
// pair if several differ), merge all its occurrences left to right, repeat.
std::vector<int> ReferenceMerge(std::vector<int> word,
                                const std::vector<TestRule>& rules) {
  std::map<std::pair<int, int>, const TestRule*> by_pair;
  for (const TestRule& rule : rules) by_pair[{rule.left, rule.right}] = &rule;
  while (word.size() > 1) {
    const TestRule* best = nullptr;
    for (size_t i = 0; i + 1 < word.size(); ++i) {
      const auto it = by_pair.find({word[i], word[i + 1]});
      if (it != by_pair.end() &&
          (best == nullptr || it->second->rank <= best->rank)) {
        best = it->second;
      }
    }
    if (best == nullptr) break;
    std::vector<int> merged_word;
    for (size_t i = 0; i < word.size(); ++i) {
      if (i + 1 < word.size() && word[i] == best->left &&
          word[i + 1] == best->right) {
        merged_word.push_back(best->merged);
        ++i;
      } else {
        merged_word.push_back(word[i]);
      }
    }
    word = std::move(merged_word);
  }
  return word;
}

BpeMerger MakeMerger(const std::vector<TestRule>& rules) {
  BpeMerger merger;
  for (const TestRule& rule : rules) {
    EXPECT_TRUE(merger.AddRule(rule.left, rule.right, rule.rank, rule.merged));
  }
  return merger;
}

std::vector<int> Apply(const BpeMerger& merger, std::vector<int> word) {
  BpeMerger::Workspace workspace;
  merger.Apply(word, workspace);
  return word;
}

// Tokens: 0 'a', 1 'b', 2 'c', 3 'x', 10 "ab", 11 "aa", 12 "aaaa",
// 13 "xa", 14 "abab".
TEST(BpeMergerTest, MergesEveryOccurrenceOfTheLowestRankFirst) {
  const BpeMerger merger = MakeMerger({{0, 1, 1, 10}, {10, 10, 0, 14}});
  // (ab, ab) has rank 0 but only forms after both "ab" merges of rank 1.
  EXPECT_EQ(Apply(merger, {0, 1, 0, 1}), (std::vector<int>{14}));
  EXPECT_EQ(Apply(merger, {0, 1, 2, 0, 1}), (std::vector<int>{10, 2, 10}));
}

TEST(BpeMergerTest, OverlappingOccurrencesMergeLeftToRight) {
  const BpeMerger merger = MakeMerger({{0, 0, 0, 11}, {11, 11, 1, 12}});
  EXPECT_EQ(Apply(merger, {0, 0, 0}), (std::vector<int>{11, 0}));
  EXPECT_EQ(Apply(merger, {0, 0, 0, 0}), (std::vector<int>{12}));
  EXPECT_EQ(Apply(merger, {0, 0, 0, 0, 0}), (std::vector<int>{12, 0}));
}

TEST(BpeMergerTest, NewPairOfLowerRankWaitsForThePassToFinish) {
  // "ab" (rank 1) then "ab"+"a" would be rank 0, but Encoder.js merges all
  // "ab" first: a b a b -> ab ab, leaving no (ab, a) pair.
  const BpeMerger merger = MakeMerger({{0, 1, 1, 10}, {10, 0, 0, 15}});
  EXPECT_EQ(Apply(merger, {0, 1, 0, 1}), (std::vector<int>{10, 10}));
}

TEST(BpeMergerTest, EqualRanksOfDifferentPairsGoRightmostFirst) {
  // Two pairs with rank 5, as Encoder.js's comma aliases can make.
  const std::vector<TestRule> rules = {{3, 0, 5, 13}, {0, 1, 5, 10}};
  const BpeMerger merger = MakeMerger(rules);
  // x a b: (a, b) is rightmost, so x ab, not xa b.
  EXPECT_EQ(Apply(merger, {3, 0, 1}), (std::vector<int>{3, 10}));
  EXPECT_EQ(ReferenceMerge({3, 0, 1}, rules), (std::vector<int>{3, 10}));
  // a b x a: (x, a) is rightmost; (a, b) merges in the next pass.
  EXPECT_EQ(Apply(merger, {0, 1, 3, 0}), (std::vector<int>{10, 13}));
}

TEST(BpeMergerTest, ShortWordsAndNoRules) {
  const BpeMerger merger = MakeMerger({{0, 1, 0, 10}});
  EXPECT_EQ(Apply(merger, {}), std::vector<int>{});
  EXPECT_EQ(Apply(merger, {0}), (std::vector<int>{0}));
  EXPECT_EQ(Apply(merger, {1, 0}), (std::vector<int>{1, 0}));
  EXPECT_EQ(merger.rule_count(), 1);
}

TEST(BpeMergerTest, RejectsASecondRuleForThePair) {
  BpeMerger merger;
  EXPECT_TRUE(merger.AddRule(0, 1, 0, 10));
  EXPECT_FALSE(merger.AddRule(0, 1, 1, 11));
  EXPECT_EQ(Apply(merger, {0, 1}), (std::vector<int>{10}));
}

// A random BPE vocabulary over a 4-letter alphabet: each merge joins two
// existing tokens into their concatenation (several merges may make the same
// string), with distinct ranks except for some deliberate ties.
std::vector<TestRule> RandomRules(std::mt19937& rng) {
  std::vector<std::string> tokens = {"a", "b", "c", "d"};
  std::map<std::string, int> id_of;
  for (int i = 0; i < 4; ++i) id_of[tokens[i]] = i;
  std::map<std::pair<int, int>, bool> used;
  std::vector<TestRule> rules;
  const int rule_count = 5 + rng() % 60;
  for (int rank = 0; static_cast<int>(rules.size()) < rule_count; ++rank) {
    const int left = rng() % tokens.size();
    const int right = rng() % tokens.size();
    if (used[{left, right}]) continue;
    used[{left, right}] = true;
    const std::string joined = tokens[left] + tokens[right];
    if (!id_of.contains(joined)) {
      id_of[joined] = static_cast<int>(tokens.size());
      tokens.push_back(joined);
    }
    const int tied_rank = rng() % 8 == 0 && rank > 0 ? rank - 1 : rank;
    rules.push_back({left, right, tied_rank, id_of[joined]});
  }
  return rules;
}

TEST(BpeMergerTest, MatchesTheReferenceOnRandomVocabularies) {
  std::mt19937 rng(2024);
  for (int vocab = 0; vocab < 300; ++vocab) {
    const std::vector<TestRule> rules = RandomRules(rng);
    const BpeMerger merger = MakeMerger(rules);
    BpeMerger::Workspace workspace;  // Shared across words, as in Encode.
    for (int trial = 0; trial < 40; ++trial) {
      const int length = trial == 0 ? 600 : rng() % 30;
      std::vector<int> word(length);
      for (int& token : word) token = rng() % 4;
      std::vector<int> merged = word;
      merger.Apply(merged, workspace);
      ASSERT_EQ(merged, ReferenceMerge(word, rules))
          << "vocabulary " << vocab << ", trial " << trial;
    }
  }
}

}  // namespace
}  // namespace fxserve::model
