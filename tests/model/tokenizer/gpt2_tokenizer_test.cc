// Gpt2Tokenizer with GPT-2's real files: known ids, the byte alphabet,
// invalid UTF-8, round trips, Decode errors, Hugging Face file names,
// Encoder.js's comma aliases and concurrent use. The comparison with the npm
// package on a corpus is gpt2_tokenizer_npm_test.cc.
#include "model/tokenizer/gpt2_tokenizer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "tests/model/tokenizer/tokenizer_test_util.h"

namespace fxserve::model {
namespace {

using tokenizer_test::kGpt2Dir;
using tokenizer_test::ReadFileOrEmpty;
using tokenizer_test::ScratchDir;
using Ids = std::vector<int>;

class Gpt2TokenizerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::unique_ptr<Gpt2Tokenizer>> loaded =
        Gpt2Tokenizer::LoadFromDir(kGpt2Dir);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    tokenizer_ = loaded->release();
  }
  static void TearDownTestSuite() {
    delete tokenizer_;
    tokenizer_ = nullptr;
  }

  static std::string RoundTrip(const std::string& text) {
    absl::StatusOr<std::string> decoded =
        tokenizer_->Decode(tokenizer_->Encode(text));
    EXPECT_TRUE(decoded.ok()) << decoded.status();
    return decoded.ok() ? *decoded : std::string();
  }

  static const Gpt2Tokenizer* tokenizer_;
};

const Gpt2Tokenizer* Gpt2TokenizerTest::tokenizer_ = nullptr;

TEST_F(Gpt2TokenizerTest, KnownIds) {
  EXPECT_EQ(tokenizer_->Encode("Hello world"), (Ids{15496, 995}));
  EXPECT_EQ(tokenizer_->Encode(""), Ids{});
  EXPECT_EQ(tokenizer_->vocab_size(), 50257);
}

TEST_F(Gpt2TokenizerTest, EndOfTextInTextIsOrdinaryText) {
  EXPECT_EQ(tokenizer_->Encode("<|endoftext|>"),
            (Ids{27, 91, 437, 1659, 5239, 91, 29}));
  absl::StatusOr<std::string> decoded =
      tokenizer_->Decode({Gpt2Tokenizer::kEndOfText});
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, "<|endoftext|>");
}

