// GPT-2's pre-tokenizer on the edge cases of its regex, each checked by hand
// against what /'s|'t|...|\s+(?!\S)|\s+/gu matches in node, and on invalid
// UTF-8, which only fxserve defines.
#include "model/tokenizer/gpt2_pretokenizer.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace fxserve::model {
namespace {

using Pieces = std::vector<std::string_view>;

struct SplitCase {
  std::string text;
  Pieces pieces;
};

void ExpectSplits(const std::vector<SplitCase>& cases) {
  for (const SplitCase& c : cases) {
    EXPECT_EQ(SplitGpt2Pieces(c.text), c.pieces) << "text: \"" << c.text << '"';
  }
}

TEST(Gpt2PreTokenizerTest, WordsTakeOneLeadingSpace) {
  ExpectSplits({
      {"Hello world", {"Hello", " world"}},
      {"Hello, world!", {"Hello", ",", " world", "!"}},
      {" x", {" x"}},
      {"abc123def", {"abc", "123", "def"}},
      {"in 2024 and 3.14", {"in", " 2024", " and", " 3", ".", "14"}},
      {"1,000,000", {"1", ",", "000", ",", "000"}},
      {"a ... b", {"a", " ...", " b"}},
      {"!!!???", {"!!!???"}},
  });
}

TEST(Gpt2PreTokenizerTest, ContractionsAreLowercaseAndMatchFirst) {
  ExpectSplits({
      {"don't", {"don", "'t"}},
      {"we'll they've I'm you're he'd it's",
       {"we", "'ll", " they", "'ve", " I", "'m", " you", "'re", " he", "'d",
        " it", "'s"}},
      // Only lowercase: 'S is punctuation then a letter.
      {"IT'S", {"IT", "'", "S"}},
      // A contraction wins even before more letters.
      {"'sup", {"'s", "up"}},
      // After other punctuation the apostrophe joins that run.
      {"?'s", {"?'", "s"}},
      {" 's", {" '", "s"}},
      {"''s", {"''", "s"}},
      {"'", {"'"}},
      {"'x", {"'", "x"}},
  });
}

TEST(Gpt2PreTokenizerTest, WhitespaceRunsLeaveTheirLastSpaceToTheNextWord) {
  ExpectSplits({
      {"a  b", {"a", " ", " b"}},
      {"a   b", {"a", "  ", " b"}},
      {"a \tb", {"a", " ", "\t", "b"}},
      {"a\t b", {"a", "\t", " b"}},
      {"\n\ntext", {"\n", "\n", "text"}},
      {"line\r\nnext", {"line", "\r", "\n", "next"}},
      {"x\n", {"x", "\n"}},
      // At the end of the text a run stays whole.
      {"trailing   ", {"trailing", "   "}},
      {"   ", {"   "}},
      {" ", {" "}},
      {"  leading", {" ", " leading"}},
      // A lone space before punctuation or digits joins them too.
      {"a !", {"a", " !"}},
      {"a  7", {"a", " ", " 7"}},
  });
}

TEST(Gpt2PreTokenizerTest, OnlyAsciiSpacePrefixesAWord) {
  // U+00A0 and U+3000 are whitespace but not the literal ' ' of " ?\p{L}+".
  ExpectSplits({
      {"a\u00a0b", {"a", "\u00a0", "b"}},
      {"a\u00a0\u00a0b", {"a", "\u00a0", "\u00a0", "b"}},
      {"a\u00a0 b", {"a", "\u00a0", " b"}},
      {"a \u3000b", {"a", " ", "\u3000", "b"}},
      {"end\u3000", {"end", "\u3000"}},
      {"x\u2028y\ufeffz", {"x", "\u2028", "y", "\ufeff", "z"}},
  });
}

TEST(Gpt2PreTokenizerTest, ClassifiesByUnicodeCategory) {
  ExpectSplits({
      // Letters of any script; combining marks (Mn) are not letters.
      {"caf\u00e9 na\u00efve", {"caf\u00e9", " na\u00efve"}},
      {"cafe\u0301", {"cafe", "\u0301"}},
      {"\u4f60\u597d \u043f\u0440\u0438\u0432\u0435\u0442",
       {"\u4f60\u597d", " \u043f\u0440\u0438\u0432\u0435\u0442"}},
      // Numbers: Nd (Arabic-Indic), No (superscript, fraction), Nl (Roman).
      {"x\u0663\u00b2\u00bd\u216b", {"x", "\u0663\u00b2\u00bd\u216b"}},
      // Emoji, ZWJ and flags are "other".
      {"hi \U0001F468\u200d\U0001F469 \U0001F1EB\U0001F1F7!",
       {"hi", " \U0001F468\u200d\U0001F469", " \U0001F1EB\U0001F1F7!"}},
      // U+0085 and U+180E are not \s in JavaScript.
      {"a\u0085b", {"a", "\u0085", "b"}},
      {"<|endoftext|>", {"<|", "endoftext", "|>"}},
  });
}

TEST(Gpt2PreTokenizerTest, ClassifyCodePoint) {
  EXPECT_EQ(ClassifyGpt2CodePoint(U'\u01C5'), Gpt2CharClass::kLetter);  // Lt
  EXPECT_EQ(ClassifyGpt2CodePoint(U'\u02B0'), Gpt2CharClass::kLetter);  // Lm
  EXPECT_EQ(ClassifyGpt2CodePoint(U'\u2160'), Gpt2CharClass::kNumber);  // Nl
  EXPECT_EQ(ClassifyGpt2CodePoint(U'\u1680'), Gpt2CharClass::kSpace);
  EXPECT_EQ(ClassifyGpt2CodePoint(U'\u202F'), Gpt2CharClass::kSpace);
  EXPECT_EQ(ClassifyGpt2CodePoint(U'\u180E'), Gpt2CharClass::kOther);
  EXPECT_EQ(ClassifyGpt2CodePoint(U'\u001F'), Gpt2CharClass::kOther);
  EXPECT_EQ(ClassifyGpt2CodePoint(U'\U000E0001'), Gpt2CharClass::kOther);
}

TEST(Gpt2PreTokenizerTest, InvalidUtf8BytesAreOtherCharacters) {
  ExpectSplits({
      // Latin-1 "cafe" with e-acute: the lone 0xE9 is punctuation-like.
      {"caf\xe9 au lait", {"caf", "\xe9", " au", " lait"}},
      {"don\x80t", {"don", "\x80", "t"}},
      // Invalid bytes join a run of other characters, and a leading space.
      {"!\xff?", {"!\xff?"}},
      {"a \xff\xfe", {"a", " \xff\xfe"}},
      // Truncated sequences: each byte counts alone, the next character is
      // read afresh.
      {"a\xc3", {"a", "\xc3"}},
      {"\xe2\x82"
       "x",
       {"\xe2\x82", "x"}},
      {"\xf0\x9f\x98"
       "ab",
       {"\xf0\x9f\x98", "ab"}},
      // Overlong forms, surrogates and values above U+10FFFF: every byte.
      {"\xc0\xaf"
       "b",
       {"\xc0\xaf", "b"}},
      {"a\xed\xa0\x80"
       "b",
       {"a", "\xed\xa0\x80", "b"}},
      {" \xf4\x90\x80\x80", {" \xf4\x90\x80\x80"}},
      // Not whitespace even where a valid NBSP would be: 0xA0 alone.
      {"a\xa0"
       "b",
       {"a", "\xa0", "b"}},
  });
}

TEST(Gpt2PreTokenizerTest, PiecesCoverRandomBytesWithoutGaps) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 2000; ++trial) {
    std::string text(rng() % 40, '\0');
    for (char& c : text) c = static_cast<char>(rng() % 256);
    std::string joined;
    for (std::string_view piece : SplitGpt2Pieces(text)) {
      ASSERT_FALSE(piece.empty());
      joined += piece;
    }
    ASSERT_EQ(joined, text);
  }
}

TEST(Gpt2PreTokenizerTest, EmptyTextHasNoPieces) {
  EXPECT_TRUE(SplitGpt2Pieces("").empty());
}

}  // namespace
}  // namespace fxserve::model
