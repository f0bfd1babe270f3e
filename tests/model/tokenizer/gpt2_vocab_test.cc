// Loading fails cleanly, with a message naming the file and what to do, for
// missing files and for damaged copies of GPT-2's files.
#include "model/tokenizer/gpt2_vocab.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "model/tokenizer/gpt2_tokenizer.h"
#include "tests/model/tokenizer/tokenizer_test_util.h"

namespace fxserve::model {
namespace {

using tokenizer_test::kGpt2Dir;
using tokenizer_test::ReadFileOrEmpty;
using tokenizer_test::ScratchDir;

// Loads `dir` and expects failure with `code` and every one of `phrases` in
// the message.
void ExpectLoadFails(const std::string& dir, absl::StatusCode code,
                     const std::vector<std::string>& phrases) {
  absl::StatusOr<std::unique_ptr<Gpt2Tokenizer>> loaded =
      Gpt2Tokenizer::LoadFromDir(dir);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), code) << loaded.status();
  for (const std::string& phrase : phrases) {
    EXPECT_NE(loaded.status().message().find(phrase), absl::string_view::npos)
        << "missing \"" << phrase << "\" in: " << loaded.status();
  }
}

class Gpt2VocabTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    encoder_json_ =
        new std::string(ReadFileOrEmpty(kGpt2Dir + "/encoder.json"));
    vocab_bpe_ = new std::string(ReadFileOrEmpty(kGpt2Dir + "/vocab.bpe"));
    ASSERT_FALSE(encoder_json_->empty());
    ASSERT_FALSE(vocab_bpe_->empty());
  }
  static void TearDownTestSuite() {
    delete encoder_json_;
    delete vocab_bpe_;
  }

  // Writes GPT-2's files, with `encoder_json` and `vocab_bpe` replacing
  // them when not empty, and expects loading to fail.
  void ExpectFails(const std::string& encoder_json,
                   const std::string& vocab_bpe, absl::StatusCode code,
                   const std::vector<std::string>& phrases) {
    ScratchDir dir;
    dir.Write("encoder.json",
              encoder_json.empty() ? *encoder_json_ : encoder_json);
    dir.Write("vocab.bpe", vocab_bpe.empty() ? *vocab_bpe_ : vocab_bpe);
    ExpectLoadFails(dir.str(), code, phrases);
  }

  static std::vector<std::string> MergeLines() {
    return absl::StrSplit(*vocab_bpe_, '\n');
  }

  static nlohmann::json EncoderJson() {
    return nlohmann::json::parse(*encoder_json_);
  }

  static std::string* encoder_json_;
  static std::string* vocab_bpe_;
};

std::string* Gpt2VocabTest::encoder_json_ = nullptr;
std::string* Gpt2VocabTest::vocab_bpe_ = nullptr;

TEST_F(Gpt2VocabTest, MissingFolder) {
  ExpectLoadFails("/nonexistent/fxserve/tokenizer", absl::StatusCode::kNotFound,
                  {"/nonexistent/fxserve/tokenizer", "does not exist",
                   "tools/install-deps.sh"});
}

TEST_F(Gpt2VocabTest, EmptyFolderNamesBothLayouts) {
  ScratchDir dir;
  ExpectLoadFails(dir.str(), absl::StatusCode::kNotFound,
                  {dir.str(), "encoder.json", "vocab.bpe", "vocab.json",
                   "merges.txt", "tools/install-deps.sh"});
}

TEST_F(Gpt2VocabTest, HalfAPairNamesTheMissingFile) {
  ScratchDir openai;
  openai.Write("encoder.json", *encoder_json_);
  ExpectLoadFails(openai.str(), absl::StatusCode::kNotFound,
                  {"has encoder.json but no vocab.bpe", "install-deps.sh"});
  ScratchDir hugging_face;
  hugging_face.Write("merges.txt", *vocab_bpe_);
  ExpectLoadFails(hugging_face.str(), absl::StatusCode::kNotFound,
                  {"has merges.txt but no vocab.json"});
}

TEST_F(Gpt2VocabTest, TruncatedJson) {
  ExpectFails(
      encoder_json_->substr(0, encoder_json_->size() / 2), "",
      absl::StatusCode::kInvalidArgument,
      {"encoder.json' is not valid JSON", "parse error", "install-deps.sh"});
}

TEST_F(Gpt2VocabTest, EmptyJsonFile) {
  ScratchDir dir;
  dir.Write("encoder.json", "");
  dir.Write("vocab.bpe", *vocab_bpe_);
  ExpectLoadFails(dir.str(), absl::StatusCode::kInvalidArgument,
                  {"encoder.json' is not valid JSON"});
}

TEST_F(Gpt2VocabTest, JsonOfTheWrongShape) {
  ExpectFails("[1, 2, 3]", "", absl::StatusCode::kInvalidArgument,
              {"should be a JSON object", "array"});
  nlohmann::json json = EncoderJson();
  json["!"] = "zero";
  ExpectFails(json.dump(), "", absl::StatusCode::kInvalidArgument,
              {"token \"!\" has id \"zero\"", "integers"});
  json["!"] = -3;
  ExpectFails(json.dump(), "", absl::StatusCode::kInvalidArgument,
              {"token \"!\" has id -3"});
  json["!"] = 1.5;
  ExpectFails(json.dump(), "", absl::StatusCode::kInvalidArgument,
              {"token \"!\" has id 1.5"});
}