// GPT-2's rule, written out again: printable Latin-1 bytes spell
// themselves, the rest become U+0100.. in byte order.
std::string ByteSpelling(int byte) {
  const bool printable = (byte >= 0x21 && byte <= 0x7E) ||
                         (byte >= 0xA1 && byte <= 0xAC) || byte >= 0xAE;
  int code_point = byte;
  if (!printable) {
    code_point = 256;
    for (int b = 0; b < byte; ++b) {
      if (!((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) ||
            b >= 0xAE)) {
        ++code_point;
      }
    }
  }
  std::string utf8;
  if (code_point < 0x80) {
    utf8.push_back(static_cast<char>(code_point));
  } else {
    utf8.push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    utf8.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
  return utf8;
}

TEST_F(Gpt2TokenizerTest, EachByteIsItsTokenInEncoderJson) {
  const nlohmann::json encoder =
      nlohmann::json::parse(ReadFileOrEmpty(kGpt2Dir + "/encoder.json"));
  EXPECT_EQ(ByteSpelling(' '), "\u0120");
  EXPECT_EQ(ByteSpelling(0xAD), "\u0143");
  for (int byte = 0; byte < 256; ++byte) {
    const std::string spelling = ByteSpelling(byte);
    ASSERT_TRUE(encoder.contains(spelling)) << byte;
    EXPECT_EQ(tokenizer_->Encode(std::string(1, static_cast<char>(byte))),
              Ids{encoder[spelling].get<int>()})
        << "byte " << byte;
  }
}

// Expected ids from an independent Python port of OpenAI's encoder.py,
// given the pieces that gpt2_pretokenizer_test.cc checks.
TEST_F(Gpt2TokenizerTest, InvalidUtf8BytesAreEncodedAsRawBytes) {
  EXPECT_EQ(tokenizer_->Encode("caf\xe9 au lait"),
            (Ids{66, 1878, 165, 35851, 300, 4548}));
  EXPECT_EQ(tokenizer_->Encode("don\x80t"), (Ids{9099, 222, 83}));
  EXPECT_EQ(tokenizer_->Encode("a \xff\xfe"), (Ids{64, 220, 187, 186}));
  EXPECT_EQ(tokenizer_->Encode("!\xff?"), (Ids{0, 187, 30}));
  EXPECT_EQ(tokenizer_->Encode("\xe2\x82"
                               "x"),
            (Ids{158, 224, 87}));
  EXPECT_EQ(tokenizer_->Encode("a\xed\xa0\x80"
                               "b"),
            (Ids{64, 169, 254, 222, 65}));
  EXPECT_EQ(tokenizer_->Encode(" \xf4\x90\x80\x80"),
            (Ids{220, 176, 238, 222, 222}));
  EXPECT_EQ(tokenizer_->Encode("\xc0\xaf"
                               "b"),
            (Ids{124, 107, 65}));
}

TEST_F(Gpt2TokenizerTest, RoundTripsRandomBytes) {
  // Pieces that make UTF-8 valid and invalid in every way, glued at random.
  std::vector<std::string> parts = {"a",  "Z",  " ", "  ", "\n",
                                    "\t", "'s", "'", "7",  "!"};
  for (const char* valid :
       {"\u00e9", "\u4f60", "\U0001F600", "\u00a0", "\u3000", "\u0301"}) {
    parts.push_back(valid);
  }
  for (const char* invalid :
       {"\x80", "\xff", "\xc3", "\xe2\x82", "\xf0\x9f\x98", "\xc0\xaf",
        "\xed\xa0\x80", "\xf4\x90\x80\x80"}) {
    parts.push_back(invalid);
  }
  std::mt19937 rng(99);
  for (int trial = 0; trial < 3000; ++trial) {
    std::string text;
    const int length = rng() % 24;
    for (int i = 0; i < length; ++i) {
      if (rng() % 3 == 0) {
        text.push_back(static_cast<char>(rng() % 256));
      } else {
        text += parts[rng() % parts.size()];
      }
    }
    ASSERT_EQ(RoundTrip(text), text) << "trial " << trial;
  }
}

TEST_F(Gpt2TokenizerTest, RoundTripsEveryByteValueAndALongWord) {
  std::string all_bytes;
  for (int byte = 0; byte < 256; ++byte) all_bytes.push_back(byte);
  EXPECT_EQ(RoundTrip(all_bytes), all_bytes);
  const std::string long_word(100000, 'q');
  EXPECT_EQ(RoundTrip(long_word), long_word);
}

TEST_F(Gpt2TokenizerTest, RoundTripsTheCorpus) {
  const nlohmann::json corpus =
      nlohmann::json::parse(ReadFileOrEmpty(FXSERVE_TOKENIZER_CORPUS));
  ASSERT_TRUE(corpus.is_array());
  for (size_t i = 0; i < corpus.size(); ++i) {
    const std::string text = corpus[i].get<std::string>();
    EXPECT_EQ(RoundTrip(text), text)
        << "corpus[" << i << "] = " << corpus[i].dump();
  }
}

TEST_F(Gpt2TokenizerTest, DecodeRejectsOutOfRangeIds) {
  absl::StatusOr<std::string> decoded = tokenizer_->Decode({15496, 50257});
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(decoded.status().message().find("50257 at position 1"),
            absl::string_view::npos)
      << decoded.status();
  decoded = tokenizer_->Decode({-1});
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(decoded.status().message().find("-1 at position 0"),
            absl::string_view::npos)
      << decoded.status();
}

TEST_F(Gpt2TokenizerTest, DecodeOfNothingIsEmpty) {
  absl::StatusOr<std::string> decoded = tokenizer_->Decode({});
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, "");
}

