// The strict UTF-8 decoder: every well-formed sequence decodes, every
// ill-formed one is reported one byte at a time.
#include "model/tokenizer/utf8.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace fxserve::model {
namespace {

TEST(Utf8Test, DecodesEachLength) {
  const std::string text = "a\u00e9\u20ac\U0001F600";
  Utf8Char c = DecodeUtf8Char(text, 0);
  EXPECT_TRUE(c.valid);
  EXPECT_EQ(c.code_point, U'a');
  EXPECT_EQ(c.length, 1);
  c = DecodeUtf8Char(text, 1);
  EXPECT_TRUE(c.valid);
  EXPECT_EQ(c.code_point, U'\u00e9');
  EXPECT_EQ(c.length, 2);
  c = DecodeUtf8Char(text, 3);
  EXPECT_TRUE(c.valid);
  EXPECT_EQ(c.code_point, U'\u20ac');
  EXPECT_EQ(c.length, 3);
  c = DecodeUtf8Char(text, 6);
  EXPECT_TRUE(c.valid);
  EXPECT_EQ(c.code_point, U'\U0001F600');
  EXPECT_EQ(c.length, 4);
}

TEST(Utf8Test, RoundTripsEveryScalarValue) {
  std::string text;
  for (char32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    text.clear();
    AppendUtf8(cp, text);
    const Utf8Char c = DecodeUtf8Char(text, 0);
    ASSERT_TRUE(c.valid) << std::hex << static_cast<uint32_t>(cp);
    ASSERT_EQ(c.code_point, cp);
    ASSERT_EQ(c.length, static_cast<int>(text.size()));
  }
}

struct InvalidCase {
  const char* name;
  std::string bytes;
};

TEST(Utf8Test, RejectsIllFormedSequencesOneByteAtATime) {
  const InvalidCase cases[] = {
      {"stray continuation", "\x80"},
      {"C0 overlong lead", "\xc0\xaf"},
      {"C1 overlong lead", "\xc1\xbf"},
      {"3-byte overlong", "\xe0\x80\xaf"},
      {"4-byte overlong", "\xf0\x80\x80\xaf"},
      {"surrogate D800", "\xed\xa0\x80"},
      {"surrogate DFFF", "\xed\xbf\xbf"},
      {"above 10FFFF", "\xf4\x90\x80\x80"},
      {"F5 lead", "\xf5\x80\x80\x80"},
      {"FF", "\xff"},
      {"truncated 2-byte", "\xc3"},
      {"truncated 3-byte", "\xe2\x82"},
      {"truncated 4-byte", "\xf0\x9f\x98"},
      {"3-byte lead then ASCII", "\xe2\x82z"},
  };
  for (const InvalidCase& c : cases) {
    const Utf8Char decoded = DecodeUtf8Char(c.bytes, 0);
    EXPECT_FALSE(decoded.valid) << c.name;
    EXPECT_EQ(decoded.length, 1) << c.name;
  }
}

TEST(Utf8Test, ResynchronizesAfterATruncatedSequence) {
  const std::string text = "\xe2\x82z";
  EXPECT_FALSE(DecodeUtf8Char(text, 0).valid);
  EXPECT_FALSE(DecodeUtf8Char(text, 1).valid);  // A lone continuation byte.
  const Utf8Char z = DecodeUtf8Char(text, 2);
  EXPECT_TRUE(z.valid);
  EXPECT_EQ(z.code_point, U'z');
}

TEST(Utf8Test, AcceptsTheEdgesOfEachRange) {
  for (const char* bytes :
       {"\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf", "\xee\x80\x80",
        "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf"}) {
    const std::string text = bytes;
    const Utf8Char c = DecodeUtf8Char(text, 0);
    EXPECT_TRUE(c.valid) << text;
    EXPECT_EQ(c.length, static_cast<int>(text.size())) << text;
  }
}

}  // namespace
}  // namespace fxserve::model