TEST_F(Gpt2VocabTest, IdsMustBeUniqueAndDense) {
  nlohmann::json json = EncoderJson();
  json["!"] = 1;  // '"' also has id 1, and id 0 is now unused.
  ExpectFails(json.dump(), "", absl::StatusCode::kInvalidArgument,
              {"both have id 1"});
  json = EncoderJson();
  json["!"] = 60000;
  ExpectFails(json.dump(), "", absl::StatusCode::kInvalidArgument,
              {"has id 60000", "from 0 to 50256"});
}

TEST_F(Gpt2VocabTest, TokensMustBeInTheByteAlphabet) {
  nlohmann::json json = EncoderJson();
  json.erase("!");
  json["\u4e00"] = 0;
  ExpectFails(json.dump(), "", absl::StatusCode::kInvalidArgument,
              {"U+4E00", "byte alphabet"});
}

TEST_F(Gpt2VocabTest, EveryByteNeedsAToken) {
  nlohmann::json json = EncoderJson();
  const int newline_id = json["\u010a"].get<int>();  // "Ċ" is byte 0x0A.
  json.erase("\u010a");
  json["\u010a\u010a\u010a\u010a\u010a\u010a\u010a\u010a\u010a\u010a"] =
      newline_id;
  ExpectFails(json.dump(), "", absl::StatusCode::kInvalidArgument,
              {"no token for byte 0x0A"});
}

TEST_F(Gpt2VocabTest, EndOfTextMustBeId50256) {
  nlohmann::json json = EncoderJson();
  json.erase("<|endoftext|>");
  json["<|end|>"] = 50256;
  ExpectFails(json.dump(), "", absl::StatusCode::kInvalidArgument,
              {"has no <|endoftext|> token"});
  json = EncoderJson();
  json["<|endoftext|>"] = 0;
  json["!"] = 50256;
  ExpectFails(json.dump(), "", absl::StatusCode::kInvalidArgument,
              {"<|endoftext|> as id 0", "50256"});
}

TEST_F(Gpt2VocabTest, MergeLineWithThreeTokens) {
  std::vector<std::string> lines = MergeLines();
  lines[4] += " t";  // Line 5 of the file.
  ExpectFails("", absl::StrJoin(lines, "\n"),
              absl::StatusCode::kInvalidArgument,
              {"vocab.bpe:5: expected two tokens", "install-deps.sh"});
}

TEST_F(Gpt2VocabTest, MergeLineWithOneToken) {
  std::vector<std::string> lines = MergeLines();
  lines[9] = "Ġthe";  // Line 10.
  ExpectFails("", absl::StrJoin(lines, "\n"),
              absl::StatusCode::kInvalidArgument,
              {"vocab.bpe:10: expected two tokens", "\"Ġthe\""});
}

TEST_F(Gpt2VocabTest, MergeOfUnknownToken) {
  ASSERT_FALSE(EncoderJson().contains("qqqqqqqqqqqqqqqq"));
  std::vector<std::string> lines = MergeLines();
  lines[2] = "qqqqqqqqqqqqqqqq q";
  ExpectFails(
      "", absl::StrJoin(lines, "\n"), absl::StatusCode::kInvalidArgument,
      {"vocab.bpe:3: \"qqqqqqqqqqqqqqqq\" is not a token", "encoder.json"});
}

TEST_F(Gpt2VocabTest, MergeWhoseResultIsNotAToken) {
  ASSERT_FALSE(EncoderJson().contains("ĠtĠt"));
  std::vector<std::string> lines = MergeLines();
  lines[2] = "Ġt Ġt";
  ExpectFails("", absl::StrJoin(lines, "\n"),
              absl::StatusCode::kInvalidArgument,
              {"vocab.bpe:3: merging \"Ġt\" and \"Ġt\" gives \"ĠtĠt\""});
}

TEST_F(Gpt2VocabTest, RepeatedMerge) {
  std::vector<std::string> lines = MergeLines();
  lines[3] = lines[1];
  ExpectFails("", absl::StrJoin(lines, "\n"),
              absl::StatusCode::kInvalidArgument,
              {"vocab.bpe:4: repeats the merge \"Ġ t\" of line 2"});
}

TEST_F(Gpt2VocabTest, MergesAndVocabularyOfDifferentSizes) {
  std::vector<std::string> lines = MergeLines();
  lines.erase(lines.end() - 2);  // The last merge (the file ends in '\n').
  ExpectFails(
      "", absl::StrJoin(lines, "\n"), absl::StatusCode::kInvalidArgument,
      {"has 50257 tokens but", "has 49999 merges", "do not belong together"});
}

TEST_F(Gpt2VocabTest, AcceptsCrlfAndNoVersionLine) {
  std::vector<std::string> lines = MergeLines();
  lines.erase(lines.begin());
  ScratchDir dir;
  dir.Write("encoder.json", *encoder_json_);
  dir.Write("vocab.bpe", absl::StrJoin(lines, "\r\n"));
  absl::StatusOr<Gpt2Vocab> vocab = ReadGpt2Vocab(dir.str());
  ASSERT_TRUE(vocab.ok()) << vocab.status();
  // 50000 merges plus Encoder.js's comma aliases that are tokens.
  EXPECT_GT(vocab->merger.rule_count(), 50000);
  EXPECT_EQ(vocab->token_bytes[Gpt2Tokenizer::kEndOfText], "<|endoftext|>");
  EXPECT_EQ(vocab->token_bytes[vocab->byte_tokens[' ']], " ");
}

}  // namespace
}  // namespace fxserve::model