TEST_F(Gpt2TokenizerTest, EncodesTheSameFromManyThreads) {
  std::vector<std::string> texts;
  for (int i = 0; i < 50; ++i) {
    texts.push_back("Thread-safe text number " + std::to_string(i) +
                    ": don't stop, caf\u00e9 \u4f60\u597d \U0001F600!\n");
  }
  std::vector<Ids> expected;
  for (const std::string& text : texts) {
    expected.push_back(tokenizer_->Encode(text));
  }
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round) {
        for (size_t i = 0; i < texts.size(); ++i) {
          if (tokenizer_->Encode(texts[i]) != expected[i]) ++mismatches[t];
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

TEST_F(Gpt2TokenizerTest, LoadsHuggingFaceFileNames) {
  ScratchDir dir;
  dir.Write("vocab.json", ReadFileOrEmpty(kGpt2Dir + "/encoder.json"));
  dir.Write("merges.txt", ReadFileOrEmpty(kGpt2Dir + "/vocab.bpe"));
  absl::StatusOr<std::unique_ptr<Gpt2Tokenizer>> hf =
      Gpt2Tokenizer::LoadFromDir(dir.str());
  ASSERT_TRUE(hf.ok()) << hf.status();
  for (const char* text : {"Hello world", "It's 3.14159 o'clock\n\n  ",
                           "\u00fcber \u4e2d\u6587"}) {
    EXPECT_EQ((*hf)->Encode(text), tokenizer_->Encode(text)) << text;
  }
}

TEST_F(Gpt2TokenizerTest, PrefersOpenAiFilesWhenBothPairsArePresent) {
  ScratchDir dir;
  dir.Write("encoder.json", ReadFileOrEmpty(kGpt2Dir + "/encoder.json"));
  dir.Write("vocab.bpe", ReadFileOrEmpty(kGpt2Dir + "/vocab.bpe"));
  dir.Write("vocab.json", "not json");
  dir.Write("merges.txt", "");
  absl::StatusOr<std::unique_ptr<Gpt2Tokenizer>> loaded =
      Gpt2Tokenizer::LoadFromDir(dir.str());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->Encode("Hello world"), (Ids{15496, 995}));
}

// Encoder.js looks ranks up by `first + "," + second`, so the pair ('",', '"')
// borrows the rank of the merge ('"', ',"'). GPT-2's own order never forms
// '",' before ',"', so this moves the merge '" ,' to the top: then node gives
// [2430] ('","') for '","', where a tuple-keyed BPE would give [1600, 1].
TEST_F(Gpt2TokenizerTest, FollowsEncoderJsCommaAliases) {
  const std::string merges = ReadFileOrEmpty(kGpt2Dir + "/vocab.bpe");
  std::vector<std::string> lines = absl::StrSplit(merges, '\n');
  const auto quote_comma = std::find(lines.begin(), lines.end(), "\" ,");
  ASSERT_NE(quote_comma, lines.end());
  std::rotate(lines.begin() + 1, quote_comma, quote_comma + 1);
  ScratchDir dir;
  dir.Write("encoder.json", ReadFileOrEmpty(kGpt2Dir + "/encoder.json"));
  dir.Write("vocab.bpe", absl::StrJoin(lines, "\n"));
  absl::StatusOr<std::unique_ptr<Gpt2Tokenizer>> moved =
      Gpt2Tokenizer::LoadFromDir(dir.str());
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_EQ((*moved)->Encode("\",\""), Ids{2430});
  EXPECT_EQ((*moved)->Encode("\"\",\"\""), (Ids{1, 2430, 1}));
  EXPECT_EQ(tokenizer_->Encode("\",\""), Ids{2430});
}

}  // namespace
}  // namespace fxserve::model
